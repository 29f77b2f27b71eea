//! Shared by the integration tests: the built component, loaded once into
//! the wasmtime host example, and the stand-ins' world.
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use standins::world::World;
pub use wasmtime_host::*;

/// Environment variables for an instance.
pub type Env = Vec<(String, String)>;

/// `dist/github-app-kms-token.wasm`, as `make build` writes it.
pub fn wasm_path() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist/github-app-kms-token.wasm");
    assert!(path.exists(), "{} is missing: run `make build` (or `make test`) first", path.display());
    path
}

/// Every line the host logged, across tests in this binary.
pub fn log_lines() -> Arc<Mutex<Vec<String>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES.get_or_init(Default::default).clone()
}

/// The component, compiled once per test binary. Allows loopback only.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let lines = log_lines();
        let log: Log = Arc::new(move |line| lines.lock().unwrap().push(line.to_owned()));
        Host::new(&wasm_path(), vec!["127.0.0.1".into()], log).expect("the component loads")
    })
}

/// A token request with only `installation` set.
pub fn request(installation: Option<Installation>) -> TokenRequest {
    TokenRequest {
        app_id: None,
        key: None,
        kms_key_id: None,
        aws_region: None,
        installation,
        repositories: vec![],
        permissions: vec![],
        github_api_url: None,
        timeout_seconds: None,
    }
}

/// `owner(name)`.
pub fn owner(name: &str) -> Option<Installation> {
    Some(Installation::Owner(name.into()))
}

/// A permission.
pub fn permission(name: &str, access: Access) -> Permission {
    Permission { name: name.into(), access }
}

/// `world.env()` with `changes` applied (a `None` value removes the variable).
pub fn env_with(world: &World, changes: &[(&str, Option<&str>)]) -> Env {
    with(&world.env(), changes)
}

/// `env` with `changes` applied (a `None` value removes the variable).
pub fn with(env: &Env, changes: &[(&str, Option<&str>)]) -> Env {
    let mut env = env.clone();
    for (name, value) in changes {
        env.retain(|(k, _)| k != name);
        if let Some(value) = value {
            env.push((name.to_string(), value.to_string()));
        }
    }
    env
}

/// Calls `get-installation-token` in a fresh instance; returns the result
/// and what the component printed. Every call is also a leak check.
pub fn mint(
    env: &[(String, String)],
    request: &TokenRequest,
) -> (Result<InstallationToken, TokenError>, String) {
    let mut instance = host().instance(env).expect("instantiates");
    let result = instance.get_installation_token(request).expect("no trap");
    let output = instance.output();
    let mut texts = vec![output.clone()];
    if let Err(e) = &result {
        texts.push(format!("{e:?}"));
    }
    assert_no_secret(env, &texts);
    (result, output)
}

/// Fails if any piece of a secret ([`standins::leaked`]) appears in `texts`
/// or the host's log: any secret the stand-ins handed out or saw
/// (credentials, JWT signatures, tokens), and the AWS secret key, session
/// token, Vault token, Google access token and Azure client secret in `env`.
pub fn assert_no_secret(env: &[(String, String)], texts: &[String]) {
    let mut secrets = standins::remembered();
    secrets.extend(
        env.iter()
            .filter(|(name, _)| {
                [
                    "AWS_SECRET_ACCESS_KEY",
                    "AWS_SESSION_TOKEN",
                    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
                    "GITHUB_TOKEN",
                    "VAULT_TOKEN",
                    "GOOGLE_OAUTH_ACCESS_TOKEN",
                    "AZURE_CLIENT_SECRET",
                ]
                .contains(&name.as_str())
            })
            .map(|(_, value)| value.clone()),
    );
    let log = log_lines().lock().unwrap().clone();
    for secret in secrets.iter().filter(|s| s.len() >= 8) {
        for text in texts.iter().chain(&log) {
            assert_eq!(standins::leaked(secret, text), None, "a secret leaked into: {text}");
        }
    }
}
/// The service error inside a `kms`, `github`, `sts` or `credentials-rejected` error.
pub fn service_error(error: &TokenError) -> &ServiceError {
    match error {
        TokenError::Kms(e)
        | TokenError::Github(e)
        | TokenError::Sts(e)
        | TokenError::CredentialsRejected(e) => e,
        other => panic!("not a service error: {other:?}"),
    }
}
