//! Key references (`KEY`, `--key`, the `key` field) through every store's
//! rules, the external-account JSON of Workload Identity Federation, and
//! PEM public keys. Whatever a reference says, the key's requests go to
//! its store's host, on a path it cannot climb out of, with no query but
//! the store's own.
#![no_main]

use github_app_kms_token::azure::keyvault;
use github_app_kms_token::env::Env;
use github_app_kms_token::exports::resolve::{self, Fields};
use github_app_kms_token::gcp::credentials as google;
use github_app_kms_token::gcp::kms as cloud_kms;
use github_app_kms_token::mint::signer::Key;
use github_app_kms_token::net::http::Request;
use github_app_kms_token::rs256::PublicKey;
use github_app_kms_token::secret::Secret;
use github_app_kms_token::vault::transit;
use libfuzzer_sys::fuzz_target;

/// A request goes to `authority`; its path has no `.` or `..` segment,
/// fragment, escape or space, and its query is Key Vault's `api-version`
/// or none: the key's name stays the key's name.
fn contained(request: &Request, authority: &str) {
    let url = &request.url;
    assert_eq!(url.authority, authority, "{url:?}");
    let (path, query) = url.path.split_once('?').unwrap_or((&url.path, "api-version=7.4"));
    assert_eq!(query, "api-version=7.4", "{url:?}");
    assert!(path.split('/').all(|s| s != "." && s != ".."), "{url:?}");
    assert!(!path.contains(['#', '%', '\\']) && !path.bytes().any(|b| b <= b' '), "{url:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = Env::from_pairs([
        ("APP_ID", "1"),
        ("AWS_REGION", "eu-west-1"),
        ("VAULT_ADDR", "https://vault.example:8200"),
    ]);
    let fields = Fields { key: Some(&text), ..Fields::default() };
    if let Ok(settings) = resolve::jwt_settings(&fields, &env) {
        let token = Secret::new("token");
        let digest = [0u8; 32];
        match &settings.key {
            Key::AwsKms(key) => {
                let host = key.endpoint.host();
                assert!(
                    key.endpoint.is_loopback()
                        || host.ends_with(".amazonaws.com")
                        || host.ends_with(".amazonaws.com.cn"),
                    "{host}"
                );
            }
            Key::GoogleKms(key) => {
                contained(&cloud_kms::public_key_request(key, &token), "cloudkms.googleapis.com");
                contained(&cloud_kms::sign_request(key, &token, &digest), "cloudkms.googleapis.com");
            }
            Key::AzureKeyVault(key) => {
                contained(&keyvault::key_request(key, &token), &key.vault.authority);
                contained(&keyvault::sign_request(key, &token, "0123abcd", &digest), &key.vault.authority);
            }
            Key::VaultTransit(key) => {
                contained(&transit::key_request(key, &token), "vault.example:8200");
                contained(&transit::sign_request(key, &token, 1, &digest), "vault.example:8200");
            }
        }
    }
    let _ = google::external_account("GOOGLE_APPLICATION_CREDENTIALS", data);
    if let Ok(key) = PublicKey::from_pem(&text) {
        assert!(key.bits() >= 2048);
    }
});
