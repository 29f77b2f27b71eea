//! The environment and a request's fields, resolved once per call into the
//! typed settings the flows take: which variable backs which field, and
//! what falls back to what. The one module that reads the host's
//! environment and a web identity token file; nothing below the exports
//! takes an [`Env`].

use std::io::Read;
use std::time::Duration;

use zeroize::Zeroize;

use crate::api::{Installation, Permission, TokenRequest};
use crate::aws::credentials::{AwsCredentials, DEFAULT_AUDIENCE, IdentityToken, Role, Source};
use crate::aws::kms::{self, KeyId, KmsKey};
use crate::aws::region::Region;
use crate::aws::sts;
use crate::azure::entra::{self, Entra, Proof};
use crate::azure::keyvault;
use crate::broker::policy;
use crate::broker::service::{Broker, ConfigError};
use crate::cache::SealingKey;
use crate::env::Env;
use crate::error::{Error, Result, invalid};
use crate::gcp::credentials as google;
use crate::gcp::kms::{self as cloud_kms, KeyVersion};
use crate::github::api::DEFAULT_API_URL;
use crate::github::jwt::AppId;
use crate::github::names::{check_owner, check_repository};
use crate::mint::settings::{
    DEFAULT_TIMEOUT_SECS, Deployment, JwtSettings, Target, installation_id, timeout as deadline,
};
use crate::mint::signer::{Credentials, Key, Reference};
use crate::net::url::Url;
use crate::secret::Secret;
use crate::vault::login::{self, Login};
use crate::vault::{Server, transit};

/// The host's environment, as `wasi:cli/environment` gives it.
pub fn host_env() -> Env {
    Env::from_pairs(std::env::vars())
}

/// The request fields that override the environment: a WIT request's, or
/// the command line's flags. `None`: the environment decides.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fields<'a> {
    /// `app-id`, else `APP_ID`.
    pub app_id: Option<&'a str>,
    /// `key`, else `kms-key-id`, else `KEY`, else `KMS_KEY_ID`.
    pub key: Option<&'a str>,
    /// `kms-key-id`: an alias of `key`.
    pub kms_key_id: Option<&'a str>,
    /// `aws-region`, else a key ARN's, else `AWS_REGION`, `AWS_DEFAULT_REGION`.
    pub aws_region: Option<&'a str>,
    /// `github-api-url`, else `GITHUB_API_URL`, else GitHub's.
    pub github_api_url: Option<&'a str>,
    /// `timeout-seconds`, else `TOKEN_TIMEOUT_SECONDS`, else 30.
    pub timeout_seconds: Option<u32>,
}

impl<'a> Fields<'a> {
    /// The fields of a `token-request`.
    pub fn of(request: &'a TokenRequest) -> Fields<'a> {
        Fields {
            app_id: request.app_id.as_deref(),
            key: request.key.as_deref(),
            kms_key_id: request.kms_key_id.as_deref(),
            aws_region: request.aws_region.as_deref(),
            github_api_url: request.github_api_url.as_deref(),
            timeout_seconds: request.timeout_seconds,
        }
    }
}

/// A request field, as each face names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Face {
    /// The field, as an `invalid-input` error names it.
    pub field: &'static str,
    /// The command line's flag.
    pub flag: &'static str,
    /// The Action's input.
    pub input: &'static str,
}

/// Every field an `invalid-input` error may name that a face sets: the
/// command line's messages and the Action's (generated from this) name the
/// flag or input. (`app-id` is also the Action's `client-id`, which it knows.)
pub const FACES: &[Face] = &[
    Face { field: "app-id", flag: "--app-id", input: "app-id" },
    Face { field: "key", flag: "--key", input: "key" },
    Face { field: "kms-key-id", flag: "--kms-key-id", input: "kms-key-id" },
    Face { field: "aws-region", flag: "--region", input: "aws-region" },
    Face { field: "installation", flag: "--installation-id", input: "owner" },
    Face { field: "installation.owner", flag: "--owner", input: "owner" },
    Face { field: "installation.enterprise", flag: "--enterprise", input: "enterprise" },
    Face { field: "repositories", flag: "--repositories", input: "repositories" },
    Face { field: "permissions", flag: "--permission", input: "permission-*" },
    Face { field: "github-api-url", flag: "--github-api-url", input: "github-api-url" },
];

