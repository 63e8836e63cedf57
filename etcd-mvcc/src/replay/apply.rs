//! Applying one `InternalRaftRequest` to a [`State`] the way etcd 3.4's v3 applier does
//! (etcd 3.4 `etcdserver/apply.go`, `mvcc/kvstore_txn.go`, `lease/lessor.go`):
//!
//! - **put**: a lease other than 0 must exist; `ignore_value`/`ignore_lease` need the key
//!   to exist and take its current value/lease; `prev_kv` only shapes the response.
//! - **delete_range**: deletes the live keys in the range; nothing matched = no revision.
//! - **txn**: every compare (and every nested txn's compares, to pick the path) is
//!   evaluated against the state before the txn. A compare over a range holds when it
//!   holds for every key in it; over no key, a `VALUE` compare fails and the others
//!   compare against a zero KeyValue. Before executing, the chosen path's puts are checked
//!   (lease exists, ignore_* key exists) and its ranges' revisions (not compacted, not in
//!   the future); one failure refuses the whole txn. The ops then run in order in one
//!   write transaction, which takes one revision when it changed anything.
//! - **lease_grant**: ID 0 or an existing ID is refused; **lease_revoke** deletes the
//!   lease's keys in one write transaction and then the lease; an unknown ID is refused.
//! - **compaction**: refused at or below the compact revision or above the current one;
//!   otherwise sets the compact revision (the revision does not move).
//! - **alarm**: a NOSPACE alarm makes later puts, txns with a put in either branch, and
//!   lease grants fail (`applierV3Capped`); CORRUPT refuses everything. Deactivation
//!   lifts them.
//! - Ranges, lease checkpoints, auth and membership requests do not touch the keyspace.
//!   Auth permission checks are not modelled (a request refused for permissions by etcd
//!   would be applied here).

use super::state::{KeyRange, State, WriteTxn, MAX_RANGE_WORK};
use std::borrow::Cow;
use wal_reader::pb::{
    AlarmRequest, Compare, CompareTargetUnion, DeleteRangeRequest, InternalRaftRequest, PutRequest,
    RequestOp, RequestOpKind, TxnRequest,
};

/// What applying one request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied; `bumped` when it took a new revision.
    Applied {
        /// Whether the store revision went up.
        bumped: bool,
    },
    /// etcd would answer with this error and change nothing.
    Refused(&'static str),
    /// The request does not touch the keyspace (range, auth, membership, checkpoint).
    NoEffect,
}

/// CompareResult numbers (rpc.proto).
const EQUAL: i32 = 0;
const GREATER: i32 = 1;
const LESS: i32 = 2;
const NOT_EQUAL: i32 = 3;
/// CompareTarget numbers (rpc.proto).
const T_VERSION: i32 = 0;
const T_CREATE: i32 = 1;
const T_MOD: i32 = 2;
const T_VALUE: i32 = 3;
const T_LEASE: i32 = 4;
/// AlarmRequest actions and types.
const ALARM_ACTIVATE: i32 = 1;
const ALARM_DEACTIVATE: i32 = 2;
const ALARM_NOSPACE: i32 = 1;
const ALARM_CORRUPT: i32 = 2;

/// etcd's `lease.MaxLeaseTTL` in seconds.
const MAX_LEASE_TTL: i64 = 9_000_000_000;

/// Nesting bound for txns inside txns (etcd bounds it by request size; a hostile WAL
/// must not make us recurse without limit).
const MAX_TXN_DEPTH: usize = 64;

