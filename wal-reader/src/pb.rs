//! etcd's request messages as hand-written prost structs, plus a field visitor.
//!
//! Field numbers and names follow etcd's `.proto` files (`etcdserverpb/raft_internal.proto`,
//! `rpc.proto`, `etcdserver.proto`, `authpb/auth.proto`, `membershippb/membership.proto`,
//! `raftpb/raft.proto`). Proto `string` fields are declared as bytes: gogo does not check
//! UTF-8 when etcd decodes, so neither do we. Enums are plain `i32` with name tables.
//!
//! [`Visit`] walks a message's set fields in the `.proto` declaration order (the order Go's
//! text format prints them in), so text and JSON printers need no per-message code.

#![allow(missing_docs)] // field docs would repeat the .proto names; see etcd's files

use prost::Message;

/// A scalar field value handed to a [`Visitor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scalar<'a> {
    /// uint64 / uint32.
    U64(u64),
    /// int64 / int32.
    I64(i64),
    /// bool.
    Bool(bool),
    /// bytes or string.
    Bytes(&'a [u8]),
    /// An enum value and its name when known.
    Enum(i32, Option<&'static str>),
}

/// Receives the fields of a message.
pub trait Visitor {
    /// A scalar field.
    fn scalar(&mut self, name: &'static str, value: Scalar<'_>);
    /// A nested message field (`m.visit(self)` to descend).
    fn message(&mut self, name: &'static str, m: &dyn Visit);
}

/// A message whose present fields can be visited in declaration order.
pub trait Visit {
    /// Calls `v` for every present field. proto3 scalars at their zero value are absent;
    /// oneof members and proto2 required-style fields are always present.
    fn visit(&self, v: &mut dyn Visitor);
}

fn u(v: &mut dyn Visitor, n: &'static str, x: u64) {
    if x != 0 {
        v.scalar(n, Scalar::U64(x));
    }
}
fn i(v: &mut dyn Visitor, n: &'static str, x: i64) {
    if x != 0 {
        v.scalar(n, Scalar::I64(x));
    }
}
fn b(v: &mut dyn Visitor, n: &'static str, x: bool) {
    if x {
        v.scalar(n, Scalar::Bool(x));
    }
}
fn by(v: &mut dyn Visitor, n: &'static str, x: &[u8]) {
    if !x.is_empty() {
        v.scalar(n, Scalar::Bytes(x));
    }
}
fn en(v: &mut dyn Visitor, n: &'static str, x: i32, names: &[&'static str]) {
    if x != 0 {
        v.scalar(n, Scalar::Enum(x, enum_name(names, x)));
    }
}
fn m<T: Visit>(v: &mut dyn Visitor, n: &'static str, x: &Option<T>) {
    if let Some(x) = x {
        v.message(n, x);
    }
}
fn rep<T: Visit>(v: &mut dyn Visitor, n: &'static str, xs: &[T]) {
    for x in xs {
        v.message(n, x);
    }
}

/// Name of enum value `x` in a dense table starting at 0.
pub fn enum_name(names: &[&'static str], x: i32) -> Option<&'static str> {
    usize::try_from(x).ok().and_then(|i| names.get(i).copied())
}

/// RangeRequest.SortOrder names.
pub const SORT_ORDER: &[&str] = &["NONE", "ASCEND", "DESCEND"];
/// RangeRequest.SortTarget names.
pub const SORT_TARGET: &[&str] = &["KEY", "VERSION", "CREATE", "MOD", "VALUE"];
/// Compare.CompareResult names.
pub const COMPARE_RESULT: &[&str] = &["EQUAL", "GREATER", "LESS", "NOT_EQUAL"];
/// Compare.CompareTarget names.
pub const COMPARE_TARGET: &[&str] = &["VERSION", "CREATE", "MOD", "VALUE", "LEASE"];
/// AlarmRequest.AlarmAction names.
pub const ALARM_ACTION: &[&str] = &["GET", "ACTIVATE", "DEACTIVATE"];
/// AlarmType names.
pub const ALARM_TYPE: &[&str] = &["NONE", "NOSPACE", "CORRUPT"];
/// authpb.Permission.Type names.
pub const PERM_TYPE: &[&str] = &["READ", "WRITE", "READWRITE"];
/// raftpb.ConfChangeType names.
pub const CONF_CHANGE_TYPE: &[&str] = &[
    "ConfChangeAddNode",
    "ConfChangeRemoveNode",
    "ConfChangeUpdateNode",
    "ConfChangeAddLearnerNode",
];
/// raftpb.ConfChangeTransition names.
pub const CONF_CHANGE_TRANSITION: &[&str] = &[
    "ConfChangeTransitionAuto",
    "ConfChangeTransitionJointImplicit",
    "ConfChangeTransitionJointExplicit",
];

#[derive(Clone, PartialEq, Message)]
pub struct RequestHeader {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub username: Vec<u8>,
    #[prost(uint64, tag = "3")]
    pub auth_revision: u64,
}
impl Visit for RequestHeader {
    fn visit(&self, v: &mut dyn Visitor) {
        u(v, "ID", self.id);
        by(v, "username", &self.username);
        u(v, "auth_revision", self.auth_revision);
    }
}

/// etcdserverpb.Request: the v2 API request etcd 3.4 still writes (cluster version,
/// member attributes) as a bare entry.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(bytes = "vec", tag = "2")]
    pub method: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub path: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    pub val: Vec<u8>,
    #[prost(bool, tag = "5")]
    pub dir: bool,
    #[prost(bytes = "vec", tag = "6")]
    pub prev_value: Vec<u8>,
    #[prost(uint64, tag = "7")]
    pub prev_index: u64,
    #[prost(bool, optional, tag = "8")]
    pub prev_exist: Option<bool>,
    #[prost(int64, tag = "9")]
    pub expiration: i64,
    #[prost(bool, tag = "10")]
    pub wait: bool,
    #[prost(uint64, tag = "11")]
    pub since: u64,
    #[prost(bool, tag = "12")]
    pub recursive: bool,
    #[prost(bool, tag = "13")]
    pub sorted: bool,
    #[prost(bool, tag = "14")]
    pub quorum: bool,
    #[prost(int64, tag = "15")]
    pub time: i64,
    #[prost(bool, tag = "16")]
    pub stream: bool,
    #[prost(bool, optional, tag = "17")]
    pub refresh: Option<bool>,
}
impl Visit for Request {
    // proto2 with non-nullable fields: Go prints every field, zero or not.
    fn visit(&self, v: &mut dyn Visitor) {
        v.scalar("ID", Scalar::U64(self.id));
        v.scalar("Method", Scalar::Bytes(&self.method));
        v.scalar("Path", Scalar::Bytes(&self.path));
        v.scalar("Val", Scalar::Bytes(&self.val));
        v.scalar("Dir", Scalar::Bool(self.dir));
        v.scalar("PrevValue", Scalar::Bytes(&self.prev_value));
        v.scalar("PrevIndex", Scalar::U64(self.prev_index));
        if let Some(x) = self.prev_exist {
            v.scalar("PrevExist", Scalar::Bool(x));
        }
        v.scalar("Expiration", Scalar::I64(self.expiration));
        v.scalar("Wait", Scalar::Bool(self.wait));
        v.scalar("Since", Scalar::U64(self.since));
        v.scalar("Recursive", Scalar::Bool(self.recursive));
        v.scalar("Sorted", Scalar::Bool(self.sorted));
        v.scalar("Quorum", Scalar::Bool(self.quorum));
        v.scalar("Time", Scalar::I64(self.time));
        v.scalar("Stream", Scalar::Bool(self.stream));
        if let Some(x) = self.refresh {
            v.scalar("Refresh", Scalar::Bool(x));
        }
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct RangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub limit: i64,
    #[prost(int64, tag = "4")]
    pub revision: i64,
    #[prost(int32, tag = "5")]
    pub sort_order: i32,
    #[prost(int32, tag = "6")]
    pub sort_target: i32,
    #[prost(bool, tag = "7")]
    pub serializable: bool,
    #[prost(bool, tag = "8")]
    pub keys_only: bool,
    #[prost(bool, tag = "9")]
    pub count_only: bool,
    #[prost(int64, tag = "10")]
    pub min_mod_revision: i64,
    #[prost(int64, tag = "11")]
    pub max_mod_revision: i64,
    #[prost(int64, tag = "12")]
    pub min_create_revision: i64,
    #[prost(int64, tag = "13")]
    pub max_create_revision: i64,
}
impl Visit for RangeRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "key", &self.key);
        by(v, "range_end", &self.range_end);
        i(v, "limit", self.limit);
        i(v, "revision", self.revision);
        en(v, "sort_order", self.sort_order, SORT_ORDER);
        en(v, "sort_target", self.sort_target, SORT_TARGET);
        b(v, "serializable", self.serializable);
        b(v, "keys_only", self.keys_only);
        b(v, "count_only", self.count_only);
        i(v, "min_mod_revision", self.min_mod_revision);
        i(v, "max_mod_revision", self.max_mod_revision);
        i(v, "min_create_revision", self.min_create_revision);
        i(v, "max_create_revision", self.max_create_revision);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct PutRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
    #[prost(int64, tag = "3")]
    pub lease: i64,
    #[prost(bool, tag = "4")]
    pub prev_kv: bool,
    #[prost(bool, tag = "5")]
    pub ignore_value: bool,
    #[prost(bool, tag = "6")]
    pub ignore_lease: bool,
}
impl Visit for PutRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "key", &self.key);
        by(v, "value", &self.value);
        i(v, "lease", self.lease);
        b(v, "prev_kv", self.prev_kv);
        b(v, "ignore_value", self.ignore_value);
        b(v, "ignore_lease", self.ignore_lease);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct DeleteRangeRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub range_end: Vec<u8>,
    #[prost(bool, tag = "3")]
    pub prev_kv: bool,
}
impl Visit for DeleteRangeRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "key", &self.key);
        by(v, "range_end", &self.range_end);
        b(v, "prev_kv", self.prev_kv);
    }
}

