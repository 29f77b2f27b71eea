//! The flow: App JWT signed by KMS, installation lookup, token, revocation.
//!
//! Each step builds a request with a pure module, sends it through a
//! [`Transport`], and reads the answer with the same module. The clock comes
//! in as an argument; nothing here reads the environment or a file.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use github_app_kms_token::aws::credentials::{AwsCredentials, Source};
//! use github_app_kms_token::aws::kms::{KeyId, KmsKey};
//! use github_app_kms_token::aws::region::Region;
//! use github_app_kms_token::api::Installation;
//! use github_app_kms_token::github::jwt::AppId;
//! use github_app_kms_token::mint::flow::installation_tokens;
//! use github_app_kms_token::mint::settings::{Deployment, JwtSettings, Target};
//! use github_app_kms_token::net::script::{Script, answer};
//! use github_app_kms_token::net::url::Url;
//! use github_app_kms_token::secret::Secret;
//!
//! let region = Region::parse("aws-region", "eu-west-1")?;
//! let deployment = Deployment {
//!     jwt: JwtSettings {
//!         app: AppId::parse("app-id", "123456")?,
//!         kms: KmsKey { key_id: KeyId::parse("kms-key-id", "alias/github-app")?, endpoint: region.endpoint("kms"), region },
//!     },
//!     api: Url::parse("https://api.github.com").unwrap(),
//!     credentials: Source::Keys(AwsCredentials {
//!         access_key_id: "AKIDEXAMPLE".into(),
//!         secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//!         session_token: None,
//!     }),
//!     timeout: Duration::from_secs(30),
//! };
//! let target = Target::new(Installation::Id(1001), &[], None, &[])?;
//! // KMS signs, then GitHub mints: the answers a transport would bring.
//! let signature = format!(r#"{{"Signature":"{}=="}}"#, "A".repeat(342));
//! let minted = r#"{"token":"ghs_example","expires_at":"2026-12-02T15:00:00Z","repository_selection":"all"}"#;
//! let script = Script::new([answer(200, &[], &signature), answer(201, &[], minted)]);
//! let tokens = installation_tokens(&deployment, &[target], &script, SystemTime::now())?;
//! assert_eq!(tokens[0].token.expose(), "ghs_example");
//! assert_eq!(script.lines()[1], "POST https://api.github.com/app/installations/1001/access_tokens");
//! # Ok::<(), github_app_kms_token::error::Error>(())
//! ```

use std::time::SystemTime;

use crate::api::Installation;
use crate::aws::credentials::{AwsCredentials, IdentityToken, Source};
use crate::aws::{kms, oidc, sts};
use crate::error::{Error, Result};
use crate::github::api::{self as github, MintedToken, Scope};
use crate::github::jwt::{SignedJwt, UnsignedJwt};
use crate::mint::settings::{Deployment, JwtSettings, Target, check_distinct};
use crate::net::http::{Response, Transport};
use crate::net::url::Url;
use crate::secret::Secret;
use crate::time::unix_secs;

/// AWS credentials from `source`: keys as they are; a web identity (the
/// runner's OIDC token, fetched here, or one the host gave) exchanged at
/// STS for temporary credentials.
pub fn aws_credentials(source: &Source, http: &impl Transport) -> Result<AwsCredentials> {
    let (role, token, endpoint) = match source {
        Source::Keys(keys) => return Ok(keys.clone()),
        Source::WebIdentity { role, token, sts } => (role, token, sts),
    };
    let fetched;
    let web_identity = match token {
        IdentityToken::GithubActions { request_url, request_token, audience } => {
            let response = http.send(oidc::id_token_request(request_url, request_token, audience))?;
            fetched = oidc::read_id_token(request_url, &response, request_token)?;
            &fetched
        }
        IdentityToken::Given(token) => token,
    };
    let response = http.send(sts::assume_role_request(endpoint, role, web_identity))?;
    sts::read_credentials(endpoint, &response, web_identity)
}

/// The largest clock correction made for GitHub, in seconds. A clock that
/// is further off is broken, not drifting, and the correction is a date
/// chosen by whoever answered as GitHub: bounded, a JWT signed on its word
/// is still void within 5 + 9 minutes of now, not in a future window of
/// the answerer's choosing.
pub const MAX_CLOCK_CORRECTION_SECS: u64 = 5 * 60;

/// Signs an App JWT for `settings.app` with one KMS `Sign` call, with
/// credentials from `source`.
pub fn app_jwt(
    settings: &JwtSettings,
    source: &Source,
    http: &impl Transport,
    now: SystemTime,
) -> Result<SignedJwt> {
    sign_jwt(settings, &aws_credentials(source, http)?, http, now, 0)
}

