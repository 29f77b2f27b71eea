//! URLs as the component uses them: absolute, with a scheme it allows,
//! an authority and a path; and the two encodings and the date format that
//! requests and answers need. No I/O.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// `http` or `https`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP: only to loopback hosts (see [`Url::is_secure`]).
    Http,
    /// Everything else.
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
    ///
    /// ```
    /// use github_app_kms_token::net::url::Url;
    ///
    /// let ghes = Url::parse("https://ghe.example.com/api/v3/").unwrap();
    /// assert_eq!(ghes.join("/app").to_string(), "https://ghe.example.com/api/v3/app");
    /// assert!(Url::parse("https://user:pw@ghe.example.com").is_err());
    /// assert!(Url::parse("http://ghe.example.com").unwrap().secure().is_err());
    /// assert!(Url::parse("http://127.0.0.1:8080").unwrap().secure().is_ok());
    /// ```
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

/// RFC 3986's unreserved characters stay as they are; every other byte is
/// percent-encoded.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// `text` with every byte but RFC 3986's unreserved ones percent-encoded,
/// as a query parameter needs.
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, NOT_UNRESERVED).to_string()
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
