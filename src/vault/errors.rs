//! Vault's error answers: `{"errors": ["…"]}`, each entry perhaps a
//! multi-line list (`1 error occurred:\n\t* permission denied\n\n`).

use crate::error::{Service, ServiceError};
use crate::json::Object;
use crate::net::http::Response;
use crate::secret::Secret;

/// A Vault error answer as a [`ServiceError`]: its errors on one line,
/// `secrets` scrubbed ([`crate::secret::quote`]). The caller adds a hint.
pub fn service_error(response: &Response, secrets: &[&Secret]) -> ServiceError {
    let errors = Object::parse(&response.body).ok().and_then(|body| body.strings("errors").ok());
    let message = match errors {
        Some(errors) if !errors.is_empty() => {
            errors.iter().flat_map(|e| items(e)).collect::<Vec<_>>().join("; ")
        }
        _ => format!(
            "answer without a Vault error body (content-type {})",
            response.header("content-type").unwrap_or("none")
        ),
    };
    ServiceError::quoted(response, Service::Vault, None, &message, secrets)
}

/// The items of one of Vault's error texts, without the `N errors occurred:`
/// line and the bullets.
fn items(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.trim().trim_start_matches("* ").trim())
        .filter(|line| !line.is_empty() && !is_count(line))
}

/// `1 error occurred:`, `2 errors occurred:`.
fn is_count(line: &str) -> bool {
    line.strip_suffix(" occurred:").is_some_and(|rest| rest.ends_with(" error") || rest.ends_with(" errors"))
}

/// Whether Vault refused the token itself (unknown, expired, revoked),
/// rather than what it may do.
pub fn is_bad_token(error: &ServiceError) -> bool {
    error.status == 403 && error.message.contains("invalid token")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::script::answer;

    #[test]
    fn joins_the_errors_on_one_line() {
        let denied = r#"{"errors":["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}"#;
        let e = service_error(&answer(403, &[], denied).unwrap(), &[]);
        assert_eq!(
            (e.service, e.status, e.message.as_str()),
            (Service::Vault, 403, "permission denied; invalid token")
        );
        assert!(is_bad_token(&e));
        let e =
            service_error(&answer(400, &[], r#"{"errors":["unsupported key type", "no"]}"#).unwrap(), &[]);
        assert_eq!(e.message, "unsupported key type; no");
        assert!(!is_bad_token(&e));
        let e = service_error(&answer(502, &[("content-type", "text/html")], "<html>").unwrap(), &[]);
        assert_eq!(e.message, "answer without a Vault error body (content-type text/html)");
    }

    #[test]
    fn scrubs_secrets() {
        let echoed = r#"{"errors":["error validating token: a.b.c is bad"]}"#;
        let e = service_error(&answer(400, &[], echoed).unwrap(), &[&Secret::new("a.b.c")]);
        assert_eq!(e.message, "error validating token: [redacted] is bad");
    }
}
