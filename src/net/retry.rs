//! Retries: a [`Transport`] that sends again what may heal (5xx, KMS
//! throttling and internal errors, the other key stores' 429s, GitHub's
//! secondary rate limits, lost
//! connections and timeouts), with exponential backoff and full jitter,
//! within one deadline. What will not heal (other 4xx) is never retried,
//! nor a request marked `retry: false`.

use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result, Service};
use crate::net::http::{Request, Response, Transport, aws_error_code};
use crate::time::unix_secs;

/// Attempts per request, the first included.
pub const DEFAULT_ATTEMPTS: u32 = 3;
/// The first backoff's upper bound; it doubles with each attempt.
const BASE: Duration = Duration::from_millis(200);
/// No single backoff is longer than this.
const CAP: Duration = Duration::from_secs(5);

/// KMS error codes that heal by themselves.
const KMS_TRANSIENT: &[&str] = &["ThrottlingException", "KMSInternalException", "DependencyTimeoutException"];

/// Whether `response` is worth another attempt: `None` if not, else the
/// wait the server asked for (`Some(None)`: none asked, back off).
pub fn verdict(service: Service, response: &Response, now_unix: u64) -> Option<Option<Duration>> {
    if response.status >= 500 {
        return Some(None);
    }
    match (service, response.status) {
        (Service::Kms, 400) => {
            let body = crate::json::Object::parse(&response.body).ok()?;
            let code = aws_error_code(body.str("__type").ok()??);
            KMS_TRANSIENT.contains(&code.as_str()).then_some(None)
        }
        // The other key stores' and identity services' throttling: 429,
        // perhaps with `retry-after` (Vault's rate limit quotas, Cloud KMS's
        // RESOURCE_EXHAUSTED, Key Vault's and Entra ID's throttling).
        (
            Service::Vault
            | Service::GoogleKms
            | Service::GoogleSts
            | Service::GoogleIam
            | Service::KeyVault
            | Service::EntraId,
            429,
        ) => {
            Some(response.header("retry-after").and_then(|v| v.trim().parse().ok()).map(Duration::from_secs))
        }
        (Service::Github, _) => Some(Some(match rate_limit(response)? {
            RateLimit::RetryAfter(secs) => Duration::from_secs(secs),
            RateLimit::ResetAt(unix) => Duration::from_secs(unix.saturating_sub(now_unix)),
        })),
        _ => None,
    }
}

/// What a GitHub rate limit answer asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// `retry-after`: this many seconds.
    RetryAfter(u64),
    /// No requests left until `x-ratelimit-reset`, in Unix seconds.
    ResetAt(u64),
}

/// GitHub's secondary rate limits: a 403 or 429 with `retry-after`, or
/// with no requests left until `x-ratelimit-reset`.
pub fn rate_limit(response: &Response) -> Option<RateLimit> {
    if !matches!(response.status, 403 | 429) {
        return None;
    }
    let seconds = |name: &str| response.header(name).and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(secs) = seconds("retry-after") {
        return Some(RateLimit::RetryAfter(secs));
    }
    let exhausted = response.header("x-ratelimit-remaining") == Some("0");
    seconds("x-ratelimit-reset").filter(|_| exhausted).map(RateLimit::ResetAt)
}

/// Full jitter: a random pause below `BASE * 2^(attempt - 1)`, capped.
pub fn backoff(attempt: u32, random: u64) -> Duration {
    let ceiling = BASE.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(CAP);
    Duration::from_nanos(random % (ceiling.as_nanos() as u64).max(1))
}

/// A transport that retries on top of `inner`.
pub struct Retrying<T> {
    /// The transport that sends each attempt.
    pub inner: T,
    /// Attempts per request, the first included.
    pub attempts: u32,
    /// No attempt starts, and no pause ends, after this.
    pub deadline: Instant,
    /// A source of random numbers for the jitter.
    pub random: fn() -> u64,
}

