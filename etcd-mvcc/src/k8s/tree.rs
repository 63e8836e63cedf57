//! Values shown whole, for `get`: a protobuf body as a generic field tree (field numbers,
//! no generated types), CBOR as JSON. Both bounded: nesting stops at [`MAX_DEPTH`] and at
//! most [`MAX_NODES`] nodes are produced; what is cut is marked as such.

use super::cbor::{Reader, MAX_DEPTH as CBOR_DEPTH};
use crate::proto::{FieldReader, Wire};
use serde_json::{json, Map, Value};

/// Nesting limit of the protobuf tree.
pub const MAX_DEPTH: usize = 32;
/// Node budget of one tree.
pub const MAX_NODES: usize = 200_000;

/// Standard base64 (for bytes that are neither text nor a message).
pub fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn is_text(b: &[u8]) -> bool {
    match std::str::from_utf8(b) {
        Ok(s) => s
            .chars()
            .all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r'),
        Err(_) => false,
    }
}

/// A protobuf message as `[{"field": n, <value>}, ...]`, where the value is one of
/// `"varint"`, `"fixed64"`, `"fixed32"` (numbers), `"string"` (UTF-8 text), `"message"`
/// (a nested tree, when the bytes parse as one) or `"bytes"` (base64).
pub fn protobuf_tree(msg: &[u8]) -> Value {
    let mut budget = MAX_NODES;
    message(msg, 0, &mut budget).unwrap_or_else(|| json!({"bytes": base64(msg)}))
}

/// The tree of `msg`, `None` when it does not parse as a message.
fn message(msg: &[u8], depth: usize, budget: &mut usize) -> Option<Value> {
    // Parse first (cheap, no allocation) so a failed guess costs nothing.
    let mut r = FieldReader::new(msg);
    let mut n = 0usize;
    loop {
        match r.next_field() {
            Ok(Some(_)) => n += 1,
            Ok(None) => break,
            Err(_) => return None,
        }
    }
    if n == 0 && !msg.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(n.min(1024));
    let mut r = FieldReader::new(msg);
    while let Ok(Some((field, w))) = r.next_field() {
        if *budget == 0 {
            out.push(json!({"truncated": "node budget spent"}));
            break;
        }
        *budget -= 1;
        let mut node = Map::new();
        node.insert("field".into(), json!(field));
        match w {
            Wire::Varint(v) => {
                node.insert("varint".into(), json!(v));
            }
            Wire::Fixed64(v) => {
                node.insert("fixed64".into(), json!(v));
            }
            Wire::Fixed32(v) => {
                node.insert("fixed32".into(), json!(v));
            }
            Wire::Bytes { data, .. } => {
                if data.is_empty() {
                    node.insert("string".into(), json!(""));
                } else if is_text(data) {
                    node.insert("string".into(), json!(String::from_utf8_lossy(data)));
                } else if depth + 1 >= MAX_DEPTH {
                    node.insert("bytes".into(), json!(base64(data)));
                    node.insert("truncated".into(), json!("nesting limit"));
                } else if let Some(m) = message(data, depth + 1, budget) {
                    node.insert("message".into(), m);
                } else {
                    node.insert("bytes".into(), json!(base64(data)));
                }
            }
        }
        out.push(Value::Object(node));
    }
    Some(Value::Array(out))
}

/// A CBOR value (after the self-described tag) as JSON: byte strings that are UTF-8 become
/// strings (Kubernetes writes strings as byte strings), other bytes `{"base64": ...}`.
pub fn cbor_to_json(value: &[u8]) -> Result<Value, String> {
    let mut r = Reader::new(value, 0);
    let mut budget = MAX_NODES;
    item(&mut r, 0, &mut budget).map_err(|e| e.to_string())
}

