//! Reliability under faults: the real component in embedded wasmtime against
//! stand-ins that throttle, fail, hang, cut connections, flood, talk garbage
//! or run on another clock.
//!
//! Every test's first doc line reads `fault | outcome`: the reliability
//! table of docs/reliability.md is made of them, and
//! `the_readme_lists_every_fault_and_its_outcome` keeps it in step.
//!
//! Each call is also a leak check ([`common::mint`]): no secret in the
//! error, the guest's output or the host's log.

// The WIT `token-error` is returned by value, as the component does.
#![allow(clippy::result_large_err)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use standins::github::Fault as GithubFault;
use standins::kms::Fault as KmsFault;
use standins::server::{Response as Answer, Wire};
use standins::world::World;

/// The deadline these tests give a call (`TOKEN_TIMEOUT_SECONDS`).
const DEADLINE: Duration = Duration::from_secs(3);

/// Allowed on top of the deadline for instantiating the component on a busy
/// machine. Not a performance bound: it tells a call that kept its deadline
/// from one that hung.
const GRACE: Duration = Duration::from_secs(10);

/// `world.env()` with the tests' deadline.
fn env(world: &World) -> Env {
    env_with(world, &[("TOKEN_TIMEOUT_SECONDS", Some(&DEADLINE.as_secs().to_string()))])
}

/// A token for installation 1001 by id: one KMS request, one GitHub request.
fn by_id() -> TokenRequest {
    request(Some(Installation::Id(1001)))
}

/// Mints and checks that the call ended within the deadline.
fn mint_within_deadline(env: &Env, request: &TokenRequest) -> Result<InstallationToken, TokenError> {
    let started = Instant::now();
    let result = mint(env, request).0;
    let elapsed = started.elapsed();
    assert!(elapsed < DEADLINE + GRACE, "the call took {elapsed:?}, past its {DEADLINE:?} deadline");
    result
}

fn kms_fault(status: u16, code: &str) -> KmsFault {
    KmsFault { status, code: code.into(), message: "injected".into() }
}

fn github_fault(path: &str, status: u16, retry_after: Option<u64>) -> GithubFault {
    GithubFault { path_suffix: path.into(), status, message: "injected".into(), retry_after }
}

/// An answer in place of the service's own.
fn answer(status: u16, content_type: &str, body: &str) -> Wire {
    Wire::Answer(Answer {
        status,
        headers: vec![
            ("content-type".into(), content_type.into()),
            ("x-amzn-requestid".into(), "req-injected".into()),
            ("x-github-request-id".into(), "GH:injected".into()),
        ],
        body: body.into(),
    })
}

/// The attempts an error reports.
fn attempts(error: &TokenError) -> u32 {
    match error {
        TokenError::CredentialsRejected(e)
        | TokenError::Kms(e)
        | TokenError::Sts(e)
        | TokenError::Github(e) => e.attempts,
        TokenError::MalformedResponse(e) => e.attempts,
        TokenError::Transport(e) | TokenError::Timeout(e) => e.attempts,
        TokenError::InvalidInput(_) | TokenError::CredentialsMissing(_) => 0,
    }
}

/// KMS throttles twice, then signs | a token; 3 attempts at KMS, 1 signature
#[test]
fn kms_throttles_twice_then_signs() {
    let world = World::start("");
    world.kms.set_fault_times(kms_fault(400, "ThrottlingException"), 2);
    mint_within_deadline(&env(&world), &by_id()).expect("a token after two retries");
    assert_eq!(world.kms.rejections(), ["ThrottlingException", "ThrottlingException"]);
    assert_eq!((world.kms.server().requests(), world.kms.signatures()), (3, 1));
}

/// KMS throttles on every attempt | `kms` error `ThrottlingException`, 3 attempts
#[test]
fn kms_throttles_on_every_attempt() {
    let world = World::start("");
    world.kms.set_fault(Some(kms_fault(400, "ThrottlingException")));
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let e = service_error(&err);
    assert!(matches!(err, TokenError::Kms(_)), "{err:?}");
    assert_eq!((e.code.as_deref(), e.attempts), (Some("ThrottlingException"), 3));
    assert_eq!(world.kms.server().requests(), 3);
}

