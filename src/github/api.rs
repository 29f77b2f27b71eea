//! The GitHub REST API calls: installation lookup, token creation, revocation.
//!
//! Builders return [`Request`]s; readers turn [`Response`]s into results or
//! typed errors with GitHub's message, request id and a hint.

use crate::api::{Installation, Permission, RepositoryRef};
use crate::error::{Error, Result, Service, ServiceError};
use crate::github::names::{check_app_slug, check_repository, check_token, permission, permissions_json};
use crate::json::{self, Object};
use crate::net::http::{Method, Request, Response, malformed};
use crate::net::retry::{RateLimit, rate_limit};
use crate::net::url::Url;
use crate::secret::{Secret, quote};
use crate::time::{parse_http_date, parse_rfc3339, rfc3339};

/// GitHub's public API.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// The REST API version this component speaks.
pub const API_VERSION: &str = "2022-11-28";

/// The account whose repositories a token for `installation` may be
/// narrowed to by bare name, if there is one.
pub fn account(installation: &Installation) -> Option<&str> {
    match installation {
        Installation::Owner(owner) | Installation::Repository(RepositoryRef { owner, .. }) => Some(owner),
        Installation::Id(_) | Installation::Enterprise(_) => None,
    }
}

/// What the token is narrowed to; empty lists mean no narrowing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Bare repository names.
    pub repositories: Vec<String>,
    /// Permission names and levels.
    pub permissions: Vec<Permission>,
}

/// An installation access token as minted, and what it carries.
#[derive(Debug)]
pub struct MintedToken {
    /// The token: opaque, no assumption on its length or alphabet.
    pub token: Secret,
    /// RFC 3339 expiry.
    pub expires_at: String,
    /// The installation it was minted for (looked up, or as given).
    pub installation_id: u64,
    /// The permissions granted.
    pub permissions: Vec<Permission>,
    /// `all` or `selected`.
    pub repository_selection: String,
    /// The repositories' names, when GitHub lists them.
    pub repositories: Vec<String>,
    /// The App's slug, when a lookup told it.
    pub app_slug: Option<String>,
}

impl MintedToken {
    /// The token as the command line's `--format json` and the broker print it.
    pub fn to_json(&self) -> serde_json::Value {
        let mut object = serde_json::json!({
            "token": self.token.expose(),
            "expires_at": self.expires_at,
            "installation_id": self.installation_id,
            "permissions": permissions_json(&self.permissions),
            "repository_selection": self.repository_selection,
            "repositories": self.repositories,
        });
        if let Some(slug) = &self.app_slug {
            object["app_slug"] = slug.as_str().into();
        }
        object
    }
}

impl MintedToken {
    /// A token as [`MintedToken::to_json`] wrote it (into a cache), if it
    /// reads back whole.
    pub fn from_json(value: &serde_json::Value) -> Option<MintedToken> {
        let text = |key: &str| value.get(key)?.as_str().map(str::to_owned);
        let names = |key: &str| -> Option<Vec<String>> {
            value.get(key)?.as_array()?.iter().map(|v| v.as_str().map(str::to_owned)).collect()
        };
        let permissions = value.get("permissions")?.as_object()?;
        Some(MintedToken {
            token: Secret::new(text("token")?),
            expires_at: text("expires_at")?,
            installation_id: value.get("installation_id")?.as_u64()?,
            permissions: permissions
                .iter()
                .map(|(name, level)| permission(name, level.as_str()?))
                .collect::<Option<_>>()?,
            repository_selection: text("repository_selection")?,
            repositories: names("repositories")?,
            app_slug: text("app_slug"),
        })
    }
}

fn request(method: Method, url: Url, bearer: &Secret, body: Vec<u8>) -> Request {
    let mut headers = vec![
        ("accept".to_owned(), "application/vnd.github+json".to_owned()),
        ("x-github-api-version".to_owned(), API_VERSION.to_owned()),
        ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
        ("authorization".to_owned(), format!("Bearer {}", bearer.expose())),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    Request { service: Service::Github, method, url, headers, body, retry: true }
}

/// The lookup of `installation`, whose fields are checked. (For an id, the
/// flow skips it: the id is all a token request needs.)
pub fn installation_request(api: &Url, installation: &Installation, jwt: &Secret) -> Request {
    let path = match installation {
        Installation::Id(id) => format!("/app/installations/{id}"),
        Installation::Owner(owner) => format!("/users/{owner}/installation"),
        Installation::Repository(RepositoryRef { owner, name }) => {
            format!("/repos/{owner}/{name}/installation")
        }
        Installation::Enterprise(slug) => format!("/enterprises/{slug}/installation"),
    };
    request(Method::Get, api.join(&path), jwt, Vec::new())
}

/// What a lookup tells of an installation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    /// The installation id.
    pub id: u64,
    /// The App's slug (its name in URLs).
    pub app_slug: Option<String>,
}

