//! The trust policy's rules, read and decided.

use super::*;
use crate::api::Installation;
use serde_json::json;

fn claims(v: Value) -> serde_json::Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn caller() -> serde_json::Map<String, Value> {
    claims(
        json!({"iss": GITHUB_ACTIONS_ISSUER, "repository": "acme/widgets", "repository_owner": "acme", "ref": "refs/heads/main"}),
    )
}

fn read(name: &str) -> Permission {
    Permission { name: name.into(), access: Access::Read }
}

#[test]
fn the_contract_shape_parses() {
    let p = parse(r#"{"rules": [{"issuer": "https://token.actions.githubusercontent.com", "claims": {"repository_owner": "acme", "ref": "refs/heads/*"}, "owner": "acme", "repositories": ["widgets"], "permissions": {"contents": "read"}}]}"#).unwrap();
    assert_eq!(p.rules[0].repositories, Repositories::Named(vec!["widgets".into()]));
    assert_eq!(p.rules[0].permissions, [read("contents")]);
}

#[test]
fn configuration_problems_are_named() {
    for (policy, says) in [
        ("", "not a valid policy"),
        (r#"{"rules": []}"#, "no rules"),
        (r#"{"rules": [{"permissions": {"contents": "read"}}]}"#, "claims must constrain something"),
        (
            r#"{"rules": [{"claims": {"sub": "*"}, "permissions": {"contents": "read"}}]}"#,
            "claims must constrain something",
        ),
        (
            r#"{"rules": [{"claims": {"ref": "refs/heads/main"}, "owner": "acme", "repositories": "*", "permissions": {"contents": "read"}}]}"#,
            "must pin the caller's owner",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme*", "ref": "refs/heads/main"}, "permissions": {"contents": "read"}}]}"#,
            "must pin the caller's owner",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "owner": "other", "permissions": {"contents": "read"}}]}"#,
            "differs from the owner acme",
        ),
        (
            r#"{"rules": [{"issuer": "https://idp.example", "claims": {"sub": "x"}, "permissions": {"contents": "read"}}]}"#,
            "owner or installation_id is required",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "installation_id": 5, "permissions": {"contents": "read"}}]}"#,
            "set repositories to",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "installation_id": 5, "owner": "acme", "repositories": "*", "permissions": {"contents": "read"}}]}"#,
            "not both",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contnets": "read"}}]}"#,
            "unknown permission contnets",
        ),
        (r#"{"rules": [{"claims": {"repository_owner": "acme"}}]}"#, "permissions must not be empty"),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "owner"}}]}"#,
            "unknown level owner",
        ),
        (
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}, "repositories": "widgets"}]}"#,
            "list of names",
        ),
        (
            r#"{"rules": [{"claims": {"a": "b"}, "permissions": {"contents": "read"}, "issuer": "token.example"}]}"#,
            "issuer must start",
        ),
        (
            r#"{"rules": [{"claims": {"a": "b"}, "permissions": {"contents": "read"}, "colour": "red"}]}"#,
            "unknown field",
        ),
    ] {
        let e = parse(policy).unwrap_err().to_string();
        assert!(e.contains(says), "{policy}: {e}");
    }
}