/// An App JWT whose times are `github_offset` seconds from `now` (GitHub's
/// clock); the KMS request itself is signed at `now`, AWS's clock.
fn sign_jwt(
    settings: &JwtSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
    github_offset: i64,
) -> Result<SignedJwt> {
    let unix_now = unix_secs(now);
    let unsigned = UnsignedJwt::new(&settings.app, unix_now.saturating_add_signed(github_offset));
    let request = kms::sign_request(&settings.kms, credentials, unsigned.signing_input(), now)?;
    let response = http.send(request)?;
    let signature = kms::read_sign_response(&settings.kms.endpoint, &response, credentials)?;
    Ok(unsigned.sign(&signature))
}

/// Mints a token for each of `targets` (each installation once) with one
/// App JWT, signed with credentials from the deployment's source. All or
/// nothing: if one fails, those minted are revoked.
///
/// If GitHub refuses the JWT's times and its `Date` header shows this
/// machine's clock is off by at most [`MAX_CLOCK_CORRECTION_SECS`], the JWT
/// is signed once more with GitHub's time (one more KMS call) and the
/// request tried again; if that fails too, or the clock is further off, the
/// error says by how much the clock is off.
pub fn installation_tokens(
    deployment: &Deployment,
    targets: &[Target],
    http: &impl Transport,
    now: SystemTime,
) -> Result<Vec<MintedToken>> {
    check_distinct(targets)?;
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let credentials = aws_credentials(&deployment.credentials, http)?;
    let (settings, api) = (&deployment.jwt, &deployment.api);
    let mut jwt = sign_jwt(settings, &credentials, http, now, 0)?;
    let mut corrected = false;
    let mut minted: Vec<MintedToken> = Vec::new();
    while let Some(t) = targets.get(minted.len()) {
        match attempt(api, &t.installation, &t.scope, &jwt.token, http, now) {
            Ok(token) => minted.push(token),
            Err(Failed::Clock { offset, .. })
                if !corrected && offset.unsigned_abs() <= MAX_CLOCK_CORRECTION_SECS =>
            {
                corrected = true;
                jwt = sign_jwt(settings, &credentials, http, now, offset)?;
            }
            Err(failed) => {
                // Every token minted goes back to the API that minted it.
                for token in &minted {
                    let _ = revoke(api, &token.token, http);
                }
                return Err(failed.into_error());
            }
        }
    }
    Ok(minted)
}

/// Why one token could not be minted.
enum Failed {
    /// GitHub refused the JWT's times; its clock is `offset` seconds ahead of ours.
    Clock { offset: i64, error: Error },
    /// Anything else.
    Other(Error),
}

impl Failed {
    fn into_error(self) -> Error {
        match self {
            // A clock the `Date` header shows to be off: say by how much.
            Failed::Clock { offset, error: Error::Github(mut e) } if offset.abs() >= 5 => {
                let relation = if offset > 0 { "behind" } else { "ahead of" };
                e.hint = Some(format!(
                    "this machine's clock is {} s {relation} GitHub's (by its Date header): correct the clock",
                    offset.unsigned_abs()
                ));
                Error::Github(e)
            }
            Failed::Clock { error, .. } | Failed::Other(error) => error,
        }
    }
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed::Other(error)
    }
}

/// The lookup (unless the id is known) and the token request; a refusal of
/// the JWT's times is told apart.
fn attempt(
    api: &Url,
    installation: &Installation,
    scope: &Scope,
    jwt: &Secret,
    http: &impl Transport,
    now: SystemTime,
) -> Result<MintedToken, Failed> {
    let local_now = unix_secs(now);
    let checked = |response: Response| -> Result<Response, Failed> {
        match github::clock_offset(&response, local_now) {
            Some(offset) => Err(Failed::Clock { offset, error: github::read_error(&response, jwt) }),
            None => Ok(response),
        }
    };
    let lookup = match installation {
        Installation::Id(id) => github::Lookup { id: *id, app_slug: None },
        _ => github::read_installation(
            api,
            &checked(http.send(github::installation_request(api, installation, jwt))?)?,
            jwt,
        )?,
    };
    let response = checked(http.send(github::access_token_request(api, lookup.id, scope, jwt))?)?;
    let minted = github::read_access_token(api, &response, lookup.id, jwt)?;
    Ok(MintedToken { app_slug: lookup.app_slug, ..minted })
}

/// Every installation of the App, following pagination (at most 100 pages).
pub fn installations(api: &Url, jwt: &Secret, http: &impl Transport) -> Result<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    for page in 1..=100 {
        let (installations, next) =
            github::read_installations(api, &http.send(github::installations_request(api, page, jwt))?, jwt)?;
        all.extend(installations);
        if !next {
            break;
        }
    }
    Ok(all)
}

/// Revokes an installation token.
pub fn revoke(api: &Url, token: &Secret, http: &impl Transport) -> Result<()> {
    github::read_revoke(&http.send(github::revoke_request(api, token))?, token)
}

#[cfg(test)]
mod tests;
