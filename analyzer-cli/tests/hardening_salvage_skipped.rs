//! Hardening, fault class "salvage drops an element without a word": a key-bucket
//! element whose flags mark it as a nested bucket (fixtures/damage_bbolt.py's
//! key-element-nested-flag). salvage keeps it when its bytes are a sound revision, counts
//! it in `elements_skipped` when they are not, and in both cases reports it and exits 1;
//! "nothing lost" only when nothing was skipped.

mod common;

use common::*;
use serde_json::Value;

fn variant() -> Option<(std::path::PathBuf, Value)> {
    let v = damaged_manifest()
        .into_iter()
        .find(|v| v["name"] == "bbolt-key-element-nested-flag")?;
    let path = fixtures().join("damaged").join(v["file"].as_str()?);
    path.is_file().then_some((path, v))
}

fn salvage(input: &std::path::Path, name: &str) -> (i32, Value, std::path::PathBuf) {
    let out = scratch(name).join("salvaged.db");
    let (code, v) = run_json(&["salvage", "--json", s(input), "--out", s(&out)]);
    (code, v, out)
}

#[test]
fn a_key_element_flagged_as_nested_bucket_is_kept_reported_and_exits_1() {
    let Some((db, _)) = variant() else {
        eprintln!("key-element-nested-flag not derived; skipped");
        return;
    };
    let (code, r, out) = salvage(&db, "nested-flag-kept");
    assert_eq!(code, 1, "{r}");
    let lost = r["lost"].to_string();
    assert!(lost.contains("flagged as nested buckets"), "{r}");
    let (code, kvs, _, err) = export(&["--show-secrets", s(&out)]);
    assert_eq!(code, 0, "{err}");
    let truth = truth_kvs(&fixtures().join("k8s/truth/kvs.json"));
    assert_eq!(kvs.len(), truth.len(), "no key lost");
    assert!(truth.iter().all(|(k, v)| kvs.get(k) == Some(v)));
}

#[test]
fn a_flagged_element_that_is_no_revision_is_counted_as_skipped_and_exits_1() {
    let Some((db, v)) = variant() else {
        eprintln!("key-element-nested-flag not derived; skipped");
        return;
    };
    // Also break the element's value, so it is neither a bucket nor a revision.
    let mut bytes = std::fs::read(&db).unwrap();
    let eo = v["changed_offset"].as_u64().unwrap() as usize;
    let u32_at = |b: &[u8], o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    let (pos, ksize) = (u32_at(&bytes, eo + 4), u32_at(&bytes, eo + 8));
    let value_at = eo + pos + ksize;
    // 0xff 0xff...: a varint tag that never ends within the value.
    bytes[value_at..value_at + 4].fill(0xFF);
    let broken = scratch("nested-flag-broken").join("db");
    std::fs::write(&broken, &bytes).unwrap();
    let (code, r, out) = salvage(&broken, "nested-flag-skipped");
    assert_eq!(code, 1, "{r}");
    let skipped = r["elements_skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|e| e["bucket"] == "key"
            && e["reason"] == "nested_bucket_flag"
            && e["count"] == 1),
        "{r}"
    );
    let (_, kvs, _, _) = export(&["--show-secrets", s(&out)]);
    let truth = truth_kvs(&fixtures().join("k8s/truth/kvs.json"));
    // The one revision is gone (a key created there is missing, or an older revision
    // stands), and the report says so.
    assert!(kvs.len() <= truth.len());
    assert!(r["lost"].to_string().contains("skipped"), "{r}");
}

#[test]
fn salvage_of_a_sound_db_skips_nothing_and_says_nothing_lost() {
    let (code, r, _) = salvage(&fixtures().join("k8s/data"), "sound-salvage");
    assert_eq!(code, 0, "{r}");
    assert_eq!(r["elements_skipped"], serde_json::json!([]));
    assert_eq!(r["lost"], serde_json::json!([]));
}