/// Applies `req` to `state`.
pub fn apply(state: &mut State<'_>, req: &InternalRaftRequest) -> Outcome {
    if state.corrupt
        && (req.put.is_some()
            || req.delete_range.is_some()
            || req.txn.is_some()
            || req.compaction.is_some()
            || req.lease_grant.is_some()
            || req.lease_revoke.is_some())
    {
        return Outcome::Refused("etcdserver: corrupt cluster");
    }
    if let Some(p) = &req.put {
        if state.nospace {
            return Outcome::Refused("etcdserver: mvcc: database space exceeded");
        }
        if p.lease != 0 && !state.leases.contains_key(&p.lease) {
            return Outcome::Refused("lease not found");
        }
        let mut t = state.write();
        return match put(&mut t, p) {
            Ok(()) => Outcome::Applied { bumped: t.end() },
            Err(e) => Outcome::Refused(e),
        };
    }
    if let Some(d) = &req.delete_range {
        let mut t = state.write();
        delete(&mut t, d);
        return Outcome::Applied { bumped: t.end() };
    }
    if let Some(tx) = &req.txn {
        return txn(state, tx);
    }
    if let Some(c) = &req.compaction {
        if c.revision <= state.compact_revision {
            return Outcome::Refused("mvcc: required revision has been compacted");
        }
        if c.revision > state.revision {
            return Outcome::Refused("mvcc: required revision is a future revision");
        }
        state.compact_revision = c.revision;
        return Outcome::Applied { bumped: false };
    }
    if let Some(g) = &req.lease_grant {
        if state.nospace {
            return Outcome::Refused("etcdserver: mvcc: database space exceeded");
        }
        if g.id == 0 {
            return Outcome::Refused("lease not found");
        }
        if g.ttl > MAX_LEASE_TTL {
            return Outcome::Refused("lease: TTL is too large");
        }
        if state.leases.contains_key(&g.id) {
            return Outcome::Refused("lease already exists");
        }
        state.leases.insert(g.id, g.ttl);
        return Outcome::Applied { bumped: false };
    }
    if let Some(r) = &req.lease_revoke {
        if !state.leases.contains_key(&r.id) {
            return Outcome::Refused("lease not found");
        }
        // Finding the lease's keys reads every key (the state keeps no lease index).
        let work = state.range_work.saturating_add(state.keys.len() as u64);
        if work > MAX_RANGE_WORK {
            return Outcome::Refused(WORK_LIMIT);
        }
        state.range_work = work;
        let attached: Vec<Vec<u8>> = state
            .keys
            .iter()
            .filter(|(_, kv)| kv.lease == r.id)
            .map(|(k, _)| k.to_vec())
            .collect();
        let mut t = state.write();
        for k in &attached {
            t.delete_range(KeyRange::Single(k));
        }
        let bumped = t.end();
        state.leases.remove(&r.id);
        return Outcome::Applied { bumped };
    }
    if let Some(a) = &req.alarm {
        alarm(state, a);
        return Outcome::NoEffect;
    }
    Outcome::NoEffect
}

/// etcd 3.4 `applierV3backend.Alarm`: the alarm store is per member and type; a new
/// NOSPACE alarm replaces the applier with the capped one, a new CORRUPT alarm with the
/// one that refuses everything; when the last alarm of a type is deactivated the applier
/// goes back to normal (whatever other alarm is still raised).
fn alarm(state: &mut State<'_>, a: &AlarmRequest) {
    if a.alarm != ALARM_NOSPACE && a.alarm != ALARM_CORRUPT {
        return;
    }
    let key = (a.member_id, a.alarm);
    match a.action {
        ALARM_ACTIVATE => {
            if !state.alarms.insert(key) {
                return;
            }
            if a.alarm == ALARM_NOSPACE {
                state.nospace = true;
                state.corrupt = false;
            } else {
                state.corrupt = true;
                state.nospace = false;
            }
        }
        ALARM_DEACTIVATE => {
            if !state.alarms.remove(&key) {
                return;
            }
            if !state.alarms.iter().any(|&(_, t)| t == a.alarm) {
                state.nospace = false;
                state.corrupt = false;
            }
        }
        _ => {}
    }
}

fn put<'a>(t: &mut WriteTxn<'_, 'a>, p: &PutRequest) -> Result<(), &'static str> {
    let mut value: Cow<'a, [u8]> = Cow::Owned(p.value.clone());
    let mut lease = p.lease;
    if p.ignore_value || p.ignore_lease {
        let Some(cur) = t.state().keys.get(p.key.as_slice()) else {
            return Err("etcdserver: key not found");
        };
        if p.ignore_value {
            value = cur.value.clone();
        }
        if p.ignore_lease {
            lease = cur.lease;
        }
    }
    t.put(Cow::Owned(p.key.clone()), value, lease);
    Ok(())
}

fn delete(t: &mut WriteTxn<'_, '_>, d: &DeleteRangeRequest) -> usize {
    t.delete_range(KeyRange::new(&d.key, &d.range_end))
}

