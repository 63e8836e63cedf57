//! etcd's request messages read in place: a [`MessageView`] is a message's protobuf bytes
//! (borrowed from the segment mapping) plus a static schema, and visits its fields without
//! decoding them into owned structs. Printers (the etcd-dump-logs text, `wal --json`, the
//! summary's request counts) use it, so memory stays at the entry's own bytes: a txn of
//! 580,000 puts decoded into [`crate::pb`] structs took twelve times its size.
//!
//! It prints exactly what the [`crate::pb`] structs print, because it follows the rules
//! prost decodes them by (prost 0.14 `encoding.rs`; the protobuf encoding spec):
//!
//! - a message decodes when every tag is a varint of at most 10 bytes (the tenth below 2)
//!   holding field number >= 1 and a wire type 0..5, every known field has the wire type
//!   of its declared type (varint for integers, enums and bools; length-delimited for
//!   bytes and messages), every length fits, and nesting stays within prost's recursion
//!   limit of 100 (an unknown field is skipped, a group up to its matching end tag);
//! - a scalar field seen twice keeps the last value; a message field seen twice is the
//!   merge of both (the fields of the concatenation of their bytes); a repeated field keeps
//!   every occurrence in order; a oneof is its last member seen, merged with that member's
//!   earlier occurrences after the last occurrence of another member;
//! - `int32`/`int64` are the varint cast to the signed type, `bool` is `varint != 0`.
//!
//! Fields are visited in `.proto` declaration order, as [`Visit`] promises.

use crate::pb::{self, enum_name, Scalar, Visit, Visitor};

/// prost's `RECURSION_LIMIT`: nested messages deeper than this fail to decode.
const RECURSION_LIMIT: u32 = 100;

/// A field's declared type.
#[derive(Debug, Clone, Copy)]
enum Ty {
    U64,
    I64,
    Enum(&'static [&'static str]),
    Bool,
    Bytes,
    Msg(&'static Schema),
}

/// When a scalar field is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Show {
    /// proto3 implicit presence: only at a non-zero value.
    NonZero,
    /// proto2 non-nullable (gogo): always, the default when absent.
    Always,
    /// proto2 optional or oneof member: whenever it was on the wire.
    IfSet,
}

/// One declared field.
#[derive(Debug)]
struct Field {
    num: u32,
    name: &'static str,
    ty: Ty,
    repeated: bool,
    /// Oneof group (0: none).
    oneof: u8,
    show: Show,
}

/// A message type: its fields in declaration order.
#[derive(Debug)]
pub struct Schema {
    /// The message's `.proto` name.
    pub name: &'static str,
    fields: &'static [Field],
}

const fn sc(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        num,
        name,
        ty,
        repeated: false,
        oneof: 0,
        show: Show::NonZero,
    }
}
const fn always(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        show: Show::Always,
        ..sc(num, name, ty)
    }
}
const fn ifset(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        show: Show::IfSet,
        ..sc(num, name, ty)
    }
}
const fn msg(num: u32, name: &'static str, s: &'static Schema) -> Field {
    sc(num, name, Ty::Msg(s))
}
const fn rep(num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        repeated: true,
        show: Show::IfSet,
        ..sc(num, name, ty)
    }
}
const fn one(group: u8, num: u32, name: &'static str, ty: Ty) -> Field {
    Field {
        oneof: group,
        show: Show::IfSet,
        ..sc(num, name, ty)
    }
}

use Ty::{Bool, Bytes, Msg, I64, U64};

// The schemas mirror the `Visit` impls of crate::pb field by field (names, order, presence).