/// The request's value for `field`, else the first environment variable
/// set; paired with the name to blame in an error.
fn resolve<'a>(
    given: Option<&'a str>,
    field: &'a str,
    env: &'a Env,
    vars: &[&'a str],
) -> Option<(&'a str, &'a str)> {
    given.map(|v| (field, v)).or_else(|| env.first(vars))
}

/// An endpoint from `var`: a URL a credential may travel to.
fn endpoint(var: &str, url: &str) -> Result<Url> {
    Url::parse(url).and_then(Url::secure).map_err(|rule| invalid(var, rule))
}

/// An AWS service's endpoint: `var`, else `AWS_ENDPOINT_URL`, else `default`.
fn aws_endpoint(env: &Env, var: &str, default: Url) -> Result<Url> {
    match env.first(&[var, "AWS_ENDPOINT_URL"]) {
        Some((var, url)) => endpoint(var, url),
        None => Ok(default),
    }
}

/// The App and its key.
pub fn jwt_settings(fields: &Fields, env: &Env) -> Result<JwtSettings> {
    let (field, app_id) = resolve(fields.app_id, "app-id", env, &["APP_ID"])
        .ok_or_else(|| invalid("app-id", "is required (or set APP_ID)"))?;
    let app = AppId::parse(field, app_id)?;
    Ok(JwtSettings { app, key: key(fields, env)? })
}

/// The App's key: `key`, else `kms-key-id`, else `KEY`, else `KMS_KEY_ID`,
/// read as a key reference ([`Reference`]).
fn key(fields: &Fields, env: &Env) -> Result<Key> {
    if matches!((fields.key, fields.kms_key_id), (Some(key), Some(kms)) if key != kms) {
        return Err(invalid("key", "give key or kms-key-id, not both"));
    }
    let given = fields.key.map(|key| ("key", key)).or(fields.kms_key_id.map(|key| ("kms-key-id", key)));
    let (field, text) = given.or_else(|| env.first(&["KEY", "KMS_KEY_ID"])).ok_or_else(|| {
        invalid("key", "is required: awskms:///alias/NAME, hashivault://NAME, ... (or set KEY)")
    })?;
    match Reference::parse(field, text)? {
        Reference::AwsKms { endpoint, key } => {
            let endpoint = endpoint.map(|authority| store_endpoint(field, authority)).transpose()?;
            // A signed request goes there: AWS's hosts (VPC endpoints and
            // FIPS included), or loopback; elsewhere only through
            // `AWS_ENDPOINT_URL_KMS`, the deployment's own setting.
            let aws_host = |url: &Url| {
                let host = url.host().to_ascii_lowercase();
                url.is_loopback() || host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")
            };
            if endpoint.as_ref().is_some_and(|url| !aws_host(url)) {
                return Err(invalid(field, "must name an AWS endpoint (*.amazonaws.com) or a loopback one"));
            }
            aws_key(fields, env, field, key, endpoint).map(Key::AwsKms)
        }
        _ if fields.aws_region.is_some() => {
            Err(invalid("aws-region", "is for AWS KMS keys, and this key is in another store"))
        }
        Reference::GcpKms { name } => {
            let endpoint = match env.get("GOOGLE_KMS_ENDPOINT") {
                Some(url) => endpoint("GOOGLE_KMS_ENDPOINT", url)?,
                None => Url::parse(cloud_kms::DEFAULT_ENDPOINT).map_err(|rule| invalid(field, rule))?,
            };
            KeyVersion::new(field, name, endpoint).map(Key::GoogleKms)
        }
        Reference::AzureKms { vault, key, version } => {
            keyvault::Key::new(field, store_endpoint(field, vault)?, key, version).map(Key::AzureKeyVault)
        }
        Reference::HashiVault { key } => vault_key(env, field, key).map(Key::VaultTransit),
    }
}

/// The endpoint a key reference names (`host[:port]`): `https://`, or
/// plain `http://` to a loopback host (a local stand-in).
fn store_endpoint(field: &str, authority: &str) -> Result<Url> {
    let mut url = Url::parse(&format!("https://{authority}"))
        .ok()
        .filter(|url| url.path.is_empty())
        .ok_or_else(|| invalid(field, "must name the store's endpoint as host[:port]"))?;
    if url.is_loopback() {
        url.scheme = crate::net::url::Scheme::Http;
    }
    Ok(url)
}

