//! Every key store besides AWS KMS, through the real component in embedded
//! wasmtime and through `wasmtime run`: a stand-in per store that checks
//! what the real one checks, minting with static and keyless credentials,
//! retries, refusals with what to grant, a key of the wrong type, and a
//! signature that does not verify. Each call is also a leak check.

mod common;

use common::*;
use standins::azure::Fault as AzureFault;
use standins::google::Fault as GoogleFault;
use standins::process::wasmtime;
use standins::vault::{EC_KEY, Fault, Policy};
use standins::world::{VAULT_AUDIENCE, World};

const NAMESPACE: &str = "admin/platform";
const SIGNER: Policy = Policy { read: true, sign: true };

fn by_id() -> TokenRequest {
    request(Some(Installation::Id(1001)))
}

/// Mints with `env` (a 2 s deadline) while `server` never answers: the
/// call must end in a timeout within the deadline (and 10 s of grace for
/// instantiating on a busy machine: a bound that tells a hang, not a speed).
fn times_out(env: &Env, server: &standins::server::Server) -> TransportError {
    server.inject(standins::server::Wire::Hang, 10);
    let env = with(env, &[("TOKEN_TIMEOUT_SECONDS", Some("2"))]);
    let started = std::time::Instant::now();
    let (result, _) = mint(&env, &by_id());
    assert!(started.elapsed() < std::time::Duration::from_secs(12), "kept its deadline (10 s of grace)");
    match result {
        Err(TokenError::Timeout(e)) => e,
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Mints with `env`, which must end in a `kms` error (the store refused).
fn kms_error(env: &Env) -> ServiceError {
    match mint(env, &by_id()).0 {
        Err(TokenError::Kms(e)) => e,
        other => panic!("expected a kms error, got {other:?}"),
    }
}

/// Mints with `env`, which must end in a `malformed-response` (an answer,
/// or a signature, the component refused).
fn malformed_error(env: &Env) -> MalformedAnswer {
    match mint(env, &by_id()).0 {
        Err(TokenError::MalformedResponse(e)) => e,
        other => panic!("expected a malformed-response, got {other:?}"),
    }
}

/// The JWT GitHub saw verifies under the App's public key.
fn github_saw_a_valid_jwt(world: &World) {
    let jwts = world.github.jwts();
    assert!(!jwts.is_empty(), "GitHub saw no JWT");
    for jwt in jwts {
        let claims =
            standins::github::verify_rs256(&world.kms.public_key(), &jwt).expect("RS256 by the App's key");
        assert_eq!(claims["iss"], standins::world::APP_ID);
    }
}

#[test]
fn vault_mints_with_a_static_token_in_a_namespace() {
    let world = World::start("");
    let vault = world.vault(Some(NAMESPACE));
    let env = world.vault_env(&vault, Some(NAMESPACE), &vault.token(SIGNER));
    let (result, output) = mint(&env, &request(owner("octo-org")));
    let token = result.expect("a token");
    assert!(output.is_empty(), "{output}");
    assert_eq!(token.token, world.github.issued()[0].token);
    assert_eq!((vault.signed(), world.kms.signatures()), (1, 0), "Vault signed, KMS did not");
    assert_eq!(
        vault.seen(),
        ["GET /v1/transit/keys/github-app", "POST /v1/transit/sign/github-app/sha2-256"],
        "the key's public half once, then one signature"
    );
    github_saw_a_valid_jwt(&world);
}

#[test]
fn vault_mints_keyless_with_the_runners_id_token() {
    let world = World::start("");
    let vault = world.vault(None);
    let (result, _) = mint(&world.vault_keyless_env(&vault, None), &by_id());
    result.expect("a token");
    assert_eq!(world.oidc.audiences(), [VAULT_AUDIENCE], "the ID token asked for Vault's audience");
    assert_eq!(vault.logins(), 1);
    assert_eq!(vault.seen()[0], "POST /v1/auth/jwt/login");
    github_saw_a_valid_jwt(&world);
}

#[test]
fn vault_refuses_a_wrong_audience_at_login() {
    let world = World::start("");
    let vault = world.vault(None);
    // No VAULT_AUDIENCE: the runner's default, which this role does not list.
    let env = with(&world.vault_keyless_env(&vault, None), &[("VAULT_AUDIENCE", None)]);
    let (result, _) = mint(&env, &by_id());
    assert_eq!(world.oidc.audiences(), [standins::oidc::DEFAULT_AUDIENCE]);
    let Err(TokenError::Sts(e)) = result else { panic!("not refused at login: {result:?}") };
    assert_eq!((e.service, e.status), (Service::Vault, 400));
    assert_eq!(e.message, "error validating token: invalid audience (aud) claim");
    assert!(e.hint.as_deref().unwrap().contains("bound_audiences"), "{:?}", e.hint);
    assert!(world.github.seen().is_empty());
}

#[test]
fn vault_checks_the_token_and_the_namespace() {
    let world = World::start("");
    let vault = world.vault(Some(NAMESPACE));
    // A token Vault never issued.
    let env = world.vault_env(&vault, Some(NAMESPACE), "hvs.not-one-of-vaults");
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::CredentialsRejected(e)) = result else { panic!("{result:?}") };
    assert_eq!((e.service, e.status), (Service::Vault, 403));
    // A good token, outside its namespace.
    let env = world.vault_env(&vault, None, &vault.token(SIGNER));
    let e = kms_error(&env);
    assert_eq!((e.status, e.message.as_str()), (403, "permission denied"));
    assert_eq!(vault.signed(), 0);
}

#[test]
fn vault_403_is_not_retried_and_names_the_policy_to_grant() {
    let world = World::start("");
    let vault = world.vault(None);
    let env = world.vault_env(&vault, None, &vault.token(Policy { read: true, sign: false }));
    let e = kms_error(&env);
    assert_eq!((e.service, e.status, e.attempts), (Service::Vault, 403, 1));
    let hint = e.hint.unwrap();
    assert!(hint.contains("update on transit/sign/github-app/sha2-256"), "{hint}");
    assert_eq!(vault.seen().len(), 2, "sent once");
    assert!(world.github.seen().is_empty());
}

#[test]
fn vault_throttling_and_5xx_are_retried() {
    let world = World::start("");
    let vault = world.vault(None);
    let env = world.vault_env(&vault, None, &vault.token(SIGNER));
    let quota = Fault {
        status: 429,
        errors: vec!["request path \"transit/sign\": rate limit quota exceeded".into()],
    };
    vault.set_fault_times(quota, 1);
    mint(&env, &by_id()).0.expect("a token after a 429");
    vault.set_fault_times(Fault { status: 503, errors: vec!["Vault is sealed".into()] }, 2);
    mint(&env, &by_id()).0.expect("a token after two 503s");
    vault.set_fault(Some(Fault { status: 503, errors: vec!["Vault is sealed".into()] }));
    let e = kms_error(&env);
    assert_eq!((e.status, e.message.as_str(), e.attempts), (503, "Vault is sealed", 3));
}

#[test]
fn vault_refuses_a_key_that_is_not_rsa() {
    let world = World::start("");
    let vault = world.vault(None);
    let env = with(
        &world.vault_env(&vault, None, &vault.token(SIGNER)),
        &[("KEY", Some(&format!("hashivault://{EC_KEY}")))],
    );
    let e = kms_error(&env);
    assert_eq!(e.code.as_deref(), Some("UnsupportedKeyType"));
    assert!(e.message.starts_with("transit/keys/ec-key is a ecdsa-p256 key, not RSA"), "{}", e.message);
    assert!(e.request_id.is_some(), "Vault's request id is quoted");
    assert_eq!(vault.signed(), 0, "nothing signed");
}

#[test]
fn a_vault_signature_by_another_key_is_refused_before_github() {
    let world = World::start("");
    let vault = world.vault(None);
    vault.sign_with(Some(standins::issuer_key()));
    let env = world.vault_env(&vault, None, &vault.token(SIGNER));
    let e = malformed_error(&env);
    assert_eq!(e.service, Service::Vault);
    assert!(
        e.message.starts_with("the signature does not verify under version 1 of transit/keys/github-app")
    );
    assert!(world.github.seen().is_empty(), "GitHub never saw it");
}

#[test]
fn vault_through_wasmtime_run() {
    let world = World::start("");
    let vault = world.vault(Some(NAMESPACE));
    let env = world.vault_env(&vault, Some(NAMESPACE), &vault.token(SIGNER));
    let env: Env = env.into_iter().filter(|(k, _)| k != "KEY").collect();
    let mut command = wasmtime("run", &env);
    let key = format!("hashivault://{}", standins::vault::KEY);
    let output = command
        .args(["-S", "http"])
        .arg(wasm_path())
        .args(["--key", &key, "--installation-id", "1001"])
        .output()
        .expect("wasmtime runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_no_secret(&env, &[stderr.into_owned()]);
    let token = world.github.issued()[0].token.clone();
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{token}\n"));
    // Without a Vault token or login: one line naming what was tried.
    let env = with(&env, &[("VAULT_TOKEN", None)]);
    let output =
        wasmtime("run", &env).args(["-S", "http"]).arg(wasm_path()).args(["--key", &key]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("error: no credentials for the key store: tried 1. VAULT_TOKEN: not set;"),
        "{stderr}"
    );
}

#[test]
fn a_hanging_vault_times_out_within_the_deadline() {
    let world = World::start("");
    let vault = world.vault(None);
    let e = times_out(&world.vault_env(&vault, None, &vault.token(SIGNER)), vault.server());
    assert_eq!((e.service, e.endpoint.as_str()), (Service::Vault, vault.url().as_str()));
    assert!(world.github.seen().is_empty());
}

#[test]
fn malformed_vault_answers_are_named() {
    use standins::server::{Response as Answer, Wire};
    let world = World::start("");
    let vault = world.vault(None);
    let env = world.vault_env(&vault, None, &vault.token(SIGNER));
    let cases = [
        ("text/html", "<html>Bad gateway</html>", "key answer"),
        ("application/json", r#"{"data":{"type":"rsa-2048"}}"#, "latest_version"),
        ("application/json", r#"{"data":{"type":"rsa-2048","latest_version":1,"keys":{}}}"#, "no public_key"),
        (
            "application/json",
            r#"{"data":{"type":"rsa-2048","latest_version":1,"keys":{"1":{"public_key":"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"}}}}"#,
            "not a usable RSA key",
        ),
    ];
    for (content_type, body, what) in cases {
        let answer = Answer {
            status: 200,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        };
        vault.server().inject(Wire::Answer(answer), 1);
        let (result, _) = mint(&env, &by_id());
        let Err(TokenError::MalformedResponse(e)) = result else { panic!("{what}: {result:?}") };
        assert_eq!((e.service, e.status, e.attempts), (Service::Vault, 200, 1), "{what}");
        assert!(e.message.contains(what), "{what}: {}", e.message);
    }
    assert_eq!(vault.signed(), 0);
    assert!(world.github.seen().is_empty());
}

// Google Cloud KMS.

const GCP_DENIED: &str = "cloudkms.cryptoKeyVersions.useToSign";

fn gcp_fault(status: u16, name: &str) -> GoogleFault {
    GoogleFault { status, name: name.into(), message: format!("injected {name}") }
}

#[test]
fn google_mints_with_an_access_token() {
    let world = World::start("");
    let google = world.google();
    let (result, output) = mint(&world.google_env(&google, &google.token()), &request(owner("octo-org")));
    assert_eq!(result.expect("a token").token, world.github.issued()[0].token);
    assert!(output.is_empty(), "{output}");
    assert_eq!(
        google.seen(),
        [
            format!("GET /v1/{}/publicKey", standins::google::KEY_VERSION),
            format!("POST /v1/{}:asymmetricSign", standins::google::KEY_VERSION),
        ],
        "the public half once, then one signature"
    );
    assert_eq!((google.signed(), world.kms.signatures()), (1, 0));
    github_saw_a_valid_jwt(&world);
}

/// Keyless through `wasmtime run`: the external-account JSON that
/// google-github-actions/auth writes, read through `--dir`; STS, then the
/// service account impersonated.
#[test]
fn google_mints_keyless_with_workload_identity_federation() {
    let world = World::start("");
    let google = world.google();
    let folder = standins::temp_dir("gakt-gcp");
    let json = google.external_account(&world.oidc.request_url(), &world.request_token, true);
    std::fs::write(folder.join("credentials.json"), json).unwrap();
    let env = world.google_keyless_env(&google, std::path::Path::new("/var/run/gcp/credentials.json"));
    let preopen = format!("{}::/var/run/gcp", folder.display());
    let output = wasmtime("run", &env)
        .args(["-S", "http", "--dir", &preopen])
        .arg(wasm_path())
        .args(["--installation-id", "1001"])
        .output()
        .expect("wasmtime runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    assert_no_secret(&env, &[stderr]);
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{}\n", world.github.issued()[0].token));
    assert_eq!((google.exchanges(), google.impersonations(), google.signed()), (1, 1, 1));
    assert_eq!(google.audiences(), [format!("https://iam.googleapis.com/{}", standins::google::PROVIDER)]);
    github_saw_a_valid_jwt(&world);
}

#[test]
fn google_without_impersonation_is_denied_and_says_what_to_grant() {
    let world = World::start("");
    let google = world.google();
    let e = kms_error(&world.google_env(&google, &google.viewer_token()));
    assert_eq!(
        (e.service, e.status, e.code.as_deref(), e.attempts),
        (Service::GoogleKms, 403, Some("PERMISSION_DENIED"), 1)
    );
    assert!(e.message.contains(GCP_DENIED), "{}", e.message);
    assert!(e.hint.unwrap().contains("roles/cloudkms.signer"));
    assert_eq!(google.signed(), 0);
    assert!(world.github.seen().is_empty());
}

#[test]
fn google_throttling_and_5xx_are_retried() {
    let world = World::start("");
    let google = world.google();
    let env = world.google_env(&google, &google.token());
    google.set_fault_times(gcp_fault(429, "RESOURCE_EXHAUSTED"), 1);
    mint(&env, &by_id()).0.expect("a token after a 429");
    google.set_fault_times(gcp_fault(503, "UNAVAILABLE"), 2);
    mint(&env, &by_id()).0.expect("a token after two 503s");
    google.set_fault(Some(gcp_fault(503, "UNAVAILABLE")));
    let e = kms_error(&env);
    assert_eq!((e.status, e.code.as_deref(), e.attempts), (503, Some("UNAVAILABLE"), 3));
}

#[test]
fn google_refuses_a_key_that_is_not_rsa() {
    let world = World::start("");
    let google = world.google();
    let key = format!("gcpkms://{}", standins::google::EC_KEY_VERSION);
    let env = with(&world.google_env(&google, &google.token()), &[("KEY", Some(&key))]);
    let e = kms_error(&env);
    assert_eq!((e.service, e.code.as_deref()), (Service::GoogleKms, Some("UnsupportedKeyType")));
    assert!(
        e.message.ends_with("is EC_SIGN_P256_SHA256, not RSA_SIGN_PKCS1_*_SHA256: an App JWT is RS256"),
        "{}",
        e.message
    );
    assert_eq!(google.signed(), 0);
}

#[test]
fn an_unknown_google_key_version_is_named() {
    let world = World::start("");
    let google = world.google();
    let name = standins::google::KEY_VERSION.replace("cryptoKeyVersions/1", "cryptoKeyVersions/9");
    let env =
        with(&world.google_env(&google, &google.token()), &[("KEY", Some(&format!("gcpkms://{name}")))]);
    let e = kms_error(&env);
    assert_eq!((e.status, e.code.as_deref()), (404, Some("NOT_FOUND")));
    assert!(e.message.contains(&name), "{}", e.message);
    assert!(e.hint.unwrap().contains("no such key version"));
}

#[test]
fn a_google_signature_by_another_key_is_refused_before_github() {
    let world = World::start("");
    let google = world.google();
    google.sign_with(Some(standins::issuer_key()));
    let e = malformed_error(&world.google_env(&google, &google.token()));
    assert_eq!(e.service, Service::GoogleKms);
    assert!(e.message.starts_with("the signature does not verify under projects/acme-ci/"), "{}", e.message);
    assert!(world.github.seen().is_empty());
}

#[test]
fn google_refuses_an_unknown_token_as_credentials() {
    let world = World::start("");
    let google = world.google();
    let (result, _) = mint(&world.google_env(&google, "ya29.not-one-of-googles"), &by_id());
    let Err(TokenError::CredentialsRejected(e)) = result else { panic!("{result:?}") };
    assert_eq!((e.service, e.status, e.code.as_deref()), (Service::GoogleKms, 401, Some("UNAUTHENTICATED")));
}

#[test]
fn google_sts_refuses_a_wrong_audience() {
    let world = World::start("");
    let google = world.google();
    let folder = standins::temp_dir("gakt-gcp");
    let json = google.external_account(&world.oidc.request_url(), &world.request_token, false);
    // The runner's token asked for without the provider's audience.
    let json =
        json.replace(&format!("&audience=https://iam.googleapis.com/{}", standins::google::PROVIDER), "");
    std::fs::write(folder.join("credentials.json"), json).unwrap();
    let env = world.google_keyless_env(&google, std::path::Path::new("/var/run/gcp/credentials.json"));
    let preopen = format!("{}::/var/run/gcp", folder.display());
    let output = wasmtime("run", &env)
        .args(["-S", "http", "--dir", &preopen])
        .arg(wasm_path())
        .args(["--installation-id", "1001"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.starts_with(
            "error: Google STS refused the web identity: HTTP 400 invalid_grant: The audience in ID Token"
        ),
        "{stderr}"
    );
    assert_no_secret(&env, &[stderr]);
    assert!(world.github.seen().is_empty());
}

#[test]
fn a_hanging_google_times_out_within_the_deadline() {
    let world = World::start("");
    let google = world.google();
    let e = times_out(&world.google_env(&google, &google.token()), google.server());
    assert_eq!(e.service, Service::GoogleKms);
}

#[test]
fn malformed_google_answers_are_named() {
    use standins::server::{Response as Answer, Wire};
    let world = World::start("");
    let google = world.google();
    let env = world.google_env(&google, &google.token());
    for (body, what) in [
        ("<html>", "publicKey answer"),
        (r#"{"algorithm":"RSA_SIGN_PKCS1_2048_SHA256"}"#, "pem"),
        (r#"{"algorithm":"RSA_SIGN_PKCS1_2048_SHA256","pem":"x","pemCrc32c":"1"}"#, "pemCrc32c"),
    ] {
        let answer = Answer {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        };
        google.server().inject(Wire::Answer(answer), 1);
        let (result, _) = mint(&env, &by_id());
        let Err(TokenError::MalformedResponse(e)) = result else { panic!("{what}: {result:?}") };
        assert_eq!((e.service, e.attempts), (Service::GoogleKms, 1), "{what}");
        assert!(e.message.contains(what), "{what}: {}", e.message);
    }
    assert_eq!(google.signed(), 0);
}

// Azure Key Vault.

fn azure_fault(status: u16, code: &str) -> AzureFault {
    AzureFault { status, code: code.into(), message: format!("injected {code}") }
}

#[test]
fn azure_mints_with_a_client_secret() {
    let world = World::start("");
    let azure = world.azure();
    let (result, output) = mint(&world.azure_env(&azure), &request(owner("octo-org")));
    assert_eq!(result.expect("a token").token, world.github.issued()[0].token);
    assert!(output.is_empty(), "{output}");
    let key = standins::azure::KEY;
    let version = standins::azure::VERSION;
    assert_eq!(
        azure.seen(),
        [
            format!("POST /{}/oauth2/v2.0/token", standins::azure::TENANT),
            format!("GET /keys/{key}"),
            format!("POST /keys/{key}/{version}/sign"),
        ],
        "a token, the key once (its latest version), then one signature of that version"
    );
    assert_eq!((azure.issued(), azure.signed(), world.kms.signatures()), (1, 1, 0));
    github_saw_a_valid_jwt(&world);
}

#[test]
fn azure_mints_keyless_with_a_federated_credential() {
    let world = World::start("");
    let azure = world.azure();
    mint(&world.azure_keyless_env(&azure), &by_id()).0.expect("a token");
    assert_eq!(world.oidc.audiences(), ["api://AzureADTokenExchange"]);
    assert_eq!((azure.issued(), azure.signed()), (1, 1));
    github_saw_a_valid_jwt(&world);
}

#[test]
fn azure_refuses_a_federated_credential_for_another_subject() {
    let world = World::start("");
    let azure = world.azure();
    // The runner's token for another audience: Entra ID finds no matching record.
    let env = with(
        &world.azure_keyless_env(&azure),
        &[("AZURE_CLIENT_ID", Some("99999999-2222-3333-4444-555555555555"))],
    );
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::Sts(e)) = result else { panic!("{result:?}") };
    assert_eq!((e.service, e.code.as_deref()), (Service::EntraId, Some("unauthorized_client")));
    assert!(e.request_id.is_some(), "Entra ID's request id is quoted");
    assert!(world.github.seen().is_empty());
}

#[test]
fn azure_403_is_not_retried_and_names_the_role_to_grant() {
    let world = World::start("");
    let azure = world.azure();
    azure.grant_sign(false);
    let e = kms_error(&world.azure_env(&azure));
    assert_eq!(
        (e.service, e.status, e.code.as_deref(), e.attempts),
        (Service::KeyVault, 403, Some("ForbiddenByRbac"), 1)
    );
    assert!(e.hint.unwrap().contains("Key Vault Crypto User"));
    assert!(e.request_id.is_some(), "x-ms-request-id is quoted");
    assert_eq!(azure.signed(), 0);
    assert!(world.github.seen().is_empty());
}

#[test]
fn azure_throttling_and_5xx_are_retried() {
    let world = World::start("");
    let azure = world.azure();
    let env = world.azure_env(&azure);
    azure.set_fault_times(azure_fault(429, "Throttled"), 1);
    mint(&env, &by_id()).0.expect("a token after a 429");
    azure.set_fault_times(azure_fault(503, "ServiceUnavailable"), 2);
    mint(&env, &by_id()).0.expect("a token after two 503s");
    azure.set_fault(Some(azure_fault(500, "InternalError")));
    let e = kms_error(&env);
    assert_eq!((e.status, e.code.as_deref(), e.attempts), (500, Some("InternalError"), 3));
}

#[test]
fn azure_refuses_a_key_that_is_not_rsa() {
    let world = World::start("");
    let azure = world.azure();
    let key = format!("azurekms://{}/{}", azure.authority(), standins::azure::EC_KEY);
    let env = with(&world.azure_env(&azure), &[("KEY", Some(&key))]);
    let e = kms_error(&env);
    assert_eq!((e.service, e.code.as_deref()), (Service::KeyVault, Some("UnsupportedKeyType")));
    assert!(
        e.message.ends_with("/keys/ec-key is a EC-HSM key, not RSA: an App JWT is RS256"),
        "{}",
        e.message
    );
    assert_eq!(azure.signed(), 0);
}

#[test]
fn a_key_vault_signature_by_another_key_is_refused_before_github() {
    let world = World::start("");
    let azure = world.azure();
    azure.sign_with(Some(standins::issuer_key()));
    let e = malformed_error(&world.azure_env(&azure));
    assert_eq!(e.service, Service::KeyVault);
    assert!(
        e.message
            .starts_with("the signature does not verify under version 0123456789abcdef0123456789abcdef of"),
        "{}",
        e.message
    );
    assert!(world.github.seen().is_empty());
}

#[test]
fn an_unknown_key_version_is_named_with_key_vaults_message() {
    let world = World::start("");
    let azure = world.azure();
    let version = "ffffffffffffffffffffffffffffffff";
    let key = format!("azurekms://{}/{}/{version}", azure.authority(), standins::azure::KEY);
    let e = kms_error(&with(&world.azure_env(&azure), &[("KEY", Some(&key))]));
    assert_eq!((e.status, e.code.as_deref()), (404, Some("KeyNotFound")));
    assert!(e.message.contains(version), "{}", e.message);
    assert!(e.request_id.is_some());
    assert!(e.hint.unwrap().contains("no such key or version"));
}

#[test]
fn a_hanging_key_vault_times_out_within_the_deadline() {
    let world = World::start("");
    let azure = world.azure();
    let e = times_out(&world.azure_env(&azure), azure.server());
    assert_eq!(e.service, Service::EntraId, "the first request is Entra ID's");
}

#[test]
fn malformed_key_vault_answers_are_named() {
    let world = World::start("");
    let azure = world.azure();
    let env = world.azure_env(&azure);
    for (body, what) in [
        ("<html>", "key answer"),
        (r#"{"key":{"kty":"RSA","key_ops":["sign"]}}"#, "no kid"),
        (
            r#"{"key":{"kid":"https://v/keys/github-app/1","kty":"RSA","key_ops":["sign"],"n":"AQAB","e":"AQAB"}}"#,
            "not a usable RSA key",
        ),
    ] {
        azure.answer_key_with(Some(body));
        let (result, _) = mint(&env, &by_id());
        let Err(TokenError::MalformedResponse(e)) = result else { panic!("{what}: {result:?}") };
        assert_eq!((e.service, e.attempts), (Service::KeyVault, 1), "{what}");
        assert!(e.message.contains(what), "{what}: {}", e.message);
    }
    assert_eq!(azure.signed(), 0);
}

// Every store: the one-signature rule, in the command line's several
// owners and in the broker.

/// A store running: its scheme, the environment that points the component
/// at it (static credentials), and its signature count.
type Running = (&'static str, Env, Box<dyn Fn() -> usize>);

/// Each store besides AWS KMS, running.
fn every_store(world: &World) -> Vec<Running> {
    let google = std::rc::Rc::new(world.google());
    let azure = std::rc::Rc::new(world.azure());
    let vault = std::rc::Rc::new(world.vault(None));
    let token = vault.token(SIGNER);
    let (g, a, v) = (google.clone(), azure.clone(), vault.clone());
    vec![
        ("gcpkms", world.google_env(&google, &google.token()), Box::new(move || g.signed())),
        ("azurekms", world.azure_env(&azure), Box::new(move || a.signed())),
        ("hashivault", world.vault_env(&vault, None, &token), Box::new(move || v.signed())),
    ]
}

#[test]
fn several_owners_share_one_signature_in_every_store() {
    let world = World::start("");
    for (store, env, signed) in every_store(&world) {
        let output = wasmtime("run", &env)
            .args(["-S", "http"])
            .arg(wasm_path())
            .args(["--owner", "octo-org", "--owner", "octocat", "--format", "json"])
            .output()
            .expect("wasmtime runs");
        assert!(output.status.success(), "{store}: {}", String::from_utf8_lossy(&output.stderr));
        let tokens: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert!(tokens["octo-org"]["token"].is_string() && tokens["octocat"]["token"].is_string(), "{store}");
        assert_eq!(signed(), 1, "{store}: one signature for both owners");
    }
}

#[test]
fn the_broker_mints_with_every_store() {
    use standins::client::send;
    let world = World::start("");
    let policy = serde_json::json!({"rules": [{
        "issuer": world.oidc.issuer(),
        "claims": {"repository_owner": "octo-org"},
        "owner": "octo-org",
        "repositories": ["widgets"],
        "permissions": {"contents": "read"},
    }]});
    for (store, env, signed) in every_store(&world) {
        let env = with(
            &env,
            &[("TRUST_POLICY", Some(&policy.to_string())), ("OIDC_AUDIENCE", Some("github-app-kms-token"))],
        );
        let served = standins::process::wasmtime_serve(&wasm_path(), &env);
        let bearer = format!("Bearer {}", world.oidc.id_token("github-app-kms-token"));
        let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
        for _ in 0..2 {
            let answer = send(&served.authority, "POST", "/token", &headers, b"{}").expect("an answer");
            let log = served.log.lock().unwrap().join("\n");
            assert_eq!(answer.status, 200, "{store}: {}\n{log}", String::from_utf8_lossy(&answer.body));
        }
        // An instance per request under `wasmtime serve`: each signs once.
        assert_eq!(signed(), 2, "{store}");
        let log = served.log.lock().unwrap().join("\n");
        assert_no_secret(&env, &[log]);
    }
}

/// The key stores' faults side by side: each cell says the outcome and
/// names the test that shows it (`tests/faults.rs`, `tests/component.rs`,
/// `tests/cli.rs` for AWS KMS; this file for the others).
const STORE_FAULTS: &[[&str; 5]] = &[
    [
        "Throttled, then signs",
        "a token after 2 `ThrottlingException`s (`kms_throttles_twice_then_signs`)",
        "a token after a 429 `RESOURCE_EXHAUSTED` (`google_throttling_and_5xx_are_retried`)",
        "a token after a 429 `Throttled` (`azure_throttling_and_5xx_are_retried`)",
        "a token after a 429 rate limit quota (`vault_throttling_and_5xx_are_retried`)",
    ],
    [
        "5xx, then signs",
        "a token after 500 and 503 (`kms_internal_errors_then_signs`)",
        "a token after two 503 `UNAVAILABLE`s (`google_throttling_and_5xx_are_retried`)",
        "a token after two 503s (`azure_throttling_and_5xx_are_retried`)",
        "a token after two 503s, a sealed Vault (`vault_throttling_and_5xx_are_retried`)",
    ],
    [
        "Throttled or 5xx on every attempt",
        "`kms` error, 3 attempts (`kms_throttles_on_every_attempt`)",
        "`kms` error 503 `UNAVAILABLE`, 3 attempts (`google_throttling_and_5xx_are_retried`)",
        "`kms` error 500 `InternalError`, 3 attempts (`azure_throttling_and_5xx_are_retried`)",
        "`kms` error 503 with Vault's message, 3 attempts (`vault_throttling_and_5xx_are_retried`)",
    ],
    [
        "Refused: no right to sign",
        "`kms` error `AccessDeniedException`, 1 attempt, hint naming `kms:Sign` (`lasting_refusals_are_tried_once`)",
        "`kms` error 403 `PERMISSION_DENIED` naming `cloudkms.cryptoKeyVersions.useToSign`, 1 attempt, hint naming `roles/cloudkms.signer` (`google_without_impersonation_is_denied_and_says_what_to_grant`)",
        "`kms` error 403 `ForbiddenByRbac`, 1 attempt, hint naming Key Vault Crypto User (`azure_403_is_not_retried_and_names_the_role_to_grant`)",
        "`kms` error 403, 1 attempt, hint naming `update` on `transit/sign/KEY/sha2-256` (`vault_403_is_not_retried_and_names_the_policy_to_grant`)",
    ],
    [
        "Credentials refused",
        "`credentials-rejected` (`kms_refuses_credentials_it_cannot_verify`)",
        "`credentials-rejected` 401 `UNAUTHENTICATED` (`google_refuses_an_unknown_token_as_credentials`)",
        "`sts` error from Entra ID for an unknown app registration, with its trace id (`azure_refuses_a_federated_credential_for_another_subject`)",
        "`credentials-rejected` for an unknown token; `kms` 403 outside the token's namespace (`vault_checks_the_token_and_the_namespace`)",
    ],
    [
        "Keyless exchange refused (wrong audience)",
        "`sts` error `InvalidIdentityToken` (`keyless_failures_say_which_source_and_why`)",
        "`sts` error 400 `invalid_grant` from Google STS (`google_sts_refuses_a_wrong_audience`)",
        "keyless minting with the audience `api://AzureADTokenExchange` (`azure_mints_keyless_with_a_federated_credential`)",
        "`sts` error 400 from the JWT login, hint naming `bound_audiences` (`vault_refuses_a_wrong_audience_at_login`)",
    ],
    [
        "A key that cannot sign RS256",
        "`kms` error `InvalidKeyUsageException`, hint naming `SIGN_VERIFY` (`kms_errors_keep_code_message_and_request_id`)",
        "`kms` error `UnsupportedKeyType` naming the version and its algorithm, nothing signed (`google_refuses_a_key_that_is_not_rsa`)",
        "`kms` error `UnsupportedKeyType` naming the key and its type, nothing signed (`azure_refuses_a_key_that_is_not_rsa`)",
        "`kms` error `UnsupportedKeyType` naming the key and its type, nothing signed (`vault_refuses_a_key_that_is_not_rsa`)",
    ],
    [
        "An unknown version",
        "(a key id names no version)",
        "`kms` error 404 `NOT_FOUND` naming the version, hint naming what to check (`an_unknown_google_key_version_is_named`)",
        "`kms` error 404 `KeyNotFound` naming the version, with its request id (`an_unknown_key_version_is_named_with_key_vaults_message`)",
        "(the latest version signs; another one pinned is refused by Vault)",
    ],
    [
        "A signature by another key",
        "sent to GitHub, which refuses it (401): KMS signs only with the key named",
        "`malformed-response` naming the key version, GitHub never called (`a_google_signature_by_another_key_is_refused_before_github`)",
        "`malformed-response` naming the version, GitHub never called (`a_key_vault_signature_by_another_key_is_refused_before_github`)",
        "`malformed-response` naming the key's version, GitHub never called (`a_vault_signature_by_another_key_is_refused_before_github`)",
    ],
    [
        "Never answers",
        "`timeout` naming KMS within the deadline (`a_hanging_kms_times_out_within_the_deadline`)",
        "`timeout` naming Cloud KMS within the deadline (`a_hanging_google_times_out_within_the_deadline`)",
        "`timeout` naming Entra ID, the first request, within the deadline (`a_hanging_key_vault_times_out_within_the_deadline`)",
        "`timeout` naming Vault within the deadline (`a_hanging_vault_times_out_within_the_deadline`)",
    ],
    [
        "Answers 200 with something else",
        "`malformed-response` naming KMS and what was wrong (`malformed_kms_answers_are_named`)",
        "`malformed-response` naming Cloud KMS and what was wrong, a PEM's CRC32C included (`malformed_google_answers_are_named`)",
        "`malformed-response` naming Key Vault and what was wrong (`malformed_key_vault_answers_are_named`)",
        "`malformed-response` naming Vault and what was wrong (`malformed_vault_answers_are_named`)",
    ],
];

/// [`STORE_FAULTS`] as docs/reliability.md shows it.
fn store_table() -> String {
    let mut rows = vec![
        "| Fault | AWS KMS | Google Cloud KMS | Azure Key Vault | Vault / OpenBao |".to_owned(),
        "|---|---|---|---|---|".to_owned(),
    ];
    rows.extend(STORE_FAULTS.iter().map(|cells| format!("| {} |", cells.join(" | "))));
    rows.join("\n")
}

/// Every test a cell names exists, and docs/reliability.md holds the table.
#[test]
fn the_store_fault_table_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let sources: String = ["faults", "component", "cli", "stores"]
        .iter()
        .map(|name| std::fs::read_to_string(format!("{root}/tests/{name}.rs")).unwrap())
        .collect();
    for cell in STORE_FAULTS.iter().flat_map(|row| &row[1..]) {
        let named = cell.rsplit_once("(`").map(|(_, rest)| rest.trim_end_matches("`)"));
        if let Some(test) = named.filter(|t| !t.contains(' ')) {
            assert!(sources.contains(&format!("fn {test}(")), "no test {test}");
        }
    }
    let doc = std::fs::read_to_string(format!("{root}/docs/reliability.md")).unwrap();
    let table = store_table();
    assert!(doc.contains(&table), "docs/reliability.md should hold this table:\n\n{table}\n");
}
