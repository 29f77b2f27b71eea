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

/// The most characters of a service's text that an error quotes.
pub const MAX_QUOTE_CHARS: usize = 400;

/// A service's text made fit to quote in an error, on stderr or in a log:
/// control characters dropped (a `\r` or an escape sequence could forge a
/// line of a workflow log), every secret scrubbed, then the first line
/// only, cut to [`MAX_QUOTE_CHARS`]. Scrubbing comes before any cut, so no
/// cut leaves a piece of a secret behind.
pub fn quote(text: &str, secrets: &[&Secret]) -> String {
    let visible: String = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\r')).collect();
    let scrubbed = scrub(&visible, secrets);
    let first_line = scrubbed.split(['\n', '\r']).next().unwrap_or_default();
    first_line.chars().take(MAX_QUOTE_CHARS).collect()
}

/// [`quote`] for a text that holds no secret: a header, a code, a URL.
pub fn plain(text: &str) -> String {
    quote(text, &[])
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

    /// A secret echoed anywhere around the cut: no 16-character piece of it
    /// survives, and nothing after a line break or control character does.
    #[test]
    fn quotes_scrub_before_they_cut() {
        let secret = Secret::new("ghs_0123456789abcdefghijklmnopqrstuvwxyzABCDEF");
        let pieces: Vec<&str> =
            (0..=secret.expose().len() - 16).map(|i| &secret.expose()[i..i + 16]).collect();
        for offset in MAX_QUOTE_CHARS - secret.expose().len() - 2..MAX_QUOTE_CHARS + 2 {
            let text = format!("{}{}tail", "x".repeat(offset), secret.expose());
            let quoted = quote(&text, &[&secret]);
            assert!(quoted.chars().count() <= MAX_QUOTE_CHARS);
            assert!(pieces.iter().all(|piece| !quoted.contains(piece)), "offset {offset}: {quoted}");
        }
        assert_eq!(quote("bad\r::error title=Injected::x\nmore", &[]), "bad");
        assert_eq!(quote("a\u{1b}[31mred\u{9b}b\u{7f}\tc", &[]), "a[31mredbc");
        // A control character cannot hide a secret from the scrub.
        let split = format!("{}\u{1}{}", &secret.expose()[..20], &secret.expose()[20..]);
        assert_eq!(quote(&split, &[&secret]), "[redacted]");
    }

    #[test]
    fn scrub_removes_every_occurrence() {
        let a = Secret::new("AAA");
        let b = Secret::new("BB");
        assert_eq!(scrub("xAAAyBBzAAA", &[&a, &b]), "x[redacted]y[redacted]z[redacted]");
        assert_eq!(scrub("plain", &[&Secret::new("")]), "plain");
    }
}
