//! GitHub answers: installation lookups, installation lists, access tokens,
//! revocations, errors, and the clock in the `Date` header.
#![no_main]

use github_app_kms_token::github::api as github;
use github_app_kms_token::net::retry;
use github_app_kms_token::secret::Secret;
use github_app_kms_token_fuzz::{answer, url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = answer(data);
    let jwt = Secret::new("fuzz.jwt.value");
    let _ = github::read_installation(&url(), &response, &jwt);
    let _ = github::read_installations(&url(), &response, &jwt);
    if let Err(e) = github::read_access_token(&url(), &response, 1, &jwt) {
        assert!(!e.message().contains("fuzz.jwt.value"));
    }
    let _ = github::read_revoke(&response, &jwt);
    let _ = github::clock_offset(&response, 1_800_000_000);
    let _ = retry::verdict(github_app_kms_token::api::Service::Github, &response, 1_800_000_000);
});
