//! The environment and a request resolved: fallbacks, what wins, every
//! variable and field named in its error, and each credential source.

use super::*;

const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";
const ROLE: &str = "arn:aws:iam::111122223333:role/github-app-signer";

fn env() -> Env {
    Env::from_pairs([
        ("APP_ID", "42"),
        ("KMS_KEY_ID", KEY),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
    ])
}

/// The AWS KMS key of `settings`.
fn kms(settings: &JwtSettings) -> &KmsKey {
    match &settings.key {
        Key::AwsKms(kms) => kms,
        other => panic!("not an AWS KMS key: {other:?}"),
    }
}

fn request() -> TokenRequest {
    TokenRequest {
        app_id: None,
        key: None,
        kms_key_id: None,
        aws_region: None,
        installation: Some(Installation::Owner("acme".into())),
        repositories: vec![],
        permissions: vec![],
        github_api_url: None,
        timeout_seconds: None,
    }
}

fn field_of<T>(result: Result<T>) -> String {
    match result {
        Err(Error::InvalidInput(e)) => e.field,
        Err(other) => panic!("not invalid-input: {}", other.message()),
        Ok(_) => panic!("accepted"),
    }
}

fn token_target_of(r: &TokenRequest, env: &Env) -> Result<Target> {
    token_target(r.installation.as_ref(), &r.repositories, &r.permissions, env)
}

fn region() -> Region {
    Region::parse("r", "eu-west-1").unwrap()
}

#[test]
fn the_environment_fills_what_the_request_leaves_out() {
    let d = deployment(&Fields::of(&request()), &env()).unwrap();
    assert_eq!(d.jwt.app, AppId::Number(42));
    assert_eq!(kms(&d.jwt).region.as_str(), "eu-west-1");
    assert_eq!(kms(&d.jwt).endpoint.to_string(), "https://kms.eu-west-1.amazonaws.com/");
    assert_eq!(d.api.to_string(), "https://api.github.com/");
    assert_eq!(d.timeout, Duration::from_secs(30));
    assert!(
        matches!(d.credentials, Credentials::Aws(Source::Keys(ref k)) if k.access_key_id == "AKIDEXAMPLE")
    );
    assert_eq!(token_target_of(&request(), &env()).unwrap().installation, Installation::Owner("acme".into()));
}