/// The request inside a RequestOp (a oneof).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum RequestOpKind {
    #[prost(message, tag = "1")]
    RequestRange(RangeRequest),
    #[prost(message, tag = "2")]
    RequestPut(PutRequest),
    #[prost(message, tag = "3")]
    RequestDeleteRange(DeleteRangeRequest),
    #[prost(message, tag = "4")]
    RequestTxn(TxnRequest),
}

#[derive(Clone, PartialEq, Message)]
pub struct RequestOp {
    #[prost(oneof = "RequestOpKind", tags = "1, 2, 3, 4")]
    pub request: Option<RequestOpKind>,
}
impl Visit for RequestOp {
    fn visit(&self, v: &mut dyn Visitor) {
        match &self.request {
            Some(RequestOpKind::RequestRange(r)) => v.message("request_range", r),
            Some(RequestOpKind::RequestPut(r)) => v.message("request_put", r),
            Some(RequestOpKind::RequestDeleteRange(r)) => v.message("request_delete_range", r),
            Some(RequestOpKind::RequestTxn(r)) => v.message("request_txn", r),
            None => {}
        }
    }
}

/// Compare.target_union (a oneof).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum CompareTargetUnion {
    #[prost(int64, tag = "4")]
    Version(i64),
    #[prost(int64, tag = "5")]
    CreateRevision(i64),
    #[prost(int64, tag = "6")]
    ModRevision(i64),
    #[prost(bytes = "vec", tag = "7")]
    Value(Vec<u8>),
    #[prost(int64, tag = "8")]
    Lease(i64),
}

