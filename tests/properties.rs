//! Property tests: every parser takes arbitrary input without panicking, and
//! the builders' output round-trips through an independent reader (the JWT
//! through base64url and JSON, the SigV4 `Sign` request through the KMS
//! stand-in's own verifier).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;

use github_app_kms_token::api::Installation;
use github_app_kms_token::api::Service;
use github_app_kms_token::aws::credentials::AwsCredentials;
use github_app_kms_token::aws::errors as aws;
use github_app_kms_token::aws::kms::{self, KeyId, KmsKey};
use github_app_kms_token::aws::region::Region;
use github_app_kms_token::aws::sts;
use github_app_kms_token::azure::{errors as azure_errors, keyvault};
use github_app_kms_token::broker::{idtoken, policy};
use github_app_kms_token::exports::args;
use github_app_kms_token::gcp::{credentials as google, errors as google_errors, kms as cloud_kms};
use github_app_kms_token::github::api::{self as github, Scope};
use github_app_kms_token::github::jwt::{AppId, UnsignedJwt};
use github_app_kms_token::github::names::check_owner;
use github_app_kms_token::identity as oidc;
use github_app_kms_token::net::http::Response;
use github_app_kms_token::net::retry;
use github_app_kms_token::net::url::{self as http, Url};
use github_app_kms_token::oauth;
use github_app_kms_token::rs256;
use github_app_kms_token::secret::Secret;
use github_app_kms_token::time::parse_http_date;
use github_app_kms_token::vault::{Server, errors as vault_errors, login, transit};
use standins::sigv4::{self, Credential};

fn answer(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Response {
    Response { status, headers, body, attempts: 1 }
}

/// Statuses, header lists and bodies as services might send them, and as
/// they should never.
fn any_answer() -> impl Strategy<Value = (u16, Vec<(String, String)>, Vec<u8>)> {
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "\\PC{0,300}".prop_map(String::into_bytes),
        // JSON-ish text, so the parsers get past the first byte.
        r#"\{("[a-zA-Z_]{1,12}":("[^"]{0,40}"|[0-9]{1,20}|null|true|\[\]|\{\}),?){0,6}\}"#
            .prop_map(String::into_bytes),
    ];
    let headers = proptest::collection::vec(("[a-z-]{1,20}", "\\PC{0,40}"), 0..6);
    (100u16..600, headers, body)
}

fn api() -> Url {
    Url::parse("https://api.github.com").unwrap()
}

/// Answers in every service's shapes, each text of them `@@`: where a
/// service that echoes what it was sent would put the credential.
const ECHOING_BODIES: &[&str] = &[
    r#"{"__type":"@@","message":"@@","Message":"@@"}"#,
    "<ErrorResponse><Error><Code>@@</Code><Message>@@</Message></Error><RequestId>@@</RequestId></ErrorResponse>",
    r#"{"Signature":"@@","KeyId":"@@"}"#,
    r#"{"message":"@@","documentation_url":"@@","errors":[{"message":"@@"}]}"#,
    r#"{"id":"@@","app_slug":"@@","token":"@@","expires_at":"@@","repository_selection":"@@"}"#,
    r#"{"value":"@@"}"#,
    r#"{"error":{"code":"@@","status":"@@","message":"@@","innererror":{"code":"@@"}}}"#,
    r#"{"algorithm":"@@","pem":"@@","name":"@@","signature":"@@","verifiedDigestCrc32c":true}"#,
    r#"{"key":{"kty":"@@","kid":"@@","key_ops":["sign"],"n":"@@","e":"@@"},"attributes":{"enabled":true},"kid":"@@","value":"@@"}"#,
    r#"{"errors":["@@"],"request_id":"@@"}"#,
    r#"{"request_id":"@@","data":{"type":"@@","latest_version":1,"keys":{"1":{"public_key":"@@"}},"signature":"@@"}}"#,
    r#"{"request_id":"@@","auth":{"client_token":"@@"}}"#,
    r#"{"error":"@@","error_description":"@@","trace_id":"@@","access_token":"@@","accessToken":"@@"}"#,
    "@@",
];

/// Whether `text` holds any 16-byte piece of `secret`.
fn shares_a_piece(text: &str, secret: &str) -> bool {
    let pieces: std::collections::HashSet<&[u8]> = text.as_bytes().windows(16).collect();
    secret.as_bytes().windows(16).any(|piece| pieces.contains(piece))
}

