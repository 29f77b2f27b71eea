//! The flow: App JWT signed by KMS, installation lookup, token, revocation.
//!
//! Each step builds a request with a pure module, sends it through a
//! [`Transport`], and reads the answer with the same module.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::{self, Env, JwtSettings, TokenSettings};
use crate::credentials::{self, AwsCredentials, IdentityToken, Source};
use crate::error::{Error, Result};
use crate::github::{self, MintedToken, Scope, Target};
use crate::http::{Response, Transport, Url};
use crate::jwt::{SignedJwt, UnsignedJwt};
use crate::kms::Region;
use crate::secret::Secret;
use crate::{kms, oidc, sts};

/// AWS credentials from the first source the environment configures: keys
/// as they are; a web identity (the runner's OIDC token, or a token file)
/// exchanged at STS in `region` for temporary credentials.
pub fn aws_credentials(env: &Env, region: &Region, http: &impl Transport) -> Result<AwsCredentials> {
    let (role, token) = match credentials::source(env)? {
        Source::Keys(keys) => return Ok(keys),
        Source::WebIdentity { role, token } => (role, token),
    };
    let sts_endpoint = config::sts_endpoint(env, region)?;
    let web_identity = match token {
        IdentityToken::GithubActions { request_url, request_token, audience } => {
            let response = http.send(oidc::id_token_request(&request_url, &request_token, &audience))?;
            oidc::read_id_token(&request_url, &response, &request_token)?
        }
        IdentityToken::File(path) => read_token_file(&path)?,
    };
    let response = http.send(sts::assume_role_request(&sts_endpoint, &role, &web_identity))?;
    sts::read_credentials(&sts_endpoint, &response, &web_identity)
}

/// The most a web identity token file may hold: tokens are a few KiB.
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// The web identity token in the file at `path`, at most
/// [`MAX_TOKEN_FILE_BYTES`]; no copy of it outlives the call unzeroed.
fn read_token_file(path: &str) -> Result<Secret> {
    use std::io::Read;
    use zeroize::Zeroize;
    let missing = |why: String| {
        Error::CredentialsMissing(format!("could not read AWS_WEB_IDENTITY_TOKEN_FILE {path}: {why}"))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_TOKEN_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| {
            missing(format!("{e} (the host must give access to its folder, e.g. wasmtime run --dir)"))
        })?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        bytes.zeroize();
        return Err(missing(format!("it is larger than {MAX_TOKEN_FILE_BYTES} bytes")));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        e.into_bytes().zeroize();
        missing("it is not UTF-8".into())
    })?;
    let token = Secret::new(text.trim());
    text.zeroize();
    Ok(token)
}

/// The largest clock correction made for GitHub, in seconds. A clock that
/// is further off is broken, not drifting, and the correction is a date
/// chosen by whoever answered as GitHub: bounded, a JWT signed on its word
/// is still void within 5 + 9 minutes of now, not in a future window of
/// the answerer's choosing.
pub const MAX_CLOCK_CORRECTION_SECS: u64 = 5 * 60;

