//! The token broker served by the real `wasmtime serve`, against the
//! stand-ins and a local OIDC issuer: every security case, the happy paths,
//! and the audit line each decision writes to stderr.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{Env, assert_no_secret, wasm_path, with};
use serde_json::{Value, json};
use standins::client::{Answer, send};
use standins::oidc::KID;
use standins::process::{Group, Served};
use standins::world::World;

/// The audience callers' tokens must carry.
const AUDIENCE: &str = "github-app-kms-token";

/// `wasmtime serve -S cli` of the component on a port the OS picks; killed on drop.
struct Serve(Served, std::cell::Cell<usize>);

impl Serve {
    fn start(env: &Env) -> Serve {
        Serve(standins::process::wasmtime_serve(&wasm_path(), env), Default::default())
    }

    /// Every audit line so far, parsed (`wasmtime serve` prefixes the
    /// guest's stderr lines).
    fn audit_lines(&self) -> Vec<Value> {
        let log = self.0.log.lock().unwrap();
        log.iter()
            .filter_map(|line| serde_json::from_str::<Value>(&line[line.find('{')?..]).ok())
            .filter(|v| v["event"] == "token")
            .collect()
    }

    /// The audit line of the next decision, waiting a moment for stderr.
    fn audit(&self) -> Value {
        for _ in 0..100 {
            if let Some(line) = self.audit_lines().get(self.1.get()) {
                self.1.set(self.1.get() + 1);
                return line.clone();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("no audit line for decision {}", self.1.get() + 1);
    }

    fn authority(&self) -> &str {
        &self.0.authority
    }

    fn post(&self, token: Option<&str>, body: &str) -> Answer {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(b) = &bearer {
            headers.push(("authorization", b.as_str()));
        }
        send(self.authority(), "POST", "/token", &headers, body.as_bytes()).expect("an answer")
    }
}

/// `jco serve` (Node.js) on a free loopback port; killed on drop. The
/// component sees the whole process environment there, so it is cleared.
struct Jco {
    _process: Group,
    authority: String,
}

impl Jco {
    fn start(env: &Env) -> Jco {
        let pinned = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/node_modules/.bin/jco");
        let jco = standins::tool(pinned, Some("JCO"), "build-tools");
        let port = standins::process::free_port();
        let child = Group::spawn(
            Command::new(jco)
                .arg("serve")
                .arg(wasm_path())
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .env("HOME", std::env::temp_dir())
                .envs(env.iter().cloned())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .expect("jco serve starts");
        let jco = Jco { _process: child, authority: format!("127.0.0.1:{port}") };
        for _ in 0..240 {
            if send(&jco.authority, "GET", "/healthz", &[], b"").is_ok_and(|a| a.status == 200) {
                return jco;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("jco serve did not answer /healthz within 60 s");
    }
}

fn policy(world: &World) -> String {
    json!({"rules": [{
        "issuer": world.oidc.issuer(),
        "claims": {"repository_owner": "octo-org", "ref": "refs/heads/*"},
        "owner": "octo-org",
        "repositories": ["widgets", "docs"],
        "permissions": {"contents": "write", "issues": "read"},
    }]})
    .to_string()
}

fn broker_env(world: &World) -> Env {
    with(&world.env(), &[("TRUST_POLICY", Some(&policy(world))), ("OIDC_AUDIENCE", Some(AUDIENCE))])
}

fn caller(world: &World) -> String {
    world.oidc.id_token(AUDIENCE)
}

fn error_code(answer: &Answer) -> String {
    answer.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn health_and_routes() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let health = send(serve.authority(), "GET", "/healthz", &[], b"").unwrap();
    assert_eq!((health.status, health.json()), (200, json!({"status": "ok"})));
    assert_eq!(send(serve.authority(), "GET", "/nope", &[], b"").unwrap().status, 404);
    assert_eq!(send(serve.authority(), "GET", "/token", &[], b"").unwrap().status, 405);
    assert_eq!(send(serve.authority(), "POST", "/healthz", &[], b"").unwrap().status, 405);
    assert_eq!(world.oidc.key_fetches() + world.kms.signatures() + world.github.seen().len(), 0);
    assert!(serve.audit_lines().is_empty(), "only /token decisions are audited");
}

/// The first 12 hex digits of `token`'s SHA-256, as the audit line has it.
fn sha256_prefix(token: &str) -> String {
    standins::sha256_hex(token.as_bytes())[..12].to_owned()
}

/// The classic 40-character format (GHES): minted, hashed in the audit
/// line, as the stateless one is in the test below.
#[test]
fn the_classic_token_format_is_minted_and_audited_alike() {
    let world = World::start("");
    world.github.set_token_format(standins::github::TokenFormat::Classic);
    let serve = Serve::start(&broker_env(&world));
    let answer = serve.post(Some(&caller(&world)), "{}");
    let token = world.github.issued()[0].token.clone();
    assert_eq!(
        (answer.status, token.len(), answer.json()["token"].as_str()),
        (200, 40, Some(token.as_str()))
    );
    assert_eq!(serve.audit()["token_sha256"], sha256_prefix(&token).as_str());
}

#[test]
fn mints_exactly_what_the_request_asks_within_the_grant() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let answer = serve
        .post(Some(&caller(&world)), r#"{"repositories": ["widgets"], "permissions": {"contents": "read"}}"#);
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let v = answer.json();
    let issued = world.github.issued();
    assert_eq!(v["token"], issued[0].token.as_str());
    assert_eq!(
        (v["installation_id"].as_u64(), &v["permissions"]),
        (Some(1001), &json!({"contents": "read"}))
    );
    assert_eq!(issued[0].repositories, ["widgets"]);
    assert_eq!(
        issued[0].permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        ["contents:read"]
    );
    let audit = serve.audit();
    assert_eq!(
        audit,
        json!({
            "time": audit["time"], "event": "token", "outcome": "granted", "status": 200,
            "caller": {
                "iss": world.oidc.issuer(), "sub": "repo:octo-org/widgets:ref:refs/heads/main",
                "repository": "octo-org/widgets",
                "job_workflow_ref": "octo-org/widgets/.github/workflows/ci.yml@refs/heads/main",
            },
            "rule": 1, "owner": "octo-org", "repositories": ["widgets"], "permissions": {"contents": "read"},
            "token_sha256": sha256_prefix(&issued[0].token),
            // An instance per request: nothing was kept from an earlier one.
            "cache": {"keys": "miss", "app_jwt": "miss", "installation": "miss"},
        })
    );
    assert!(audit["time"].as_str().is_some_and(|t| t.starts_with("20") && t.ends_with('Z')), "{audit}");

    // Asking for nothing gets the rule's grant, never the installation's all.
    let answer = serve.post(Some(&caller(&world)), "{}");
    assert_eq!(answer.status, 200);
    let issued = world.github.issued();
    assert_eq!(issued[1].repositories, ["widgets", "docs"]);
    assert_eq!(
        issued[1].permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        ["contents:write", "issues:read"]
    );
    let audit = serve.audit();
    assert_eq!(
        (&audit["repositories"], &audit["permissions"], &audit["token_sha256"]),
        (
            &json!(["widgets", "docs"]),
            &json!({"contents": "write", "issues": "read"}),
            &json!(sha256_prefix(&issued[1].token))
        )
    );
}

/// A token whose claims were changed after signing.
fn tampered(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["repository_owner"] = json!("octo-org");
    claims["ref"] = json!("refs/heads/evil");
    format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2])
}

/// `alg: HS256`, keyed with the issuer's public key (the classic confusion attack).
fn hs256_with_public_key(world: &World, claims: &Value) -> String {
    use hmac_sha256::sign;
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": "HS256", "typ": "JWT", "kid": KID}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let jwks = send(&world.oidc.issuer().replace("http://", ""), "GET", "/jwks", &[], b"").unwrap().body;
    let input = format!("{header}.{body}");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sign(&jwks, input.as_bytes())))
}

/// HMAC-SHA256, enough for the one attack above.
mod hmac_sha256 {
    pub fn sign(key: &[u8], data: &[u8]) -> Vec<u8> {
        use standins::sha256;
        let mut k = if key.len() > 64 { sha256(key) } else { key.to_vec() };
        k.resize(64, 0);
        let inner: Vec<u8> = k.iter().map(|b| b ^ 0x36).chain(data.iter().copied()).collect();
        let outer: Vec<u8> = k.iter().map(|b| b ^ 0x5c).chain(sha256(&inner)).collect();
        sha256(&outer)
    }
}

#[test]
fn callers_are_verified_before_anything_upstream() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let now = standins::time::now();
    let claims = |change: &dyn Fn(&mut Value)| {
        let mut c = world.oidc.claims(AUDIENCE);
        change(&mut c);
        c
    };
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let signed = |c: Value| world.oidc.sign(&rs256, &c);
    let none = {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "kid": KID}).to_string());
        format!("{header}.{}.", URL_SAFE_NO_PAD.encode(claims(&|_| ()).to_string()))
    };
    /// One caller: its token and body, and what the broker must answer.
    struct Case {
        name: &'static str,
        token: Option<String>,
        body: &'static str,
        status: u16,
        code: &'static str,
        /// In the answer's message, or for a 401 (whose message is always
        /// the same) in the audit line's reason.
        says: &'static str,
    }
    let unverified = |name, token: Option<String>, says| Case {
        name,
        token,
        body: "{}",
        status: 401,
        code: "unauthorized",
        says,
    };
    let forbidden = |name, token: String, body, says| Case {
        name,
        token: Some(token),
        body,
        status: 403,
        code: "forbidden",
        says,
    };
    let cases = [
        unverified("missing token", None, "no Authorization: Bearer <OIDC ID token> header"),
        unverified("malformed token", Some("not-a-jwt".into()), "not a well-formed JWT"),
        unverified("alg none", Some(none), "algorithm none is not accepted"),
        unverified(
            "HS256 with the public key",
            Some(hs256_with_public_key(&world, &claims(&|_| ()))),
            "algorithm HS256 is not accepted",
        ),
        unverified(
            "unknown kid",
            Some(world.oidc.sign(&json!({"alg": "RS256", "kid": "other"}), &claims(&|_| ()))),
            "(kid) is not in the issuer's JWKS",
        ),
        unverified("tampered payload", Some(tampered(&caller(&world))), "signature does not verify"),
        unverified("expired", Some(signed(claims(&|c| c["exp"] = json!(now - 120)))), "has expired"),
        unverified("not yet valid", Some(signed(claims(&|c| c["nbf"] = json!(now + 300)))), "not valid yet"),
        unverified(
            "wrong issuer",
            Some(signed(claims(&|c| c["iss"] = json!("https://token.actions.githubusercontent.com")))),
            "issuer is not trusted",
        ),
        unverified(
            "wrong audience",
            Some(signed(claims(&|c| c["aud"] = json!("sts.amazonaws.com")))),
            "not for this audience",
        ),
        forbidden(
            "no rule matches",
            signed(claims(&|c| c["ref"] = json!("refs/tags/v1"))),
            "{}",
            "no rule of the trust policy admits this caller",
        ),
        forbidden(
            "more permissions",
            caller(&world),
            r#"{"permissions": {"contents": "admin"}}"#,
            "contents admin is not granted",
        ),
        forbidden(
            "other repositories",
            caller(&world),
            r#"{"repositories": ["gadgets"]}"#,
            "repository gadgets is not granted",
        ),
        forbidden("another owner", caller(&world), r#"{"owner": "octocat"}"#, "owner octocat is not granted"),
        Case {
            name: "malformed body",
            token: Some(caller(&world)),
            body: r#"{"permissions": ["contents"]}"#,
            status: 400,
            code: "bad_request",
            says: "not a valid token request",
        },
        Case {
            name: "unknown level",
            token: Some(caller(&world)),
            body: r#"{"permissions": {"contents": "owner"}}"#,
            status: 400,
            code: "bad_request",
            says: "a level other than read, write or admin",
        },
    ];
    let mut texts = Vec::new();
    for case in cases {
        let name = case.name;
        if let Some(token) = &case.token {
            standins::remember(token); // hand-made tokens are secrets too
        }
        if name == "unknown kid" {
            assert_eq!(world.oidc.key_fetches(), 0, "tokens refused on sight fetch nothing from the issuer");
        }
        let answer = serve.post(case.token.as_deref(), case.body);
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (case.status, case.code),
            "{name}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let message = answer.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
        texts.push(String::from_utf8_lossy(&answer.body).into_owned());

        // Its audit line: the outcome, why, and who asked once verified.
        let audit = serve.audit();
        assert_eq!(
            (
                audit["outcome"].as_str(),
                audit["status"].as_u64(),
                audit["code"].as_str(),
                audit["message"].as_str()
            ),
            (Some("refused"), Some(u64::from(case.status)), Some(case.code), Some(message.as_str())),
            "{name}: {audit}"
        );
        if case.status == 401 {
            assert_eq!(message, "the caller's token could not be verified", "{name}: one text for all");
            let reason = audit["reason"].as_str().unwrap_or_default();
            assert!(reason.contains(case.says), "{name}: {audit}");
        } else {
            assert!(message.contains(case.says), "{name}: {message}");
        }
        assert_eq!(audit["caller"]["sub"].is_string(), case.status == 403, "{name}: {audit}");
        let decided_by_a_rule = case.status == 403 && name != "no rule matches";
        assert_eq!(audit["rule"].as_u64(), decided_by_a_rule.then_some(1), "{name}: {audit}");
        assert!(audit.get("token_sha256").is_none() && audit.get("owner").is_none(), "{name}: {audit}");
    }
    let big = format!(r#"{{"owner": "{}"}}"#, "a".repeat(64 * 1024));
    let answer = serve.post(Some(&caller(&world)), &big);
    assert_eq!((answer.status, error_code(&answer).as_str()), (400, "body_too_large"));
    assert_eq!(serve.audit()["code"], "body_too_large");
    let wrong_type =
        send(serve.authority(), "POST", "/token", &[("content-type", "text/plain")], b"{}").unwrap();
    assert_eq!((wrong_type.status, error_code(&wrong_type).as_str()), (400, "unsupported_media_type"));
    assert_eq!(serve.audit()["code"], "unsupported_media_type");

    assert_eq!(world.kms.signatures() + world.kms.rejections().len(), 0, "KMS was never called");
    assert!(world.github.seen().is_empty(), "GitHub was never called");
    texts.extend(serve.0.log.lock().unwrap().iter().cloned());
    assert_no_secret(&broker_env(&world), &texts);
}

#[test]
fn configuration_and_upstream_failures() {
    let world = World::start("");
    // Nothing of the configuration reaches the caller, with a token or without; the log says why.
    let plain = json!({"error": {"code": "configuration",
                                 "message": "the broker is not configured correctly: its log says why"}});
    let no_policy = Serve::start(&with(&broker_env(&world), &[("TRUST_POLICY", None)]));
    let answer = no_policy.post(Some(&caller(&world)), "{}");
    assert_eq!((answer.status, answer.json()), (500, plain.clone()));
    let audit = no_policy.audit();
    assert_eq!((audit["outcome"].as_str(), audit["status"].as_u64()), (Some("failed"), Some(500)));
    assert!(audit["detail"].as_str().unwrap().contains("TRUST_POLICY is not set"), "{audit}");
    for (policy, detail) in [
        (r#"{"rules": [{"permissions": {"contents": "read"}}]}"#, "claims must constrain something"),
        (
            r#"{"rules": [{"claims": {"repository_owner": "secret-org"}, "repositories": [], "permissions": {"contents": "read"}}]}"#,
            "TRUST_POLICY rule 1: repositories must not be empty",
        ),
    ] {
        let bad_policy = Serve::start(&with(&broker_env(&world), &[("TRUST_POLICY", Some(policy))]));
        for token in [None, Some(caller(&world))] {
            let answer = bad_policy.post(token.as_deref(), "{}");
            assert_eq!((answer.status, answer.json()), (500, plain.clone()));
            assert!(bad_policy.audit()["detail"].as_str().unwrap().contains(detail));
        }
    }
    assert!(world.github.issued().is_empty());

    let serve = Serve::start(&broker_env(&world));
    world.kms.set_fault(Some(standins::kms::Fault {
        status: 400,
        code: "DisabledException".into(),
        message: "disabled".into(),
    }));
    let answer = serve.post(Some(&caller(&world)), "{}");
    assert_eq!((answer.status, error_code(&answer).as_str()), (502, "upstream"));
    let upstream = &answer.json()["error"]["upstream"];
    assert_eq!(
        (upstream["service"].as_str(), upstream["code"].as_str()),
        (Some("kms"), Some("DisabledException"))
    );
    assert!(upstream["request_id"].as_str().is_some_and(|id| id.len() == 36));
    let audit = serve.audit();
    assert_eq!((audit["outcome"].as_str(), &audit["upstream"]), (Some("failed"), upstream));
    assert_eq!(audit["rule"], 1, "the grant was decided before KMS failed");
    world.kms.set_fault(None);

    // The issuer's keys cannot be fetched: nothing minted.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = format!("http://{closed}");
    let gone_policy = policy(&world).replace(&world.oidc.issuer(), &gone);
    let no_keys = Serve::start(&with(&broker_env(&world), &[("TRUST_POLICY", Some(&gone_policy))]));
    let mut claims = world.oidc.claims(AUDIENCE);
    claims["iss"] = json!(gone);
    let token = world.oidc.sign(&json!({"alg": "RS256", "kid": KID}), &claims);
    let answer = no_keys.post(Some(&token), "{}");
    // The caller is not verified: the same 401 as any other, naming nothing
    // of the configuration; the log names the endpoint.
    assert_eq!(
        (answer.status, answer.json()),
        (
            401,
            json!({"error": {"code": "unauthorized", "message": "the caller's token could not be verified"}})
        ),
    );
    let reason = no_keys.audit()["reason"].as_str().unwrap_or_default().to_owned();
    assert!(reason.starts_with(&format!("the issuer's keys could not be fetched from {gone}")), "{reason}");
    assert!(world.github.issued().is_empty());

    world.kms.server().inject(standins::server::Wire::Hang, 10);
    let slow = Serve::start(&with(&broker_env(&world), &[("TOKEN_TIMEOUT_SECONDS", Some("1"))]));
    let answer = slow.post(Some(&caller(&world)), "{}");
    assert_eq!((answer.status, error_code(&answer).as_str()), (504, "upstream_timeout"));
    assert_eq!((slow.audit()["status"].as_u64()), Some(504));
    let body: Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(body["error"]["attempts"], 1, "{body}");
    // A caller may ask for a shorter deadline than the deployment's 30 s.
    let started = std::time::Instant::now();
    let answer = serve.post(Some(&caller(&world)), r#"{"timeout_seconds": 1}"#);
    assert_eq!((answer.status, error_code(&answer).as_str()), (504, "upstream_timeout"));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the caller's 1 s deadline was kept");
}

/// A caller not yet verified cannot make the broker retry against its
/// issuer, and a rule naming `jwks_uri` costs one fetch instead of two.
#[test]
fn issuer_fetches_for_unverified_callers_are_bounded() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let unavailable = standins::server::Response::json(503, "application/json", &json!({"message": "busy"}));
    world.oidc.server().inject(standins::server::Wire::Answer(unavailable), 3);
    let before = world.oidc.server().requests();
    let answer = serve.post(Some(&caller(&world)), "{}");
    assert_eq!((answer.status, error_code(&answer).as_str()), (401, "unauthorized"));
    assert_eq!(world.oidc.server().requests() - before, 1, "one fetch, never retried");
    assert!(serve.audit()["reason"].as_str().unwrap_or_default().contains("answered HTTP 503"));
    world.oidc.server().heal();

    let mut direct: Value = serde_json::from_str(&policy(&world)).unwrap();
    direct["rules"][0]["jwks_uri"] = json!(world.oidc.jwks_uri());
    let one_fetch = Serve::start(&with(&broker_env(&world), &[("TRUST_POLICY", Some(&direct.to_string()))]));
    let (requests, discoveries) = (world.oidc.server().requests(), world.oidc.key_fetches());
    let answer = one_fetch.post(Some(&caller(&world)), r#"{"owner": "octocat"}"#);
    assert_eq!((answer.status, error_code(&answer).as_str()), (403, "forbidden"), "verified, then refused");
    assert_eq!(world.oidc.server().requests() - requests, 1, "the JWKS alone");
    assert_eq!(world.oidc.key_fetches(), discoveries, "no discovery");
}

/// Tokens with a `crit` header, without `iat`, or living longer than a
/// day are refused, and a body naming a key twice; through the real server.
#[test]
fn crit_headers_missing_iat_long_lives_and_repeated_keys_are_refused() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let rs256 = json!({"alg": "RS256", "typ": "JWT", "kid": KID});
    let claims = |change: &dyn Fn(&mut Value)| {
        let mut c = world.oidc.claims(AUDIENCE);
        change(&mut c);
        c
    };
    let now = standins::time::now();
    for (case, token, says) in [
        (
            "crit header",
            world.oidc.sign(&json!({"alg": "RS256", "kid": KID, "crit": ["exp"]}), &claims(&|_| ())),
            "crit header",
        ),
        (
            "no iat",
            world.oidc.sign(
                &rs256,
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("iat");
                }),
            ),
            "no iat",
        ),
        (
            "a week long",
            world.oidc.sign(&rs256, &claims(&|c| c["iat"] = json!(now - 7 * 86_400))),
            "longer than 24 hours",
        ),
    ] {
        let answer = serve.post(Some(&token), "{}");
        assert_eq!((answer.status, error_code(&answer).as_str()), (401, "unauthorized"), "{case}");
        let audit = serve.audit();
        assert!(audit["reason"].as_str().unwrap_or_default().contains(says), "{case}: {audit}");
    }
    let twice = serve.post(Some(&caller(&world)), r#"{"owner": "octo-org", "owner": "octocat"}"#);
    assert_eq!((twice.status, error_code(&twice).as_str()), (400, "bad_request"));
    assert!(world.github.issued().is_empty());
}

#[test]
fn jco_serves_the_same_file() {
    let world = World::start("");
    let jco = Jco::start(&broker_env(&world));
    let token = caller(&world);
    let bearer = format!("Bearer {token}");
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let answer = send(
        &jco.authority,
        "POST",
        "/token",
        &headers,
        br#"{"repositories": ["docs"], "permissions": {"issues": "read"}}"#,
    )
    .unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    let issued = world.github.issued();
    assert_eq!(answer.json()["token"], issued[0].token.as_str());
    assert_eq!(issued[0].repositories, ["docs"]);

    let refused = send(&jco.authority, "POST", "/token", &headers, br#"{"owner": "octocat"}"#).unwrap();
    assert_eq!((refused.status, error_code(&refused).as_str()), (403, "forbidden"));
    let anonymous = send(&jco.authority, "POST", "/token", &headers[..1], b"{}").unwrap();
    assert_eq!((anonymous.status, error_code(&anonymous).as_str()), (401, "unauthorized"));
    assert_eq!(world.github.issued().len(), 1);
}

/// A caller that announces a body and sends it too slowly gets 408 within
/// the request's deadline, rather than holding an instance open.
#[test]
fn a_slow_sender_gets_408_within_the_deadline() {
    use std::io::{Read, Write};
    let world = World::start("");
    let serve = Serve::start(&with(&broker_env(&world), &[("TOKEN_TIMEOUT_SECONDS", Some("2"))]));
    let mut stream = std::net::TcpStream::connect(serve.authority()).unwrap();
    // A guard against a hang, not a measurement.
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let head = "POST /token HTTP/1.1\r\nhost: broker\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{";
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0; 4096];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).expect("an answer before the guard's 60 s");
        assert!(n > 0, "the connection closed without an answer");
        answer.extend_from_slice(&chunk[..n]);
    }
    let status_line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned();
    assert!(status_line.starts_with("HTTP/1.1 408"), "{status_line}");
    assert_eq!(serve.audit()["code"], "request_timeout");
    assert_eq!(world.oidc.server().requests() + world.kms.signatures(), 0, "nothing upstream");
}

