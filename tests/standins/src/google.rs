//! A stand-in of Google Cloud: Cloud KMS (a key version's `publicKey` and
//! `asymmetricSign`), the Security Token Service (Workload Identity
//! Federation's token exchange) and IAM Credentials (`generateAccessToken`),
//! on one server. It checks what Google checks: the bearer token against
//! the tokens it issued (or was given), the key version's resource name,
//! the digest's CRC32C, and at STS the ID token's RS256 signature, issuer
//! and audience and the provider named. Errors are Google's shapes:
//! `{"error": {"code", "status", "message"}}`, and OAuth's at STS.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::github::verify_rs256;
use crate::keystore::Recorder;
use crate::server::{Request, Response, Server};
use crate::sts::form;
use crate::{random_hex, time};

/// The key version holding the App's private key.
pub const KEY_VERSION: &str =
    "projects/acme-ci/locations/global/keyRings/github/cryptoKeys/app/cryptoKeyVersions/1";
/// An EC key version in the same key ring: it signs, but not RS256.
pub const EC_KEY_VERSION: &str =
    "projects/acme-ci/locations/global/keyRings/github/cryptoKeys/ec/cryptoKeyVersions/1";
/// The workload identity provider that trusts the stand-in issuer.
pub const PROVIDER: &str =
    "projects/123456789/locations/global/workloadIdentityPools/github/providers/actions";
/// The service account the federated identity may impersonate.
pub const SERVICE_ACCOUNT: &str = "github-app-signer@acme-ci.iam.gserviceaccount.com";

const CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// An error to answer Cloud KMS requests with: status, Google's status name, message.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// Google's `status`, e.g. `RESOURCE_EXHAUSTED`.
    pub name: String,
    /// The message.
    pub message: String,
}

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grant {
    /// Sign with the App's key and read its public half (the service account's, or a static token).
    Signer,
    /// A federated token: may impersonate the service account, no more.
    Federated,
    /// May read public keys, not sign.
    Viewer,
}

struct State {
    issuer: String,
    issuer_key: RsaPublicKey,
    versions: BTreeMap<String, (String, RsaPrivateKey)>,
    tokens: Mutex<BTreeMap<String, Grant>>,
    recorder: Recorder<Fault>,
    exchanges: AtomicUsize,
    impersonations: AtomicUsize,
    audiences: Mutex<BTreeSet<String>>,
}

/// A running Google stand-in.
pub struct Google {
    server: Server,
    state: Arc<State>,
}

