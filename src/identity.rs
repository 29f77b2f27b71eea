//! The workload's identity: the OIDC ID token that every keyless
//! credential is exchanged for (AWS STS, Google STS, Entra ID, Vault's JWT
//! login), where it comes from, and the GitHub Actions runner's request
//! for it.
//!
//! `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with
//! `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the JWT is in `.value`.

use crate::error::{Error, Result, Service, ServiceError};
use crate::json::Object;
use crate::net::http::{Method, Request, Response, Transport, malformed};
use crate::net::url::Url;
use crate::secret::Secret;

/// Where the workload's ID token comes from.
#[derive(Debug)]
pub enum IdentityToken {
    /// The GitHub Actions runner's OIDC token endpoint.
    GithubActions {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        request_url: Url,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        request_token: Secret,
        /// The ID token's audience: the one the exchange expects (`None`:
        /// the runner's default, the repository owner's URL).
        audience: Option<String>,
    },
    /// The token itself, as the host handed it over (a Kubernetes projected
    /// token's file, EKS IRSA's, say).
    Given(Secret),
}

impl IdentityToken {
    /// The ID token: the one given, or one fetched from the runner.
    pub fn fetch(&self, http: &impl Transport) -> Result<Secret> {
        match self {
            IdentityToken::GithubActions { request_url, request_token, audience } => {
                let response =
                    http.send(id_token_request(request_url, request_token, audience.as_deref()))?;
                read_id_token(request_url, &response, request_token)
            }
            IdentityToken::Given(token) => Ok(token.clone()),
        }
    }
}

/// The request for an ID token with `audience` (`None`: the runner's default).
pub fn id_token_request(url: &Url, request_token: &Secret, audience: Option<&str>) -> Request {
    Request {
        service: Service::Oidc,
        method: Method::Get,
        url: match audience {
            Some(audience) => url.with_query_param("audience", audience),
            None => url.clone(),
        },
        headers: vec![
            ("authorization".to_owned(), format!("bearer {}", request_token.expose())),
            ("accept".to_owned(), "application/json".to_owned()),
            ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
        ],
        body: Vec::new(),
        retry: true,
    }
}

/// The ID token from the answer. A refusal is `credentials-rejected`: the
/// runner's identity is the credential here.
pub fn read_id_token(url: &Url, response: &Response, request_token: &Secret) -> Result<Secret> {
    if !response.is_success() {
        let body = String::from_utf8_lossy(&response.body);
        let message = format!("the GitHub Actions OIDC endpoint refused the ID token request: {body}");
        let mut error = ServiceError::quoted(response, Service::Oidc, None, &message, &[request_token]);
        error.hint = Some("the job needs `permissions: id-token: write`".to_owned());
        return Err(Error::CredentialsRejected(error));
    }
    let answer = Object::parse(&response.body).ok();
    let value = answer.as_ref().and_then(|a| a.str("value").ok().flatten()).ok_or_else(|| {
        malformed(Service::Oidc, url, response, &[request_token], "the ID token answer has no string `value`")
    })?;
    if value.split('.').count() != 3 {
        return Err(malformed(Service::Oidc, url, response, &[request_token], "the ID token is not a JWT"));
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_with_the_audience_and_reads_the_value() {
        let url = Url::parse_with_query("https://pipelines.example/idtoken?api-version=2.0").unwrap();
        let req = id_token_request(&url, &Secret::new("rt"), Some("sts.amazonaws.com"));
        assert_eq!(
            req.url.to_string(),
            "https://pipelines.example/idtoken?api-version=2.0&audience=sts.amazonaws.com"
        );
        assert_eq!(req.headers[0], ("authorization".to_owned(), "bearer rt".to_owned()));
        let default = id_token_request(&url, &Secret::new("rt"), None);
        assert_eq!(default.url.to_string(), "https://pipelines.example/idtoken?api-version=2.0");
        let ok = crate::net::script::answer(200, &[], r#"{"count":1,"value":"a.b.c"}"#).unwrap();
        assert_eq!(read_id_token(&url, &ok, &Secret::new("rt")).unwrap().expose(), "a.b.c");
        let refused = crate::net::script::answer(401, &[], "bad token rt").unwrap();
        let Err(Error::CredentialsRejected(e)) = read_id_token(&url, &refused, &Secret::new("rt")) else {
            panic!()
        };
        assert!(e.message.ends_with("bad token [redacted]"), "{}", e.message);
        let garbage = crate::net::script::answer(200, &[], "<html>").unwrap();
        assert!(matches!(
            read_id_token(&url, &garbage, &Secret::new("rt")),
            Err(Error::MalformedResponse(_))
        ));
    }
}
