//! The InternalRaftRequest fields that etcd 3.5 and 3.6 add decode by name. etcd 3.5.1
//! never writes them (it still publishes members and the cluster version as v2 PUTs), so
//! the entries are built here from the field numbers of api/etcdserverpb/raft_internal.proto
//! (v3.5.x: auth_status 1013, cluster_version_set 1300, cluster_member_attr_set 1301,
//! downgrade_info_set 1302; v3.6.x adds downgrade_version_test 9900) and
//! api/membershippb/membership.proto.

use wal_reader::pb::NormalData;
use wal_reader::text::{compact_text, DecodedEntry};
use wal_reader::{EntryRef, EntryType};

fn varint(mut x: u64, out: &mut Vec<u8>) {
    while x >= 0x80 {
        out.push((x as u8) | 0x80);
        x >>= 7;
    }
    out.push(x as u8);
}

/// A length-delimited field.
fn ld(field: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3 | 2, &mut out);
    varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

/// A varint field.
fn vi(field: u64, v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    varint(field << 3, &mut out);
    varint(v, &mut out);
    out
}

/// InternalRaftRequest {header=100 {ID=1}, `field` = payload}.
fn request(field: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = ld(100, &vi(1, 77));
    out.extend(ld(field, payload));
    out
}

fn decode(data: &[u8]) -> Box<wal_reader::pb::InternalRaftRequest> {
    let e = EntryRef {
        term: 2,
        index: 9,
        entry_type: EntryType::Normal,
        data,
    };
    match DecodedEntry::decode(&e) {
        DecodedEntry::Normal(NormalData::Internal(r)) => r,
        _ => panic!("not an InternalRaftRequest"),
    }
}

#[test]
fn requests_added_by_etcd_3_5_and_3_6_decode_by_name() {
    // ClusterVersionSetRequest {ver=1}
    let r = decode(&request(1300, &ld(1, b"3.5.0")));
    assert_eq!(r.request_names(), vec!["cluster_version_set"]);
    assert_eq!(r.cluster_version_set.as_ref().unwrap().ver, b"3.5.0");
    // ClusterMemberAttrSetRequest {member_ID=1, member_attributes=2 {name=1, client_urls=2}}
    let mut attrs = ld(1, b"m1");
    attrs.extend(ld(2, b"http://127.0.0.1:2379"));
    let mut body = vi(1, 0x6c4c_537c_3b14_d712);
    body.extend(ld(2, &attrs));
    let r = decode(&request(1301, &body));
    assert_eq!(r.request_names(), vec!["cluster_member_attr_set"]);
    let a = r.cluster_member_attr_set.as_ref().unwrap();
    assert_eq!(a.member_id, 0x6c4c_537c_3b14_d712);
    let at = a.member_attributes.as_ref().unwrap();
    assert_eq!(at.name, b"m1");
    assert_eq!(at.client_urls, vec![b"http://127.0.0.1:2379".to_vec()]);
    // DowngradeInfoSetRequest {enabled=1, ver=2}
    let mut body = vi(1, 1);
    body.extend(ld(2, b"3.4.0"));
    let r = decode(&request(1302, &body));
    assert_eq!(r.request_names(), vec!["downgrade_info_set"]);
    let d = r.downgrade_info_set.as_ref().unwrap();
    assert!(d.enabled);
    assert_eq!(d.ver, b"3.4.0");
    // AuthStatusRequest {} (empty message)
    let r = decode(&request(1013, &[]));
    assert_eq!(r.request_names(), vec!["auth_status"]);
    // 3.6: DowngradeVersionTestRequest {ver=1}
    let r = decode(&request(9900, &ld(1, b"3.6.0")));
    assert_eq!(r.request_names(), vec!["downgrade_version_test"]);
    assert_eq!(r.downgrade_version_test.as_ref().unwrap().ver, b"3.6.0");
    // The etcd-dump-logs style text names the request and its fields.
    let text = compact_text(r.as_ref(), None);
    assert!(
        text.contains("downgrade_version_test:<ver:\"3.6.0\" >"),
        "{text}"
    );
    let r = decode(&request(1301, &body_attr()));
    let text = compact_text(r.as_ref(), None);
    assert!(
        text.contains("cluster_member_attr_set:<member_ID:") && text.contains("client_urls:"),
        "{text}"
    );
}

fn body_attr() -> Vec<u8> {
    let mut attrs = ld(1, b"m2");
    attrs.extend(ld(2, b"http://10.0.0.2:2379"));
    let mut body = vi(1, 5);
    body.extend(ld(2, &attrs));
    body
}
