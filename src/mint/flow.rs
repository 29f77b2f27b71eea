//! The flow: App JWT signed by the key store, installation lookup, token,
//! revocation.
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
//! use github_app_kms_token::cache::Cache;
//! use github_app_kms_token::mint::flow::installation_tokens;
//! use github_app_kms_token::mint::settings::{Deployment, JwtSettings, Target};
//! use github_app_kms_token::mint::signer::{Credentials, Key};
//! use github_app_kms_token::net::script::{Script, answer};
//! use github_app_kms_token::net::url::Url;
//! use github_app_kms_token::secret::Secret;
//!
//! let region = Region::parse("aws-region", "eu-west-1")?;
//! let deployment = Deployment {
//!     jwt: JwtSettings {
//!         app: AppId::parse("app-id", "123456")?,
//!         key: Key::AwsKms(KmsKey {
//!             key_id: KeyId::parse("key", "alias/github-app")?,
//!             endpoint: region.endpoint("kms"),
//!             region,
//!         }),
//!     },
//!     api: Url::parse("https://api.github.com").unwrap(),
//!     credentials: Credentials::Aws(Source::Keys(AwsCredentials {
//!         access_key_id: "AKIDEXAMPLE".into(),
//!         secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
//!         session_token: None,
//!     })),
//!     timeout: Duration::from_secs(30),
//! };
//! let target = Target::new(Installation::Id(1001), &[], None, &[])?;
//! // KMS signs, then GitHub mints: the answers a transport would bring.
//! let signature = format!(r#"{{"Signature":"{}=="}}"#, "A".repeat(342));
//! let minted = r#"{"token":"ghs_example","expires_at":"2026-12-02T15:00:00Z","repository_selection":"all"}"#;
//! let script = Script::new([answer(200, &[], &signature), answer(201, &[], minted)]);
//! let tokens = installation_tokens(&deployment, &[target], &script, SystemTime::now(), &Cache::none())?;
//! assert_eq!(tokens[0].token.expose(), "ghs_example");
//! assert_eq!(script.lines()[1], "POST https://api.github.com/app/installations/1001/access_tokens");
//! # Ok::<(), github_app_kms_token::error::Error>(())
//! ```

use std::time::SystemTime;

use crate::api::Installation;
use crate::cache::{Cache, key_for};
use crate::error::{Error, Result};
use crate::github::api::{self as github, MintedToken, Scope};
use crate::github::jwt::{SignedJwt, UnsignedJwt};
use crate::github::names::permissions_json;
use crate::mint::settings::{Deployment, JwtSettings, Target, check_distinct, installation_name};
use crate::mint::signer::{Credentials, Signer};
use crate::net::http::{Response, Transport};
use crate::net::url::Url;
use crate::secret::Secret;
use crate::time::{parse_rfc3339, unix_secs};

/// The largest clock correction made for GitHub, in seconds. A clock that
/// is further off is broken, not drifting, and the correction is a date
/// chosen by whoever answered as GitHub: bounded, a JWT signed on its word
/// is still void within 5 + 9 minutes of now, not in a future window of
/// the answerer's choosing.
pub const MAX_CLOCK_CORRECTION_SECS: u64 = 5 * 60;

