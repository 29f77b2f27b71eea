//! Every key store besides AWS KMS, through the real component in embedded
//! wasmtime and through `wasmtime run`: a stand-in per store that checks
//! what the real one checks, minting with static and keyless credentials,
//! retries, refusals with what to grant, a key of the wrong type, and a
//! signature that does not verify. Each call is also a leak check.

mod common;

use common::*;
use standins::process::wasmtime;
use standins::vault::{EC_KEY, Fault, Policy};
use standins::world::{VAULT_AUDIENCE, World};

const NAMESPACE: &str = "admin/platform";
const SIGNER: Policy = Policy { read: true, sign: true };

fn by_id() -> TokenRequest {
    request(Some(Installation::Id(1001)))
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
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::Kms(e)) = result else { panic!("{result:?}") };
    assert_eq!((e.status, e.message.as_str()), (403, "permission denied"));
    assert_eq!(vault.signed(), 0);
}

#[test]
fn vault_403_is_not_retried_and_names_the_policy_to_grant() {
    let world = World::start("");
    let vault = world.vault(None);
    let env = world.vault_env(&vault, None, &vault.token(Policy { read: true, sign: false }));
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::Kms(e)) = result else { panic!("{result:?}") };
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
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::Kms(e)) = result else { panic!("{result:?}") };
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
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::Kms(e)) = result else { panic!("{result:?}") };
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
    let (result, _) = mint(&env, &by_id());
    let Err(TokenError::MalformedResponse(e)) = result else { panic!("{result:?}") };
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
