//! The `wasi:http/incoming-handler` export: the token broker over HTTP.
//!
//! - `POST /token` with `Authorization: Bearer <OIDC ID token>` and a JSON body
//!   `{"owner", "installation_id", "repositories", "permissions"}` (all optional);
//! - `GET /healthz`.
//!
//! Translation only: routing, reading the body (at most 64 KiB), writing the
//! JSON answer and, for each `/token` decision, its audit line on stderr.
//! [`crate::broker`] decides.

use std::io::Write;
use std::time::SystemTime;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam};
use wasi::io::streams::StreamError;

use crate::audit::Audit;
use crate::broker::{self, MAX_BODY_BYTES, Reply};
use crate::config::Env;
use crate::wasi_http;

/// The export itself.
pub struct Handler;

impl Guest for Handler {
    fn handle(request: IncomingRequest, response_out: ResponseOutparam) {
        let reply = route(&request);
        respond(response_out, &reply);
    }
}

fn route(request: &IncomingRequest) -> Reply {
    let path = request.path_with_query().unwrap_or_default();
    let path = path.split('?').next().unwrap_or_default();
    let method = request.method();
    match (path, &method) {
        ("/healthz", Method::Get) => broker::health(),
        ("/token", Method::Post) => token(request),
        ("/healthz" | "/token", _) => {
            Reply::error(405, "method_not_allowed", "use GET /healthz or POST /token")
        }
        _ => Reply::error(404, "not_found", "the broker serves POST /token and GET /healthz"),
    }
}

fn token(request: &IncomingRequest) -> Reply {
    let headers = request.headers();
    let header = |name: &str| {
        headers.get(name).into_iter().next().map(|value| String::from_utf8_lossy(&value).into_owned())
    };
    let (reply, audit) = match read_body(request) {
        Ok(body) => broker::token(
            &Env::from_host(),
            header("authorization").as_deref(),
            header("content-type").as_deref(),
            &body,
            wasi_http::transport,
            SystemTime::now(),
        ),
        Err(reply) => (reply, Audit::default()),
    };
    // A closed stderr loses the line but not the answer.
    let _ = writeln!(std::io::stderr(), "{}", audit.line(reply.status, &reply.body, SystemTime::now()));
    reply
}

/// The body, refusing more than [`MAX_BODY_BYTES`] without reading it all.
fn read_body(request: &IncomingRequest) -> Result<Vec<u8>, Reply> {
    let too_large =
        || Reply::error(400, "body_too_large", format!("the body is larger than {MAX_BODY_BYTES} bytes"));
    let unreadable = || Reply::error(400, "bad_request", "the body could not be read");
    let incoming = request.consume().map_err(|_| unreadable())?;
    let stream = incoming.stream().map_err(|_| unreadable())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(16 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(_)) => return Err(unreadable()),
        }
        if body.len() > MAX_BODY_BYTES {
            return Err(too_large());
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
    let bytes = reply.body.to_string().into_bytes();
    if let Ok(stream) = body.write() {
        for chunk in bytes.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
}