fn compare_i64(a: i64, b: i64) -> std::cmp::Ordering {
    a.cmp(&b)
}

/// One compare against one key's current generation (absent = all zero, empty value).
fn compare_kv(c: &Compare, value: &[u8], create: i64, modr: i64, version: i64, lease: i64) -> bool {
    use std::cmp::Ordering;
    let ord: Ordering = match c.target {
        T_VALUE => {
            let want: &[u8] = match &c.target_union {
                Some(CompareTargetUnion::Value(v)) => v,
                _ => &[],
            };
            value.cmp(want)
        }
        T_CREATE => compare_i64(
            create,
            match c.target_union {
                Some(CompareTargetUnion::CreateRevision(x)) => x,
                _ => 0,
            },
        ),
        T_MOD => compare_i64(
            modr,
            match c.target_union {
                Some(CompareTargetUnion::ModRevision(x)) => x,
                _ => 0,
            },
        ),
        T_VERSION => compare_i64(
            version,
            match c.target_union {
                Some(CompareTargetUnion::Version(x)) => x,
                _ => 0,
            },
        ),
        T_LEASE => compare_i64(
            lease,
            match c.target_union {
                Some(CompareTargetUnion::Lease(x)) => x,
                _ => 0,
            },
        ),
        _ => Ordering::Equal,
    };
    match c.result {
        EQUAL => ord == Ordering::Equal,
        NOT_EQUAL => ord != Ordering::Equal,
        GREATER => ord == Ordering::Greater,
        LESS => ord == Ordering::Less,
        _ => true,
    }
}

/// Why a txn or lease revoke is refused once [`MAX_RANGE_WORK`] is used up.
pub const WORK_LIMIT: &str =
    "replay work limit reached: compares and lease revokes read too many keys (hostile WAL?)";

/// etcd `applyCompare`. Each key the compare reads counts one unit of `work`; past
/// [`MAX_RANGE_WORK`] the answer is [`WORK_LIMIT`].
pub fn compare_holds(state: &State<'_>, c: &Compare, work: &mut u64) -> Result<bool, &'static str> {
    let mut any = false;
    for (_, kv) in state.range(KeyRange::new(&c.key, &c.range_end)) {
        any = true;
        *work = work.saturating_add(1);
        if *work > MAX_RANGE_WORK {
            return Err(WORK_LIMIT);
        }
        if !compare_kv(
            c,
            &kv.value,
            kv.create_revision,
            kv.mod_revision,
            kv.version,
            kv.lease,
        ) {
            return Ok(false);
        }
    }
    if any {
        return Ok(true);
    }
    // No key: a value compare always fails; the others compare against zeros.
    Ok(c.target != T_VALUE && compare_kv(c, &[], 0, 0, 0, 0))
}

/// The ops a txn runs, by evaluating its compares against `state`.
fn branch<'r>(
    state: &State<'_>,
    t: &'r TxnRequest,
    work: &mut u64,
) -> Result<&'r [RequestOp], &'static str> {
    for c in &t.compare {
        if !compare_holds(state, c, work)? {
            return Ok(&t.failure);
        }
    }
    Ok(&t.success)
}

/// Checks the chosen path of `t` (and nested txns) as etcd's `checkRequests` does.
fn check_path(
    state: &State<'_>,
    t: &TxnRequest,
    depth: usize,
    work: &mut u64,
) -> Result<(), &'static str> {
    if depth > MAX_TXN_DEPTH {
        return Err("txn nested too deep");
    }
    for op in branch(state, t, work)? {
        match &op.request {
            Some(RequestOpKind::RequestPut(p)) => {
                if (p.ignore_value || p.ignore_lease) && !state.keys.contains_key(p.key.as_slice())
                {
                    return Err("etcdserver: key not found");
                }
                if p.lease != 0 && !state.leases.contains_key(&p.lease) {
                    return Err("lease not found");
                }
            }
            Some(RequestOpKind::RequestRange(r)) => {
                if r.revision != 0 && r.revision > state.revision {
                    return Err("mvcc: required revision is a future revision");
                }
                if r.revision != 0 && r.revision < state.compact_revision {
                    return Err("mvcc: required revision has been compacted");
                }
            }
            Some(RequestOpKind::RequestTxn(n)) => check_path(state, n, depth + 1, work)?,
            _ => {}
        }
    }
    Ok(())
}

