//! The flow over a scripted transport: one signature for several owners,
//! revocation after a partial failure, the clock correction and its bound,
//! pagination, the STS exchange.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::net::script::{Script, Sent, answer};
use std::time::UNIX_EPOCH;

/// 2026-11-25T21:00:00Z, a Wednesday.
const NOW: u64 = 1_795_640_400;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn deployment(api: &str) -> Deployment {
    Deployment::example(api)
}

fn owner(name: &str) -> Target {
    Target::new(Installation::Owner(name.into()), &[], None, &[]).unwrap()
}

fn signed() -> Result<Response> {
    answer(200, &[], &format!(r#"{{"Signature":"{}"}}"#, STANDARD.encode([7u8; 256])))
}

fn installation(id: u64) -> Result<Response> {
    answer(200, &[], &format!(r#"{{"id":{id},"app_slug":"kms-app"}}"#))
}

fn token(value: &str) -> Result<Response> {
    let body =
        format!(r#"{{"token":"{value}","expires_at":"2026-11-25T22:00:00Z","repository_selection":"all"}}"#);
    answer(201, &[], &body)
}

/// GitHub's refusal of the JWT's times, with its clock at `offset` seconds from ours.
fn refused_times(offset: i64) -> Result<Response> {
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW.saturating_add_signed(offset)));
    let body = r#"{"message":"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"}"#;
    answer(401, &[("date", &date)], body)
}

/// The claims of the App JWT a request carried.
fn jwt_claims(sent: &Sent) -> serde_json::Value {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bearer = sent.headers.iter().find(|(n, _)| n == "authorization").unwrap().1.clone();
    let claims = bearer.trim_start_matches("Bearer ").split('.').nth(1).unwrap().to_owned();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
}

#[test]
fn several_owners_share_one_signature() {
    let script = Script::new([signed(), installation(1), token("ghs_a"), installation(2), token("ghs_b")]);
    let targets = [owner("a"), owner("b")];
    let minted =
        installation_tokens(&deployment("https://api.github.com"), &targets, &script, now()).unwrap();
    let tokens: Vec<&str> = minted.iter().map(|m| m.token.expose()).collect();
    assert_eq!(tokens, ["ghs_a", "ghs_b"]);
    assert_eq!(minted[1].app_slug.as_deref(), Some("kms-app"));
    assert_eq!(script.lines().iter().filter(|l| l.contains("kms")).count(), 1);
}

#[test]
fn a_partial_failure_revokes_what_was_minted_where_it_was_minted() {
    let not_installed = answer(404, &[], r#"{"message":"Not Found"}"#);
    let script =
        Script::new([signed(), installation(1), token("ghs_a"), not_installed, answer(204, &[], "")]);
    let d = deployment("https://ghe.example/api/v3");
    let err = installation_tokens(&d, &[owner("a"), owner("b")], &script, now()).unwrap_err();
    assert!(matches!(err, Error::Github(ref e) if e.status == 404), "{}", err.message());
    assert_eq!(
        script.lines(),
        [
            "POST https://kms.eu-west-1.amazonaws.com/",
            "GET https://ghe.example/api/v3/users/a/installation",
            "POST https://ghe.example/api/v3/app/installations/1/access_tokens",
            "GET https://ghe.example/api/v3/users/b/installation",
            "DELETE https://ghe.example/api/v3/installation/token",
        ]
    );
    let revoke = &script.sent()[4];
    assert!(revoke.headers.contains(&("authorization".into(), "Bearer ghs_a".into())));
}

#[test]
fn a_clock_off_by_minutes_is_corrected_once() {
    let script = Script::new([signed(), refused_times(-240), signed(), installation(1), token("ghs_a")]);
    installation_tokens(&deployment("https://api.github.com"), &[owner("a")], &script, now()).unwrap();
    let sent = script.sent();
    let (first, second) = (jwt_claims(&sent[1]), jwt_claims(&sent[3]));
    assert_eq!(first["iat"].as_u64(), Some(NOW - 60));
    assert_eq!(second["iat"].as_u64(), Some(NOW - 240 - 60), "signed again at GitHub's time");
}

#[test]
fn a_correction_past_the_bound_is_never_signed() {
    for offset in [-(MAX_CLOCK_CORRECTION_SECS as i64) - 1, 10 * 365 * 86_400] {
        let script = Script::new([signed(), refused_times(offset)]);
        let d = deployment("https://api.github.com");
        let err = installation_tokens(&d, &[owner("a")], &script, now()).unwrap_err();
        let Error::Github(e) = err else { panic!("not a GitHub error") };
        assert!(e.hint.is_some_and(|h| h.contains(&format!("{} s", offset.unsigned_abs()))));
        assert_eq!(script.sent().len(), 2, "one signature, one refusal, nothing more");
    }
}

#[test]
fn installations_follow_pages_up_to_the_limit() {
    let page = |next: bool| {
        let link = if next { r#"<https://api.github.com/app/installations?page=2>; rel="next""# } else { "" };
        answer(200, &[("link", link)], r#"[{"id": 1}]"#)
    };
    let api = Url::parse("https://api.github.com").unwrap();
    let script = Script::new([page(true), page(true), page(false)]);
    assert_eq!(installations(&api, &Secret::new("j"), &script).unwrap().len(), 3);
    assert_eq!(script.lines()[2], "GET https://api.github.com/app/installations?per_page=100&page=3");
    let endless = Script::new((0..100).map(|_| page(true)));
    assert_eq!(installations(&api, &Secret::new("j"), &endless).unwrap().len(), 100, "at most 100 pages");
}

#[test]
fn a_web_identity_is_exchanged_at_sts() {
    use crate::aws::credentials::Role;
    let source = Source::WebIdentity {
        role: Role { arn: "arn:aws:iam::111122223333:role/r".into(), session_name: "gha-1-1".into() },
        token: IdentityToken::GithubActions {
            request_url: Url::parse_with_query("https://pipelines.example/idtoken?api-version=2.0").unwrap(),
            request_token: Secret::new("request-token"),
            audience: "sts.amazonaws.com".into(),
        },
        sts: Url::parse("https://sts.eu-west-1.amazonaws.com").unwrap(),
    };
    let credentials = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
        <AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>sec</SecretAccessKey><SessionToken>tok</SessionToken>\
        </Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
    let script = Script::new([answer(200, &[], r#"{"value":"a.b.c"}"#), answer(200, &[], credentials)]);
    let keys = aws_credentials(&source, &script).unwrap();
    assert_eq!((keys.access_key_id.as_str(), keys.secret_access_key.expose()), ("ASIAX", "sec"));
    assert_eq!(
        script.lines(),
        [
            "GET https://pipelines.example/idtoken?api-version=2.0&audience=sts.amazonaws.com",
            "POST https://sts.eu-west-1.amazonaws.com/",
        ]
    );
    assert!(String::from_utf8(script.sent()[1].body.clone()).unwrap().contains("WebIdentityToken=a.b.c"));
}