/// An AWS KMS key (from `field`) in the request's region, else its ARN's,
/// else `AWS_REGION`; at `endpoint` (the reference's), else
/// `AWS_ENDPOINT_URL_KMS`, else the region's.
fn aws_key(fields: &Fields, env: &Env, field: &str, key_id: &str, endpoint: Option<Url>) -> Result<KmsKey> {
    let key_id = KeyId::parse(field, key_id)?;
    let region = match (fields.aws_region, key_id.arn_region()) {
        (Some(given), Some(arn)) if given != arn.as_str() => {
            return Err(invalid("aws-region", format!("differs from the key ARN's region {}", arn.as_str())));
        }
        (Some(given), _) => Region::parse("aws-region", given)?,
        (None, Some(arn)) => arn.clone(),
        (None, None) => {
            let (var, value) = env.first(&["AWS_REGION", "AWS_DEFAULT_REGION"]).ok_or_else(|| {
                invalid("aws-region", "is required: give it, use a key ARN, or set AWS_REGION")
            })?;
            Region::parse(var, value)?
        }
    };

    let endpoint = match endpoint {
        Some(endpoint) => endpoint,
        None => aws_endpoint(env, "AWS_ENDPOINT_URL_KMS", kms::default_endpoint(&region))?,
    };
    Ok(KmsKey { key_id, region, endpoint })
}

/// A Vault Transit key (from `field`): Vault at `VAULT_ADDR`, in
/// `VAULT_NAMESPACE` if set, Transit at `VAULT_TRANSIT_MOUNT` (else `transit`).
fn vault_key(env: &Env, field: &str, name: &str) -> Result<transit::Key> {
    let address =
        env.get("VAULT_ADDR").ok_or_else(|| invalid("VAULT_ADDR", "is required for a hashivault:// key"))?;
    let address = endpoint("VAULT_ADDR", address)?;
    let namespace = env.get("VAULT_NAMESPACE").map(|namespace| namespace.trim_matches('/'));
    if namespace.is_some_and(|namespace| !crate::vault::is_path(namespace)) {
        return Err(invalid("VAULT_NAMESPACE", "must be a namespace path such as admin/team-a"));
    }
    let mount = env.get("VAULT_TRANSIT_MOUNT").unwrap_or(transit::DEFAULT_MOUNT);
    let server = Server { address, namespace: namespace.map(str::to_owned) };
    transit::Key::new(field, name, "VAULT_TRANSIT_MOUNT", mount, server)
}

/// The GitHub API base URL: the request's, else `GITHUB_API_URL`, else GitHub's.
pub fn github_api(given: Option<&str>, env: &Env) -> Result<Url> {
    let (field, url) = resolve(given, "github-api-url", env, &["GITHUB_API_URL"])
        .unwrap_or(("github-api-url", DEFAULT_API_URL));
    endpoint(field, url)
}

/// A whole call's deadline, retries included: `requested` (the request's
/// `timeout-seconds` or `--timeout`), else `TOKEN_TIMEOUT_SECONDS`, else 30 s.
pub fn timeout(requested: Option<u32>, env: &Env) -> Result<Duration> {
    match (requested, env.get("TOKEN_TIMEOUT_SECONDS")) {
        (Some(secs), _) => deadline("timeout-seconds", Some(u64::from(secs))),
        (None, Some(text)) => deadline("TOKEN_TIMEOUT_SECONDS", text.parse().ok()),
        (None, None) => Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
    }
}

/// The most a web identity token file may hold: tokens are a few KiB.
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// The credentials for `key`'s store, from the first source the
/// environment configures for it.
pub fn credentials(env: &Env, key: &Key) -> Result<Credentials> {
    match key {
        Key::AwsKms(kms) => aws_credentials(env, &kms.region).map(Credentials::Aws),
        Key::GoogleKms(_) => google_source(env).map(Credentials::Google),
        Key::AzureKeyVault(_) => entra(env).map(Credentials::Azure),
        Key::VaultTransit(_) => vault_login(env).map(Credentials::Vault),
    }
}

