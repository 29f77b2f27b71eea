//! The token broker: `POST /token` decided and answered, over a [`Transport`].
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

use serde_json::{Value, json};

use crate::broker::audit::Audit;
use crate::broker::idtoken;
use crate::broker::policy::{Ask, Policy, Refusal};
use crate::error::{Error, Service};
use crate::github::names::known_permission;
use crate::json::Object;
use crate::mint::flow::installation_tokens;
use crate::mint::settings::{Deployment, TokenTarget, target};
use crate::net::http::{Method, Request, Transport};
use crate::net::url::Url;
use crate::secret::Secret;
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
        permissions
            .push(known_permission(&name, &level).map_err(|why| Reply::error(400, "bad_request", why))?);
    }
    if owner.is_some() && installation_id.is_some() {
        return Err(Reply::error(400, "bad_request", "give owner or installation_id, not both"));
    }
    let repositories = parsed.strings("repositories").map_err(bad)?;
    Ok((Ask { owner, installation_id, repositories, permissions }, timeout))
}

/// The broker's deployment settings.
#[derive(Debug)]
pub struct Settings {
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
    let trusted = unverified
        .issuer()
        .and_then(|iss| settings.policy.rule_for(iss))
        .ok_or_else(|| unauthorized("the token's issuer is not trusted"))?;
    let issuer = &trusted.issuer;
    // Everything checkable without the key is checked before fetching it.
    unverified
        .precheck(issuer, &settings.audience, now)
        .map_err(|idtoken::Invalid(why)| unauthorized(&why))?;
    // The token is not verified yet: whoever sent it must not be able to
    // make the broker retry against the issuer, so each fetch is sent once.
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
            retry: false,
        };
        let mut response = http.send(request).map_err(|e| upstream(&e))?;
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
    let jwks_uri = match &trusted.jwks_uri {
        Some(named) => named.clone(),
        None => {
            let issuer_url =
                Url::parse(issuer).map_err(|_| unauthorized("the token's issuer is not trusted"))?;
            let discovery = fetch(issuer_url.join("/.well-known/openid-configuration"))?;
            idtoken::jwks_uri(&discovery, issuer)
                .map_err(|idtoken::Invalid(why)| Reply::error(502, "upstream", why))?
        }
    };
    let jwks = fetch(jwks_uri)?;
    let key =
        idtoken::key(&jwks, unverified.kid.as_deref()).map_err(|idtoken::Invalid(why)| unauthorized(&why))?;
    unverified
        .verify(&key, issuer, &settings.audience, now)
        .map_err(|idtoken::Invalid(why)| unauthorized(&why))
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
/// `timeout_seconds` when shorter than the deployment's.
pub fn token<T: Transport>(
    settings: Result<&Settings, &str>,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    transport: impl FnOnce(Duration) -> T,
    now: SystemTime,
) -> (Reply, Audit) {
    let mut audit = Audit::default();
    let decide = |audit: &mut Audit| -> Result<Reply, Reply> {
        // A missing or invalid configuration fails every request, whatever it asks.
        let settings = settings.map_err(|detail| misconfigured(detail.to_owned(), audit))?;
        let (ask, timeout) = ask(content_type, body)?;
        let longest = settings.deployment.timeout;
        let http = &transport(timeout.map_or(longest, |secs| longest.min(Duration::from_secs(secs))));
        let unix_now = unix_secs(now);
        let claims = authenticate(authorization, settings, http, unix_now)?;
        audit.caller(&claims);
        let grant = settings.policy.decide(&claims, &ask).map_err(|refusal| match refusal {
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
        let installation = target(&grant.installation).map_err(bad_request)?;
        let asked = TokenTarget::new(installation, &grant.repositories, None, &grant.permissions)
            .map_err(bad_request)?;
        let minted =
            installation_tokens(&settings.deployment, &[asked], http, now).map_err(|e| upstream(&e))?;
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

    /// The broker's settings: `rules` of `ISSUER`, App 42 minting at GitHub.
    fn settings(rules: Value) -> Settings {
        let policy = crate::broker::policy::parse(&json!({ "rules": rules }).to_string()).unwrap();
        Settings {
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

    /// `POST /token` over `script`, retrying as the component does.
    fn post(
        settings: Result<&Settings, &str>,
        bearer: Option<&str>,
        body: &str,
        script: &Script,
    ) -> (Reply, Audit) {
        let authorization = bearer.map(|t| format!("Bearer {t}"));
        let retrying = |timeout: Duration| Retrying {
            inner: script,
            attempts: crate::net::retry::DEFAULT_ATTEMPTS,
            deadline: std::time::Instant::now() + timeout,
            random: || 0,
        };
        let now = UNIX_EPOCH + Duration::from_secs(NOW);
        token(settings, authorization.as_deref(), Some("application/json"), body.as_bytes(), retrying, now)
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
            r#"{"token":"ghs_minted","expires_at":"2026-12-02T15:00:00Z","repositories":[{"name":"infra"}]}"#,
        );
        let timed_out = || {
            let url = Url::parse("https://api.github.com").unwrap();
            Err(Error::Timeout(crate::error::TransportError::new(Service::Github, &url, "no answer in time")))
        };
        let ok = settings(json!([rule()]));
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
        let callers_own = settings(json!([{"issuer": actions, "jwks_uri": "https://idp.example/jwks",
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
        let (reply, _) = post(Ok(&settings(json!([discovered]))), Some(&forged), "{}", &script);
        assert_eq!(code(&reply), (502, "upstream"));
        assert_eq!(script.lines(), ["GET https://idp.example/.well-known/openid-configuration"]);
        let lost = || {
            Err(Error::Transport(crate::error::TransportError::new(
                Service::Oidc,
                &Url::parse(ISSUER).unwrap(),
                "connection refused",
            )))
        };
        let script = Script::new([lost(), lost(), lost()]);
        let (reply, _) = post(Ok(&settings(json!([rule()]))), Some(&forged), "{}", &script);
        assert_eq!((reply.status, script.sent().len()), (502, 1));
    }

    #[test]
    fn a_rule_naming_jwks_uri_costs_one_fetch() {
        let key = private(2048);
        let script = Script::new([answer(200, &[], &jwks(&key))]);
        let (reply, audit) = post(
            Ok(&settings(json!([rule()]))),
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
            Ok(&settings(json!([rule()]))),
            None,
            r#"{"owner": "acme", "owner": "evil"}"#,
            &Script::default(),
        );
        assert_eq!(reply.status, 400);
        assert!(reply.body["error"]["message"].as_str().unwrap().contains("given twice"), "{reply:?}");
    }
}