static REQUEST_HEADER: Schema = Schema {
    name: "RequestHeader",
    fields: &[
        sc(1, "ID", U64),
        sc(2, "username", Bytes),
        sc(3, "auth_revision", U64),
    ],
};
/// etcdserverpb.Request (v2).
pub static REQUEST: Schema = Schema {
    name: "Request",
    fields: &[
        always(1, "ID", U64),
        always(2, "Method", Bytes),
        always(3, "Path", Bytes),
        always(4, "Val", Bytes),
        always(5, "Dir", Bool),
        always(6, "PrevValue", Bytes),
        always(7, "PrevIndex", U64),
        ifset(8, "PrevExist", Bool),
        always(9, "Expiration", I64),
        always(10, "Wait", Bool),
        always(11, "Since", U64),
        always(12, "Recursive", Bool),
        always(13, "Sorted", Bool),
        always(14, "Quorum", Bool),
        always(15, "Time", I64),
        always(16, "Stream", Bool),
        ifset(17, "Refresh", Bool),
    ],
};
static RANGE: Schema = Schema {
    name: "RangeRequest",
    fields: &[
        sc(1, "key", Bytes),
        sc(2, "range_end", Bytes),
        sc(3, "limit", I64),
        sc(4, "revision", I64),
        sc(5, "sort_order", Ty::Enum(pb::SORT_ORDER)),
        sc(6, "sort_target", Ty::Enum(pb::SORT_TARGET)),
        sc(7, "serializable", Bool),
        sc(8, "keys_only", Bool),
        sc(9, "count_only", Bool),
        sc(10, "min_mod_revision", I64),
        sc(11, "max_mod_revision", I64),
        sc(12, "min_create_revision", I64),
        sc(13, "max_create_revision", I64),
    ],
};
static PUT: Schema = Schema {
    name: "PutRequest",
    fields: &[
        sc(1, "key", Bytes),
        sc(2, "value", Bytes),
        sc(3, "lease", I64),
        sc(4, "prev_kv", Bool),
        sc(5, "ignore_value", Bool),
        sc(6, "ignore_lease", Bool),
    ],
};
static DELETE_RANGE: Schema = Schema {
    name: "DeleteRangeRequest",
    fields: &[
        sc(1, "key", Bytes),
        sc(2, "range_end", Bytes),
        sc(3, "prev_kv", Bool),
    ],
};
static REQUEST_OP: Schema = Schema {
    name: "RequestOp",
    fields: &[
        one(1, 1, "request_range", Msg(&RANGE)),
        one(1, 2, "request_put", Msg(&PUT)),
        one(1, 3, "request_delete_range", Msg(&DELETE_RANGE)),
        one(1, 4, "request_txn", Msg(&TXN)),
    ],
};
static COMPARE: Schema = Schema {
    name: "Compare",
    fields: &[
        sc(1, "result", Ty::Enum(pb::COMPARE_RESULT)),
        sc(2, "target", Ty::Enum(pb::COMPARE_TARGET)),
        sc(3, "key", Bytes),
        one(1, 4, "version", I64),
        one(1, 5, "create_revision", I64),
        one(1, 6, "mod_revision", I64),
        one(1, 7, "value", Bytes),
        one(1, 8, "lease", I64),
        sc(64, "range_end", Bytes),
    ],
};
static TXN: Schema = Schema {
    name: "TxnRequest",
    fields: &[
        rep(1, "compare", Msg(&COMPARE)),
        rep(2, "success", Msg(&REQUEST_OP)),
        rep(3, "failure", Msg(&REQUEST_OP)),
    ],
};
static COMPACTION: Schema = Schema {
    name: "CompactionRequest",
    fields: &[sc(1, "revision", I64), sc(2, "physical", Bool)],
};
static LEASE_GRANT: Schema = Schema {
    name: "LeaseGrantRequest",
    fields: &[sc(1, "TTL", I64), sc(2, "ID", I64)],
};
static LEASE_REVOKE: Schema = Schema {
    name: "LeaseRevokeRequest",
    fields: &[sc(1, "ID", I64)],
};
static LEASE_CHECKPOINT: Schema = Schema {
    name: "LeaseCheckpoint",
    fields: &[sc(1, "ID", I64), sc(2, "remaining_TTL", I64)],
};
static LEASE_CHECKPOINT_REQUEST: Schema = Schema {
    name: "LeaseCheckpointRequest",
    fields: &[rep(1, "checkpoints", Msg(&LEASE_CHECKPOINT))],
};
static ALARM: Schema = Schema {
    name: "AlarmRequest",
    fields: &[
        sc(1, "action", Ty::Enum(pb::ALARM_ACTION)),
        sc(2, "memberID", U64),
        sc(3, "alarm", Ty::Enum(pb::ALARM_TYPE)),
    ],
};
static EMPTY: Schema = Schema {
    name: "Empty",
    fields: &[],
};
static AUTHENTICATE: Schema = Schema {
    name: "InternalAuthenticateRequest",
    fields: &[
        sc(1, "name", Bytes),
        sc(2, "password", Bytes),
        sc(3, "simple_token", Bytes),
    ],
};
static USER_ADD_OPTIONS: Schema = Schema {
    name: "UserAddOptions",
    fields: &[sc(1, "no_password", Bool)],
};
static USER_ADD: Schema = Schema {
    name: "AuthUserAddRequest",
    fields: &[
        sc(1, "name", Bytes),
        sc(2, "password", Bytes),
        msg(3, "options", &USER_ADD_OPTIONS),
        sc(4, "hashedPassword", Bytes),
    ],
};
static NAME: Schema = Schema {
    name: "NameRequest",
    fields: &[sc(1, "name", Bytes)],
};
static ROLE: Schema = Schema {
    name: "RoleRequest",
    fields: &[sc(1, "role", Bytes)],
};
static USER_CHANGE_PASSWORD: Schema = Schema {
    name: "AuthUserChangePasswordRequest",
    fields: &[
        sc(1, "name", Bytes),
        sc(2, "password", Bytes),
        sc(3, "hashedPassword", Bytes),
    ],
};
static USER_GRANT_ROLE: Schema = Schema {
    name: "AuthUserGrantRoleRequest",
    fields: &[sc(1, "user", Bytes), sc(2, "role", Bytes)],
};
static USER_REVOKE_ROLE: Schema = Schema {
    name: "AuthUserRevokeRoleRequest",
    fields: &[sc(1, "name", Bytes), sc(2, "role", Bytes)],
};
static PERMISSION: Schema = Schema {
    name: "Permission",
    fields: &[
        sc(1, "permType", Ty::Enum(pb::PERM_TYPE)),
        sc(2, "key", Bytes),
        sc(3, "range_end", Bytes),
    ],
};
static ROLE_GRANT_PERMISSION: Schema = Schema {
    name: "AuthRoleGrantPermissionRequest",
    fields: &[sc(1, "name", Bytes), msg(2, "perm", &PERMISSION)],
};
static ROLE_REVOKE_PERMISSION: Schema = Schema {
    name: "AuthRoleRevokePermissionRequest",
    fields: &[
        sc(1, "role", Bytes),
        sc(2, "key", Bytes),
        sc(3, "range_end", Bytes),
    ],
};
static VER: Schema = Schema {
    name: "ClusterVersionSetRequest",
    fields: &[sc(1, "ver", Bytes)],
};
static ATTRIBUTES: Schema = Schema {
    name: "Attributes",
    fields: &[sc(1, "name", Bytes), rep(2, "client_urls", Bytes)],
};
static MEMBER_ATTR_SET: Schema = Schema {
    name: "ClusterMemberAttrSetRequest",
    fields: &[
        sc(1, "member_ID", U64),
        msg(2, "member_attributes", &ATTRIBUTES),
    ],
};
static DOWNGRADE_INFO_SET: Schema = Schema {
    name: "DowngradeInfoSetRequest",
    fields: &[sc(1, "enabled", Bool), sc(2, "ver", Bytes)],
};
/// etcdserverpb.InternalRaftRequest.
pub static INTERNAL_RAFT_REQUEST: Schema = Schema {
    name: "InternalRaftRequest",
    fields: &[
        msg(100, "header", &REQUEST_HEADER),
        sc(1, "ID", U64),
        msg(2, "v2", &REQUEST),
        msg(3, "range", &RANGE),
        msg(4, "put", &PUT),
        msg(5, "delete_range", &DELETE_RANGE),
        msg(6, "txn", &TXN),
        msg(7, "compaction", &COMPACTION),
        msg(8, "lease_grant", &LEASE_GRANT),
        msg(9, "lease_revoke", &LEASE_REVOKE),
        msg(10, "alarm", &ALARM),
        msg(11, "lease_checkpoint", &LEASE_CHECKPOINT_REQUEST),
        msg(1000, "auth_enable", &EMPTY),
        msg(1011, "auth_disable", &EMPTY),
        msg(1013, "auth_status", &EMPTY),
        msg(1012, "authenticate", &AUTHENTICATE),
        msg(1100, "auth_user_add", &USER_ADD),
        msg(1101, "auth_user_delete", &NAME),
        msg(1102, "auth_user_get", &NAME),
        msg(1103, "auth_user_change_password", &USER_CHANGE_PASSWORD),
        msg(1104, "auth_user_grant_role", &USER_GRANT_ROLE),
        msg(1105, "auth_user_revoke_role", &USER_REVOKE_ROLE),
        msg(1106, "auth_user_list", &EMPTY),
        msg(1107, "auth_role_list", &EMPTY),
        msg(1200, "auth_role_add", &NAME),
        msg(1201, "auth_role_delete", &ROLE),
        msg(1202, "auth_role_get", &ROLE),
        msg(1203, "auth_role_grant_permission", &ROLE_GRANT_PERMISSION),
        msg(1204, "auth_role_revoke_permission", &ROLE_REVOKE_PERMISSION),
        msg(1300, "cluster_version_set", &VER),
        msg(1301, "cluster_member_attr_set", &MEMBER_ATTR_SET),
        msg(1302, "downgrade_info_set", &DOWNGRADE_INFO_SET),
        msg(9900, "downgrade_version_test", &VER),
    ],
};
/// raftpb.ConfChange (declared as gogo prints it: ID last).
pub static CONF_CHANGE: Schema = Schema {
    name: "ConfChange",
    fields: &[
        always(2, "Type", Ty::Enum(pb::CONF_CHANGE_TYPE)),
        always(3, "NodeID", U64),
        ifset(4, "Context", Bytes),
        always(1, "ID", U64),
    ],
};
static CONF_CHANGE_SINGLE: Schema = Schema {
    name: "ConfChangeSingle",
    fields: &[
        always(1, "Type", Ty::Enum(pb::CONF_CHANGE_TYPE)),
        always(2, "NodeID", U64),
    ],
};
/// raftpb.ConfChangeV2.
pub static CONF_CHANGE_V2: Schema = Schema {
    name: "ConfChangeV2",
    fields: &[
        always(1, "Transition", Ty::Enum(pb::CONF_CHANGE_TRANSITION)),
        rep(2, "Changes", Msg(&CONF_CHANGE_SINGLE)),
        ifset(3, "Context", Bytes),
    ],
};

