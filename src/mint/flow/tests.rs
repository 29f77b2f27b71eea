//! The flow over a scripted transport: one signature for several owners,
//! revocation after a partial failure, the clock correction and its bound,
//! pagination, the STS exchange.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;
use crate::cache::Cache;
use crate::github::jwt::AppId;
use crate::net::script::{Script, Sent, answer};
use crate::store::Store;
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
        installation_tokens(&deployment("https://api.github.com"), &targets, &script, now(), &Cache::none())
            .unwrap();
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
    let err = installation_tokens(&d, &[owner("a"), owner("b")], &script, now(), &Cache::none()).unwrap_err();
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
    installation_tokens(&deployment("https://api.github.com"), &[owner("a")], &script, now(), &Cache::none())
        .unwrap();
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
        let err = installation_tokens(&d, &[owner("a")], &script, now(), &Cache::none()).unwrap_err();
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
    use crate::aws::credentials::{IdentityToken, Role, Source};
    use crate::mint::signer::aws_credentials;
    let source = Source::WebIdentity {
        role: Role { arn: "arn:aws:iam::111122223333:role/r".into(), session_name: "gha-1-1".into() },
        token: IdentityToken::GithubActions {
            request_url: Url::parse_with_query("https://pipelines.example/idtoken?api-version=2.0").unwrap(),
            request_token: Secret::new("request-token"),
            audience: Some("sts.amazonaws.com".into()),
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

/// A cache in memory, sealing with a fixed test key, keeping tokens if `tokens`.
struct Warm {
    store: crate::store::Memory,
    key: crate::cache::SealingKey,
}

impl Warm {
    fn new() -> Warm {
        let key = crate::cache::SealingKey::parse("CACHE_KEY", &STANDARD.encode([9u8; 32])).unwrap();
        Warm { store: crate::store::Memory::new(), key }
    }

    fn cache(&self, tokens: bool) -> Cache<'_> {
        Cache::new(&self.store, Some(&self.key), tokens, || 3)
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW + secs)
}

fn mint_at(
    warm: &Warm,
    tokens: bool,
    secs: u64,
    answers: Vec<Result<Response>>,
) -> (Vec<String>, Result<Vec<MintedToken>>) {
    let script = Script::new(answers);
    let cache = warm.cache(tokens);
    let minted =
        installation_tokens(&deployment("https://api.github.com"), &[owner("a")], &script, at(secs), &cache);
    (script.lines(), minted)
}

const MINT: &str = "POST https://api.github.com/app/installations/1/access_tokens";

/// After one call, the next reuses the App JWT (no KMS) and the
/// installation's id (no lookup): one request, the mint; until 60 s before
/// the JWT expires, when it is signed again (the id still kept, for an hour).
#[test]
fn a_warm_call_makes_one_request() {
    let warm = Warm::new();
    let (cold, _) = mint_at(&warm, false, 0, vec![signed(), installation(1), token("ghs_a")]);
    assert_eq!(cold.len(), 3);
    let (warm_lines, minted) = mint_at(&warm, false, 10, vec![token("ghs_b")]);
    assert_eq!(
        (warm_lines, minted.unwrap()[0].app_slug.as_deref()),
        (vec![MINT.to_owned()], Some("kms-app"))
    );
    let margin = crate::github::jwt::LIFETIME_SECS - JWT_MARGIN_SECS;
    assert_eq!(mint_at(&warm, false, margin - 1, vec![token("ghs_c")]).0, [MINT]);
    let (resigned, _) = mint_at(&warm, false, margin, vec![signed(), token("ghs_d")]);
    assert_eq!(resigned, ["POST https://kms.eu-west-1.amazonaws.com/", MINT], "signed again, id still kept");
    let (relooked, _) =
        mint_at(&warm, false, INSTALLATION_TTL_SECS, vec![signed(), installation(1), token("ghs_e")]);
    assert_eq!(relooked.len(), 3, "an hour on, the id is looked up again");
}

/// A kept id GitHub no longer knows (404: the App was reinstalled) is
/// dropped and looked up once more; a kept JWT GitHub refuses (401) is
/// replaced by a fresh signature once.
#[test]
fn a_stale_id_or_refused_jwt_is_replaced_once() {
    let warm = Warm::new();
    mint_at(&warm, false, 0, vec![signed(), installation(1), token("ghs_a")]).1.unwrap();
    let gone = || answer(404, &[], r#"{"message":"Not Found"}"#);
    let (lines, minted) = mint_at(&warm, false, 5, vec![gone(), installation(2), token("ghs_b")]);
    assert_eq!(minted.unwrap()[0].installation_id, 2);
    assert_eq!(lines[1], "GET https://api.github.com/users/a/installation");
    let (lines, minted) = mint_at(&warm, false, 6, vec![gone(), installation(3), gone()]);
    assert!(minted.is_err() && lines.len() == 3, "once: {lines:?}");

    let warm = Warm::new();
    mint_at(&warm, false, 0, vec![signed(), installation(1), token("ghs_a")]).1.unwrap();
    let bad = || answer(401, &[], r#"{"message":"A JSON web token could not be decoded"}"#);
    let (lines, minted) = mint_at(&warm, false, 5, vec![bad(), signed(), token("ghs_b")]);
    assert!(minted.is_ok() && lines[1] == "POST https://kms.eu-west-1.amazonaws.com/", "{lines:?}");
    let script = Script::new([signed(), installation(1), bad()]);
    let cold = installation_tokens(
        &deployment("https://api.github.com"),
        &[owner("a")],
        &script,
        at(6),
        &Cache::none(),
    );
    assert!(cold.is_err() && script.lines().len() == 3, "a JWT signed in this call is not signed again");
}

/// Tokens are kept only when the deployment says so, per exact target,
/// until 5 minutes before they expire; then minted again.
#[test]
fn tokens_are_kept_when_asked_until_five_minutes_before_they_expire() {
    let warm = Warm::new();
    mint_at(&warm, true, 0, vec![signed(), installation(1), token("ghs_a")]).1.unwrap();
    let (lines, minted) = mint_at(&warm, true, 10, vec![]);
    assert_eq!((lines.len(), minted.unwrap()[0].token.expose()), (0, "ghs_a"), "no request at all");
    // token() expires at 22:00, an hour after NOW.
    assert_eq!(mint_at(&warm, true, 3600 - TOKEN_MARGIN_SECS - 1, vec![]).0.len(), 0);
    let (lines, _) = mint_at(&warm, true, 3600 - TOKEN_MARGIN_SECS, vec![signed(), token("ghs_b")]);
    assert_eq!(lines.last().map(String::as_str), Some(MINT));
    let (lines, _) = mint_at(&warm, false, 20, vec![token("ghs_c")]);
    assert_eq!(lines, [MINT], "not kept when the deployment does not say so");
    let script = Script::new([token("ghs_d")]);
    let narrower = Target::new(Installation::Owner("a".into()), &["w".into()], None, &[]).unwrap();
    installation_tokens(
        &deployment("https://api.github.com"),
        &[narrower],
        &script,
        at(30),
        &warm.cache(true),
    )
    .unwrap();
    assert_eq!(script.lines(), [MINT], "another scope is another token");
}

/// A store that keeps nothing or garbage, or entries sealed under another
/// key: the call goes as if cold, and overwrites what it could not read.
#[test]
fn what_cannot_be_read_is_no_cache() {
    let (cold, _) = mint_at(&Warm::new(), false, 0, vec![signed(), installation(1), token("ghs_a")]);
    let script = Script::new([signed(), installation(1), token("ghs_a")]);
    installation_tokens(&deployment("https://api.github.com"), &[owner("a")], &script, at(0), &Cache::none())
        .unwrap();
    assert_eq!(script.lines(), cold, "a store that fails: no cache, no error");

    let warm = Warm::new();
    mint_at(&warm, false, 0, vec![signed(), installation(1), token("ghs_a")]).1.unwrap();
    let other = crate::cache::SealingKey::parse("CACHE_KEY", &STANDARD.encode([1u8; 32])).unwrap();
    let script = Script::new([signed(), token("ghs_b")]);
    let cache = Cache::new(&warm.store, Some(&other), false, || 5);
    installation_tokens(&deployment("https://api.github.com"), &[owner("a")], &script, at(5), &cache)
        .unwrap();
    assert_eq!(script.lines().len(), 2, "a JWT sealed under another key is signed again (the id is plain)");
    for key in crate::store::tests_keys(&warm.store) {
        warm.store.set(&key, b"\xff not an entry");
    }
    assert_eq!(mint_at(&warm, false, 6, vec![signed(), installation(1), token("ghs_c")]).0.len(), 3);
    assert_eq!(mint_at(&warm, false, 7, vec![token("ghs_d")]).0, [MINT], "and overwritten");
}

/// A call that fails half-way revokes what it minted, and keeps none of it:
/// the next call for the first target mints afresh.
#[test]
fn a_failed_calls_tokens_are_not_kept() {
    let warm = Warm::new();
    let refused =
        || answer(422, &[], r#"{"message":"There is at least one repository that does not exist"}"#);
    let script = Script::new([
        signed(),
        installation(1),
        token("ghs_a"),
        installation(2),
        refused(),
        answer(204, &[], ""),
    ]);
    let targets = [owner("a"), owner("b")];
    let failed = installation_tokens(
        &deployment("https://api.github.com"),
        &targets,
        &script,
        at(0),
        &warm.cache(true),
    );
    assert!(failed.is_err());
    assert_eq!(
        script.lines().last().map(String::as_str),
        Some("DELETE https://api.github.com/installation/token")
    );
    let (lines, minted) = mint_at(&warm, true, 5, vec![token("ghs_c")]);
    assert_eq!((lines, minted.unwrap()[0].token.expose()), (vec![MINT.to_owned()], "ghs_c"), "minted afresh");
}

/// Installation ids and tokens are an App's own: another App sharing the
/// store and its key finds none of them.
#[test]
fn another_app_finds_nothing_of_this_ones() {
    let warm = Warm::new();
    mint_at(&warm, true, 0, vec![signed(), installation(1), token("ghs_a")]).1.unwrap();
    let other = Deployment {
        jwt: JwtSettings { app: AppId::Number(43), ..deployment("https://api.github.com").jwt },
        ..deployment("https://api.github.com")
    };
    let script = Script::new([signed(), installation(7), token("ghs_b")]);
    let minted = installation_tokens(&other, &[owner("a")], &script, at(5), &warm.cache(true)).unwrap();
    assert_eq!((script.lines().len(), minted[0].installation_id), (3, 7), "signed, looked up and minted");
}
