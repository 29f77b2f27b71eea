//! HTTP requests and responses as plain data, and the [`Transport`] that
//! sends them.
//!
//! Nothing here does I/O: [`crate::net::outgoing`] implements [`Transport`]
//! with `wasi:http`, and tests may implement it with anything that answers
//! ([`crate::net::script::Script`]).

use zeroize::Zeroize;

use crate::error::{Error, MalformedAnswer, Result, Service, ServiceError, TransportError};
use crate::net::url::Url;
use crate::secret::{Secret, plain, quote};

/// The methods this component uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Lookups, the runner's OIDC token, issuers' keys.
    Get,
    /// KMS, STS, and minting a token.
    Post,
    /// Revoking a token.
    Delete,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// An outgoing request. Header values may hold secrets (`authorization`,
/// `x-amz-security-token`), so it has no `Debug`. Cloned only to be sent again.
#[derive(Clone)]
pub struct Request {
    /// Which service it goes to: named in transport errors.
    pub service: Service,
    /// GET, POST or DELETE.
    pub method: Method,
    /// The absolute URL.
    pub url: Url,
    /// Header names (lower case) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body; empty for none.
    pub body: Vec<u8>,
    /// Whether a failure may be sent again: not for a fetch made on behalf
    /// of a caller who is not yet verified, whose cost must stay bounded.
    pub retry: bool,
}

/// An answer: status, headers and the whole body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The whole body, bounded in size by the transport.
    pub body: Vec<u8>,
    /// How many times the request was sent to get this answer.
    pub attempts: u32,
}

// Requests carry credentials (`authorization`, `x-amz-security-token`,
// bearer tokens) and answers carry tokens: neither copy outlives its use.
impl Drop for Request {
    fn drop(&mut self) {
        self.headers.iter_mut().for_each(|(_, value)| value.zeroize());
        self.body.zeroize();
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        self.body.zeroize();
    }
}

/// An AWS `__type` (`com.amazonaws.kms#NotFoundException`, perhaps with a
/// `:url` suffix) without its namespace and suffix.
pub fn aws_error_code(kind: &str) -> String {
    let code = kind.rsplit('#').next().unwrap_or(kind);
    code.split(':').next().unwrap_or(code).to_owned()
}

impl Response {
    /// The request id to quote to support, from a header: AWS's
    /// `x-amzn-requestid` or GitHub's `x-github-request-id`, as `service`
    /// names it.
    pub fn request_id(&self, service: Service) -> Option<&str> {
        self.header(match service {
            Service::Kms | Service::Sts => "x-amzn-requestid",
            Service::Github | Service::Oidc => "x-github-request-id",
            Service::KeyVault | Service::EntraId => "x-ms-request-id",
            // Vault puts its request id in the body; Google's APIs send none.
            Service::Vault | Service::GoogleKms | Service::GoogleSts | Service::GoogleIam => return None,
        })
    }

    /// The first value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Sends a request and returns the answer, whatever its status.
///
/// Errors are `transport` or `timeout` (no answer) or `malformed-response`
/// (an answer that could not be read, e.g. too large).
pub trait Transport {
    /// Sends `request`, waits for the whole answer.
    fn send(&self, request: Request) -> Result<Response>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send(&self, request: Request) -> Result<Response> {
        (**self).send(request)
    }
}

impl TransportError {
    /// An error about a first attempt at `url`; only its scheme and
    /// authority are kept.
    pub fn new(service: Service, url: &Url, message: impl Into<String>) -> Self {
        Self { service, endpoint: url.endpoint(), message: plain(&message.into()), attempts: 1 }
    }

