//! The broker's audit trail: one JSON object a line for every `/token`
//! decision, written to stderr by the handler. Pure: the record is built
//! while the broker decides, and turned into a line here.
//!
//! A line says when, the outcome and status, who asked (the verified
//! caller's `iss`, `sub`, `repository`, `job_workflow_ref`), which rule
//! decided, what was granted, the first 12 hex digits of the minted token's
//! SHA-256, and the upstream service and request id of a failure. Never a
//! token, an ID token or a secret.

use std::time::SystemTime;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::api::Installation;
use crate::broker::policy::Grant;
use crate::github::names::permissions_json;
use crate::time::{rfc3339, unix_secs};

/// The caller's claims a line records, when present.
const CALLER_CLAIMS: [&str; 4] = ["iss", "sub", "repository", "job_workflow_ref"];

/// What is known of one decision so far; each step of the broker fills in
/// its part.
#[derive(Debug, Default)]
pub struct Audit {
    /// The verified caller's [`CALLER_CLAIMS`].
    pub caller: Map<String, Value>,
    /// The rule that granted or refused, counted from 1.
    pub rule: Option<usize>,
    /// What was granted.
    pub grant: Option<Grant>,
    /// The first 12 hex digits of the minted token's SHA-256.
    pub token_sha256: Option<String>,
    /// Why the configuration is unusable: for the operator, never the caller.
    pub detail: Option<String>,
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
        line.to_string()
    }
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
}
