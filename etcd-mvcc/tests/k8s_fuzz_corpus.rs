//! Replays the committed fuzz corpus (fuzz/corpus/k8s_value/) through the fuzz
//! body, and checks that the seeds taken from the fixtures decode as what they are.

use etcd_mvcc::k8s::decode::{decode_value, DecodeOptions, Encoding};
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/k8s_value")
}

#[test]
fn every_corpus_input_decodes_without_panic() {
    let Ok(rd) = std::fs::read_dir(corpus()) else {
        eprintln!("no corpus; skipped");
        return;
    };
    let mut n = 0;
    for e in rd.flatten() {
        let data = std::fs::read(e.path()).unwrap();
        etcd_mvcc::k8s::fuzz::exercise(&data);
        n += 1;
    }
    assert!(n > 0);
}

fn seed(name: &str) -> Option<Vec<u8>> {
    std::fs::read(corpus().join(name)).ok()
}

#[test]
fn fixture_seeds_decode_as_their_form() {
    let cases = [
        (
            "fixture_registry_pods_default_render-import-7c84bd57cd",
            Encoding::Protobuf,
            "Pod",
        ),
        (
            "fixture_registry_leases_kube-node-lease_node-1",
            Encoding::Protobuf,
            "Lease",
        ),
        ("fixture-event", Encoding::Protobuf, "Event"),
        (
            "fixture-json-servicemonitor",
            Encoding::Json,
            "ServiceMonitor",
        ),
        ("cbor-gadget", Encoding::Cbor, "Gadget"),
        ("encrypted-aescbc", Encoding::Encrypted, ""),
    ];
    for (name, enc, kind) in cases {
        let Some(v) = seed(name) else { continue };
        let d = decode_value(&v, DecodeOptions::default());
        assert_eq!((d.encoding, &*d.kind), (enc, kind), "{name}");
        assert_eq!(d.error, None, "{name}");
        assert_eq!(d.is_decoded(), enc != Encoding::Encrypted, "{name}");
    }
    if let Some(v) = seed("protobuf-truncated") {
        let d = decode_value(&v, DecodeOptions::default());
        assert!(d.error.is_some_and(|e| e.contains("byte")));
    }
}

#[test]
fn mutated_seeds_decode_without_panic() {
    // Deterministic mutations of every seed (byte flips, cuts, inserted length bytes):
    // a cheap stand-in for a fuzzing run, kept in `cargo test`.
    let Ok(rd) = std::fs::read_dir(corpus()) else {
        return;
    };
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for e in rd.flatten() {
        let data = std::fs::read(e.path()).unwrap();
        if data.is_empty() {
            continue;
        }
        for _ in 0..100 {
            let mut v = data.clone();
            match next() % 3 {
                0 => {
                    let i = (next() as usize) % v.len();
                    v[i] ^= 1 << (next() % 8);
                }
                1 => v.truncate((next() as usize) % v.len()),
                _ => {
                    let i = (next() as usize) % v.len();
                    v.insert(i, [0xff, 0x7f, 0x80, 0x1f, 0xbf][(next() % 5) as usize]);
                }
            }
            etcd_mvcc::k8s::fuzz::exercise(&v);
        }
    }
}
