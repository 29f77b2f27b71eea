//! HTTP requests and responses as plain data, and the [`Transport`] that sends them.
//!
//! Nothing here does I/O: [`crate::wasi_http`] implements [`Transport`] with
//! `wasi:http`, and tests may implement it with anything that answers.

use zeroize::Zeroize;

use crate::error::{Result, Service};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: only to loopback hosts (see [`Url::is_secure`]).
    Http,
    /// HTTPS.
    Https,
}

/// The rule [`Url::secure`] enforces, in words.
pub const INSECURE: &str = "must be https:// (http:// only to a loopback host: localhost, 127.0.0.1, [::1])";

/// An absolute URL: scheme, authority and a path (which may carry a query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Url {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// `host[:port]`.
    pub authority: String,
    /// Empty or starting with `/`; never ends with `/` for a base URL.
    pub path: String,
}

impl Url {
    /// Parses a base URL such as `https://api.github.com` or
    /// `http://127.0.0.1:8080/api/v3`. Returns the rule broken on failure.
    ///
    /// User info (`user:pass@`), queries and fragments are refused: a base
    /// URL has no place for them, and credentials in a URL leak into logs.
    pub fn parse(text: &str) -> Result<Url, &'static str> {
        let (scheme, rest) = if let Some(rest) = text.strip_prefix("https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = text.strip_prefix("http://") {
            (Scheme::Http, rest)
        } else {
            return Err("must start with https:// or http://");
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            return Err("must name a host");
        }
        if !valid_authority(authority) {
            return Err("must have a host name or IP address and an optional numeric :port (no user info)");
        }
        if path.contains(['?', '#']) || path.bytes().any(|b| b <= b' ' || b >= 0x7f) {
            return Err("must not have a query, a fragment or spaces");
        }
        Ok(Url { scheme, authority: authority.to_owned(), path: path.trim_end_matches('/').to_owned() })
    }

    /// Parses an absolute URL that may carry a query (such as the GitHub
    /// Actions ID token URL); the query is kept in `path`.
    pub fn parse_with_query(text: &str) -> Result<Url, &'static str> {
        let (base, query) = match text.split_once('?') {
            Some((base, query)) => (base, Some(query)),
            None => (text, None),
        };
        let mut url = Url::parse(base)?;
        if let Some(query) = query {
            if query.bytes().any(|b| b <= b' ' || b >= 0x7f || b == b'#') {
                return Err("must not have spaces or a fragment in its query");
            }
            url.path = format!("{}?{query}", url.path_or_root());
        }
        Ok(url)
    }

    /// This URL with `name=value` added to its query (the value percent-encoded).
    pub fn with_query_param(&self, name: &str, value: &str) -> Url {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        Url {
            path: format!("{}{separator}{name}={}", self.path_or_root(), percent_encode(value)),
            ..self.clone()
        }
    }

    /// This base URL with `path` (starting with `/`) appended.
    pub fn join(&self, path: &str) -> Url {
        Url { path: format!("{}{path}", self.path), ..self.clone() }
    }

    /// `scheme://authority`: what errors name (a path could carry names).
    pub fn endpoint(&self) -> String {
        let scheme = match self.scheme {
            Scheme::Http => "http",
            Scheme::Https => "https",
        };
        format!("{scheme}://{}", self.authority)
    }

    /// The host, without the port (`[::1]` keeps its brackets).
    pub fn host(&self) -> &str {
        match self.authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => host,
            _ => &self.authority,
        }
    }

    /// Whether the host is a loopback address: `localhost`, `127.0.0.0/8`
    /// or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let host = self.host();
        host.eq_ignore_ascii_case("localhost")
            || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
            || host == "[::1]"
    }

    /// Whether a credential may travel to this URL: `https://`, or plain
    /// `http://` to a loopback host (a local stand-in or a sidecar proxy),
    /// never across a network.
    pub fn is_secure(&self) -> bool {
        self.scheme == Scheme::Https || self.is_loopback()
    }

    /// This URL if [`Url::is_secure`], else the rule it breaks. Every
    /// endpoint the component sends a credential, a token or a signed
    /// request to passes here.
    pub fn secure(self) -> Result<Url, &'static str> {
        if self.is_secure() { Ok(self) } else { Err(INSECURE) }
    }

    /// The path, `/` when empty (as a request line needs).
    pub fn path_or_root(&self) -> &str {
        if self.path.is_empty() { "/" } else { &self.path }
    }
}

/// Seconds since the Unix epoch of an HTTP `Date` (`Wed, 25 Nov 2026
/// 21:00:00 GMT`); `None` for anything else, a year past 9999 included.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(std::time::UNIX_EPOCH).ok().map(|since| since.as_secs())
}

/// `text` with every byte but RFC 3986's unreserved ones percent-encoded,
/// as query strings and form bodies need.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `host[:port]` or `[ipv6][:port]`: no user info, a port below 65536.
fn valid_authority(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ipv6) => {
            !ipv6.is_empty() && ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        }
        None => !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)),
    };
    let port_ok =
        |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok();
    host_ok && port.is_none_or(port_ok)
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.endpoint(), self.path_or_root())
    }
}

