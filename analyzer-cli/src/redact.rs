//! The one rule for secrets: values under `/registry/secrets/`, passwords and password
//! hashes are never printed unless the user passed `--show-secrets`.

/// The key prefix under which kube-apiserver stores Secret objects.
pub const SECRET_PREFIX: &[u8] = b"/registry/secrets/";

/// What is printed in place of a secret value.
pub const REDACTED: &str = "<redacted: value under /registry/secrets/; pass --show-secrets>";

/// Printed in place of a whole `authUsers` value (an authpb.User) that holds a password
/// hash. A user without a password (`--no-password`) is shown as it is.
pub const REDACTED_USER: &str =
    "<redacted: authUsers record holding a password hash; pass --show-secrets>";

/// Printed in place of a password or password hash inside a decoded record (authUsers
/// `--decode`, the WAL's auth_user_add / auth_user_change_password requests).
pub const REDACTED_PASSWORD: &str = "<redacted password; pass --show-secrets>";

/// True when an `authUsers` value (authpb.User: name=1, password=2, roles=3, options=4)
/// carries a non-empty password hash. A value that does not decode counts as carrying one,
/// so damage never leaks a hash.
pub fn user_has_password(value: &[u8]) -> bool {
    use wal_reader::wire::{Fields, Value};
    let mut found = false;
    for field in Fields::new(value) {
        match field {
            Ok((2, Value::Len(b))) => found |= !b.is_empty(),
            Ok((2, _)) | Err(_) => return true,
            Ok(_) => {}
        }
    }
    found
}

/// True when a value of unknown bucket (a leaf of `bbolt page`) looks like an authUsers
/// record holding a password hash: it decodes as authpb.User with a name and a `password`
/// in bcrypt's `$2?$` form (what etcd stores).
pub fn looks_like_user_with_hash(value: &[u8]) -> bool {
    use wal_reader::wire::{Fields, Value};
    let (mut name, mut hash) = (false, false);
    for field in Fields::new(value) {
        match field {
            Ok((1, Value::Len(b))) => name = !b.is_empty(),
            Ok((2, Value::Len(b))) => hash = b.starts_with(b"$2") && b.len() >= 50,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
    name && hash
}

/// True when the value stored under `key` must be redacted.
pub fn is_secret_key(key: &[u8]) -> bool {
    key.starts_with(SECRET_PREFIX)
}

/// True when a `key`-bucket value (an mvccpb.KeyValue) may hold a Secret: its key is under
/// `/registry/secrets/`, or it does not decode as a KeyValue and its bytes hold
/// `/registry/secrets/` anywhere. A damaged record (a value length running past the end,
/// a stray byte after the last field) still carries the Secret's bytes, so damage never
/// leaks one.
pub fn is_secret_kv(value: &[u8]) -> bool {
    match etcd_mvcc::KeyValueRef::parse(value) {
        Ok(kv) => is_secret_key(kv.key),
        Err(_) => value
            .windows(SECRET_PREFIX.len())
            .any(|w| w == SECRET_PREFIX),
    }
}

/// Decides for one key whether its value may be shown.
#[derive(Debug, Clone, Copy, Default)]
pub struct Redactor {
    /// `--show-secrets` was given.
    pub show_secrets: bool,
}

impl Redactor {
    /// True when the value of `key` must be hidden.
    pub fn hides(&self, key: &[u8]) -> bool {
        !self.show_secrets && is_secret_key(key)
    }

    /// True when the `key`-bucket value `value` must be hidden ([`is_secret_kv`]).
    pub fn hides_kv(&self, value: &[u8]) -> bool {
        !self.show_secrets && is_secret_kv(value)
    }

    /// True when the `authUsers` value `value` must be hidden (it holds a password hash).
    pub fn hides_user(&self, value: &[u8]) -> bool {
        !self.show_secrets && user_has_password(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_hidden_by_default_and_shown_on_request() {
        let r = Redactor::default();
        assert!(r.hides(b"/registry/secrets/default/token"));
        assert!(!r.hides(b"/registry/configmaps/default/x"));
        assert!(!r.hides(b"/registry/secretsx"));
        let r = Redactor { show_secrets: true };
        assert!(!r.hides(b"/registry/secrets/default/token"));
    }

    /// mvccpb.KeyValue{key, create_revision: 2, mod_revision: 2, version: 1, value}.
    fn kv(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut v = vec![0x0a, key.len() as u8];
        v.extend_from_slice(key);
        v.extend_from_slice(&[0x10, 2, 0x18, 2, 0x20, 1, 0x2a, value.len() as u8]);
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn a_damaged_secret_keyvalue_is_still_hidden() {
        let r = Redactor::default();
        let secret = kv(b"/registry/secrets/default/token", b"hunter2-token");
        assert!(r.hides_kv(&secret));
        // The value's length runs past the end: the KeyValue does not decode.
        let truncated = &secret[..secret.len() - 3];
        assert!(etcd_mvcc::KeyValueRef::parse(truncated).is_err());
        assert!(r.hides_kv(truncated));
        // A stray tag byte with an invalid wire type after the last field.
        let mut trailing = secret.clone();
        trailing.push(0x0f);
        assert!(etcd_mvcc::KeyValueRef::parse(&trailing).is_err());
        assert!(r.hides_kv(&trailing));
        // Damaged records of other keys are shown as before.
        let other = kv(b"/registry/configmaps/default/x", b"v");
        assert!(!r.hides_kv(&other));
        assert!(!r.hides_kv(&other[..other.len() - 1]));
        assert!(!Redactor { show_secrets: true }.hides_kv(truncated));
    }

    #[test]
    fn only_users_with_a_password_hash_are_hidden() {
        // authpb.User{name:"alice", password:"$2a$10$x", roles:["reader"]}
        let mut alice = vec![0x0a, 5];
        alice.extend_from_slice(b"alice");
        alice.extend_from_slice(&[0x12, 8]);
        alice.extend_from_slice(b"$2a$10$x");
        alice.extend_from_slice(&[0x1a, 6]);
        alice.extend_from_slice(b"reader");
        // authpb.User{name:"bob", options:{no_password:true}}
        let bob = [0x0a, 3, b'b', b'o', b'b', 0x22, 2, 0x08, 1];
        let r = Redactor::default();
        assert!(r.hides_user(&alice));
        assert!(!r.hides_user(&bob));
        assert!(
            r.hides_user(&[0x12, 50, 1]),
            "an undecodable value is hidden"
        );
        assert!(!Redactor { show_secrets: true }.hides_user(&alice));
        assert!(!REDACTED_USER.contains("/registry/secrets/"));
        assert!(
            !looks_like_user_with_hash(&alice),
            "a short password is not a bcrypt hash"
        );
        let mut carol = vec![0x0a, 5];
        carol.extend_from_slice(b"carol");
        carol.extend_from_slice(&[0x12, 60]);
        carol.extend_from_slice(b"$2a$10$");
        carol.extend_from_slice(&[b'x'; 53]);
        assert!(looks_like_user_with_hash(&carol));
        assert!(!looks_like_user_with_hash(&bob));
    }
}
