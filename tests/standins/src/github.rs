//! A GitHub API stand-in: verifies the App JWT as GitHub does, serves the
//! installation lookups, mints tokens honouring the requested scope, and
//! revokes them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::server::{Request, Response, Server};
use crate::{random_hex, time};

/// An installation of the App.
#[derive(Clone, Debug)]
pub struct Installation {
    /// Its id.
    pub id: u64,
    /// The account (user or organisation) it is on.
    pub account: String,
    /// The enterprise it is on, for enterprise installations.
    pub enterprise: Option<String>,
    /// The repositories it can access.
    pub repositories: Vec<String>,
    /// Its permissions: name to level.
    pub permissions: BTreeMap<String, String>,
}

/// A token the stand-in minted.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The token.
    pub token: String,
    /// For which installation.
    pub installation_id: u64,
    /// The permissions granted.
    pub permissions: BTreeMap<String, String>,
    /// The repositories it is limited to (empty: all).
    pub repositories: Vec<String>,
    /// Whether it has been revoked.
    pub revoked: bool,
}

/// What the stand-in saw of one request.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Method and path.
    pub method: String,
    /// The path, prefix included.
    pub path: String,
    /// The headers.
    pub headers: Vec<(String, String)>,
    /// The status it answered.
    pub status: u16,
}

/// An answer to give instead of the real one, for requests whose path ends with `path_suffix`.
#[derive(Clone, Debug)]
pub struct Fault {
    /// Which route, e.g. `/access_tokens` or `/installation`.
    pub path_suffix: String,
    /// HTTP status.
    pub status: u16,
    /// GitHub's `message`.
    pub message: String,
    /// A `retry-after` header, in seconds (GitHub's secondary rate limits).
    pub retry_after: Option<u64>,
}

struct State {
    prefix: String,
    app_id: u64,
    client_id: String,
    public_key: RsaPublicKey,
    installations: Vec<Installation>,
    issued: Mutex<Vec<Issued>>,
    seen: Mutex<Vec<Seen>>,
    jwts: Mutex<Vec<String>>,
    fault: crate::Injected<Fault>,
    clock_offset: AtomicI64,
    classic: std::sync::atomic::AtomicBool,
    date_offset: AtomicI64,
}

/// A running GitHub stand-in.
pub struct Github {
    server: Server,
    state: Arc<State>,
}

impl Github {
    /// Starts a stand-in for App `app_id` / `client_id` whose JWTs verify
    /// with `public_key`, serving under `prefix` (`""`, or `/api/v3` as GHES).
    pub fn start(
        prefix: &str,
        app_id: u64,
        client_id: &str,
        public_key: RsaPublicKey,
        installations: Vec<Installation>,
    ) -> Github {
        let state = Arc::new(State {
            prefix: prefix.to_owned(),
            app_id,
            client_id: client_id.to_owned(),
            public_key,
            installations,
            issued: Mutex::new(Vec::new()),
            seen: Mutex::new(Vec::new()),
            jwts: Mutex::new(Vec::new()),
            fault: crate::Injected::default(),
            clock_offset: AtomicI64::new(0),
            date_offset: AtomicI64::new(0),
            classic: std::sync::atomic::AtomicBool::new(false),
        });
        let handler_state = state.clone();
        let server = Server::start(move |request| {
            let response = handle(&handler_state, &request);
            handler_state.seen.lock().unwrap().push(Seen {
                method: request.method.clone(),
                path: request.path().to_owned(),
                headers: request.headers.clone(),
                status: response.status,
            });
            response
                .with_header("x-github-request-id", format!("{}:{}", &random_hex(4), &random_hex(6)))
                .with_header(
                    "date",
                    time::http_date(time::now() + handler_state.date_offset.load(Ordering::SeqCst)),
                )
        });
        Github { server, state }
    }

    /// The HTTP server underneath, for [`crate::server::Wire`] faults and request counts.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The API base URL, for `GITHUB_API_URL`.
    pub fn url(&self) -> String {
        format!("{}{}", self.server.url(), self.state.prefix)
    }

    /// `127.0.0.1:PORT`.
    pub fn authority(&self) -> String {
        self.server.authority()
    }

    /// Every token minted so far.
    pub fn issued(&self) -> Vec<Issued> {
        self.state.issued.lock().unwrap().clone()
    }

    /// Every request seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// Every JWT presented so far (valid or not).
    pub fn jwts(&self) -> Vec<String> {
        self.state.jwts.lock().unwrap().clone()
    }

    /// Answers matching requests with this error from now on (`None` heals).
    pub fn set_fault(&self, fault: Option<Fault>) {
        self.state.fault.set(fault);
    }