/// Signs an App JWT for `settings.app` with one KMS `Sign` call.
pub fn app_jwt(
    settings: &JwtSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<SignedJwt> {
    sign_jwt(settings, credentials, http, now, 0)
}

/// An App JWT whose times are `github_offset` seconds from `now` (GitHub's
/// clock); the KMS request itself is signed at `now`, AWS's clock.
fn sign_jwt(
    settings: &JwtSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
    github_offset: i64,
) -> Result<SignedJwt> {
    let unix_now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let unsigned = UnsignedJwt::new(&settings.app, unix_now.saturating_add_signed(github_offset));
    let request = kms::sign_request(&settings.kms, credentials, unsigned.signing_input(), now)?;
    let response = http.send(request)?;
    let signature = kms::read_sign_response(&settings.kms.endpoint, &response, credentials)?;
    Ok(unsigned.sign(&signature))
}

/// Mints an installation token: one KMS call, then GitHub.
pub fn installation_token(
    settings: &TokenSettings,
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<MintedToken> {
    let mut minted = installation_tokens(std::slice::from_ref(settings), credentials, http, now)?;
    Ok(minted.remove(0))
}

/// Mints a token for each of `settings` (all for the same App and key) with
/// one App JWT. All or nothing: if one fails, those minted are revoked.
///
/// If GitHub refuses the JWT's times and its `Date` header shows this
/// machine's clock is off by at most [`MAX_CLOCK_CORRECTION_SECS`], the JWT
/// is signed once more with GitHub's time (one more KMS call) and the
/// request tried again; if that fails too, or the clock is further off, the
/// error says by how much the clock is off.
pub fn installation_tokens(
    settings: &[TokenSettings],
    credentials: &AwsCredentials,
    http: &impl Transport,
    now: SystemTime,
) -> Result<Vec<MintedToken>> {
    let Some(first) = settings.first() else { return Ok(Vec::new()) };
    let mut jwt = app_jwt(&first.jwt, credentials, http, now)?;
    let mut corrected = false;
    let mut minted: Vec<MintedToken> = Vec::new();
    while let Some(s) = settings.get(minted.len()) {
        match attempt(&s.api, &s.target, &s.scope, &jwt.token, http, now) {
            Ok(token) => minted.push(token),
            Err(Failed::Clock { offset, .. })
                if !corrected && offset.unsigned_abs() <= MAX_CLOCK_CORRECTION_SECS =>
            {
                corrected = true;
                jwt = sign_jwt(&first.jwt, credentials, http, now, offset)?;
            }
            Err(failed) => {
                // Each token is revoked where it was minted.
                for (token, minted_by) in minted.iter().zip(settings) {
                    let _ = revoke(&minted_by.api, &token.token, http);
                }
                return Err(failed.into_error());
            }
        }
    }
    Ok(minted)
}

/// Why one token could not be minted.
enum Failed {
    /// GitHub refused the JWT's times; its clock is `offset` seconds ahead of ours.
    Clock { offset: i64, error: Error },
    /// Anything else.
    Other(Error),
}

impl Failed {
    fn into_error(self) -> Error {
        match self {
            // A clock the `Date` header shows to be off: say by how much.
            Failed::Clock { offset, error: Error::Github(mut e) } if offset.abs() >= 5 => {
                let relation = if offset > 0 { "behind" } else { "ahead of" };
                e.hint = Some(format!(
                    "this machine's clock is {} s {relation} GitHub's (by its Date header): correct the clock",
                    offset.unsigned_abs()
                ));
                Error::Github(e)
            }
            Failed::Clock { error, .. } | Failed::Other(error) => error,
        }
    }
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed::Other(error)
    }
}

/// The lookup (unless the id is known) and the token request; a refusal of
/// the JWT's times is told apart.
fn attempt(
    api: &Url,
    target: &Target,
    scope: &Scope,
    jwt: &Secret,
    http: &impl Transport,
    now: SystemTime,
) -> Result<MintedToken, Failed> {
    let local_now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let checked = |response: Response| -> Result<Response, Failed> {
        match github::clock_offset(&response, local_now) {
            Some(offset) => Err(Failed::Clock { offset, error: github::read_error(&response, jwt) }),
            None => Ok(response),
        }
    };
    let lookup = match target {
        Target::Id(id) => github::Lookup { id: *id, app_slug: None },
        _ => github::read_installation(
            api,
            &checked(http.send(github::installation_request(api, target, jwt))?)?,
            jwt,
        )?,
    };
    let response = checked(http.send(github::access_token_request(api, lookup.id, scope, jwt))?)?;
    let minted = github::read_access_token(api, &response, lookup.id, jwt)?;
    Ok(MintedToken { app_slug: lookup.app_slug, ..minted })
}

/// Every installation of the App, following pagination (at most 100 pages).
pub fn installations(api: &Url, jwt: &Secret, http: &impl Transport) -> Result<Vec<serde_json::Value>> {
    let mut all = Vec::new();
    for page in 1..=100 {
        let (installations, next) =
            github::read_installations(api, &http.send(github::installations_request(api, page, jwt))?, jwt)?;
        all.extend(installations);
        if !next {
            break;
        }
    }
    Ok(all)
}

/// Revokes an installation token.
pub fn revoke(api: &Url, token: &Secret, http: &impl Transport) -> Result<()> {
    github::read_revoke(&http.send(github::revoke_request(api, token))?, token)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::api::TokenRequest;
    use crate::http::script::{Script, answer};

    /// 2026-11-25T21:00:00Z, a Wednesday.
    const NOW: u64 = 1_795_640_400;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn credentials() -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: None,
        }
    }

    /// What minting for `owner` at `api` needs.
    fn settings(api: &str, owner: &str) -> TokenSettings {
        let env = Env::from_pairs([
            ("APP_ID", "42"),
            ("KMS_KEY_ID", "alias/github-app"),
            ("AWS_REGION", "eu-west-1"),
        ]);
        let request = TokenRequest {
            app_id: None,
            kms_key_id: None,
            aws_region: None,
            installation: Some(crate::api::Installation::Owner(owner.into())),
            repositories: vec![],
            permissions: vec![],
            github_api_url: Some(api.into()),
            timeout_seconds: None,
        };
        config::token_settings(&request, &env).unwrap()
    }

    fn signed() -> Result<Response> {
        answer(200, &[], &format!(r#"{{"Signature":"{}"}}"#, STANDARD.encode([7u8; 256])))
    }

    fn installation(id: u64) -> Result<Response> {
        answer(200, &[], &format!(r#"{{"id":{id},"app_slug":"kms-app"}}"#))
    }

    fn token(value: &str) -> Result<Response> {
        answer(201, &[], &format!(r#"{{"token":"{value}","expires_at":"2026-11-25T22:00:00Z"}}"#))
    }

    /// GitHub's refusal of the JWT's times, with its clock at `offset` seconds from ours.
    fn refused_times(offset: i64) -> Result<Response> {
        let date =
            httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(NOW.saturating_add_signed(offset)));
        let body = r#"{"message":"'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued"}"#;
        answer(401, &[("date", &date)], body)
    }

    /// The claims of the App JWT a request carried.
    fn jwt_claims(sent: &crate::http::script::Sent) -> serde_json::Value {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let bearer = sent.headers.iter().find(|(n, _)| n == "authorization").unwrap().1.clone();
        let claims = bearer.trim_start_matches("Bearer ").split('.').nth(1).unwrap().to_owned();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
    }

    #[test]
    fn several_owners_share_one_signature() {
        let script =
            Script::new([signed(), installation(1), token("ghs_a"), installation(2), token("ghs_b")]);
        let all = [settings("https://api.github.com", "a"), settings("https://api.github.com", "b")];
        let minted = installation_tokens(&all, &credentials(), &script, now()).unwrap();
        let tokens: Vec<&str> = minted.iter().map(|m| m.token.expose()).collect();
        assert_eq!(tokens, ["ghs_a", "ghs_b"]);
        assert_eq!(minted[1].app_slug.as_deref(), Some("kms-app"));
        assert_eq!(script.lines().iter().filter(|l| l.contains("kms")).count(), 1);
    }

    #[test]
    fn a_partial_failure_revokes_each_token_where_it_was_minted() {
        let not_installed = answer(404, &[], r#"{"message":"Not Found"}"#);
        let script =
            Script::new([signed(), installation(1), token("ghs_a"), not_installed, answer(204, &[], "")]);
        let all =
            [settings("https://ghe-a.example/api/v3", "a"), settings("https://ghe-b.example/api/v3", "b")];
        let err = installation_tokens(&all, &credentials(), &script, now()).unwrap_err();
        assert!(matches!(err, Error::Github(ref e) if e.status == 404), "{}", err.message());
        assert_eq!(
            script.lines(),
            [
                "POST https://kms.eu-west-1.amazonaws.com/",
                "GET https://ghe-a.example/api/v3/users/a/installation",
                "POST https://ghe-a.example/api/v3/app/installations/1/access_tokens",
                "GET https://ghe-b.example/api/v3/users/b/installation",
                "DELETE https://ghe-a.example/api/v3/installation/token",
            ]
        );
        let revoke = &script.sent()[4];
        assert!(revoke.headers.contains(&("authorization".into(), "Bearer ghs_a".into())));
    }

    #[test]
    fn a_clock_off_by_minutes_is_corrected_once() {
        let script = Script::new([signed(), refused_times(-240), signed(), installation(1), token("ghs_a")]);
        let all = [settings("https://api.github.com", "a")];
        installation_tokens(&all, &credentials(), &script, now()).unwrap();
        let sent = script.sent();
        let (first, second) = (jwt_claims(&sent[1]), jwt_claims(&sent[3]));
        assert_eq!(first["iat"].as_u64(), Some(NOW - 60));
        assert_eq!(second["iat"].as_u64(), Some(NOW - 240 - 60), "signed again at GitHub's time");
    }

    #[test]
    fn a_correction_past_the_bound_is_never_signed() {
        for offset in [-(MAX_CLOCK_CORRECTION_SECS as i64) - 1, 10 * 365 * 86_400] {
            let script = Script::new([signed(), refused_times(offset)]);
            let all = [settings("https://api.github.com", "a")];
            let err = installation_tokens(&all, &credentials(), &script, now()).unwrap_err();
            let Error::Github(e) = err else { panic!("not a GitHub error") };
            assert!(e.hint.is_some_and(|h| h.contains(&format!("{} s", offset.unsigned_abs()))));
            assert_eq!(script.sent().len(), 2, "one signature, one refusal, nothing more");
        }
    }

    #[test]
    fn installations_follow_pages_up_to_the_limit() {
        let page = |next: bool| {
            let link =
                if next { r#"<https://api.github.com/app/installations?page=2>; rel="next""# } else { "" };
            answer(200, &[("link", link)], r#"[{"id": 1}]"#)
        };
        let script = Script::new([page(true), page(true), page(false)]);
        let all = installations(&Url::parse("https://api.github.com").unwrap(), &Secret::new("j"), &script)
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(script.lines()[2], "GET https://api.github.com/app/installations?per_page=100&page=3");
        let endless = Script::new((0..100).map(|_| page(true)));
        let all = installations(&Url::parse("https://api.github.com").unwrap(), &Secret::new("j"), &endless)
            .unwrap();
        assert_eq!(all.len(), 100, "at most 100 pages");
    }
}