/// Chosen branches of `t` and its nested txns, in etcd's order (decided before any op runs).
fn plan<'r>(
    state: &State<'_>,
    t: &'r TxnRequest,
    depth: usize,
    out: &mut Vec<&'r [RequestOp]>,
    work: &mut u64,
) -> Result<(), &'static str> {
    let ops = branch(state, t, work)?;
    out.push(ops);
    if depth >= MAX_TXN_DEPTH {
        return Ok(());
    }
    for op in ops {
        if let Some(RequestOpKind::RequestTxn(n)) = &op.request {
            plan(state, n, depth + 1, out, work)?;
        }
    }
    Ok(())
}

/// Runs the planned branches; `next` walks `plan` in the same order it was built.
fn run_ops<'a>(
    t: &mut WriteTxn<'_, 'a>,
    plan: &[&[RequestOp]],
    next: &mut usize,
    depth: usize,
) -> Result<(), &'static str> {
    let Some(ops) = plan.get(*next) else {
        return Ok(());
    };
    *next += 1;
    for op in *ops {
        match &op.request {
            Some(RequestOpKind::RequestPut(p)) => put(t, p)?,
            Some(RequestOpKind::RequestDeleteRange(d)) => {
                delete(t, d);
            }
            Some(RequestOpKind::RequestTxn(_)) if depth < MAX_TXN_DEPTH => {
                run_ops(t, plan, next, depth + 1)?
            }
            _ => {}
        }
    }
    Ok(())
}

fn has_put(ops: &[RequestOp]) -> bool {
    ops.iter()
        .any(|op| matches!(op.request, Some(RequestOpKind::RequestPut(_))))
}