    /// Runs this GitHub's clock `offset` seconds ahead of the machine's (behind
    /// when negative) for checking JWTs, and its `Date` header `date_offset`
    /// seconds ahead (GitHub's tells its clock: the same number).
    pub fn set_clock(&self, offset: i64, date_offset: i64) {
        self.state.clock_offset.store(offset, Ordering::SeqCst);
        self.state.date_offset.store(date_offset, Ordering::SeqCst);
    }

    /// Issues tokens in `format` from now on (a request's
    /// `X-GitHub-Stateless-S2S-Token` header still wins, as on GitHub).
    pub fn set_token_format(&self, format: TokenFormat) {
        self.state.classic.store(format == TokenFormat::Classic, Ordering::SeqCst);
    }

    /// Answers the next `times` matching requests with this error, then heals.
    pub fn set_fault_times(&self, fault: Fault, times: usize) {
        self.state.fault.set_times(fault, times);
    }
}

fn error(status: u16, message: &str) -> Response {
    let docs = "https://docs.github.com/rest";
    Response::json(
        status,
        "application/json; charset=utf-8",
        &json!({ "message": message, "documentation_url": docs, "status": status.to_string() }),
    )
}

fn handle(state: &State, request: &Request) -> Response {
    if request.header("user-agent").is_none_or(str::is_empty) {
        return error(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header",
        );
    }
    if request.header("x-github-api-version").is_some_and(|v| v != "2022-11-28") {
        return error(400, "Unsupported API version");
    }
    let Some(path) = request.path().strip_prefix(state.prefix.as_str()) else {
        return error(404, "Not Found");
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if request.method == "DELETE" && segments == ["installation", "token"] {
        return revoke(state, request);
    }
    if let Err(refusal) = verify_jwt(state, request) {
        return refusal;
    }
    // Faults come after the JWT check, as GitHub's own errors would.
    if let Some(f) = state.fault.take(|f| path.ends_with(&f.path_suffix)) {
        let refusal = error(f.status, &f.message);
        return match f.retry_after {
            Some(secs) => refusal.with_header("retry-after", secs.to_string()),
            None => refusal,
        };
    }
    let installations = &state.installations;
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["users", owner, "installation"]) => found(
            installations.iter().find(|i| i.account.eq_ignore_ascii_case(owner) && i.enterprise.is_none()),
        ),
        ("GET", ["repos", owner, repo, "installation"]) => found(installations.iter().find(|i| {
            i.account.eq_ignore_ascii_case(owner)
                && i.repositories.iter().any(|r| r.eq_ignore_ascii_case(repo))
        })),
        ("GET", ["enterprises", slug, "installation"]) => {
            found(installations.iter().find(|i| i.enterprise.as_deref() == Some(*slug)))
        }
        ("GET", ["app", "installations"]) => list(state, request),
        ("GET", ["app", "installations", id]) => found(installation(state, id)),
        ("POST", ["app", "installations", id, "access_tokens"]) => match installation(state, id) {
            Some(installation) => access_token(state, installation, request),
            None => error(404, "Not Found"),
        },
        _ => error(404, "Not Found"),
    }
}

fn installation<'a>(state: &'a State, id: &str) -> Option<&'a Installation> {
    state.installations.iter().find(|i| i.id.to_string() == id)
}

/// The most installations one page of `GET /app/installations` holds here.
pub const MAX_PER_PAGE: usize = 2;

/// The App's slug, as installation answers name it.
pub const APP_SLUG: &str = "kms-token-stand-in";

/// An installation as GitHub's API describes it.
fn describe(i: &Installation) -> Value {
    json!({
        "id": i.id,
        "account": { "login": i.account },
        "app_slug": APP_SLUG,
        "target_type": if i.enterprise.is_some() { "Enterprise" } else { "Organization" },
        "permissions": i.permissions,
        "repository_selection": "selected",
    })
}

