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
use crate::secret::{Secret, plain};
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
    /// The installation.
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
    read(api, response, "installation", |answer| {
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
        _ => return Err(not_expected(api, response, "installations", "not a JSON list")),
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
    let minted = read(api, response, "access token", |answer| {
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
    check_token("token", minted.token.expose())
        .map_err(|_| malformed(Service::Github, api, response, "the minted token is not visible ASCII"))?;
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

/// The `fields` of the `what` answer, a JSON object.
fn read<T>(
    api: &Url,
    response: &Response,
    what: &str,
    fields: impl FnOnce(&Object) -> json::Result<T>,
) -> Result<T> {
    Object::parse(&response.body)
        .and_then(|answer| fields(&answer))
        .map_err(|e| not_expected(api, response, what, e))
}

fn not_expected(api: &Url, response: &Response, what: &str, why: impl std::fmt::Display) -> Error {
    malformed(Service::Github, api, response, format!("the {what} answer is not the expected JSON: {why}"))
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
    error.documentation_url = text("documentation_url").map(plain);
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
mod tests {
    use super::*;
    use crate::api::Access;

    fn api() -> Url {
        Url::parse("https://ghe.example.com/api/v3").unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        crate::net::script::answer(status, &[("x-github-request-id", "GH:1")], body).unwrap()
    }

    fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
        req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn lookups_use_the_documented_paths() {
        let jwt = Secret::new("j.w.t");
        let paths: Vec<String> = [
            Installation::Owner("octo-org".into()),
            Installation::Repository(RepositoryRef { owner: "octo".into(), name: "hello.rs".into() }),
            Installation::Enterprise("acme".into()),
            Installation::Id(7),
        ]
        .iter()
        .map(|t| installation_request(&api(), t, &jwt).url.path.clone())
        .collect();
        assert_eq!(
            paths,
            [
                "/api/v3/users/octo-org/installation",
                "/api/v3/repos/octo/hello.rs/installation",
                "/api/v3/enterprises/acme/installation",
                "/api/v3/app/installations/7"
            ]
        );
        let req = installation_request(&api(), &Installation::Owner("o".into()), &jwt);
        assert_eq!(header(&req, "authorization"), Some("Bearer j.w.t"));
        assert_eq!(header(&req, "accept"), Some("application/vnd.github+json"));
        assert_eq!(header(&req, "x-github-api-version"), Some(API_VERSION));
        assert!(header(&req, "user-agent").unwrap().starts_with("github-app-kms-token/"));
    }

    #[test]
    fn access_token_body_carries_the_scope() {
        let jwt = Secret::new("jwt");
        let req = access_token_request(&api(), 42, &Scope::default(), &jwt);
        assert_eq!(
            (req.method, req.url.path.as_str()),
            (Method::Post, "/api/v3/app/installations/42/access_tokens")
        );
        assert_eq!(req.body, b"{}");
        let scope = Scope {
            repositories: vec!["a".into(), "b".into()],
            permissions: vec![Permission { name: "contents".into(), access: Access::Read }],
        };
        let body: serde_json::Value =
            serde_json::from_slice(&access_token_request(&api(), 42, &scope, &jwt).body).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"repositories": ["a", "b"], "permissions": {"contents": "read"}})
        );
    }

    #[test]
    fn reads_an_access_token() {
        let body = r#"{"token":"ghs_x.y.z","expires_at":"2026-11-25T21:00:00Z","permissions":{"contents":"read","issues":"write"},
            "repository_selection":"selected","repositories":[{"id":1,"name":"widgets"}]}"#;
        let t = read_access_token(&api(), &response(201, body), 42, &Secret::new("jwt")).unwrap();
        assert_eq!(t.token.expose(), "ghs_x.y.z");
        assert_eq!(
            (t.installation_id, t.expires_at.as_str(), t.repository_selection.as_str()),
            (42, "2026-11-25T21:00:00Z", "selected")
        );
        assert_eq!(t.repositories, ["widgets"]);
        assert_eq!(
            t.permissions,
            [
                Permission { name: "contents".into(), access: Access::Read },
                Permission { name: "issues".into(), access: Access::Write }
            ]
        );
        assert!(!format!("{t:?}").contains("ghs_"));
    }

    /// What a hostile or broken GitHub could answer with a 201: each is a
    /// malformed answer, and none of its text is quoted in the error.
    #[test]
    fn every_value_of_a_minted_token_is_checked() {
        let good = serde_json::json!({"token": "ghs_x", "expires_at": "2026-11-25T21:00:00Z",
            "permissions": {"contents": "read"}, "repository_selection": "selected",
            "repositories": [{"name": "widgets"}]});
        let injected = "2026-11-25T21:00:00Z\n::error title=Injected::x\n::stop-commands::ABC";
        for (field, value) in [
            ("expires_at", serde_json::json!(injected)),
            ("expires_at", serde_json::json!("in an hour")),
            ("repositories", serde_json::json!([{"name": "widgets\n::error::x"}])),
            ("repositories", serde_json::json!([{"name": "acme/widgets"}])),
            ("repository_selection", serde_json::json!("some\u{2028}")),
            ("repository_selection", serde_json::Value::Null),
            ("permissions", serde_json::json!({"contents": "owner"})),
            ("permissions", serde_json::json!({"contents\n::error::x": "read"})),
        ] {
            let mut body = good.clone();
            body[field] = value;
            let answer = response(201, &body.to_string());
            let err = read_access_token(&api(), &answer, 1, &Secret::new("jwt")).unwrap_err();
            let Error::MalformedResponse(e) = &err else { panic!("{field}: {}", err.message()) };
            assert!(e.message.contains(field), "{field}: {}", e.message);
            assert!(!err.message().contains("::") && !err.message().contains('\n'), "{}", err.message());
        }
        assert!(read_access_token(&api(), &response(201, &good.to_string()), 1, &Secret::new("j")).is_ok());
        let slug = response(200, r#"{"id": 1, "app_slug": "kms-app\n::error::x"}"#);
        let err = read_installation(&api(), &slug, &Secret::new("jwt")).unwrap_err();
        assert!(matches!(err, Error::MalformedResponse(_)) && !err.message().contains("::"));
    }

    #[test]
    fn errors_carry_message_request_id_and_hint() {
        let jwt = Secret::new("eyJ.secret.jwt");
        let body = r#"{"message":"Integration not found for eyJ.secret.jwt","documentation_url":"https://docs.github.com/rest"}"#;
        let Error::Github(e) = read_installation(&api(), &response(401, body), &jwt).unwrap_err() else {
            panic!()
        };
        assert_eq!((e.status, e.request_id.as_deref()), (401, Some("GH:1")));
        assert_eq!(e.message, "Integration not found for [redacted]");
        assert!(e.hint.unwrap().contains("app-id"));
        assert_eq!(e.documentation_url.as_deref(), Some("https://docs.github.com/rest"));

        let Error::Github(e) =
            read_installation(&api(), &response(404, r#"{"message":"Not Found"}"#), &jwt).unwrap_err()
        else {
            panic!()
        };
        assert!(e.hint.unwrap().contains("not installed"));

        let body = r#"{"message":"The permissions requested are not granted to this installation."}"#;
        let Error::Github(e) = read_access_token(&api(), &response(422, body), 1, &jwt).unwrap_err() else {
            panic!()
        };
        assert!(e.hint.unwrap().contains("granted"));

        let err = read_access_token(&api(), &response(201, "<html>"), 1, &jwt).unwrap_err();
        assert!(
            matches!(err, Error::MalformedResponse(ref e) if e.service == Service::Github && e.endpoint == "https://ghe.example.com")
        );
    }

    #[test]
    fn a_rate_limit_says_when_github_takes_requests_again() {
        let jwt = Secret::new("eyJ.secret.jwt");
        let limited = |status: u16, headers: &[(&str, &str)]| {
            let mut answer = response(status, r#"{"message":"You have exceeded a secondary rate limit."}"#);
            answer.headers.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
            let Error::Github(e) = read_access_token(&api(), &answer, 1, &jwt).unwrap_err() else { panic!() };
            e.hint.unwrap_or_default()
        };
        assert!(limited(429, &[("retry-after", "60")]).contains("asks for 60 s"));
        assert!(limited(403, &[("retry-after", " 5 ")]).contains("asks for 5 s"));
        let reset = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1795640400")];
        assert!(limited(403, &reset).ends_with("before 2026-11-25T21:00:00Z"));
        assert!(limited(403, &[("x-ratelimit-reset", "1795640400")]).contains("suspended"), "requests left");
        assert!(!limited(429, &[]).contains("asks"));
    }
}