impl Schema {
    #[inline]
    fn rank(&self, num: u32) -> Option<usize> {
        self.fields.iter().position(|f| f.num == num)
    }

    fn by_name(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Whether `data` decodes as this message under prost's rules (see the module docs).
    pub fn decodes(&'static self, data: &[u8]) -> bool {
        check(self, data, RECURSION_LIMIT, &mut Tally::default())
    }

    /// [`Schema::decodes`], also counting what the one pass sees on the way.
    pub(crate) fn decodes_tallying(&'static self, data: &[u8]) -> (bool, Tally) {
        let mut t = Tally::default();
        (check(self, data, RECURSION_LIMIT, &mut t), t)
    }
}

/// What one validating pass counts besides validity.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    /// Compares and ops of every TxnRequest inside (what
    /// [`crate::pb::txn_messages_over_limit`] counts, on a message that decodes).
    pub txn_ops: u64,
    /// Bit `i` set when the top-level message's `i`-th declared field occurs (the first 64).
    pub present: u64,
}

impl Schema {
    /// Bit `i` of a presence mask: the field declared `i`-th.
    fn bit(&self, name: &str) -> u64 {
        match self.fields.iter().position(|f| f.name == name) {
            Some(r) if r < 64 => 1 << r,
            _ => 0,
        }
    }

