//! The token broker: `POST /token` decided and answered, over a [`Transport`].
//!
//! Order of checks: the request's shape (400), the configuration (500), the
//! caller's ID token (401, before any KMS or GitHub call), the policy (403),
//! then minting exactly what was granted (502/504 when upstream fails).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::api::{Permission, TokenRequest};
use crate::config::{self, Env};
use crate::error::{Error, Service};
use crate::http::{Method, Request, Transport, Url};
use crate::json::Object;
use crate::policy::{self, Ask, Policy, Refusal};
use crate::secret::Secret;
use crate::{github, idtoken, mint};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An HTTP answer: status and JSON body.
#[derive(Debug, PartialEq)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

impl Reply {
    /// `{"error": {"code": CODE, "message": MESSAGE}}` with `status`.
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
        Reply { status, body: json!({ "error": { "code": code, "message": message.into() } }) }
    }

    fn ok(body: Value) -> Reply {
        Reply { status: 200, body }
    }
}

/// `GET /healthz`: answers without calling anything upstream.
pub fn health() -> Reply {
    Reply::ok(json!({ "status": "ok" }))
}

/// The request body as an [`Ask`] and the deadline the caller asks for (in
/// seconds), or a 400 saying what is wrong.
fn ask(content_type: Option<&str>, body: &[u8]) -> Result<(Ask, Option<u64>), Reply> {
    let json_type = content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Reply::error(400, "unsupported_media_type", "the body must be application/json"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(Reply::error(
            400,
            "body_too_large",
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    let bad =
        |e: String| Reply::error(400, "bad_request", format!("the body is not a valid token request: {e}"));
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let parsed = Object::parse(body).map_err(bad)?;
    parsed
        .only(&["owner", "installation_id", "repositories", "permissions", "timeout_seconds"])
        .map_err(bad)?;
    let owner = parsed.str("owner").map_err(bad)?.map(str::to_owned);
    let installation_id = parsed.u64("installation_id").map_err(bad)?;
    let timeout = parsed.u64("timeout_seconds").map_err(bad)?;
    if timeout == Some(0) {
        return Err(bad("`timeout_seconds` must be at least 1".into()));
    }
    let mut permissions = Vec::new();
    for (name, level) in parsed.string_map("permissions").map_err(bad)? {
        if !github::is_known_permission(&name) {
            return Err(Reply::error(400, "bad_request", format!("unknown permission {name}")));
        }
        let access = github::parse_access(&level).ok_or_else(|| {
            Reply::error(
                400,
                "bad_request",
                format!("unknown level {level} for {name}: use read, write or admin"),
            )
        })?;
        permissions.push(Permission { name, access });
    }
    if owner.is_some() && installation_id.is_some() {
        return Err(Reply::error(400, "bad_request", "give owner or installation_id, not both"));
    }
    let repositories = parsed.strings("repositories").map_err(bad)?;
    Ok((Ask { owner, installation_id, repositories, permissions }, timeout))
}

/// The broker's configuration, read for each request.
struct Settings {
    policy: Policy,
    audience: String,
    /// The longest a request may take (`TOKEN_TIMEOUT_SECONDS`); a caller
    /// may ask for less.
    timeout: Duration,
}

fn settings(env: &Env) -> Result<Settings, Reply> {
    let configuration = |message: String| Reply::error(500, "configuration", message);
    let text = env
        .get("TRUST_POLICY")
        .ok_or_else(|| configuration("TRUST_POLICY is not set: no caller can be trusted".into()))?;
    let policy = policy::parse(text).map_err(configuration)?;
    let audience = env
        .get("OIDC_AUDIENCE")
        .ok_or_else(|| configuration("OIDC_AUDIENCE is not set: callers' tokens cannot be checked".into()))?;
    for rule in &policy.rules {
        let url = Url::parse(&rule.issuer).map_err(|rule| configuration(format!("issuer {rule}")))?;
        if !idtoken::fetchable(&url) {
            return Err(configuration(format!(
                "issuer {} must be https (http only on loopback)",
                rule.issuer
            )));
        }
    }
    let timeout = config::timeout(None, env).map_err(|e| configuration(e.message()))?;
    Ok(Settings { policy, audience: audience.to_owned(), timeout })
}

/// Verifies the caller's ID token; only issuers the policy names are fetched.
fn authenticate(
    authorization: Option<&str>,
    settings: &Settings,
    http: &impl Transport,
    now: u64,
) -> Result<serde_json::Map<String, Value>, Reply> {
    let unauthorized = |message: &str| Reply::error(401, "unauthorized", message);
    let token = authorization
        .and_then(|a| {
            a.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer ")).map(|_| a[7..].trim())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("an Authorization: Bearer <OIDC ID token> header is required"))?;
    let token = Secret::new(token);
    let unverified = idtoken::decode(token.expose()).map_err(|idtoken::Invalid(why)| unauthorized(&why))?;
    let issuer = unverified
        .issuer()
        .filter(|iss| settings.policy.rules.iter().any(|r| r.issuer == *iss))
        .ok_or_else(|| unauthorized("the token's issuer is not trusted"))?
        .to_owned();
    // Everything checkable without the key is checked before fetching it.
    unverified
        .precheck(&issuer, &settings.audience, now)
        .map_err(|idtoken::Invalid(why)| unauthorized(&why))?;
    let issuer_url = Url::parse(&issuer).map_err(|_| unauthorized("the token's issuer is not trusted"))?;
    let fetch = |url: Url| -> Result<Vec<u8>, Reply> {
        let request = Request {
            service: Service::Oidc,
            method: Method::Get,
            url,
            headers: vec![
                ("accept".into(), "application/json".into()),
                ("user-agent".into(), crate::USER_AGENT.into()),
            ],
            body: Vec::new(),
        };
        let mut response = http.send(request).map_err(upstream)?;
        if !response.is_success() {
            let mut reply = Reply::error(
                502,
                "upstream",
                format!("the issuer's key endpoint answered HTTP {}", response.status),
            );
            reply.body["error"]["upstream"] = json!({ "service": "oidc", "status": response.status });
            return Err(reply);
        }
        Ok(std::mem::take(&mut response.body))
    };
    let discovery = fetch(issuer_url.join("/.well-known/openid-configuration"))?;
    let jwks_uri = idtoken::jwks_uri(&discovery, &issuer)
        .map_err(|idtoken::Invalid(why)| Reply::error(502, "upstream", why))?;
    let jwks = fetch(jwks_uri)?;
    let key =
        idtoken::key(&jwks, unverified.kid.as_deref()).map_err(|idtoken::Invalid(why)| unauthorized(&why))?;
    unverified
        .verify(&key, &issuer, &settings.audience, now)
        .map_err(|idtoken::Invalid(why)| unauthorized(&why))
}

/// The answer for a failure upstream (or in the component's own settings).
fn upstream(error: Error) -> Reply {
    let service_reply = |status: u16, service: &str, e: &crate::error::ServiceError| Reply {
        status,
        body: json!({ "error": {
            "code": "upstream",
            "message": format!("{service} failed: {}", error.message()),
            "upstream": { "service": service, "status": e.status, "code": e.code, "request_id": e.request_id },
        } }),
    };
    let mut reply = match &error {
        Error::InvalidInput(e)
            if e.field.starts_with("installation")
                || e.field == "repositories"
                || e.field == "permissions" =>
        {
            Reply::error(400, "bad_request", error.message())
        }
        Error::InvalidInput(_) | Error::CredentialsMissing(_) => {
            Reply::error(500, "configuration", error.message())
        }
        Error::Kms(e) => service_reply(502, "kms", e),
        Error::Sts(e) => service_reply(502, "sts", e),
        Error::Github(e) => service_reply(502, "github", e),
        Error::CredentialsRejected(e) => service_reply(502, "aws", e),
        Error::MalformedResponse(_) | Error::Transport(_) => Reply::error(502, "upstream", error.message()),
        Error::Timeout(_) => Reply::error(504, "upstream_timeout", error.message()),
    };
    if let Some(attempts) = error.attempts() {
        reply.body["error"]["attempts"] = json!(attempts);
    }
    reply
}

/// `POST /token`: every refusal is a [`Reply`] too. `transport` gives the
/// transport for a deadline: the body's `timeout_seconds` when shorter than
/// `TOKEN_TIMEOUT_SECONDS`.
pub fn token<T: Transport>(
    env: &Env,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    transport: impl FnOnce(Duration) -> T,
    now: SystemTime,
) -> Reply {
    let decide = || -> Result<Reply, Reply> {
        // A missing or invalid configuration fails every request, whatever it asks.
        let settings = settings(env)?;
        let (ask, timeout) = ask(content_type, body)?;
        let http = &transport(
            timeout.map_or(settings.timeout, |secs| settings.timeout.min(Duration::from_secs(secs))),
        );
        let unix_now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = authenticate(authorization, &settings, http, unix_now)?;
        let grant = settings.policy.decide(&claims, &ask).map_err(|refusal| match refusal {
            Refusal::NoRule => {
                Reply::error(403, "forbidden", "no rule of the trust policy admits this caller")
            }
            Refusal::NotGranted(why) => {
                Reply::error(403, "forbidden", format!("the trust policy does not allow this request: {why}"))
            }
        })?;
        let request = TokenRequest {
            app_id: None,
            kms_key_id: None,
            aws_region: None,
            installation: Some(grant.installation),
            repositories: grant.repositories,
            permissions: grant.permissions,
            github_api_url: None,
            timeout_seconds: None,
        };
        let token_settings = config::token_settings(&request, env).map_err(upstream)?;
        let credentials =
            mint::aws_credentials(env, &token_settings.jwt.kms.region, http).map_err(upstream)?;
        let minted = mint::installation_token(&token_settings, &credentials, http, now).map_err(upstream)?;
        Ok(Reply::ok(minted.to_json()))
    };
    decide().unwrap_or_else(|refusal| refusal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_checked_before_anything_else() {
        assert_eq!(ask(Some("text/plain"), b"{}").unwrap_err().status, 400);
        assert_eq!(ask(None, b"{}").unwrap_err().status, 400);
        assert_eq!(
            ask(Some("application/json"), &vec![b' '; MAX_BODY_BYTES + 1]).unwrap_err().body["error"]["code"],
            "body_too_large"
        );
        for bad in [
            &b"{"[..],
            br#"{"owner": 5}"#,
            br#"{"permissions": {"contents": "owner"}}"#,
            br#"{"colour": "red"}"#,
            br#"{"owner": "a", "installation_id": 1}"#,
            br#"{"timeout_seconds": 0}"#,
            br#"{"timeout_seconds": "5"}"#,
        ] {
            assert_eq!(
                ask(Some("application/json"), bad).unwrap_err().status,
                400,
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let (a, timeout) = ask(
            Some("application/json; charset=utf-8"),
            br#"{"owner": "acme", "repositories": ["w"], "permissions": {"contents": "read"}, "timeout_seconds": 5}"#,
        )
        .unwrap();
        assert_eq!((a.owner.as_deref(), a.repositories.len(), a.permissions.len()), (Some("acme"), 1, 1));
        assert_eq!(timeout, Some(5));
        assert_eq!(ask(Some("application/json"), b"").unwrap(), (Ask::default(), None));
    }

    #[test]
    fn configuration_problems_are_500s_that_name_them() {
        let env = Env::from_pairs([("OIDC_AUDIENCE", "broker")]);
        let reply = settings(&env).err().unwrap();
        assert_eq!((reply.status, reply.body["error"]["code"].as_str()), (500, Some("configuration")));
        assert!(reply.body["error"]["message"].as_str().unwrap().contains("TRUST_POLICY is not set"));
        let http_issuer = Env::from_pairs([
            ("OIDC_AUDIENCE", "broker"),
            (
                "TRUST_POLICY",
                r#"{"rules": [{"issuer": "http://idp.example", "claims": {"a": "b"}, "owner": "acme", "permissions": {"contents": "read"}}]}"#,
            ),
        ]);
        assert!(
            settings(&http_issuer).err().unwrap().body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("must be https")
        );
    }
}
