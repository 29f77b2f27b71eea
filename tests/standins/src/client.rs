//! A small HTTP/1.1 client for tests: a request on a connection of its own,
//! or requests one after another on a kept-open [`Connection`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// An answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Sends `method path` to `authority` (`host:port`) with `headers` and
/// `body`, on a connection of its own.
pub fn send(
    authority: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Answer> {
    Connection::open(authority)?.exchange(method, path, headers, body, "close")
}

/// A connection kept open for request after request (HTTP/1.1 keep-alive),
/// as a load balancer keeps its connections to a server.
pub struct Connection {
    authority: String,
    reader: BufReader<TcpStream>,
}

impl Connection {
    /// Connects to `authority` (`host:port`).
    pub fn open(authority: &str) -> std::io::Result<Connection> {
        let stream = TcpStream::connect(authority)?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Connection { authority: authority.to_owned(), reader: BufReader::new(stream) })
    }

    /// Sends `method path` with `headers` and `body`, and reads the answer,
    /// keeping the connection open for the next.
    pub fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Answer> {
        self.exchange(method, path, headers, body, "keep-alive")
    }

    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        connection: &str,
    ) -> std::io::Result<Answer> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nhost: {}\r\nconnection: {connection}\r\ncontent-length: {}\r\n",
            self.authority,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        // One write: a second small one would wait for the first's
        // (delayed) acknowledgement on a kept-open connection.
        let request = [head.as_bytes(), body].concat();
        self.reader.get_mut().write_all(&request)?;
        self.answer()
    }

    /// Reads one answer: its body chunked, sized by `content-length`, or up
    /// to the end of the connection.
    fn answer(&mut self) -> std::io::Result<Answer> {
        let reader = &mut self.reader;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let trimmed = line.trim_end();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |wanted: &str| headers.iter().find(|(name, _)| name == wanted).map(|(_, v)| v.as_str());
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                reader.read_line(&mut line)?;
                let size = usize::from_str_radix(line.trim(), 16).unwrap_or(0);
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else if let Some(length) = header("content-length").and_then(|v| v.parse().ok()) {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        } else {
            reader.read_to_end(&mut body)?;
        }
        Ok(Answer { status, headers, body })
    }
}