/// The installation from a lookup answer.
pub fn read_installation(api: &Url, response: &Response, jwt: &Secret) -> Result<Lookup> {
    if !response.is_success() {
        return Err(service_error(
            response,
            &[jwt],
            &[(404, "the App is not installed on this account or repository, or it does not exist")],
        ));
    }
    read(api, response, jwt, "installation", |answer| {
        let app_slug = answer.str("app_slug")?;
        if let Some(slug) = app_slug {
            check_app_slug("app_slug", slug).map_err(|_| json::wrong("app_slug", "an App slug"))?;
        }
        Ok(Lookup { id: answer.required_u64("id")?, app_slug: app_slug.map(str::to_owned) })
    })
}

/// At most this many installations per page of `GET /app/installations`.
pub const PER_PAGE: u32 = 100;

/// Page `page` (from 1) of `GET /app/installations`.
pub fn installations_request(api: &Url, page: u32, jwt: &Secret) -> Request {
    let path = format!("/app/installations?per_page={PER_PAGE}&page={page}");
    request(Method::Get, api.join(&path), jwt, Vec::new())
}

/// One page of installations, each as GitHub describes it, and whether
/// another page follows (a `Link` header with `rel="next"`).
pub fn read_installations(
    api: &Url,
    response: &Response,
    jwt: &Secret,
) -> Result<(Vec<serde_json::Value>, bool)> {
    if !response.is_success() {
        return Err(service_error(response, &[jwt], &[]));
    }
    let page = match crate::json::parse(&response.body) {
        Ok(serde_json::Value::Array(page)) => page,
        _ => return Err(not_expected(api, response, jwt, "installations", "not a JSON list")),
    };
    let next = response.header("link").is_some_and(|link| link.contains("rel=\"next\""));
    Ok((page, next))
}

/// `POST /app/installations/{id}/access_tokens`, narrowed to `scope`.
pub fn access_token_request(api: &Url, installation_id: u64, scope: &Scope, jwt: &Secret) -> Request {
    let mut body = serde_json::Map::new();
    if !scope.repositories.is_empty() {
        body.insert("repositories".into(), scope.repositories.clone().into());
    }
    if !scope.permissions.is_empty() {
        body.insert("permissions".into(), permissions_json(&scope.permissions));
    }
    let path = format!("/app/installations/{installation_id}/access_tokens");
    request(Method::Post, api.join(&path), jwt, serde_json::Value::Object(body).to_string().into_bytes())
}

/// The token from an `access_tokens` answer.
pub fn read_access_token(
    api: &Url,
    response: &Response,
    installation_id: u64,
    jwt: &Secret,
) -> Result<MintedToken> {
    if !response.is_success() {
        return Err(service_error(
            response,
            &[jwt],
            &[(404, "no installation with this id belongs to this App")],
        ));
    }
    // Every value passed on is checked: it reaches logs, outputs and
    // callers, and a hostile answer must not write lines into them. The
    // errors say which field is wrong without quoting it.
    let minted = read(api, response, jwt, "access token", |answer| {
        let expires_at = answer.required_str("expires_at")?;
        if parse_rfc3339(expires_at).is_none() {
            return Err(json::wrong("expires_at", "an RFC 3339 time"));
        }
        let repositories: Vec<String> = match answer.value("repositories") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .and_then(|items| items.iter().map(|r| Some(r.get("name")?.as_str()?.to_owned())).collect())
                .ok_or_else(|| json::wrong("repositories", "a list of repositories"))?,
        };
        if repositories.iter().any(|name| check_repository("repositories", name).is_err()) {
            return Err(json::wrong("repositories", "a list of repository names"));
        }
        let permissions = answer
            .string_map("permissions")?
            .into_iter()
            .map(|(name, level)| {
                permission(&name, &level)
                    .ok_or_else(|| json::wrong("permissions", "permissions and levels GitHub documents"))
            })
            .collect::<json::Result<_>>()?;
        let repository_selection = answer.required_str("repository_selection")?;
        if !["all", "selected"].contains(&repository_selection) {
            return Err(json::wrong("repository_selection", "all or selected"));
        }
        Ok(MintedToken {
            token: Secret::new(answer.required_str("token")?),
            expires_at: expires_at.to_owned(),
            installation_id,
            permissions,
            repository_selection: repository_selection.to_owned(),
            repositories,
            app_slug: None,
        })
    })?;
    check_token("token", minted.token.expose()).map_err(|_| {
        malformed(Service::Github, api, response, &[jwt], "the minted token is not visible ASCII")
    })?;
    Ok(minted)
}

