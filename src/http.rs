//! HTTP requests and responses as plain data, and the [`Transport`] that sends them.
//!
//! Nothing here does I/O: [`crate::wasi_http`] implements [`Transport`] with
//! `wasi:http`, and tests may implement it with anything that answers.

use crate::error::{Result, Service};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: for local stand-ins and VPC endpoints behind a proxy.
    Http,
    /// HTTPS.
    Https,
}

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

    /// The path, `/` when empty (as a request line needs).
    pub fn path_or_root(&self) -> &str {
        if self.path.is_empty() { "/" } else { &self.path }
    }
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
/// `x-amz-security-token`), so it has no `Debug`.
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
}

/// An answer: status, headers and the whole body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
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
