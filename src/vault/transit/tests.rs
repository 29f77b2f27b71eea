use rsa::pkcs8::{EncodePublicKey, LineEnding};

use super::*;
use crate::net::script::answer;
use crate::net::url::Url;

fn key() -> Key {
    let server = Server { address: Url::parse("https://vault.example.com").unwrap(), namespace: None };
    Key::new("key", "github-app", "VAULT_TRANSIT_MOUNT", "transit", server).unwrap()
}

/// The access token the requests carry: long enough that scrubbing it
/// from an error leaves the error's own words alone.
fn token() -> Secret {
    Secret::new("test-token-0123456789")
}

fn pem() -> (rsa::RsaPrivateKey, String) {
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
    (private, pem)
}

fn description(kind: &str, pem: &str) -> String {
    serde_json::json!({
        "request_id": "req-7",
        "data": {"type": kind, "latest_version": 2, "supports_signing": true,
                 "keys": {"1": {"public_key": "old"}, "2": {"public_key": pem}}},
    })
    .to_string()
}

#[test]
fn reads_the_latest_version_and_its_public_half() {
    let (private, pem) = pem();
    let token = Secret::new("hvs.t");
    let request = key_request(&key(), &token);
    assert_eq!(request.url.to_string(), "https://vault.example.com/v1/transit/keys/github-app");
    let signing =
        read_key(&key(), &answer(200, &[], &description("rsa-2048", &pem)).unwrap(), &token).unwrap();
    assert_eq!(signing.version, 2);
    let n = rsa::traits::PublicKeyParts::n(&private).to_bytes_be();
    assert_eq!(signing.public_key, PublicKey::new(&n, &[1, 0, 1]).unwrap());
}

#[test]
fn a_key_that_is_not_rsa_is_refused_naming_it() {
    let (_, pem) = pem();
    for kind in ["ecdsa-p256", "ed25519", "aes256-gcm96"] {
        let result = read_key(&key(), &answer(200, &[], &description(kind, &pem)).unwrap(), &token());
        let Err(Error::Kms(e)) = result else { panic!("{kind} accepted") };
        assert_eq!(e.code.as_deref(), Some("UnsupportedKeyType"));
        assert!(
            e.message.starts_with(&format!("transit/keys/github-app is a {kind} key, not RSA")),
            "{}",
            e.message
        );
        assert_eq!(e.request_id.as_deref(), Some("req-7"));
    }
    let missing = description("rsa-2048", &pem).replace("\"2\":", "\"3\":");
    let result = read_key(&key(), &answer(200, &[], &missing).unwrap(), &token());
    assert!(matches!(result, Err(Error::MalformedResponse(_))));
}

#[test]
fn signs_the_digest_as_pkcs1v15_with_that_version() {
    let request = sign_request(&key(), &Secret::new("hvs.t"), 2, &[7; 32]);
    assert_eq!(request.url.to_string(), "https://vault.example.com/v1/transit/sign/github-app/sha2-256");
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"input": STANDARD.encode([7; 32]), "prehashed": true,
                           "signature_algorithm": "pkcs1v15", "key_version": 2})
    );
    let signed =
        format!(r#"{{"data":{{"signature":"vault:v2:{}","key_version":2}}}}"#, STANDARD.encode([1; 256]));
    let signature = read_signature(&key(), &answer(200, &[], &signed).unwrap(), &token(), 2).unwrap();
    assert_eq!(signature, vec![1; 256]);
    let other = signed.replace("vault:v2:", "vault:v1:");
    let result = read_signature(&key(), &answer(200, &[], &other).unwrap(), &token(), 2);
    assert!(matches!(result, Err(Error::MalformedResponse(_))), "another version");
}

#[test]
fn refusals_name_what_to_grant() {
    let token = Secret::new("hvs.t");
    let denied = answer(403, &[], r#"{"errors":["1 error occurred:\n\t* permission denied\n\n"]}"#).unwrap();
    let Err(Error::Kms(e)) = read_signature(&key(), &denied, &token, 1) else { panic!() };
    assert_eq!(e.message, "permission denied");
    assert!(e.hint.unwrap().contains("update on transit/sign/github-app/sha2-256"));
    let bad = answer(
        403,
        &[],
        r#"{"errors":["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]}"#,
    );
    assert!(matches!(read_key(&key(), &bad.unwrap(), &token), Err(Error::CredentialsRejected(_))));
    let gone = answer(404, &[], r#"{"errors":[]}"#).unwrap();
    let Err(Error::Kms(e)) = read_key(&key(), &gone, &token) else { panic!() };
    assert!(e.hint.unwrap().contains("VAULT_TRANSIT_MOUNT"));
}

#[test]
fn key_names_are_checked() {
    let server = key().server;
    assert!(Key::new("key", "app.v2_x-1", "m", "transit", server.clone()).is_ok());
    for bad in ["", "..", "a/b", "a b", "ключ"] {
        assert!(Key::new("key", bad, "m", "transit", server.clone()).is_err(), "{bad}");
    }
    assert!(Key::new("key", "app", "VAULT_TRANSIT_MOUNT", "/transit", server).is_err());
}