/// Unauthenticated text (unknown body keys, a header's `alg`) never reaches
/// the audit line, and every line is plain ASCII whatever the caller sent.
#[test]
fn audit_lines_are_plain_ascii_and_echo_nothing_unauthenticated() {
    let world = World::start("");
    let serve = Serve::start(&broker_env(&world));
    let hostile = "evil\u{2028}line\u{85}next\u{9b}31mzebra";
    let body = json!({ hostile: 1, "owner": "octo-org" }).to_string();
    let answer = serve.post(Some(&caller(&world)), &body);
    assert_eq!((answer.status, error_code(&answer).as_str()), (400, "bad_request"));
    let audit = serve.audit();
    assert!(audit["message"].as_str().unwrap_or_default().contains("1 unknown field"), "{audit}");

    let header = json!({"alg": hostile, "kid": KID});
    let token = world.oidc.sign(&header, &world.oidc.claims(AUDIENCE));
    let answer = serve.post(Some(&token), "{}");
    assert_eq!(answer.status, 401);
    assert!(serve.audit()["reason"].as_str().unwrap_or_default().contains("algorithm (another)"));

    let log = serve.0.log.lock().unwrap().clone();
    let lines: Vec<&String> = log.iter().filter(|l| l.contains(r#""event":"token""#)).collect();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert!(line.bytes().all(|b| (0x20..0x7f).contains(&b)), "{line}");
        assert!(!line.contains("evil") && !line.contains("zebra"), "{line}");
    }
}

/// Where an instance lives on (here `jco serve`, one instance for every
/// request), forged tokens naming keys the issuer does not have cost it
/// no fetch within a minute of the last, and verified callers none while
/// its keys are fresh.
#[test]
fn forged_tokens_cost_the_issuer_no_fetch_where_the_instance_lives_on() {
    let world = World::start("");
    let jco = Jco::start(&broker_env(&world));
    let post = |token: &str| {
        let bearer = format!("Bearer {token}");
        let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
        send(&jco.authority, "POST", "/token", &headers, br#"{"owner": "octocat"}"#).unwrap().status
    };
    let before = world.oidc.server().requests();
    assert_eq!(post(&caller(&world)), 403, "verified, then refused by the policy");
    assert_eq!(world.oidc.server().requests() - before, 2, "discovery and keys, once");
    let forged =
        world.oidc.sign(&json!({"alg": "RS256", "kid": "not-the-issuers"}), &world.oidc.claims(AUDIENCE));
    for _ in 0..20 {
        assert_eq!(post(&forged), 401);
    }
    assert_eq!(post(&caller(&world)), 403);
    assert_eq!(
        world.oidc.server().requests() - before,
        2,
        "twenty forged tokens and a caller: no more fetches"
    );
}
