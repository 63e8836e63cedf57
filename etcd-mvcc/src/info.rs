//! Everything in an etcd db except the key bucket: the meta bucket, members, cluster
//! version, alarms, leases and auth. Small buckets, read sequentially.

use super::auth::{
    auth_enabled, User, AUTH_BUCKET, AUTH_ENABLED_KEY, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET,
};
use super::cluster::{
    parse_downgrade, parse_member, Alarm, DowngradeInfo, MemberRecord, ALARM_BUCKET,
    CLUSTER_BUCKET, CLUSTER_DOWNGRADE_KEY, CLUSTER_VERSION_KEY, MEMBERS_BUCKET,
    MEMBERS_REMOVED_BUCKET,
};
use super::lease::{Lease, LEASE_BUCKET};
use super::meta::{MetaInfo, META_BUCKET};
use bbolt_reader::Db;

/// Leases kept in [`EtcdInfo::leases`] at most (all are counted).
pub const MAX_LEASES_LISTED: usize = 10_000;

/// What the small buckets say.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EtcdInfo {
    /// Top-level bucket names (lossy UTF-8), in order.
    pub buckets: Vec<String>,
    /// The meta bucket.
    pub meta: MetaInfo,
    /// Members recorded in the db.
    pub members: Vec<MemberRecord>,
    /// IDs (hex) of removed members.
    pub removed_members: Vec<String>,
    /// Cluster version, e.g. "3.4.0".
    pub cluster_version: Option<String>,
    /// `cluster/downgrade` (3.5+), when present.
    pub downgrade: Option<DowngradeInfo>,
    /// Raised alarms.
    pub alarms: Vec<Alarm>,
    /// Number of leases.
    pub lease_count: u64,
    /// Leases (up to [`MAX_LEASES_LISTED`]).
    #[serde(skip)]
    pub leases: Vec<Lease>,
    /// Whether auth is enabled (None when the auth bucket is missing).
    pub auth_enabled: Option<bool>,
    /// Users (never with password hashes).
    pub users: Vec<User>,
    /// Number of roles.
    pub role_count: u64,
    /// Things that could not be decoded.
    pub problems: Vec<String>,
}

/// Called with each entry of a bucket and the problem list.
type EntryFn<'f> = dyn FnMut(&[u8], &[u8], &mut Vec<String>) + 'f;

/// Reads the small buckets. Damage becomes a problem line; it never stops the read.
pub fn read_info(db: &Db<'_>) -> EtcdInfo {
    let mut info = EtcdInfo::default();
    let root = db.root();
    for item in root.iter() {
        match item {
            Ok(it) => info
                .buckets
                .push(String::from_utf8_lossy(it.key).into_owned()),
            Err(e) => {
                info.problems.push(format!("root bucket: {e}"));
                break;
            }
        }
    }
    let mut each = |name: &[u8], f: &mut EntryFn<'_>| match db.bucket(name) {
        Ok(Some(b)) => {
            for kv in b.iter() {
                match kv {
                    Ok(kv) => f(kv.key, kv.value, &mut info.problems),
                    Err(e) => {
                        info.problems
                            .push(format!("bucket {}: {e}", String::from_utf8_lossy(name)));
                        break;
                    }
                }
            }
        }
        Ok(None) => {}
        Err(e) => info
            .problems
            .push(format!("bucket {}: {e}", String::from_utf8_lossy(name))),
    };
    let mut meta_pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    each(META_BUCKET, &mut |k, v, _| {
        if meta_pairs.len() < 1000 {
            meta_pairs.push((k.to_vec(), v.to_vec()))
        }
    });
    let mut members = Vec::new();
    each(MEMBERS_BUCKET, &mut |k, v, p| match parse_member(k, v) {
        Ok(m) => members.push(m),
        Err(e) => p.push(e),
    });
    let mut removed = Vec::new();
    each(MEMBERS_REMOVED_BUCKET, &mut |k, _, _| {
        removed.push(String::from_utf8_lossy(k).into_owned())
    });
    let mut cluster_version = None;
    let mut downgrade = None;
    each(CLUSTER_BUCKET, &mut |k, v, p| {
        if k == CLUSTER_VERSION_KEY {
            cluster_version = Some(String::from_utf8_lossy(v).into_owned());
        } else if k == CLUSTER_DOWNGRADE_KEY {
            match parse_downgrade(v) {
                Ok(d) => downgrade = Some(d),
                Err(e) => p.push(e),
            }
        }
    });
    let mut alarms = Vec::new();
    each(ALARM_BUCKET, &mut |k, _, p| match Alarm::parse(k) {
        Ok(a) => alarms.push(a),
        Err(e) => p.push(format!("alarm key: {e}")),
    });
    let mut lease_count = 0u64;
    let mut leases = Vec::new();
    each(LEASE_BUCKET, &mut |_, v, p| {
        lease_count += 1;
        match Lease::parse(v) {
            Ok(l) if leases.len() < MAX_LEASES_LISTED => leases.push(l),
            Ok(_) => {}
            Err(e) => p.push(format!("lease: {e}")),
        }
    });
    let mut auth = None;
    let mut auth_seen = false;
    each(AUTH_BUCKET, &mut |k, v, _| {
        auth_seen = true;
        if k == AUTH_ENABLED_KEY {
            auth = Some(auth_enabled(v));
        }
    });
    let mut users = Vec::new();
    each(AUTH_USERS_BUCKET, &mut |_, v, p| match User::parse(v) {
        Ok(u) => users.push(u),
        Err(e) => p.push(format!("auth user: {e}")),
    });
    let mut role_count = 0;
    each(AUTH_ROLES_BUCKET, &mut |_, _, _| role_count += 1);

    info.meta = MetaInfo::from_pairs(meta_pairs.iter().map(|(k, v)| (k.as_slice(), v.as_slice())));
    info.problems.extend(info.meta.problems.iter().cloned());
    info.members = members;
    info.removed_members = removed;
    info.cluster_version = cluster_version;
    info.downgrade = downgrade;
    info.alarms = alarms;
    info.lease_count = lease_count;
    info.leases = leases;
    info.auth_enabled = auth.or(if auth_seen { Some(false) } else { None });
    info.users = users;
    info.role_count = role_count;
    info
}