/// Signs an App JWT for `settings.app` with one signature of its key
/// store, with credentials from `credentials`.
pub fn app_jwt(
    settings: &JwtSettings,
    credentials: &Credentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<SignedJwt> {
    sign_jwt(settings, &Signer::open(&settings.key, credentials, http)?, http, now, 0)
}

/// An App JWT whose times are `github_offset` seconds from `now` (GitHub's
/// clock); the request to the key store is made at `now`, its clock.
fn sign_jwt(
    settings: &JwtSettings,
    signer: &Signer,
    http: &impl Transport,
    now: SystemTime,
    github_offset: i64,
) -> Result<SignedJwt> {
    let unix_now = unix_secs(now);
    let unsigned = UnsignedJwt::new(&settings.app, unix_now.saturating_add_signed(github_offset));
    let signature = signer.sign(unsigned.signing_input(), now, http)?;
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
///
/// `cache` may hold what earlier calls found: the App JWT (reused until
/// [`JWT_MARGIN_SECS`] before it expires: no credentials, no KMS), each
/// installation's id ([`INSTALLATION_TTL_SECS`]: no lookup) and, if the
/// deployment keeps them, tokens for the exact same target (until
/// [`TOKEN_MARGIN_SECS`] before they expire: no request at all). A cached
/// JWT GitHub refuses, or a cached id it no longer knows (404), is replaced
/// once by a fresh one.
pub fn installation_tokens(
    deployment: &Deployment,
    targets: &[Target],
    http: &impl Transport,
    now: SystemTime,
    cache: &Cache,
) -> Result<Vec<MintedToken>> {
    check_distinct(targets)?;
    let mut minting = Minting { deployment, http, now, cache, signer: None, jwt: None, corrected: false };
    let mut minted: Vec<(MintedToken, bool)> = Vec::new();
    for target in targets {
        match minting.token(target) {
            Ok(token) => minted.push(token),
            Err(error) => {
                // Every token minted here goes back to the API that minted
                // it; one from the cache is not this call's to end.
                for (token, _) in minted.iter().filter(|(_, fresh)| *fresh) {
                    let _ = revoke(&deployment.api, &token.token, http);
                }
                return Err(error);
            }
        }
    }
    // Kept only once all are minted: none of a failed call's tokens is served later.
    for (target, (token, fresh)) in targets.iter().zip(&minted) {
        if *fresh {
            minting.keep(target, token);
        }
    }
    Ok(minted.into_iter().map(|(token, _)| token).collect())
}

/// A cached App JWT is reused until this many seconds before it expires.
pub const JWT_MARGIN_SECS: u64 = 60;
/// An installation's id is kept this long.
pub const INSTALLATION_TTL_SECS: u64 = 60 * 60;
/// A cached installation token is served until this many seconds before it expires.
pub const TOKEN_MARGIN_SECS: u64 = 5 * 60;

/// One call's minting: the JWT signed (or found) once and shared by every
/// target, and the credentials fetched only if a signature is needed.
struct Minting<'a, T> {
    deployment: &'a Deployment,
    http: &'a T,
    now: SystemTime,
    cache: &'a Cache<'a>,
    signer: Option<Signer>,
    jwt: Option<(Secret, bool)>,
    corrected: bool,
}

impl<T: Transport> Minting<'_, T> {
    /// A token for `target`, and whether it was minted now (not cached).
    fn token(&mut self, target: &Target) -> Result<(MintedToken, bool)> {
        if self.cache.tokens {
            let at = self.token_key(target);
            let cached =
                self.cache.get_secret(&at, unix_secs(self.now)).and_then(|v| MintedToken::from_json(&v));
            self.cache.found("token", cached.is_some());
            if let Some(token) = cached {
                return Ok((token, false));
            }
        }
        let (mut looked_up_again, mut signed_again) = (false, false);
        loop {
            let jwt = self.jwt()?;
            let failed = match self.attempt(&target.installation, &target.scope, &jwt) {
                Ok(token) => break Ok((token, true)),
                Err(failed) => failed,
            };
            match failed {
                Failed::Clock { offset, .. }
                    if !self.corrected && offset.unsigned_abs() <= MAX_CLOCK_CORRECTION_SECS =>
                {
                    self.corrected = true;
                    self.sign(offset)?;
                }
                Failed::Other(Error::Github(e))
                    if e.status == 404
                        && !looked_up_again
                        && self.forget_installation(&target.installation) =>
                {
                    looked_up_again = true;
                }
                Failed::Other(Error::Github(e))
                    if e.status == 401
                        && !signed_again
                        && self.jwt.as_ref().is_some_and(|(_, cached)| *cached) =>
                {
                    signed_again = true;
                    self.sign(0)?;
                }
                failed => return Err(failed.into_error()),
            }
        }
    }

    /// Keeps `token` for `target` when the deployment keeps tokens.
    fn keep(&self, target: &Target, token: &MintedToken) {
        if self.cache.tokens
            && let Some(expires) = parse_rfc3339(&token.expires_at)
        {
            let at = self.token_key(target);
            self.cache.set_secret(&at, &token.to_json(), expires.saturating_sub(TOKEN_MARGIN_SECS));
        }
    }

    /// The App JWT: the one signed in this call, else a cached one, else a new one.
    fn jwt(&mut self) -> Result<Secret> {
        if let Some((jwt, _)) = &self.jwt {
            return Ok(jwt.clone());
        }
        let cached = self.cache.get_secret(&self.jwt_key(), unix_secs(self.now));
        let cached = cached.as_ref().and_then(|v| v.get("jwt")?.as_str()).map(Secret::new);
        self.cache.found("app_jwt", cached.is_some());
        match cached {
            Some(jwt) => {
                self.jwt = Some((jwt.clone(), true));
                Ok(jwt)
            }
            None => self.sign(0),
        }
    }

    /// Signs a JWT whose times are `offset` seconds from now (GitHub's
    /// clock), with credentials fetched once, and keeps it.
    fn sign(&mut self, offset: i64) -> Result<Secret> {
        let (jwt, deployment) = (&self.deployment.jwt, self.deployment);
        let signer = match self.signer.take() {
            Some(signer) => signer,
            None => Signer::open(&jwt.key, &deployment.credentials, self.http)?,
        };
        let signed = sign_jwt(jwt, &signer, self.http, self.now, offset);
        self.signer = Some(signer);
        let signed = signed?;
        // The JWT's `exp` is GitHub's time; the cache keeps the local one.
        let expires = signed.expires_at.saturating_add_signed(-offset).saturating_sub(JWT_MARGIN_SECS);
        self.cache.set_secret(&self.jwt_key(), &serde_json::json!({"jwt": signed.token.expose()}), expires);
        self.jwt = Some((signed.token.clone(), false));
        Ok(signed.token)
    }

    /// The lookup (unless the id is known or cached) and the token request;
    /// a refusal of the JWT's times is told apart.
    fn attempt(
        &self,
        installation: &Installation,
        scope: &Scope,
        jwt: &Secret,
    ) -> Result<MintedToken, Failed> {
        let (api, http) = (&self.deployment.api, self.http);
        let local_now = unix_secs(self.now);
        let checked = |response: Response| -> Result<Response, Failed> {
            match github::clock_offset(&response, local_now) {
                Some(offset) => Err(Failed::Clock { offset, error: github::read_error(&response, jwt) }),
                None => Ok(response),
            }
        };
        let lookup = match installation {
            Installation::Id(id) => github::Lookup { id: *id, app_slug: None },
            _ => match self.cached_installation(installation) {
                Some(lookup) => lookup,
                None => {
                    let response =
                        checked(http.send(github::installation_request(api, installation, jwt))?)?;
                    let lookup = github::read_installation(api, &response, jwt)?;
                    self.keep_installation(installation, &lookup);
                    lookup
                }
            },
        };
        let response = checked(http.send(github::access_token_request(api, lookup.id, scope, jwt))?)?;
        let minted = github::read_access_token(api, &response, lookup.id, jwt)?;
        Ok(MintedToken { app_slug: lookup.app_slug, ..minted })
    }

    fn cached_installation(&self, installation: &Installation) -> Option<github::Lookup> {
        let cached = self.cache.get(&self.installation_key(installation), unix_secs(self.now));
        let lookup = cached.and_then(|v| {
            let app_slug = v.get("app_slug").and_then(|s| s.as_str()).map(str::to_owned);
            Some(github::Lookup { id: v.get("id")?.as_u64()?, app_slug })
        });
        self.cache.found("installation", lookup.is_some());
        lookup
    }

    fn keep_installation(&self, installation: &Installation, lookup: &github::Lookup) {
        let value = serde_json::json!({"id": lookup.id, "app_slug": lookup.app_slug});
        let expires = unix_secs(self.now).saturating_add(INSTALLATION_TTL_SECS);
        self.cache.set(&self.installation_key(installation), &value, expires);
    }

    /// Drops the cached id of `installation`; whether there was one to drop.
    fn forget_installation(&self, installation: &Installation) -> bool {
        let at = self.installation_key(installation);
        let cached = self.cache.get(&at, unix_secs(self.now)).is_some();
        if cached {
            self.cache.drop_entry(&at);
        }
        cached
    }

    fn jwt_key(&self) -> String {
        let (jwt, api) = (&self.deployment.jwt, self.deployment.api.to_string());
        let mut parts = vec![api, jwt.app.claim().to_string()];
        parts.extend(jwt.key.identity());
        key_for("app-jwt", &parts.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Installation ids are the App's own: the key names the App.
    fn installation_key(&self, installation: &Installation) -> String {
        let (api, app) = (self.deployment.api.to_string(), self.deployment.jwt.app.claim().to_string());
        let (kind, name) = installation_name(installation);
        key_for("installation", &[&api, &app, kind, &name])
    }

    fn token_key(&self, target: &Target) -> String {
        let (api, app) = (self.deployment.api.to_string(), self.deployment.jwt.app.claim().to_string());
        let (kind, name) = installation_name(&target.installation);
        let mut repositories: Vec<String> =
            target.scope.repositories.iter().map(|r| r.to_ascii_lowercase()).collect();
        repositories.sort();
        let permissions = permissions_json(&target.scope.permissions).to_string();
        key_for("token", &[&api, &app, kind, &name, &repositories.join(","), &permissions])
    }
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
