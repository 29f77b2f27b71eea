//! A stand-in of Azure: Key Vault's keys API (a key, its `sign`) and
//! Microsoft Entra ID's token endpoint, on one server. It checks what
//! Azure checks: the `api-version`, the bearer token against those it
//! issued and their audience (a token for another resource is refused),
//! the key's version and `alg`; and at Entra ID the client id, the secret,
//! or the client assertion's RS256 signature, issuer, subject and audience
//! against the app registration's federated credential. Errors are Azure's
//! shapes, with `x-ms-request-id`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::github::verify_rs256;
use crate::keystore::Recorder;
use crate::server::{Request, Response, Server};
use crate::sts::form;
use crate::{random_hex, time};

/// The tenant.
pub const TENANT: &str = "contoso.onmicrosoft.com";
/// The app registration allowed to sign.
pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
/// The key holding the App's private key.
pub const KEY: &str = "github-app";
/// Its one version.
pub const VERSION: &str = "0123456789abcdef0123456789abcdef";
/// An EC key in the same vault.
pub const EC_KEY: &str = "ec-key";
/// The resource Key Vault's tokens are for.
pub const VAULT_RESOURCE: &str = "https://vault.azure.net";
/// The `api-version`s the stand-in knows.
const API_VERSIONS: &[&str] = &["7.4", "7.5", "7.6"];

/// An error to answer Key Vault requests with: status, code, message.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// Key Vault's error code, e.g. `Throttled`.
    pub code: String,
    /// The message.
    pub message: String,
}

/// The app registration's federated identity credential.
#[derive(Clone, Debug)]
pub struct Federated {
    /// Its issuer.
    pub issuer: String,
    /// The issuer's key.
    pub public_key: RsaPublicKey,
    /// Its subject, e.g. `repo:octo-org/widgets:ref:refs/heads/main`.
    pub subject: String,
}

/// What a token may do in the vault.
#[derive(Clone, Debug)]
struct Token {
    /// The resource it is for, e.g. `https://vault.azure.net`.
    audience: String,
    /// Whether its principal has the Key Vault Crypto User role.
    sign: bool,
}

struct State {
    secret: String,
    federated: Federated,
    keys: BTreeMap<String, (String, RsaPrivateKey)>,
    tokens: Mutex<BTreeMap<String, Token>>,
    recorder: Recorder<Fault>,
    issued: AtomicUsize,
    sign_role: AtomicBool,
    key_answer: Mutex<Option<String>>,
}

/// A running Azure stand-in.
pub struct Azure {
    server: Server,
    state: Arc<State>,
}