#[test]
fn the_request_wins_over_the_environment() {
    let env = env()
        .with("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
        .with("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:9000")
        .with("TOKEN_TIMEOUT_SECONDS", "5");
    let fields = Fields {
        app_id: Some("Iv23abc"),
        aws_region: Some("us-east-2"),
        github_api_url: Some("https://ghe.example.com/api/v3"),
        timeout_seconds: Some(2),
        ..Fields::default()
    };
    let d = deployment(&fields, &env).unwrap();
    assert_eq!(d.jwt.app, AppId::ClientId("Iv23abc".into()));
    assert_eq!(kms(&d.jwt).region.as_str(), "us-east-2");
    assert_eq!(kms(&d.jwt).endpoint.to_string(), "http://127.0.0.1:9000/");
    assert_eq!(d.api.to_string(), "https://ghe.example.com/api/v3");
    assert_eq!(d.timeout, Duration::from_secs(2));
    assert_eq!(timeout(None, &env).unwrap(), Duration::from_secs(5));
}

#[test]
fn the_region_comes_from_a_key_arn() {
    let arn = format!("arn:aws:kms:ap-southeast-2:111122223333:key/{KEY}");
    let fields = Fields { kms_key_id: Some(&arn), ..Fields::default() };
    assert_eq!(kms(&jwt_settings(&fields, &env()).unwrap()).region.as_str(), "ap-southeast-2");
    let conflict = Fields { aws_region: Some("eu-west-1"), ..fields };
    assert_eq!(field_of(jwt_settings(&conflict, &env())), "aws-region");
}

#[test]
fn the_current_repository_is_the_last_resort_and_scopes_its_owners_token_to_itself() {
    let env = env().with("GITHUB_REPOSITORY", "acme/widgets");
    let t = token_target_of(&TokenRequest { installation: None, ..request() }, &env).unwrap();
    assert_eq!(
        (t.installation, t.scope.repositories),
        (Installation::Owner("acme".into()), vec!["widgets".to_owned()])
    );
    let named = TokenRequest { installation: None, repositories: vec!["docs".into()], ..request() };
    let t = token_target_of(&named, &env).unwrap();
    assert_eq!(
        (t.installation, t.scope.repositories),
        (Installation::Owner("acme".into()), vec!["docs".to_owned()])
    );
}

#[test]
fn every_variable_and_field_is_named_in_its_error() {
    for (fields, field) in [
        (Fields { app_id: Some(""), ..Fields::default() }, "app-id"),
        (Fields { kms_key_id: Some("my-key"), ..Fields::default() }, "kms-key-id"),
        (Fields { aws_region: Some("Europe"), ..Fields::default() }, "aws-region"),
        (Fields { github_api_url: Some("api.github.com"), ..Fields::default() }, "github-api-url"),
        (Fields { timeout_seconds: Some(0), ..Fields::default() }, "timeout-seconds"),
    ] {
        assert_eq!(field_of(deployment(&fields, &env())), field);
    }
    for (var, value) in [
        ("AWS_REGION", "Ireland"),
        ("GITHUB_API_URL", "ftp://x"),
        ("KMS_KEY_ID", "key"),
        ("APP_ID", "not an id"),
        ("AWS_ENDPOINT_URL_KMS", "localhost:4566"),
        ("TOKEN_TIMEOUT_SECONDS", "5s"),
    ] {
        assert_eq!(field_of(deployment(&Fields::default(), &env().with(var, value))), var);
    }
    let no_region = Env::from_pairs([("APP_ID", "42"), ("KMS_KEY_ID", KEY)]);
    assert_eq!(field_of(jwt_settings(&Fields::default(), &no_region)), "aws-region");
    for (var, value) in [
        ("INSTALLATION_ID", "0"),
        ("INSTALLATION_ID", "12ab"),
        ("OWNER", "not an owner"),
        ("GITHUB_REPOSITORY", "no-slash"),
        ("GITHUB_REPOSITORY", "octo/bad name"),
    ] {
        let request = TokenRequest { installation: None, ..request() };
        assert_eq!(field_of(token_target_of(&request, &Env::default().with(var, value))), var);
    }
    let nothing = TokenRequest { installation: None, ..request() };
    assert_eq!(field_of(token_target_of(&nothing, &Env::default())), "installation");
}

/// A credential travels to every endpoint: plain `http://` only stays on this machine.
#[test]
fn plain_http_is_for_loopback_endpoints_only() {
    let settings = |var: &str, url: &str| {
        let env = env().with(var, url).with("AWS_ROLE_ARN", ROLE).with("AWS_WEB_IDENTITY_TOKEN_FILE", "/x");
        let keyless = Env::from_pairs([
            ("AWS_ROLE_ARN", ROLE),
            ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "t"),
            ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.example/idtoken"),
            (var, url),
        ]);
        deployment(&Fields::default(), &env).and_then(|_| aws_credentials(&keyless, &region()).map(drop))
    };
    for var in ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "GITHUB_API_URL"] {
        for loopback in
            ["http://127.0.0.1:4566", "http://127.8.9.10", "http://localhost:8080", "http://[::1]:9"]
        {
            assert!(settings(var, loopback).is_ok(), "{var}={loopback}");
        }
        for remote in
            ["http://example.com/api/v3", "http://10.0.0.1", "http://127.example.com", "http://[::2]"]
        {
            let Err(Error::InvalidInput(e)) = settings(var, remote) else {
                panic!("{var}={remote} accepted")
            };
            assert_eq!((e.field.as_str(), e.rule.as_str()), (var, crate::net::url::INSECURE));
        }
    }
    let field = Fields { github_api_url: Some("http://ghe.example.com/api/v3"), ..Fields::default() };
    assert_eq!(field_of(deployment(&field, &env())), "github-api-url");
}

fn oidc_env(extra: &[(&str, &str)]) -> Env {
    let mut pairs = vec![
        ("AWS_ROLE_ARN", ROLE),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.example/idtoken?api-version=2.0"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token"),
        ("GITHUB_RUN_ID", "123"),
        ("GITHUB_RUN_ATTEMPT", "2"),
    ];
    pairs.extend_from_slice(extra);
    Env::from_pairs(pairs)
}

#[test]
fn keys_come_first() {
    let env = oidc_env(&[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
        ("AWS_SESSION_TOKEN", "tok"),
    ]);
    let Source::Keys(creds) = aws_credentials(&env, &region()).unwrap() else { panic!("not keys") };
    assert_eq!(creds.secrets().iter().map(|s| s.expose()).collect::<Vec<_>>(), ["s3cr3t", "tok"]);
}