fn item(
    r: &mut Reader<'_>,
    depth: usize,
    budget: &mut usize,
) -> Result<Value, super::cbor::CborError> {
    let start = r.pos;
    if depth > CBOR_DEPTH || *budget == 0 {
        r.skip(0)?;
        return Ok(json!({"truncated": true}));
    }
    *budget -= 1;
    let h = r.head()?;
    Ok(match (h.major, h.arg) {
        (0, Some(n)) => json!(n),
        // CBOR negative integers reach -2^64, past i64: those are given as text.
        (1, Some(n)) => match i64::try_from(n) {
            Ok(n) => json!(-1 - n),
            Err(_) => json!((-1 - i128::from(n)).to_string()),
        },
        (2 | 3, _) => {
            r.pos = start;
            let raw_is_text = h.major == 3;
            match r.string()? {
                Some(s) if raw_is_text || !s.contains('\u{fffd}') => json!(s),
                Some(_) => {
                    // Re-read the bytes exactly for base64.
                    let mut r2 = Reader::new(r.buf, start);
                    let h2 = r2.head()?;
                    let n = h2.arg.unwrap_or(0) as usize;
                    let b = r.buf.get(r2.pos..r2.pos + n).unwrap_or(&[]);
                    json!({"base64": base64(b)})
                }
                None => Value::Null,
            }
        }
        (4, _) => {
            r.pos = start;
            let mut v = Vec::new();
            let mut err = None;
            r.array(depth, |r| {
                match item(r, depth + 1, budget) {
                    Ok(x) => v.push(x),
                    Err(e) => err = Some(e),
                }
                err.map_or(Ok(()), Err)
            })?;
            Value::Array(v)
        }
        (5, _) => {
            r.pos = start;
            let mut m = Map::new();
            r.map(depth, |r, k| {
                let x = item(r, depth + 1, budget)?;
                m.insert(k.to_string(), x);
                Ok(())
            })?;
            Value::Object(m)
        }
        (6, Some(_)) => item(r, depth + 1, budget)?,
        (7, Some(_)) => match h.info {
            20 => json!(false),
            21 => json!(true),
            22 | 23 => Value::Null,
            25 => json!(half(h.arg.unwrap_or(0) as u16)),
            26 => json!(f32::from_bits(h.arg.unwrap_or(0) as u32) as f64),
            27 => json!(f64::from_bits(h.arg.unwrap_or(0))),
            _ => json!({"simple": h.arg}),
        },
        _ => {
            return Err(super::cbor::CborError {
                offset: start,
                what: "invalid item",
            })
        }
    })
}

fn half(h: u16) -> f64 {
    let exp = (h >> 10) & 0x1f;
    let mant = f64::from(h & 0x3ff);
    let v = match exp {
        0 => mant * 2f64.powi(-24),
        31 => {
            if mant == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (mant + 1024.0) * 2f64.powi(i32::from(e) - 25),
    };
    if h & 0x8000 != 0 {
        -v
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::decode::pb;

    #[test]
    fn protobuf_tree_names_fields_and_nests_messages() {
        let mut m = pb::msg(1, |x| pb::bytes(x, 1, b"web"));
        pb::int(&mut m, 7, 150);
        pb::bytes(&mut m, 9, &[0xff, 0xfe]);
        let t = protobuf_tree(&m);
        assert_eq!(t[0]["field"], 1);
        assert_eq!(t[0]["message"][0]["string"], "web");
        assert_eq!(t[1]["varint"], 150);
        assert_eq!(t[2]["bytes"], "//4=");
    }

    #[test]
    fn deep_protobuf_is_cut_at_the_limit() {
        let mut v = vec![0x08, 0x01];
        for _ in 0..100 {
            let mut o = Vec::new();
            pb::bytes(&mut o, 1, &v);
            v = o;
        }
        let t = protobuf_tree(&v);
        let s = serde_json::to_string(&t).unwrap();
        assert!(s.contains("nesting limit"));
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn cbor_negative_integers_past_i64_do_not_panic() {
        // -2^64, the smallest CBOR integer (found by the k8s_value fuzz target).
        let v = [
            0xd9, 0xd9, 0xf7, 0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        assert_eq!(cbor_to_json(&v).unwrap(), json!("-18446744073709551616"));
    }

    #[test]
    fn cbor_converts_to_json() {
        let v = [
            0xd9, 0xd9, 0xf7, 0xa2, 0x41, b'a', 0x82, 0x01, 0x20, 0x61, b'b', 0xf5,
        ];
        let j = cbor_to_json(&v).unwrap();
        assert_eq!(j, json!({"a": [1, -1], "b": true}));
    }
}
