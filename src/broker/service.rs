//! The broker as a service: routes, and `POST /token` decided and answered,
//! over a [`Transport`].
//!
//! Order of checks: the configuration (500), the request's shape (400), the
//! caller's ID token (401, before any KMS or GitHub call), the policy (403),
//! then minting exactly what was granted (400 when GitHub could not take
//! what the grant names, 502/504 when upstream fails). Every decision comes
//! with its [`Audit`] record.
//!
//! Fails closed: a configuration problem is a plain 500 whose detail goes to
//! the log only; a caller not yet verified costs at most two fetches from
//! its issuer (one when the rule names `jwks_uri`), never retried.

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value, json};

use crate::broker::audit::Audit;
use crate::broker::idtoken;
use crate::broker::keys::{self, Known, Lookup};
use crate::broker::policy::{Ask, Policy, Refusal, Rule};
use crate::broker::rs256::PublicKey;
use crate::error::{Error, Service};
use crate::github::names::{MAX_REPOSITORIES, check_owner, check_repository, permission};
use crate::json::Object;
use crate::mint::flow::installation_tokens;
use crate::mint::settings::{Deployment, Target};
use crate::net::http::{Method, Request, Response, Transport};
use crate::net::url::Url;
use crate::secret::Secret;
use crate::store::Store;
use crate::time::unix_secs;

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

