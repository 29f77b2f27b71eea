//! Callers' tokens decoded and verified, and the keys they may name.

use super::test_keys::{id_token, jwk, private};
use super::*;
use rsa::traits::PublicKeyParts;
use serde_json::json;

/// The key named `kid` in the JWKS `jwks`.
fn key(jwks: &[u8], kid: Option<&str>) -> Result<PublicKey, Invalid> {
    key_in(&parse_jwks(jwks)?, kid.ok_or(Invalid::NoKid)?)
}

/// A JWKS with one fresh RSA key of `bits`, `kid` `k1`.
fn jwks(alg: Option<&str>, usage: Option<&str>, bits: usize) -> Vec<u8> {
    let mut jwk = jwk(&private(bits));
    if let Some(alg) = alg {
        jwk["alg"] = alg.into();
    }
    if let Some(usage) = usage {
        jwk["use"] = usage.into();
    }
    json!({"keys": [jwk]}).to_string().into_bytes()
}

#[test]
fn a_crit_header_is_refused() {
    for header in [
        json!({"alg": "RS256", "kid": "k1", "crit": ["b64"], "b64": false}),
        json!({"alg": "RS256", "crit": []}),
    ] {
        let token =
            format!("{}.{}.", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode("{}"));
        assert_eq!(
            decode(&token).unwrap_err().to_string(),
            "the token's crit header names extensions that are not understood"
        );
    }
}

#[test]
fn debug_never_shows_the_token() {
    let token = id_token(&private(2048), &json!({"iss": "https://iss", "sub": "deployer"}));
    let shown = format!("{:?}", decode(&token).unwrap());
    assert!(shown.contains("deployer"), "{shown}");
    for piece in token.as_bytes().windows(16) {
        assert!(!shown.contains(std::str::from_utf8(piece).unwrap()), "{shown}");
    }
}

#[test]
fn decode_refuses_what_is_not_a_jwt() {
    for bad in ["", "a.b", "a.b.c.d", "e30.e30.***", "bm90IGpzb24.e30.", "e30.bm90IGpzb24."] {
        assert!(decode(bad).is_err(), "{bad}");
    }
    let token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(r#"{"iss":"x"}"#)
    );
    let u = decode(&token).unwrap();
    assert_eq!((u.alg.as_str(), u.issuer(), u.kid.as_deref()), ("none", Some("x"), None));
}

#[test]
fn discovery_must_name_the_issuer_and_an_https_key_url() {
    let doc = |iss: &str, jwks: &str| json!({"issuer": iss, "jwks_uri": jwks}).to_string().into_bytes();
    let issuer = "https://token.actions.githubusercontent.com";
    assert!(
        jwks_uri(&doc(issuer, "https://token.actions.githubusercontent.com/.well-known/jwks"), issuer)
            .is_ok()
    );
    assert!(jwks_uri(&doc("https://evil.example", "https://evil.example/jwks"), issuer).is_err());
    assert!(jwks_uri(&doc(issuer, "http://127.0.0.1:9/jwks"), issuer).is_err(), "no downgrade to http");
    assert!(jwks_uri(&doc(issuer, "http://keys.example/jwks"), issuer).is_err());
    assert!(jwks_uri(&doc("http://127.0.0.1:9", "http://127.0.0.1:9/jwks"), "http://127.0.0.1:9").is_ok());
    assert!(jwks_uri(b"{}", issuer).is_err());
}

#[test]
fn keys_must_fit_rs256() {
    assert!(key(&jwks(Some("RS256"), Some("sig"), 2048), Some("k1")).is_ok());
    assert!(key(&jwks(None, None, 2048), Some("k1")).is_ok());
    for (alg, usage) in [(Some("PS256"), None), (None, Some("enc"))] {
        assert_eq!(key(&jwks(alg, usage, 2048), Some("k1")).unwrap_err(), Invalid::NotRs256Key);
    }
    assert!(key(&jwks(None, None, 1024), Some("k1")).unwrap_err().to_string().contains("shorter than 2048"));
    assert!(key(&jwks(None, None, 2048), Some("k2")).is_err(), "unknown kid");
    assert!(key(&jwks(None, None, 2048), None).is_err(), "no kid");
    let ec = json!({"keys": [{"kty": "EC", "kid": "k1", "crv": "P-256"}]}).to_string();
    assert!(key(ec.as_bytes(), Some("k1")).is_err());
}

#[test]
fn claims_with_leeway() {
    let other_key = key(&jwks(None, None, 2048), Some("k1")).unwrap();
    let now = 1_000_000;
    // Tokens signed with a key the test holds.
    let private = private(2048);
    let public = PublicKey::new(&private.n().to_bytes_be(), &private.e().to_bytes_be()).unwrap();
    let sign = |claims: Value| id_token(&private, &claims);
    let verify = |claims: Value| decode(&sign(claims)).unwrap().verify(&public, "https://iss", "aud", now);
    let base = |exp: u64| json!({"iss": "https://iss", "aud": "aud", "exp": exp, "iat": now - 10});
    assert!(verify(base(now - 59)).is_ok(), "within the leeway");
    assert_eq!(verify(base(now - 61)).unwrap_err().to_string(), "the token has expired");
    assert!(
        verify(json!({"iss": "https://iss", "aud": ["other", "aud"], "exp": now + 60, "iat": now})).is_ok(),
        "aud as a list"
    );
    assert!(verify(json!({"iss": "https://iss", "aud": "aud"})).unwrap_err().to_string().contains("no exp"));
    assert_eq!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": now + 60})).unwrap_err().to_string(),
        "the token has no iat"
    );
    let day = MAX_LIFETIME_SECS;
    assert!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": now + 60, "iat": now + 60 - day})).is_ok()
    );
    assert_eq!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": now + 60, "iat": now + 59 - day}))
            .unwrap_err()
            .to_string(),
        "the token lives longer than 24 hours"
    );
    assert!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": "soon"}))
            .unwrap_err()
            .to_string()
            .contains("not a time")
    );
    assert!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": now + 600, "iat": now + 61}))
            .unwrap_err()
            .to_string()
            .contains("future")
    );
    assert!(
        verify(json!({"iss": "https://iss", "aud": "aud", "exp": now + 600, "nbf": now + 61, "iat": now}))
            .unwrap_err()
            .to_string()
            .contains("not valid yet")
    );
    assert!(
        verify(json!({"iss": "https://other", "aud": "aud", "exp": now + 600}))
            .unwrap_err()
            .to_string()
            .contains("issuer")
    );
    assert!(
        decode(&sign(base(now + 600)))
            .unwrap()
            .verify(&other_key, "https://iss", "aud", now)
            .unwrap_err()
            .to_string()
            .contains("signature")
    );
    let mut wrong_alg = decode(&sign(base(now + 600))).unwrap();
    wrong_alg.alg = "HS256".into();
    assert_eq!(
        wrong_alg.verify(&public, "https://iss", "aud", now).unwrap_err().to_string(),
        "algorithm HS256 is not accepted: RS256 only"
    );
    let mut wrong_alg = decode(&sign(base(now + 600))).unwrap();
    wrong_alg.alg = "\u{2028}\u{85}\u{9b}31m".into();
    assert_eq!(
        wrong_alg.verify(&public, "https://iss", "aud", now).unwrap_err().to_string(),
        "algorithm (another) is not accepted: RS256 only",
        "an unknown alg is never echoed"
    );
}
