//! A string that must never be printed.

use std::fmt;
use zeroize::Zeroize;

/// A secret value (AWS secret key, session token, JWT, installation token).
///
/// `Debug` and `Display` print `[redacted]`; the memory is zeroed on drop.
/// The only way to the value is [`Secret::expose`], so every use is visible.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Replaces every occurrence of a secret in `text` with `[redacted]`.
///
/// Services may echo what they were sent (AWS's `InvalidSignatureException`
/// quotes the canonical request, session token included), so every message
/// taken from an answer passes through here.
pub fn scrub(text: &str, secrets: &[&Secret]) -> String {
    secrets
        .iter()
        .map(|s| s.expose())
        .filter(|s| !s.is_empty())
        .fold(text.to_owned(), |text, secret| text.replace(secret, "[redacted]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let a = Secret::new("AAA");
        let b = Secret::new("BB");
        assert_eq!(scrub("xAAAyBBzAAA", &[&a, &b]), "x[redacted]y[redacted]z[redacted]");
        assert_eq!(scrub("plain", &[&Secret::new("")]), "plain");
    }
}