#[test]
fn github_oidc_names_the_run() {
    let Source::WebIdentity { role, token: IdentityToken::GithubActions { request_url, audience, .. }, sts } =
        aws_credentials(&oidc_env(&[]), &region()).unwrap()
    else {
        panic!("not OIDC")
    };
    assert_eq!(role, Role { arn: ROLE.into(), session_name: "gha-123-2".into() });
    assert_eq!(request_url.path, "/idtoken?api-version=2.0");
    assert_eq!(
        (audience.as_deref().unwrap(), sts.to_string().as_str()),
        (DEFAULT_AUDIENCE, "https://sts.eu-west-1.amazonaws.com/")
    );
    let named = oidc_env(&[("ROLE_SESSION_NAME", "deploy@acme"), ("STS_AUDIENCE", "custom")]);
    let Source::WebIdentity { role, token: IdentityToken::GithubActions { audience, .. }, .. } =
        aws_credentials(&named, &region()).unwrap()
    else {
        panic!()
    };
    assert_eq!((role.session_name.as_str(), audience.as_deref().unwrap()), ("deploy@acme", "custom"));
}

#[test]
fn a_token_file_comes_last_read_within_its_bound() {
    let dir = std::env::temp_dir().join(format!("gakt-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (small, large) = (dir.join("token"), dir.join("large"));
    std::fs::write(&small, " a.b.c\n").unwrap();
    std::fs::write(&large, vec![b'x'; MAX_TOKEN_FILE_BYTES as usize + 1]).unwrap();
    let env = |path: &std::path::Path| {
        Env::from_pairs([
            ("ROLE_TO_ASSUME", ROLE),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", &path.display().to_string()),
        ])
    };
    let Source::WebIdentity { role, token: IdentityToken::Given(token), .. } =
        aws_credentials(&env(&small), &region()).unwrap()
    else {
        panic!("not a file")
    };
    assert_eq!((role.session_name.as_str(), token.expose()), ("github-app-kms-token", "a.b.c"));
    let Err(Error::CredentialsMissing(why)) = aws_credentials(&env(&large), &region()) else {
        panic!("read a large file")
    };
    assert!(why.contains("larger than 65536 bytes"), "{why}");
    let Err(Error::CredentialsMissing(why)) = aws_credentials(&env(&dir.join("absent")), &region()) else {
        panic!()
    };
    assert!(why.contains("wasmtime run --dir"), "{why}");
}

#[test]
fn says_what_is_missing_or_wrong() {
    let Err(Error::CredentialsMissing(why)) = aws_credentials(&Env::default(), &region()) else { panic!() };
    assert!(
        why.contains("AWS_ROLE_ARN")
            && why.contains("id-token: write")
            && why.contains("AWS_WEB_IDENTITY_TOKEN_FILE"),
        "{why}"
    );
    let cases = [
        (Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKID")]), "AWS_SECRET_ACCESS_KEY"),
        (oidc_env(&[("AWS_ROLE_ARN", "arn:aws:iam::1:user/me")]), "AWS_ROLE_ARN"),
        (oidc_env(&[("AWS_ROLE_SESSION_NAME", "has space")]), "AWS_ROLE_SESSION_NAME"),
        (
            oidc_env(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "http://pipelines.example/idtoken")]),
            "ACTIONS_ID_TOKEN_REQUEST_URL",
        ),
    ];
    for (env, field) in cases {
        assert_eq!(field_of(aws_credentials(&env, &region())), field);
    }
}

#[test]
fn the_brokers_configuration_problems_are_told_for_the_log() {
    let policy =
        r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}}]}"#;
    assert!(broker(&env().with("TRUST_POLICY", policy).with("OIDC_AUDIENCE", "b")).is_ok());
    for (env, says) in [
        (env().with("OIDC_AUDIENCE", "b"), "TRUST_POLICY is not set"),
        (env().with("TRUST_POLICY", policy), "OIDC_AUDIENCE is not set"),
        (env().with("TRUST_POLICY", "{").with("OIDC_AUDIENCE", "b"), "not a valid policy"),
        (Env::default().with("TRUST_POLICY", policy).with("OIDC_AUDIENCE", "b"), "app-id"),
    ] {
        assert!(broker(&env).err().is_some_and(|e| e.to_string().contains(says)), "{says}");
    }
}