fn txn(state: &mut State<'_>, tx: &TxnRequest) -> Outcome {
    // applierV3Capped: a txn whose success or failure branch holds a put costs space.
    if state.nospace && (has_put(&tx.success) || has_put(&tx.failure)) {
        return Outcome::Refused("etcdserver: mvcc: database space exceeded");
    }
    let mut work = state.range_work;
    let checked = check_path(state, tx, 0, &mut work);
    let mut p = Vec::new();
    let planned = checked.and_then(|()| plan(state, tx, 0, &mut p, &mut work));
    state.range_work = work;
    if let Err(e) = planned {
        return Outcome::Refused(e);
    }
    let mut t = state.write();
    let mut next = 0;
    // etcd panics on an op error after the checks passed; here the changes made so far
    // stand and the rest of the txn is skipped (the caller reports it).
    let r = run_ops(&mut t, &p, &mut next, 0);
    let bumped = t.end();
    match r {
        Ok(()) => Outcome::Applied { bumped },
        Err(e) => Outcome::Refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wal_reader::pb::{LeaseGrantRequest, LeaseRevokeRequest};

    fn put_req(k: &str, v: &str, lease: i64) -> InternalRaftRequest {
        InternalRaftRequest {
            put: Some(PutRequest {
                key: k.into(),
                value: v.into(),
                lease,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn op_put(k: &str, v: &str) -> RequestOp {
        RequestOp {
            request: Some(RequestOpKind::RequestPut(PutRequest {
                key: k.into(),
                value: v.into(),
                ..Default::default()
            })),
        }
    }

    fn cmp(key: &str, target: i32, result: i32, u: CompareTargetUnion) -> Compare {
        Compare {
            result,
            target,
            key: key.into(),
            target_union: Some(u),
            range_end: vec![],
        }
    }

    #[test]
    fn put_with_unknown_lease_is_refused_and_takes_no_revision() {
        let mut s = State::default();
        assert_eq!(
            apply(&mut s, &put_req("a", "1", 5)),
            Outcome::Refused("lease not found")
        );
        assert_eq!(s.revision, 0);
        let grant = InternalRaftRequest {
            lease_grant: Some(LeaseGrantRequest { ttl: 10, id: 5 }),
            ..Default::default()
        };
        apply(&mut s, &grant);
        assert_eq!(
            apply(&mut s, &put_req("a", "1", 5)),
            Outcome::Applied { bumped: true }
        );
        assert_eq!(s.keys[b"a".as_slice()].lease, 5);
    }

    #[test]
    fn revoke_deletes_attached_keys_in_one_revision() {
        let mut s = State::default();
        s.leases.insert(9, 60);
        apply(&mut s, &put_req("a", "1", 9));
        apply(&mut s, &put_req("b", "1", 9));
        apply(&mut s, &put_req("c", "1", 0));
        let rev = s.revision;
        let out = apply(
            &mut s,
            &InternalRaftRequest {
                lease_revoke: Some(LeaseRevokeRequest { id: 9 }),
                ..Default::default()
            },
        );
        assert_eq!(out, Outcome::Applied { bumped: true });
        assert_eq!(s.revision, rev + 1);
        assert_eq!(s.keys.len(), 1);
        assert!(s.leases.is_empty());
    }

    #[test]
    fn txn_compares_pick_the_branch_and_read_the_state_before_the_txn() {
        let mut s = State::default();
        apply(&mut s, &put_req("k", "v1", 0));
        // mod_revision == 1 holds: success puts k and x in one revision.
        let t = TxnRequest {
            compare: vec![cmp("k", T_MOD, EQUAL, CompareTargetUnion::ModRevision(1))],
            success: vec![op_put("k", "v2"), op_put("x", "1")],
            failure: vec![op_put("lost", "1")],
        };
        let req = InternalRaftRequest {
            txn: Some(t.clone()),
            ..Default::default()
        };
        assert_eq!(apply(&mut s, &req), Outcome::Applied { bumped: true });
        assert_eq!(s.revision, 2);
        assert_eq!(s.keys[b"k".as_slice()].version, 2);
        assert_eq!(s.keys[b"x".as_slice()].mod_revision, 2);
        // Again: mod_revision is now 2, so the failure branch runs.
        apply(&mut s, &req);
        assert!(s.keys.contains_key(b"lost".as_slice()));
        assert_eq!(s.revision, 3);
    }

    #[test]
    fn value_compare_on_a_missing_key_fails_and_create_compare_sees_zero() {
        let s = State::default();
        let mut work = 0;
        assert_eq!(
            compare_holds(
                &s,
                &cmp(
                    "nope",
                    T_VALUE,
                    NOT_EQUAL,
                    CompareTargetUnion::Value(b"x".to_vec())
                ),
                &mut work
            ),
            Ok(false)
        );
        assert_eq!(
            compare_holds(
                &s,
                &cmp(
                    "nope",
                    T_CREATE,
                    EQUAL,
                    CompareTargetUnion::CreateRevision(0)
                ),
                &mut work
            ),
            Ok(true)
        );
    }

    #[test]
    fn txn_without_changes_takes_no_revision() {
        let mut s = State::default();
        apply(&mut s, &put_req("k", "v", 0));
        let t = TxnRequest {
            compare: vec![],
            success: vec![RequestOp {
                request: Some(RequestOpKind::RequestDeleteRange(DeleteRangeRequest {
                    key: b"absent".to_vec(),
                    ..Default::default()
                })),
            }],
            failure: vec![],
        };
        let out = apply(
            &mut s,
            &InternalRaftRequest {
                txn: Some(t),
                ..Default::default()
            },
        );
        assert_eq!(out, Outcome::Applied { bumped: false });
        assert_eq!(s.revision, 1);
    }

    #[test]
    fn alarms_switch_the_applier_per_member_and_type() {
        let mut s = State::default();
        let alarm = |action, member_id| InternalRaftRequest {
            alarm: Some(AlarmRequest {
                action,
                member_id,
                alarm: ALARM_NOSPACE,
            }),
            ..Default::default()
        };
        apply(&mut s, &alarm(ALARM_ACTIVATE, 1));
        apply(&mut s, &alarm(ALARM_ACTIVATE, 2));
        assert!(s.nospace);
        // One member's alarm cleared: the other's still caps the applier.
        apply(&mut s, &alarm(ALARM_DEACTIVATE, 1));
        assert!(s.nospace);
        apply(&mut s, &alarm(ALARM_DEACTIVATE, 2));
        assert!(!s.nospace);
        assert_eq!(
            apply(&mut s, &put_req("k", "v", 0)),
            Outcome::Applied { bumped: true }
        );
    }

    #[test]
    fn nospace_refuses_puts_but_not_deletes() {
        let mut s = State::default();
        apply(&mut s, &put_req("k", "v", 0));
        s.nospace = true;
        assert!(matches!(
            apply(&mut s, &put_req("k2", "v", 0)),
            Outcome::Refused(_)
        ));
        let del = InternalRaftRequest {
            delete_range: Some(DeleteRangeRequest {
                key: b"k".to_vec(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(apply(&mut s, &del), Outcome::Applied { bumped: true });
    }

    /// A txn whose success branch holds a txn, `depth` times; the innermost puts `k`.
    fn nested(depth: usize) -> TxnRequest {
        let mut t = TxnRequest {
            success: vec![op_put("k", "v")],
            ..Default::default()
        };
        for _ in 0..depth {
            t = TxnRequest {
                success: vec![RequestOp {
                    request: Some(RequestOpKind::RequestTxn(t)),
                }],
                ..Default::default()
            };
        }
        t
    }

    fn txn_req(t: TxnRequest) -> InternalRaftRequest {
        InternalRaftRequest {
            txn: Some(t),
            ..Default::default()
        }
    }

    #[test]
    fn deeply_nested_txn_is_bounded() {
        // Within the limit the innermost put runs; far past it the txn is refused before
        // any op runs, without recursing past the limit.
        let mut s = State::default();
        assert_eq!(
            apply(&mut s, &txn_req(nested(MAX_TXN_DEPTH))),
            Outcome::Applied { bumped: true }
        );
        assert!(s.keys.contains_key(b"k".as_slice()));
        let mut s = State::default();
        assert_eq!(
            apply(&mut s, &txn_req(nested(2_000))),
            Outcome::Refused("txn nested too deep")
        );
        assert!(s.keys.is_empty());
        assert_eq!(s.revision, 0);
    }

    #[test]
    fn delete_range_over_everything_repeated_costs_each_key_once() {
        let mut s = State::default();
        for i in 0..5_000 {
            apply(&mut s, &put_req(&format!("/k/{i:05}"), "v", 0));
        }
        let all = InternalRaftRequest {
            delete_range: Some(DeleteRangeRequest {
                key: vec![0],
                range_end: vec![0],
                prev_kv: false,
            }),
            ..Default::default()
        };
        assert_eq!(apply(&mut s, &all), Outcome::Applied { bumped: true });
        let rev = s.revision;
        // Every later delete of everything finds nothing: no revision, no work.
        for _ in 0..100_000 {
            assert_eq!(apply(&mut s, &all), Outcome::Applied { bumped: false });
        }
        assert!(s.keys.is_empty());
        assert_eq!(s.revision, rev);
    }

    #[test]
    fn compares_over_every_key_stop_at_the_replay_work_limit() {
        let mut s = State::default();
        for i in 0..10 {
            apply(&mut s, &put_req(&format!("k{i}"), "v", 0));
        }
        let over_all = Compare {
            result: GREATER,
            target: T_VERSION,
            key: vec![0],
            target_union: Some(CompareTargetUnion::Version(0)),
            range_end: vec![0],
        };
        let t = TxnRequest {
            compare: vec![over_all; 3],
            success: vec![op_put("x", "1")],
            ..Default::default()
        };
        assert_eq!(
            apply(&mut s, &txn_req(t.clone())),
            Outcome::Applied { bumped: true }
        );
        // 3 compares x 10 keys, read twice (check, then plan), before the put.
        assert_eq!(s.range_work, 60);
        s.range_work = MAX_RANGE_WORK - 20;
        let rev = s.revision;
        assert_eq!(apply(&mut s, &txn_req(t)), Outcome::Refused(WORK_LIMIT));
        assert_eq!(s.revision, rev);
        // Lease revokes read every key too and are refused the same way.
        let grant = InternalRaftRequest {
            lease_grant: Some(LeaseGrantRequest { ttl: 10, id: 9 }),
            ..Default::default()
        };
        apply(&mut s, &grant);
        let revoke = InternalRaftRequest {
            lease_revoke: Some(LeaseRevokeRequest { id: 9 }),
            ..Default::default()
        };
        assert_eq!(apply(&mut s, &revoke), Outcome::Refused(WORK_LIMIT));
    }
}