impl Azure {
    /// Starts Azure with `key` as [`KEY`] (RSA-HSM), the app registration
    /// [`CLIENT_ID`] proven by a fresh secret or by `federated`.
    pub fn start(key: RsaPrivateKey, federated: Federated) -> Azure {
        let keys = BTreeMap::from([
            (KEY.to_owned(), ("RSA-HSM".to_owned(), key)),
            (EC_KEY.to_owned(), ("EC-HSM".to_owned(), crate::issuer_key())),
        ]);
        let secret = format!("AzS~{}", random_hex(16));
        crate::remember(&secret);
        let state = Arc::new(State {
            secret,
            federated,
            keys,
            tokens: Mutex::new(BTreeMap::new()),
            recorder: Recorder::default(),
            issued: AtomicUsize::new(0),
            sign_role: AtomicBool::new(true),
            key_answer: Mutex::new(None),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        Azure { server, state }
    }

    /// The app registration's client secret.
    pub fn client_secret(&self) -> String {
        self.state.secret.clone()
    }

    /// Whether the app registration has the Key Vault Crypto User role on
    /// the key (from now on; it has by default).
    pub fn grant_sign(&self, granted: bool) {
        self.state.sign_role.store(granted, Ordering::SeqCst);
    }

    /// Answers every `GET /keys/…` with `body` (200) from now on (`None` heals).
    pub fn answer_key_with(&self, body: Option<&str>) {
        *self.state.key_answer.lock().unwrap() = body.map(str::to_owned);
    }

    /// `http://127.0.0.1:PORT`: the vault and `AZURE_AUTHORITY_HOST`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`, for `azurekms://127.0.0.1:PORT/KEY`.
    pub fn authority(&self) -> String {
        self.server.authority()
    }

    /// The HTTP server underneath.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Access tokens Entra ID issued.
    pub fn issued(&self) -> usize {
        self.state.issued.load(Ordering::SeqCst)
    }
}

impl std::ops::Deref for Azure {
    type Target = Recorder<Fault>;

    fn deref(&self) -> &Recorder<Fault> {
        &self.state.recorder
    }
}

fn issue(state: &State, audience: &str, sign: bool) -> String {
    // A JWT's shape, as Entra's tokens have; the stand-in knows its own.
    let token = format!("eyJ0eXAiOiJKV1QifQ.{}.{}", random_hex(16), random_hex(16));
    crate::remember(&token);
    state.tokens.lock().unwrap().insert(token.clone(), Token { audience: audience.to_owned(), sign });
    token
}

fn with_request_id(response: Response) -> Response {
    response.with_header("x-ms-request-id", random_hex(8))
}

/// Key Vault's error answer.
fn error(status: u16, code: &str, message: &str) -> Response {
    with_request_id(Response::json(
        status,
        "application/json",
        &json!({"error": {"code": code, "message": message}}),
    ))
}

fn handle(state: &State, request: &Request) -> Response {
    let path = request.path().to_owned();
    state.recorder.saw(request);
    if request.method == "POST" && path == format!("/{TENANT}/oauth2/v2.0/token") {
        return token(state, request);
    }
    let query = request.target.split_once('?').map_or("", |(_, q)| q);
    let version = query.split('&').find_map(|p| p.strip_prefix("api-version="));
    if !version.is_some_and(|v| API_VERSIONS.contains(&v)) {
        return error(
            400,
            "BadParameter",
            "The specified version is not recognized. Consider using the latest supported version.",
        );
    }
    let bearer = request.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let Some(token) = bearer.and_then(|t| state.tokens.lock().unwrap().get(t).cloned()) else {
        return error(401, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.");
    };
    if token.audience != VAULT_RESOURCE {
        return error(
            401,
            "Unauthorized",
            &format!("AKV10022: Invalid audience. Expected {VAULT_RESOURCE}, found: {}.", token.audience),
        );
    }
    if let Some(fault) = state.recorder.fault() {
        return error(fault.status, &fault.code, &fault.message);
    }
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let forbidden = || {
        with_request_id(Response::json(
            403,
            "application/json",
            &json!({"error": {"code": "Forbidden", "message": "Caller is not authorized to perform action on resource.",
                              "innererror": {"code": "ForbiddenByRbac"}}}),
        ))
    };
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["keys", ..]) if state.key_answer.lock().unwrap().is_some() => {
            let body = state.key_answer.lock().unwrap().clone().unwrap_or_default();
            with_request_id(Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            })
        }
        ("GET", ["keys", name]) | ("GET", ["keys", name, _]) => {
            let Some((kty, key)) = state.keys.get(*name) else {
                return error(
                    404,
                    "KeyNotFound",
                    &format!("A key with (name/id) {name} was not found in this key vault."),
                );
            };
            if segments.len() == 3 && segments[2] != VERSION {
                return error(
                    404,
                    "KeyNotFound",
                    &format!("A key with (name/id) {name}/{} was not found in this key vault.", segments[2]),
                );
            }
            let b64 = |n: &rsa::BigUint| URL_SAFE_NO_PAD.encode(n.to_bytes_be());
            let jwk = json!({"kid": format!("https://{}/keys/{name}/{VERSION}", request.header("host").unwrap_or("vault")),
                             "kty": kty, "key_ops": ["sign", "verify"], "n": b64(key.n()), "e": b64(key.e())});
            with_request_id(Response::json(
                200,
                "application/json",
                &json!({"key": jwk, "attributes": {"enabled": true}}),
            ))
        }
        ("POST", ["keys", name, version, "sign"]) => {
            if !token.sign {
                return forbidden();
            }
            sign(state, name, version, &request.body)
        }
        _ => error(404, "NotFound", "The requested resource was not found."),
    }
}