impl<T: Transport> Transport for Retrying<T> {
    fn send(&self, request: Request) -> Result<Response> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut result = self.inner.send(request.clone());
            match &mut result {
                Ok(response) => response.attempts = attempt,
                Err(error) => error.set_attempts(attempt),
            }
            let now_unix = unix_secs(SystemTime::now());
            let asked = match &result {
                Ok(response) => match verdict(request.service, response, now_unix) {
                    Some(asked) => asked,
                    None => return result,
                },
                Err(Error::Transport(_) | Error::Timeout(_)) => None,
                Err(_) => return result,
            };
            // A pause that does not fit the time left is not started.
            let pause = asked.unwrap_or_else(|| backoff(attempt, (self.random)()));
            let left = self.deadline.saturating_duration_since(Instant::now());
            if !request.retry || attempt >= self.attempts || pause >= left {
                return result;
            }
            std::thread::sleep(pause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportError;
    use crate::net::http::Method;
    use crate::net::script::{Script, answer};
    use crate::net::url::Url;

    fn lost() -> Result<Response> {
        let url = Url::parse("https://kms.eu-west-1.amazonaws.com").unwrap();
        Err(Error::Transport(TransportError::new(Service::Kms, &url, "connection closed")))
    }

    fn run(service: Service, script: Vec<Result<Response>>, deadline: Duration) -> (Result<Response>, u32) {
        send(service, true, script, deadline)
    }

    fn send(
        service: Service,
        retry: bool,
        script: Vec<Result<Response>>,
        deadline: Duration,
    ) -> (Result<Response>, u32) {
        let script = Script::new(script);
        let retrying = Retrying {
            inner: &script,
            attempts: DEFAULT_ATTEMPTS,
            deadline: Instant::now() + deadline,
            random: || 0,
        };
        let request = Request {
            service,
            method: Method::Post,
            url: Url::parse("https://kms.eu-west-1.amazonaws.com").unwrap(),
            headers: vec![],
            body: vec![],
            retry,
        };
        let result = retrying.send(request);
        (result, script.sent().len() as u32)
    }

    #[test]
    fn transient_failures_are_retried_until_success() {
        let throttled = || answer(400, &[], r#"{"__type":"ThrottlingException","message":"slow down"}"#);
        let (result, attempts) =
            run(Service::Kms, vec![throttled(), lost(), answer(200, &[], "{}")], Duration::from_secs(5));
        let response = result.unwrap();
        assert_eq!((response.status, response.attempts, attempts), (200, 3, 3));
        let (result, attempts) =
            run(Service::Github, vec![answer(502, &[], ""), answer(201, &[], "{}")], Duration::from_secs(5));
        assert_eq!((result.unwrap().status, attempts), (201, 2));
    }

    #[test]
    fn what_will_not_heal_is_not_retried() {
        for (service, status, body) in [
            (Service::Kms, 400, r#"{"__type":"AccessDeniedException"}"#),
            (Service::Kms, 400, r#"{"__type":"InvalidSignatureException"}"#),
            (Service::Github, 401, ""),
            (Service::Github, 404, ""),
            (Service::Github, 422, ""),
            (Service::Github, 403, r#"{"message":"Resource not accessible by integration"}"#),
        ] {
            let (result, attempts) =
                run(service, vec![answer(status, &[], body), answer(200, &[], "")], Duration::from_secs(5));
            assert_eq!((result.unwrap().status, attempts), (status, 1), "{status} {body}");
        }
    }

    #[test]
    fn a_request_marked_not_to_retry_is_sent_once() {
        let (result, attempts) = send(
            Service::Oidc,
            false,
            vec![answer(503, &[], ""), answer(200, &[], "")],
            Duration::from_secs(5),
        );
        assert_eq!((result.unwrap().status, attempts), (503, 1));
        let (result, attempts) =
            send(Service::Oidc, false, vec![lost(), answer(200, &[], "")], Duration::from_secs(5));
        assert_eq!((result.err().and_then(|e| e.attempts()), attempts), (Some(1), 1));
    }

    #[test]
    fn attempts_and_the_deadline_bound_the_retries() {
        let (result, attempts) =
            run(Service::Github, (0..5).map(|_| answer(503, &[], "")).collect(), Duration::from_secs(5));
        assert_eq!((result.unwrap().attempts, attempts), (DEFAULT_ATTEMPTS, DEFAULT_ATTEMPTS));
        let (result, attempts) = run(Service::Kms, (0..5).map(|_| lost()).collect(), Duration::from_secs(5));
        assert_eq!((result.err().and_then(|e| e.attempts()), attempts), (Some(3), 3));
        // A wait that does not fit the deadline is not waited for.
        let limited = answer(429, &[("retry-after", "60")], "");
        let (result, attempts) =
            run(Service::Github, vec![limited, answer(201, &[], "")], Duration::from_secs(5));
        assert_eq!((result.unwrap().status, attempts), (429, 1));
        let short = answer(403, &[("retry-after", "0")], "");
        let (result, attempts) =
            run(Service::Github, vec![short, answer(201, &[], "")], Duration::from_secs(5));
        assert_eq!((result.unwrap().status, attempts), (201, 2));
    }

    /// Servers choose these numbers: none may overflow a wait or stretch it
    /// past the deadline.
    #[test]
    fn the_largest_waits_end_the_retries_at_once() {
        let max = u64::MAX.to_string();
        for headers in [
            vec![("retry-after", max.as_str())],
            vec![("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", max.as_str())],
        ] {
            let started = Instant::now();
            let (result, attempts) = run(
                Service::Github,
                vec![answer(429, &headers, ""), answer(201, &[], "")],
                Duration::from_secs(5),
            );
            assert_eq!((result.unwrap().status, attempts), (429, 1), "{headers:?}");
            assert!(started.elapsed() < Duration::from_secs(5));
        }
        assert!(backoff(u32::MAX, u64::MAX) < CAP);
        let limited = answer(429, &[("retry-after", &max)], "").unwrap();
        assert_eq!(verdict(Service::Github, &limited, u64::MAX), Some(Some(Duration::from_secs(u64::MAX))));
    }

    #[test]
    fn verdicts_and_backoff() {
        let now = 1_000;
        let reset =
            answer(403, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1010")], "").unwrap();
        assert_eq!(verdict(Service::Github, &reset, now), Some(Some(Duration::from_secs(10))));
        assert_eq!(verdict(Service::Sts, &answer(503, &[], "").unwrap(), now), Some(None));
        assert_eq!(verdict(Service::Sts, &answer(400, &[], "").unwrap(), now), None);
        let throttled =
            r#"{"__type":"com.amazonaws.kms#ThrottlingException:http://internal/","message":"x"}"#;
        assert_eq!(verdict(Service::Kms, &answer(400, &[], throttled).unwrap(), now), Some(None));
        let refused = r#"{"__type":"com.amazonaws.kms#NotFoundException","message":"x"}"#;
        assert_eq!(verdict(Service::Kms, &answer(400, &[], refused).unwrap(), now), None);
        let quota = answer(
            429,
            &[("retry-after", "2")],
            r#"{"errors":["request path \"transit/sign\": rate limit quota exceeded"]}"#,
        );
        assert_eq!(verdict(Service::Vault, &quota.unwrap(), now), Some(Some(Duration::from_secs(2))));
        assert_eq!(verdict(Service::Vault, &answer(429, &[], "").unwrap(), now), Some(None));
        assert_eq!(verdict(Service::Vault, &answer(403, &[], "").unwrap(), now), None);
        assert!(backoff(1, u64::MAX) < BASE);
        assert!(backoff(3, u64::MAX) < BASE * 4);
        assert!(backoff(30, u64::MAX) < CAP);
        assert_eq!(backoff(2, 0), Duration::ZERO);
    }
}