#[test]
fn a_key_reference_names_its_store() {
    let with_key = |key: &str| env().with("KEY", key);
    let key_of = |env: &Env| jwt_settings(&Fields::default(), env).unwrap().key;
    // awskms://, with and without an endpoint; a loopback endpoint is plain http.
    let Key::AwsKms(k) = key_of(&with_key("awskms:///alias/github-app")) else { panic!() };
    assert_eq!(
        (k.key_id.as_str(), k.endpoint.to_string().as_str()),
        ("alias/github-app", "https://kms.eu-west-1.amazonaws.com/")
    );
    let Key::AwsKms(k) = key_of(&with_key("awskms://localhost:4566/alias/github-app")) else { panic!() };
    assert_eq!(k.endpoint.to_string(), "http://localhost:4566/");
    let foreign = with_key("awskms://collector.example.com/alias/a");
    assert_eq!(
        field_of(jwt_settings(&Fields::default(), &foreign)),
        "KEY",
        "a signed request goes to AWS only"
    );
    let Key::AwsKms(k) = key_of(&with_key("awskms://kms-fips.eu-west-1.amazonaws.com/alias/a")) else {
        panic!()
    };
    assert_eq!(k.endpoint.to_string(), "https://kms-fips.eu-west-1.amazonaws.com/");
    // KEY wins over KMS_KEY_ID; `key` over both; `kms-key-id` is its alias.
    let Key::AwsKms(k) = key_of(&with_key("alias/other")) else { panic!() };
    assert_eq!(k.key_id.as_str(), "alias/other");
    let fields = Fields { kms_key_id: Some("alias/given"), ..Fields::default() };
    let Key::AwsKms(k) = jwt_settings(&fields, &with_key("alias/other")).unwrap().key else { panic!() };
    assert_eq!(k.key_id.as_str(), "alias/given");
    let both = Fields { key: Some("alias/a"), kms_key_id: Some("alias/b"), ..Fields::default() };
    assert_eq!(field_of(jwt_settings(&both, &env())), "key");
    // hashivault://: Vault's address, namespace and mount from the environment.
    let vault = with_key("hashivault://github-app")
        .with("VAULT_ADDR", "https://vault.example.com:8200")
        .with("VAULT_NAMESPACE", "/admin/team-a/")
        .with("VAULT_TRANSIT_MOUNT", "team-a/transit");
    let Key::VaultTransit(k) = key_of(&vault) else { panic!() };
    assert_eq!(k.server.address.to_string(), "https://vault.example.com:8200/");
    assert_eq!(k.server.namespace.as_deref(), Some("admin/team-a"));
    assert_eq!(k.path(), "team-a/transit/keys/github-app");
    let default_mount = with_key("hashivault://app").with("VAULT_ADDR", "http://127.0.0.1:8200");
    let Key::VaultTransit(k) = key_of(&default_mount) else { panic!() };
    assert_eq!(k.path(), "transit/keys/app");
}

#[test]
fn a_bad_key_reference_or_vault_setting_is_named() {
    let vault = || env().with("KEY", "hashivault://app").with("VAULT_ADDR", "https://vault.example.com");
    for (env, field) in [
        (env().with("KEY", "awskms:///"), "KEY"),
        (env().with("KEY", "awskms://a b/alias/x"), "KEY"),
        (env().with("KEY", "awskms://host/path/alias/x"), "KEY"),
        (env().with("KEY", "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k"), "KEY"),
        (env().with("KEY", "hashivault://app"), "VAULT_ADDR"),
        (vault().with("VAULT_ADDR", "http://vault.example.com"), "VAULT_ADDR"),
        (vault().with("VAULT_NAMESPACE", "a//b"), "VAULT_NAMESPACE"),
        (vault().with("VAULT_TRANSIT_MOUNT", "../sys"), "VAULT_TRANSIT_MOUNT"),
        (vault().with("KEY", "hashivault://a/b"), "KEY"),
    ] {
        assert_eq!(field_of(jwt_settings(&Fields::default(), &env)), field);
    }
    let region = Fields { aws_region: Some("eu-west-1"), ..Fields::default() };
    assert_eq!(field_of(jwt_settings(&region, &vault())), "aws-region");
    let none = Env::from_pairs([("APP_ID", "42")]);
    assert_eq!(field_of(jwt_settings(&Fields::default(), &none)), "key");
}