    /// Calls `f` with the names of the message fields whose bits are set in `present`, in
    /// declaration order.
    pub(crate) fn message_fields_in(&self, present: u64, mut f: impl FnMut(&'static str)) {
        // Only the set bits (usually two: header and the request), in rank order.
        let mut bits = present;
        while bits != 0 {
            let r = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if let Some(fd) = self.fields.get(r) {
                if matches!(fd.ty, Ty::Msg(_)) {
                    f(fd.name);
                }
            }
        }
    }

    /// Whether field `name` has its bit set in `present`.
    pub(crate) fn has_in(&self, present: u64, name: &str) -> bool {
        present & self.bit(name) != 0
    }
}

/// A varint as prost reads it: at most 10 bytes, the tenth below 2, which is the shared
/// scanner's [`Policy::STRICT`](crate::wire::Policy::STRICT) rule.
#[inline]
fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    crate::wire::read_varint_with(buf, pos, crate::wire::Policy::STRICT).ok()
}

/// A field key as prost's `decode_key` reads it: (field number, wire type).
#[inline]
fn key(buf: &[u8], pos: &mut usize) -> Option<(u32, u8)> {
    let k = varint(buf, pos)?;
    if k > u64::from(u32::MAX) {
        return None;
    }
    let wt = (k & 7) as u8;
    let num = (k as u32) >> 3;
    (wt <= 5 && num >= 1).then_some((num, wt))
}

