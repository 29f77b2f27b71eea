//! The one module that does I/O: [`Request`]s sent through `wasi:http/outgoing-handler`.

use std::time::{Duration, Instant};

use wasi::clocks::monotonic_clock;
use wasi::http::outgoing_handler;
use wasi::http::types::{ErrorCode, Fields, IncomingResponse, OutgoingBody, OutgoingRequest, RequestOptions};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::StreamError;
use zeroize::Zeroize;

use crate::error::{Error, MalformedAnswer, Result, TransportError};
use crate::net::http::{self, Request, Response, Transport};
use crate::net::retry::{self, Retrying};
use crate::net::url::Scheme;

/// Answers larger than this are refused rather than buffered.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// wasi-http output streams take at most this much per write.
const WRITE_CHUNK: usize = 4096;

/// [`Transport`] over the host's `wasi:http/outgoing-handler`.
pub struct WasiHttp {
    /// No answer is waited for, and no byte of one read, after this: each
    /// request's timeouts are the time left, and the guest itself stops
    /// waiting then, however slowly an answer drips in.
    pub deadline: Instant,
}

/// The transport every export uses: [`WasiHttp`] with retries, all within
/// `timeout` (see `crate::exports::resolve::timeout`) from now.
pub fn transport(timeout: Duration) -> Retrying<WasiHttp> {
    let deadline = Instant::now() + timeout;
    Retrying { inner: WasiHttp { deadline }, attempts: retry::DEFAULT_ATTEMPTS, deadline, random }
}

/// A random number from the host (`wasi:random/random`): backoff jitter,
/// the nonces of sealed cache entries.
pub fn random() -> u64 {
    wasi::random::random::get_random_u64()
}

impl Transport for WasiHttp {
    fn send(&self, request: Request) -> Result<Response> {
        let transport_error = |message: &str| Error::Transport(TransportError::of(&request, message));

        // A known length, so that no body goes out chunked.
        let length = (request.method != http::Method::Get).then_some(request.body.len());
        let mut entries: Vec<(String, Vec<u8>)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .chain(length.map(|l| ("content-length".to_owned(), l.to_string().into_bytes())))
            .collect();
        let headers = Fields::from_list(&entries);
        // The values hold credentials: this copy does not outlive its use.
        entries.iter_mut().for_each(|(_, value)| value.zeroize());
        let headers = headers.map_err(|e| transport_error(&format!("a header was refused: {e:?}")))?;
        let outgoing = OutgoingRequest::new(headers);
        let method = match request.method {
            http::Method::Get => wasi::http::types::Method::Get,
            http::Method::Post => wasi::http::types::Method::Post,
            http::Method::Delete => wasi::http::types::Method::Delete,
        };
        let scheme = match request.url.scheme {
            Scheme::Http => wasi::http::types::Scheme::Http,
            Scheme::Https => wasi::http::types::Scheme::Https,
        };
        let invalid_url = |_| transport_error("the host refused the URL");
        outgoing.set_method(&method).map_err(invalid_url)?;
        outgoing.set_scheme(Some(&scheme)).map_err(invalid_url)?;
        outgoing.set_authority(Some(&request.url.authority)).map_err(invalid_url)?;
        outgoing.set_path_with_query(Some(request.url.path_or_root())).map_err(invalid_url)?;

        let body = outgoing.body().map_err(|_| transport_error("no request body"))?;
        let remaining = self.deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
        let future = outgoing_handler::handle(outgoing, Some(options(remaining)))
            .map_err(|code| from_error_code(&request, code))?;

        // A host that denies the request closes the body stream; the reason
        // then arrives on the response future, so a write error is only
        // reported if the future has none.
        let written = write_body(body, &request.body);
        if !ready_by(&future.subscribe(), self.deadline) {
            return Err(from_error_code(&request, ErrorCode::HttpResponseTimeout));
        }
        let response = match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(from_error_code(&request, code)),
            Some(Err(())) | None => return Err(transport_error("the response was already taken")),
        };
        written.map_err(|e| transport_error(&format!("could not send the body: {e}")))?;
        read_response(&request, response, self.deadline)
    }
}

/// Waits until `pollable` is ready or `deadline` passes; whether it is ready.
pub fn ready_by(pollable: &Pollable, deadline: Instant) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    let timer = monotonic_clock::subscribe_duration(u64::try_from(left.as_nanos()).unwrap_or(u64::MAX));
    poll(&[pollable, &timer]).contains(&0)
}

