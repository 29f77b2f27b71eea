//! The broker's input: a caller's ID token (JWT), the issuer's discovery
//! document and JWKS, and the trust policy.
#![no_main]

use github_app_kms_token::{idtoken, policy};
use libfuzzer_sys::fuzz_target;

const ISSUER: &str = "https://token.actions.githubusercontent.com";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(token) = idtoken::decode(&text) {
        let _ = token.issuer();
        let _ = token.precheck(ISSUER, "broker", 1_800_000_000);
    }
    let _ = idtoken::jwks_uri(data, ISSUER);
    let _ = idtoken::key(data, Some("kid"));
    let _ = policy::parse(&text);
});