/// The request body as an [`Ask`] and the deadline the caller asks for (in
/// seconds), or a 400 saying what is wrong. Every value is checked here,
/// before the caller is verified, and no error quotes the body: it is
/// anyone's text, and the error reaches the audit line.
fn ask(content_type: Option<&str>, body: &[u8]) -> Result<(Ask, Option<u64>), Reply> {
    let json_type = content_type
        .and_then(|t| t.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(Reply::error(400, "unsupported_media_type", "the body must be application/json"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(too_large());
    }
    let bad =
        |e: String| Reply::error(400, "bad_request", format!("the body is not a valid token request: {e}"));
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
    let parsed = Object::parse(body).map_err(bad)?;
    parsed
        .only(&["owner", "installation_id", "repositories", "permissions", "timeout_seconds"])
        .map_err(bad)?;
    let owner = parsed.str("owner").map_err(bad)?.map(str::to_owned);
    if owner.as_deref().is_some_and(|owner| check_owner("owner", owner).is_err()) {
        return Err(bad("`owner` is not a GitHub login".into()));
    }
    let installation_id = parsed.u64("installation_id").map_err(bad)?;
    if owner.is_some() && installation_id.is_some() {
        return Err(bad("give owner or installation_id, not both".into()));
    }
    let timeout = parsed.u64("timeout_seconds").map_err(bad)?;
    if timeout == Some(0) {
        return Err(bad("`timeout_seconds` must be at least 1".into()));
    }
    let repositories = parsed.strings("repositories").map_err(bad)?;
    if repositories.len() > MAX_REPOSITORIES
        || repositories.iter().any(|name| check_repository("repositories", name).is_err())
    {
        return Err(bad(format!("`repositories` must be at most {MAX_REPOSITORIES} bare repository names")));
    }
    let permissions = parsed
        .string_map("permissions")
        .map_err(bad)?
        .into_iter()
        .map(|(name, level)| {
            permission(&name, &level).ok_or_else(|| {
                bad("`permissions` names an unknown permission or a level other than read, write or admin".into())
            })
        })
        .collect::<Result<_, _>>()?;
    Ok((Ask { owner, installation_id, repositories, permissions }, timeout))
}

/// The answer to a body over [`MAX_BODY_BYTES`].
pub fn too_large() -> Reply {
    Reply::error(400, "body_too_large", format!("the body is larger than {MAX_BODY_BYTES} bytes"))
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
}

/// The answer to every configuration problem: nothing of the configuration
/// reaches a caller, who may not even have sent a token.
fn misconfigured(detail: String, audit: &mut Audit) -> Reply {
    audit.detail = Some(detail);
    Reply::error(500, "configuration", "the broker is not configured correctly: its log says why")
}

/// The one answer to every caller whose token could not be verified: why
/// goes to the audit line only, so that an anonymous caller learns nothing
/// of the policy (which issuers it trusts, which audience, which keys).
pub const UNVERIFIED: &str = "the caller's token could not be verified";

/// The bearer token of an `Authorization` header.
fn bearer(authorization: Option<&str>) -> Result<Secret, String> {
    authorization
        .and_then(|a| {
            a.get(..7).filter(|scheme| scheme.eq_ignore_ascii_case("bearer ")).map(|_| a[7..].trim())
        })
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or_else(|| "no Authorization: Bearer <OIDC ID token> header".into())
}

/// Verifies the caller's ID token: its trusted claims, else why not (for
/// the audit line). Only issuers the policy names are ever fetched, and
/// each at most once a minute ([`keys`]).
fn authenticate(
    authorization: Option<&str>,
    broker: &Broker,
    http: &impl Transport,
    store: &dyn Store,
    now: u64,
) -> Result<Map<String, Value>, String> {
    let token = bearer(authorization)?;
    let unverified = idtoken::decode(token.expose())?;
    let rule = unverified
        .issuer()
        .and_then(|iss| broker.policy.rule_for(iss))
        .ok_or("the token's issuer is not trusted")?;
    // Everything checkable without the key is checked before fetching it.
    unverified.precheck(&rule.issuer, &broker.audience, now)?;
    let kid = unverified.kid.as_deref().unwrap_or_default();
    let key = issuer_key(rule, kid, http, store, now)?;
    Ok(unverified.verify(&key, &rule.issuer, &broker.audience, now)?)
}

/// The key named `kid` of `rule`'s issuer: from fresh keys in `store`, else
/// fetched (at most once a minute per issuer, whatever the outcome).
fn issuer_key(
    rule: &Rule,
    kid: &str,
    http: &impl Transport,
    store: &dyn Store,
    now: u64,
) -> Result<PublicKey, String> {
    let at = keys::store_key(&rule.issuer);
    let known = Known::get(store, &at, now);
    match keys::lookup(known.as_ref(), kid, now) {
        Lookup::Found(key) => return Ok(key),
        Lookup::Refused(idtoken::Invalid(why)) => return Err(why),
        Lookup::Fetch => {}
    }
    let fetched = fetch_keys(rule, http);
    Known::after_fetch(known, fetched.as_ref().ok().map(|(jwks, ttl)| (jwks, *ttl)), now).set(store, &at);
    let (jwks, _) = fetched?;
    Ok(idtoken::key_in(&jwks, kid)?)
}

/// The issuer's JWKS (through its discovery document unless the rule names
/// `jwks_uri`) and how long to keep it. The token behind the fetch is not
/// verified yet: whoever sent it must not be able to make the broker retry
/// against the issuer, so each request is sent once.
fn fetch_keys(rule: &Rule, http: &impl Transport) -> Result<(Value, u64), String> {
    let fetch = |url: Url| -> Result<Response, String> {
        let request = Request {
            service: Service::Oidc,
            method: Method::Get,
            url,
            headers: vec![
                ("accept".into(), "application/json".into()),
                ("user-agent".into(), crate::USER_AGENT.into()),
            ],
            body: Vec::new(),
            retry: false,
        };
        let endpoint = request.url.to_string();
        let response = http.send(request).map_err(|e| match e {
            Error::Transport(t) | Error::Timeout(t) => {
                format!("the issuer's keys could not be fetched from {}: {}", t.endpoint, t.message)
            }
            Error::MalformedResponse(m) => {
                format!("the issuer's keys could not be read from {}: {}", m.endpoint, m.message)
            }
            other => other.message(),
        })?;
        if !response.is_success() {
            return Err(format!("the issuer answered HTTP {} at {endpoint}", response.status));
        }
        Ok(response)
    };
    let jwks_uri = match &rule.jwks_uri {
        Some(named) => named.clone(),
        None => {
            let issuer = Url::parse(&rule.issuer).map_err(|_| "the issuer is not a URL")?;
            let discovery = fetch(issuer.join("/.well-known/openid-configuration"))?;
            idtoken::jwks_uri(&discovery.body, &rule.issuer)?
        }
    };
    let answer = fetch(jwks_uri)?;
    let jwks = idtoken::parse_jwks(&answer.body)?;
    Ok((jwks, keys::ttl(answer.header("cache-control"))))
}

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
        Error::Kms(e) => service_reply(502, "kms", e),
        Error::Sts(e) => service_reply(502, "sts", e),
        Error::Github(e) => service_reply(502, "github", e),
        Error::CredentialsRejected(e) => service_reply(502, "aws", e),
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
    }
}