/// Timeouts for one request; a host that does not support one keeps its default.
fn options(timeout: Duration) -> RequestOptions {
    let options = RequestOptions::new();
    let nanos = Some(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
    // `Err(())` means the host does not support the option: not a failure.
    let _ = options.set_connect_timeout(nanos);
    let _ = options.set_first_byte_timeout(nanos);
    let _ = options.set_between_bytes_timeout(nanos);
    options
}

/// Writes `bytes` into an outgoing body (a request's or a response's) and
/// finishes it; the error says in words what failed.
pub fn write_body(body: OutgoingBody, bytes: &[u8]) -> std::result::Result<(), NotSent> {
    let stream = body.write().map_err(|_| NotSent::NoStream)?;
    for chunk in bytes.chunks(WRITE_CHUNK) {
        stream.blocking_write_and_flush(chunk).map_err(|e| NotSent::Stream(stream_error(&e)))?;
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|e| NotSent::Finish(format!("{e:?}")))
}

/// Why a body was not sent whole.
#[derive(Debug)]
pub enum NotSent {
    /// The host gave no stream to write to.
    NoStream,
    /// The stream failed (the host's words).
    Stream(String),
    /// The body could not be finished (the host's words).
    Finish(String),
}

impl std::fmt::Display for NotSent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotSent::NoStream => f.write_str("no body stream"),
            NotSent::Stream(why) | NotSent::Finish(why) => f.write_str(why),
        }
    }
}

/// Reads the whole answer by `deadline`, refusing (without buffering) one
/// over [`MAX_RESPONSE_BYTES`], whether its `content-length` says so or its
/// body runs past it.
fn read_response(request: &Request, response: IncomingResponse, deadline: Instant) -> Result<Response> {
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let mut answer = Response { status: response.status(), headers, body: Vec::new(), attempts: 1 };
    // An answer too large to read quotes nothing of itself, not even its
    // request id: it could echo a credential, and this layer cannot tell
    // which of the request's texts are secrets.
    let too_large = |answer: &Response| {
        Error::MalformedResponse(MalformedAnswer {
            service: request.service,
            endpoint: request.url.endpoint(),
            status: answer.status,
            request_id: None,
            message: format!("answer larger than {MAX_RESPONSE_BYTES} bytes"),
            attempts: 1,
        })
    };
    let announced = answer.header("content-length").and_then(|l| l.trim().parse::<u64>().ok());
    if announced.is_some_and(|length| length > MAX_RESPONSE_BYTES as u64) {
        return Err(too_large(&answer));
    }
    let reading_failed = |message: &str| {
        Error::Transport(TransportError::of(request, format!("could not read the answer: {message}")))
    };
    let incoming = response.consume().map_err(|_| reading_failed("no response body"))?;
    let stream = incoming.stream().map_err(|_| reading_failed("no response body stream"))?;
    let readable = stream.subscribe();
    loop {
        if !ready_by(&readable, deadline) {
            return Err(Error::Timeout(TransportError::of(request, "the answer did not arrive in time")));
        }
        match stream.read(64 * 1024) {
            Ok(chunk) => answer.body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasi::http::types::http_error_code(&e) {
                    Some(code) => from_error_code(request, code),
                    None => reading_failed(&e.to_debug_string()),
                });
            }
        }
        if answer.body.len() > MAX_RESPONSE_BYTES {
            return Err(too_large(&answer));
        }
    }
    Ok(answer)
}

fn stream_error(e: &StreamError) -> String {
    match e {
        StreamError::Closed => "the stream was closed".into(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}

/// A wasi-http error code as `timeout` or `transport`, in words.
fn from_error_code(request: &Request, code: ErrorCode) -> Error {
    let error = |message: &str| TransportError::of(request, message);
    match code {
        ErrorCode::DnsTimeout => Error::Timeout(error("DNS lookup timed out")),
        ErrorCode::ConnectionTimeout => Error::Timeout(error("connecting timed out")),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
            Error::Timeout(error("no answer in time"))
        }
        ErrorCode::ConnectionWriteTimeout => Error::Timeout(error("sending timed out")),
        ErrorCode::ConnectionRefused => Error::Transport(error("connection refused")),
        ErrorCode::ConnectionTerminated => Error::Transport(error("connection closed by the server")),
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => Error::Transport(error("host not found")),
        ErrorCode::HttpRequestDenied => Error::Transport(error(
            "the host denied this request (is the endpoint on its allow-list of outbound hosts?)",
        )),
        ErrorCode::TlsCertificateError => Error::Transport(error("the server's TLS certificate was refused")),
        ErrorCode::HttpResponseIncomplete => Error::Transport(error("the answer ended early")),
        ErrorCode::HttpProtocolError => Error::Transport(error("the answer is not HTTP")),
        other => Error::Transport(error(&format!("{other:?}"))),
    }
}
