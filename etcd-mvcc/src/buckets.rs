//! Every bucket name etcd writes, in one place (etcd 3.4 `mvcc/backend`, `mvcc/kvstore.go`,
//! `lease/lessor.go`, `auth/store.go`, `etcdserver/api/membership/store.go`,
//! `etcdserver/api/v3alarm`). A new etcd version's bucket is added here and to
//! [`KNOWN_BUCKETS`]; the modules that decode a bucket re-export its name.

/// Every revision of every user key (`mvcc`).
pub const KEY_BUCKET: &[u8] = b"key";
/// Bookkeeping: consistent index, term, compaction revisions (`meta`).
pub const META_BUCKET: &[u8] = b"meta";
/// Leases (`lease`).
pub const LEASE_BUCKET: &[u8] = b"lease";
/// Raised alarms (`alarm`).
pub const ALARM_BUCKET: &[u8] = b"alarm";
/// Cluster-wide records such as the cluster version (`cluster`).
pub const CLUSTER_BUCKET: &[u8] = b"cluster";
/// The members (`members`).
pub const MEMBERS_BUCKET: &[u8] = b"members";
/// Removed members (`members_removed`).
pub const MEMBERS_REMOVED_BUCKET: &[u8] = b"members_removed";
/// Whether auth is enabled, and its revision (`auth`).
pub const AUTH_BUCKET: &[u8] = b"auth";
/// Users with their password hashes (`authUsers`).
pub const AUTH_USERS_BUCKET: &[u8] = b"authUsers";
/// Roles and their permissions (`authRoles`).
pub const AUTH_ROLES_BUCKET: &[u8] = b"authRoles";

/// Every bucket etcd 3.4 creates, in bbolt's (byte) order.
pub const KNOWN_BUCKETS: [&[u8]; 10] = [
    ALARM_BUCKET,
    AUTH_BUCKET,
    AUTH_ROLES_BUCKET,
    AUTH_USERS_BUCKET,
    CLUSTER_BUCKET,
    KEY_BUCKET,
    LEASE_BUCKET,
    MEMBERS_BUCKET,
    MEMBERS_REMOVED_BUCKET,
    META_BUCKET,
];

#[cfg(test)]
mod tests {
    #[test]
    fn known_buckets_are_in_bbolt_byte_order() {
        assert!(super::KNOWN_BUCKETS.windows(2).all(|w| w[0] < w[1]));
    }
}
