//! AWS credentials for signing the KMS request.

use crate::config::Env;
use crate::error::{Error, Result, invalid};
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
    /// Every secret value, for [`crate::secret::scrub`].
    pub fn secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.secret_access_key).chain(&self.session_token).collect()
    }
}

/// Reads `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`.
pub fn from_env(env: &Env) -> Result<AwsCredentials> {
    match (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(AwsCredentials {
            access_key_id: id.to_owned(),
            secret_access_key: Secret::new(secret),
            session_token: env.get("AWS_SESSION_TOKEN").map(Secret::new),
        }),
        (Some(_), None) => Err(invalid("AWS_SECRET_ACCESS_KEY", "must be set when AWS_ACCESS_KEY_ID is")),
        (None, Some(_)) => Err(invalid("AWS_ACCESS_KEY_ID", "must be set when AWS_SECRET_ACCESS_KEY is")),
        (None, None) => Err(Error::CredentialsMissing(
            "tried the environment (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_environment() {
        let env = Env::from_pairs([
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "s3cr3t"),
            ("AWS_SESSION_TOKEN", "tok"),
        ]);
        let creds = from_env(&env).unwrap();
        assert_eq!(creds.access_key_id, "AKIDEXAMPLE");
        assert_eq!(creds.secrets().iter().map(|s| s.expose()).collect::<Vec<_>>(), ["s3cr3t", "tok"]);
        assert!(!format!("{creds:?}").contains("s3cr3t"));
    }

    #[test]
    fn says_what_is_missing() {
        assert!(matches!(from_env(&Env::default()), Err(Error::CredentialsMissing(_))));
        let half = Env::from_pairs([("AWS_ACCESS_KEY_ID", "AKID")]);
        assert!(matches!(from_env(&half), Err(Error::InvalidInput(e)) if e.field == "AWS_SECRET_ACCESS_KEY"));
    }
}
