//! The broker as a service: routes, and `POST /token` decided and answered,
//! over a [`Transport`].
//!
//! Order of checks: the configuration (500), the request's shape (400), the
//! caller's ID token (401, before any KMS or GitHub call: [`caller`]), the
//! policy (403), then minting exactly what was granted (400 when GitHub
//! could not take what the grant names, 502/504 when upstream fails). Every
//! decision comes with its [`Audit`] record.
//!
//! Fails closed: a configuration problem is a plain 500 whose detail goes to
//! the log only, and every caller that could not be verified gets the same
//! 401, whose reason goes to the log only.

use std::fmt;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::broker::audit::Audit;
use crate::broker::caller;
use crate::broker::policy::{Ask, Policy, PolicyError, Refusal};
use crate::cache::{Cache, SealingKey};
use crate::error::{Error, Service};
use crate::github::names::{MAX_REPOSITORIES, check_owner, check_repository, permission};
use crate::json::{self, Object};
use crate::mint::flow::installation_tokens;
use crate::mint::settings::{Deployment, Target, not_both};
use crate::net::http::Transport;
use crate::store::Store;
use crate::time::unix_secs;

#[cfg(test)]
mod tests;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// An HTTP answer: status and JSON body.
#[derive(Debug, PartialEq)]
pub struct Reply {
    /// 200 with a token; else the status of the refusal (docs/broker.md).
    pub status: u16,
    /// The token and its scope, or `{"error", "message"}`.
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

/// What a request is for.
#[derive(Debug, PartialEq)]
pub enum Route {
    /// `GET /healthz`: answered without calling anything upstream.
    Health,
    /// `POST /token`.
    Token,
    /// Anything else, answered with this.
    Refused(Reply),
}

/// Routes `method` and `path` (its query ignored).
pub fn route(method: &str, path: &str) -> Route {
    match (path.split('?').next().unwrap_or_default(), method) {
        ("/healthz", "GET") => Route::Health,
        ("/token", "POST") => Route::Token,
        ("/healthz" | "/token", _) => {
            Route::Refused(Reply::error(405, "method_not_allowed", "use GET /healthz or POST /token"))
        }
        _ => Route::Refused(Reply::error(404, "not_found", "the broker serves POST /token and GET /healthz")),
    }
}

/// `GET /healthz`.
pub fn health() -> Reply {
    Reply::ok(json!({ "status": "ok" }))
}

/// A broker as deployed: whom it trusts for what, and what minting needs.
#[derive(Debug)]
pub struct Broker {
    /// Who may have which tokens.
    pub policy: Policy,
    /// The audience callers' ID tokens must carry.
    pub audience: String,
    /// What minting needs: the App, its key, credentials, the GitHub API,
    /// and the longest a request may take (a caller may ask for less).
    pub deployment: Deployment,
    /// Seals the secret entries of the cache (the App JWT, tokens); none:
    /// nothing secret is cached.
    pub cache_key: Option<SealingKey>,
    /// Whether installation tokens are cached per exact grant (callers of
    /// one grant then share one token).
    pub cache_tokens: bool,
}

/// Why the broker's configuration cannot be used: for the log, never a
/// caller (who may not even have sent a token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// No `TRUST_POLICY`.
    NoPolicy,
    /// `TRUST_POLICY` is not a valid policy.
    Policy(PolicyError),
    /// No `OIDC_AUDIENCE`.
    NoAudience,
    /// A setting minting needs is missing or wrong.
    Deployment(Error),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::NoPolicy => f.write_str("TRUST_POLICY is not set: no caller can be trusted"),
            ConfigError::Policy(e) => write!(f, "{e}"),
            ConfigError::NoAudience => {
                f.write_str("OIDC_AUDIENCE is not set: callers' tokens cannot be checked")
            }
            ConfigError::Deployment(e) => f.write_str(&e.message()),
        }
    }
}

/// Why a request body is refused (400): no text of the body is quoted, since
/// it is anyone's and the reason reaches the audit line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadRequest {
    /// Not `application/json`.
    MediaType,
    /// Over [`MAX_BODY_BYTES`].
    TooLarge,
    /// Not a JSON object of the known fields, each of its type.
    Json(json::Error),
    /// `owner` is not a GitHub login.
    Owner,
    /// Both `owner` and `installation_id`.
    OwnerAndInstallationId,
    /// `timeout_seconds` is 0.
    NoTime,
    /// `repositories` is not a list of at most [`MAX_REPOSITORIES`] names.
    Repositories,
    /// `permissions` names an unknown permission or level.
    Permissions,
}

