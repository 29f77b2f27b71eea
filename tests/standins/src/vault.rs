//! A stand-in of HashiCorp Vault (and OpenBao): Transit's keys and
//! signatures, and the JWT auth method's login. It checks what Vault checks:
//! the `X-Vault-Token` header against the tokens it issued and their
//! policies, the `X-Vault-Namespace` header, the mount paths, and the ID
//! token's RS256 signature, issuer and audience at login. It signs the way
//! Transit does, with a real RSA key: hashing the input again unless
//! `prehashed`, and with PSS unless `signature_algorithm` is `pkcs1v15`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::github::verify_rs256;
use crate::keystore::Recorder;
use crate::server::{Request, Response, Server};
use crate::{random_hex, time};

/// The name of the key holding the App's private key.
pub const KEY: &str = "github-app";
/// An ECDSA key in the same mount: it signs, but not RS256.
pub const EC_KEY: &str = "ec-key";
/// The JWT auth method's role the stand-in admits the runner's identity to.
pub const ROLE: &str = "github-app-signer";

/// An error to answer with instead of signing: status and Vault's `errors`.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// Vault's `errors` list.
    pub errors: Vec<String>,
}

/// What a token may do: Transit's capabilities on the App's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// `read` on `MOUNT/keys/KEY`.
    pub read: bool,
    /// `update` on `MOUNT/sign/KEY/sha2-256`.
    pub sign: bool,
}

/// Who may log in with an ID token: the JWT auth method's role.
#[derive(Clone, Debug)]
pub struct Trust {
    /// `bound_issuer`: the ID token's `iss`.
    pub issuer: String,
    /// The issuer's key, as Vault's `jwks_url` would give it.
    pub public_key: RsaPublicKey,
    /// `bound_audiences`.
    pub audience: String,
}

struct State {
    namespace: Option<String>,
    transit_mount: String,
    auth_mount: String,
    keys: BTreeMap<String, (String, RsaPrivateKey)>,
    /// What signs in place of the App's key when set: a wrong key.
    trust: Trust,
    tokens: Mutex<BTreeMap<String, Policy>>,
    recorder: Recorder<Fault>,
    logins: AtomicUsize,
}

/// A running Vault stand-in.
pub struct Vault {
    server: Server,
    state: Arc<State>,
}

impl Vault {
    /// Starts a Vault holding `key` as `github-app` (rsa-2048) under
    /// `transit_mount`, in `namespace` if any, with the JWT auth method at
    /// `auth_mount` trusting `trust`.
    pub fn start(
        key: RsaPrivateKey,
        namespace: Option<&str>,
        transit_mount: &str,
        auth_mount: &str,
        trust: Trust,
    ) -> Vault {
        // Its public half is shown, never used: the type says it is not RSA.
        let ec = crate::issuer_key();
        let keys = BTreeMap::from([
            (KEY.to_owned(), ("rsa-2048".to_owned(), key)),
            (EC_KEY.to_owned(), ("ecdsa-p256".to_owned(), ec)),
        ]);
        let state = Arc::new(State {
            namespace: namespace.map(str::to_owned),
            transit_mount: transit_mount.to_owned(),
            auth_mount: auth_mount.to_owned(),
            keys,
            trust,
            tokens: Mutex::new(BTreeMap::new()),
            recorder: Recorder::default(),
            logins: AtomicUsize::new(0),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        Vault { server, state }
    }

    /// A new token with `policy`, as `vault token create` makes one.
    pub fn token(&self, policy: Policy) -> String {
        let token = format!("hvs.{}", random_hex(24));
        crate::remember(&token);
        self.state.tokens.lock().unwrap().insert(token.clone(), policy);
        token
    }

    /// The HTTP server underneath, for [`crate::server::Wire`] faults and request counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// `http://127.0.0.1:PORT`, for `VAULT_ADDR`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.server.authority()
    }

    /// How many logins succeeded.
    pub fn logins(&self) -> usize {
        self.state.logins.load(Ordering::SeqCst)
    }
}

impl std::ops::Deref for Vault {
    type Target = Recorder<Fault>;

