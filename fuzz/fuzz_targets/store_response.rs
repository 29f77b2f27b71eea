//! The other key stores' answers: Google Cloud KMS, Azure Key Vault and
//! Vault Transit, and their credential exchanges (Google's STS and IAM
//! Credentials, Entra ID, Vault's JWT login). Any status, headers and body;
//! `@@` in the answer stands for the credential the request carried, and no
//! error may quote it.
#![no_main]

use github_app_kms_token::api::Service;
use github_app_kms_token::azure::entra::{self, Entra, Proof};
use github_app_kms_token::azure::keyvault;
use github_app_kms_token::error::Error;
use github_app_kms_token::gcp::credentials::{self as google, Federation};
use github_app_kms_token::gcp::kms as cloud_kms;
use github_app_kms_token::identity::IdentityToken;
use github_app_kms_token::net::retry;
use github_app_kms_token::net::url::Url;
use github_app_kms_token::secret::Secret;
use github_app_kms_token::vault::{Server, login, transit};
use github_app_kms_token_fuzz::{echoing, url};
use libfuzzer_sys::fuzz_target;

/// The credential every request carries, as a token looks.
const SECRET: &str = "ya29.fuzz-credential_0123456789";

/// An error must not quote the credential, in its message or its `Debug`.
/// (Pieces of it, as a cut could leave, are the property test's to find,
/// `answers_that_echo_the_credential_never_pass_it_on`: here the fuzzer
/// could write pieces itself, learnt from the comparisons it watches.)
fn clean<T>(result: Result<T, Error>) {
    if let Err(e) = result {
        for text in [e.message(), format!("{e:?}")] {
            assert!(!text.contains(SECRET), "an error quotes the credential: {text}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let response = echoing(data, SECRET);
    let secret = Secret::new(SECRET);

    let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
    let gcp_key = cloud_kms::KeyVersion::new("key", version, url()).expect("a key version");
    clean(cloud_kms::read_public_key(&gcp_key, &response, &secret));
    clean(cloud_kms::read_signature(&gcp_key, &response, &secret));
    let federation = Federation {
        audience: "//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/r"
            .into(),
        token_url: url(),
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt".into(),
        impersonation: None,
        token: IdentityToken::Given(secret.clone()),
    };
    clean(google::read_exchange(&federation, &response, &secret));
    clean(google::read_impersonation(&url(), &response, &secret));

    let vault = Url::parse("https://acme.vault.azure.net").expect("a vault");
    let azure_key = keyvault::Key::new("key", vault, "app", None).expect("a key");
    clean(keyvault::read_key(&azure_key, &response, &secret));
    clean(keyvault::read_signature(&azure_key, &response, &secret));
    for proof in [Proof::Secret(secret.clone()), Proof::Assertion(IdentityToken::Given(secret.clone()))] {
        let client = ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555");
        let entra = Entra::new(url(), ("AZURE_TENANT_ID", "contoso.onmicrosoft.com"), client, proof)
            .expect("an app registration");
        clean(entra::read_token(&entra, &response, &secret));
    }

    let server = Server { address: url(), namespace: Some("admin/team".into()) };
    let transit_key = transit::Key::new("key", "app", "VAULT_TRANSIT_MOUNT", "transit", server.clone())
        .expect("a Transit key");
    clean(transit::read_key(&transit_key, &response, &secret));
    clean(transit::read_signature(&transit_key, &response, &secret, 1));
    clean(login::read_login(&server, &response, &secret));

    for service in [
        Service::GoogleKms,
        Service::GoogleSts,
        Service::GoogleIam,
        Service::KeyVault,
        Service::EntraId,
        Service::Vault,
    ] {
        let _ = retry::verdict(service, &response, 1_800_000_000);
    }
});