/// One raw field value.
#[derive(Debug, Clone, Copy)]
enum Raw<'a> {
    Varint(u64),
    Len(&'a [u8]),
    /// Fixed-size or group: never the wire type of a known field here.
    Other,
}

/// Reads the value of a field with wire type `wt` (for skipping unknown fields too),
/// `budget` being the enclosing message's recursion budget (prost `skip_field`).
fn value<'a>(buf: &'a [u8], pos: &mut usize, num: u32, wt: u8, budget: u32) -> Option<Raw<'a>> {
    match wt {
        0 => varint(buf, pos).map(Raw::Varint),
        2 => {
            let len = varint(buf, pos)?;
            let len = usize::try_from(len).ok()?;
            let end = pos.checked_add(len)?;
            let b = buf.get(*pos..end)?;
            *pos = end;
            Some(Raw::Len(b))
        }
        1 | 5 => {
            let n = if wt == 1 { 8 } else { 4 };
            let end = pos.checked_add(n)?;
            buf.get(*pos..end)?;
            *pos = end;
            Some(Raw::Other)
        }
        3 => {
            // A group: fields up to the end tag of the same number, each skipped one level
            // deeper (prost checks the budget before every skipped field).
            loop {
                let (inner, iwt) = key(buf, pos)?;
                if iwt == 4 {
                    return (inner == num).then_some(Raw::Other);
                }
                if budget <= 1 {
                    return None;
                }
                value(buf, pos, inner, iwt, budget - 1)?;
            }
        }
        _ => None,
    }
}

/// Whether `buf` decodes as `s` with `budget` levels of nesting left (prost's context);
/// counts the fields of TxnRequests (compares and ops) and, at the top level
/// (`budget == RECURSION_LIMIT`), which declared fields occur.
fn check(s: &'static Schema, buf: &[u8], budget: u32, tally: &mut Tally) -> bool {
    let txn = std::ptr::eq(s, &TXN);
    let top = budget == RECURSION_LIMIT;
    let mut pos = 0;
    while pos < buf.len() {
        let Some((num, wt)) = key(buf, &mut pos) else {
            return false;
        };
        let rank = s.rank(num);
        match rank.map(|r| &s.fields[r]) {
            None => {
                // prost `skip_field` checks the limit first, even for a varint.
                if budget == 0 || value(buf, &mut pos, num, wt, budget).is_none() {
                    return false;
                }
            }
            Some(f) => {
                if top {
                    if let Some(r) = rank.filter(|&r| r < 64) {
                        tally.present |= 1 << r;
                    }
                }
                let want = match f.ty {
                    Ty::Bytes | Ty::Msg(_) => 2,
                    _ => 0,
                };
                if wt != want {
                    return false;
                }
                if txn {
                    tally.txn_ops += 1;
                }
                match value(buf, &mut pos, num, wt, budget) {
                    Some(Raw::Len(b)) => {
                        if let Ty::Msg(m) = f.ty {
                            if budget == 0 || !check(m, b, budget - 1, tally) {
                                return false;
                            }
                        }
                    }
                    Some(_) => {}
                    None => return false,
                }
            }
        }
    }
    true
}

/// Iterates (field number, value) over the concatenation of `pieces`; stops at the first
/// field that does not read (never after a successful [`Schema::decodes`]).
fn fields<'a, 'p>(pieces: &'p [&'a [u8]]) -> impl Iterator<Item = (u32, Raw<'a>)> + 'p {
    pieces.iter().flat_map(|&buf| {
        let mut pos = 0usize;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let (num, wt) = key(buf, &mut pos)?;
            let v = value(buf, &mut pos, num, wt, RECURSION_LIMIT)?;
            Some((num, v))
        })
    })
}