/// A Google access token from the first source the environment
/// configures: `GOOGLE_OAUTH_ACCESS_TOKEN` as it is; the external-account
/// JSON in `GOOGLE_APPLICATION_CREDENTIALS`; or the provider in
/// `GCP_WORKLOAD_IDENTITY_PROVIDER` with the runner's ID token (for
/// audience `https://iam.googleapis.com/PROVIDER`, as
/// `google-github-actions/auth` asks for it). `GOOGLE_SERVICE_ACCOUNT`,
/// where the JSON does not name one, is impersonated.
fn google_source(env: &Env) -> Result<google::Source> {
    if let Some(token) = env.get("GOOGLE_OAUTH_ACCESS_TOKEN") {
        return Ok(google::Source::Token(Secret::new(token)));
    }
    let service_account = env
        .get("GOOGLE_SERVICE_ACCOUNT")
        .map(|account| google::impersonation_url("GOOGLE_SERVICE_ACCOUNT", account))
        .transpose()?;
    if let Some(path) = env.get("GOOGLE_APPLICATION_CREDENTIALS") {
        let text = read_token_file("GOOGLE_APPLICATION_CREDENTIALS", path)?;
        let account = google::external_account("GOOGLE_APPLICATION_CREDENTIALS", text.expose().as_bytes())?;
        let token = match account.source {
            google::CredentialSource::Url { url, bearer } => {
                IdentityToken::GithubActions { request_url: url, request_token: bearer, audience: None }
            }
            google::CredentialSource::File(path) => IdentityToken::Given(read_token_file(
                "GOOGLE_APPLICATION_CREDENTIALS's credential_source",
                &path,
            )?),
        };
        return Ok(google::Source::Federated(Box::new(google::Federation {
            audience: account.audience,
            token_url: account.token_url,
            subject_token_type: account.subject_token_type,
            impersonation: account.impersonation.or(service_account),
            token,
        })));
    }
    let provider = env.get("GCP_WORKLOAD_IDENTITY_PROVIDER");
    let audience =
        provider.map(|p| google::provider_audience("GCP_WORKLOAD_IDENTITY_PROVIDER", p)).transpose()?;
    let token = match &audience {
        // `//iam.googleapis.com/projects/…` asked for as `https://iam.googleapis.com/projects/…`.
        Some(audience) => identity_token(env, Some(&format!("https:{audience}")), None)?,
        None => None,
    };
    let (Some(audience), Some(token)) = (audience, token) else {
        let set = if provider.is_some() { "is set" } else { "is not set" };
        return Err(Error::CredentialsMissing(format!(
            "tried 1. GOOGLE_OAUTH_ACCESS_TOKEN: not set; 2. GOOGLE_APPLICATION_CREDENTIALS: not set; \
             3. Workload Identity Federation: GCP_WORKLOAD_IDENTITY_PROVIDER {set}, {}",
            oidc_hint(env)
        )));
    };
    let token_url = Url::parse(google::DEFAULT_TOKEN_URL)
        .map_err(|rule| invalid("GCP_WORKLOAD_IDENTITY_PROVIDER", rule))?;
    let subject_token_type = google::JWT_TOKEN_TYPE.to_owned();
    Ok(google::Source::Federated(Box::new(google::Federation {
        audience,
        token_url,
        subject_token_type,
        impersonation: service_account,
        token,
    })))
}