#[test]
fn a_vault_token_comes_first_then_the_jwt_login() {
    let vault = env().with("KEY", "hashivault://app").with("VAULT_ADDR", "https://vault.example.com");
    let settings = jwt_settings(&Fields::default(), &vault).unwrap();
    let Credentials::Vault(Login::Token(token)) =
        credentials(&vault.clone().with("VAULT_TOKEN", "hvs.static").with("VAULT_ROLE", "r"), &settings.key)
            .unwrap()
    else {
        panic!("not the token")
    };
    assert_eq!(token.expose(), "hvs.static");
    let runner = vault
        .clone()
        .with("VAULT_ROLE", "app-signer")
        .with("VAULT_AUDIENCE", "https://vault.example.com")
        .with("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.example/idtoken?api-version=2.0")
        .with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token");
    let Credentials::Vault(Login::Jwt { role, mount, token: IdentityToken::GithubActions { audience, .. } }) =
        credentials(&runner, &settings.key).unwrap()
    else {
        panic!("not the runner's login")
    };
    assert_eq!((role.as_str(), mount.as_str()), ("app-signer", "jwt"));
    assert_eq!(audience.as_deref(), Some("https://vault.example.com"));
    let dir = test_dir();
    let file = dir.join("token");
    std::fs::write(&file, "a.b.c\n").unwrap();
    let k8s = vault
        .clone()
        .with("VAULT_ROLE", "app-signer")
        .with("VAULT_AUTH_MOUNT", "kubernetes-jwt")
        .with("VAULT_JWT_FILE", file.to_str().unwrap());
    let Credentials::Vault(Login::Jwt { mount, token: IdentityToken::Given(token), .. }) =
        credentials(&k8s, &settings.key).unwrap()
    else {
        panic!("not the file's login")
    };
    assert_eq!((mount.as_str(), token.expose()), ("kubernetes-jwt", "a.b.c"));
    let Err(Error::CredentialsMissing(why)) = credentials(&vault, &settings.key) else { panic!() };
    assert_eq!(
        why,
        "tried 1. VAULT_TOKEN: not set; 2. Vault's JWT login: VAULT_ROLE is not set, ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN \
         are not set: give the job `permissions: id-token: write`, VAULT_JWT_FILE is not set"
    );
    let bad_role = runner.with("VAULT_ROLE", "a role");
    assert_eq!(field_of(credentials(&bad_role, &settings.key)), "VAULT_ROLE");
}

/// A new folder for a test's files.
fn test_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gakt-resolve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const GCP_KEY: &str =
    "gcpkms://projects/acme-ci/locations/global/keyRings/github/cryptoKeys/app/cryptoKeyVersions/1";
const PROVIDER: &str = "projects/123456789/locations/global/workloadIdentityPools/github/providers/actions";

#[test]
fn a_google_key_and_its_credentials() {
    let google = env().with("KEY", GCP_KEY);
    let settings = jwt_settings(&Fields::default(), &google).unwrap();
    let Key::GoogleKms(key) = &settings.key else { panic!() };
    assert_eq!(key.endpoint.to_string(), "https://cloudkms.googleapis.com/");
    let Key::GoogleKms(key) =
        jwt_settings(&Fields::default(), &google.clone().with("GOOGLE_KMS_ENDPOINT", "http://127.0.0.1:9"))
            .unwrap()
            .key
    else {
        panic!()
    };
    assert_eq!(key.endpoint.to_string(), "http://127.0.0.1:9/");
    // The access token wins; then the provider with the runner's token, as auth asks for it.
    let token = google
        .clone()
        .with("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.t")
        .with("GCP_WORKLOAD_IDENTITY_PROVIDER", PROVIDER);
    assert!(matches!(
        credentials(&token, &settings.key).unwrap(),
        Credentials::Google(google::Source::Token(_))
    ));
    let runner = google
        .clone()
        .with("GCP_WORKLOAD_IDENTITY_PROVIDER", PROVIDER)
        .with("GOOGLE_SERVICE_ACCOUNT", "signer@acme-ci.iam.gserviceaccount.com")
        .with("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.example/idtoken?api-version=2.0")
        .with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token");
    let Credentials::Google(google::Source::Federated(federation)) =
        credentials(&runner, &settings.key).unwrap()
    else {
        panic!()
    };
    assert_eq!(federation.audience, format!("//iam.googleapis.com/{PROVIDER}"));
    assert_eq!(federation.token_url.to_string(), "https://sts.googleapis.com/v1/token");
    let IdentityToken::GithubActions { audience, .. } = &federation.token else { panic!() };
    assert_eq!(audience.as_deref(), Some(format!("https://iam.googleapis.com/{PROVIDER}").as_str()));
    assert!(
        federation
            .impersonation
            .unwrap()
            .to_string()
            .ends_with("signer@acme-ci.iam.gserviceaccount.com:generateAccessToken")
    );
    let Err(Error::CredentialsMissing(why)) = credentials(&google, &settings.key) else { panic!() };
    assert!(why.starts_with("tried 1. GOOGLE_OAUTH_ACCESS_TOKEN: not set;"), "{why}");
    assert_eq!(
        field_of(credentials(&runner.with("GCP_WORKLOAD_IDENTITY_PROVIDER", "pool"), &settings.key)),
        "GCP_WORKLOAD_IDENTITY_PROVIDER"
    );
}