    fn deref(&self) -> &Recorder<Fault> {
        &self.state.recorder
    }
}

/// Vault's error answer.
fn errors(status: u16, errors: &[&str]) -> Response {
    Response::json(status, "application/json", &json!({ "errors": errors }))
}

fn denied() -> Response {
    errors(403, &["1 error occurred:\n\t* permission denied\n\n"])
}

fn ok(data: Value) -> Response {
    let body = json!({"request_id": random_hex(16), "lease_id": "", "renewable": false, "data": data});
    Response::json(200, "application/json", &body)
}

fn handle(state: &State, request: &Request) -> Response {
    state.recorder.saw(request);
    if request.header("x-vault-request") != Some("true") {
        return errors(412, &["missing 'X-Vault-Request' header"]);
    }
    if request.header("x-vault-namespace") != state.namespace.as_deref() {
        // Another namespace has no such mount, and no such token.
        return denied();
    }
    let path = request.path().to_owned();
    let Some(path) = path.strip_prefix("/v1/") else { return errors(404, &[]) };
    if let Some(role) = path.strip_prefix(&format!("auth/{}/", state.auth_mount)) {
        return match (request.method.as_str(), role) {
            ("POST", "login") => login(state, request),
            _ => errors(405, &[]),
        };
    }
    let Some(rest) = path.strip_prefix(&format!("{}/", state.transit_mount)) else {
        return errors(404, &[&format!("no handler for route \"{path}\". route entry not found.")]);
    };
    let policy = match request
        .header("x-vault-token")
        .and_then(|t| state.tokens.lock().unwrap().get(t).copied())
    {
        Some(policy) => policy,
        None => return errors(403, &["2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"]),
    };
    if let Some(fault) = state.recorder.fault() {
        let list: Vec<&str> = fault.errors.iter().map(String::as_str).collect();
        return errors(fault.status, &list);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["keys", name]) if policy.read => describe(state, name),
        ("POST", ["sign", name, "sha2-256"]) if policy.sign => sign(state, name, &request.body),
        ("GET", ["keys", _]) | ("POST", ["sign", _, _]) => denied(),
        _ => errors(405, &[]),
    }
}

fn describe(state: &State, name: &str) -> Response {
    let Some((kind, key)) = state.keys.get(name) else { return errors(404, &[]) };
    let pem = key.to_public_key().to_public_key_pem(LineEnding::LF).expect("a PEM");
    ok(json!({
        "name": name, "type": kind, "latest_version": 1, "min_decryption_version": 1,
        "supports_signing": true, "exportable": false,
        "keys": {"1": {"name": kind, "public_key": pem, "creation_time": time::rfc3339(time::now())}},
    }))
}

fn sign(state: &State, name: &str, body: &[u8]) -> Response {
    let Some((kind, key)) = state.keys.get(name) else { return errors(400, &["signing key not found"]) };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return errors(400, &["failed to parse JSON input"]);
    };
    let Some(input) = body["input"].as_str().and_then(|i| STANDARD.decode(i).ok()) else {
        return errors(400, &["unable to decode input as base64"]);
    };
    if body["key_version"].as_u64().is_some_and(|v| v != 1) {
        return errors(400, &["requested version for signing does not exist"]);
    }
    // As Transit does: the input is hashed unless it is said to be a digest.
    let prehashed = body["prehashed"].as_bool().unwrap_or(false);
    if prehashed && input.len() != 32 {
        return errors(400, &["input must be a SHA2-256 digest when prehashed"]);
    }
    let digest = if prehashed { input } else { Sha256::digest(&input).to_vec() };
    let signer = state.recorder.signer(key);
    let signature = match (kind.as_str(), body["signature_algorithm"].as_str().unwrap_or("pss")) {
        (kind, _) if !kind.starts_with("rsa-") => {
            // An ECDSA signature is 64 bytes (r || s); a random one stands in.
            rand::random::<[u8; 32]>().iter().chain(&rand::random::<[u8; 32]>()).copied().collect()
        }
        (_, "pkcs1v15") => signer.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).expect("signs"),
        (_, "pss") => {
            signer.sign_with_rng(&mut rand::thread_rng(), Pss::new::<Sha256>(), &digest).expect("signs")
        }
        (_, other) => return errors(400, &[&format!("unsupported signature algorithm {other}")]),
    };
    state.recorder.signed_one();
    ok(json!({"signature": format!("vault:v1:{}", STANDARD.encode(signature)), "key_version": 1}))
}

fn login(state: &State, request: &Request) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return errors(400, &["failed to parse JSON input"]);
    };
    let jwt = body["jwt"].as_str().unwrap_or_default();
    crate::remember(jwt);
    if body["role"] != ROLE {
        return errors(
            400,
            &[&format!("role {:?} could not be found", body["role"].as_str().unwrap_or_default())],
        );
    }
    let trust = &state.trust;
    let Some(claims) = verify_rs256(&trust.public_key, jwt) else {
        return errors(400, &["error validating token: failed to verify id token signature"]);
    };
    if claims["iss"] != trust.issuer.as_str() {
        return errors(400, &["error validating token: invalid issuer (iss) claim"]);
    }
    if claims["aud"] != trust.audience.as_str() {
        return errors(400, &["error validating token: invalid audience (aud) claim"]);
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= time::now()) {
        return errors(400, &["error validating token: token is expired (exp)"]);
    }
    let token = format!("hvs.{}", random_hex(24));
    crate::remember(&token);
    state.tokens.lock().unwrap().insert(token.clone(), Policy { read: true, sign: true });
    state.logins.fetch_add(1, Ordering::SeqCst);
    let auth = json!({"client_token": token, "accessor": random_hex(12), "policies": ["github-app-signer"],
                      "lease_duration": 600, "renewable": true});
    Response::json(200, "application/json", &json!({"request_id": random_hex(16), "auth": auth}))
}
