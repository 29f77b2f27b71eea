//! AWS credentials for signing the KMS request, and where they come from.
//!
//! Sources, in order: access keys in the environment; GitHub Actions OIDC
//! (the runner's ID token exchanged at STS); a web identity token file (EKS
//! IRSA and similar). Choosing and validating the source is pure; fetching
//! is [`crate::mint::aws_credentials`]'s job.

use crate::config::Env;
use crate::error::{Error, Result, invalid};
use crate::http::Url;
use crate::secret::Secret;

/// An access key pair, with a session token for temporary credentials.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    /// `AKIA…` (long-term) or `ASIA…` (temporary). Not a secret, but not
    /// printed in errors either.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret,
    /// The session token of temporary credentials.
    pub session_token: Option<Secret>,
}

impl AwsCredentials {
    /// Every secret value, for [`crate::secret::quote`].
    pub fn secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.secret_access_key).chain(&self.session_token).collect()
    }
}

/// The role to assume with a web identity, and the session's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// `arn:aws:iam::123456789012:role/NAME`.
    pub arn: String,
    /// The `RoleSessionName`, shown in CloudTrail.
    pub session_name: String,
}

/// Where the credentials come from.
#[derive(Debug)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`).
    Keys(AwsCredentials),
    /// A web identity token exchanged at STS for temporary credentials.
    WebIdentity {
        /// The role to assume.
        role: Role,
        /// Where the token comes from.
        token: IdentityToken,
    },
}

/// Where a web identity token comes from.
#[derive(Debug)]
pub enum IdentityToken {
    /// The GitHub Actions runner's OIDC token endpoint.
    GithubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: Url,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Secret,
        /// The ID token's audience (`sts.amazonaws.com` unless `STS_AUDIENCE`).
        audience: String,
    },
    /// A file (`AWS_WEB_IDENTITY_TOKEN_FILE`), e.g. EKS IRSA's.
    File(String),
}

/// The audience of the runner's ID token that AWS's OIDC provider expects.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