/// The methods this component uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `DELETE`
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
    /// The method.
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
    /// The body.
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

impl Response {
    /// The request id to quote to support: AWS's `x-amzn-requestid` or
    /// GitHub's `x-github-request-id`, as `service` names it.
    pub fn request_id(&self, service: Service) -> Option<&str> {
        self.header(match service {
            Service::Kms | Service::Sts => "x-amzn-requestid",
            Service::Github | Service::Oidc => "x-github-request-id",
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

/// A [`Transport`] for unit tests: answers from a script, in order, and
/// keeps what it was sent.
#[cfg(test)]
pub mod script {
    use std::cell::RefCell;
    use std::collections::VecDeque;

    use super::{Request, Response, Transport};
    use crate::error::Result;

    /// A request as the script saw it.
    #[derive(Clone, Debug)]
    pub struct Sent {
        /// `GET https://host/path`
        pub line: String,
        /// The headers.
        pub headers: Vec<(String, String)>,
        /// The body.
        pub body: Vec<u8>,
    }

    /// Answers in order; a request past the end of the script fails the test.
    #[derive(Default)]
    pub struct Script {
        answers: RefCell<VecDeque<Result<Response>>>,
        sent: RefCell<Vec<Sent>>,
    }

    impl Script {
        /// A script of `answers`.
        pub fn new(answers: impl IntoIterator<Item = Result<Response>>) -> Script {
            Script { answers: RefCell::new(answers.into_iter().collect()), sent: RefCell::default() }
        }

        /// Every request sent so far.
        pub fn sent(&self) -> Vec<Sent> {
            self.sent.borrow().clone()
        }

        /// The request lines sent so far (`GET https://host/path`).
        pub fn lines(&self) -> Vec<String> {
            self.sent.borrow().iter().map(|s| s.line.clone()).collect()
        }
    }

    impl Transport for Script {
        fn send(&self, request: Request) -> Result<Response> {
            let line = format!("{} {}", request.method.as_str(), request.url);
            let answer = self.answers.borrow_mut().pop_front();
            self.sent.borrow_mut().push(Sent {
                line: line.clone(),
                headers: request.headers.clone(),
                body: request.body.clone(),
            });
            answer.unwrap_or_else(|| panic!("no answer scripted for {line}"))
        }
    }

    /// An answer with `status`, `headers` and `body`.
    pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response> {
        let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        Ok(Response { status, headers, body: body.into(), attempts: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_base_urls() {
        let u = Url::parse("https://ghe.example.com/api/v3/").unwrap();
        assert_eq!(
            (u.scheme, u.authority.as_str(), u.path.as_str()),
            (Scheme::Https, "ghe.example.com", "/api/v3")
        );
        assert_eq!(u.join("/app").to_string(), "https://ghe.example.com/api/v3/app");
        assert_eq!(u.endpoint(), "https://ghe.example.com");
        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(local.to_string(), "http://127.0.0.1:8080/");
        assert!(Url::parse("http://[::1]:9000").is_ok());
    }

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date("Wed, 25 Nov 2026 21:00:00 GMT"), Some(1_795_640_400));
        assert_eq!(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date("Sat, 29 Feb 2020 12:30:15 GMT"), Some(1_582_979_415));
        for bad in [
            "",
            "yesterday",
            "Wed, 25 Nov 2026 21:00:00 PST",
            "Wed, 32 Nov 2026 21:00:00 GMT",
            "Wed, 25 Foo 2026 21:00:00 GMT",
            "Thu, 25 Nov 2026 21:00:00 GMT",
            "Wed, 25 Nov 275760 21:00:00 GMT",
            "Wed, 25 Nov 18446744073709551615 21:00:00 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls_with_queries() {
        let u = Url::parse_with_query("https://pipelines.example/idtoken?api-version=2.0").unwrap();
        assert_eq!(
            u.with_query_param("audience", "sts.amazonaws.com").to_string(),
            "https://pipelines.example/idtoken?api-version=2.0&audience=sts.amazonaws.com"
        );
        let bare = Url::parse_with_query("http://127.0.0.1:9").unwrap();
        assert_eq!(bare.with_query_param("a", "x y/z").to_string(), "http://127.0.0.1:9/?a=x%20y%2Fz");
        assert!(Url::parse_with_query("https://h/p?a b").is_err());
        assert_eq!(percent_encode("a+b=c&d"), "a%2Bb%3Dc%26d");
    }

    #[test]
    fn refuses_what_a_base_url_cannot_be() {
        for bad in [
            "api.github.com",
            "ftp://x",
            "https://",
            "https:///path",
            "https://user:pw@host",
            "https://host:port",
            "https://host:70000",
            "https://host/?q=1",
            "https://host/a b",
            "https://ho st",
            "http://::1",
            "http://ho[st",
            "http://a]b",
            "http://[::1]x",
            "http://host:",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