impl fmt::Display for BadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadRequest::MediaType => f.write_str("the body must be application/json"),
            BadRequest::TooLarge => write!(f, "the body is larger than {MAX_BODY_BYTES} bytes"),
            BadRequest::Json(e) => write!(f, "the body is not a valid token request: {e}"),
            BadRequest::Owner => f.write_str("the body is not a valid token request: `owner` is not a GitHub login"),
            BadRequest::OwnerAndInstallationId => {
                write!(f, "the body is not a valid token request: {}", not_both("owner", "installation_id"))
            }
            BadRequest::NoTime => {
                f.write_str("the body is not a valid token request: `timeout_seconds` must be at least 1")
            }
            BadRequest::Repositories => write!(
                f,
                "the body is not a valid token request: `repositories` must be at most {MAX_REPOSITORIES} bare repository names"
            ),
            BadRequest::Permissions => f.write_str(
                "the body is not a valid token request: `permissions` names an unknown permission or a level other than read, write or admin",
            ),
        }
    }
}

impl From<BadRequest> for Reply {
    fn from(bad: BadRequest) -> Reply {
        let code = match bad {
            BadRequest::MediaType => "unsupported_media_type",
            BadRequest::TooLarge => "body_too_large",
            _ => "bad_request",
        };
        Reply::error(400, code, bad.to_string())
    }
}

/// The answer to a body over [`MAX_BODY_BYTES`].
pub fn too_large() -> Reply {
    BadRequest::TooLarge.into()
}

/// The request body as an [`Ask`] and the deadline the caller asks for (in
/// seconds). Every value is checked here, before the caller is verified.
fn ask(content_type: Option<&str>, body: &[u8]) -> Result<(Ask, Option<u64>), BadRequest> {
    let json_type = content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(BadRequest::MediaType);
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(BadRequest::TooLarge);
    }
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let parsed = Object::parse(body).map_err(BadRequest::Json)?;
    parsed
        .only(&["owner", "installation_id", "repositories", "permissions", "timeout_seconds"])
        .map_err(BadRequest::Json)?;
    let owner = parsed.str("owner").map_err(BadRequest::Json)?.map(str::to_owned);
    if owner.as_deref().is_some_and(|owner| check_owner("owner", owner).is_err()) {
        return Err(BadRequest::Owner);
    }
    let installation_id = parsed.u64("installation_id").map_err(BadRequest::Json)?;
    if owner.is_some() && installation_id.is_some() {
        return Err(BadRequest::OwnerAndInstallationId);
    }
    let timeout = parsed.u64("timeout_seconds").map_err(BadRequest::Json)?;
    if timeout == Some(0) {
        return Err(BadRequest::NoTime);
    }
    let repositories = parsed.strings("repositories").map_err(BadRequest::Json)?;
    if repositories.len() > MAX_REPOSITORIES
        || repositories.iter().any(|r| check_repository("repositories", r).is_err())
    {
        return Err(BadRequest::Repositories);
    }
    let permissions = parsed
        .string_map("permissions")
        .map_err(BadRequest::Json)?
        .iter()
        .map(|(name, level)| permission(name, level).ok_or(BadRequest::Permissions))
        .collect::<Result<_, _>>()?;
    Ok((Ask { owner, installation_id, repositories, permissions }, timeout))
}

/// The one answer to every caller whose token could not be verified: why
/// goes to the audit line only, so that an anonymous caller learns nothing
/// of the policy (which issuers it trusts, which audience, which keys).
pub const UNVERIFIED: &str = "the caller's token could not be verified";

/// The answer for a failure upstream: 502, or 504 for a timeout, naming
/// the service, its status and request id where known.
fn upstream(error: &Error) -> Reply {
    let service_reply = |status: u16, service: &str, e: &crate::error::ServiceError| Reply {
        status,
        body: json!({ "error": {
            "code": "upstream",
            "message": format!("{service} failed: {}", error.message()),
            "upstream": { "service": service, "status": e.status, "code": e.code, "request_id": e.request_id },
        } }),
    };
    let mut reply = match error {
        Error::Kms(e) | Error::Sts(e) | Error::Github(e) => service_reply(502, service_name(e.service), e),
        // AWS's refusals of credentials come from KMS or STS alike.
        Error::CredentialsRejected(e) if matches!(e.service, Service::Kms | Service::Sts) => {
            service_reply(502, "aws", e)
        }
        Error::CredentialsRejected(e) => service_reply(502, service_name(e.service), e),
        Error::MalformedResponse(e) => {
            let mut reply = Reply::error(502, "upstream", error.message());
            reply.body["error"]["upstream"] = json!({
                "service": service_name(e.service), "status": e.status, "request_id": e.request_id,
            });
            reply
        }
        Error::Timeout(_) => Reply::error(504, "upstream_timeout", error.message()),
        Error::Transport(_) | Error::InvalidInput(_) | Error::CredentialsMissing(_) => {
            Reply::error(502, "upstream", error.message())
        }
    };
    if let Some(attempts) = error.attempts() {
        reply.body["error"]["attempts"] = json!(attempts);
    }
    reply
}

