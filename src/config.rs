//! Request fields and environment variables, resolved and validated.
//!
//! Everything a call needs is checked here, before any network traffic:
//! a bad value becomes `invalid-input` naming the field (or the environment
//! variable it came from) and the rule it broke.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{Installation, TokenRequest};
use crate::error::{Result, invalid};
use crate::github::{self, Scope, Target};
use crate::http::Url;
use crate::jwt::AppId;
use crate::kms::{self, KeyId, KmsKey, Region};

/// The environment the component runs in (`wasi:cli/environment`).
///
/// It holds secrets, so it has no `Debug`. Empty values count as unset.
#[derive(Clone, Default)]
pub struct Env(BTreeMap<String, String>);

impl Env {
    /// The host's environment, as `wasi:cli/environment` gives it.
    pub fn from_host() -> Env {
        Env(std::env::vars().collect())
    }

    /// An environment made of `pairs` (for tests and embedders).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Env {
        Env(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The value of `name`, unless it is unset or empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The first of `names` that is set, with its name (for error messages).
    pub fn first<'a>(&'a self, names: &[&'a str]) -> Option<(&'a str, &'a str)> {
        names.iter().find_map(|&name| Some((name, self.get(name)?)))
    }
}

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

/// What signing an App JWT needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtSettings {
    /// The App, as the JWT's `iss`.
    pub app: AppId,
    /// The key that signs.
    pub kms: KmsKey,
}

/// Resolves the App and its KMS key from the request's fields and the environment.
pub fn jwt_settings(
    app_id: Option<&str>,
    key_id: Option<&str>,
    region: Option<&str>,
    env: &Env,
) -> Result<JwtSettings> {
    let (field, app_id) = resolve(app_id, "app-id", env, &["APP_ID"])
        .ok_or_else(|| invalid("app-id", "is required (or set APP_ID)"))?;
    let app = AppId::parse(field, app_id)?;

    let (field, key_id) = resolve(key_id, "kms-key-id", env, &["KMS_KEY_ID"])
        .ok_or_else(|| invalid("kms-key-id", "is required (or set KMS_KEY_ID)"))?;
    let key_id = KeyId::parse(field, key_id)?;

    let region = match (region, key_id.arn_region()) {
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

    let endpoint = match env.first(&["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"]) {
        Some((var, url)) => Url::parse(url).and_then(Url::secure).map_err(|rule| invalid(var, rule))?,
        None => kms::default_endpoint(&region),
    };
    Ok(JwtSettings { app, kms: KmsKey { key_id, region, endpoint } })
}

/// The GitHub API base URL: the request's, else `GITHUB_API_URL`, else GitHub's.
pub fn github_api(given: Option<&str>, env: &Env) -> Result<Url> {
    let (field, url) = resolve(given, "github-api-url", env, &["GITHUB_API_URL"])
        .unwrap_or(("github-api-url", github::DEFAULT_API_URL));
    Url::parse(url).and_then(Url::secure).map_err(|rule| invalid(field, rule))
}

/// The STS endpoint: `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else
/// STS in `region`.
pub fn sts_endpoint(env: &Env, region: &Region) -> Result<Url> {
    match env.first(&["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"]) {
        Some((var, url)) => Url::parse(url).and_then(Url::secure).map_err(|rule| invalid(var, rule)),
        None => Ok(crate::sts::default_endpoint(region)),
    }
}

/// What minting an installation token needs, validated.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    /// The App and its key.
    pub jwt: JwtSettings,
    /// The GitHub API base URL.
    pub api: Url,
    /// The installation.
    pub target: Target,
    /// What the token is narrowed to.
    pub scope: Scope,
}

/// Default deadline of a whole call, retries included.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// The deadlines a call may be given, in seconds.
pub const TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 1..=3600;

/// A whole call's deadline, retries included: `requested` (the request's
/// `timeout-seconds` or `--timeout`), else `TOKEN_TIMEOUT_SECONDS`, else
/// 30 s; from 1 to 3600 seconds.
pub fn timeout(requested: Option<u32>, env: &Env) -> Result<Duration> {
    const RULE: &str = "must be a whole number of seconds from 1 to 3600";
    let (field, secs) = match (requested, env.get("TOKEN_TIMEOUT_SECONDS")) {
        (Some(secs), _) => ("timeout-seconds", Some(u64::from(secs))),
        (None, Some(text)) => ("TOKEN_TIMEOUT_SECONDS", text.parse::<u64>().ok()),
        (None, None) => return Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
    };
    match secs.filter(|secs| TIMEOUT_SECS.contains(secs)) {
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(invalid(field, RULE)),
    }
}