#[derive(Clone, PartialEq, Message)]
pub struct Compare {
    #[prost(int32, tag = "1")]
    pub result: i32,
    #[prost(int32, tag = "2")]
    pub target: i32,
    #[prost(bytes = "vec", tag = "3")]
    pub key: Vec<u8>,
    #[prost(oneof = "CompareTargetUnion", tags = "4, 5, 6, 7, 8")]
    pub target_union: Option<CompareTargetUnion>,
    #[prost(bytes = "vec", tag = "64")]
    pub range_end: Vec<u8>,
}
impl Visit for Compare {
    fn visit(&self, v: &mut dyn Visitor) {
        en(v, "result", self.result, COMPARE_RESULT);
        en(v, "target", self.target, COMPARE_TARGET);
        by(v, "key", &self.key);
        match &self.target_union {
            Some(CompareTargetUnion::Version(x)) => v.scalar("version", Scalar::I64(*x)),
            Some(CompareTargetUnion::CreateRevision(x)) => {
                v.scalar("create_revision", Scalar::I64(*x))
            }
            Some(CompareTargetUnion::ModRevision(x)) => v.scalar("mod_revision", Scalar::I64(*x)),
            Some(CompareTargetUnion::Value(x)) => v.scalar("value", Scalar::Bytes(x)),
            Some(CompareTargetUnion::Lease(x)) => v.scalar("lease", Scalar::I64(*x)),
            None => {}
        }
        by(v, "range_end", &self.range_end);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct TxnRequest {
    #[prost(message, repeated, tag = "1")]
    pub compare: Vec<Compare>,
    #[prost(message, repeated, tag = "2")]
    pub success: Vec<RequestOp>,
    #[prost(message, repeated, tag = "3")]
    pub failure: Vec<RequestOp>,
}
impl Visit for TxnRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        rep(v, "compare", &self.compare);
        rep(v, "success", &self.success);
        rep(v, "failure", &self.failure);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct CompactionRequest {
    #[prost(int64, tag = "1")]
    pub revision: i64,
    #[prost(bool, tag = "2")]
    pub physical: bool,
}
impl Visit for CompactionRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        i(v, "revision", self.revision);
        b(v, "physical", self.physical);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseGrantRequest {
    #[prost(int64, tag = "1")]
    pub ttl: i64,
    #[prost(int64, tag = "2")]
    pub id: i64,
}
impl Visit for LeaseGrantRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        i(v, "TTL", self.ttl);
        i(v, "ID", self.id);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseRevokeRequest {
    #[prost(int64, tag = "1")]
    pub id: i64,
}
impl Visit for LeaseRevokeRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        i(v, "ID", self.id);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseCheckpoint {
    #[prost(int64, tag = "1")]
    pub id: i64,
    #[prost(int64, tag = "2")]
    pub remaining_ttl: i64,
}
impl Visit for LeaseCheckpoint {
    fn visit(&self, v: &mut dyn Visitor) {
        i(v, "ID", self.id);
        i(v, "remaining_TTL", self.remaining_ttl);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct LeaseCheckpointRequest {
    #[prost(message, repeated, tag = "1")]
    pub checkpoints: Vec<LeaseCheckpoint>,
}
impl Visit for LeaseCheckpointRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        rep(v, "checkpoints", &self.checkpoints);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AlarmRequest {
    #[prost(int32, tag = "1")]
    pub action: i32,
    #[prost(uint64, tag = "2")]
    pub member_id: u64,
    #[prost(int32, tag = "3")]
    pub alarm: i32,
}
impl Visit for AlarmRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        en(v, "action", self.action, ALARM_ACTION);
        u(v, "memberID", self.member_id);
        en(v, "alarm", self.alarm, ALARM_TYPE);
    }
}

/// A message without fields (AuthEnableRequest, AuthDisableRequest, AuthStatusRequest,
/// AuthUserListRequest, AuthRoleListRequest).
#[derive(Clone, PartialEq, Message)]
pub struct Empty {}
impl Visit for Empty {
    fn visit(&self, _v: &mut dyn Visitor) {}
}

#[derive(Clone, PartialEq, Message)]
pub struct InternalAuthenticateRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub password: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub simple_token: Vec<u8>,
}
impl Visit for InternalAuthenticateRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        by(v, "password", &self.password);
        by(v, "simple_token", &self.simple_token);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct UserAddOptions {
    #[prost(bool, tag = "1")]
    pub no_password: bool,
}
impl Visit for UserAddOptions {
    fn visit(&self, v: &mut dyn Visitor) {
        b(v, "no_password", self.no_password);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthUserAddRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub password: Vec<u8>,
    #[prost(message, optional, tag = "3")]
    pub options: Option<UserAddOptions>,
    #[prost(bytes = "vec", tag = "4")]
    pub hashed_password: Vec<u8>,
}
impl Visit for AuthUserAddRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        by(v, "password", &self.password);
        m(v, "options", &self.options);
        by(v, "hashedPassword", &self.hashed_password);
    }
}

