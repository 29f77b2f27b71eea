//! The error type of every function: the WIT `token-error`, plus helpers.
//!
//! Errors are built from data the component chose to put there: field names,
//! rules, status codes and the services' own texts, quoted (scrubbed of
//! secrets, one line, no control characters: see [`crate::secret::quote`]).
//! They never hold a credential or token.

use std::fmt;

pub use crate::api::{
    InvalidInput, MalformedAnswer, Service, ServiceError, TokenError as Error, TransportError,
};

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A field (or environment variable) that broke a rule.
pub fn invalid(field: &str, rule: impl Into<String>) -> Error {
    Error::InvalidInput(InvalidInput { field: field.to_owned(), rule: rule.into() })
}

impl Error {
    /// How many times the failed request was sent; `None` for errors found
    /// before anything was sent.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            Error::InvalidInput(_) | Error::CredentialsMissing(_) => None,
            Error::CredentialsRejected(e) | Error::Kms(e) | Error::Sts(e) | Error::Github(e) => {
                Some(e.attempts)
            }
            Error::MalformedResponse(e) => Some(e.attempts),
            Error::Transport(e) | Error::Timeout(e) => Some(e.attempts),
        }
    }

    /// Records that the request behind this error was sent `attempts` times.
    pub fn set_attempts(&mut self, attempts: u32) {
        match self {
            Error::InvalidInput(_) | Error::CredentialsMissing(_) => {}
            Error::CredentialsRejected(e) | Error::Kms(e) | Error::Sts(e) | Error::Github(e) => {
                e.attempts = attempts
            }
            Error::MalformedResponse(e) => e.attempts = attempts,
            Error::Transport(e) | Error::Timeout(e) => e.attempts = attempts,
        }
    }
}

/// `(1 attempt)`, `(3 attempts)`.
fn attempts(n: u32) -> String {
    format!("({n} attempt{})", if n == 1 { "" } else { "s" })
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Service::Kms => "AWS KMS",
            Service::Sts => "AWS STS",
            Service::Github => "GitHub",
            Service::Oidc => "the OIDC token endpoint",
            Service::Vault => "Vault",
            Service::GoogleKms => "Google Cloud KMS",
            Service::GoogleSts => "Google STS",
            Service::GoogleIam => "Google IAM Credentials",
            Service::KeyVault => "Azure Key Vault",
            Service::EntraId => "Microsoft Entra ID",
        })
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, ". {hint}")?;
        }
        if let Some(url) = &self.documentation_url {
            write!(f, " (see {url})")?;
        }
        write!(f, " {}", attempts(self.attempts))
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {}: {} {}", self.service, self.endpoint, self.message, attempts(self.attempts))
    }
}

impl fmt::Display for MalformedAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} (HTTP {}", self.service, self.endpoint, self.status)?;
        if let Some(id) = &self.request_id {
            write!(f, ", request id {id}")?;
        }
        write!(f, "): {} {}", self.message, attempts(self.attempts))
    }
}

// wit-bindgen already implements `Display` (as `Debug`) and
// `std::error::Error` for `token-error`; this is the one-line text for people.
impl Error {
    /// A one-line message naming what failed and, where known, what to do.
    pub fn message(&self) -> String {
        match self {
            Error::InvalidInput(e) => format!("invalid {}: {}", e.field, e.rule),
            Error::CredentialsMissing(why) => format!("no credentials for the key store: {why}"),
            Error::CredentialsRejected(e) => format!("the credentials were refused: {e}"),
            Error::Kms(e) => format!("{} refused to sign: {e}", e.service),
            // AWS STS and Google STS exchange a web identity; Vault's login,
            // Entra ID and IAM Credentials take other proofs too.
            Error::Sts(e) if matches!(e.service, Service::Sts | Service::GoogleSts) => {
                format!("{} refused the web identity: {e}", e.service)
            }
            Error::Sts(e) => format!("{} refused the credential exchange: {e}", e.service),
            Error::Github(e) => format!("GitHub refused the request: {e}"),
            Error::MalformedResponse(e) => format!("unexpected answer from {e}"),
            Error::Transport(e) => format!("could not reach {e}"),
            Error::Timeout(e) => format!("timed out waiting for {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_parts() {
        let e = Error::Kms(ServiceError {
            service: Service::Kms,
            status: 400,
            code: Some("DisabledException".into()),
            message: "key is disabled".into(),
            request_id: Some("r-1".into()),
            documentation_url: None,
            hint: Some("Enable the key".into()),
            attempts: 1,
        });
        assert_eq!(
            e.message(),
            "AWS KMS refused to sign: HTTP 400 DisabledException: key is disabled (request id r-1). \
             Enable the key (1 attempt)"
        );
        assert_eq!(invalid("app-id", "must not be empty").message(), "invalid app-id: must not be empty");
    }
}