/// Empty repository lists, claims that constrain nothing, repeated keys,
/// another issuer without repositories, key sets over plain HTTP.
#[test]
fn rules_that_would_admit_or_grant_too_much_are_refused() {
    let rule =
        |fields: &str| format!(r#"{{"rules": [{{"permissions": {{"contents": "read"}}, {fields}}}]}}"#);
    let idp = r#""issuer": "https://idp.example", "owner": "acme""#;
    for (fields, says) in [
        // An empty list would reach GitHub as no list: every repository.
        (
            r#""claims": {"repository_owner": "acme"}, "repositories": []"#,
            "TRUST_POLICY rule 1: repositories must not be empty",
        ),
        // Claims every token of the issuer carries admit every token.
        (r#""claims": {"iss": "https://token.actions.githubusercontent.com"}"#, "other than iss"),
        (r#""claims": {"aud": "broker", "exp": "1*", "sub": "**"}"#, "other than iss"),
        (
            &format!(r#"{idp}, "claims": {{"iss": "https://idp.example"}}, "repositories": "*""#),
            "other than iss",
        ),
        // A repeated key must not drop the first.
        (r#""claims": {"repository_owner": "acme"}, "claims": {"sub": "*"}"#, "given twice"),
        (r#""claims": {"repository_owner": "acme", "repository_owner": "evil"}"#, "given twice"),
        // Another issuer's `repository` claim says nothing about GitHub.
        (
            &format!(r#"{idp}, "claims": {{"sub": "system:serviceaccount:ci:deployer"}}"#),
            "repositories is required",
        ),
        (
            &format!(
                r#"{idp}, "claims": {{"sub": "x"}}, "repositories": "*", "jwks_uri": "http://keys.example/jwks""#
            ),
            "jwks_uri must be https",
        ),
        (
            &format!(
                r#"{idp}, "claims": {{"sub": "x"}}, "repositories": "*", "jwks_uri": "http://127.0.0.1:9/jwks""#
            ),
            "jwks_uri must be https",
        ),
        (
            &format!(r#"{idp}, "claims": {{"sub": "x"}}, "repositories": "*", "jwks_uri": "keys""#),
            "jwks_uri must start",
        ),
        (
            r#""issuer": "http://idp.example", "owner": "acme", "claims": {"sub": "x"}, "repositories": "*""#,
            "issuer must be https://",
        ),
    ] {
        let e = parse(&rule(fields)).unwrap_err().to_string();
        assert!(e.contains(says), "{fields}: {e}");
    }
    let two = |a: &str, b: &str| {
        format!(
            r#"{{"rules": [{{"claims": {{"repository_owner": "acme"}}, "permissions": {{"contents": "read"}}{a}}},
                          {{"claims": {{"repository_owner": "acme"}}, "permissions": {{"issues": "read"}}{b}}}]}}"#
        )
    };
    let keys = r#", "jwks_uri": "https://token.actions.githubusercontent.com/.well-known/jwks""#;
    assert!(parse(&two(keys, "")).unwrap_err().to_string().contains("rule 2: jwks_uri differs"));
    let p = parse(&two(keys, keys)).unwrap();
    assert_eq!(
        p.jwks_uri(GITHUB_ACTIONS_ISSUER).map(Url::to_string).as_deref(),
        Some("https://token.actions.githubusercontent.com/.well-known/jwks")
    );
    assert_eq!(parse(&two("", "")).unwrap().jwks_uri(GITHUB_ACTIONS_ISSUER), None);
    assert!(parse(&rule(&format!(r#"{idp}, "claims": {{"sub": "x"}}, "repositories": ["infra"]"#))).is_ok());
}

/// GitHub mints for every repository when `repositories` is left out:
/// only a rule that says `"*"` may lead there.
#[test]
fn only_a_star_rule_grants_no_repository_list() {
    let asks = [
        Ask::default(),
        Ask { repositories: vec!["widgets".into()], ..Ask::default() },
        Ask { owner: Some("acme".into()), ..Ask::default() },
        Ask { permissions: vec![read("contents")], ..Ask::default() },
    ];
    for repositories in [None, Some(r#"["widgets", "docs"]"#), Some(r#""*""#), Some(r#"["*"]"#)] {
        let field = repositories.map(|r| format!(r#", "repositories": {r}"#)).unwrap_or_default();
        let p = parse(&format!(
            r#"{{"rules": [{{"claims": {{"repository_owner": "acme"}}, "permissions": {{"contents": "read"}}{field}}}]}}"#
        ))
        .unwrap();
        for ask in &asks {
            if let Ok(grant) = p.decide(&caller(), ask) {
                assert!(
                    !grant.repositories.is_empty() || p.rules[0].repositories == Repositories::All,
                    "{field} {ask:?}"
                );
            }
        }
    }
}

#[test]
fn owners_pinned_by_repository_or_sub() {
    for claims in [
        r#"{"repository": "acme/widgets"}"#,
        r#"{"sub": "repo:acme/*"}"#,
        r#"{"repository_owner_id": "123"}"#,
    ] {
        let policy =
            format!(r#"{{"rules": [{{"claims": {claims}, "permissions": {{"contents": "read"}}}}]}}"#);
        assert!(parse(&policy).is_ok(), "{claims}");
    }
}

#[test]
fn an_installation_id_rule_grants_that_installation_only() {
    let p = parse(r#"{"rules": [{"claims": {"repository_owner": "acme"}, "installation_id": 7, "repositories": "*", "permissions": {"contents": "read"}}]}"#).unwrap();
    let grant = p.decide(&caller(), &Ask::default()).unwrap();
    assert_eq!((grant.installation, grant.repositories.len()), (Installation::Id(7), 0));
    assert_eq!(
        p.decide(&caller(), &Ask { installation_id: Some(7), ..Ask::default() }).unwrap().installation,
        Installation::Id(7)
    );
    for ask in [
        Ask { owner: Some("acme".into()), ..Ask::default() },
        Ask { installation_id: Some(8), ..Ask::default() },
        Ask { repositories: vec!["widgets".into()], ..Ask::default() },
    ] {
        assert!(matches!(p.decide(&caller(), &ask), Err(Refusal::NotGranted { rule: 1, .. })), "{ask:?}");
    }
    let owner_rule = parse(
        r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}}]}"#,
    )
    .unwrap();
    assert!(matches!(
        owner_rule.decide(&caller(), &Ask { installation_id: Some(7), ..Ask::default() }),
        Err(Refusal::NotGranted { .. })
    ));
}

#[test]
fn globs() {
    assert!(glob_matches("refs/heads/*", "refs/heads/main"));
    assert!(glob_matches("*", ""));
    assert!(glob_matches("a*b*c", "aXbYc"));
    assert!(glob_matches(
        "acme/*/.github/workflows/*.yml@*",
        "acme/widgets/.github/workflows/ci.yml@refs/heads/main"
    ));
    assert!(!glob_matches("refs/heads/*", "refs/tags/v1"));
    assert!(!glob_matches("acme", "acme-evil"));
    assert!(!glob_matches("a*b", "ab-"));
    assert!(!glob_matches("*ab*ab", "ab"));
}

#[test]
fn the_short_rule_grants_the_callers_own_repository() {
    let p = parse(
        r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}}]}"#,
    )
    .unwrap();
    let grant = p.decide(&caller(), &Ask::default()).unwrap();
    assert_eq!(
        grant,
        Grant {
            rule: 1,
            installation: Installation::Owner("acme".into()),
            repositories: vec!["widgets".into()],
            permissions: vec![read("contents")]
        }
    );
    let other = Ask { repositories: vec!["gadgets".into()], ..Ask::default() };
    assert_eq!(
        p.decide(&caller(), &other),
        Err(Refusal::NotGranted { rule: 1, why: NotGranted::Repository("gadgets".into()) })
    );
}

#[test]
fn requests_within_the_grant_are_minted_exactly() {
    let p = parse(r#"{"rules": [{"claims": {"repository_owner": "acme", "ref": "refs/heads/*"}, "owner": "acme", "repositories": "*", "permissions": {"contents": "write", "issues": "read"}}]}"#).unwrap();
    let ask = Ask {
        owner: Some("ACME".into()),
        repositories: vec!["gadgets".into()],
        permissions: vec![read("contents")],
        ..Ask::default()
    };
    let grant = p.decide(&caller(), &ask).unwrap();
    assert_eq!((grant.repositories, grant.permissions), (vec!["gadgets".to_owned()], vec![read("contents")]));
    let all = p.decide(&caller(), &Ask::default()).unwrap();
    assert_eq!(all.repositories, Vec::<String>::new());
    assert_eq!(all.permissions.len(), 2);
}

#[test]
fn refusals() {
    let p = parse(r#"{"rules": [{"claims": {"repository_owner": "acme", "ref": "refs/heads/main"}, "repositories": ["widgets"], "permissions": {"contents": "read"}}]}"#).unwrap();
    let deny = |ask: Ask| p.decide(&caller(), &ask).unwrap_err();
    let why = |refusal: Refusal| match refusal {
        Refusal::NotGranted { why, .. } => why.to_string(),
        Refusal::NoRule => "no rule".into(),
    };
    assert_eq!(why(deny(Ask { owner: Some("evil".into()), ..Ask::default() })), "owner evil is not granted");
    assert_eq!(
        why(deny(Ask { installation_id: Some(5), ..Ask::default() })),
        "installation 5 is not granted"
    );
    let write = Ask {
        permissions: vec![Permission { name: "contents".into(), access: Access::Write }],
        ..Ask::default()
    };
    assert_eq!(why(deny(write)), "contents write is not granted");
    assert!(matches!(
        deny(Ask { permissions: vec![read("issues")], ..Ask::default() }),
        Refusal::NotGranted { .. }
    ));

    let mut tag = caller();
    tag.insert("ref".into(), "refs/tags/v1".into());
    assert_eq!(p.decide(&tag, &Ask::default()), Err(Refusal::NoRule));
    let mut other_issuer = caller();
    other_issuer.insert("iss".into(), "https://evil.example".into());
    assert_eq!(p.decide(&other_issuer, &Ask::default()), Err(Refusal::NoRule));
    let mut missing = caller();
    missing.remove("ref");
    assert_eq!(p.decide(&missing, &Ask::default()), Err(Refusal::NoRule));
}