/// Entra ID's client credentials for the app registration `AZURE_CLIENT_ID`
/// in `AZURE_TENANT_ID` (at `AZURE_AUTHORITY_HOST`, else Microsoft's):
/// proven by `AZURE_CLIENT_SECRET`, else by the runner's ID token (audience
/// `api://AzureADTokenExchange`) or the one in `AZURE_FEDERATED_TOKEN_FILE`.
fn entra(env: &Env) -> Result<Entra> {
    let authority = match env.get("AZURE_AUTHORITY_HOST") {
        Some(url) => endpoint("AZURE_AUTHORITY_HOST", url)?,
        None => Url::parse(entra::DEFAULT_AUTHORITY).map_err(|rule| invalid("AZURE_AUTHORITY_HOST", rule))?,
    };
    let proof = match env.get("AZURE_CLIENT_SECRET") {
        Some(secret) => Some(Proof::Secret(Secret::new(secret))),
        None => identity_token(env, Some(entra::ASSERTION_AUDIENCE), Some("AZURE_FEDERATED_TOKEN_FILE"))?
            .map(Proof::Assertion),
    };
    let (tenant, client) = (env.get("AZURE_TENANT_ID"), env.get("AZURE_CLIENT_ID"));
    let (Some(tenant), Some(client), Some(proof)) = (tenant, client, proof) else {
        let set = |var: &str| if env.get(var).is_some() { "is set" } else { "is not set" };
        return Err(Error::CredentialsMissing(format!(
            "Entra ID needs AZURE_TENANT_ID ({}) and AZURE_CLIENT_ID ({}), and tried 1. AZURE_CLIENT_SECRET: {}; \
             2. a federated credential: {}, AZURE_FEDERATED_TOKEN_FILE {}",
            set("AZURE_TENANT_ID"),
            set("AZURE_CLIENT_ID"),
            set("AZURE_CLIENT_SECRET"),
            oidc_hint(env),
            set("AZURE_FEDERATED_TOKEN_FILE"),
        )));
    };
    Entra::new(authority, ("AZURE_TENANT_ID", tenant), ("AZURE_CLIENT_ID", client), proof)
}

/// The workload's ID token: the GitHub Actions runner's (for `audience`),
/// else the one in the file `file_var` names (read here, at most
/// [`MAX_TOKEN_FILE_BYTES`]); `None` if neither is there.
fn identity_token(
    env: &Env,
    audience: Option<&str>,
    file_var: Option<&str>,
) -> Result<Option<IdentityToken>> {
    let oidc = (env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    let file = file_var.and_then(|var| Some((var, env.get(var)?)));
    Ok(Some(match (oidc, file) {
        ((Some(url), Some(request_token)), _) => IdentityToken::GithubActions {
            request_url: Url::parse_with_query(url)
                .and_then(Url::secure)
                .map_err(|rule| invalid("ACTIONS_ID_TOKEN_REQUEST_URL", rule))?,
            request_token: Secret::new(request_token),
            audience: audience.map(str::to_owned),
        },
        (_, Some((var, path))) => IdentityToken::Given(read_token_file(var, path)?),
        _ => return Ok(None),
    }))
}

/// What an error says of the runner's ID token.
fn oidc_hint(env: &Env) -> &'static str {
    match (env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")) {
        (Some(_), Some(_)) => "the runner's token is available",
        _ => "ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set: give the job `permissions: id-token: write`",
    }
}

/// A Vault token from the first source the environment configures:
/// `VAULT_TOKEN` as it is; else the JWT login as `VAULT_ROLE` (at
/// `VAULT_AUTH_MOUNT`, else `jwt`) with the runner's ID token (audience
/// `VAULT_AUDIENCE`, else the runner's default) or the one in `VAULT_JWT_FILE`.
fn vault_login(env: &Env) -> Result<Login> {
    if let Some(token) = env.get("VAULT_TOKEN") {
        return Ok(Login::Token(Secret::new(token)));
    }
    let role = env.get("VAULT_ROLE");
    let token = match role {
        Some(_) => identity_token(env, env.get("VAULT_AUDIENCE"), Some("VAULT_JWT_FILE"))?,
        None => None,
    };
    let (Some(role), Some(token)) = (role, token) else {
        let role_hint = if role.is_some() { "VAULT_ROLE is set" } else { "VAULT_ROLE is not set" };
        let file = if env.get("VAULT_JWT_FILE").is_some() { "is set" } else { "is not set" };
        return Err(Error::CredentialsMissing(format!(
            "tried 1. VAULT_TOKEN: not set; 2. Vault's JWT login: {role_hint}, {}, VAULT_JWT_FILE {file}",
            oidc_hint(env)
        )));
    };
    let mount = env.get("VAULT_AUTH_MOUNT").unwrap_or(login::DEFAULT_AUTH_MOUNT);
    Login::jwt("VAULT_ROLE", role, "VAULT_AUTH_MOUNT", mount, token)
}