/// A message with one string field `name` at 1 (AuthUserGetRequest, AuthUserDeleteRequest,
/// AuthRoleAddRequest).
#[derive(Clone, PartialEq, Message)]
pub struct NameRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
}
impl Visit for NameRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
    }
}

/// A message with one string field `role` at 1 (AuthRoleGetRequest, AuthRoleDeleteRequest).
#[derive(Clone, PartialEq, Message)]
pub struct RoleRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub role: Vec<u8>,
}
impl Visit for RoleRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "role", &self.role);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthUserChangePasswordRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub password: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub hashed_password: Vec<u8>,
}
impl Visit for AuthUserChangePasswordRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        by(v, "password", &self.password);
        by(v, "hashedPassword", &self.hashed_password);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthUserGrantRoleRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub user: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub role: Vec<u8>,
}
impl Visit for AuthUserGrantRoleRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "user", &self.user);
        by(v, "role", &self.role);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthUserRevokeRoleRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub role: Vec<u8>,
}
impl Visit for AuthUserRevokeRoleRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        by(v, "role", &self.role);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct Permission {
    #[prost(int32, tag = "1")]
    pub perm_type: i32,
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub range_end: Vec<u8>,
}
impl Visit for Permission {
    fn visit(&self, v: &mut dyn Visitor) {
        en(v, "permType", self.perm_type, PERM_TYPE);
        by(v, "key", &self.key);
        by(v, "range_end", &self.range_end);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthRoleGrantPermissionRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub perm: Option<Permission>,
}
impl Visit for AuthRoleGrantPermissionRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        m(v, "perm", &self.perm);
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct AuthRoleRevokePermissionRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub role: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub key: Vec<u8>,
    #[prost(bytes = "vec", tag = "3")]
    pub range_end: Vec<u8>,
}
impl Visit for AuthRoleRevokePermissionRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "role", &self.role);
        by(v, "key", &self.key);
        by(v, "range_end", &self.range_end);
    }
}