impl Google {
    /// Starts Google with `key` as [`KEY_VERSION`] (RSA_SIGN_PKCS1_2048_SHA256),
    /// its provider trusting ID tokens of `issuer`, signed by `issuer_key`.
    pub fn start(key: RsaPrivateKey, issuer: &str, issuer_key: RsaPublicKey) -> Google {
        let versions = BTreeMap::from([
            (KEY_VERSION.to_owned(), ("RSA_SIGN_PKCS1_2048_SHA256".to_owned(), key)),
            (EC_KEY_VERSION.to_owned(), ("EC_SIGN_P256_SHA256".to_owned(), crate::issuer_key())),
        ]);
        let state = Arc::new(State {
            issuer: issuer.to_owned(),
            issuer_key,
            versions,
            tokens: Mutex::new(BTreeMap::new()),
            recorder: Recorder::default(),
            exchanges: AtomicUsize::new(0),
            impersonations: AtomicUsize::new(0),
            audiences: Mutex::new(BTreeSet::new()),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        Google { server, state }
    }

    /// A new access token that may sign (as `gcloud auth print-access-token` gives one).
    pub fn token(&self) -> String {
        self.issue(Grant::Signer)
    }

    /// A new access token that may read public keys only.
    pub fn viewer_token(&self) -> String {
        self.issue(Grant::Viewer)
    }

    fn issue(&self, grant: Grant) -> String {
        issue(&self.state, grant)
    }

    /// `http://127.0.0.1:PORT`, for `GOOGLE_KMS_ENDPOINT` and the JSON's URLs.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The HTTP server underneath.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// An external-account JSON as `google-github-actions/auth` writes it,
    /// pointing at this stand-in, for the runner's ID token at
    /// `request_url` with `request_token`; impersonating [`SERVICE_ACCOUNT`] if `impersonate`.
    pub fn external_account(&self, request_url: &str, request_token: &str, impersonate: bool) -> String {
        let mut json = json!({
            "type": "external_account",
            "audience": format!("//iam.googleapis.com/{PROVIDER}"),
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
            "token_url": format!("{}/v1/token", self.url()),
            "credential_source": {
                "url": format!("{request_url}&audience=https://iam.googleapis.com/{PROVIDER}"),
                "headers": {"Authorization": format!("Bearer {request_token}")},
                "format": {"type": "json", "subject_token_field_name": "value"},
            },
        });
        if impersonate {
            json["service_account_impersonation_url"] = json!(format!(
                "{}/v1/projects/-/serviceAccounts/{SERVICE_ACCOUNT}:generateAccessToken",
                self.url()
            ));
        }
        json.to_string()
    }

    /// Token exchanges at STS that succeeded.
    pub fn exchanges(&self) -> usize {
        self.state.exchanges.load(Ordering::SeqCst)
    }

    /// Service account tokens issued.
    pub fn impersonations(&self) -> usize {
        self.state.impersonations.load(Ordering::SeqCst)
    }

    /// The audiences of the ID tokens STS accepted.
    pub fn audiences(&self) -> Vec<String> {
        self.state.audiences.lock().unwrap().iter().cloned().collect()
    }
}

impl std::ops::Deref for Google {
    type Target = Recorder<Fault>;

    fn deref(&self) -> &Recorder<Fault> {
        &self.state.recorder
    }
}

fn issue(state: &State, grant: Grant) -> String {
    let token = format!("ya29.{}", random_hex(24));
    crate::remember(&token);
    state.tokens.lock().unwrap().insert(token.clone(), grant);
    token
}

/// Google's error answer.
fn error(status: u16, name: &str, message: &str) -> Response {
    Response::json(
        status,
        "application/json",
        &json!({"error": {"code": status, "message": message, "status": name}}),
    )
}

fn handle(state: &State, request: &Request) -> Response {
    state.recorder.saw(request);
    let path = request.path().to_owned();
    if request.method == "POST" && path == "/v1/token" {
        return exchange(state, request);
    }
    let bearer = request.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    let grant = bearer.and_then(|token| state.tokens.lock().unwrap().get(token).copied());
    let Some(grant) = grant else {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token.",
        );
    };
    if let Some(account) = path
        .strip_prefix("/v1/projects/-/serviceAccounts/")
        .and_then(|p| p.strip_suffix(":generateAccessToken"))
    {
        return impersonate(state, grant, account);
    }
    if let Some(fault) = state.recorder.fault() {
        return error(fault.status, &fault.name, &fault.message);
    }
    let denied = |permission: &str, name: &str| {
        error(
            403,
            "PERMISSION_DENIED",
            &format!("Permission '{permission}' denied on resource '{name}' (or it may not exist)."),
        )
    };
    if let Some(name) = path.strip_prefix("/v1/").and_then(|p| p.strip_suffix("/publicKey")) {
        if grant == Grant::Federated {
            return denied("cloudkms.cryptoKeyVersions.viewPublicKey", name);
        }
        let Some((algorithm, key)) = state.versions.get(name) else {
            return error(404, "NOT_FOUND", &format!("{name} not found."));
        };
        let pem = key.to_public_key().to_public_key_pem(LineEnding::LF).expect("a PEM");
        let crc = CRC32C.checksum(pem.as_bytes()).to_string();
        return Response::json(
            200,
            "application/json",
            &json!({"pem": pem, "algorithm": algorithm, "pemCrc32c": crc, "name": name, "protectionLevel": "HSM"}),
        );
    }
    if let Some(name) = path.strip_prefix("/v1/").and_then(|p| p.strip_suffix(":asymmetricSign")) {
        if grant != Grant::Signer {
            return denied("cloudkms.cryptoKeyVersions.useToSign", name);
        }
        return sign(state, name, &request.body);
    }
    error(404, "NOT_FOUND", "The requested URL was not found on this server.")
}

fn sign(state: &State, name: &str, body: &[u8]) -> Response {
    let Some((algorithm, key)) = state.versions.get(name) else {
        return error(404, "NOT_FOUND", &format!("{name} not found."));
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let Some(digest) = body["digest"]["sha256"].as_str().and_then(|d| STANDARD.decode(d).ok()) else {
        return error(400, "INVALID_ARGUMENT", "digest.sha256 is required.");
    };
    if let Some(crc) = body["digestCrc32c"].as_str()
        && crc != CRC32C.checksum(&digest).to_string()
    {
        return error(
            400,
            "INVALID_ARGUMENT",
            "The checksum in field digest_crc32c did not match the data in field digest.",
        );
    }
    if digest.len() != 32 {
        return error(400, "INVALID_ARGUMENT", "The digest must be 32 bytes for SHA256.");
    }
    let signature: Vec<u8> = if algorithm.starts_with("RSA_SIGN_PKCS1") {
        let signer = state.recorder.signer(key);
        signer.sign(Pkcs1v15Sign::new::<Sha256>(), &digest).expect("signs")
    } else {
        // An ECDSA signature (DER, about 70 bytes); random bytes stand in.
        (0..70).map(|_| rand::random::<u8>()).collect()
    };
    state.recorder.signed_one();
    Response::json(
        200,
        "application/json",
        &json!({
            "signature": STANDARD.encode(&signature),
            "signatureCrc32c": CRC32C.checksum(&signature).to_string(),
            "verifiedDigestCrc32c": body["digestCrc32c"].is_string(),
            "name": name,
            "protectionLevel": "HSM",
        }),
    )
}

/// STS: an OAuth error answer.
fn oauth_error(error: &str, description: &str) -> Response {
    Response::json(400, "application/json", &json!({"error": error, "error_description": description}))
}

fn exchange(state: &State, request: &Request) -> Response {
    let params = form(&request.body);
    let param = |name: &str| params.get(name).map(String::as_str).unwrap_or("");
    if param("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" {
        return oauth_error("unsupported_grant_type", "Unsupported grant_type.");
    }
    if param("audience") != format!("//iam.googleapis.com/{PROVIDER}") {
        return oauth_error(
            "invalid_target",
            "The target service indicated by the \"audience\" parameters is invalid.",
        );
    }
    if param("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" {
        return oauth_error("invalid_request", "Invalid value for \"subject_token_type\".");
    }
    let jwt = param("subject_token");
    crate::remember(jwt);
    let Some(claims) = verify_rs256(&state.issuer_key, jwt) else {
        return oauth_error("invalid_grant", "The ID token's signature could not be verified.");
    };
    if claims["iss"] != state.issuer.as_str() {
        return oauth_error(
            "invalid_grant",
            "The issuer in the ID token does not match the provider's issuer.",
        );
    }
    let expected = format!("https://iam.googleapis.com/{PROVIDER}");
    if claims["aud"] != expected.as_str() {
        let found = claims["aud"].as_str().unwrap_or_default();
        return oauth_error(
            "invalid_grant",
            &format!("The audience in ID Token [{found}] does not match the expected audience {expected}."),
        );
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= time::now()) {
        return oauth_error("invalid_grant", "The ID token has expired.");
    }
    state.audiences.lock().unwrap().insert(expected);
    state.exchanges.fetch_add(1, Ordering::SeqCst);
    // A federated principal granted the key directly could sign; this one
    // is granted only to impersonate the service account.
    let token = issue(state, Grant::Federated);
    Response::json(
        200,
        "application/json",
        &json!({"access_token": token, "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer", "expires_in": 3599}),
    )
}

fn impersonate(state: &State, grant: Grant, account: &str) -> Response {
    if grant != Grant::Federated || account != SERVICE_ACCOUNT {
        return error(
            403,
            "PERMISSION_DENIED",
            &format!(
                "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist): {account}"
            ),
        );
    }
    state.impersonations.fetch_add(1, Ordering::SeqCst);
    let token = issue(state, Grant::Signer);
    Response::json(
        200,
        "application/json",
        &json!({"accessToken": token, "expireTime": time::rfc3339(time::now() + 600)}),
    )
}
