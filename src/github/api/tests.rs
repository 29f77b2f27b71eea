//! GitHub's requests as built, and its answers (hostile ones included) as read.

use super::*;
use crate::api::Access;

fn api() -> Url {
    Url::parse("https://ghe.example.com/api/v3").unwrap()
}

fn response(status: u16, body: &str) -> Response {
    crate::net::script::answer(status, &[("x-github-request-id", "GH:1")], body).unwrap()
}

fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

#[test]
fn lookups_use_the_documented_paths() {
    let jwt = Secret::new("j.w.t");
    let paths: Vec<String> = [
        Installation::Owner("octo-org".into()),
        Installation::Repository(RepositoryRef { owner: "octo".into(), name: "hello.rs".into() }),
        Installation::Enterprise("acme".into()),
        Installation::Id(7),
    ]
    .iter()
    .map(|t| installation_request(&api(), t, &jwt).url.path.clone())
    .collect();
    assert_eq!(
        paths,
        [
            "/api/v3/users/octo-org/installation",
            "/api/v3/repos/octo/hello.rs/installation",
            "/api/v3/enterprises/acme/installation",
            "/api/v3/app/installations/7"
        ]
    );
    let req = installation_request(&api(), &Installation::Owner("o".into()), &jwt);
    assert_eq!(header(&req, "authorization"), Some("Bearer j.w.t"));
    assert_eq!(header(&req, "accept"), Some("application/vnd.github+json"));
    assert_eq!(header(&req, "x-github-api-version"), Some(API_VERSION));
    assert!(header(&req, "user-agent").unwrap().starts_with("github-app-kms-token/"));
}

#[test]
fn access_token_body_carries_the_scope() {
    let jwt = Secret::new("jwt");
    let req = access_token_request(&api(), 42, &Scope::default(), &jwt);
    assert_eq!(
        (req.method, req.url.path.as_str()),
        (Method::Post, "/api/v3/app/installations/42/access_tokens")
    );
    assert_eq!(req.body, b"{}");
    let scope = Scope {
        repositories: vec!["a".into(), "b".into()],
        permissions: vec![Permission { name: "contents".into(), access: Access::Read }],
    };
    let body: serde_json::Value =
        serde_json::from_slice(&access_token_request(&api(), 42, &scope, &jwt).body).unwrap();
    assert_eq!(body, serde_json::json!({"repositories": ["a", "b"], "permissions": {"contents": "read"}}));
}

#[test]
fn reads_an_access_token() {
    let body = r#"{"token":"ghs_x.y.z","expires_at":"2026-11-25T21:00:00Z","permissions":{"contents":"read","issues":"write"},
        "repository_selection":"selected","repositories":[{"id":1,"name":"widgets"}]}"#;
    let t = read_access_token(&api(), &response(201, body), 42, &Secret::new("jwt")).unwrap();
    assert_eq!(t.token.expose(), "ghs_x.y.z");
    assert_eq!(
        (t.installation_id, t.expires_at.as_str(), t.repository_selection.as_str()),
        (42, "2026-11-25T21:00:00Z", "selected")
    );
    assert_eq!(t.repositories, ["widgets"]);
    assert_eq!(
        t.permissions,
        [
            Permission { name: "contents".into(), access: Access::Read },
            Permission { name: "issues".into(), access: Access::Write }
        ]
    );
    assert!(!format!("{t:?}").contains("ghs_"));
}

