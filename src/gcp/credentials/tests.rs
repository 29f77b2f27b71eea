use super::*;
use crate::net::script::answer;

const PROVIDER: &str = "projects/123456789/locations/global/workloadIdentityPools/github/providers/actions";

/// As google-github-actions/auth writes it (its request token stands in).
fn written_by_auth() -> String {
    serde_json::json!({
        "type": "external_account",
        "audience": format!("//iam.googleapis.com/{PROVIDER}"),
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "https://sts.googleapis.com/v1/token",
        "service_account_impersonation_url": "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/signer@acme-ci.iam.gserviceaccount.com:generateAccessToken",
        "credential_source": {
            "url": format!("https://pipelines.actions.example/idtoken?api-version=2.0&audience=https://iam.googleapis.com/{PROVIDER}"),
            "headers": {"Authorization": "Bearer request-token"},
            "format": {"type": "json", "subject_token_field_name": "value"},
        },
    })
    .to_string()
}

#[test]
fn reads_the_external_account_json_that_auth_writes() {
    let account = external_account("GOOGLE_APPLICATION_CREDENTIALS", written_by_auth().as_bytes()).unwrap();
    assert_eq!(account.audience, format!("//iam.googleapis.com/{PROVIDER}"));
    assert_eq!(account.token_url.to_string(), DEFAULT_TOKEN_URL);
    assert!(
        account
            .impersonation
            .unwrap()
            .to_string()
            .ends_with("signer@acme-ci.iam.gserviceaccount.com:generateAccessToken")
    );
    let CredentialSource::Url { url, bearer } = account.source else { panic!("not a url source") };
    assert!(url.to_string().contains("audience=https://iam.googleapis.com/projects/123456789"));
    assert_eq!(bearer.expose(), "request-token");
    let file = r#"{"type":"external_account","audience":"//iam.googleapis.com/x","credential_source":{"file":"/var/run/token"}}"#;
    let account = external_account("G", file.as_bytes()).unwrap();
    assert_eq!(
        (account.source, account.impersonation),
        (CredentialSource::File("/var/run/token".into()), None)
    );
}

/// A service account key JSON, its private key generated now (never a committed one).
fn service_account_key() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).unwrap();
    let pem = private.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let json = serde_json::json!({"type": "service_account", "client_email": "a@p.iam.gserviceaccount.com", "private_key": pem});
    (json.to_string(), pem)
}

#[test]
fn a_service_account_key_or_a_broken_json_is_refused_naming_the_variable() {
    let (service_account, pem) = service_account_key();
    let cases = [
        service_account,
        "not json".to_owned(),
        written_by_auth().replace("https://sts.googleapis.com", "http://sts.example.com"),
        written_by_auth().replace("https://sts.googleapis.com", "https://sts.example.com"),
        written_by_auth().replace("https://iamcredentials.googleapis.com", "https://collector.example.com"),
        written_by_auth().replace("https://sts.googleapis.com", "https://storage.googleapis.com"),
        written_by_auth().replace("\"value\"", "\"id_token\""),
        r#"{"type":"external_account","audience":"a","credential_source":{}}"#.to_owned(),
    ];
    for text in cases {
        let Err(Error::InvalidInput(e)) = external_account("GOOGLE_APPLICATION_CREDENTIALS", text.as_bytes())
        else {
            panic!("{text}")
        };
        assert_eq!(e.field, "GOOGLE_APPLICATION_CREDENTIALS");
        assert!(!e.rule.contains("request-token"), "{}", e.rule);
        assert!(pem.lines().all(|line| !e.rule.contains(line)), "{}", e.rule);
    }
}

#[test]
fn googles_regional_and_private_hosts_are_its_own() {
    for host in
        ["sts.googleapis.com", "sts.europe-west1.rep.googleapis.com", "europe-west1-sts.googleapis.com"]
    {
        assert!(is_google_host(host, "sts"), "{host}");
    }
    for host in [
        "sts.googleapis.com.evil.com",
        "evil-sts.example.com",
        "storage.googleapis.com",
        "stsx.googleapis.com",
    ] {
        assert!(!is_google_host(host, "sts"), "{host}");
    }
}

#[test]
fn providers_and_service_accounts_are_checked() {
    assert_eq!(provider_audience("p", PROVIDER).unwrap(), format!("//iam.googleapis.com/{PROVIDER}"));
    assert!(provider_audience("p", &format!("//iam.googleapis.com/{PROVIDER}")).is_ok());
    assert!(provider_audience("p", "projects/1/locations/global/workloadIdentityPools/github").is_err());
    let url = impersonation_url("s", "signer@acme-ci.iam.gserviceaccount.com").unwrap();
    assert_eq!(
        url.to_string(),
        "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/signer@acme-ci.iam.gserviceaccount.com:generateAccessToken"
    );
    assert!(impersonation_url("s", "signer").is_err());
    assert!(impersonation_url("s", "a b@c.d").is_err());
}

#[test]
fn exchanges_at_sts_then_impersonates() {
    let federation = Federation {
        audience: format!("//iam.googleapis.com/{PROVIDER}"),
        token_url: Url::parse(DEFAULT_TOKEN_URL).unwrap(),
        subject_token_type: JWT_TOKEN_TYPE.into(),
        impersonation: None,
        token: IdentityToken::Given(Secret::new("a.b.c")),
    };
    let request = exchange_request(&federation, &Secret::new("a.b.c"));
    let form: Vec<(String, String)> = form_urlencoded::parse(&request.body).into_owned().collect();
    assert!(form.contains(&("grant_type".into(), "urn:ietf:params:oauth:grant-type:token-exchange".into())));
    assert!(form.contains(&("subject_token".into(), "a.b.c".into())));
    assert!(form.contains(&("scope".into(), CLOUD_PLATFORM.into())));
    let ok = answer(
        200,
        &[],
        r#"{"access_token":"fed","issued_token_type":"x","token_type":"Bearer","expires_in":3599}"#,
    );
    assert_eq!(read_exchange(&federation, &ok.unwrap(), &Secret::new("a.b.c")).unwrap().expose(), "fed");
    let url = impersonation_url("s", "signer@acme-ci.iam.gserviceaccount.com").unwrap();
    let request = impersonation_request(&url, &Secret::new("fed"));
    assert!(request.headers.contains(&("authorization".into(), "Bearer fed".into())));
    let ok = answer(200, &[], r#"{"accessToken":"ya29.sa","expireTime":"2026-12-06T10:00:00Z"}"#);
    assert_eq!(read_impersonation(&url, &ok.unwrap(), &Secret::new("fed")).unwrap().expose(), "ya29.sa");
    let denied = r#"{"error":{"code":403,"message":"Permission 'iam.serviceAccounts.getAccessToken' denied","status":"PERMISSION_DENIED"}}"#;
    let Err(Error::Sts(e)) =
        read_impersonation(&url, &answer(403, &[], denied).unwrap(), &Secret::new("fed"))
    else {
        panic!()
    };
    assert!(e.hint.unwrap().contains("roles/iam.workloadIdentityUser"));
}