/// membershippb.ClusterVersionSetRequest (etcd 3.5+).
#[derive(Clone, PartialEq, Message)]
pub struct ClusterVersionSetRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub ver: Vec<u8>,
}
impl Visit for ClusterVersionSetRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "ver", &self.ver);
    }
}

/// membershippb.Attributes.
#[derive(Clone, PartialEq, Message)]
pub struct Attributes {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub client_urls: Vec<Vec<u8>>,
}
impl Visit for Attributes {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "name", &self.name);
        for u in &self.client_urls {
            v.scalar("client_urls", Scalar::Bytes(u));
        }
    }
}

/// membershippb.ClusterMemberAttrSetRequest (etcd 3.5+).
#[derive(Clone, PartialEq, Message)]
pub struct ClusterMemberAttrSetRequest {
    #[prost(uint64, tag = "1")]
    pub member_id: u64,
    #[prost(message, optional, tag = "2")]
    pub member_attributes: Option<Attributes>,
}
impl Visit for ClusterMemberAttrSetRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        u(v, "member_ID", self.member_id);
        m(v, "member_attributes", &self.member_attributes);
    }
}

/// membershippb.DowngradeInfoSetRequest (etcd 3.5+).
#[derive(Clone, PartialEq, Message)]
pub struct DowngradeInfoSetRequest {
    #[prost(bool, tag = "1")]
    pub enabled: bool,
    #[prost(bytes = "vec", tag = "2")]
    pub ver: Vec<u8>,
}
impl Visit for DowngradeInfoSetRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        b(v, "enabled", self.enabled);
        by(v, "ver", &self.ver);
    }
}

/// etcdserverpb.DowngradeVersionTestRequest (etcd 3.6+, field 9900 of
/// InternalRaftRequest): a request only etcd's downgrade tests send.
#[derive(Clone, PartialEq, Message)]
pub struct DowngradeVersionTestRequest {
    #[prost(bytes = "vec", tag = "1")]
    pub ver: Vec<u8>,
}
impl Visit for DowngradeVersionTestRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        by(v, "ver", &self.ver);
    }
}