/// A message read in place: its bytes (several pieces when a non-repeated message field
/// occurs more than once: they merge) and its schema.
#[derive(Debug, Clone, Copy)]
pub struct MessageView<'a, 'p> {
    schema: &'static Schema,
    pieces: &'p [&'a [u8]],
}

impl<'a, 'p> MessageView<'a, 'p> {
    /// The message `schema` in `pieces` (one slice, or several that merge). The caller has
    /// checked that each decodes ([`Schema::decodes`]); bytes that do not are read as far as
    /// they go.
    pub fn new(schema: &'static Schema, pieces: &'p [&'a [u8]]) -> Self {
        MessageView { schema, pieces }
    }

    /// The schema.
    pub fn schema(&self) -> &'static Schema {
        self.schema
    }

    /// The last value of the varint field `name` (0 when absent or not a varint field).
    pub fn varint(&self, name: &str) -> u64 {
        let Some(f) = self.schema.by_name(name) else {
            return 0;
        };
        let mut out = 0;
        for (n, v) in fields(self.pieces) {
            if let (true, Raw::Varint(x)) = (n == f.num, v) {
                out = x;
            }
        }
        out
    }

    /// The last value of the bytes field `name` (empty when absent).
    pub fn bytes(&self, name: &str) -> &'a [u8] {
        let Some(f) = self.schema.by_name(name) else {
            return &[];
        };
        let mut out: &'a [u8] = &[];
        for (n, v) in fields(self.pieces) {
            if let (true, Raw::Len(b)) = (n == f.num, v) {
                out = b;
            }
        }
        out
    }

    /// Bit `i` set when the field declared `i`-th occurs (fields past the 64th never set).
    fn present(&self) -> u64 {
        let mut mask = 0u64;
        for (n, _) in fields(self.pieces) {
            if let Some(r) = self.schema.rank(n) {
                if r < 64 {
                    mask |= 1 << r;
                }
            }
        }
        mask
    }

    /// Whether field `name` occurs at all.
    pub fn has(&self, name: &str) -> bool {
        self.schema
            .fields
            .iter()
            .position(|f| f.name == name)
            .is_some_and(|r| r < 64 && self.present() & (1 << r) != 0)
    }

    /// Calls `f` with the name of every message field that occurs, in declaration order
    /// (for an InternalRaftRequest: the request names, `header` included).
    pub fn message_fields(&self, mut f: impl FnMut(&'static str)) {
        let mask = self.present();
        for (r, fd) in self.schema.fields.iter().enumerate().take(64) {
            if matches!(fd.ty, Ty::Msg(_)) && mask & (1 << r) != 0 {
                f(fd.name);
            }
        }
    }

    /// Whether the fields occur in declaration order with no non-repeated field twice and
    /// at most one member of each oneof: then one pass in wire order visits them right.
    fn in_order(&self) -> bool {
        let mut last: Option<usize> = None;
        let mut oneofs = 0u32;
        for (n, _) in fields(self.pieces) {
            let Some(r) = self.schema.rank(n) else {
                continue;
            };
            let f = &self.schema.fields[r];
            match last {
                Some(l) if r < l => return false,
                Some(l) if r == l && !f.repeated => return false,
                _ => {}
            }
            if f.oneof != 0 {
                let bit = 1u32 << (f.oneof & 31);
                if oneofs & bit != 0 {
                    return false;
                }
                oneofs |= bit;
            }
            last = Some(r);
        }
        true
    }
}