/// AWS credentials from the first source the environment configures: keys
/// as they are; the GitHub Actions runner's OIDC token; a web identity token
/// file (read here, at most [`MAX_TOKEN_FILE_BYTES`]). A web identity is
/// exchanged at STS in `region` (or `AWS_ENDPOINT_URL_STS` /
/// `AWS_ENDPOINT_URL`).
pub fn aws_credentials(env: &Env, region: &Region) -> Result<Source> {
    match (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(Source::Keys(AwsCredentials {
                access_key_id: id.to_owned(),
                secret_access_key: Secret::new(secret),
                session_token: env.get("AWS_SESSION_TOKEN").map(Secret::new),
            }));
        }
        (Some(_), None) => {
            return Err(invalid("AWS_SECRET_ACCESS_KEY", "must be set when AWS_ACCESS_KEY_ID is"));
        }
        (None, Some(_)) => {
            return Err(invalid("AWS_ACCESS_KEY_ID", "must be set when AWS_SECRET_ACCESS_KEY is"));
        }
        (None, None) => {}
    }
    let role_arn = env.first(&["AWS_ROLE_ARN", "ROLE_TO_ASSUME"]);
    let Some((var, arn)) = role_arn else { return Err(no_credentials(env, false)) };
    let role = role(var, arn, env)?;
    let audience = env.get("STS_AUDIENCE").unwrap_or(DEFAULT_AUDIENCE);
    let Some(token) = identity_token(env, Some(audience), Some("AWS_WEB_IDENTITY_TOKEN_FILE"))? else {
        return Err(no_credentials(env, true));
    };
    let sts = aws_endpoint(env, "AWS_ENDPOINT_URL_STS", sts::default_endpoint(region))?;
    Ok(Source::WebIdentity { role, token, sts })
}

/// The role `arn` (from `var`), for a session named by the environment,
/// else `gha-RUN_ID-RUN_ATTEMPT` in a workflow run.
fn role(var: &str, arn: &str, env: &Env) -> Result<Role> {
    if let Some((session_var, name)) = env.first(&["AWS_ROLE_SESSION_NAME", "ROLE_SESSION_NAME"]) {
        return Role::new(var, arn, session_var, name);
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let name = match (env.get("GITHUB_RUN_ID"), env.get("GITHUB_RUN_ATTEMPT")) {
        (Some(id), attempt) if digits(id) => {
            format!("gha-{id}-{}", attempt.filter(|a| digits(a)).unwrap_or("1"))
        }
        _ => "github-app-kms-token".to_owned(),
    };
    Role::new(var, arn, "GITHUB_RUN_ID", &name)
}

/// Why no source applies: what was tried and what was missing.
fn no_credentials(env: &Env, role: bool) -> Error {
    let role_hint = if role { "the role is set" } else { "AWS_ROLE_ARN (or ROLE_TO_ASSUME) is not set" };
    let oidc_hint = oidc_hint(env);
    let file = if env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() { "is set" } else { "is not set" };
    Error::CredentialsMissing(format!(
        "tried 1. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set; 2. GitHub Actions OIDC: {role_hint}, {oidc_hint}; \
         3. web identity token file: {role_hint}, AWS_WEB_IDENTITY_TOKEN_FILE {file}"
    ))
}

/// The ID token in the file at `path` (named by `var`); no copy of it
/// outlives the call unzeroed.
fn read_token_file(var: &str, path: &str) -> Result<Secret> {
    let missing = |why: String| Error::CredentialsMissing(format!("could not read {var} {path}: {why}"));
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_TOKEN_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            missing(format!("{e} (the host must give access to its folder, e.g. wasmtime run --dir)"))
        })?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        bytes.zeroize();
        return Err(missing(format!("it is larger than {MAX_TOKEN_FILE_BYTES} bytes")));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        missing("it is not UTF-8".into())
    })?;
    let token = Secret::new(text.trim());
    text.zeroize();
    Ok(token)
}