/// `GET /app/installations?per_page=N&page=P`, with a `Link` to the next page.
fn list(state: &State, request: &Request) -> Response {
    let query: BTreeMap<&str, usize> = request
        .target
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter_map(|p| Some((p.split_once('=')?.0, p.split_once('=')?.1.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default();
    // Fewer per page than asked, as a server may: clients must follow `Link`.
    let per_page = query.get("per_page").copied().unwrap_or(30).clamp(1, MAX_PER_PAGE);
    let page = query.get("page").copied().unwrap_or(1).max(1);
    let all: Vec<Value> = state.installations.iter().map(describe).collect();
    let items: Vec<Value> = all.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
    let response = Response::json(200, "application/json; charset=utf-8", &Value::Array(items));
    if page * per_page < all.len() {
        let next = format!(
            "<{}/app/installations?per_page={per_page}&page={}>; rel=\"next\"",
            state.prefix,
            page + 1
        );
        response.with_header("link", next)
    } else {
        response
    }
}

fn found(installation: Option<&Installation>) -> Response {
    match installation {
        Some(i) => Response::json(200, "application/json; charset=utf-8", &describe(i)),
        None => error(404, "Not Found"),
    }
}

/// GitHub's checks of an App JWT: RS256 signature, `iat` not ahead, `exp` not
/// past and at most 10 minutes after `iat`, `iss` the App ID or Client ID.
fn verify_jwt(state: &State, request: &Request) -> Result<(), Response> {
    let unauthorized = |m: &str| error(401, m);
    let jwt = request
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("A JSON web token could not be decoded"))?;
    state.jwts.lock().unwrap().push(jwt.to_owned());
    crate::remember(jwt);
    let claims = verify_rs256(&state.public_key, jwt)
        .ok_or_else(|| unauthorized("A JSON web token could not be decoded"))?;
    let now = time::now() + state.clock_offset.load(Ordering::SeqCst);
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return Err(unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    };
    if iat > now {
        return Err(unauthorized(
            "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued",
        ));
    }
    if exp <= now {
        return Err(unauthorized(
            "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires",
        ));
    }
    if exp - iat > 600 {
        return Err(unauthorized("'Expiration time' claim ('exp') is too far in the future"));
    }
    let iss_ok = claims["iss"].as_u64() == Some(state.app_id)
        || claims["iss"].as_str() == Some(state.client_id.as_str());
    if !iss_ok {
        return Err(unauthorized("Integration not found"));
    }
    Ok(())
}

/// The claims of `jwt` if it is an RS256 JWT whose signature verifies with `public_key`.
pub fn verify_rs256(public_key: &RsaPublicKey, jwt: &str) -> Option<Value> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return None;
    };
    let decode =
        |part: &str| -> Option<Value> { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok() };
    if decode(header)?["alg"] != "RS256" {
        return None;
    }
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).ok()?.as_slice()).ok()?;
    let signing_input = &jwt[..jwt.rfind('.')?];
    VerifyingKey::<Sha256>::new(public_key.clone()).verify(signing_input.as_bytes(), &signature).ok()?;
    decode(claims)
}

fn level_rank(level: &str) -> u8 {
    match level {
        "read" => 1,
        "write" => 2,
        "admin" => 3,
        _ => 0,
    }
}

fn access_token(state: &State, installation: &Installation, request: &Request) -> Response {
    let body = &request.body;
    let body: Value = if body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) => return error(400, "Problems parsing JSON"),
        }
    };
    let mut repositories = Vec::new();
    for name in body["repositories"].as_array().into_iter().flatten() {
        let Some(name) =
            name.as_str().and_then(|n| installation.repositories.iter().find(|r| r.eq_ignore_ascii_case(n)))
        else {
            return error(
                422,
                "There is at least one repository that does not exist or is not accessible to the parent installation.",
            );
        };
        repositories.push(name.clone());
    }
    let mut permissions = BTreeMap::new();
    for (name, level) in body["permissions"].as_object().into_iter().flatten() {
        let granted = installation.permissions.get(name).map_or(0, |l| level_rank(l));
        let level = level.as_str().unwrap_or("");
        if level_rank(level) == 0 || level_rank(level) > granted {
            return error(422, "The permissions requested are not granted to this installation.");
        }
        permissions.insert(name.clone(), level.to_owned());
    }
    if permissions.is_empty() {
        permissions = installation.permissions.clone();
    }
    // The header forces a format, as GitHub's does; else the stand-in's own.
    let format = match request.header("x-github-stateless-s2s-token") {
        Some("enabled") => TokenFormat::Stateless,
        Some("disabled") => TokenFormat::Classic,
        _ if state.classic.load(Ordering::SeqCst) => TokenFormat::Classic,
        _ => TokenFormat::Stateless,
    };
    let token = token(format, state.app_id);
    crate::remember(&token);
    state.issued.lock().unwrap().push(Issued {
        token: token.clone(),
        installation_id: installation.id,
        permissions: permissions.clone(),
        repositories: repositories.clone(),
        revoked: false,
    });
    let (selection, listed) = if repositories.is_empty() {
        ("all", &installation.repositories)
    } else {
        ("selected", &repositories)
    };
    let listed: Vec<Value> = listed
        .iter()
        .enumerate()
        .map(|(i, name)| json!({ "id": i + 1, "name": name, "full_name": format!("{}/{name}", installation.account) }))
        .collect();
    Response::json(
        201,
        "application/json; charset=utf-8",
        &json!({
            "token": token,
            "expires_at": time::rfc3339(time::now() + 3600),
            "permissions": permissions,
            "repository_selection": selection,
            "repositories": listed,
        }),
    )
}