fn scalar_of(ty: Ty, raw: Option<Raw<'_>>) -> Option<Scalar<'_>> {
    Some(match (ty, raw) {
        (U64, Some(Raw::Varint(x))) => Scalar::U64(x),
        (U64, None) => Scalar::U64(0),
        (I64, Some(Raw::Varint(x))) => Scalar::I64(x as i64),
        (I64, None) => Scalar::I64(0),
        (Ty::Enum(names), r) => {
            let x = match r {
                Some(Raw::Varint(x)) => x as i32,
                _ => 0,
            };
            Scalar::Enum(x, enum_name(names, x))
        }
        (Bool, Some(Raw::Varint(x))) => Scalar::Bool(x != 0),
        (Bool, None) => Scalar::Bool(false),
        (Bytes, Some(Raw::Len(b))) => Scalar::Bytes(b),
        (Bytes, None) => Scalar::Bytes(&[]),
        _ => return None,
    })
}

fn is_zero(s: &Scalar<'_>) -> bool {
    match *s {
        Scalar::U64(x) => x == 0,
        Scalar::I64(x) => x == 0,
        Scalar::Bool(x) => !x,
        Scalar::Bytes(b) => b.is_empty(),
        Scalar::Enum(x, _) => x == 0,
    }
}

/// Hands one occurrence (or, for `Always` fields, the absence) of `f` to `v`.
fn emit(f: &'static Field, raw: Option<Raw<'_>>, v: &mut dyn Visitor) {
    if let Ty::Msg(s) = f.ty {
        if let Some(Raw::Len(b)) = raw {
            v.message(f.name, &MessageView::new(s, std::slice::from_ref(&b)));
        }
        return;
    }
    let Some(x) = scalar_of(f.ty, raw) else {
        return;
    };
    let shown = match f.show {
        Show::NonZero => raw.is_some() && !is_zero(&x),
        Show::Always => true,
        Show::IfSet => raw.is_some(),
    };
    if shown {
        v.scalar(f.name, x);
    }
}

impl Visit for MessageView<'_, '_> {
    fn visit(&self, v: &mut dyn Visitor) {
        let decl = self.schema.fields;
        if self.in_order() {
            // One pass: wire order is declaration order; `Always` fields that are absent
            // get their default where they are declared.
            let mut next = 0usize;
            for (n, raw) in fields(self.pieces) {
                let Some(r) = self.schema.rank(n) else {
                    continue;
                };
                for f in decl.iter().take(r).skip(next) {
                    if f.show == Show::Always {
                        emit(f, None, v);
                    }
                }
                emit(&decl[r], Some(raw), v);
                next = r + 1;
            }
            for f in decl.iter().skip(next) {
                if f.show == Show::Always {
                    emit(f, None, v);
                }
            }
            return;
        }
        // Fields out of order, repeated or merged: one pass over the message per field.
        let mut done_oneofs = 0u32;
        for f in decl {
            if f.oneof != 0 {
                let bit = 1u32 << (f.oneof & 31);
                if done_oneofs & bit != 0 {
                    continue;
                }
                done_oneofs |= bit;
                self.visit_oneof(f.oneof, v);
                continue;
            }
            if f.repeated {
                for (n, raw) in fields(self.pieces) {
                    if n == f.num {
                        emit(f, Some(raw), v);
                    }
                }
                continue;
            }
            if let Ty::Msg(s) = f.ty {
                let parts: Vec<&[u8]> = fields(self.pieces)
                    .filter(|(n, _)| *n == f.num)
                    .filter_map(|(_, r)| match r {
                        Raw::Len(b) => Some(b),
                        _ => None,
                    })
                    .collect();
                if !parts.is_empty() {
                    v.message(f.name, &MessageView::new(s, &parts));
                }
                continue;
            }
            let last = fields(self.pieces)
                .filter(|(n, _)| *n == f.num)
                .map(|(_, r)| r)
                .last();
            emit(f, last, v);
        }
    }
}

impl MessageView<'_, '_> {
    /// Visits oneof `group`: its last member on the wire, merged (a message) with that
    /// member's occurrences since another member last replaced it.
    fn visit_oneof(&self, group: u8, v: &mut dyn Visitor) {
        let member = |n: u32| {
            self.schema
                .rank(n)
                .map(|r| &self.schema.fields[r])
                .filter(|f| f.oneof == group)
        };
        let mut winner: Option<&'static Field> = None;
        for (n, _) in fields(self.pieces) {
            if let Some(f) = member(n) {
                winner = Some(f);
            }
        }
        let Some(w) = winner else {
            return;
        };
        match w.ty {
            Ty::Msg(s) => {
                let mut parts: Vec<&[u8]> = Vec::new();
                for (n, raw) in fields(self.pieces) {
                    match member(n) {
                        Some(f) if f.num == w.num => {
                            if let Raw::Len(b) = raw {
                                parts.push(b);
                            }
                        }
                        Some(_) => parts.clear(),
                        None => {}
                    }
                }
                v.message(w.name, &MessageView::new(s, &parts));
            }
            _ => {
                let last = fields(self.pieces)
                    .filter(|(n, _)| *n == w.num)
                    .map(|(_, r)| r)
                    .last();
                emit(w, last, v);
            }
        }
    }
}
