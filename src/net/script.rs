//! A [`Transport`] that answers from a script, for tests of the flows (here
//! and in an embedder's own): it keeps every request it was sent, and a
//! request past the end of the script panics, failing the test.
//!
//! ```
//! use github_app_kms_token::net::http::{Method, Request, Transport};
//! use github_app_kms_token::net::script::{Script, answer};
//! use github_app_kms_token::net::url::Url;
//! use github_app_kms_token::error::Service;
//!
//! let script = Script::new([answer(204, &[], "")]);
//! let request = Request {
//!     service: Service::Github,
//!     method: Method::Delete,
//!     url: Url::parse("https://api.github.com/installation/token").unwrap(),
//!     headers: vec![],
//!     body: vec![],
//!     retry: true,
//! };
//! assert_eq!(script.send(request).unwrap().status, 204);
//! assert_eq!(script.lines(), ["DELETE https://api.github.com/installation/token"]);
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;

use crate::error::Result;
use crate::net::http::{Request, Response, Transport};

/// A request as the script saw it.
#[derive(Clone, Debug)]
pub struct Sent {
    /// `GET https://host/path`
    pub line: String,
    /// Its headers, as sent.
    pub headers: Vec<(String, String)>,
    /// Its body, as sent.
    pub body: Vec<u8>,
}

/// Answers in order; a request past the end of the script panics (a test
/// double: the test that sent more than it scripted fails there).
#[derive(Default)]
pub struct Script {
    answers: RefCell<VecDeque<Result<Response>>>,
    sent: RefCell<Vec<Sent>>,
}

impl Script {
    /// A script of `answers`.
    pub fn new(answers: impl IntoIterator<Item = Result<Response>>) -> Script {
        Script { answers: RefCell::new(answers.into_iter().collect()), sent: RefCell::default() }
    }

    /// Every request sent so far.
    pub fn sent(&self) -> Vec<Sent> {
        self.sent.borrow().clone()
    }

    /// The request lines sent so far (`GET https://host/path`).
    pub fn lines(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|s| s.line.clone()).collect()
    }
}

impl Transport for Script {
    fn send(&self, request: Request) -> Result<Response> {
        let line = format!("{} {}", request.method.as_str(), request.url);
        let answer = self.answers.borrow_mut().pop_front();
        self.sent.borrow_mut().push(Sent {
            line: line.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        });
        answer.unwrap_or_else(|| panic!("no answer scripted for {line}"))
    }
}

/// An answer with `status`, `headers` and `body`.
pub fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Result<Response> {
    let headers = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    Ok(Response { status, headers, body: body.into(), attempts: 1 })
}
