//! The one rule for secrets: values under `/registry/secrets/` are never printed unless
//! the user passed `--show-secrets`.

/// The key prefix under which kube-apiserver stores Secret objects.
pub const SECRET_PREFIX: &[u8] = b"/registry/secrets/";

/// What is printed in place of a secret value.
pub const REDACTED: &str = "<redacted: value under /registry/secrets/; pass --show-secrets>";

/// True when the value stored under `key` must be redacted.
pub fn is_secret_key(key: &[u8]) -> bool {
    key.starts_with(SECRET_PREFIX)
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
}
