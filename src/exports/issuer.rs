//! The WIT export `github-app-kms:token/issuer`: translation only.

use std::time::SystemTime;

use crate::api::{AppJwt, AppJwtRequest, Guest, InstallationToken, RevokeRequest, TokenError, TokenRequest};
use crate::cache::Cache;
use crate::error::{Result, invalid};
use crate::exports::resolve::{self, Fields, host_env};
use crate::github::api::MintedToken;
use crate::github::names::check_token;
use crate::mint::flow;
use crate::mint::settings::route;
use crate::net::outgoing;
use crate::secret::Secret;

/// The component's implementation of the `issuer` interface.
pub struct Component;

impl Guest for Component {
    fn get_installation_token(request: TokenRequest) -> Result<InstallationToken, TokenError> {
        let minted = Self::get_installation_tokens(vec![request])?;
        // One token a request: an empty list cannot come back from one request.
        minted.into_iter().next().ok_or_else(|| invalid("request", "no token was minted"))
    }

    fn get_installation_tokens(requests: Vec<TokenRequest>) -> Result<Vec<InstallationToken>, TokenError> {
        let Some(first) = requests.first() else { return Ok(Vec::new()) };
        // One App JWT serves every request: they must agree on what signs it and where it goes.
        let fields = Fields::of(first);
        if let Some(i) = requests.iter().position(|r| Fields::of(r) != fields) {
            return Err(invalid(
                &format!("requests[{i}]"),
                "must name the same App, key, region, API URL and deadline as the first request",
            ));
        }
        let env = host_env();
        let deployment = resolve::deployment(&fields, &env)?;
        let targets = requests
            .iter()
            .zip(repositories(&requests)?)
            .map(|(r, names)| resolve::token_target(r.installation.as_ref(), &names, &r.permissions, &env))
            .collect::<Result<Vec<_>>>()?;
        let http = outgoing::transport(deployment.timeout);
        let minted =
            flow::installation_tokens(&deployment, &targets, &http, SystemTime::now(), &Cache::none())?;
        Ok(minted.into_iter().map(exported).collect())
    }

    fn create_app_jwt(request: AppJwtRequest) -> Result<AppJwt, TokenError> {
        let env = host_env();
        let fields = Fields {
            app_id: request.app_id.as_deref(),
            key: request.key.as_deref(),
            kms_key_id: request.kms_key_id.as_deref(),
            aws_region: request.aws_region.as_deref(),
            ..Fields::default()
        };
        let jwt = resolve::jwt_settings(&fields, &env)?;
        let http = outgoing::transport(resolve::timeout(request.timeout_seconds, &env)?);
        let signed = flow::app_jwt(&jwt, &resolve::credentials(&env, &jwt.key)?, &http, SystemTime::now())?;
        Ok(AppJwt {
            jwt: signed.token.expose().to_owned(),
            issued_at: signed.issued_at,
            expires_at: signed.expires_at,
        })
    }

    fn revoke_installation_token(request: RevokeRequest) -> Result<(), TokenError> {
        let env = host_env();
        check_token("token", &request.token)?;
        let token = Secret::new(request.token);
        let api = resolve::github_api(request.github_api_url.as_deref(), &env)?;
        flow::revoke(&api, &token, &outgoing::transport(resolve::timeout(request.timeout_seconds, &env)?))
    }

    fn describe_error(error: TokenError) -> String {
        error.message()
    }
}

/// Each request's repositories. Several requests that carry one and the
/// same list (as the Action and the command line give one list for
/// several owners) share it out: each full name `OWNER/NAME` to its owner's
/// request ([`route`]). Otherwise each request's list is its own.
fn repositories(requests: &[TokenRequest]) -> Result<Vec<Vec<String>>> {
    let shared = requests.len() > 1
        && requests.iter().all(|r| r.repositories == requests[0].repositories && !r.repositories.is_empty());
    if !shared {
        return Ok(requests.iter().map(|r| r.repositories.clone()).collect());
    }
    let installations = requests
        .iter()
        .map(|r| {
            r.installation
                .clone()
                .ok_or_else(|| invalid("installation", "each of several requests needs one"))
        })
        .collect::<Result<Vec<_>>>()?;
    route(&installations, &requests[0].repositories)
}

/// A minted token as the WIT record carries it.
fn exported(minted: MintedToken) -> InstallationToken {
    InstallationToken {
        token: minted.token.expose().to_owned(),
        expires_at: minted.expires_at,
        installation_id: minted.installation_id,
        permissions: minted.permissions,
        repository_selection: minted.repository_selection,
        repositories: minted.repositories,
        app_slug: minted.app_slug,
    }
}
