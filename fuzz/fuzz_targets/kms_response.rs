//! KMS `Sign` answers and AWS error bodies: any status, headers and body.
#![no_main]

use github_app_kms_token::aws::credentials::AwsCredentials;
use github_app_kms_token::aws::errors as aws;
use github_app_kms_token::aws::kms;
use github_app_kms_token::net::retry;
use github_app_kms_token::secret::Secret;
use github_app_kms_token_fuzz::{answer, url};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let response = answer(data);
    let credentials = AwsCredentials {
        access_key_id: "AKIAFUZZ".into(),
        secret_access_key: Secret::new("fuzz-secret"),
        session_token: Some(Secret::new("fuzz-session")),
    };
    if let Err(e) = kms::read_sign_response(&url(), &response, &credentials) {
        assert!(!e.message().contains("fuzz-secret") && !e.message().contains("fuzz-session"));
    }
    let _ = aws::service_error(
        &response,
        github_app_kms_token::api::Service::Kms,
        &credentials.secrets(),
        |_| None,
    );
    let _ = retry::verdict(github_app_kms_token::api::Service::Kms, &response, 0);
});
