//! The broker's audit trail: one JSON object a line for every `/token`
//! decision, written to stderr by the handler. Pure: the record is built
//! while the broker decides, and turned into a line here.
//!
//! A line says when, the outcome and status, who asked (the verified
//! caller's `iss`, `sub`, `repository`, `job_workflow_ref`), which rule
//! decided, what was granted, the first 12 hex digits of the minted token's
//! SHA-256, and the upstream service and request id of a failure. Never a
//! token, an ID token or a secret.
//!
//! A line is plain ASCII JSON: every character beyond ASCII is a `\uXXXX`
//! escape (so no U+2028, NEL or 8-bit CSI reaches a log pipeline or a
//! terminal), and every string is cut to [`MAX_STRING_CHARS`].

use std::time::SystemTime;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api::Installation;
use crate::broker::policy::Grant;
use crate::github::names::permissions_json;
use crate::time::{rfc3339, unix_secs};

/// The most characters of any one string a line holds.
pub const MAX_STRING_CHARS: usize = 256;

/// The caller's claims a line records, when present.
const CALLER_CLAIMS: [&str; 4] = ["iss", "sub", "repository", "job_workflow_ref"];

/// What is known of one decision so far; each step of the broker fills in
/// its part.
#[derive(Debug, Default)]
pub struct Audit {
    /// The verified caller's `iss`, `sub`, `repository` and `job_workflow_ref`.
    pub caller: Map<String, Value>,
    /// The rule that granted or refused, counted from 1.
    pub rule: Option<usize>,
    /// What was granted.
    pub grant: Option<Grant>,
    /// The first 12 hex digits of the minted token's SHA-256.
    pub token_sha256: Option<String>,
    /// Why the configuration is unusable: for the operator, never the caller.
    pub detail: Option<String>,
    /// Why the caller's token could not be verified: for the operator,
    /// never the caller.
    pub reason: Option<String>,
    /// What the cache held: `keys`, `app_jwt`, `installation`, `token`, each `hit` or `miss`.
    pub cache: std::collections::BTreeMap<&'static str, &'static str>,
}

impl Audit {
    /// Records the verified caller.
    pub fn caller(&mut self, claims: &Map<String, Value>) {
        self.caller = CALLER_CLAIMS
            .iter()
            .filter_map(|&name| Some((name.to_owned(), claims.get(name)?.as_str()?.into())))
            .collect();
    }

    /// Records the minted token, by the start of its SHA-256.
    pub fn token(&mut self, token: &str) {
        let digest = Sha256::digest(token.as_bytes());
        self.token_sha256 = Some(digest[..6].iter().map(|b| format!("{b:02x}")).collect());
    }

    /// The line for a decision answered with `status` and `body` at `now`.
    pub fn line(&self, status: u16, body: &Value, now: SystemTime) -> String {
        let outcome = match status {
            200..=299 => "granted",
            400..=499 => "refused",
            _ => "failed",
        };
        let mut line = json!({
            "time": rfc3339(unix_secs(now)),
            "event": "token",
            "outcome": outcome,
            "status": status,
        });
        let error = &body["error"];
        for (key, value) in
            [("code", &error["code"]), ("message", &error["message"]), ("upstream", &error["upstream"])]
        {
            if !value.is_null() {
                line[key] = value.clone();
            }
        }
        if !self.caller.is_empty() {
            line["caller"] = Value::Object(self.caller.clone());
        }
        if let Some(rule) = self.rule {
            line["rule"] = rule.into();
        }
        if let Some(Grant { installation, repositories, permissions, .. }) = &self.grant {
            match installation {
                Installation::Id(id) => line["installation_id"] = (*id).into(),
                Installation::Owner(owner) => line["owner"] = owner.as_str().into(),
                Installation::Repository(_) | Installation::Enterprise(_) => {}
            }
            line["repositories"] = repositories.clone().into();
            line["permissions"] = permissions_json(permissions);
        }
        if let Some(hash) = &self.token_sha256 {
            line["token_sha256"] = hash.as_str().into();
        }
        if let Some(detail) = &self.detail {
            line["detail"] = detail.as_str().into();
        }
        if let Some(reason) = &self.reason {
            line["reason"] = reason.as_str().into();
        }
        if !self.cache.is_empty() {
            line["cache"] = json!(self.cache);
        }
        ascii_json(&capped(line))
    }
}