/// A GitHub error answer as a typed error (`jwt` scrubbed from it).
pub fn read_error(response: &Response, jwt: &Secret) -> Error {
    service_error(response, &[jwt], &[])
}

/// When GitHub refused the App JWT's times (`iat` or `exp`), how far its
/// clock (its `Date` header) is from `local_now`, in seconds.
pub fn clock_offset(response: &Response, local_now: u64) -> Option<i64> {
    if response.status != 401 {
        return None;
    }
    let refusal = Object::parse(&response.body).ok()?;
    let message = refusal.str("message").ok()??;
    let about_times = refuses_jwt_times(message);
    let server_now = parse_http_date(response.header("date")?)?;
    let signed = |secs: u64| i64::try_from(secs).unwrap_or(i64::MAX);
    about_times.then(|| signed(server_now).saturating_sub(signed(local_now)))
}

/// Whether GitHub's 401 `message` is about the App JWT's `iat` or `exp`.
fn refuses_jwt_times(message: &str) -> bool {
    message.contains("'Issued at'") || message.contains("'Expiration time'")
}

/// `DELETE /installation/token`, authenticated by the token itself.
pub fn revoke_request(api: &Url, token: &Secret) -> Request {
    request(Method::Delete, api.join("/installation/token"), token, Vec::new())
}

/// Success (204) or the reason GitHub gives.
pub fn read_revoke(response: &Response, token: &Secret) -> Result<()> {
    if response.is_success() {
        Ok(())
    } else {
        Err(service_error(
            response,
            &[token],
            &[(401, "the token is already revoked or expired, or is not an installation token")],
        ))
    }
}

/// The `fields` of the `what` answer, a JSON object, to the request `jwt`
/// authorised.
fn read<T>(
    api: &Url,
    response: &Response,
    jwt: &Secret,
    what: &str,
    fields: impl FnOnce(&Object) -> json::Result<T>,
) -> Result<T> {
    Object::parse(&response.body)
        .and_then(|answer| fields(&answer))
        .map_err(|e| not_expected(api, response, jwt, what, e))
}

fn not_expected(
    api: &Url,
    response: &Response,
    jwt: &Secret,
    what: &str,
    why: impl std::fmt::Display,
) -> Error {
    malformed(
        Service::Github,
        api,
        response,
        &[jwt],
        format!("the {what} answer is not the expected JSON: {why}"),
    )
}

/// A GitHub error answer as a typed error. `hints` are the call's own hints
/// by status, taking precedence over the general ones.
fn service_error(response: &Response, secrets: &[&Secret], hints: &[(u16, &'static str)]) -> Error {
    let body = Object::parse(&response.body).ok();
    let text = |key: &str| body.as_ref().and_then(|b| b.str(key).ok().flatten());
    let message = text("message").map_or_else(
        || {
            format!(
                "answer without a GitHub error body (content-type {})",
                response.header("content-type").unwrap_or("none")
            )
        },
        str::to_owned,
    );
    let mut error = ServiceError::quoted(response, Service::Github, None, &message, secrets);
    error.documentation_url = text("documentation_url").map(|url| quote(url, secrets));
    error.hint = rate_limit_hint(response).or_else(|| {
        hints
            .iter()
            .find(|(status, _)| *status == response.status)
            .map(|(_, hint)| *hint)
            .or_else(|| hint(response.status, &error.message))
            .map(str::to_owned)
    });
    Error::Github(error)
}

/// For a rate limit the retry did not wait out (the wait did not fit the
/// call's deadline): when GitHub takes requests again.
fn rate_limit_hint(response: &Response) -> Option<String> {
    Some(match rate_limit(response)? {
        RateLimit::RetryAfter(wait) => {
            format!("GitHub's rate limit was hit: it asks for {wait} s before the next request")
        }
        RateLimit::ResetAt(reset) => {
            format!("GitHub's rate limit was hit: no request is taken before {}", rfc3339(reset))
        }
    })
}

fn hint(status: u16, message: &str) -> Option<&'static str> {
    Some(match status {
        401 if message.contains("Integration not found") => {
            "no GitHub App has this app-id: check the App ID or Client ID, and github-api-url for GitHub Enterprise Server"
        }
        401 if refuses_jwt_times(message) => "GitHub refused the JWT's times: check this machine's clock",
        401 => "GitHub could not verify the App JWT: the KMS key must hold the private key of this very App",
        403 => "the App or its installation may be suspended, or a rate limit was hit",
        422 if message.contains("permissions") => {
            "request only permissions the App has been granted (and the installation has accepted)"
        }
        422 if message.contains("repositor") => {
            "every repository must exist under the owner and be accessible to the installation"
        }
        500..=599 => "GitHub is having trouble: retry later",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