/// etcdserverpb.InternalRaftRequest: the data of a normal entry written by the v3 API.
#[derive(Clone, PartialEq, Message)]
pub struct InternalRaftRequest {
    #[prost(message, optional, tag = "100")]
    pub header: Option<RequestHeader>,
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(message, optional, tag = "2")]
    pub v2: Option<Request>,
    #[prost(message, optional, tag = "3")]
    pub range: Option<RangeRequest>,
    #[prost(message, optional, tag = "4")]
    pub put: Option<PutRequest>,
    #[prost(message, optional, tag = "5")]
    pub delete_range: Option<DeleteRangeRequest>,
    #[prost(message, optional, tag = "6")]
    pub txn: Option<TxnRequest>,
    #[prost(message, optional, tag = "7")]
    pub compaction: Option<CompactionRequest>,
    #[prost(message, optional, tag = "8")]
    pub lease_grant: Option<LeaseGrantRequest>,
    #[prost(message, optional, tag = "9")]
    pub lease_revoke: Option<LeaseRevokeRequest>,
    #[prost(message, optional, tag = "10")]
    pub alarm: Option<AlarmRequest>,
    #[prost(message, optional, tag = "11")]
    pub lease_checkpoint: Option<LeaseCheckpointRequest>,
    #[prost(message, optional, tag = "1000")]
    pub auth_enable: Option<Empty>,
    #[prost(message, optional, tag = "1011")]
    pub auth_disable: Option<Empty>,
    #[prost(message, optional, tag = "1013")]
    pub auth_status: Option<Empty>,
    #[prost(message, optional, tag = "1012")]
    pub authenticate: Option<InternalAuthenticateRequest>,
    #[prost(message, optional, tag = "1100")]
    pub auth_user_add: Option<AuthUserAddRequest>,
    #[prost(message, optional, tag = "1101")]
    pub auth_user_delete: Option<NameRequest>,
    #[prost(message, optional, tag = "1102")]
    pub auth_user_get: Option<NameRequest>,
    #[prost(message, optional, tag = "1103")]
    pub auth_user_change_password: Option<AuthUserChangePasswordRequest>,
    #[prost(message, optional, tag = "1104")]
    pub auth_user_grant_role: Option<AuthUserGrantRoleRequest>,
    #[prost(message, optional, tag = "1105")]
    pub auth_user_revoke_role: Option<AuthUserRevokeRoleRequest>,
    #[prost(message, optional, tag = "1106")]
    pub auth_user_list: Option<Empty>,
    #[prost(message, optional, tag = "1107")]
    pub auth_role_list: Option<Empty>,
    #[prost(message, optional, tag = "1200")]
    pub auth_role_add: Option<NameRequest>,
    #[prost(message, optional, tag = "1201")]
    pub auth_role_delete: Option<RoleRequest>,
    #[prost(message, optional, tag = "1202")]
    pub auth_role_get: Option<RoleRequest>,
    #[prost(message, optional, tag = "1203")]
    pub auth_role_grant_permission: Option<AuthRoleGrantPermissionRequest>,
    #[prost(message, optional, tag = "1204")]
    pub auth_role_revoke_permission: Option<AuthRoleRevokePermissionRequest>,
    #[prost(message, optional, tag = "1300")]
    pub cluster_version_set: Option<ClusterVersionSetRequest>,
    #[prost(message, optional, tag = "1301")]
    pub cluster_member_attr_set: Option<ClusterMemberAttrSetRequest>,
    #[prost(message, optional, tag = "1302")]
    pub downgrade_info_set: Option<DowngradeInfoSetRequest>,
    #[prost(message, optional, tag = "9900")]
    pub downgrade_version_test: Option<DowngradeVersionTestRequest>,
}
impl Visit for InternalRaftRequest {
    fn visit(&self, v: &mut dyn Visitor) {
        m(v, "header", &self.header);
        u(v, "ID", self.id);
        m(v, "v2", &self.v2);
        m(v, "range", &self.range);
        m(v, "put", &self.put);
        m(v, "delete_range", &self.delete_range);
        m(v, "txn", &self.txn);
        m(v, "compaction", &self.compaction);
        m(v, "lease_grant", &self.lease_grant);
        m(v, "lease_revoke", &self.lease_revoke);
        m(v, "alarm", &self.alarm);
        m(v, "lease_checkpoint", &self.lease_checkpoint);
        m(v, "auth_enable", &self.auth_enable);
        m(v, "auth_disable", &self.auth_disable);
        m(v, "auth_status", &self.auth_status);
        m(v, "authenticate", &self.authenticate);
        m(v, "auth_user_add", &self.auth_user_add);
        m(v, "auth_user_delete", &self.auth_user_delete);
        m(v, "auth_user_get", &self.auth_user_get);
        m(
            v,
            "auth_user_change_password",
            &self.auth_user_change_password,
        );
        m(v, "auth_user_grant_role", &self.auth_user_grant_role);
        m(v, "auth_user_revoke_role", &self.auth_user_revoke_role);
        m(v, "auth_user_list", &self.auth_user_list);
        m(v, "auth_role_list", &self.auth_role_list);
        m(v, "auth_role_add", &self.auth_role_add);
        m(v, "auth_role_delete", &self.auth_role_delete);
        m(v, "auth_role_get", &self.auth_role_get);
        m(
            v,
            "auth_role_grant_permission",
            &self.auth_role_grant_permission,
        );
        m(
            v,
            "auth_role_revoke_permission",
            &self.auth_role_revoke_permission,
        );
        m(v, "cluster_version_set", &self.cluster_version_set);
        m(v, "cluster_member_attr_set", &self.cluster_member_attr_set);
        m(v, "downgrade_info_set", &self.downgrade_info_set);
        m(v, "downgrade_version_test", &self.downgrade_version_test);
    }
}