/// `POST /token` under `settings` (else why they are unusable, for the
/// log): every refusal is a [`Reply`] too, and every answer comes with its
/// audit record. `transport` gives the transport for a deadline: the body's
/// `timeout_seconds` when shorter than the deployment's. `store` keeps the
/// issuers' keys between requests.
pub fn token<T: Transport>(
    broker: Result<&Broker, &str>,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    transport: impl FnOnce(Duration) -> T,
    store: &dyn Store,
    now: SystemTime,
) -> (Reply, Audit) {
    let mut audit = Audit::default();
    let decide = |audit: &mut Audit| -> Result<Reply, Reply> {
        // A missing or invalid configuration fails every request, whatever it asks.
        let broker = broker.map_err(|detail| misconfigured(detail.to_owned(), audit))?;
        let (ask, timeout) = ask(content_type, body)?;
        let longest = broker.deployment.timeout;
        let http = &transport(timeout.map_or(longest, |secs| longest.min(Duration::from_secs(secs))));
        let unix_now = unix_secs(now);
        let claims = authenticate(authorization, broker, http, store, unix_now).map_err(|reason| {
            audit.reason = Some(reason);
            Reply::error(401, "unauthorized", UNVERIFIED)
        })?;
        audit.caller(&claims);
        let grant = broker.policy.decide(&claims, &ask).map_err(|refusal| match refusal {
            Refusal::NoRule => {
                Reply::error(403, "forbidden", "no rule of the trust policy admits this caller")
            }
            Refusal::NotGranted { rule, why } => {
                audit.rule = Some(rule);
                Reply::error(403, "forbidden", format!("the trust policy does not allow this request: {why}"))
            }
        })?;
        audit.rule = Some(grant.rule);
        audit.grant = Some(grant.clone());
        // What the grant names is the request's (a claim may hold a name
        // GitHub cannot take): a 400, not the deployment's 500.
        let bad_request = |e: Error| Reply::error(400, "bad_request", e.message());
        let asked = Target::new(grant.installation.clone(), &grant.repositories, None, &grant.permissions)
            .map_err(bad_request)?;
        let minted =
            installation_tokens(&broker.deployment, &[asked], http, now).map_err(|e| upstream(&e))?;
        let minted = minted.first().ok_or_else(|| Reply::error(502, "upstream", "no token was minted"))?;
        audit.token(minted.token.expose());
        Ok(Reply::ok(minted.to_json()))
    };
    let reply = decide(&mut audit).unwrap_or_else(|refusal| refusal);
    (reply, audit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::idtoken::test_keys::{id_token, jwk, private};
    use crate::net::retry::Retrying;
    use crate::net::script::{Script, answer};
    use crate::store::{Memory, Nothing};
    use base64::Engine;
    use std::time::UNIX_EPOCH;

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

    /// The issuer's JWKS: `key`'s public half.
    fn jwks(key: &rsa::RsaPrivateKey) -> String {
        json!({"keys": [jwk(key)]}).to_string()
    }

    const NOW: u64 = 1_800_000_000;
    const ISSUER: &str = "https://idp.example";

    fn claims() -> Value {
        json!({"iss": ISSUER, "aud": "broker", "sub": "deployer", "exp": NOW + 300, "iat": NOW - 10})
    }

    /// A broker with `rules` of `ISSUER`, App 42 minting at GitHub.
    fn broker(rules: Value) -> Broker {
        let policy = crate::broker::policy::parse(&json!({ "rules": rules }).to_string()).unwrap();
        Broker {
            policy,
            audience: "broker".into(),
            deployment: Deployment::example("https://api.github.com"),
        }
    }

    /// The rule the tests use: callers `deployer` of `ISSUER` get `acme`'s
    /// `infra`, reading contents.
    fn rule() -> Value {
        json!({"issuer": ISSUER, "jwks_uri": "https://idp.example/jwks", "claims": {"sub": "deployer"},
               "owner": "acme", "repositories": ["infra"], "permissions": {"contents": "read"}})
    }

    /// `POST /token` over `script`, retrying as the component does, keeping nothing.
    fn post(
        broker: Result<&Broker, &str>,
        bearer: Option<&str>,
        body: &str,
        script: &Script,
    ) -> (Reply, Audit) {
        post_at(broker, bearer, body, script, &Nothing, NOW)
    }

    /// [`post`] with `store` at `now` (seconds since the Unix epoch).
    fn post_at(
        broker: Result<&Broker, &str>,
        bearer: Option<&str>,
        body: &str,
        script: &Script,
        store: &dyn Store,
        now: u64,
    ) -> (Reply, Audit) {
        let authorization = bearer.map(|t| format!("Bearer {t}"));
        let retrying = |timeout: Duration| Retrying {
            inner: script,
            attempts: crate::net::retry::DEFAULT_ATTEMPTS,
            deadline: std::time::Instant::now() + timeout,
            random: || 0,
        };
        let now = UNIX_EPOCH + Duration::from_secs(now);
        let body = body.as_bytes();
        token(broker, authorization.as_deref(), Some("application/json"), body, retrying, store, now)
    }

    fn code(reply: &Reply) -> (u16, &str) {
        (reply.status, reply.body["error"]["code"].as_str().unwrap_or("none"))
    }

    #[test]
    fn routes() {
        assert_eq!(route("GET", "/healthz?probe=1"), Route::Health);
        assert_eq!(route("POST", "/token"), Route::Token);
        let Route::Refused(reply) = route("GET", "/token") else { panic!() };
        assert_eq!(code(&reply), (405, "method_not_allowed"));
        let Route::Refused(reply) = route("POST", "/tokens") else { panic!() };
        assert_eq!(code(&reply), (404, "not_found"));
        assert_eq!(health(), Reply { status: 200, body: json!({"status": "ok"}) });
    }

    #[test]
    fn configuration_problems_are_plain_500s_with_the_detail_in_the_log() {
        let detail = "TRUST_POLICY rule 1: repositories must not be empty";
        // Callers with no token at all, and with any token: the same plain answer.
        for token in [None, Some("a.b.c")] {
            let (reply, audit) = post(Err(detail), token, "{}", &Script::default());
            assert_eq!(
                reply,
                Reply::error(
                    500,
                    "configuration",
                    "the broker is not configured correctly: its log says why"
                )
            );
            assert_eq!(audit.detail.as_deref(), Some(detail));
            let line = audit.line(reply.status, &reply.body, UNIX_EPOCH);
            assert!(line.contains(detail) && line.contains(r#""outcome":"failed""#), "{line}");
        }
    }

    /// Every status the broker answers `POST /token` with, over a scripted transport.
    #[test]
    fn every_status() {
        let key = private(2048);
        let caller = id_token(&key, &claims());
        let forged = id_token(&private(2048), &claims());
        let keys = || answer(200, &[], &jwks(&key));
        let signed = || answer(200, &[], &format!(r#"{{"Signature":"{}=="}}"#, "A".repeat(342)));
        let lookup = || answer(200, &[], r#"{"id": 7, "app_slug": "kms-app"}"#);
        let minted = answer(
            201,
            &[],
            r#"{"token":"ghs_minted","expires_at":"2026-12-02T15:00:00Z","repository_selection":"selected","repositories":[{"name":"infra"}]}"#,
        );
        let timed_out = || {
            let url = Url::parse("https://api.github.com").unwrap();
            Err(Error::Timeout(crate::error::TransportError::new(Service::Github, &url, "no answer in time")))
        };
        let ok = broker(json!([rule()]));
        /// A case: its name, the bearer token, the body, the answers upstream, the status and code.
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            &'a str,
            Vec<crate::error::Result<crate::net::http::Response>>,
            (u16, &'a str),
        );
        let cases: Vec<Case> = vec![
            (
                "granted",
                Some(&caller),
                r#"{"repositories": ["infra"]}"#,
                vec![keys(), signed(), lookup(), minted],
                (200, "none"),
            ),
            ("a bad body", Some(&caller), r#"{"owner": 5}"#, vec![], (400, "bad_request")),
            ("no token", None, "{}", vec![], (401, "unauthorized")),
            ("a forged token", Some(&forged), "{}", vec![keys()], (401, "unauthorized")),
            ("a bad owner", Some(&caller), r#"{"owner": "a\nb"}"#, vec![], (400, "bad_request")),
            ("another owner", Some(&caller), r#"{"owner": "evil"}"#, vec![keys()], (403, "forbidden")),
            (
                "GitHub refuses",
                Some(&caller),
                "{}",
                vec![keys(), signed(), answer(404, &[], r#"{"message":"Not Found"}"#)],
                (502, "upstream"),
            ),
            (
                "GitHub never answers",
                Some(&caller),
                "{}",
                vec![keys(), signed(), timed_out(), timed_out(), timed_out()],
                (504, "upstream_timeout"),
            ),
        ];
        for (case, bearer, body, answers, expected) in cases {
            let script = Script::new(answers);
            let (reply, audit) = post(Ok(&ok), bearer, body, &script);
            assert_eq!(code(&reply), expected, "{case}: {reply:?}");
            if expected.0 == 200 {
                assert_eq!(reply.body["token"], "ghs_minted");
                assert_eq!(audit.token_sha256.as_deref().map(str::len), Some(12));
                assert!(
                    script.sent()[3]
                        .body
                        .starts_with(br#"{"permissions":{"contents":"read"},"repositories":["infra"]}"#)
                );
            }
        }
        let (reply, _) = post(Err("OIDC_AUDIENCE is not set"), Some(&caller), "{}", &Script::default());
        assert_eq!(code(&reply), (500, "configuration"));
        // A grant GitHub cannot take (the caller's own repository, by a
        // claim, is no repository name) is the request's fault, not the deployment's.
        let actions = crate::broker::policy::GITHUB_ACTIONS_ISSUER;
        let callers_own = broker(json!([{"issuer": actions, "jwks_uri": "https://idp.example/jwks",
            "claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}}]));
        let odd = id_token(
            &key,
            &json!({"iss": actions, "aud": "broker", "sub": "repo:acme/x", "exp": NOW + 300,
            "iat": NOW - 10, "repository_owner": "acme", "repository": "acme/not a name"}),
        );
        let (reply, _) = post(Ok(&callers_own), Some(&odd), "{}", &Script::new([keys()]));
        assert_eq!(code(&reply), (400, "bad_request"), "{reply:?}");
    }

    #[test]
    fn a_fetch_for_an_unverified_caller_is_never_retried() {
        let mut discovered = rule();
        discovered.as_object_mut().unwrap().remove("jwks_uri");
        let forged = id_token(&private(2048), &claims());
        // The issuer fails: one request, not three.
        let script =
            Script::new([answer(503, &[], "busy"), answer(503, &[], "busy"), answer(503, &[], "busy")]);
        let (reply, audit) = post(Ok(&broker(json!([discovered]))), Some(&forged), "{}", &script);
        assert_eq!(reply, Reply::error(401, "unauthorized", UNVERIFIED));
        assert_eq!(
            audit.reason.as_deref(),
            Some("the issuer answered HTTP 503 at https://idp.example/.well-known/openid-configuration")
        );
        assert_eq!(script.lines(), ["GET https://idp.example/.well-known/openid-configuration"]);
        let lost = || {
            Err(Error::Transport(crate::error::TransportError::new(
                Service::Oidc,
                &Url::parse(ISSUER).unwrap(),
                "connection refused",
            )))
        };
        let script = Script::new([lost(), lost(), lost()]);
        let (reply, audit) = post(Ok(&broker(json!([rule()]))), Some(&forged), "{}", &script);
        assert_eq!((reply.status, script.sent().len()), (401, 1));
        let reason = audit.reason.unwrap_or_default();
        assert!(
            reason.starts_with("the issuer's keys could not be fetched from https://idp.example"),
            "{reason}"
        );
    }

    /// No token, a malformed one, another issuer, another audience, an
    /// expired or forged token: one answer for all, the reason in the audit
    /// line only.
    #[test]
    fn every_unverified_caller_gets_the_same_answer() {
        let key = private(2048);
        let ok = broker(json!([rule()]));
        let with = |change: Value| {
            let mut claims = claims();
            claims.as_object_mut().unwrap().extend(change.as_object().unwrap().clone());
            id_token(&key, &claims)
        };
        let cases = [
            (None, vec![], "no Authorization"),
            (Some("not.a.jwt".to_owned()), vec![], "not a well-formed JWT"),
            (Some(with(json!({"iss": "https://other.example"}))), vec![], "issuer is not trusted"),
            (Some(with(json!({"aud": "someone else"}))), vec![], "not for this audience"),
            (Some(with(json!({"exp": NOW - 3600}))), vec![], "expired"),
            (Some(id_token(&private(2048), &claims())), vec![answer(200, &[], &jwks(&key))], "signature"),
        ];
        for (bearer, answers, reason) in cases {
            let (reply, audit) = post(Ok(&ok), bearer.as_deref(), "{}", &Script::new(answers));
            assert_eq!(reply, Reply::error(401, "unauthorized", UNVERIFIED), "{reason}");
            assert!(audit.reason.as_deref().is_some_and(|r| r.contains(reason)), "{reason}: {audit:?}");
        }
    }

    /// With a store, a caller costs no fetch while the issuer's keys are
    /// fresh, and forged tokens naming unknown keys cost one fetch a minute.
    #[test]
    fn issuer_keys_are_kept_and_refreshed_at_most_once_a_minute() {
        let key = private(2048);
        let store = Memory::new();
        let ok = broker(json!([rule()]));
        let caller = id_token(&key, &claims());
        let keys = || answer(200, &[("cache-control", "max-age=600")], &jwks(&key));
        let refused = r#"{"owner": "other"}"#; // 403 after verification: nothing minted
        let script = Script::new([keys()]);
        let (reply, _) = post_at(Ok(&ok), Some(&caller), refused, &script, &store, NOW);
        assert_eq!((reply.status, script.lines().len()), (403, 1), "the first caller fetches");
        let script = Script::default();
        let (reply, _) = post_at(Ok(&ok), Some(&caller), refused, &script, &store, NOW + 290);
        assert_eq!((reply.status, script.lines().len()), (403, 0), "fresh keys: no fetch");

        // Twenty forged tokens naming a key the issuer never had.
        let forged = {
            let token = id_token(&private(2048), &claims());
            let (_, rest) = token.split_once('.').unwrap();
            let header =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k9"}"#);
            format!("{header}.{rest}")
        };
        let script = Script::new((0..20).map(|_| keys()));
        for i in 0..20 {
            let (reply, _) = post_at(Ok(&ok), Some(&forged), "{}", &script, &store, NOW + 60 + i);
            assert_eq!(reply.status, 401);
        }
        assert_eq!(script.lines().len(), 1, "one fetch for twenty forged tokens in a minute");
        post_at(Ok(&ok), Some(&forged), "{}", &script, &store, NOW + 120);
        assert_eq!(script.lines().len(), 2, "and one more the next minute");
    }

    #[test]
    fn a_rule_naming_jwks_uri_costs_one_fetch() {
        let key = private(2048);
        let script = Script::new([answer(200, &[], &jwks(&key))]);
        let (reply, audit) = post(
            Ok(&broker(json!([rule()]))),
            Some(&id_token(&key, &claims())),
            r#"{"owner": "other"}"#,
            &script,
        );
        assert_eq!(code(&reply), (403, "forbidden"));
        assert_eq!(script.lines(), ["GET https://idp.example/jwks"]);
        assert_eq!((audit.rule, audit.caller["sub"].as_str()), (Some(1), Some("deployer")));
    }

    #[test]
    fn a_request_body_naming_a_key_twice_is_refused() {
        let (reply, _) = post(
            Ok(&broker(json!([rule()]))),
            None,
            r#"{"owner": "acme", "owner": "evil"}"#,
            &Script::default(),
        );
        assert_eq!(reply.status, 400);
        assert!(reply.body["error"]["message"].as_str().unwrap().contains("given twice"), "{reply:?}");
    }
}