/// Everything minting needs besides the target.
///
/// ```
/// use github_app_kms_token::env::Env;
/// use github_app_kms_token::exports::resolve::{Fields, deployment};
/// use github_app_kms_token::mint::signer::Key;
///
/// let env = Env::from_pairs([
///     ("APP_ID", "123456"),
///     ("KMS_KEY_ID", "arn:aws:kms:eu-west-1:111122223333:alias/github-app"),
///     ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
///     ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
/// ]);
/// let d = deployment(&Fields::default(), &env)?;
/// let Key::AwsKms(kms) = &d.jwt.key else { unreachable!("a bare key id is AWS KMS's") };
/// assert_eq!(kms.region.as_str(), "eu-west-1", "from the key's ARN");
/// assert_eq!(d.api.to_string(), "https://api.github.com/");
/// let fields = Fields { github_api_url: Some("http://ghe.example.com/api/v3"), ..Fields::default() };
/// assert!(deployment(&fields, &env).is_err(), "plain http only to loopback");
/// # Ok::<(), github_app_kms_token::error::Error>(())
/// ```
pub fn deployment(fields: &Fields, env: &Env) -> Result<Deployment> {
    let jwt = jwt_settings(fields, env)?;
    let api = github_api(fields.github_api_url, env)?;
    let timeout = timeout(fields.timeout_seconds, env)?;
    let credentials = credentials(env, &jwt.key)?;
    Ok(Deployment { jwt, api, credentials, timeout })
}

/// The installation and scope a request asks for: its `installation`,
/// else `INSTALLATION_ID`, else `OWNER`, else the current repository's
/// owner (`GITHUB_REPOSITORY`), scoped to that repository unless the request
/// names repositories. The one rule for the default, as the official
/// `actions/create-github-app-token` has it, for every face.
pub fn token_target(
    installation: Option<&Installation>,
    repositories: &[String],
    permissions: &[Permission],
    env: &Env,
) -> Result<Target> {
    let (installation, default_repository) = match installation {
        Some(installation) => (installation.clone(), None),
        None => installation_from_env(env)?,
    };
    Target::new(installation, repositories, default_repository, permissions)
}

fn installation_from_env(env: &Env) -> Result<(Installation, Option<String>)> {
    if let Some(id) = env.get("INSTALLATION_ID") {
        let id = id.parse().map_err(|_| invalid("INSTALLATION_ID", "must be a positive integer"))?;
        return Ok((Installation::Id(installation_id("INSTALLATION_ID", id)?), None));
    }
    if let Some(owner) = env.get("OWNER") {
        check_owner("OWNER", owner)?;
        return Ok((Installation::Owner(owner.to_owned()), None));
    }
    if let Some(full) = env.get("GITHUB_REPOSITORY") {
        let (owner, name) =
            full.split_once('/').ok_or_else(|| invalid("GITHUB_REPOSITORY", "must be owner/name"))?;
        check_owner("GITHUB_REPOSITORY", owner)?;
        check_repository("GITHUB_REPOSITORY", name)?;
        return Ok((Installation::Owner(owner.to_owned()), Some(name.to_owned())));
    }
    Err(invalid(
        "installation",
        "is required: name it, or run where GITHUB_REPOSITORY is set (a workflow), or set INSTALLATION_ID or OWNER",
    ))
}

/// The broker: `TRUST_POLICY`, `OIDC_AUDIENCE` and the deployment it
/// mints with; else why not, for the log only (it may quote the policy).
pub fn broker(env: &Env) -> std::result::Result<Broker, ConfigError> {
    let text = env.get("TRUST_POLICY").ok_or(ConfigError::NoPolicy)?;
    let policy = policy::parse(text).map_err(ConfigError::Policy)?;
    let audience = env.get("OIDC_AUDIENCE").ok_or(ConfigError::NoAudience)?;
    let deployment = deployment(&Fields::default(), env).map_err(ConfigError::Deployment)?;
    let cache_key = env.get("CACHE_KEY").map(|key| SealingKey::parse("CACHE_KEY", key)).transpose();
    let cache_tokens = match env.get("CACHE_TOKENS") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(invalid("CACHE_TOKENS", "must be true or false")),
    };
    let (cache_key, cache_tokens) =
        (cache_key.map_err(ConfigError::Deployment)?, cache_tokens.map_err(ConfigError::Deployment)?);
    Ok(Broker { policy, audience: audience.to_owned(), deployment, cache_key, cache_tokens })
}

#[cfg(test)]
mod tests;