/// `value` with every string cut to [`MAX_STRING_CHARS`].
fn capped(value: Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_STRING_CHARS => {
            Value::String(s.chars().take(MAX_STRING_CHARS - 1).chain(['…']).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(capped).collect()),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (capped_key(k), capped(v))).collect())
        }
        other => other,
    }
}

fn capped_key(key: String) -> String {
    match capped(Value::String(key)) {
        Value::String(key) => key,
        _ => String::new(),
    }
}

/// `value` as JSON in plain ASCII: beyond ASCII (and DEL), `\uXXXX`.
/// serde_json escapes quotes, backslashes and C0 controls itself; every
/// other character it leaves as it is, and outside strings JSON has none.
fn ascii_json(value: &Value) -> String {
    let mut line = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() && c != '\x7f' {
            line.push(c);
        } else {
            for unit in c.encode_utf16(&mut [0; 2]) {
                line.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Access, Permission};
    use std::time::Duration;
    use std::time::UNIX_EPOCH;

    #[test]
    fn a_line_holds_the_decision_and_no_secret() {
        let mut audit = Audit::default();
        let claims = json!({"iss": "https://i", "sub": "repo:acme/w:ref:refs/heads/main", "aud": "b", "repository": "acme/w"});
        audit.caller(claims.as_object().unwrap());
        audit.rule = Some(2);
        let contents = Permission { name: "contents".into(), access: Access::Read };
        audit.grant = Some(Grant {
            rule: 2,
            installation: Installation::Owner("acme".into()),
            repositories: vec!["w".into()],
            permissions: vec![contents],
        });
        audit.token("ghs_secret");
        let now = UNIX_EPOCH + Duration::from_secs(1_795_640_400);
        let line: Value =
            serde_json::from_str(&audit.line(200, &json!({"token": "ghs_secret"}), now)).unwrap();
        assert_eq!(
            line,
            json!({
                "time": "2026-11-25T21:00:00Z", "event": "token", "outcome": "granted", "status": 200,
                "caller": {"iss": "https://i", "sub": "repo:acme/w:ref:refs/heads/main", "repository": "acme/w"},
                "rule": 2, "owner": "acme", "repositories": ["w"], "permissions": {"contents": "read"},
                "token_sha256": "37546f86f114",
            })
        );
        let refused = json!({"error": {"code": "forbidden", "message": "no rule admits this caller"}});
        let line: Value = serde_json::from_str(&Audit::default().line(403, &refused, now)).unwrap();
        assert_eq!((line["outcome"].as_str(), line["code"].as_str()), (Some("refused"), Some("forbidden")));
    }

    /// U+2028, NEL, the 8-bit CSI, DEL, an emoji (a surrogate pair) and a
    /// very long claim: the line stays one line of plain ASCII, and reads
    /// back as what was recorded, cut.
    #[test]
    fn a_line_is_plain_ascii_and_every_string_is_capped() {
        let hostile = "a\u{2028}b\u{85}c\u{9b}31md\u{7f}e😀";
        let mut audit = Audit { reason: Some(hostile.into()), ..Audit::default() };
        let claims = json!({"iss": "https://i", "sub": "x".repeat(10_000)});
        audit.caller(claims.as_object().unwrap());
        let line =
            audit.line(401, &json!({"error": {"code": "unauthorized", "message": hostile}}), UNIX_EPOCH);
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
        assert!(line.contains(r"a\u2028b\u0085c\u009b31md\u007fe\ud83d\ude00"), "{line}");
        let read: Value = serde_json::from_str(&line).unwrap();
        assert_eq!((read["reason"].as_str(), read["message"].as_str()), (Some(hostile), Some(hostile)));
        assert_eq!(read["caller"]["sub"].as_str().unwrap().chars().count(), MAX_STRING_CHARS);
    }
}