/// Resolves and validates a `token-request`.
pub fn token_settings(request: &TokenRequest, env: &Env) -> Result<TokenSettings> {
    let jwt = jwt_settings(
        request.app_id.as_deref(),
        request.kms_key_id.as_deref(),
        request.aws_region.as_deref(),
        env,
    )?;
    let api = github_api(request.github_api_url.as_deref(), env)?;
    let (target, default_repository) = target(request.installation.as_ref(), env)?;

    let mut repositories = request.repositories.clone();
    for name in &repositories {
        github::check_repository("repositories", name)?;
    }
    check_unique("repositories", repositories.iter().map(String::as_str))?;
    if repositories.len() > github::MAX_REPOSITORIES {
        return Err(invalid("repositories", format!("at most {} names", github::MAX_REPOSITORIES)));
    }
    if !repositories.is_empty() && target.owner().is_none() {
        return Err(invalid(
            "repositories",
            "need an owner or repository installation, so that it is clear whose repositories they are",
        ));
    }
    if repositories.is_empty() {
        repositories.extend(default_repository);
    }

    for permission in &request.permissions {
        github::check_permission_name("permissions", &permission.name)?;
    }
    check_unique("permissions", request.permissions.iter().map(|p| p.name.as_str()))?;
    let scope = Scope { repositories, permissions: request.permissions.clone() };
    Ok(TokenSettings { jwt, api, target, scope })
}

/// `invalid-input` for `field` if `names` holds a name twice.
fn check_unique<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    match names.into_iter().find(|name| !seen.insert(*name)) {
        Some(twice) => Err(invalid(field, format!("names {twice} more than once"))),
        None => Ok(()),
    }
}

/// An installation id: GitHub's ids start at 1.
fn installation_id(field: &str, id: u64) -> Result<u64> {
    if id == 0 { Err(invalid(field, "must be a positive installation id")) } else { Ok(id) }
}

/// The installation to mint for, and the repository to scope to when it
/// came from `GITHUB_REPOSITORY`.
fn target(given: Option<&Installation>, env: &Env) -> Result<(Target, Option<String>)> {
    let target = match given {
        Some(Installation::Id(id)) => Target::Id(installation_id("installation", *id)?),
        Some(Installation::Owner(owner)) => {
            github::check_owner("installation.owner", owner)?;
            Target::Owner(owner.clone())
        }
        Some(Installation::Repository(r)) => {
            github::check_owner("installation.repository.owner", &r.owner)?;
            github::check_repository("installation.repository.name", &r.name)?;
            Target::Repository { owner: r.owner.clone(), name: r.name.clone() }
        }
        Some(Installation::Enterprise(slug)) => {
            github::check_enterprise("installation.enterprise", slug)?;
            Target::Enterprise(slug.clone())
        }
        None => return target_from_env(env),
    };
    Ok((target, None))
}

