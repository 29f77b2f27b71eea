//! The environment a host hands the component (`wasi:cli/environment`), as
//! a map, and every variable the component reads ([`VARIABLES`]). Only the
//! exports read the host's; everything below takes settings resolved from it.

use std::collections::BTreeMap;

/// A variable the component reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// Whether the Action hands it over from the job's environment. The
    /// others are the request's own fields (the Action's inputs set those),
    /// aliases, or another face's.
    pub from_job: bool,
}

const fn job(name: &'static str) -> Variable {
    Variable { name, from_job: true }
}

const fn own(name: &'static str) -> Variable {
    Variable { name, from_job: false }
}

/// Every variable the component reads. Reading another is a bug that a
/// debug build (every unit test) stops at; the Action's list of what to
/// hand over is generated from this one.
pub const VARIABLES: &[Variable] = &[
    // The request's fields, when it leaves them out.
    own("APP_ID"),
    own("KEY"),
    own("KMS_KEY_ID"),
    job("AWS_REGION"),
    job("AWS_DEFAULT_REGION"),
    own("GITHUB_API_URL"),
    job("TOKEN_TIMEOUT_SECONDS"),
    own("INSTALLATION_ID"),
    own("OWNER"),
    job("GITHUB_REPOSITORY"),
    // AWS credentials, in the order they are tried, and the endpoints; the
    // runner's ID token is every store's.
    job("AWS_ACCESS_KEY_ID"),
    job("AWS_SECRET_ACCESS_KEY"),
    job("AWS_SESSION_TOKEN"),
    job("AWS_ROLE_ARN"),
    own("ROLE_TO_ASSUME"),
    job("AWS_ROLE_SESSION_NAME"),
    own("ROLE_SESSION_NAME"),
    job("ACTIONS_ID_TOKEN_REQUEST_URL"),
    job("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    own("STS_AUDIENCE"),
    own("AWS_WEB_IDENTITY_TOKEN_FILE"),
    job("GITHUB_RUN_ID"),
    job("GITHUB_RUN_ATTEMPT"),
    job("AWS_ENDPOINT_URL"),
    job("AWS_ENDPOINT_URL_KMS"),
    job("AWS_ENDPOINT_URL_STS"),
    // Vault or OpenBao: where, and its token or JWT login.
    job("VAULT_ADDR"),
    job("VAULT_NAMESPACE"),
    job("VAULT_TRANSIT_MOUNT"),
    job("VAULT_TOKEN"),
    job("VAULT_ROLE"),
    job("VAULT_AUTH_MOUNT"),
    job("VAULT_AUDIENCE"),
    own("VAULT_JWT_FILE"),
    // Google Cloud KMS: where, and its access token or federation.
    job("GOOGLE_KMS_ENDPOINT"),
    job("GOOGLE_OAUTH_ACCESS_TOKEN"),
    own("GOOGLE_APPLICATION_CREDENTIALS"),
    job("GCP_WORKLOAD_IDENTITY_PROVIDER"),
    job("GOOGLE_SERVICE_ACCOUNT"),
    // Azure Key Vault: Entra ID's app registration and its proof.
    job("AZURE_TENANT_ID"),
    job("AZURE_CLIENT_ID"),
    job("AZURE_CLIENT_SECRET"),
    job("AZURE_AUTHORITY_HOST"),
    own("AZURE_FEDERATED_TOKEN_FILE"),
    // The command line's own.
    own("REPOSITORIES"),
    own("GITHUB_TOKEN"),
    // The broker's deployment.
    own("TRUST_POLICY"),
    own("OIDC_AUDIENCE"),
    own("CACHE_KEY"),
    own("CACHE_TOKENS"),
];

/// Environment variables. They hold secrets, so there is no `Debug`. Empty
/// values count as unset.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// An environment made of `pairs`.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name`, unless it is unset or empty. `name` must be one
    /// of [`VARIABLES`].
    pub fn get(&self, name: &str) -> Option<&str> {
        debug_assert!(VARIABLES.iter().any(|v| v.name == name), "{name} is not in env::VARIABLES");
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set, with its name (for error messages).
    pub fn first<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a str)> {
        names.iter().find_map(|&name| Some((name, self.get(name)?)))
    }

    /// `name` set to `value`.
    pub fn with(mut self, name: &str, value: &str) -> Env {
        self.0.insert(name.to_owned(), value.to_owned());
        self
    }
}