/// The service's name in an answer's `upstream` object.
fn service_name(service: Service) -> &'static str {
    match service {
        Service::Kms => "kms",
        Service::Sts => "sts",
        Service::Github => "github",
        Service::Oidc => "oidc",
        Service::Vault => "vault",
        Service::GoogleKms => "google-kms",
        Service::GoogleSts => "google-sts",
        Service::GoogleIam => "google-iam",
        Service::KeyVault => "key-vault",
        Service::EntraId => "entra-id",
    }
}

/// A `POST /token` request, as the handler read it.
pub struct Call<'a> {
    /// The `Authorization` header: the caller's ID token.
    pub authorization: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The body, at most [`MAX_BODY_BYTES`].
    pub body: &'a [u8],
}

/// What the host provides for one request.
pub struct Host<'a, F> {
    /// The transport for a deadline: the body's `timeout_seconds` when
    /// shorter than the deployment's.
    pub transport: F,
    /// What outlives the request: the caches.
    pub store: &'a dyn Store,
    /// Random numbers, for the nonces of sealed cache entries.
    pub random: fn() -> u64,
    /// The time of the request.
    pub now: SystemTime,
}

/// `call` answered by `broker` (else why it is unusable, for the log):
/// every refusal is a [`Reply`] too, and every answer comes with its audit
/// record.
pub fn token<T: Transport>(
    broker: Result<&Broker, &ConfigError>,
    call: &Call,
    host: Host<impl FnOnce(Duration) -> T>,
) -> (Reply, Audit) {
    let mut audit = Audit::default();
    let decide = || -> Result<Reply, Reply> {
        // A missing or invalid configuration fails every request, whatever it asks.
        let broker = broker.map_err(|problem| {
            audit.detail = Some(problem.to_string());
            Reply::error(500, "configuration", "the broker is not configured correctly: its log says why")
        })?;
        let (ask, timeout) = ask(call.content_type, call.body)?;
        let longest = broker.deployment.timeout;
        let http = &(host.transport)(timeout.map_or(longest, |secs| longest.min(Duration::from_secs(secs))));
        let cache = Cache::new(host.store, broker.cache_key.as_ref(), broker.cache_tokens, host.random);
        let (policy, audience, now) = (&broker.policy, &broker.audience, unix_secs(host.now));
        let claims = caller::verify(call.authorization, policy, audience, http, &cache, now);
        audit.cache = cache.outcomes();
        let claims = claims.map_err(|reason| {
            audit.reason = Some(reason.to_string());
            Reply::error(401, "unauthorized", UNVERIFIED)
        })?;
        audit.caller(&claims);
        let grant = broker.policy.decide(&claims, &ask).map_err(|refusal| {
            let (rule, message) = match refusal {
                Refusal::NoRule => (None, "no rule of the trust policy admits this caller".to_owned()),
                Refusal::NotGranted { rule, why } => {
                    (Some(rule), format!("the trust policy does not allow this request: {why}"))
                }
            };
            audit.rule = rule;
            Reply::error(403, "forbidden", message)
        })?;
        audit.rule = Some(grant.rule);
        audit.grant = Some(grant.clone());
        // What the grant names is the request's (a claim may hold a name
        // GitHub cannot take): a 400, not the deployment's 500.
        let asked = Target::new(grant.installation, &grant.repositories, None, &grant.permissions)
            .map_err(|e| Reply::error(400, "bad_request", e.message()))?;
        let minted = installation_tokens(&broker.deployment, &[asked], http, host.now, &cache);
        audit.cache = cache.outcomes();
        let minted = minted.map_err(|e| upstream(&e))?;
        let minted = minted.first().ok_or_else(|| Reply::error(502, "upstream", "no token was minted"))?;
        audit.token(minted.token.expose());
        Ok(Reply::ok(minted.to_json()))
    };
    let reply = decide().unwrap_or_else(|refusal| refusal);
    (reply, audit)
}
