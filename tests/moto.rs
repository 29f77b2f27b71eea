//! The component against moto, an independent implementation of KMS that
//! checks request signatures: a real key created there signs the App JWT,
//! and its public half (from `GetPublicKey`) verifies it.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use standins::github::Github;
use standins::process::{Owned, free_port, listening};
use standins::rsa::RsaPublicKey;
use standins::rsa::pkcs8::DecodePublicKey;

/// A moto server on a loopback port; killed on drop.
struct Moto {
    _process: Owned,
    url: String,
}

/// `moto_server` from `MOTO_SERVER`, else from the virtual environment `make tools` creates.
fn moto_server() -> PathBuf {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/target/venv/bin/moto_server");
    standins::tool(venv, Some("MOTO_SERVER"), "tools")
}

fn start_moto() -> Moto {
    let port = free_port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .env("INITIAL_NO_AUTH_ACTION_COUNT", "3")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { _process: Owned(child), url: format!("http://127.0.0.1:{port}") };
    listening("moto_server", port);
    moto
}

/// What `tests/moto/setup_kms.py` made in moto.
struct Setup {
    region: String,
    access_key_id: String,
    secret_access_key: String,
    key_arn: String,
    public_key: RsaPublicKey,
}

fn setup(moto: &Moto) -> Setup {
    let python = moto_server().with_file_name("python");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/moto/setup_kms.py");
    let out = Command::new(python).arg(script).arg(&moto.url).output().expect("python runs");
    assert!(out.status.success(), "setup_kms.py failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON from setup_kms.py");
    let field = |k: &str| v[k].as_str().unwrap().to_owned();
    let der = STANDARD.decode(field("public_key_der")).unwrap();
    Setup {
        region: field("region"),
        access_key_id: field("access_key_id"),
        secret_access_key: field("secret_access_key"),
        key_arn: field("key_arn"),
        public_key: RsaPublicKey::from_public_key_der(&der)
            .expect("GetPublicKey returns an RSA SubjectPublicKeyInfo"),
    }
}

fn env(moto: &Moto, s: &Setup, secret: &str) -> Vec<(String, String)> {
    [
        ("APP_ID", "4242"),
        ("KMS_KEY_ID", "alias/github-app"),
        ("AWS_REGION", &s.region),
        ("AWS_ACCESS_KEY_ID", &s.access_key_id),
        ("AWS_SECRET_ACCESS_KEY", secret),
        ("AWS_ENDPOINT_URL", &moto.url),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn moto_kms_signs_the_jwt_and_github_accepts_it() {
    let moto = start_moto();
    let s = setup(&moto);

    // create-app-jwt: signed by moto's key, verified with its public half.
    let mut instance = host().instance(&env(&moto, &s, &s.secret_access_key)).unwrap();
    let jwt_request = AppJwtRequest {
        app_id: None,
        key: None,
        kms_key_id: Some(s.key_arn.clone()),
        aws_region: None,
        timeout_seconds: None,
    };
    let jwt = instance.create_app_jwt(&jwt_request).unwrap().expect("moto signs");
    let claims = standins::github::verify_rs256(&s.public_key, &jwt.jwt)
        .expect("the JWT verifies with GetPublicKey's key");
    assert_eq!(claims["iss"], 4242);

    // The whole flow: moto's KMS, the GitHub stand-in trusting moto's key.
    let github =
        Github::start("", 4242, "Iv23liMoto", s.public_key.clone(), standins::world::installations());
    let mut env = env(&moto, &s, &s.secret_access_key);
    env.push(("GITHUB_API_URL".into(), github.url()));
    let token = mint(&env, &request(owner("octocat"))).0.expect("a token signed by moto's KMS");
    assert_eq!(token.installation_id, 1002);
    assert_eq!(github.issued()[0].token, token.token);
}

#[test]
fn moto_refuses_a_wrong_secret() {
    let moto = start_moto();
    let s = setup(&moto);
    let wrong = standins::random_hex(20);
    let mut instance = host().instance(&env(&moto, &s, &wrong)).unwrap();
    let request =
        AppJwtRequest { app_id: None, key: None, kms_key_id: None, aws_region: None, timeout_seconds: None };
    let err = instance.create_app_jwt(&request).unwrap().unwrap_err();
    assert!(matches!(err, TokenError::CredentialsRejected(_)), "{err:?}");
    let e = service_error(&err);
    assert!(e.status == 400 || e.status == 403, "{e:?}");
    assert!(!format!("{err:?}").contains(&wrong));
}
