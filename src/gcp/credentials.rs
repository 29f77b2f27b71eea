//! Where the Google access token that signs comes from: a token as it is
//! (`GOOGLE_OAUTH_ACCESS_TOKEN`), or Workload Identity Federation: the
//! workload's ID token exchanged at Google's STS for a federated token,
//! which may then impersonate a service account (`generateAccessToken`).
//! The federation's settings come from an external-account JSON (as
//! `google-github-actions/auth` writes it, and Google's libraries read it)
//! or from a provider's name.

use crate::error::{Error, Result, Service, invalid};
use crate::gcp::{CLOUD_PLATFORM, errors, request};
use crate::identity::IdentityToken;
use crate::json::Object;
use crate::net::http::{Method, Request, Response, malformed};
use crate::net::url::Url;
use crate::secret::Secret;

/// Google's STS, where no external-account JSON says otherwise.
pub const DEFAULT_TOKEN_URL: &str = "https://sts.googleapis.com/v1/token";
/// IAM Credentials, where no external-account JSON says otherwise.
pub const DEFAULT_IAM_CREDENTIALS: &str = "https://iamcredentials.googleapis.com";
/// An OIDC token, as STS's `subject_token_type` names it.
pub const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// Where the access token comes from.
#[derive(Debug)]
pub enum Source {
    /// An access token, as it is (`GOOGLE_OAUTH_ACCESS_TOKEN`).
    Token(Secret),
    /// The workload's ID token, exchanged.
    Federated(Box<Federation>),
}

/// Workload Identity Federation: what to exchange, where, for what.
#[derive(Debug)]
pub struct Federation {
    /// The provider, as STS's `audience`:
    /// `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/R`.
    pub audience: String,
    /// Google's STS (the JSON's `token_url`).
    pub token_url: Url,
    /// The ID token's type (the JSON's `subject_token_type`).
    pub subject_token_type: String,
    /// The service account's `generateAccessToken` URL, to impersonate it.
    pub impersonation: Option<Url>,
    /// Where the ID token comes from.
    pub token: IdentityToken,
}

/// `projects/N/locations/global/workloadIdentityPools/P/providers/R` (from
/// `field`) as STS's audience, with the `//iam.googleapis.com/` prefix.
pub fn provider_audience(field: &str, provider: &str) -> Result<String> {
    let provider = provider.trim_start_matches("//iam.googleapis.com/");
    let parts: Vec<&str> = provider.split('/').collect();
    let labels = ["projects", "locations", "workloadIdentityPools", "providers"];
    let shaped = parts.len() == 8
        && parts.chunks(2).zip(labels).all(|(pair, label)| {
            pair[0] == label
                && !pair[1].is_empty()
                && pair[1].bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        });
    if !shaped {
        return Err(invalid(
            field,
            "must be projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
        ));
    }
    Ok(format!("//iam.googleapis.com/{provider}"))
}

/// The `generateAccessToken` URL of `service_account` (from `field`), at IAM Credentials.
pub fn impersonation_url(field: &str, service_account: &str) -> Result<Url> {
    let ok = service_account.split_once('@').is_some_and(|(name, domain)| {
        !name.is_empty()
            && domain.contains('.')
            && service_account.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
    });
    if !ok {
        return Err(invalid(
            field,
            "must be a service account's email, NAME@PROJECT.iam.gserviceaccount.com",
        ));
    }
    let url = format!(
        "{DEFAULT_IAM_CREDENTIALS}/v1/projects/-/serviceAccounts/{service_account}:generateAccessToken"
    );
    Url::parse(&url).map_err(|rule| invalid(field, rule))
}

/// What an external-account JSON says, checked. The ID token's source is
/// returned as found (`credential_source`), for the exports to read.
#[derive(Debug)]
pub struct ExternalAccount {
    /// STS's `audience`.
    pub audience: String,
    /// `token_url`.
    pub token_url: Url,
    /// `subject_token_type`.
    pub subject_token_type: String,
    /// `service_account_impersonation_url`, if any.
    pub impersonation: Option<Url>,
    /// Where the ID token comes from.
    pub source: CredentialSource,
}

/// An external account's `credential_source`.
#[derive(Debug, PartialEq, Eq)]
pub enum CredentialSource {
    /// `url` with an `Authorization: Bearer` header, the token in the
    /// answer's `value` (the GitHub Actions runner's protocol, as
    /// `google-github-actions/auth` writes it).
    Url {
        /// The ID token URL, its audience in its query.
        url: Url,
        /// The bearer token of the `Authorization` header.
        bearer: Secret,
    },
    /// `file`: a path whose whole text is the ID token.
    File(String),
}

