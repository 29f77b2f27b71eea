//! The flow: App JWT signed by KMS, installation lookup, token, revocation.
//!
//! Each step builds a request with a pure module, sends it through a
//! [`Transport`], and reads the answer with the same module.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{self, Env, JwtSettings, TokenSettings};
use crate::credentials::{self, AwsCredentials, IdentityToken, Source};
use crate::error::Error;
use crate::error::Result;
use crate::github::{self, MintedToken, Scope, Target};
use crate::http::{Transport, Url};
use crate::jwt::{SignedJwt, UnsignedJwt};
use crate::kms::Region;
use crate::secret::Secret;
use crate::{kms, oidc, sts};

/// AWS credentials from the first source the environment configures: keys
/// as they are; a web identity (the runner's OIDC token, or a token file)
/// exchanged at STS in `region` for temporary credentials.
pub fn aws_credentials(env: &Env, region: &Region, http: &impl Transport) -> Result<AwsCredentials> {
    let (role, token) = match credentials::source(env)? {
        Source::Keys(keys) => return Ok(keys),
        Source::WebIdentity { role, token } => (role, token),
    };
    let sts_endpoint = config::sts_endpoint(env, region)?;
    let web_identity = match token {
        IdentityToken::GithubActions { request_url, request_token, audience } => {
            let response = http.send(oidc::id_token_request(&request_url, &request_token, &audience))?;
            oidc::read_id_token(&request_url, &response, &request_token)?
        }
        IdentityToken::File(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| {
                Error::CredentialsMissing(format!(
                    "could not read AWS_WEB_IDENTITY_TOKEN_FILE {path}: {e} (the host must give access to its folder, e.g. wasmtime run --dir)"
                ))
            })?;
            Secret::new(text.trim())
        }
    };
    let response = http.send(sts::assume_role_request(&sts_endpoint, &role, &web_identity))?;
    sts::read_credentials(&sts_endpoint, &response, &web_identity)
}

/// Signs an App JWT for `settings.app` with one KMS `Sign` call.
pub fn app_jwt(
    settings: &JwtSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<SignedJwt> {
    let unix_now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let unsigned = UnsignedJwt::new(&settings.app, unix_now);
    let request = kms::sign_request(&settings.kms, credentials, unsigned.signing_input(), now)?;
    let response = http.send(request)?;
    let signature = kms::read_sign_response(&settings.kms.endpoint, &response, credentials)?;
    Ok(unsigned.sign(&signature))
}

/// Mints an installation token: one KMS call, then GitHub.
pub fn installation_token(
    settings: &TokenSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<MintedToken> {
    let jwt = app_jwt(&settings.jwt, credentials, http, now)?;
    token_with_jwt(&settings.api, &settings.target, &settings.scope, &jwt.token, http)
}

/// Mints an installation token with an App JWT already signed, so one JWT
/// can serve several installations.
pub fn token_with_jwt(
    api: &Url,
    target: &Target,
    scope: &Scope,
    jwt: &Secret,
    http: &impl Transport,
) -> Result<MintedToken> {
    let lookup = match target {
        Target::Id(id) => github::Lookup { id: *id, app_slug: None },
        _ => {
            github::read_installation(api, &http.send(github::installation_request(api, target, jwt))?, jwt)?
        }
    };
    let response = http.send(github::access_token_request(api, lookup.id, scope, jwt))?;
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