/// An installation token in `format`: the stateless one github.com issues
/// since 2026-04-27 (`ghs_`, the App id, `_`, then a JWT-shaped blob of
/// base64url parts: about 520 characters with `_`, `-` and `.`), or the
/// classic 40 characters GHES keeps.
fn token(format: TokenFormat, app_id: u64) -> String {
    match format {
        TokenFormat::Classic => {
            let alphanumeric: String = random_hex(18)
                .chars()
                .map(|c| if c.is_ascii_digit() { c } else { c.to_ascii_uppercase() })
                .collect();
            format!("ghs_{alphanumeric}")
        }
        TokenFormat::Stateless => {
            let part = |bytes: usize| {
                let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
                URL_SAFE_NO_PAD.encode(raw)
            };
            // A header and a payload of JSON's base64url, and a signature.
            format!("ghs_{app_id}_eyJ{}.eyJ{}.{}", part(24), part(228), part(126))
        }
    }
}

/// Which token format the stand-in issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFormat {
    /// About 520 characters with `_`, `-` and `.` (github.com's default).
    Stateless,
    /// `ghs_` and 36 letters and digits (GHES, or `X-GitHub-Stateless-S2S-Token: disabled`).
    Classic,
}

fn revoke(state: &State, request: &Request) -> Response {
    let presented = request
        .header("authorization")
        .and_then(|a| a.strip_prefix("Bearer ").or_else(|| a.strip_prefix("token ")))
        .unwrap_or("");
    let mut issued = state.issued.lock().unwrap();
    match issued.iter_mut().find(|t| t.token == presented && !t.revoked) {
        Some(token) => {
            token.revoked = true;
            Response { status: 204, headers: vec![], body: vec![] }
        }
        None => error(401, "Bad credentials"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1v15::SigningKey;
    use rsa::signature::{SignatureEncoding, Signer};

    fn jwt(key: &rsa::RsaPrivateKey, alg: &str, claims: Value) -> String {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", enc(json!({"alg": alg, "typ": "JWT"})), enc(claims));
        let signature = SigningKey::<Sha256>::new(key.clone()).sign(input.as_bytes()).to_vec();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn status(github: &Github, jwt: &str) -> u16 {
        let request = Request {
            method: "GET".into(),
            target: "/users/octocat/installation".into(),
            headers: vec![
                ("user-agent".into(), "test".into()),
                ("authorization".into(), format!("Bearer {jwt}")),
            ],
            body: vec![],
        };
        handle(&github.state, &request).status
    }

    #[test]
    fn verifies_jwts_as_github_does() {
        let key = crate::rsa_key();
        let github = Github::start("", 7, "Iv1.seven", key.to_public_key(), crate::world::installations());
        let now = time::now();
        let good = json!({"iat": now - 60, "exp": now + 540, "iss": 7});
        assert_eq!(status(&github, &jwt(&key, "RS256", good.clone())), 200);
        assert_eq!(
            status(
                &github,
                &jwt(&key, "RS256", json!({"iat": now - 60, "exp": now + 540, "iss": "Iv1.seven"}))
            ),
            200
        );

        let other_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let refused = [
            jwt(&other_key, "RS256", good.clone()), // wrong key
            jwt(&key, "HS256", good.clone()),       // wrong algorithm
            jwt(&key, "RS256", json!({"iat": now + 120, "exp": now + 600, "iss": 7})), // iat ahead
            jwt(&key, "RS256", json!({"iat": now - 700, "exp": now - 10, "iss": 7})), // expired
            jwt(&key, "RS256", json!({"iat": now - 60, "exp": now + 600, "iss": 7})), // lives > 10 min
            jwt(&key, "RS256", json!({"iat": now - 60, "exp": now + 540, "iss": 8})), // unknown App
            "not.a.jwt".into(),
        ];
        for token in refused {
            assert_eq!(status(&github, &token), 401);
        }
        let mut no_agent =
            Request { method: "GET".into(), target: "/".into(), headers: vec![], body: vec![] };
        assert_eq!(handle(&github.state, &no_agent).status, 403, "GitHub requires a User-Agent");
        no_agent.headers.push(("user-agent".into(), "x".into()));
        no_agent.headers.push(("x-github-api-version".into(), "1999-01-01".into()));
        assert_eq!(handle(&github.state, &no_agent).status, 400);
    }
}
