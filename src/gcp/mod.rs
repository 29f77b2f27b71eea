//! Google Cloud as the component uses it, pure: error answers
//! ([`errors`]), where an access token comes from and the exchanges that
//! get one (Workload Identity Federation: Google's STS, then perhaps a
//! service account's `generateAccessToken`) ([`credentials`]), and a Cloud
//! KMS key version, its public half and `asymmetricSign` ([`kms`]).

pub mod credentials;
pub mod errors;
pub mod kms;

use crate::error::Service;
use crate::net::http::{Method, Request};
use crate::net::url::Url;
use crate::secret::Secret;

/// The scope every access token is asked for (Cloud KMS accepts no narrower one).
pub const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A request to a Google API with `token` as its bearer; `body`, if any, as JSON.
fn request(
    service: Service,
    method: Method,
    url: Url,
    token: &Secret,
    body: Option<serde_json::Value>,
) -> Request {
    let mut headers = vec![
        ("authorization".to_owned(), format!("Bearer {}", token.expose())),
        ("accept".to_owned(), "application/json".to_owned()),
        ("user-agent".to_owned(), crate::USER_AGENT.to_owned()),
    ];
    let body = match body {
        Some(body) => {
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
            body.to_string().into_bytes()
        }
        None => Vec::new(),
    };
    Request { service, method, url, headers, body, retry: true }
}
