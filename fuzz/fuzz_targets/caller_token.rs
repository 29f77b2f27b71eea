//! The broker's input: a caller's ID token (JWT), the issuer's discovery
//! document and JWKS, the trust policy, and RS256 verification with any
//! 2048-bit modulus and signature.
#![no_main]

use github_app_kms_token::broker::{idtoken, policy};
use github_app_kms_token::rs256;
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://token.actions.githubusercontent.com";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = idtoken::decode(&text) {
        let _ = token.issuer();
        let _ = token.precheck(ISSUER, "broker", 1_800_000_000);
    }
    let _ = idtoken::jwks_uri(data, ISSUER);
    if let Ok(jwks) = idtoken::parse_jwks(data) {
        let _ = idtoken::key_in(&jwks, "kid");
    }
    let _ = policy::parse(&text);
    if let [modulus @ .., _] = data.get(..257).unwrap_or_default() {
        let mut n = modulus.to_vec();
        n[0] |= 0x80; // 2048 bits
        n[255] |= 1; // odd
        let key = rs256::PublicKey::new(&n, &[1, 0, 1]).expect("a usable key");
        let signature: Vec<u8> = data.iter().rev().take(256).copied().collect();
        let _ = key.verify(&data[256..], &signature);
    }
});