    /// An error about a first attempt at sending `request`.
    pub fn of(request: &Request, message: impl Into<String>) -> Self {
        Self::new(request.service, &request.url, message)
    }
}

impl ServiceError {
    /// `service`'s error answer, every text of it quoted (see [`quote`])
    /// with `secrets` scrubbed: a service may echo what it was sent in any
    /// of them. The caller adds a hint and documentation URL where it has
    /// them.
    pub fn quoted(
        response: &Response,
        service: Service,
        code: Option<&str>,
        message: &str,
        secrets: &[&Secret],
    ) -> ServiceError {
        ServiceError {
            service,
            status: response.status,
            code: code.map(|code| quote(code, secrets)),
            message: quote(message, secrets),
            request_id: response.request_id(service).map(|id| quote(id, secrets)),
            documentation_url: None,
            hint: None,
            attempts: response.attempts,
        }
    }
}

/// A key the store holds that cannot sign an App JWT (not RSA, may not
/// sign, disabled): a `kms` error coded `UnsupportedKeyType`, `message`
/// naming the key (`secrets` scrubbed from what it quotes of the answer)
/// and `hint` saying how to import the App's key.
pub fn unsupported_key(
    service: Service,
    response: &Response,
    message: &str,
    hint: &str,
    secrets: &[&Secret],
) -> Error {
    let mut error = ServiceError::quoted(response, service, None, message, secrets);
    // The code is ours, not the answer's: nothing to scrub.
    error.code = Some("UnsupportedKeyType".to_owned());
    error.hint = Some(hint.to_owned());
    Error::Kms(error)
}

/// `response`, from `service` at `url`, did not have the expected shape:
/// `what` says how, and `secrets` (what the request carried) are scrubbed
/// from it and from the request id the answer gives.
pub fn malformed(
    service: Service,
    url: &Url,
    response: &Response,
    secrets: &[&Secret],
    what: impl Into<String>,
) -> Error {
    Error::MalformedResponse(MalformedAnswer {
        service,
        endpoint: url.endpoint(),
        status: response.status,
        request_id: response.request_id(service).map(|id| quote(id, secrets)),
        message: quote(&what.into(), secrets),
        attempts: response.attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_endpoint_and_the_attempts() {
        let url = Url::parse("https://api.github.com").unwrap();
        let mut e = Error::Timeout(TransportError::new(Service::Github, &url, "no answer in time"));
        e.set_attempts(3);
        assert_eq!(
            e.message(),
            "timed out waiting for GitHub at https://api.github.com: no answer in time (3 attempts)"
        );
        let answer = Response {
            status: 200,
            headers: vec![("x-github-request-id".into(), "GH:1".into())],
            body: b"<html>".to_vec(),
            attempts: 2,
        };
        let e = malformed(Service::Github, &url, &answer, &[], "not JSON");
        assert_eq!(e.attempts(), Some(2));
        assert_eq!(
            e.message(),
            "unexpected answer from GitHub at https://api.github.com (HTTP 200, request id GH:1): not JSON (2 attempts)"
        );
    }

    #[test]
    fn every_text_taken_from_an_answer_is_scrubbed() {
        let url = Url::parse("https://acme.vault.azure.net").unwrap();
        let token = Secret::new("eyJ0eXAi.access-token");
        let echo = format!("id {}", token.expose());
        let answer = Response {
            status: 403,
            headers: vec![("x-ms-request-id".into(), echo.clone())],
            body: vec![],
            attempts: 1,
        };
        let e = ServiceError::quoted(&answer, Service::KeyVault, Some(&echo), &echo, &[&token]);
        let texts = [e.code.clone(), Some(e.message.clone()), e.request_id.clone()];
        assert!(texts.iter().all(|t| t.as_deref() == Some("id [redacted]")), "{texts:?}");
        let e = unsupported_key(Service::KeyVault, &answer, &echo, "import an RSA key", &[&token]);
        assert!(
            !e.message().contains(token.expose()) && e.message().contains("UnsupportedKeyType"),
            "{}",
            e.message()
        );
        let e = malformed(Service::KeyVault, &url, &answer, &[&token], "not JSON");
        assert!(e.message().contains("request id id [redacted]"), "{}", e.message());
    }
}