/// What a hostile or broken GitHub could answer with a 201: each is a
/// malformed answer, and none of its text is quoted in the error.
#[test]
fn every_value_of_a_minted_token_is_checked() {
    let good = serde_json::json!({"token": "ghs_x", "expires_at": "2026-11-25T21:00:00Z",
        "permissions": {"contents": "read"}, "repository_selection": "selected",
        "repositories": [{"name": "widgets"}]});
    let injected = "2026-11-25T21:00:00Z\n::error title=Injected::x\n::stop-commands::ABC";
    for (field, value) in [
        ("expires_at", serde_json::json!(injected)),
        ("expires_at", serde_json::json!("in an hour")),
        ("repositories", serde_json::json!([{"name": "widgets\n::error::x"}])),
        ("repositories", serde_json::json!([{"name": "acme/widgets"}])),
        ("repository_selection", serde_json::json!("some\u{2028}")),
        ("repository_selection", serde_json::Value::Null),
        ("permissions", serde_json::json!({"contents": "owner"})),
        ("permissions", serde_json::json!({"contents\n::error::x": "read"})),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let answer = response(201, &body.to_string());
        let err = read_access_token(&api(), &answer, 1, &Secret::new("jwt")).unwrap_err();
        let Error::MalformedResponse(e) = &err else { panic!("{field}: {}", err.message()) };
        assert!(e.message.contains(field), "{field}: {}", e.message);
        assert!(!err.message().contains("::") && !err.message().contains('\n'), "{}", err.message());
    }
    assert!(read_access_token(&api(), &response(201, &good.to_string()), 1, &Secret::new("j")).is_ok());
    let slug = response(200, r#"{"id": 1, "app_slug": "kms-app\n::error::x"}"#);
    let err = read_installation(&api(), &slug, &Secret::new("jwt")).unwrap_err();
    assert!(matches!(err, Error::MalformedResponse(_)) && !err.message().contains("::"));
}

#[test]
fn errors_carry_message_request_id_and_hint() {
    let jwt = Secret::new("eyJ.secret.jwt");
    let body = r#"{"message":"Integration not found for eyJ.secret.jwt","documentation_url":"https://docs.github.com/rest"}"#;
    let Error::Github(e) = read_installation(&api(), &response(401, body), &jwt).unwrap_err() else {
        panic!()
    };
    assert_eq!((e.status, e.request_id.as_deref()), (401, Some("GH:1")));
    assert_eq!(e.message, "Integration not found for [redacted]");
    assert!(e.hint.unwrap().contains("app-id"));
    assert_eq!(e.documentation_url.as_deref(), Some("https://docs.github.com/rest"));

    let Error::Github(e) =
        read_installation(&api(), &response(404, r#"{"message":"Not Found"}"#), &jwt).unwrap_err()
    else {
        panic!()
    };
    assert!(e.hint.unwrap().contains("not installed"));

    let body = r#"{"message":"The permissions requested are not granted to this installation."}"#;
    let Error::Github(e) = read_access_token(&api(), &response(422, body), 1, &jwt).unwrap_err() else {
        panic!()
    };
    assert!(e.hint.unwrap().contains("granted"));

    let err = read_access_token(&api(), &response(201, "<html>"), 1, &jwt).unwrap_err();
    assert!(
        matches!(err, Error::MalformedResponse(ref e) if e.service == Service::Github && e.endpoint == "https://ghe.example.com")
    );
}

#[test]
fn a_rate_limit_says_when_github_takes_requests_again() {
    let jwt = Secret::new("eyJ.secret.jwt");
    let limited = |status: u16, headers: &[(&str, &str)]| {
        let mut answer = response(status, r#"{"message":"You have exceeded a secondary rate limit."}"#);
        answer.headers.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
        let Error::Github(e) = read_access_token(&api(), &answer, 1, &jwt).unwrap_err() else { panic!() };
        e.hint.unwrap_or_default()
    };
    assert!(limited(429, &[("retry-after", "60")]).contains("asks for 60 s"));
    assert!(limited(403, &[("retry-after", " 5 ")]).contains("asks for 5 s"));
    let reset = [("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1795640400")];
    assert!(limited(403, &reset).ends_with("before 2026-11-25T21:00:00Z"));
    assert!(limited(403, &[("x-ratelimit-reset", "1795640400")]).contains("suspended"), "requests left");
    assert!(!limited(429, &[]).contains("asks"));
}
