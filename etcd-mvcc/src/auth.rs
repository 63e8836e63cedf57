//! Auth buckets (etcd 3.4 `auth/store.go`, `auth/authpb/auth.proto`).
//!
//! - `auth`: `authEnabled` = one byte (1 = on), `authRevision` = u64 big-endian.
//! - `authUsers`: key = user name, value = `authpb.User {name=1, password=2, roles=3,
//!   options=4}`. The password field holds a bcrypt hash; this model never decodes it,
//!   so it cannot be printed by accident.
//! - `authRoles`: key = role name, value = `authpb.Role {name=1, keyPermission=2}`.

use super::proto::{expect_bytes, FieldReader, ProtoError};

pub use crate::buckets::{AUTH_BUCKET, AUTH_ROLES_BUCKET, AUTH_USERS_BUCKET};
/// Key of the enable flag in the auth bucket.
pub const AUTH_ENABLED_KEY: &[u8] = b"authEnabled";
/// Key of the auth revision in the auth bucket.
pub const AUTH_REVISION_KEY: &[u8] = b"authRevision";

/// A user, without its password hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct User {
    /// User name (lossy UTF-8).
    pub name: String,
    /// Roles granted.
    pub roles: Vec<String>,
    /// True when a password is set (the hash itself is never read).
    pub has_password: bool,
}

impl User {
    /// Decodes an `authpb.User`, skipping the password bytes.
    pub fn parse(buf: &[u8]) -> Result<Self, ProtoError> {
        let mut u = User::default();
        let mut r = FieldReader::new(buf);
        let mut at = 0;
        while let Some((f, w)) = r.next_field()? {
            match f {
                1 => u.name = String::from_utf8_lossy(expect_bytes(w, at)?).into_owned(),
                2 => u.has_password = !expect_bytes(w, at)?.is_empty(),
                3 => u
                    .roles
                    .push(String::from_utf8_lossy(expect_bytes(w, at)?).into_owned()),
                _ => {}
            }
            at = r.position();
        }
        Ok(u)
    }
}

/// The auth bucket's enable flag: true when the value is one byte 1.
pub fn auth_enabled(value: &[u8]) -> bool {
    value == [1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_decodes_without_keeping_the_password_hash() {
        // name "root", password "$2a$hash", roles "root"
        let mut b = vec![0x0a, 4];
        b.extend_from_slice(b"root");
        b.extend_from_slice(&[0x12, 8]);
        b.extend_from_slice(b"$2a$hash");
        b.extend_from_slice(&[0x1a, 4]);
        b.extend_from_slice(b"root");
        let u = User::parse(&b).unwrap();
        assert_eq!(u.name, "root");
        assert_eq!(u.roles, vec!["root"]);
        assert!(u.has_password);
        assert!(!format!("{u:?}").contains("hash"));
        assert!(auth_enabled(&[1]));
    }
}
