//! JSON values (custom resources, clusters that store JSON): `kind`, `apiVersion` and
//! `metadata` read with serde, borrowing strings and skipping every other field without
//! building a tree of it. `managedFields` is kept as its raw text (the spec counts the
//! array's text from `[` to `]`). serde_json stops at 128 levels of nesting.

use super::decode::{
    DecodeOptions, Decoded, EventRef, LeaseSpec, ObjectMeta, OwnerRef, Time, MAX_LIST,
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Obj<'a> {
    #[serde(borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default, rename = "apiVersion")]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    metadata: Option<Meta<'a>>,
    #[serde(borrow, default)]
    spec: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "involvedObject")]
    involved_object: Option<&'a RawValue>,
    #[serde(borrow, default)]
    reason: Option<Cow<'a, str>>,
    #[serde(default)]
    count: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Meta<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "generateName")]
    generate_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "resourceVersion")]
    resource_version: Option<Cow<'a, str>>,
    generation: Option<i64>,
    #[serde(borrow, rename = "creationTimestamp")]
    creation_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "deletionTimestamp")]
    deletion_timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    labels: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow)]
    annotations: Option<BTreeMap<Cow<'a, str>, Cow<'a, str>>>,
    #[serde(borrow, rename = "ownerReferences")]
    owner_references: Option<Vec<Owner<'a>>>,
    #[serde(borrow)]
    finalizers: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, rename = "managedFields")]
    managed_fields: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Owner<'a> {
    #[serde(borrow, rename = "apiVersion")]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
    controller: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Lease<'a> {
    #[serde(borrow, rename = "holderIdentity")]
    holder_identity: Option<Cow<'a, str>>,
    #[serde(rename = "leaseDurationSeconds")]
    lease_duration_seconds: Option<i64>,
    #[serde(borrow, rename = "renewTime")]
    renew_time: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ObjRef<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

fn s(c: Option<Cow<'_, str>>) -> Cow<'_, str> {
    c.unwrap_or(Cow::Borrowed(""))
}

pub(crate) fn decode<'a>(value: &'a [u8], opts: DecodeOptions, d: &mut Decoded<'a>) {
    d.body = value;
    let o: Obj<'a> = match serde_json::from_slice(value) {
        Ok(o) => o,
        Err(e) => {
            d.error = Some(format!("JSON: {e}").into());
            return;
        }
    };
    d.kind = s(o.kind);
    d.api_version = s(o.api_version);
    if let Some(m) = o.metadata {
        d.meta = Some(meta(m, opts));
    }
    if d.kind == "Lease" && d.api_version.starts_with("coordination.k8s.io/") {
        if let Some(l) = o
            .spec
            .and_then(|r| serde_json::from_str::<Lease<'a>>(r.get()).ok())
        {
            d.lease = Some(LeaseSpec {
                holder: s(l.holder_identity),
                duration_seconds: l.lease_duration_seconds,
                renew_time: l.renew_time.map(Time::from_text),
            });
        }
    }
    if d.kind == "Event" && d.api_version == "v1" {
        let r = o
            .involved_object
            .and_then(|r| serde_json::from_str::<ObjRef<'a>>(r.get()).ok())
            .unwrap_or_default();
        d.event = Some(EventRef {
            namespace: s(r.namespace),
            kind: s(r.kind),
            name: s(r.name),
            reason: s(o.reason),
            count: o.count.unwrap_or(0),
        });
    }
}

fn meta<'a>(m: Meta<'a>, opts: DecodeOptions) -> ObjectMeta<'a> {
    let mut out = ObjectMeta {
        name: s(m.name),
        generate_name: s(m.generate_name),
        namespace: s(m.namespace),
        uid: s(m.uid),
        resource_version: s(m.resource_version),
        generation: m.generation.unwrap_or(0),
        creation_timestamp: m.creation_timestamp.map(Time::from_text),
        deletion_timestamp: m.deletion_timestamp.map(Time::from_text),
        ..Default::default()
    };
    if opts.labels {
        out.labels = m
            .labels
            .unwrap_or_default()
            .into_iter()
            .take(MAX_LIST)
            .collect();
    }
    for (k, v) in m.annotations.unwrap_or_default() {
        out.add_annotation(&k, v.len());
    }
    out.owner_references = m
        .owner_references
        .unwrap_or_default()
        .into_iter()
        .take(MAX_LIST)
        .map(|o| OwnerRef {
            api_version: s(o.api_version),
            kind: s(o.kind),
            name: s(o.name),
            uid: s(o.uid),
            controller: o.controller.unwrap_or(false),
        })
        .collect();
    out.finalizers = m
        .finalizers
        .unwrap_or_default()
        .into_iter()
        .take(MAX_LIST)
        .collect();
    if let Some(raw) = m.managed_fields {
        let text = raw.get();
        if text.starts_with('[') {
            out.managed_fields_bytes = text.len() as u64;
            out.managed_fields = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(text)
                .map_or(0, |v| v.len() as u64);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::decode::{decode_value, DecodeOptions, Encoding};

    #[test]
    fn json_metadata_and_managed_fields_text_are_read() {
        let v = br#"  {"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"ns1","uid":"u1",
            "annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"a\":\"\u00e9\"}\n","x":"yz"},
            "labels":{"a":"b"},"finalizers":["f1"],"deletionTimestamp":"2024-01-01T00:00:00Z",
            "ownerReferences":[{"apiVersion":"v1","kind":"Foo","name":"f","uid":"u9","controller":true}],
            "managedFields":[ {"manager":"m"}, {"manager":"n"} ]},"spec":{"size":3}}"#;
        let d = decode_value(v, DecodeOptions { labels: true });
        assert_eq!(d.encoding, Encoding::Json);
        assert_eq!(d.error, None);
        assert_eq!((&*d.kind, &*d.api_version), ("Widget", "example.com/v1"));
        let m = d.meta.unwrap();
        assert_eq!((&*m.name, &*m.namespace, &*m.uid), ("w1", "ns1", "u1"));
        // {"a":"é"}\n : 9 characters, é is 2 bytes in UTF-8.
        assert_eq!(m.last_applied_bytes, 11);
        assert_eq!(m.other_annotations_bytes, 2);
        assert_eq!(
            m.managed_fields_bytes,
            r#"[ {"manager":"m"}, {"manager":"n"} ]"#.len() as u64
        );
        assert_eq!(m.managed_fields, 2);
        assert_eq!(m.controller_owner(), "Foo/f");
        assert_eq!(m.finalizers, vec!["f1"]);
        assert!(m.deletion_timestamp.unwrap().unix_micros.is_some());
    }

    #[test]
    fn broken_or_deep_json_is_an_error_not_a_panic() {
        let d = decode_value(b"{\"kind\": ", DecodeOptions::default());
        assert!(d.error.is_some());
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        // serde_json's recursion limit (or its iterative skipping) bounds the stack.
        let _ = decode_value(deep.as_bytes(), DecodeOptions::default());
        let d = decode_value(b"{\"metadata\": 5}", DecodeOptions::default());
        assert!(d.error.is_some() && d.meta.is_none());
    }
}