/// KMS answers 500 `KMSInternalException`, then 503, then signs | a token; 3 attempts at KMS
#[test]
fn kms_internal_errors_then_signs() {
    let world = World::start("");
    world.kms.set_fault_times(kms_fault(500, "KMSInternalException"), 1);
    world.kms.server().inject(answer(503, "text/html", "<html>Service Unavailable</html>"), 1);
    mint_within_deadline(&env(&world), &by_id()).expect("a token");
    assert_eq!((world.kms.server().requests(), world.kms.signatures()), (3, 1));
}

/// GitHub answers 500, then mints | a token; 2 attempts at GitHub
#[test]
fn github_500_then_mints() {
    let world = World::start("");
    world.github.set_fault_times(github_fault("/access_tokens", 500, None), 1);
    let token = mint_within_deadline(&env(&world), &by_id()).expect("a token");
    assert_eq!(world.github.server().requests(), 2);
    assert_eq!(token.token, world.github.issued()[0].token);
}

/// GitHub's secondary rate limit: 403 with `retry-after: 1` | waited out, a token; 2 attempts
#[test]
fn github_secondary_rate_limit_is_waited_out() {
    let world = World::start("");
    world.github.set_fault_times(github_fault("/access_tokens", 403, Some(1)), 1);
    let started = Instant::now();
    mint_within_deadline(&env(&world), &by_id()).expect("a token after the wait");
    assert!(started.elapsed() >= Duration::from_secs(1), "the asked wait was kept");
    assert_eq!(world.github.server().requests(), 2);
}

/// GitHub's rate limit asks for a wait past the deadline (429, `retry-after: 60`) | `github` error 429 at once, 1 attempt, the wait in its hint
#[test]
fn github_rate_limit_past_the_deadline_is_not_waited() {
    let world = World::start("");
    world.github.set_fault(Some(github_fault("/access_tokens", 429, Some(60))));
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let e = service_error(&err);
    assert_eq!((e.status, e.attempts), (429, 1));
    assert!(e.hint.as_deref().is_some_and(|hint| hint.contains("60 s")), "{:?}", e.hint);
    assert_eq!(world.github.server().requests(), 1);
}

/// GitHub asks for the longest wait there is (429, `retry-after: 18446744073709551615`) | `github` error 429 at once, 1 attempt, no trap
#[test]
fn the_longest_retry_after_is_not_waited() {
    let world = World::start("");
    world.github.set_fault(Some(github_fault("/access_tokens", 429, Some(u64::MAX))));
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let e = service_error(&err);
    assert_eq!((e.status, e.attempts), (429, 1));
}

/// What will not heal: KMS `AccessDeniedException`, `DisabledException`; GitHub 401, 404, 422 | the error, 1 attempt each
#[test]
fn lasting_refusals_are_tried_once() {
    let world = World::start("");
    for code in ["AccessDeniedException", "DisabledException"] {
        world.kms.set_fault(Some(kms_fault(400, code)));
        let before = world.kms.server().requests();
        let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
        assert_eq!((service_error(&err).code.as_deref(), attempts(&err)), (Some(code), 1));
        assert_eq!(world.kms.server().requests(), before + 1);
    }
    world.kms.set_fault(None);
    for status in [401, 404, 422] {
        world.github.set_fault(Some(github_fault("/access_tokens", status, None)));
        let before = world.github.server().requests();
        let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
        assert_eq!((service_error(&err).status, attempts(&err)), (status, 1));
        assert_eq!(world.github.server().requests(), before + 1);
    }
}