fn target_from_env(env: &Env) -> Result<(Target, Option<String>)> {
    if let Some(id) = env.get("INSTALLATION_ID") {
        let id = id.parse().map_err(|_| invalid("INSTALLATION_ID", "must be a positive integer"))?;
        return Ok((Target::Id(installation_id("INSTALLATION_ID", id)?), None));
    }
    if let Some(owner) = env.get("OWNER") {
        github::check_owner("OWNER", owner)?;
        return Ok((Target::Owner(owner.to_owned()), None));
    }
    if let Some(full) = env.get("GITHUB_REPOSITORY") {
        let (owner, name) =
            full.split_once('/').ok_or_else(|| invalid("GITHUB_REPOSITORY", "must be owner/name"))?;
        github::check_owner("GITHUB_REPOSITORY", owner)?;
        github::check_repository("GITHUB_REPOSITORY", name)?;
        let target = Target::Repository { owner: owner.to_owned(), name: name.to_owned() };
        return Ok((target, Some(name.to_owned())));
    }
    Err(invalid("installation", "is required: give it, or set INSTALLATION_ID, OWNER or GITHUB_REPOSITORY"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Access, Permission, RepositoryRef};
    use crate::error::Error;

    const KEY: &str = "1234abcd-12ab-34cd-56ef-1234567890ab";

    fn env() -> Env {
        Env::from_pairs([("APP_ID", "42"), ("KMS_KEY_ID", KEY), ("AWS_REGION", "eu-west-1")])
    }

    fn request() -> TokenRequest {
        TokenRequest {
            app_id: None,
            kms_key_id: None,
            aws_region: None,
            installation: Some(Installation::Owner("acme".into())),
            repositories: vec![],
            permissions: vec![],
            github_api_url: None,
            timeout_seconds: None,
        }
    }

    fn field_of(result: Result<TokenSettings>) -> String {
        match result {
            Err(Error::InvalidInput(e)) => e.field,
            Err(other) => panic!("not invalid-input: {}", other.message()),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn environment_fills_what_the_request_leaves_out() {
        let s = token_settings(&request(), &env()).unwrap();
        assert_eq!(s.jwt.app, AppId::Number(42));
        assert_eq!(s.jwt.kms.region.as_str(), "eu-west-1");
        assert_eq!(s.jwt.kms.endpoint.to_string(), "https://kms.eu-west-1.amazonaws.com/");
        assert_eq!(s.api.to_string(), "https://api.github.com/");
        assert_eq!(s.target, Target::Owner("acme".into()));
    }

    #[test]
    fn the_request_wins_over_the_environment() {
        let mut env = env();
        env.0.insert("AWS_ENDPOINT_URL".into(), "http://127.0.0.1:4566".into());
        env.0.insert("AWS_ENDPOINT_URL_KMS".into(), "http://127.0.0.1:9000".into());
        let r = TokenRequest {
            app_id: Some("Iv23abc".into()),
            aws_region: Some("us-east-2".into()),
            github_api_url: Some("https://ghe.example.com/api/v3".into()),
            ..request()
        };
        let s = token_settings(&r, &env).unwrap();
        assert_eq!(s.jwt.app, AppId::ClientId("Iv23abc".into()));
        assert_eq!(s.jwt.kms.region.as_str(), "us-east-2");
        assert_eq!(s.jwt.kms.endpoint.to_string(), "http://127.0.0.1:9000/");
        assert_eq!(s.api.to_string(), "https://ghe.example.com/api/v3");
    }

    #[test]
    fn region_comes_from_a_key_arn() {
        let arn = format!("arn:aws:kms:ap-southeast-2:111122223333:key/{KEY}");
        let r = TokenRequest { kms_key_id: Some(arn.clone()), ..request() };
        assert_eq!(token_settings(&r, &env()).unwrap().jwt.kms.region.as_str(), "ap-southeast-2");
        let conflict =
            TokenRequest { kms_key_id: Some(arn), aws_region: Some("eu-west-1".into()), ..request() };
        assert_eq!(field_of(token_settings(&conflict, &env())), "aws-region");
    }

    #[test]
    fn current_repository_is_the_last_resort_and_scopes_to_itself() {
        let env = Env::from_pairs([
            ("APP_ID", "42"),
            ("KMS_KEY_ID", KEY),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("GITHUB_REPOSITORY", "acme/widgets"),
        ]);
        let s = token_settings(&TokenRequest { installation: None, ..request() }, &env).unwrap();
        assert_eq!(s.target, Target::Repository { owner: "acme".into(), name: "widgets".into() });
        assert_eq!(s.scope.repositories, ["widgets"]);
    }

    #[test]
    fn every_rule_names_its_field() {
        let cases: Vec<(TokenRequest, &str)> = vec![
            (TokenRequest { app_id: Some("".into()), ..request() }, "app-id"),
            (TokenRequest { kms_key_id: Some("my-key".into()), ..request() }, "kms-key-id"),
            (TokenRequest { aws_region: Some("Europe".into()), ..request() }, "aws-region"),
            (
                TokenRequest { installation: Some(Installation::Owner("-bad".into())), ..request() },
                "installation.owner",
            ),
            (
                TokenRequest {
                    installation: Some(Installation::Repository(RepositoryRef {
                        owner: "o".into(),
                        name: "a/b".into(),
                    })),
                    ..request()
                },
                "installation.repository.name",
            ),
            (
                TokenRequest { installation: Some(Installation::Enterprise("A B".into())), ..request() },
                "installation.enterprise",
            ),
            (TokenRequest { installation: Some(Installation::Id(0)), ..request() }, "installation"),
            (TokenRequest { installation: None, ..request() }, "installation"),
            (TokenRequest { repositories: vec!["acme/widgets".into()], ..request() }, "repositories"),
            (
                TokenRequest { repositories: (0..501).map(|i| format!("r{i}")).collect(), ..request() },
                "repositories",
            ),
            (
                TokenRequest {
                    installation: Some(Installation::Id(5)),
                    repositories: vec!["widgets".into()],
                    ..request()
                },
                "repositories",
            ),
            (
                TokenRequest {
                    permissions: vec![Permission { name: "Contents!".into(), access: Access::Read }],
                    ..request()
                },
                "permissions",
            ),
            (
                TokenRequest {
                    permissions: vec![
                        Permission { name: "contents".into(), access: Access::Read },
                        Permission { name: "contents".into(), access: Access::Write },
                    ],
                    ..request()
                },
                "permissions",
            ),
            (TokenRequest { github_api_url: Some("api.github.com".into()), ..request() }, "github-api-url"),
        ];
        for (r, field) in cases {
            assert_eq!(field_of(token_settings(&r, &env())), field);
        }
        let duplicate = TokenRequest { repositories: vec!["a".into(), "a".into()], ..request() };
        assert_eq!(field_of(token_settings(&duplicate, &env())), "repositories");
        for (var, value) in [
            ("INSTALLATION_ID", "0"),
            ("INSTALLATION_ID", "12ab"),
            ("OWNER", "not an owner"),
            ("GITHUB_REPOSITORY", "no-slash"),
            ("GITHUB_REPOSITORY", "octo/bad name"),
        ] {
            let env = Env::from_pairs([
                ("APP_ID", "42"),
                ("KMS_KEY_ID", KEY),
                ("AWS_REGION", "eu-west-1"),
                (var, value),
            ]);
            assert_eq!(
                field_of(token_settings(&TokenRequest { installation: None, ..request() }, &env)),
                var
            );
        }
        for (var, value) in [("AWS_REGION", "Ireland"), ("GITHUB_API_URL", "ftp://x"), ("KMS_KEY_ID", "key")]
        {
            let mut bad = env();
            bad.0.insert(var.into(), value.into());
            assert_eq!(field_of(token_settings(&request(), &bad)), var);
        }
        let no_region = Env::from_pairs([("APP_ID", "42"), ("KMS_KEY_ID", KEY)]);
        assert_eq!(field_of(token_settings(&request(), &no_region)), "aws-region");
        let mut bad_env = env();
        bad_env.0.insert("AWS_ENDPOINT_URL_KMS".into(), "localhost:4566".into());
        assert_eq!(field_of(token_settings(&request(), &bad_env)), "AWS_ENDPOINT_URL_KMS");
        bad_env.0.insert("APP_ID".into(), "not an id".into());
        assert_eq!(field_of(token_settings(&request(), &bad_env)), "APP_ID");
    }

    /// A credential travels to every endpoint: plain `http://` only stays on this machine.
    #[test]
    fn plain_http_is_for_loopback_endpoints_only() {
        let region = Region::parse("r", "eu-west-1").unwrap();
        let settings = |var: &str, url: &str| {
            let mut env = env();
            env.0.insert(var.into(), url.into());
            token_settings(&request(), &env).and_then(|_| sts_endpoint(&env, &region))
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
                assert_eq!((e.field.as_str(), e.rule.as_str()), (var, crate::http::INSECURE));
            }
        }
        let field =
            TokenRequest { github_api_url: Some("http://ghe.example.com/api/v3".into()), ..request() };
        assert_eq!(field_of(token_settings(&field, &env())), "github-api-url");
    }
}

#[cfg(test)]
mod timeout_tests {
    use super::*;

    #[test]
    fn timeout_defaults_and_bounds() {
        let five = Env::from_pairs([("TOKEN_TIMEOUT_SECONDS", "5")]);
        assert_eq!(timeout(None, &Env::default()).unwrap(), Duration::from_secs(30));
        assert_eq!(timeout(None, &five).unwrap(), Duration::from_secs(5));
        assert_eq!(timeout(Some(2), &five).unwrap(), Duration::from_secs(2));
        for bad in ["0", "-1", "3601", "5s"] {
            assert!(timeout(None, &Env::from_pairs([("TOKEN_TIMEOUT_SECONDS", bad)])).is_err(), "{bad}");
        }
        for bad in [0, 3601] {
            assert_eq!(
                timeout(Some(bad), &five).unwrap_err().message(),
                "invalid timeout-seconds: must be a whole number of seconds from 1 to 3600"
            );
        }
    }
}
