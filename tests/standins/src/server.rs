//! A small HTTP/1.1 server on 127.0.0.1 for the stand-ins.
//!
//! One thread accepts, one thread serves each connection, every answer closes
//! its connection. The server stops when dropped. [`Wire`] faults make it
//! misbehave the way networks and overloaded services do.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// A request as received.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// An answer to send.
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers (`content-length` and `connection` are added).
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, content_type: &str, body: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Misbehaviour on the wire, in place of the handler's answer.
#[derive(Clone, Debug)]
pub enum Wire {
    /// Reads the request, then says nothing until the server stops.
    Hang,
    /// Announces a body, sends half of it and closes the connection.
    CloseMidBody,
    /// Announces a 1 MiB body and sends it one byte every 100 ms for 30 s,
    /// then closes the connection: each byte beats any between-bytes
    /// timeout, the whole never arrives.
    Drip,
    /// A 200 answer with a body of this many bytes; `announced`: with a
    /// `content-length`, else delimited by closing the connection.
    Huge { bytes: usize, announced: bool },
    /// Bytes that are not HTTP at all, then a closed connection.
    Garbage,
    /// This answer instead of the handler's: an HTML error page, an empty
    /// or invalid body, a wrong content type.
    Answer(Response),
}

/// A running server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

/// What the accepting thread shares with the server's owner.
#[derive(Default)]
struct Shared {
    wire: crate::Injected<Wire>,
    requests: AtomicUsize,
}

type Handler = dyn Fn(Request) -> Response + Send + Sync;

impl Server {
    /// Listens on 127.0.0.1 on a port the OS picks and answers with `handler`.
    pub fn start(handler: impl Fn(Request) -> Response + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let (stopping, sharing) = (stop.clone(), shared.clone());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, shared, stop) = (handler.clone(), sharing.clone(), stopping.clone());
                std::thread::spawn(move || serve(stream, &*handler, &shared, &stop));
            }
        });
        Server { addr, stop, thread: Some(thread), shared }
    }

    /// Misbehaves as `fault` on the next `times` requests, then heals.
    pub fn inject(&self, fault: Wire, times: usize) {
        self.shared.wire.set_times(fault, times);
    }

    /// Stops misbehaving.
    pub fn heal(&self) {
        self.shared.wire.set(None);
    }

    /// How many requests arrived so far (answered, refused or faulted).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &Handler, shared: &Shared, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    // As real servers do: no small segment waits for the client's delayed ACK.
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let request = read_request(&mut reader);
    if let Ok(None) = request {
        return;
    }
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let response = match (shared.wire.take(|_| true), request) {
        (Some(fault), _) => {
            let _ = misbehave(&mut writer, fault, stop);
            return;
        }
        (None, Ok(Some(request))) => handler(request),
        (None, Err(e)) if e.kind() == std::io::ErrorKind::Unsupported => {
            Response { status: 411, headers: vec![], body: b"length required".to_vec() }
        }
        (None, _) => Response { status: 400, headers: vec![], body: b"bad request".to_vec() },
    };
    let _ = write_response(&mut writer, &response, Some(response.body.len()));
}

/// Writes `response`; without a `length` the body ends when the connection closes.
fn write_response(writer: &mut TcpStream, response: &Response, length: Option<usize>) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = length {
        head.push_str(&format!("content-length: {length}\r\n"));
    }
    head.push_str("connection: close\r\n\r\n");
    // One write: an answer split in two waits on the client's delayed ACK
    // (tens of milliseconds, for some clients), which no real server costs.
    let mut answer = head.into_bytes();
    answer.extend_from_slice(&response.body);
    writer.write_all(&answer)?;
    writer.flush()
}

fn misbehave(writer: &mut TcpStream, fault: Wire, stop: &AtomicBool) -> std::io::Result<()> {
    let ok = |body: Vec<u8>| Response { status: 200, headers: vec![], body };
    match fault {
        Wire::Hang => {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        }
        Wire::CloseMidBody => write_response(writer, &ok(vec![b'{'; 50]), Some(100)),
        Wire::Drip => {
            write_response(writer, &ok(Vec::new()), Some(1 << 20))?;
            let started = std::time::Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
                writer.write_all(b" ")?;
                writer.flush()?;
                std::thread::sleep(Duration::from_millis(100));
            }
            Ok(())
        }
        Wire::Huge { bytes, announced } => {
            let response = ok(vec![b' '; bytes]);
            write_response(writer, &response, announced.then_some(bytes))
        }
        Wire::Garbage => writer.write_all(b"\x00\xffSSH-2.0-not-http\r\n\r\n"),
        Wire::Answer(response) => write_response(writer, &response, Some(response.body.len())),
    }
}

fn read_request(reader: &mut impl BufRead) -> std::io::Result<Option<Request>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(bad("request line"));
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end_matches(['\r', '\n']);
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').ok_or_else(|| bad("header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v): &(String, String)| v.clone());
    // Chunked request bodies are refused, as some AWS endpoints and proxies
    // do: a client must say how long its body is.
    if header("transfer-encoding").is_some() {
        return Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "chunked body"));
    }
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| bad("content-length"))?;
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    }
    Ok(Some(Request { method, target, headers, body }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}
