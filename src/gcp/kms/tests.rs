use rsa::pkcs8::{EncodePublicKey, LineEnding};

use super::*;
use crate::net::script::answer;

const NAME: &str =
    "projects/acme-ci/locations/europe-west1/keyRings/github/cryptoKeys/app/cryptoKeyVersions/1";

fn key() -> KeyVersion {
    KeyVersion::new("key", NAME, Url::parse(DEFAULT_ENDPOINT).unwrap()).unwrap()
}

/// The access token the requests carry: long enough that scrubbing it
/// from an error leaves the error's own words alone.
fn token() -> Secret {
    Secret::new("test-token-0123456789")
}

#[test]
fn crc32c_is_castagnolis() {
    assert_eq!(crc32c(b"123456789"), 0xe306_9283);
    assert_eq!(crc32c(b""), 0);
}

#[test]
fn key_versions_are_checked() {
    let endpoint = || Url::parse(DEFAULT_ENDPOINT).unwrap();
    assert!(KeyVersion::new("key", NAME, endpoint()).is_ok());
    let domain_scoped = NAME.replace("acme-ci", "example.com:acme-ci");
    assert!(KeyVersion::new("key", &domain_scoped, endpoint()).is_ok(), "a domain-scoped project");
    for bad in [
        "projects/p/locations/l/keyRings/r/cryptoKeys/k",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/latest",
        "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1/extra",
        "project/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "projects/p q/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "projects//locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "projects/../locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
        "projects/p/locations/./keyRings/r/cryptoKeys/k/cryptoKeyVersions/1",
    ] {
        let Err(Error::InvalidInput(e)) = KeyVersion::new("key", bad, endpoint()) else { panic!("{bad}") };
        assert_eq!(e.field, "key");
    }
}

#[test]
fn reads_an_rsa_public_half_and_checks_its_crc() {
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap();
    let request = public_key_request(&key(), &Secret::new("ya29.t"));
    assert_eq!(request.url.to_string(), format!("{DEFAULT_ENDPOINT}/v1/{NAME}/publicKey"));
    assert!(request.headers.contains(&("authorization".into(), "Bearer ya29.t".into())));
    let body = |algorithm: &str, crc: u32| {
        serde_json::json!({"pem": pem, "algorithm": algorithm, "pemCrc32c": crc.to_string(), "name": NAME})
            .to_string()
    };
    let good = answer(200, &[], &body("RSA_SIGN_PKCS1_2048_SHA256", crc32c(pem.as_bytes()))).unwrap();
    assert_eq!(read_public_key(&key(), &good, &token()).unwrap().bits(), 2048);
    let corrupted = answer(200, &[], &body("RSA_SIGN_PKCS1_2048_SHA256", 7)).unwrap();
    assert!(matches!(read_public_key(&key(), &corrupted, &token()), Err(Error::MalformedResponse(_))));
    for algorithm in ["EC_SIGN_P256_SHA256", "RSA_SIGN_PSS_2048_SHA256", "RSA_SIGN_PKCS1_2048_SHA512"] {
        let other = answer(200, &[], &body(algorithm, crc32c(pem.as_bytes()))).unwrap();
        let Err(Error::Kms(e)) = read_public_key(&key(), &other, &token()) else { panic!("{algorithm}") };
        assert_eq!(e.code.as_deref(), Some("UnsupportedKeyType"));
        assert!(e.message.starts_with(&format!("{NAME} is {algorithm}, not RSA")), "{}", e.message);
    }
}

#[test]
fn signs_a_digest_with_its_crc_and_checks_the_answer() {
    let digest = [9u8; 32];
    let request = sign_request(&key(), &token(), &digest);
    assert_eq!(request.url.to_string(), format!("{DEFAULT_ENDPOINT}/v1/{NAME}:asymmetricSign"));
    let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["digest"]["sha256"], STANDARD.encode(digest));
    assert_eq!(body["digestCrc32c"], crc32c(&digest).to_string());
    let signature = [5u8; 256];
    let answer_with = |verified: bool, name: &str, crc: u32| {
        let body = serde_json::json!({"signature": STANDARD.encode(signature), "signatureCrc32c": crc.to_string(),
                                      "verifiedDigestCrc32c": verified, "name": name});
        answer(200, &[], &body.to_string()).unwrap()
    };
    let good = answer_with(true, NAME, crc32c(&signature));
    assert_eq!(read_signature(&key(), &good, &token()).unwrap(), signature);
    for (bad, what) in [
        (answer_with(false, NAME, crc32c(&signature)), "did not confirm the digest"),
        (answer_with(true, "projects/x", crc32c(&signature)), "another key version"),
        (answer_with(true, NAME, 1), "does not match its signatureCrc32c"),
    ] {
        let Err(Error::MalformedResponse(e)) = read_signature(&key(), &bad, &token()) else {
            panic!("{what}")
        };
        assert!(e.message.contains(what), "{}", e.message);
    }
}

#[test]
fn refusals_name_the_role_to_grant() {
    let denied = r#"{"error":{"code":403,"message":"Permission 'cloudkms.cryptoKeyVersions.useToSign' denied","status":"PERMISSION_DENIED"}}"#;
    let Err(Error::Kms(e)) = read_signature(&key(), &answer(403, &[], denied).unwrap(), &token()) else {
        panic!()
    };
    assert!(e.hint.unwrap().contains("roles/cloudkms.signer"));
    let expired = r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#;
    let result = read_public_key(&key(), &answer(401, &[], expired).unwrap(), &token());
    assert!(matches!(result, Err(Error::CredentialsRejected(_))));
}