/// KMS accepts the connection and never answers | `timeout` naming KMS within the deadline
#[test]
fn a_hanging_kms_times_out_within_the_deadline() {
    let world = World::start("");
    world.kms.server().inject(Wire::Hang, 10);
    match mint_within_deadline(&env(&world), &by_id()) {
        Err(TokenError::Timeout(e)) => {
            assert_eq!((e.service, e.endpoint.as_str()), (Service::Kms, world.kms.url().as_str()));
            assert!(e.attempts >= 1);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(world.github.seen().is_empty());
}

/// GitHub never answers | `timeout` naming GitHub within the deadline
#[test]
fn a_hanging_github_times_out_within_the_deadline() {
    let world = World::start("");
    world.github.server().inject(Wire::Hang, 10);
    match mint_within_deadline(&env(&world), &by_id()) {
        Err(TokenError::Timeout(e)) => assert_eq!(e.service, Service::Github),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// GitHub sends its answer one byte every 100 ms | `timeout` naming GitHub within the deadline
#[test]
fn a_dripping_answer_times_out_within_the_deadline() {
    let world = World::start("");
    world.github.server().inject(Wire::Drip, 10);
    match mint_within_deadline(&env(&world), &by_id()) {
        Err(TokenError::Timeout(e)) => assert_eq!(e.service, Service::Github),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// GitHub closes the connection mid-body once | retried, a token; 2 attempts
#[test]
fn a_connection_closed_mid_body_is_retried() {
    let world = World::start("");
    world.github.server().inject(Wire::CloseMidBody, 1);
    mint_within_deadline(&env(&world), &by_id()).expect("a token");
    assert_eq!(world.github.server().requests(), 2);
}

/// KMS closes the connection mid-body on every attempt | `transport` error naming KMS, 3 attempts
#[test]
fn a_connection_closed_mid_body_every_time() {
    let world = World::start("");
    world.kms.server().inject(Wire::CloseMidBody, 10);
    match mint_within_deadline(&env(&world), &by_id()) {
        Err(TokenError::Transport(e)) => {
            assert_eq!((e.service, e.attempts), (Service::Kms, 3));
            assert!(e.message.contains("read the answer") || e.message.contains("ended"), "{e:?}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_eq!(world.kms.server().requests(), 3);
}

/// A 10 MiB answer, announced by `content-length` or not | `malformed-response` "larger than 1048576 bytes", 1 attempt
#[test]
fn a_10_mib_answer_is_refused_not_buffered() {
    let world = World::start("");
    for announced in [true, false] {
        world.kms.server().inject(Wire::Huge { bytes: 10 << 20, announced }, 1);
        match mint_within_deadline(&env(&world), &by_id()) {
            Err(TokenError::MalformedResponse(e)) => {
                assert_eq!((e.service, e.status, e.attempts), (Service::Kms, 200, 1));
                assert!(e.message.contains("larger than 1048576 bytes"), "{e:?}");
            }
            other => panic!("announced {announced}: expected malformed-response, got {other:?}"),
        }
    }
}

/// GitHub answers bytes that are not HTTP | `transport` error naming GitHub, 3 attempts
#[test]
fn garbage_instead_of_http() {
    let world = World::start("");
    world.github.server().inject(Wire::Garbage, 10);
    match mint_within_deadline(&env(&world), &by_id()) {
        Err(TokenError::Transport(e)) => assert_eq!((e.service, e.attempts), (Service::Github, 3)),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

/// KMS answers 200 with HTML, nothing, invalid JSON, a wrong type, a `Signature` that is not base64 or not 256 bytes | `malformed-response` naming KMS, the status, the request id and what was wrong
#[test]
fn malformed_kms_answers_are_named() {
    let world = World::start("");
    let short = format!(r#"{{"Signature":"{}"}}"#, "A".repeat(340)); // 255 bytes
    let cases = [
        (answer(200, "text/html", "<html><body>Gateway</body></html>"), "not the expected JSON"),
        (answer(200, "application/x-amz-json-1.1", ""), "not the expected JSON"),
        (answer(200, "application/x-amz-json-1.1", "{\"Signature\":"), "not the expected JSON"),
        (answer(200, "application/x-amz-json-1.1", r#"{"Signature":256}"#), "not the expected JSON"),
        (answer(200, "application/x-amz-json-1.1", r#"{"Signature":"@@@"}"#), "not base64"),
        (answer(200, "application/x-amz-json-1.1", &short), "255 bytes, not the 256"),
    ];
    for (wire, what) in cases {
        world.kms.server().inject(wire, 1);
        match mint_within_deadline(&env(&world), &by_id()) {
            Err(TokenError::MalformedResponse(e)) => {
                assert_eq!((e.service, e.status, e.attempts), (Service::Kms, 200, 1));
                assert_eq!(e.request_id.as_deref(), Some("req-injected"));
                assert!(e.message.contains(what), "{what}: {e:?}");
            }
            other => panic!("{what}: expected malformed-response, got {other:?}"),
        }
    }
    assert!(world.github.seen().is_empty(), "nothing went to GitHub without a signature");
}

/// GitHub answers an HTML error page (502) on every attempt | `github` error 502 saying the content type, 3 attempts
#[test]
fn an_html_error_page_is_reported_with_its_content_type() {
    let world = World::start("");
    world.github.server().inject(answer(502, "text/html", "<html>Bad gateway</html>"), 10);
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let e = service_error(&err);
    assert_eq!((e.status, e.attempts), (502, 3));
    assert!(e.message.contains("content-type text/html"), "{e:?}");
}

/// GitHub answers 200/201 with HTML, nothing, a token that is missing or not text, a lookup without an id | `malformed-response` naming GitHub and what was wrong, 1 attempt
#[test]
fn malformed_github_answers_are_named() {
    let world = World::start("");
    let lookup = request(owner("octo-org"));
    let cases = [
        ("HTML for a token", by_id(), answer(201, "text/html", "<html>ok</html>"), "access token answer"),
        ("nothing for a token", by_id(), answer(201, "application/json", ""), "access token answer"),
        (
            "no token",
            by_id(),
            answer(201, "application/json", r#"{"expires_at":"2026-11-25T21:00:00Z"}"#),
            "token",
        ),
        (
            "a number for a token",
            by_id(),
            answer(201, "application/json", r#"{"token":7,"expires_at":"x"}"#),
            "token",
        ),
        (
            "a lookup without an id",
            lookup.clone(),
            answer(200, "application/json", r#"{"account":{}}"#),
            "installation",
        ),
        (
            "a lookup with a text id",
            lookup,
            answer(200, "application/json", r#"{"id":"1001"}"#),
            "installation",
        ),
    ];
    for (name, request, wire, what) in cases {
        world.github.server().inject(wire, 1);
        match mint_within_deadline(&env(&world), &request) {
            Err(TokenError::MalformedResponse(e)) => {
                assert_eq!((e.service, e.attempts), (Service::Github, 1), "{name}");
                assert_eq!(e.request_id.as_deref(), Some("GH:injected"), "{name}");
                assert!(e.message.contains(what), "{name}: {what}: {e:?}");
            }
            other => panic!("{name}: expected malformed-response naming {what}, got {other:?}"),
        }
    }
}

/// STS answers 503, then exchanges the web identity | keyless credentials, a token; 2 attempts at STS
#[test]
fn sts_unavailable_once_then_exchanges() {
    let world = World::start("");
    world.sts.server().inject(answer(503, "text/xml", "<ErrorResponse/>"), 1);
    let env = with(&world.keyless_env(), &[("TOKEN_TIMEOUT_SECONDS", Some("3"))]);
    mint_within_deadline(&env, &by_id()).expect("a token with keyless credentials");
    assert_eq!(world.sts.server().requests(), 2);
}

/// GitHub's clock 4 minutes behind, shown by its `Date` header | the JWT is signed again with GitHub's time, a token; 2 KMS signatures
#[test]
fn github_4_minutes_behind_is_corrected_from_its_date() {
    let world = World::start("");
    world.github.set_clock(-240, -240);
    mint_within_deadline(&env(&world), &by_id()).expect("a token with corrected times");
    assert_eq!(world.kms.signatures(), 2, "one more KMS call signs the corrected JWT");
    let jwts = world.github.jwts();
    let iat = |jwt: &str| {
        standins::github::verify_rs256(&world.kms.public_key(), jwt).unwrap()["iat"].as_i64().unwrap()
    };
    let shift = iat(&jwts[0]) - iat(jwts.last().unwrap());
    assert!((235..=245).contains(&shift), "the corrected JWT is 4 minutes earlier: {shift}");
}

/// GitHub's clock 5 minutes ahead | a token, no correction needed (the JWT's 10 minutes cover it); 1 signature
#[test]
fn github_5_minutes_ahead_needs_no_correction() {
    let world = World::start("");
    world.github.set_clock(300, 300);
    mint_within_deadline(&env(&world), &by_id()).expect("a token");
    assert_eq!(world.kms.signatures(), 1);
}

/// GitHub's clock 15 minutes behind, past the 5-minute bound | `github` error 401 saying how far the clock is off; 1 signature, no JWT signed for GitHub's date
#[test]
fn github_15_minutes_behind_is_not_corrected() {
    let world = World::start("");
    world.github.set_clock(-900, -900);
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let hint = service_error(&err).hint.clone().unwrap_or_default();
    assert!(hint.contains("clock is 90") && hint.contains("ahead of GitHub's"), "{hint}");
    assert_eq!(world.kms.signatures(), 1);
}

/// GitHub's `Date` says 2036 | `github` error 401 saying how far the clock is off; 1 signature, no JWT dated 2036
#[test]
fn a_date_years_ahead_is_not_signed_for() {
    let world = World::start("");
    let ten_years = 10 * 365 * 86_400;
    world.github.set_clock(ten_years, ten_years);
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let hint = service_error(&err).hint.clone().unwrap_or_default();
    assert!(hint.contains("behind GitHub's"), "{hint}");
    assert_eq!(world.kms.signatures(), 1, "KMS never signed a JWT for GitHub's date");
}

/// GitHub refuses the JWT's times and its `Date` does not help | `github` error 401 saying the clock is off and by how much; one correction at most
#[test]
fn a_correction_that_does_not_help_says_how_far_the_clock_is_off() {
    let world = World::start("");
    world.github.set_clock(-900, -240);
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    let e = service_error(&err);
    assert_eq!(e.status, 401);
    let hint = e.hint.as_deref().unwrap_or_default();
    assert!(hint.contains("clock is 24") && hint.contains("ahead of GitHub's"), "{hint}");
    assert_eq!(world.kms.signatures(), 2);

    world.github.set_clock(-300, 0);
    let err = mint_within_deadline(&env(&world), &by_id()).unwrap_err();
    assert!(service_error(&err).hint.as_deref().is_some_and(|h| h.contains("clock")));
    assert_eq!(world.kms.signatures(), 4, "one correction at most per call");
}

/// The reliability table of docs/reliability.md, made of this file's fault tests.
fn table() -> String {
    let source = include_str!("faults.rs");
    let mut rows = vec!["| Fault | Outcome | Test |".to_owned(), "|---|---|---|".to_owned()];
    let mut doc = None;
    for line in source.lines() {
        if let Some(text) = line.strip_prefix("/// ") {
            doc = doc.or(Some(text));
        } else if let Some(name) = line.strip_prefix("fn ").and_then(|l| l.split('(').next()) {
            if let Some((fault, outcome)) = doc.and_then(|d| d.split_once(" | ")) {
                rows.push(format!("| {fault} | {outcome} | `{name}` |"));
            }
            doc = None;
        } else if !line.starts_with("#[") {
            doc = None;
        }
    }
    rows.join("\n")
}

/// Keeps docs/reliability.md's table in step with this file.
#[test]
fn the_readme_lists_every_fault_and_its_outcome() {
    let table = table();
    assert!(table.lines().count() > 15, "{table}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/reliability.md")).unwrap();
    assert!(
        readme.contains(&table),
        "docs/reliability.md should hold this table (from tests/faults.rs):\n\n{table}\n"
    );
}
