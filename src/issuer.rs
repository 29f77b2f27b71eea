//! The WIT export `github-app-kms:token/issuer`: translation only.

use std::time::SystemTime;

use crate::api::{
    AppJwt, AppJwtRequest, Guest, InstallationToken, RevokeRequest, TokenError, TokenRequest,
};
use crate::config::{self, Env};
use crate::secret::Secret;
use crate::wasi_http::WasiHttp;
use crate::{credentials, github, jwt, mint};

/// The component's implementation of the `issuer` interface.
pub struct Component;

impl Guest for Component {
    fn get_installation_token(request: TokenRequest) -> Result<InstallationToken, TokenError> {
        let env = Env::from_host();
        let settings = config::token_settings(&request, &env)?;
        let credentials = credentials::from_env(&env)?;
        let token =
            mint::installation_token(&settings, &credentials, &WasiHttp, SystemTime::now())?;
        Ok(to_wit_token(token))
    }

    fn create_app_jwt(request: AppJwtRequest) -> Result<AppJwt, TokenError> {
        let env = Env::from_host();
        let settings = config::jwt_settings(
            request.app_id.as_deref(),
            request.kms_key_id.as_deref(),
            request.aws_region.as_deref(),
            &env,
        )?;
        let credentials = credentials::from_env(&env)?;
        let jwt::AppJwt {
            token,
            issued_at,
            expires_at,
        } = mint::app_jwt(&settings, &credentials, &WasiHttp, SystemTime::now())?;
        Ok(AppJwt {
            jwt: token.expose().to_owned(),
            issued_at,
            expires_at,
        })
    }

    fn revoke_installation_token(request: RevokeRequest) -> Result<(), TokenError> {
        let token = Secret::new(request.token);
        let api = config::github_api(request.github_api_url.as_deref(), &Env::from_host())?;
        mint::revoke(&api, &token, &WasiHttp)
    }
}

fn to_wit_token(t: github::InstallationToken) -> InstallationToken {
    InstallationToken {
        token: t.token.expose().to_owned(),
        expires_at: t.expires_at,
        installation_id: t.installation_id,
        permissions: t.permissions,
        repository_selection: t.repository_selection,
        repositories: t.repositories,
    }
}