fn sign(state: &State, name: &str, version: &str, body: &[u8]) -> Response {
    let Some((kty, key)) = state.keys.get(name).filter(|_| version == VERSION) else {
        return error(
            404,
            "KeyNotFound",
            &format!("A key with (name/id) {name}/{version} was not found in this key vault."),
        );
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(400, "BadParameter", "Invalid JSON.");
    };
    if !kty.starts_with("RSA") || body["alg"] != "RS256" {
        return error(400, "BadParameter", "Key and signing algorithm are incompatible.");
    }
    let Some(digest) =
        body["value"].as_str().and_then(|v| URL_SAFE_NO_PAD.decode(v).ok()).filter(|d| d.len() == 32)
    else {
        return error(400, "BadParameter", "The value must be a SHA-256 digest, base64url.");
    };
    let signer = state.recorder.signer(key);
    let signature = signer.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).expect("signs");
    state.recorder.signed_one();
    let kid = format!("keys/{name}/{version}");
    with_request_id(Response::json(
        200,
        "application/json",
        &json!({"kid": kid, "value": URL_SAFE_NO_PAD.encode(signature)}),
    ))
}

/// Entra ID's OAuth error answer.
fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    let trace = random_hex(8);
    let body = json!({"error": error, "error_description": description, "error_codes": [], "trace_id": trace,
                      "correlation_id": random_hex(8)});
    Response::json(status, "application/json", &body).with_header("x-ms-request-id", trace)
}

fn token(state: &State, request: &Request) -> Response {
    let params = form(&request.body);
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    if param("grant_type") != "client_credentials" {
        return oauth_error(
            400,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    if param("client_id") != CLIENT_ID {
        return oauth_error(
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.",
        );
    }
    let Some(resource) = param("scope").strip_suffix("/.default") else {
        return oauth_error(
            400,
            "invalid_scope",
            "AADSTS1002012: The provided value for scope is not valid.",
        );
    };
    let proven = match (params.get("client_secret"), param("client_assertion_type")) {
        (Some(secret), _) => {
            crate::remember(secret);
            (secret == &state.secret)
                .then_some(())
                .ok_or("AADSTS7000215: Invalid client secret provided.".to_owned())
        }
        (None, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") => {
            assertion(&state.federated, param("client_assertion"))
        }
        _ => {
            Err("AADSTS7000218: The request body must contain client_assertion or client_secret.".to_owned())
        }
    };
    if let Err(why) = proven {
        return oauth_error(401, "invalid_client", &why);
    }
    state.issued.fetch_add(1, Ordering::SeqCst);
    let token = issue(state, resource, state.sign_role.load(Ordering::SeqCst));
    Response::json(
        200,
        "application/json",
        &json!({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                                     "access_token": token}),
    )
}

/// Whether `jwt` matches the federated identity credential.
fn assertion(federated: &Federated, jwt: &str) -> Result<(), String> {
    crate::remember(jwt);
    let claims =
        verify_rs256(&federated.public_key, jwt).ok_or("AADSTS50027: JWT token is invalid or malformed.")?;
    if claims["iss"] != federated.issuer.as_str() || claims["sub"] != federated.subject.as_str() {
        return Err(format!(
            "AADSTS700213: No matching federated identity record found for presented assertion subject '{}'.",
            claims["sub"].as_str().unwrap_or_default()
        ));
    }
    if claims["aud"] != "api://AzureADTokenExchange" {
        return Err(
            "AADSTS700212: No matching federated identity record found for presented assertion audience."
                .into(),
        );
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= time::now()) {
        return Err("AADSTS700024: Client assertion is not within its valid time range.".into());
    }
    Ok(())
}