/// The first source the environment configures, validated.
pub fn source(env: &Env) -> Result<Source> {
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
    let oidc = (env.get("ACTIONS_ID_TOKEN_REQUEST_URL"), env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    if let (Some((var, arn)), (Some(url), Some(token))) = (role_arn, oidc) {
        let request_url = Url::parse_with_query(url)
            .and_then(Url::secure)
            .map_err(|rule| invalid("ACTIONS_ID_TOKEN_REQUEST_URL", rule))?;
        let token = IdentityToken::GithubActions {
            request_url,
            request_token: Secret::new(token),
            audience: env.get("STS_AUDIENCE").unwrap_or(DEFAULT_AUDIENCE).to_owned(),
        };
        return Ok(Source::WebIdentity { role: role(var, arn, env)?, token });
    }
    if let (Some((var, arn)), Some(path)) = (role_arn, env.get("AWS_WEB_IDENTITY_TOKEN_FILE")) {
        return Ok(Source::WebIdentity {
            role: role(var, arn, env)?,
            token: IdentityToken::File(path.to_owned()),
        });
    }
    let role_hint =
        if role_arn.is_none() { "AWS_ROLE_ARN (or ROLE_TO_ASSUME) is not set" } else { "the role is set" };
    let oidc_hint = match oidc {
        (Some(_), Some(_)) => "the runner's token is available",
        _ => "ACTIONS_ID_TOKEN_REQUEST_URL/_TOKEN are not set: give the job `permissions: id-token: write`",
    };
    Err(Error::CredentialsMissing(format!(
        "tried 1. AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY: not set; 2. GitHub Actions OIDC: {role_hint}, {oidc_hint}; \
         3. web identity token file: {role_hint}, AWS_WEB_IDENTITY_TOKEN_FILE {}",
        if env.get("AWS_WEB_IDENTITY_TOKEN_FILE").is_some() { "is set" } else { "is not set" }
    )))
}

/// The role `arn` (from variable `var`) and the session name: the
/// environment's, else `gha-RUN_ID-RUN_ATTEMPT` in a workflow run.
fn role(var: &str, arn: &str, env: &Env) -> Result<Role> {
    let valid_arn = arn.strip_prefix("arn:").and_then(|rest| {
        let [partition, "iam", "", account, resource] = rest.splitn(5, ':').collect::<Vec<_>>()[..] else {
            return None;
        };
        let name = resource.strip_prefix("role/")?;
        let name_ok =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
        (partition.starts_with("aws")
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && name_ok)
            .then_some(())
    });
    if valid_arn.is_none() {
        return Err(invalid(var, "must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME"));
    }
    let session_name = match env.first(&["AWS_ROLE_SESSION_NAME", "ROLE_SESSION_NAME"]) {
        Some((var, name)) => {
            let ok = (2..=64).contains(&name.len())
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
            if !ok {
                return Err(invalid(var, "must be 2 to 64 letters, digits or +=,.@_-"));
            }
            name.to_owned()
        }
        None => match (env.get("GITHUB_RUN_ID"), env.get("GITHUB_RUN_ATTEMPT")) {
            (Some(id), attempt) if id.bytes().all(|b| b.is_ascii_digit()) => {
                let attempt = attempt.filter(|a| a.bytes().all(|b| b.is_ascii_digit())).unwrap_or("1");
                format!("gha-{id}-{attempt}")
            }
            _ => "github-app-kms-token".to_owned(),
        },
    };
    Ok(Role { arn: arn.to_owned(), session_name })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/github-app-signer";

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
        let Source::Keys(creds) = source(&env).unwrap() else { panic!("not keys") };
        assert_eq!(creds.access_key_id, "AKIDEXAMPLE");
        assert_eq!(creds.secrets().iter().map(|s| s.expose()).collect::<Vec<_>>(), ["s3cr3t", "tok"]);
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }

    #[test]
    fn github_oidc_names_the_run() {
        let Source::WebIdentity { role, token: IdentityToken::GithubActions { request_url, audience, .. } } =
            source(&oidc_env(&[])).unwrap()
        else {
            panic!("not OIDC")
        };
        assert_eq!(role, Role { arn: ROLE.into(), session_name: "gha-123-2".into() });
        assert_eq!(request_url.path, "/idtoken?api-version=2.0");
        assert_eq!(audience, DEFAULT_AUDIENCE);
        let named = oidc_env(&[("ROLE_SESSION_NAME", "deploy@acme"), ("STS_AUDIENCE", "custom")]);
        let Source::WebIdentity { role, token: IdentityToken::GithubActions { audience, .. } } =
            source(&named).unwrap()
        else {
            panic!()
        };
        assert_eq!((role.session_name.as_str(), audience.as_str()), ("deploy@acme", "custom"));
    }

    #[test]
    fn token_file_comes_last() {
        let env =
            Env::from_pairs([("ROLE_TO_ASSUME", ROLE), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token")]);
        let Source::WebIdentity { role, token: IdentityToken::File(path) } = source(&env).unwrap() else {
            panic!("not a file")
        };
        assert_eq!((role.session_name.as_str(), path.as_str()), ("github-app-kms-token", "/var/run/token"));
    }

    #[test]
    fn says_what_is_missing_or_wrong() {
        let Err(Error::CredentialsMissing(why)) = source(&Env::default()) else { panic!() };
        assert!(
            why.contains("AWS_ROLE_ARN")
                && why.contains("id-token: write")
                && why.contains("AWS_WEB_IDENTITY_TOKEN_FILE"),
            "{why}"
        );
        let half = Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKID")]);
        assert!(matches!(source(&half), Err(Error::InvalidInput(e)) if e.field == "AWS_SECRET_ACCESS_KEY"));
        let bad_role = oidc_env(&[("AWS_ROLE_ARN", "arn:aws:iam::1:user/me")]);
        assert!(matches!(source(&bad_role), Err(Error::InvalidInput(e)) if e.field == "AWS_ROLE_ARN"));
        let plain =
            oidc_env(&[("ACTIONS_ID_TOKEN_REQUEST_URL", "http://pipelines.example/idtoken?api-version=2.0")]);
        assert!(
            matches!(source(&plain), Err(Error::InvalidInput(e)) if e.field == "ACTIONS_ID_TOKEN_REQUEST_URL" && e.rule.starts_with("must be https://"))
        );
        let bad_name = oidc_env(&[("AWS_ROLE_SESSION_NAME", "has space")]);
        assert!(
            matches!(source(&bad_name), Err(Error::InvalidInput(e)) if e.field == "AWS_ROLE_SESSION_NAME")
        );
    }
}
