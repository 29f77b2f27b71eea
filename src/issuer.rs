//! The WIT export `github-app-kms:token/issuer`: translation only.

use std::time::SystemTime;

use crate::api::{AppJwt, AppJwtRequest, Guest, InstallationToken, RevokeRequest, TokenError, TokenRequest};
use crate::config::{self, Env};
use crate::error::{Result, invalid};
use crate::github::MintedToken;
use crate::secret::Secret;
use crate::wasi_http;
use crate::{github, mint};

/// The component's implementation of the `issuer` interface.
pub struct Component;

impl Guest for Component {
    fn get_installation_token(request: TokenRequest) -> Result<InstallationToken, TokenError> {
        let mut minted = Self::get_installation_tokens(vec![request])?;
        Ok(minted.remove(0))
    }

    fn get_installation_tokens(requests: Vec<TokenRequest>) -> Result<Vec<InstallationToken>, TokenError> {
        let env = Env::from_host();
        let settings = requests
            .iter()
            .map(|request| config::token_settings(request, &env))
            .collect::<Result<Vec<_>>>()?;
        let (Some(first), Some(request)) = (settings.first(), requests.first()) else {
            return Ok(Vec::new());
        };
        // One App JWT serves every request: they must agree on what signs it and where it goes.
        let differs = |(s, r): &(&config::TokenSettings, &TokenRequest)| {
            s.jwt != first.jwt || s.api != first.api || r.timeout_seconds != request.timeout_seconds
        };
        if let Some(i) = settings.iter().zip(&requests).position(|pair| differs(&pair)) {
            return Err(invalid(
                &format!("requests[{i}]"),
                "must name the same App, key, region, API URL and deadline as the first request",
            ));
        }
        let http = wasi_http::transport(config::timeout(request.timeout_seconds, &env)?);
        let credentials = mint::aws_credentials(&env, &first.jwt.kms.region, &http)?;
        let minted = mint::installation_tokens(&settings, &credentials, &http, SystemTime::now())?;
        Ok(minted.into_iter().map(exported).collect())
    }

    fn create_app_jwt(request: AppJwtRequest) -> Result<AppJwt, TokenError> {
        let env = Env::from_host();
        let settings = config::jwt_settings(
            request.app_id.as_deref(),
            request.kms_key_id.as_deref(),
            request.aws_region.as_deref(),
            &env,
        )?;
        let http = wasi_http::transport(config::timeout(request.timeout_seconds, &env)?);
        let credentials = mint::aws_credentials(&env, &settings.kms.region, &http)?;
        let signed = mint::app_jwt(&settings, &credentials, &http, SystemTime::now())?;
        Ok(AppJwt {
            jwt: signed.token.expose().to_owned(),
            issued_at: signed.issued_at,
            expires_at: signed.expires_at,
        })
    }

    fn describe_error(error: TokenError) -> String {
        error.message()
    }

    fn revoke_installation_token(request: RevokeRequest) -> Result<(), TokenError> {
        let env = Env::from_host();
        github::check_token("token", &request.token)?;
        let token = Secret::new(request.token);
        let api = config::github_api(request.github_api_url.as_deref(), &env)?;
        mint::revoke(&api, &token, &wasi_http::transport(config::timeout(request.timeout_seconds, &env)?))
    }
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