/// Reads an external-account JSON (`text`, from the file `field` names).
pub fn external_account(field: &str, text: &[u8]) -> Result<ExternalAccount> {
    let bad = |why: &str| invalid(field, format!("is not a usable external-account JSON: {why}"));
    let json = Object::parse(text).map_err(|e| bad(&e.to_string()))?;
    let string = |key: &str| json.str(key).ok().flatten();
    match string("type") {
        Some("external_account") => {}
        Some("service_account") => {
            return Err(invalid(
                field,
                "holds a service account key, a long-lived private key: use Workload Identity Federation \
                 (an external_account JSON) or GOOGLE_OAUTH_ACCESS_TOKEN",
            ));
        }
        _ => return Err(bad("its type is not external_account")),
    }
    // The ID token and the federated token travel to these: Google's own
    // hosts only (or loopback, a stand-in), as Google's libraries check.
    let url = |key: &str, value: &str, service: &str| {
        let url = Url::parse(value).and_then(Url::secure).map_err(|rule| bad(&format!("{key} {rule}")))?;
        if url.is_loopback() || is_google_host(url.host(), service) {
            return Ok(url);
        }
        Err(bad(&format!("{key} must be a {service} host of googleapis.com")))
    };
    let token_url = url("token_url", string("token_url").unwrap_or(DEFAULT_TOKEN_URL), "sts")?;
    let impersonation = string("service_account_impersonation_url")
        .map(|u| url("service_account_impersonation_url", u, "iamcredentials"))
        .transpose()?;
    let audience = string("audience").ok_or_else(|| bad("it has no audience"))?.to_owned();
    let subject_token_type = string("subject_token_type").unwrap_or(JWT_TOKEN_TYPE).to_owned();
    let source = json.value("credential_source").ok_or_else(|| bad("it has no credential_source"))?;
    let text = |key: &str| source.get(key).and_then(|v| v.as_str());
    let format = source.get("format");
    let format_type = format.and_then(|f| f.get("type")).and_then(|t| t.as_str()).unwrap_or("text");
    let field_name = format.and_then(|f| f.get("subject_token_field_name")).and_then(|t| t.as_str());
    let source = match (text("url"), text("file")) {
        (Some(token_url), None) => {
            if format_type != "json" || field_name != Some("value") {
                return Err(bad("a url credential_source must answer JSON with the token in `value`"));
            }
            let bearer = source
                .get("headers")
                .and_then(|h| h.get("Authorization").or_else(|| h.get("authorization")))
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
                .ok_or_else(|| bad("a url credential_source needs an Authorization: Bearer header"))?;
            let url = Url::parse_with_query(token_url)
                .and_then(Url::secure)
                .map_err(|rule| bad(&format!("credential_source.url {rule}")))?;
            CredentialSource::Url { url, bearer: Secret::new(bearer) }
        }
        (None, Some(path)) if format_type == "text" => CredentialSource::File(path.to_owned()),
        (None, Some(_)) => return Err(bad("a file credential_source must hold the token as text")),
        _ => return Err(bad("its credential_source must have one of url and file")),
    };
    Ok(ExternalAccount { audience, token_url, subject_token_type, impersonation, source })
}

/// Whether `host` is one of Google's hosts for `service` (`sts`,
/// `iamcredentials`): `sts.googleapis.com`, or a regional or private one
/// whose first label names the service (`sts.europe-west1.rep.googleapis.com`,
/// `europe-west1-sts.googleapis.com`).
fn is_google_host(host: &str, service: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let first = host.split('.').next().unwrap_or_default();
    host.ends_with(".googleapis.com")
        && (first == service
            || first.ends_with(&format!("-{service}"))
            || first.starts_with(&format!("{service}-")))
}

/// The STS token exchange of the ID token `jwt` for a federated token.
pub fn exchange_request(federation: &Federation, jwt: &Secret) -> Request {
    crate::oauth::token_request(
        Service::GoogleSts,
        &federation.token_url,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:token-exchange"),
            ("audience", &federation.audience),
            ("scope", CLOUD_PLATFORM),
            ("requested_token_type", "urn:ietf:params:oauth:token-type:access_token"),
            ("subject_token", jwt.expose()),
            ("subject_token_type", &federation.subject_token_type),
        ],
    )
}

/// The federated token from STS's answer.
pub fn read_exchange(federation: &Federation, response: &Response, jwt: &Secret) -> Result<Secret> {
    let hint = "the workload identity provider must accept this token: its issuer, its audience \
                (https://iam.googleapis.com/PROVIDER unless the provider lists others) and its attribute condition";
    crate::oauth::read_access_token(Service::GoogleSts, &federation.token_url, response, &[jwt], hint)
}

/// The request for a service account's access token, with the federated one.
pub fn impersonation_request(url: &Url, federated: &Secret) -> Request {
    let body = serde_json::json!({ "scope": [CLOUD_PLATFORM], "lifetime": "600s" });
    request(Service::GoogleIam, Method::Post, url.clone(), federated, Some(body))
}

/// The service account's access token from `generateAccessToken`'s answer.
pub fn read_impersonation(url: &Url, response: &Response, federated: &Secret) -> Result<Secret> {
    if !response.is_success() {
        let mut error = errors::service_error(response, Service::GoogleIam, &[federated]);
        error.hint = crate::oauth::refused(response).then(|| {
            "the federated principal needs roles/iam.workloadIdentityUser on the service account \
             (GOOGLE_SERVICE_ACCOUNT)"
                .into()
        });
        return Err(Error::Sts(error));
    }
    let not_expected = |what: String| malformed(Service::GoogleIam, url, response, &[federated], what);
    let answer =
        Object::parse(&response.body).map_err(|e| not_expected(format!("generateAccessToken: {e}")))?;
    let token =
        answer.required_str("accessToken").map_err(|e| not_expected(format!("generateAccessToken: {e}")))?;
    if token.is_empty() || token.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err(not_expected("the accessToken is not a token".into()));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests;