/// Every reader of an answer to a request that carried `secret`: the
/// message and `Debug` text of each error they make of `response`.
fn errors_of_every_reader(response: &Response, secret: &Secret) -> Vec<String> {
    use github_app_kms_token::azure::entra::{self, Entra, Proof};
    use github_app_kms_token::error::Error;
    let mut errors = Vec::new();
    let mut keep = |result: Result<(), Error>| {
        if let Err(e) = result {
            errors.push(format!("{}\n{e:?}", e.message()));
        }
    };
    let aws = AwsCredentials {
        access_key_id: "AKIA".into(),
        secret_access_key: secret.clone(),
        session_token: Some(secret.clone()),
    };
    keep(kms::read_sign_response(&api(), response, &aws).map(drop));
    keep(sts::read_credentials(&api(), response, secret).map(drop));
    keep(oidc::read_id_token(&api(), response, secret).map(drop));
    keep(github::read_installation(&api(), response, secret).map(drop));
    keep(github::read_installations(&api(), response, secret).map(drop));
    keep(github::read_access_token(&api(), response, 1, secret).map(drop));
    keep(github::read_revoke(response, secret));
    keep(Err(github::read_error(response, secret)));
    let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
    let gcp_key = cloud_kms::KeyVersion::new("key", version, api()).unwrap();
    keep(cloud_kms::read_public_key(&gcp_key, response, secret).map(drop));
    keep(cloud_kms::read_signature(&gcp_key, response, secret).map(drop));
    keep(google::read_impersonation(&api(), response, secret).map(drop));
    keep(oauth::read_access_token(Service::GoogleSts, &api(), response, &[secret], "hint").map(drop));
    let vault = Url::parse("https://acme.vault.azure.net").unwrap();
    let azure_key = keyvault::Key::new("key", vault, "app", None).unwrap();
    keep(keyvault::read_key(&azure_key, response, secret).map(drop));
    keep(keyvault::read_signature(&azure_key, response, secret).map(drop));
    let client = ("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555");
    let entra =
        Entra::new(api(), ("AZURE_TENANT_ID", "contoso"), client, Proof::Secret(secret.clone())).unwrap();
    keep(entra::read_token(&entra, response, secret).map(drop));
    let server = Server { address: api(), namespace: Some("team".into()) };
    let transit_key = transit::Key::new("key", "app", "m", "transit", server.clone()).unwrap();
    keep(transit::read_key(&transit_key, response, secret).map(drop));
    keep(transit::read_signature(&transit_key, response, secret, 1).map(drop));
    keep(login::read_login(&server, response, secret).map(drop));
    errors
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn urls_parse_or_refuse_and_round_trip(text in "\\PC{0,60}|https?://[a-z0-9.:\\[\\]-]{0,30}(/[a-z0-9/._-]{0,20})?") {
        if let Ok(url) = Url::parse(&text) {
            let again = Url::parse(&url.to_string()).expect("a printed URL parses");
            prop_assert_eq!(again.to_string(), url.to_string());
            prop_assert!(url.endpoint().starts_with("http"));
        }
        let _ = Url::parse_with_query(&text);
    }

    #[test]
    fn percent_encoding_keeps_only_unreserved_characters(text in "\\PC{0,80}") {
        let encoded = http::percent_encode(&text);
        prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        let mut decoded = Vec::new();
        let mut bytes = encoded.bytes();
        while let Some(b) = bytes.next() {
            if b == b'%' {
                let hex: String = [bytes.next().unwrap(), bytes.next().unwrap()].iter().map(|&c| c as char).collect();
                decoded.push(u8::from_str_radix(&hex, 16).unwrap());
            } else {
                decoded.push(b);
            }
        }
        prop_assert_eq!(String::from_utf8(decoded).unwrap(), text);
    }

    #[test]
    fn http_dates_round_trip(t in 0i64..8_000_000_000, junk in "\\PC{0,40}") {
        prop_assert_eq!(parse_http_date(&standins::time::http_date(t)), Some(t as u64));
        let _ = parse_http_date(&junk);
    }

    #[test]
    fn app_jwts_decode_to_their_claims(app in "[0-9]{1,12}|Iv[0-9a-zA-Z.]{1,30}|\\PC{0,20}", now in any::<u64>(), signature in proptest::collection::vec(any::<u8>(), 0..300)) {
        let Ok(app_id) = AppId::parse("app-id", &app) else { return Ok(()) };
        let unsigned = UnsignedJwt::new(&app_id, now);
        let (issued_at, expires_at) = (unsigned.issued_at, unsigned.expires_at);
        let input = String::from_utf8(unsigned.signing_input().to_vec()).unwrap();
        let jwt = unsigned.sign(&signature);
        let parts: Vec<&str> = jwt.token.expose().split('.').collect();
        prop_assert_eq!(parts.len(), 3);
        prop_assert_eq!(format!("{}.{}", parts[0], parts[1]), input);
        prop_assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap(), signature);
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        prop_assert_eq!(claims["iat"].as_u64(), Some(issued_at));
        prop_assert_eq!(claims["exp"].as_u64(), Some(expires_at));
        prop_assert!(issued_at <= now && expires_at >= issued_at);
        prop_assert_eq!(claims["iss"].is_number(), app.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn sign_requests_verify_at_the_kms_stand_in(
        message in proptest::collection::vec(any::<u8>(), 1..600),
        access_key_id in "AKIA[A-Z0-9]{16}",
        secret in "[A-Za-z0-9/+]{40}",
        session_token in proptest::option::of("[A-Za-z0-9/+=]{20,200}"),
        region in "(us|eu|ap|sa|ca|me|af)-(east|west|north|south|central)-[1-3]",
        key in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|alias/[a-zA-Z0-9/_-]{1,40}",
        now in 1_000_000_000i64..4_000_000_000,
    ) {
        let region = Region::parse("aws-region", &region).unwrap();
        let key_id = KeyId::parse("kms-key-id", &key).unwrap();
        let endpoint = kms::default_endpoint(&region);
        let key = KmsKey { key_id, region: region.clone(), endpoint: endpoint.clone() };
        let credentials = AwsCredentials {
            access_key_id: access_key_id.clone(),
            secret_access_key: Secret::new(secret.clone()),
            session_token: session_token.clone().map(Secret::new),
        };
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(now as u64);
        let request = kms::sign_request(&key, &credentials, &message, at).unwrap();
        let mut received = standins::server::Request {
            method: "POST".into(),
            target: request.url.path_or_root().to_owned(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        };
        received.headers.push(("host".into(), endpoint.authority.clone()));
        let signer = Credential { access_key_id: access_key_id.clone(), secret_access_key: secret, session_token };
        let verified = sigv4::verify(&received, std::slice::from_ref(&signer), region.as_str(), "kms", now);
        prop_assert_eq!(verified.map_err(|r| r.message), Ok(access_key_id));
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        prop_assert_eq!(STANDARD.decode(body["Message"].as_str().unwrap()).unwrap(), message);
        // One byte more in the body, and the signature no longer holds.
        received.body.push(b' ');
        prop_assert!(sigv4::verify(&received, &[signer], region.as_str(), "kms", now).is_err());
    }

    #[test]
    fn sign_answers_give_back_the_signature(signature in proptest::collection::vec(any::<u8>(), 256)) {
        let body = serde_json::json!({ "KeyId": "k", "Signature": STANDARD.encode(&signature) }).to_string();
        let response = answer(200, vec![], body.into_bytes());
        let credentials = AwsCredentials { access_key_id: "AKIA".into(), secret_access_key: Secret::new("s"), session_token: None };
        prop_assert_eq!(kms::read_sign_response(&api(), &response, &credentials).unwrap(), signature);
    }

    #[test]
    fn aws_error_messages_never_hold_the_secrets(prefix in "\\PC{0,40}", secret in "[A-Za-z0-9/+]{16,40}", status in 400u16..600) {
        let message = format!("{prefix}{secret}{prefix}");
        let body = serde_json::json!({ "__type": "InvalidSignatureException", "message": message });
        let response = answer(status, vec![], body.to_string().into_bytes());
        let e = aws::service_error(&response, Service::Kms, &[&Secret::new(secret.clone())], |_| None);
        prop_assert!(!e.message.contains(&secret));
        prop_assert_eq!(e.code.as_deref(), Some("InvalidSignatureException"));
    }

    #[test]
    fn key_stores_error_messages_never_hold_the_secrets(prefix in "\\PC{0,40}", secret in "[A-Za-z0-9._~-]{16,40}", status in 400u16..600) {
        let message = format!("{prefix}{secret}{prefix}");
        let token = Secret::new(secret.clone());
        let bodies = [
            (serde_json::json!({ "errors": [message] }), "vault"),
            (serde_json::json!({ "error": { "code": status, "status": "PERMISSION_DENIED", "message": message } }), "google"),
            (serde_json::json!({ "error": { "code": "Forbidden", "message": message } }), "azure"),
            (serde_json::json!({ "error": "invalid_grant", "error_description": message }), "oauth"),
        ];
        for (body, kind) in bodies {
            let response = answer(status, vec![], body.to_string().into_bytes());
            let e = match kind {
                "vault" => vault_errors::service_error(&response, &[&token]),
                "google" => google_errors::service_error(&response, Service::GoogleKms, &[&token]),
                "azure" => azure_errors::service_error(&response, &[&token]),
                _ => oauth::service_error(&response, Service::EntraId, &[&token]),
            };
            prop_assert!(!e.message.contains(&secret), "{kind}: {}", e.message);
        }
    }

    #[test]
    fn answers_that_echo_the_credential_never_pass_it_on(
        // As short as a client secret, or as long as an access token.
        secret in prop_oneof!["[A-Za-z0-9._~-]{16,40}", "[A-Za-z0-9._~-]{300,1200}"],
        // Little around it, or enough to put it across the quoting's cut.
        around in prop_oneof!["[ a-z=:]{0,6}", "[a-z]{300,420}"],
        body in proptest::sample::select(ECHOING_BODIES),
        status in proptest::sample::select(vec![200u16, 201, 400, 401, 403, 404, 409, 429, 500, 503]),
    ) {
        let echo = |text: &str| text.replace("@@", &format!("{around}{secret}{around}"));
        let headers = ["x-amzn-requestid", "x-github-request-id", "x-ms-request-id", "content-type", "www-authenticate"]
            .iter()
            .map(|name| (name.to_string(), echo("@@")))
            .collect();
        let response = answer(status, headers, echo(body).into_bytes());
        for error in errors_of_every_reader(&response, &Secret::new(secret.clone())) {
            prop_assert!(!shares_a_piece(&error, &secret), "{error}");
        }
    }

    #[test]
    fn answers_never_panic_the_readers((status, headers, body) in any_answer(), now in any::<u64>()) {
        let response = answer(status, headers, body);
        let secret = Secret::new("secret-value");
        let credentials = AwsCredentials { access_key_id: "AKIA".into(), secret_access_key: secret.clone(), session_token: None };
        let _ = kms::read_sign_response(&api(), &response, &credentials);
        let _ = aws::service_error(&response, Service::Kms, &[&secret], |_| None);
        let _ = aws::xml_text(&String::from_utf8_lossy(&response.body), "Code");
        let _ = sts::read_credentials(&api(), &response, &secret);
        let _ = oidc::read_id_token(&api(), &response, &secret);
        let _ = github::read_installation(&api(), &response, &secret);
        let _ = github::read_installations(&api(), &response, &secret);
        let _ = github::read_access_token(&api(), &response, 1, &secret);
        let _ = github::read_revoke(&response, &secret);
        let _ = github::read_error(&response, &secret);
        let _ = github::clock_offset(&response, now);
        let server = Server { address: api(), namespace: None };
        let transit_key = transit::Key::new("key", "app", "m", "transit", server.clone()).unwrap();
        let _ = transit::read_key(&transit_key, &response, &secret);
        let _ = transit::read_signature(&transit_key, &response, &secret, 1);
        let _ = login::read_login(&server, &response, &secret);
        let version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1";
        let gcp_key = cloud_kms::KeyVersion::new("key", version, api()).unwrap();
        let _ = cloud_kms::read_public_key(&gcp_key, &response, &secret);
        let _ = cloud_kms::read_signature(&gcp_key, &response, &secret);
        let _ = google::external_account("GOOGLE_APPLICATION_CREDENTIALS", &response.body);
        let vault_url = Url::parse("https://acme.vault.azure.net").unwrap();
        let azure_key = keyvault::Key::new("key", vault_url, "app", None).unwrap();
        let _ = keyvault::read_key(&azure_key, &response, &secret);
        let _ = keyvault::read_signature(&azure_key, &response, &secret);
        let _ = oauth::read_access_token(Service::EntraId, &api(), &response, &[&secret], "hint");
        for service in [
            Service::Kms, Service::Sts, Service::Github, Service::Oidc, Service::Vault, Service::GoogleKms,
            Service::GoogleSts, Service::GoogleIam, Service::KeyVault, Service::EntraId,
        ] {
            let _ = retry::verdict(service, &response, now);
        }
        let _ = idtoken::jwks_uri(&response.body, "https://token.actions.githubusercontent.com");
        if let Ok(jwks) = idtoken::parse_jwks(&response.body) {
            let _ = idtoken::key_in(&jwks, "kid");
        }
    }

    #[test]
    fn tokens_and_repositories_in_access_token_answers_come_back(
        token in "ghs_[A-Za-z0-9]{36}",
        repositories in proptest::collection::vec("[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}", 0..5),
    ) {
        let body = serde_json::json!({
            "token": token,
            "expires_at": "2026-11-25T21:00:00Z",
            "permissions": { "contents": "read" },
            "repository_selection": "selected",
            "repositories": repositories.iter().map(|name| serde_json::json!({ "name": name })).collect::<Vec<_>>(),
        });
        let response = answer(201, vec![], body.to_string().into_bytes());
        let minted = github::read_access_token(&api(), &response, 7, &Secret::new("jwt")).unwrap();
        prop_assert_eq!(minted.token.expose(), token.as_str());
        prop_assert_eq!(minted.repositories, repositories);
        prop_assert_eq!(minted.installation_id, 7);
    }

    #[test]
    fn github_requests_are_well_formed(owner in "\\PC{0,50}", id in any::<u64>(), repositories in proptest::collection::vec("\\PC{0,30}", 0..4)) {
        let jwt = Secret::new("a.b.c");
        if check_owner("owner", &owner).is_ok() {
            let request = github::installation_request(&api(), &Installation::Owner(owner.clone()), &jwt);
            prop_assert!(request.url.path.starts_with("/users/"));
            prop_assert!(!request.url.path.contains(['?', '#', ' ']));
        }
        let scope = Scope { repositories: repositories.clone(), permissions: vec![] };
        let request = github::access_token_request(&api(), id, &scope, &jwt);
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let sent: Vec<String> = body.get("repositories").map(|r| serde_json::from_value(r.clone()).unwrap()).unwrap_or_default();
        prop_assert_eq!(sent, repositories);
        prop_assert_eq!(&request.url.path, &format!("/app/installations/{id}/access_tokens"));
    }

    #[test]
    fn rs256_takes_any_modulus_and_signature(
        mut n in proptest::collection::vec(any::<u8>(), 256..=512),
        e in any::<u32>(),
        signature in proptest::collection::vec(any::<u8>(), 250..520),
        message in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        n[0] |= 0x80;
        if let Ok(key) = rs256::PublicKey::new(&n, &e.to_be_bytes()) {
            prop_assert_eq!(key.bits(), 8 * n.len());
            // A random signature verifies with negligible probability.
            prop_assert!(!key.verify(&message, &signature));
        }
    }

    #[test]
    fn caller_tokens_and_policies_never_panic(token in "\\PC{0,200}|[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,80}\\.[A-Za-z0-9_-]{0,60}", policy in "\\PC{0,200}", now in any::<u64>()) {
        if let Ok(unverified) = idtoken::decode(&token) {
            let _ = unverified.issuer();
            let _ = unverified.precheck("https://token.actions.githubusercontent.com", "broker", now);
        }
        let _ = policy::parse(&policy);
        let _ = policy::parse(&format!(r#"{{"rules":[{policy}]}}"#));
    }

    #[test]
    fn command_lines_never_panic(words in proptest::collection::vec("--[a-z-]{1,16}(=\\PC{0,10})?|\\PC{0,12}", 0..8)) {
        // A stray word may be a pasted secret: it is never echoed.
        if let Err(message) = args::parse(&words).map_err(|e| e.to_string())
            && message.contains("(not shown)")
        {
            for word in words.iter().filter(|w| !w.starts_with('-') && w.len() >= 8) {
                prop_assert!(!message.contains(word.as_str()), "{message}");
            }
        }
    }
}

/// docs/reliability.md's table of fuzz targets lists those of
/// fuzz/Cargo.toml, in its order.
#[test]
fn the_fuzz_target_table_is_current() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/fuzz/Cargo.toml")).unwrap();
    let targets: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| bin.lines().find_map(|line| line.strip_prefix("name = \"")?.strip_suffix('"')))
        .collect();
    let doc = std::fs::read_to_string(format!("{root}/docs/reliability.md")).unwrap();
    let (_, table) = doc.split_once("| target | what it reads |\n|---|---|\n").expect("the fuzz table");
    let listed: Vec<&str> = table
        .lines()
        .map_while(|line| line.strip_prefix("| `")?.split_once('`').map(|(name, _)| name))
        .collect();
    assert_eq!(listed, targets, "docs/reliability.md's fuzz table");
}
