//! HashiCorp Vault and OpenBao (the same HTTP API), pure: error answers
//! ([`errors`]), where a Vault token comes from and the JWT login
//! ([`login`]), and a Transit key, its public half and its signatures
//! ([`transit`]).

pub mod errors;
pub mod login;
pub mod transit;

use crate::error::Service;
use crate::net::http::{Method, Request};
use crate::net::url::Url;
use crate::secret::Secret;

/// Where Vault is: its address (`VAULT_ADDR`) and, for Vault Enterprise
/// and HCP Vault, the namespace (`VAULT_NAMESPACE`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// `https://vault.example.com:8200`; plain `http://` to loopback only.
    pub address: Url,
    /// Sent as `X-Vault-Namespace`.
    pub namespace: Option<String>,
}

/// A request to Vault's API at `/v1/{path}`, with the token if there is one.
fn request(server: &Server, method: Method, path: &str, token: Option<&Secret>, body: Vec<u8>) -> Request {
    let mut headers = vec![
        ("accept".to_owned(), "application/json".to_owned()),
        // Vault's guard against requests forged by a browser.
        ("x-vault-request".to_owned(), "true".to_owned()),
        ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
    ];
    if !body.is_empty() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    if let Some(namespace) = &server.namespace {
        headers.push(("x-vault-namespace".to_owned(), namespace.clone()));
    }
    if let Some(token) = token {
        headers.push(("x-vault-token".to_owned(), token.expose().to_owned()));
    }
    let url = server.address.join(&format!("/v1/{path}"));
    Request { service: Service::Vault, method, url, headers, body, retry: true }
}

/// Whether `path` is a Vault mount path or namespace: segments of letters,
/// digits, `-`, `_` and `.` (not `.` or `..`), joined by `/`.
pub fn is_path(path: &str) -> bool {
    (1..=256).contains(&path.len())
        && path.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_segments_of_safe_characters() {
        for good in ["transit", "team-a/transit", "jwt_github", "admin/team.b"] {
            assert!(is_path(good), "{good}");
        }
        for bad in ["", "/transit", "transit/", "a//b", "..", "a/../b", "tran sit", "a?b", "a%2fb"] {
            assert!(!is_path(bad), "{bad}");
        }
    }

    #[test]
    fn requests_carry_the_namespace_and_the_token() {
        let server = Server {
            address: Url::parse("https://vault.example.com:8200").unwrap(),
            namespace: Some("admin/team-a".into()),
        };
        let request = request(&server, Method::Get, "transit/keys/app", Some(&Secret::new("hvs.x")), vec![]);
        assert_eq!(request.url.to_string(), "https://vault.example.com:8200/v1/transit/keys/app");
        let header = |name: &str| request.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(header("x-vault-namespace"), Some("admin/team-a"));
        assert_eq!(header("x-vault-token"), Some("hvs.x"));
        assert_eq!(header("x-vault-request"), Some("true"));
        assert_eq!(header("content-type"), None, "no body");
    }
}
