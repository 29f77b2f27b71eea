//! A KMS stand-in: `TrentService.Sign` with a real RSA-2048 key, behind a
//! SigV4 check as strict as AWS's.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::{Request, Response, Server};
use crate::sigv4::{self, Credential};
use crate::{random_hex, time};

/// The account id in the stand-in's ARNs.
pub const ACCOUNT: &str = "111122223333";
/// The alias that names the stand-in's key.
pub const ALIAS: &str = "alias/github-app";

/// An error to answer with instead of signing: status, `__type`, message.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP status.
    pub status: u16,
    /// AWS's `__type`.
    pub code: String,
    /// AWS's message.
    pub message: String,
}

struct State {
    region: String,
    key_id: String,
    key: RsaPrivateKey,
    credentials: Mutex<Vec<Credential>>,
    fault: crate::Injected<Fault>,
    signed: AtomicUsize,
    rejections: Mutex<Vec<String>>,
    signers: Mutex<Vec<String>>,
}

/// A running KMS stand-in.
pub struct Kms {
    server: Server,
    state: Arc<State>,
}

impl Kms {
    /// Starts a stand-in for `region` that accepts `credentials` and signs with `key`.
    pub fn start(region: &str, credentials: Vec<Credential>, key: RsaPrivateKey) -> Kms {
        let state = Arc::new(State {
            region: region.to_owned(),
            key_id: uuid(),
            key,
            credentials: Mutex::new(credentials),
            fault: crate::Injected::default(),
            signed: AtomicUsize::new(0),
            rejections: Mutex::new(Vec::new()),
            signers: Mutex::new(Vec::new()),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| handle(&handler_state, &request));
        Kms { server, state }
    }

    /// The HTTP server underneath, for [`crate::server::Wire`] faults and request counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL_KMS`.
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.server.authority()
    }

    /// The key's id (a UUID).
    pub fn key_id(&self) -> &str {
        &self.state.key_id
    }

    /// The key's ARN.
    pub fn key_arn(&self) -> String {
        format!("arn:aws:kms:{}:{ACCOUNT}:key/{}", self.state.region, self.state.key_id)
    }

    /// The public half of the key, to verify JWTs with.
    pub fn public_key(&self) -> RsaPublicKey {
        self.state.key.to_public_key()
    }

    /// Accepts `credential` from now on (as AWS accepts credentials STS issued).
    pub fn accept(&self, credential: Credential) {
        self.state.credentials.lock().unwrap().push(credential);
    }

    /// The access key ids whose requests were signed correctly and served.
    pub fn signers(&self) -> Vec<String> {
        self.state.signers.lock().unwrap().clone()
    }

    /// Answers every `Sign` with this error from now on (`None` heals).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// Answers the next `times` `Sign` requests with this error, then heals.
    pub fn set_fault_times(&self, fault: Fault, times: usize) {
        self.state.fault.set_times(fault, times);
    }

    /// How many signatures were made.
    pub fn signatures(&self) -> usize {
        self.state.signed.load(Ordering::SeqCst)
    }

    /// The `__type`s of the requests refused so far.
    pub fn rejections(&self) -> Vec<String> {
        self.state.rejections.lock().unwrap().clone()
    }
}

fn uuid() -> String {
    let h = random_hex(16);
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn handle(state: &State, request: &Request) -> Response {
    let result = sign(state, request);
    let request_id = uuid();
    match result {
        Ok(body) => Response::json(200, "application/x-amz-json-1.1", &body),
        Err((status, code, message)) => {
            state.rejections.lock().unwrap().push(code.clone());
            Response::json(
                status,
                "application/x-amz-json-1.1",
                &json!({ "__type": code, "message": message }),
            )
        }
    }
    .with_header("x-amzn-requestid", request_id)
}

type Refusal = (u16, String, String);

fn refuse(status: u16, code: &str, message: impl Into<String>) -> Refusal {
    (status, code.to_owned(), message.into())
}

fn sign(state: &State, request: &Request) -> Result<Value, Refusal> {
    if request.method != "POST" || request.path() != "/" {
        return Err(refuse(404, "UnknownOperationException", "KMS takes POST /"));
    }
    let credentials = state.credentials.lock().unwrap().clone();
    let signer = sigv4::verify(request, &credentials, &state.region, "kms", time::now())
        .map_err(|r| refuse(400, r.code, r.message))?;
    if request.header("content-type") != Some("application/x-amz-json-1.1") {
        return Err(refuse(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1"));
    }
    if request.header("x-amz-target") != Some("TrentService.Sign") {
        return Err(refuse(400, "UnknownOperationException", "this stand-in serves TrentService.Sign only"));
    }
    if let Some(fault) = state.fault.take(|_| true) {
        return Err(refuse(fault.status, &fault.code, fault.message));
    }
    let body: Value = serde_json::from_slice(&request.body).map_err(|_| {
        refuse(400, "SerializationException", "Start of structure or map found where not expected")
    })?;
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let key_id = field("KeyId").ok_or_else(|| refuse(400, "ValidationException", "KeyId is required"))?;
    let arn = format!("arn:aws:kms:{}:{ACCOUNT}:key/{}", state.region, state.key_id);
    let alias_arn = format!("arn:aws:kms:{}:{ACCOUNT}:{ALIAS}", state.region);
    if ![state.key_id.as_str(), &arn, ALIAS, &alias_arn].contains(&key_id) {
        return Err(refuse(400, "NotFoundException", format!("Key '{key_id}' does not exist")));
    }
    let message = field("Message")
        .and_then(|m| STANDARD.decode(m).ok())
        .ok_or_else(|| refuse(400, "ValidationException", "Message must be base64"))?;
    if message.is_empty() || message.len() > 4096 {
        return Err(refuse(400, "ValidationException", "Message must be 1 to 4096 bytes"));
    }
    if field("MessageType") != Some("RAW") {
        return Err(refuse(400, "ValidationException", "this stand-in signs MessageType RAW only"));
    }
    if field("SigningAlgorithm") != Some("RSASSA_PKCS1_V1_5_SHA_256") {
        return Err(refuse(
            400,
            "InvalidKeyUsageException",
            "the key does not support this SigningAlgorithm",
        ));
    }
    let signature = SigningKey::<Sha256>::new(state.key.clone()).sign(&message).to_vec();
    state.signed.fetch_add(1, Ordering::SeqCst);
    state.signers.lock().unwrap().push(signer);
    Ok(
        json!({ "KeyId": arn, "Signature": STANDARD.encode(signature), "SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256" }),
    )
}
