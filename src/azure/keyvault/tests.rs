use rsa::traits::PublicKeyParts;

use super::*;
use crate::net::script::answer;

fn vault() -> Url {
    Url::parse("https://acme-ci.vault.azure.net").unwrap()
}

fn key() -> Key {
    Key::new("key", vault(), "github-app", None).unwrap()
}

/// The access token the requests carry: long enough that scrubbing it
/// from an error leaves the error's own words alone.
fn token() -> Secret {
    Secret::new("test-token-0123456789")
}

fn jwk(kty: &str, ops: &[&str], enabled: bool) -> (rsa::RsaPrivateKey, String) {
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let b64 = |n: &rsa::BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
    let body = serde_json::json!({
        "key": {"kid": "https://acme-ci.vault.azure.net/keys/github-app/0123abcd", "kty": kty, "key_ops": ops,
                "n": b64(private.n()), "e": b64(private.e())},
        "attributes": {"enabled": enabled},
    });
    (private, body.to_string())
}

#[test]
fn vaults_managed_hsms_and_their_scopes() {
    assert_eq!(key().scope(), "https://vault.azure.net/.default");
    let hsm =
        Key::new("key", Url::parse("https://acme.managedhsm.azure.net").unwrap(), "app", Some("v1")).unwrap();
    assert_eq!(hsm.scope(), "https://managedhsm.azure.net/.default");
    assert_eq!(hsm.describe(), "acme.managedhsm.azure.net/keys/app/v1");
    let upper = Key::new("key", Url::parse("https://ACME-CI.Vault.Azure.Net").unwrap(), "app", None).unwrap();
    assert_eq!(
        (upper.vault.host(), upper.scope().as_str()),
        ("acme-ci.vault.azure.net", "https://vault.azure.net/.default")
    );
    let china = Key::new("key", Url::parse("https://acme.vault.azure.cn").unwrap(), "app", None).unwrap();
    assert_eq!(china.scope(), "https://vault.azure.cn/.default");
    assert!(Key::new("key", Url::parse("http://127.0.0.1:8443").unwrap(), "app", None).is_ok(), "a stand-in");
    for (host, name) in [("https://evil.example.com", "app"), ("https://vault.azure.net.evil.com", "app")] {
        assert!(Key::new("key", Url::parse(host).unwrap(), name, None).is_err(), "{host}");
    }
    assert!(Key::new("key", vault(), "a_b", None).is_err());
    assert!(Key::new("key", vault(), "app", Some("v/1")).is_err());
}

#[test]
fn reads_the_version_and_public_half_of_an_rsa_key() {
    let request = key_request(&key(), &Secret::new("eyJ"));
    assert_eq!(request.url.to_string(), "https://acme-ci.vault.azure.net/keys/github-app?api-version=7.4");
    assert!(request.headers.contains(&("authorization".into(), "Bearer eyJ".into())));
    let (private, body) = jwk("RSA-HSM", &["sign", "verify"], true);
    let signing = read_key(&key(), &answer(200, &[], &body).unwrap(), &token()).unwrap();
    assert_eq!(signing.version, "0123abcd");
    assert_eq!(
        signing.public_key,
        PublicKey::new(&private.n().to_bytes_be(), &private.e().to_bytes_be()).unwrap()
    );
    let other_case = Key::new("key", vault(), "GitHub-App", None).unwrap();
    let read = read_key(&other_case, &answer(200, &[], &body).unwrap(), &token()).unwrap();
    assert_eq!(read.version, "0123abcd", "key names are case-insensitive");
    let pinned = Key::new("key", vault(), "github-app", Some("ffff")).unwrap();
    let result = read_key(&pinned, &answer(200, &[], &body).unwrap(), &token());
    assert!(matches!(result, Err(Error::MalformedResponse(_))), "another version than the one pinned");
}

#[test]
fn a_key_that_cannot_sign_rs256_is_refused_naming_it() {
    for (kty, ops, enabled, says) in [
        ("EC", &["sign"][..], true, "is a EC key, not RSA"),
        ("oct-HSM", &["sign"][..], true, "is a oct-HSM key, not RSA"),
        ("RSA", &["verify", "encrypt"][..], true, "does not allow the sign operation"),
        ("RSA", &["sign"][..], false, "is disabled"),
    ] {
        let (_, body) = jwk(kty, ops, enabled);
        let result =
            read_key(&key(), &answer(200, &[("x-ms-request-id", "req-1")], &body).unwrap(), &token());
        let Err(Error::Kms(e)) = result else { panic!("{says}") };
        assert_eq!((e.code.as_deref(), e.request_id.as_deref()), (Some("UnsupportedKeyType"), Some("req-1")));
        assert!(
            e.message.starts_with("acme-ci.vault.azure.net/keys/github-app ") && e.message.contains(says),
            "{}",
            e.message
        );
    }
}

#[test]
fn signs_the_digest_with_rs256() {
    let request = sign_request(&key(), &token(), "0123abcd", &[3; 32]);
    assert_eq!(
        request.url.to_string(),
        "https://acme-ci.vault.azure.net/keys/github-app/0123abcd/sign?api-version=7.4"
    );
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, serde_json::json!({"alg": "RS256", "value": URL_SAFE_NO_PAD.encode([3; 32])}));
    let signed = format!(r#"{{"kid":"x","value":"{}"}}"#, URL_SAFE_NO_PAD.encode([4; 256]));
    assert_eq!(read_signature(&key(), &answer(200, &[], &signed).unwrap(), &token()).unwrap(), vec![4; 256]);
}

#[test]
fn refusals_name_the_role_to_grant() {
    let denied = r#"{"error":{"code":"Forbidden","message":"Caller is not authorized","innererror":{"code":"ForbiddenByRbac"}}}"#;
    let Err(Error::Kms(e)) = read_signature(&key(), &answer(403, &[], denied).unwrap(), &token()) else {
        panic!()
    };
    assert!(e.hint.unwrap().contains("Key Vault Crypto User"));
    let unauthorized = r#"{"error":{"code":"Unauthorized","message":"AKV10022: Invalid audience."}}"#;
    let result = read_key(&key(), &answer(401, &[], unauthorized).unwrap(), &token());
    assert!(matches!(result, Err(Error::CredentialsRejected(_))));
}
