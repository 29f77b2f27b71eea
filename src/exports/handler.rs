//! The `wasi:http/incoming-handler` export: the token broker over HTTP.
//!
//! - `POST /token` with `Authorization: Bearer <OIDC ID token>` and a JSON body
//!   `{"owner", "installation_id", "repositories", "permissions"}` (all optional);
//! - `GET /healthz`.
//!
//! Translation only: resolving the environment into the broker's settings,
//! reading the body (at most 64 KiB, within the request's deadline), writing
//! the JSON answer and, for each `/token` decision, its audit line on stderr. [`crate::broker::service`]
//! routes and decides.

use std::io::Write;
use std::time::{Duration, Instant, SystemTime};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, Method, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::StreamError;
use zeroize::Zeroize;

use crate::broker::audit::Audit;
use crate::broker::service::{self, Call, Host, MAX_BODY_BYTES, Reply, Route};
use crate::exports::resolve::{self, host_env};
use crate::mint::settings::DEFAULT_TIMEOUT_SECS;
use crate::net::outgoing;
use crate::secret::Secret;

/// The `wasi:http/incoming-handler` export.
pub struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let method = match request.method() {
            Method::Get => "GET",
            Method::Post => "POST",
            _ => "OTHER",
        };
        let reply = match service::route(method, &path) {
            Route::Health => service::health(),
            Route::Token => token(&request),
            Route::Refused(reply) => reply,
        };
        respond(response_out, &reply);
    }
}

/// What outlives a request in this instance when the host keeps it alive
/// (`jco serve`, an embedding, `wasmtime serve --max-instance-reuse-count`);
/// a host that starts an instance per request keeps nothing here. The Spin
/// build keeps its caches in Spin's key-value store instead.
#[cfg(not(feature = "spin"))]
static MEMORY: crate::store::Memory = crate::store::Memory::new();

fn token(request: &IncomingRequest) -> Reply {
    let headers = request.headers();
    // The authorization header is the caller's ID token: held as a secret.
    let header = |name: &str| {
        let mut value = headers.get(name).into_iter().next()?;
        let text = Secret::new(String::from_utf8_lossy(&value));
        value.zeroize();
        Some(text)
    };
    #[cfg(not(feature = "spin"))]
    let (env, store) = (host_env(), &MEMORY);
    #[cfg(feature = "spin")]
    let (env, store) = (super::spin::variables(host_env()), &super::spin::KeyValue::open());
    let broker = resolve::broker(&env);
    // One deadline for the whole request, reading the caller's body included.
    let timeout = broker.as_ref().map_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS), |b| b.deployment.timeout);
    let deadline = Instant::now() + timeout;
    let (reply, audit) = match read_body(request, deadline) {
        Ok(body) => {
            let (authorization, content_type) = (header("authorization"), header("content-type"));
            let call = Call {
                authorization: authorization.as_ref().map(Secret::expose),
                content_type: content_type.as_ref().map(Secret::expose),
                body: &body,
            };
            let host = Host {
                transport: |asked: Duration| {
                    outgoing::transport(asked.min(deadline.saturating_duration_since(Instant::now())))
                },
                store,
                random: outgoing::random,
                now: SystemTime::now(),
            };
            service::token(broker.as_ref(), &call, host)
        }
        Err(reply) => (reply, Audit::default()),
    };
    // A closed stderr loses the line but not the answer.
    let _ = writeln!(std::io::stderr(), "{}", audit.line(reply.status, &reply.body, SystemTime::now()));
    reply
}

/// The body, by `deadline` (a sender too slow gets 408), refusing more
/// than [`MAX_BODY_BYTES`] without reading it all.
fn read_body(request: &IncomingRequest, deadline: Instant) -> Result<Vec<u8>, Reply> {
    let unreadable = || Reply::error(400, "bad_request", "the body could not be read");
    let incoming = request.consume().map_err(|_| unreadable())?;
    let stream = incoming.stream().map_err(|_| unreadable())?;
    let readable = stream.subscribe();
    let mut body = Vec::new();
    loop {
        if !outgoing::ready_by(&readable, deadline) {
            return Err(Reply::error(408, "request_timeout", "the body did not arrive in time"));
        }
        match stream.read(16 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(service::too_large());
        }
    }
}

fn respond(out: ResponseOutparam, reply: &Reply) {
    let headers = Fields::new();
    let _ = headers.set("content-type", &[b"application/json".to_vec()]);
    let _ = headers.set("cache-control", &[b"no-store".to_vec()]);
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(reply.status);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    // The caller gone, there is no one left to tell.
    let _ = outgoing::write_body(body, reply.body.to_string().as_bytes());
}