impl InternalRaftRequest {
    /// The names of the request fields that are set (InternalRaftRequest's own field names;
    /// `header` and `ID` are not requests). Usually exactly one.
    pub fn request_names(&self) -> Vec<&'static str> {
        struct Names(Vec<&'static str>);
        impl Visitor for Names {
            fn scalar(&mut self, _: &'static str, _: Scalar<'_>) {}
            fn message(&mut self, name: &'static str, _: &dyn Visit) {
                if name != "header" {
                    self.0.push(name);
                }
            }
        }
        let mut n = Names(Vec::new());
        self.visit(&mut n);
        n.0
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ConfChange {
    #[prost(int32, tag = "2")]
    pub change_type: i32,
    #[prost(uint64, tag = "3")]
    pub node_id: u64,
    #[prost(bytes = "vec", optional, tag = "4")]
    pub context: Option<Vec<u8>>,
    #[prost(uint64, tag = "1")]
    pub id: u64,
}
impl Visit for ConfChange {
    // proto2, non-nullable: Go prints the scalars even at zero.
    fn visit(&self, v: &mut dyn Visitor) {
        v.scalar(
            "Type",
            Scalar::Enum(
                self.change_type,
                enum_name(CONF_CHANGE_TYPE, self.change_type),
            ),
        );
        v.scalar("NodeID", Scalar::U64(self.node_id));
        if let Some(c) = &self.context {
            v.scalar("Context", Scalar::Bytes(c));
        }
        v.scalar("ID", Scalar::U64(self.id));
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ConfChangeSingle {
    #[prost(int32, tag = "1")]
    pub change_type: i32,
    #[prost(uint64, tag = "2")]
    pub node_id: u64,
}
impl Visit for ConfChangeSingle {
    fn visit(&self, v: &mut dyn Visitor) {
        v.scalar(
            "Type",
            Scalar::Enum(
                self.change_type,
                enum_name(CONF_CHANGE_TYPE, self.change_type),
            ),
        );
        v.scalar("NodeID", Scalar::U64(self.node_id));
    }
}

#[derive(Clone, PartialEq, Message)]
pub struct ConfChangeV2 {
    #[prost(int32, tag = "1")]
    pub transition: i32,
    #[prost(message, repeated, tag = "2")]
    pub changes: Vec<ConfChangeSingle>,
    #[prost(bytes = "vec", optional, tag = "3")]
    pub context: Option<Vec<u8>>,
}
impl Visit for ConfChangeV2 {
    fn visit(&self, v: &mut dyn Visitor) {
        v.scalar(
            "Transition",
            Scalar::Enum(
                self.transition,
                enum_name(CONF_CHANGE_TRANSITION, self.transition),
            ),
        );
        for c in &self.changes {
            v.message("Changes", c);
        }
        if let Some(c) = &self.context {
            v.scalar("Context", Scalar::Bytes(c));
        }
    }
}

/// What a normal entry's data is, decided the way etcd-dump-logs decides it: an
/// InternalRaftRequest if it decodes as one, else a v2 Request if that decodes, else unknown.
#[derive(Clone, PartialEq)]
pub enum NormalData {
    /// Empty data: a new leader's no-op entry (decodes as an empty InternalRaftRequest too).
    Empty,
    /// etcdserverpb.InternalRaftRequest.
    Internal(Box<InternalRaftRequest>),
    /// etcdserverpb.Request (v2).
    V2(Box<Request>),
    /// Neither decodes, or the data holds more txn compares and ops than
    /// [`MAX_TXN_MESSAGES`] (not decoded, so as not to allocate by a hostile count).
    Unknown,
}

/// Txn compares and ops (nested txns' included) a normal entry may hold and still be
/// decoded. Each costs about a hundred bytes decoded but can be two bytes on disk, so a
/// 10 MB entry of empty ops would decode to half a gigabyte. etcd refuses txns of more
/// than `--max-txn-ops` (128 by default) ops per branch; this is far above any real one.
pub const MAX_TXN_MESSAGES: u64 = 1 << 20;

/// Deepest txn nesting the pre-count follows (prost's own decode limit is lower).
const MAX_COUNT_DEPTH: u32 = 128;

/// Counts the compares and ops of the txn in InternalRaftRequest bytes `data` (field 6)
/// and of the txns nested in it, without decoding them; `Err` once past
/// [`MAX_TXN_MESSAGES`]. Malformed bytes count as far as they scan (prost decides).
fn count_txn_messages(data: &[u8]) -> Result<u64, ()> {
    fn txn(buf: &[u8], depth: u32, n: &mut u64) -> Result<(), ()> {
        if depth > MAX_COUNT_DEPTH {
            return Ok(());
        }
        for f in crate::wire::Fields::new(buf) {
            let Ok((field, crate::wire::Value::Len(b))) = f else {
                continue;
            };
            if matches!(field, 1..=3) {
                *n += 1;
                if *n > MAX_TXN_MESSAGES {
                    return Err(());
                }
            }
            if matches!(field, 2 | 3) {
                // RequestOp: field 4 is a nested TxnRequest.
                for g in crate::wire::Fields::new(b) {
                    if let Ok((4, crate::wire::Value::Len(t))) = g {
                        txn(t, depth + 1, n)?;
                    }
                }
            }
        }
        Ok(())
    }
    let mut n = 0;
    for f in crate::wire::Fields::new(data) {
        if let Ok((6, crate::wire::Value::Len(t))) = f {
            txn(t, 0, &mut n)?;
        }
    }
    Ok(n)
}

/// Whether normal entry data `data` holds more txn compares and ops than
/// [`MAX_TXN_MESSAGES`] (then it is not decoded, see [`NormalData::Unknown`]).
pub fn txn_messages_over_limit(data: &[u8]) -> bool {
    count_txn_messages(data).is_err()
}

impl std::fmt::Debug for NormalData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NormalData::Empty => f.write_str("Empty"),
            NormalData::Internal(r) => write!(f, "Internal({r:?})"),
            NormalData::V2(r) => write!(f, "V2({r:?})"),
            NormalData::Unknown => f.write_str("Unknown"),
        }
    }
}

impl NormalData {
    /// Classifies and decodes a normal entry's data.
    pub fn decode(data: &[u8]) -> NormalData {
        if data.is_empty() {
            return NormalData::Empty;
        }
        if txn_messages_over_limit(data) {
            return NormalData::Unknown;
        }
        if let Ok(r) = InternalRaftRequest::decode(data) {
            return NormalData::Internal(Box::new(r));
        }
        if let Ok(r) = Request::decode(data) {
            return NormalData::V2(Box::new(r));
        }
        NormalData::Unknown
    }
}
