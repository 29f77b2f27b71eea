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
use standins::process::{Owned, Served};
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
    _process: Owned,
    authority: String,
}

impl Jco {
    fn start(env: &Env) -> Jco {
        let jco = std::env::var_os("JCO").map(std::path::PathBuf::from).unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/node_modules/.bin/jco")
        });
        assert!(jco.exists(), "{} is missing: run `make tools`", jco.display());
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(jco)
            .arg("serve")
            .arg(wasm_path())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::temp_dir())
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("jco serve starts");
        let jco = Jco { _process: Owned(child), authority: format!("127.0.0.1:{port}") };
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
    let cases: Vec<(&str, Option<String>, &str, u16, &str)> = vec![
        ("missing token", None, "{}", 401, "unauthorized"),
        ("malformed token", Some("not-a-jwt".into()), "{}", 401, "unauthorized"),
        ("alg none", Some(none), "{}", 401, "unauthorized"),
        (
            "HS256 with the public key",
            Some(hs256_with_public_key(&world, &claims(&|_| ()))),
            "{}",
            401,
            "unauthorized",
        ),
        (
            "unknown kid",
            Some(world.oidc.sign(&json!({"alg": "RS256", "kid": "other"}), &claims(&|_| ()))),
            "{}",
            401,
            "unauthorized",
        ),
        ("tampered payload", Some(tampered(&caller(&world))), "{}", 401, "unauthorized"),
        ("expired", Some(signed(claims(&|c| c["exp"] = json!(now - 120)))), "{}", 401, "unauthorized"),
        ("not yet valid", Some(signed(claims(&|c| c["nbf"] = json!(now + 300)))), "{}", 401, "unauthorized"),
        (
            "wrong issuer",
            Some(signed(claims(&|c| c["iss"] = json!("https://token.actions.githubusercontent.com")))),
            "{}",
            401,
            "unauthorized",
        ),
        (
            "wrong audience",
            Some(signed(claims(&|c| c["aud"] = json!("sts.amazonaws.com")))),
            "{}",
            401,
            "unauthorized",
        ),
        (
            "no rule matches",
            Some(signed(claims(&|c| c["ref"] = json!("refs/tags/v1")))),
            "{}",
            403,
            "forbidden",
        ),
        (
            "more permissions",
            Some(caller(&world)),
            r#"{"permissions": {"contents": "admin"}}"#,
            403,
            "forbidden",
        ),
        ("other repositories", Some(caller(&world)), r#"{"repositories": ["gadgets"]}"#, 403, "forbidden"),
        ("another owner", Some(caller(&world)), r#"{"owner": "octocat"}"#, 403, "forbidden"),
        ("malformed body", Some(caller(&world)), r#"{"permissions": ["contents"]}"#, 400, "bad_request"),
        (
            "unknown level",
            Some(caller(&world)),
            r#"{"permissions": {"contents": "owner"}}"#,
            400,
            "bad_request",
        ),
    ];
    let mut texts = Vec::new();
    for (i, (case, token, body, status, code)) in cases.into_iter().enumerate() {
        if let Some(token) = &token {
            standins::remember(token); // hand-made tokens are secrets too
        }
        if i == 4 {
            assert_eq!(world.oidc.key_fetches(), 0, "tokens refused on sight fetch nothing from the issuer");
        }
        let answer = serve.post(token.as_deref(), body);
        assert_eq!(
            (answer.status, error_code(&answer).as_str()),
            (status, code),
            "{case}: {}",
            String::from_utf8_lossy(&answer.body)
        );
        let says = match case {
            "missing token" => "Bearer <OIDC ID token> header is required",
            "malformed token" => "not a well-formed JWT",
            "alg none" => "algorithm none is not accepted",
            "HS256 with the public key" => "algorithm HS256 is not accepted",
            "unknown kid" => "(kid) is not in the issuer's JWKS",
            "tampered payload" => "signature does not verify",
            "expired" => "has expired",
            "not yet valid" => "not valid yet",
            "wrong issuer" => "issuer is not trusted",
            "wrong audience" => "not for this audience",
            "no rule matches" => "no rule of the trust policy admits this caller",
            "more permissions" => "contents admin is not granted",
            "other repositories" => "repository gadgets is not granted",
            "another owner" => "owner octocat is not granted",
            "malformed body" => "not a valid token request",
            _ => "unknown level owner",
        };
        let message = answer.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert!(message.contains(says), "{case}: {message}");
        texts.push(String::from_utf8_lossy(&answer.body).into_owned());

        // Its audit line: the outcome, and who asked once verified.
        let audit = serve.audit();
        assert_eq!(
            (
                audit["outcome"].as_str(),
                audit["status"].as_u64(),
                audit["code"].as_str(),
                audit["message"].as_str()
            ),
            (Some("refused"), Some(u64::from(status)), Some(code), Some(message.as_str())),
            "{case}: {audit}"
        );
        assert_eq!(audit["caller"]["sub"].is_string(), status == 403, "{case}: {audit}");
        let decided_by_a_rule = status == 403 && case != "no rule matches";
        assert_eq!(audit["rule"].as_u64(), decided_by_a_rule.then_some(1), "{case}: {audit}");
        assert!(audit.get("token_sha256").is_none() && audit.get("owner").is_none(), "{case}: {audit}");
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

    // The issuer's keys cannot be fetched: 502, nothing minted.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let gone = format!("http://{closed}");
    let gone_policy = policy(&world).replace(&world.oidc.issuer(), &gone);
    let no_keys = Serve::start(&with(&broker_env(&world), &[("TRUST_POLICY", Some(&gone_policy))]));
    let mut claims = world.oidc.claims(AUDIENCE);
    claims["iss"] = json!(gone);
    let token = world.oidc.sign(&json!({"alg": "RS256", "kid": KID}), &claims);
    let answer = no_keys.post(Some(&token), "{}");
    assert_eq!(
        (answer.status, error_code(&answer).as_str()),
        (502, "upstream"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
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
    assert_eq!((answer.status, error_code(&answer).as_str()), (502, "upstream"));
    assert_eq!(world.oidc.server().requests() - before, 1, "one fetch, never retried");
    assert_eq!(serve.audit()["upstream"]["service"], "oidc");
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

/// What the broker review found in callers' tokens and policies, through the real server.
#[test]
fn review_findings_are_refused() {
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
        assert!(answer.json()["error"]["message"].as_str().unwrap().contains(says), "{case}");
        assert_eq!(serve.audit()["status"], 401);
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