#[test]
fn an_external_account_json_as_google_github_actions_auth_writes_it() {
    let dir = test_dir();
    let file = dir.join("gha-creds.json");
    let json = serde_json::json!({
        "type": "external_account",
        "audience": format!("//iam.googleapis.com/{PROVIDER}"),
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": "http://127.0.0.1:9/v1/token",
        "credential_source": {
            "url": "https://pipelines.example/idtoken?api-version=2.0&audience=x",
            "headers": {"Authorization": "Bearer request-token"},
            "format": {"type": "json", "subject_token_field_name": "value"},
        },
    });
    std::fs::write(&file, json.to_string()).unwrap();
    let google = env().with("KEY", GCP_KEY).with("GOOGLE_APPLICATION_CREDENTIALS", file.to_str().unwrap());
    let settings = jwt_settings(&Fields::default(), &google).unwrap();
    let Credentials::Google(google::Source::Federated(federation)) =
        credentials(&google, &settings.key).unwrap()
    else {
        panic!()
    };
    assert_eq!(federation.token_url.to_string(), "http://127.0.0.1:9/v1/token");
    let IdentityToken::GithubActions { request_token, audience: None, .. } = &federation.token else {
        panic!()
    };
    assert_eq!(request_token.expose(), "request-token");
    std::fs::write(&file, r#"{"type":"service_account","private_key":"x"}"#).unwrap();
    assert_eq!(field_of(credentials(&google, &settings.key)), "GOOGLE_APPLICATION_CREDENTIALS");
}

#[test]
fn an_azure_key_and_its_credentials() {
    let azure = env()
        .with("KEY", "azurekms://acme-ci.vault.azure.net/github-app")
        .with("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
        .with("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555");
    let settings = jwt_settings(&Fields::default(), &azure).unwrap();
    let Key::AzureKeyVault(key) = &settings.key else { panic!() };
    assert_eq!(
        (key.vault.to_string().as_str(), key.name.as_str()),
        ("https://acme-ci.vault.azure.net/", "github-app")
    );
    let Credentials::Azure(entra) =
        credentials(&azure.clone().with("AZURE_CLIENT_SECRET", "s3cr3t"), &settings.key).unwrap()
    else {
        panic!()
    };
    assert!(matches!(entra.proof, Proof::Secret(_)));
    assert_eq!(
        entra.token_url().to_string(),
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    );
    let runner = azure
        .clone()
        .with("AZURE_AUTHORITY_HOST", "http://127.0.0.1:9")
        .with("ACTIONS_ID_TOKEN_REQUEST_URL", "https://pipelines.example/idtoken?api-version=2.0")
        .with("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token");
    let Credentials::Azure(entra) = credentials(&runner, &settings.key).unwrap() else { panic!() };
    let Proof::Assertion(IdentityToken::GithubActions { audience, .. }) = &entra.proof else { panic!() };
    assert_eq!(audience.as_deref(), Some("api://AzureADTokenExchange"));
    assert_eq!(entra.authority.to_string(), "http://127.0.0.1:9/");
    let Err(Error::CredentialsMissing(why)) = credentials(&azure.with("AZURE_CLIENT_ID", ""), &settings.key)
    else {
        panic!()
    };
    assert!(
        why.starts_with("Entra ID needs AZURE_TENANT_ID (is set) and AZURE_CLIENT_ID (is not set)"),
        "{why}"
    );
    for (key, field) in [
        ("azurekms://evil.example.com/app", "KEY"),
        ("azurekms://acme.vault.azure.net/a_b", "KEY"),
        ("azurekms://acme.vault.azure.net/app/v/1", "KEY"),
    ] {
        assert_eq!(field_of(jwt_settings(&Fields::default(), &env().with("KEY", key))), field, "{key}");
    }
}
