//! AWS credentials for signing the KMS request, and where they come from:
//! access keys as they are, or a web identity (the GitHub Actions runner's
//! ID token, or a token file the host gave access to) exchanged at STS for
//! temporary credentials. Pure: `crate::exports::resolve` chooses the
//! source from the environment; [`crate::mint::flow::aws_credentials`]
//! fetches.

use crate::error::{Result, invalid};
pub use crate::identity::IdentityToken;
use crate::net::url::Url;
use crate::secret::Secret;

/// An access key pair, with a session token for temporary credentials.
#[derive(Clone, Debug)]
pub struct AwsCredentials {
    /// `AKIA…` (long-term) or `ASIA…` (temporary). Not a secret, but not
    /// printed in errors either.
    pub access_key_id: String,
    /// Signs every request (SigV4); never sent, never printed.
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

impl Role {
    /// The role `arn` (from `field`), for a session named `session_name`
    /// (from `session_field`).
    pub fn new(field: &str, arn: &str, session_field: &str, session_name: &str) -> Result<Role> {
        let role_name = crate::aws::arn::parse(arn, "iam")
            .filter(|parts| parts.region.is_empty())
            .and_then(|parts| parts.resource.strip_prefix("role/"))
            .filter(|name| {
                !name.is_empty()
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
            });
        if role_name.is_none() {
            return Err(invalid(field, "must be an IAM role ARN: arn:aws:iam::123456789012:role/NAME"));
        }
        let name_ok = (2..=64).contains(&session_name.len())
            && session_name.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !name_ok {
            return Err(invalid(session_field, "must be 2 to 64 letters, digits or +=,.@_-"));
        }
        Ok(Role { arn: arn.to_owned(), session_name: session_name.to_owned() })
    }
}

/// Where the credentials come from.
#[derive(Debug)]
pub enum Source {
    /// Access keys, as they are.
    Keys(AwsCredentials),
    /// A web identity token exchanged at STS for temporary credentials.
    WebIdentity {
        /// The role to assume.
        role: Role,
        /// Where the token comes from.
        token: IdentityToken,
        /// The STS endpoint.
        sts: Url,
    },
}

/// The audience of the runner's ID token that AWS's OIDC provider expects.
pub const DEFAULT_AUDIENCE: &str = "sts.amazonaws.com";

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::111122223333:role/github-app-signer";

    #[test]
    fn roles_and_session_names_are_checked() {
        let role = Role::new("AWS_ROLE_ARN", ROLE, "AWS_ROLE_SESSION_NAME", "deploy@acme").unwrap();
        assert_eq!((role.arn.as_str(), role.session_name.as_str()), (ROLE, "deploy@acme"));
        let field = |r: Result<Role>| match r {
            Err(crate::error::Error::InvalidInput(e)) => e.field,
            _ => panic!("accepted"),
        };
        assert_eq!(field(Role::new("AWS_ROLE_ARN", "arn:aws:iam::1:user/me", "s", "ok")), "AWS_ROLE_ARN");
        assert_eq!(field(Role::new("ROLE_TO_ASSUME", "arn:aws:s3:::bucket", "s", "ok")), "ROLE_TO_ASSUME");
        assert_eq!(field(Role::new("r", ROLE, "ROLE_SESSION_NAME", "has space")), "ROLE_SESSION_NAME");
        assert_eq!(field(Role::new("r", ROLE, "ROLE_SESSION_NAME", &"x".repeat(65))), "ROLE_SESSION_NAME");
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let keys = AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("s3cr3t"),
            session_token: Some(Secret::new("tok")),
        };
        assert_eq!(keys.secrets().iter().map(|s| s.expose()).collect::<Vec<_>>(), ["s3cr3t", "tok"]);
        assert!(!format!("{:?}", Source::Keys(keys)).contains("s3cr3t"));
    }
}
