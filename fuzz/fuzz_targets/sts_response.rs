//! STS `AssumeRoleWithWebIdentity` answers (XML) and the OIDC token endpoint's.
#![no_main]

use github_app_kms_token::aws::sts;
use github_app_kms_token::identity as oidc;
use github_app_kms_token::secret::Secret;
use github_app_kms_token_fuzz::{answer, url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = answer(data);
    let identity = Secret::new("fuzz-web-identity");
    if let Err(e) = sts::read_credentials(&url(), &response, &identity) {
        assert!(!e.message().contains("fuzz-web-identity"));
    }
    let _ = oidc::read_id_token(&url(), &response, &identity);
});
