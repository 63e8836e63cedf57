//! The body of the `k8s_value` fuzz target, also replayed by `cargo test` over the
//! committed corpus (`fuzz/corpus/k8s_value/`).

use super::decode::{decode_value, DecodeOptions, CBOR_MAGIC, ENCRYPTED_PREFIX, PROTOBUF_MAGIC};
use super::tree::{cbor_to_json, protobuf_tree};

/// Decodes `data` as a stored value as it is and behind each form's magic, builds the
/// `get` trees of it, and reads it as a key path. Must never panic, loop forever, recurse
/// without bound or allocate by a count read from the bytes.
pub fn exercise(data: &[u8]) {
    let mut inputs: Vec<Vec<u8>> = vec![data.to_vec()];
    for magic in [PROTOBUF_MAGIC, CBOR_MAGIC, ENCRYPTED_PREFIX, b"{"] {
        let mut v = magic.to_vec();
        v.extend_from_slice(data);
        inputs.push(v);
    }
    for v in &inputs {
        for labels in [false, true] {
            let d = decode_value(v, DecodeOptions { labels });
            if let Some(m) = &d.meta {
                let _ = m.controller_owner();
            }
            if let Some(e) = &d.encryption {
                let _ = e.label();
            }
            let _ = protobuf_tree(d.body);
        }
        let _ = cbor_to_json(v);
    }
    let _ = protobuf_tree(data);
    let _ = super::KeyPath::parse(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = super::parse_rfc3339_micros(s);
    }
}
