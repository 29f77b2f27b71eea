//! `POST /token` over a scripted transport: every status, the audit record,
//! and what a caller costs the issuer.

use super::*;
use crate::broker::idtoken::test_keys::{id_token, jwk, private};
use crate::net::retry::Retrying;
use crate::net::script::{Script, answer};
use crate::net::url::Url;
use crate::store::{Memory, Nothing};
use base64::Engine;
use std::time::UNIX_EPOCH;

#[test]
fn bodies_are_checked_before_anything_else() {
    let refused = |content_type: Option<&str>, body: &[u8]| Reply::from(ask(content_type, body).unwrap_err());
    assert_eq!(refused(Some("text/plain"), b"{}").status, 400);
    assert_eq!(refused(None, b"{}").body["error"]["code"], "unsupported_media_type");
    assert_eq!(
        refused(Some("application/json"), &vec![b' '; MAX_BODY_BYTES + 1]).body["error"]["code"],
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
        assert_eq!(refused(Some("application/json"), bad).status, 400, "{}", String::from_utf8_lossy(bad));
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
        cache_key: None,
        cache_tokens: false,
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
    broker: Result<&Broker, &ConfigError>,
    bearer: Option<&str>,
    body: &str,
    script: &Script,
) -> (Reply, Audit) {
    post_at(broker, bearer, body, script, &Nothing, NOW)
}

/// [`post`] with `store` at `now` (seconds since the Unix epoch).
fn post_at(
    broker: Result<&Broker, &ConfigError>,
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
    let call = Call { authorization: authorization.as_deref(), content_type: Some("application/json"), body };
    token(broker, &call, Host { transport: retrying, store, random: || 7, now })
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
    let problem = ConfigError::Policy(PolicyError::Rule {
        index: 1,
        problem: crate::broker::policy::RuleError::RepositoriesEmpty,
    });
    let detail = "TRUST_POLICY rule 1: repositories must not be empty";
    // Callers with no token at all, and with any token: the same plain answer.
    for token in [None, Some("a.b.c")] {
        let (reply, audit) = post(Err(&problem), token, "{}", &Script::default());
        assert_eq!(
            reply,
            Reply::error(500, "configuration", "the broker is not configured correctly: its log says why")
        );
        assert!(audit.detail.as_deref().is_some_and(|d| d.starts_with(detail)), "{audit:?}");
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
    let (reply, _) = post(Err(&ConfigError::NoAudience), Some(&caller), "{}", &Script::default());
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
    let script = Script::new([answer(503, &[], "busy"), answer(503, &[], "busy"), answer(503, &[], "busy")]);
    let (reply, audit) = post(Ok(&broker(json!([discovered]))), Some(&forged), "{}", &script);
    assert_eq!(reply, Reply::error(401, "unauthorized", UNVERIFIED));
    assert_eq!(
        audit.reason.as_deref(),
        Some(
            "the issuer's keys could not be fetched from https://idp.example/.well-known/openid-configuration: it answered HTTP 503"
        )
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
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","kid":"k9"}"#);
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
    let (reply, _) =
        post(Ok(&broker(json!([rule()]))), None, r#"{"owner": "acme", "owner": "evil"}"#, &Script::default());
    assert_eq!(reply.status, 400);
    assert!(reply.body["error"]["message"].as_str().unwrap().contains("given twice"), "{reply:?}");
}

/// After one request, a second for the same owner (here through the same
/// store, as another replica would share it) makes no issuer fetch, no KMS
/// call and no lookup: one GitHub mint; with tokens cached, none at all.
#[test]
fn a_warm_request_costs_one_upstream_call() {
    let key = private(2048);
    let caller = id_token(&key, &claims());
    let sealing = || {
        crate::cache::SealingKey::parse(
            "CACHE_KEY",
            &base64::engine::general_purpose::STANDARD.encode([4u8; 32]),
        )
        .unwrap()
    };
    let minted = || {
        answer(
            201,
            &[],
            r#"{"token":"ghs_warm","expires_at":"2027-01-15T09:00:00Z","repository_selection":"selected","repositories":[{"name":"infra"}]}"#,
        )
    };
    let signed = || answer(200, &[], &format!(r#"{{"Signature":"{}=="}}"#, "A".repeat(342)));
    for cache_tokens in [false, true] {
        let warm = Broker { cache_key: Some(sealing()), cache_tokens, ..broker(json!([rule()])) };
        let store = Memory::new();
        let cold = Script::new([
            answer(200, &[], &jwks(&key)),
            signed(),
            answer(200, &[], r#"{"id": 7}"#),
            minted(),
        ]);
        let (reply, audit) = post_at(Ok(&warm), Some(&caller), "{}", &cold, &store, NOW);
        assert_eq!((reply.status, cold.lines().len()), (200, 4), "{reply:?}");
        assert!(audit.cache.values().all(|v| *v == "miss"), "{:?}", audit.cache);

        let again = Script::new([minted()]);
        let (reply, audit) = post_at(Ok(&warm), Some(&caller), "{}", &again, &store, NOW + 30);
        assert_eq!(reply.body["token"], "ghs_warm");
        if cache_tokens {
            assert_eq!(again.lines().len(), 0, "the token itself was kept");
            assert_eq!(audit.cache.get("token"), Some(&"hit"));
        } else {
            assert_eq!(again.lines(), ["POST https://api.github.com/app/installations/7/access_tokens"]);
            let hits = [("app_jwt", "hit"), ("installation", "hit"), ("keys", "hit")];
            assert_eq!(audit.cache, std::collections::BTreeMap::from(hits));
        }
        let line = audit.line(reply.status, &reply.body, UNIX_EPOCH);
        assert!(line.contains(r#""cache":{"#) && !line.contains("ghs_warm"), "{line}");
    }
}
