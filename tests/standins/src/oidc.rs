//! A stand-in of the GitHub Actions ID token endpoint: checks the bearer
//! request token and the audience, and issues an RS256 ID token.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::{Request, Response, Server};
use crate::{random_hex, time};

struct State {
    request_token: String,
    key: RsaPrivateKey,
    issuer: Mutex<String>,
    audiences: Mutex<Vec<String>>,
    key_fetches: AtomicUsize,
}

/// A running ID token endpoint.
pub struct Oidc {
    server: Server,
    state: Arc<State>,
}

impl Oidc {
    /// Starts an endpoint that accepts `request_token` and signs with `key`.
    pub fn start(request_token: &str, key: RsaPrivateKey) -> Oidc {
        let state = Arc::new(State {
            request_token: request_token.to_owned(),
            key,
            issuer: Mutex::new(String::new()),
            audiences: Mutex::new(Vec::new()),
            key_fetches: AtomicUsize::new(0),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        *state.issuer.lock().unwrap() = server.url();
        Oidc { server, state }
    }

    /// `ACTIONS_ID_TOKEN_REQUEST_URL`: with a query, as GitHub's is.
    pub fn request_url(&self) -> String {
        format!("{}/idtoken?api-version=2.0", self.server.url())
    }

    /// The `iss` of the tokens it issues.
    pub fn issuer(&self) -> String {
        self.server.url()
    }

    /// The audiences asked for so far.
    pub fn audiences(&self) -> Vec<String> {
        self.state.audiences.lock().unwrap().clone()
    }

    /// An ID token for `audience` as the endpoint would issue it (for token files).
    pub fn id_token(&self, audience: &str) -> String {
        id_token(&self.state, audience)
    }

    /// The claims of a workflow's ID token for `audience`, to change before [`Oidc::sign`].
    pub fn claims(&self, audience: &str) -> Value {
        workflow_claims(&self.issuer(), audience)
    }

    /// A JWT of `header` and `claims`, signed RS256 with the issuer's key.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign(&self.state.key, header, claims)
    }

    /// The issuer's key set, as its discovery document names it.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.issuer())
    }

    /// The server, for wire faults and request counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// How many times the discovery document was fetched.
    pub fn key_fetches(&self) -> usize {
        self.state.key_fetches.load(Ordering::SeqCst)
    }
}

/// The audience of an ID token asked for without one: the repository
/// owner's URL, as GitHub's runner gives it.
pub const DEFAULT_AUDIENCE: &str = "https://github.com/octo-org";

/// The `kid` of the stand-in's signing key.
pub const KID: &str = "stand-in";

/// The claims of a GitHub Actions ID token for `octo-org/widgets` on `main`.
fn workflow_claims(issuer: &str, audience: &str) -> Value {
    let now = time::now();
    json!({
        "iss": issuer,
        "aud": audience,
        "sub": "repo:octo-org/widgets:ref:refs/heads/main",
        "repository": "octo-org/widgets",
        "repository_owner": "octo-org",
        "ref": "refs/heads/main",
        "job_workflow_ref": "octo-org/widgets/.github/workflows/ci.yml@refs/heads/main",
        "jti": random_hex(8),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
    })
}

fn sign(key: &RsaPrivateKey, header: &Value, claims: &Value) -> String {
    let encode = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let input = format!("{}.{}", encode(header), encode(claims));
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes()).to_vec();
    let token = format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature));
    crate::remember(&token);
    token
}

fn id_token(state: &State, audience: &str) -> String {
    let claims = workflow_claims(&state.issuer.lock().unwrap(), audience);
    sign(&state.key, &json!({"alg": "RS256", "typ": "JWT", "kid": KID}), &claims)
}

fn handle(state: &State, request: &Request) -> Response {
    let error =
        |status, message: &str| Response::json(status, "application/json", &json!({ "message": message }));
    let issuer = state.issuer.lock().unwrap().clone();
    match (request.method.as_str(), request.path()) {
        ("GET", "/.well-known/openid-configuration") => {
            state.key_fetches.fetch_add(1, Ordering::SeqCst);
            return Response::json(
                200,
                "application/json",
                &json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") }),
            );
        }
        ("GET", "/jwks") => {
            let public = state.key.to_public_key();
            let b64 = |n: &rsa::BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
            let jwk = json!({ "kty": "RSA", "kid": KID, "use": "sig", "alg": "RS256", "n": b64(public.n()), "e": b64(public.e()) });
            return Response::json(200, "application/json", &json!({ "keys": [jwk] }));
        }
        ("GET", "/idtoken") => {}
        _ => return error(404, "not found"),
    }
    let presented = request.header("authorization").and_then(|a| {
        let (scheme, token) = a.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then_some(token)
    });
    if presented != Some(state.request_token.as_str()) {
        // Echoes what it was sent, as some servers do: clients must not pass it on.
        return error(401, &format!("bad request token {}", presented.unwrap_or_default()));
    }
    // Without one, the audience is the repository owner's URL, as GitHub's.
    let audience = request
        .target
        .split_once('?')
        .and_then(|(_, q)| q.split('&').find_map(|p| p.strip_prefix("audience=")))
        .map_or_else(|| DEFAULT_AUDIENCE.to_owned(), crate::sigv4::percent_decode);
    state.audiences.lock().unwrap().push(audience.clone());
    Response::json(200, "application/json", &json!({ "count": 1, "value": id_token(state, &audience) }))
}
