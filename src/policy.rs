//! The token broker's trust policy: which verified callers may have which
//! tokens. Pure: parsing `TRUST_POLICY` and deciding a request.
//!
//! ```json
//! {"rules": [{"issuer": "https://token.actions.githubusercontent.com",
//!             "claims": {"repository_owner": "acme", "ref": "refs/heads/*"},
//!             "owner": "acme", "repositories": ["widgets"],
//!             "permissions": {"contents": "read"}}]}
//! ```
//!
//! The safe thing is the short thing to write: `issuer` defaults to GitHub
//! Actions; `owner` to the caller's `repository_owner`; `repositories` to the
//! caller's own repository. `claims` and `permissions` are required, since a
//! rule without claims would admit every workflow on GitHub and a token
//! without permissions would carry all of the installation's.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::{Access, Permission};
use crate::github::{self, parse_access};
use crate::json::{self, Object};

/// The OIDC issuer of GitHub Actions.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A validated trust policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// The rules, tried in order.
    pub rules: Vec<Rule>,
}

/// Which repositories a rule grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Repositories {
    /// The caller's own repository (its `repository` claim).
    Callers,
    /// Every repository of the owner (`"*"`).
    All,
    /// These names.
    Named(Vec<String>),
}

/// One rule: whom it admits and what it grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The token issuer this rule trusts.
    pub issuer: String,
    /// Claim name to an exact value or a `*` glob; all must match.
    pub claims: BTreeMap<String, String>,
    /// The installation's owner; `None`: the caller's `repository_owner`.
    pub owner: Option<String>,
    /// An installation id the rule grants instead of an owner, if any.
    pub installation_id: Option<u64>,
    /// The repositories granted.
    pub repositories: Repositories,
    /// The maximum permissions.
    pub permissions: Vec<Permission>,
}

/// A rule as written, its fields checked for type only.
struct RawRule {
    issuer: Option<String>,
    claims: BTreeMap<String, String>,
    owner: Option<String>,
    installation_id: Option<u64>,
    repositories: Option<Value>,
    permissions: BTreeMap<String, String>,
}

impl RawRule {
    fn read(value: Value) -> json::Result<RawRule> {
        let mut rule = Object::from_value(value, "a rule")?;
        rule.only(&["issuer", "claims", "owner", "installation_id", "repositories", "permissions"])?;
        Ok(RawRule {
            issuer: rule.str("issuer")?.map(str::to_owned),
            claims: rule.string_map("claims")?,
            owner: rule.str("owner")?.map(str::to_owned),
            installation_id: rule.u64("installation_id")?,
            permissions: rule.string_map("permissions")?,
            repositories: rule.take("repositories"),
        })
    }
}

/// Parses and validates `TRUST_POLICY`; the error names the problem.
pub fn parse(text: &str) -> Result<Policy, String> {
    let not_valid = |e| format!("TRUST_POLICY is not a valid policy: {e}");
    let mut policy = Object::parse(text.as_bytes()).map_err(not_valid)?;
    policy.only(&["rules"]).map_err(not_valid)?;
    let Some(Value::Array(rules)) = policy.take("rules") else {
        return Err(not_valid("`rules` must be a list of rules".into()));
    };
    if rules.is_empty() {
        return Err("TRUST_POLICY has no rules: nobody could get a token".into());
    }
    let rules = rules.into_iter().enumerate().map(|(i, rule)| {
        RawRule::read(rule).and_then(parse_rule).map_err(|e| format!("TRUST_POLICY rule {}: {e}", i + 1))
    });
    Ok(Policy { rules: rules.collect::<Result<_, _>>()? })
}

/// The GitHub owner a rule's claims pin without a wildcard, if any:
/// `repository_owner`, the owner part of `repository`, or `sub`'s `repo:OWNER/`.
fn pinned_owner(claims: &BTreeMap<String, String>) -> Option<String> {
    let literal = |v: &str| (!v.is_empty() && !v.contains('*')).then(|| v.to_owned());
    let owner_of = |v: &str| v.split_once('/').and_then(|(owner, _)| literal(owner));
    claims
        .get("repository_owner")
        .and_then(|v| literal(v))
        .or_else(|| claims.get("repository").and_then(|v| owner_of(v)))
        .or_else(|| claims.get("sub").and_then(|v| owner_of(v.strip_prefix("repo:")?)))
}

fn parse_rule(raw: RawRule) -> Result<Rule, String> {
    let issuer = raw.issuer.unwrap_or_else(|| GITHUB_ACTIONS_ISSUER.to_owned());
    crate::http::Url::parse(&issuer).map_err(|rule| format!("issuer {rule}"))?;
    if !raw.claims.values().any(|pattern| pattern.chars().any(|c| c != '*')) {
        return Err(
            "claims must constrain something: a rule of bare wildcards admits every token of its issuer"
                .into(),
        );
    }
    if let Some(owner) = &raw.owner {
        github::check_owner("owner", owner).map_err(|e| e.message())?;
    }
    if issuer == GITHUB_ACTIONS_ISSUER {
        // Every workflow on GitHub can get a token from this issuer: the
        // rule must say whose workflows it admits.
        let pinned = claims_pin_identity(&raw.claims).then(|| pinned_owner(&raw.claims)).ok_or(
            "claims must pin the caller's owner exactly (repository_owner, repository, repo:OWNER/ in sub, or an *_id): \
             otherwise every workflow on GitHub is admitted",
        )?;
        if let (Some(pinned), Some(owner)) = (pinned, &raw.owner)
            && !pinned.eq_ignore_ascii_case(owner)
        {
            return Err(format!("owner {owner} differs from the owner {pinned} the claims pin"));
        }
    } else if raw.owner.is_none() && raw.installation_id.is_none() {
        return Err("owner or installation_id is required for an issuer other than GitHub Actions".into());
    }
    let repositories = match raw.repositories {
        None => Repositories::Callers,
        Some(Value::String(s)) if s == "*" => Repositories::All,
        Some(Value::Array(items)) => {
            let names = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or("repositories must be names"))
                .collect::<Result<Vec<_>, _>>()?;
            if names == ["*"] {
                Repositories::All
            } else {
                for name in &names {
                    github::check_repository("repositories", name).map_err(|e| e.message())?;
                }
                Repositories::Named(names)
            }
        }
        Some(_) => return Err("repositories must be a list of names or \"*\"".into()),
    };
    match raw.installation_id {
        Some(0) => return Err("installation_id must be positive".into()),
        Some(_) if raw.owner.is_some() => return Err("give owner or installation_id, not both".into()),
        Some(_) if repositories != Repositories::All => {
            return Err(
                "an installation_id rule grants whole installations: set repositories to \"*\"".into()
            );
        }
        _ => {}
    }
    if raw.permissions.is_empty() {
        return Err(
            "permissions must not be empty: a token without permissions carries all of the installation's"
                .into(),
        );
    }
    let permissions = raw
        .permissions
        .iter()
        .map(|(name, level)| {
            if !github::is_known_permission(name) {
                return Err(format!("unknown permission {name}"));
            }
            let access = parse_access(level).ok_or_else(|| format!("unknown level {level} for {name}"))?;
            Ok(Permission { name: name.clone(), access })
        })
        .collect::<Result<_, String>>()?;
    Ok(Rule {
        issuer,
        claims: raw.claims,
        owner: raw.owner,
        installation_id: raw.installation_id,
        repositories,
        permissions,
    })
}

/// Whether the claims pin an owner or a repository exactly (by name or id).
fn claims_pin_identity(claims: &BTreeMap<String, String>) -> bool {
    let exact = |name: &str| claims.get(name).is_some_and(|v| !v.is_empty() && !v.contains('*'));
    pinned_owner(claims).is_some() || exact("repository_owner_id") || exact("repository_id")
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else { return pattern == text };
    let Some(mut remaining) = text.strip_prefix(first) else { return false };
    let mut parts: Vec<&str> = rest.split('*').collect();
    let last = parts.pop().unwrap_or_default();
    for part in parts {
        match remaining.find(part) {
            Some(at) => remaining = &remaining[at + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// What a caller asked for, from the request body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// `owner`
    pub owner: Option<String>,
    /// `installation_id`
    pub installation_id: Option<u64>,
    /// `repositories`
    pub repositories: Vec<String>,
    /// `permissions`
    pub permissions: Vec<Permission>,
}

/// What to mint: exactly this, never more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The owner, or the installation id.
    pub installation: crate::api::Installation,
    /// Repository names; empty only for an `All` grant with nothing asked.
    pub repositories: Vec<String>,
    /// Never empty.
    pub permissions: Vec<Permission>,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No rule admits this caller.
    NoRule,
    /// Rules admit the caller, but none grants this request; the text says why.
    NotGranted(String),
}

fn rank(access: Access) -> u8 {
    match access {
        Access::Read => 1,
        Access::Write => 2,
        Access::Admin => 3,
    }
}

impl Policy {
    /// Decides `ask` for a caller whose verified token says `claims` (its
    /// `iss` among them): the first rule that admits the caller and grants
    /// the request wins.
    pub fn decide(&self, claims: &serde_json::Map<String, Value>, ask: &Ask) -> Result<Grant, Refusal> {
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let admitting = self.rules.iter().filter(|rule| {
            claim("iss") == Some(rule.issuer.as_str())
                && rule
                    .claims
                    .iter()
                    .all(|(name, pattern)| claim(name).is_some_and(|v| glob_matches(pattern, v)))
        });
        let mut reason = None;
        for rule in admitting {
            match rule.grant(claims, ask) {
                Ok(grant) => return Ok(grant),
                Err(why) => reason = reason.or(Some(why)),
            }
        }
        Err(reason.map_or(Refusal::NoRule, Refusal::NotGranted))
    }
}

impl Rule {
    fn grant(&self, claims: &serde_json::Map<String, Value>, ask: &Ask) -> Result<Grant, String> {
        if let Some(granted) = self.installation_id {
            // A whole installation, by id: nothing narrower or elsewhere may be named.
            if ask.owner.is_some() {
                return Err("this rule grants an installation by id, not an owner".into());
            }
            if let Some(asked) = ask.installation_id.filter(|asked| *asked != granted) {
                return Err(format!("installation {asked} is not granted"));
            }
            if !ask.repositories.is_empty() {
                return Err("repositories cannot be named for an installation granted by id".into());
            }
            let permissions = self.permissions_for(ask)?;
            return Ok(Grant {
                installation: crate::api::Installation::Id(granted),
                repositories: Vec::new(),
                permissions,
            });
        }
        if let Some(asked) = ask.installation_id {
            return Err(format!("installation {asked} is not granted"));
        }
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let owner = match &self.owner {
            Some(owner) => owner.clone(),
            None => claim("repository_owner")
                .ok_or("the rule grants the caller's owner, but the token has no repository_owner")?
                .to_owned(),
        };
        if let Some(asked) = ask.owner.as_ref().filter(|asked| !asked.eq_ignore_ascii_case(&owner)) {
            return Err(format!("owner {asked} is not granted"));
        }
        let granted_repositories: Option<Vec<String>> = match &self.repositories {
            Repositories::All => None,
            Repositories::Named(names) => Some(names.clone()),
            Repositories::Callers => {
                let full = claim("repository")
                    .ok_or("the rule grants the caller's repository, but the token has none")?;
                let name = full
                    .split_once('/')
                    .filter(|(o, _)| o.eq_ignore_ascii_case(&owner))
                    .map(|(_, name)| name.to_owned())
                    .ok_or("the caller's repository is not the granted owner's")?;
                Some(vec![name])
            }
        };
        let repositories = match (&granted_repositories, ask.repositories.is_empty()) {
            (_, true) => granted_repositories.clone().unwrap_or_default(),
            (None, false) => ask.repositories.clone(),
            (Some(granted), false) => {
                if let Some(other) =
                    ask.repositories.iter().find(|r| !granted.iter().any(|g| g.eq_ignore_ascii_case(r)))
                {
                    return Err(format!("repository {other} is not granted"));
                }
                ask.repositories.clone()
            }
        };
        let permissions = self.permissions_for(ask)?;
        Ok(Grant { installation: crate::api::Installation::Owner(owner), repositories, permissions })
    }

    /// The asked permissions if each is within the rule's, else the rule's.
    fn permissions_for(&self, ask: &Ask) -> Result<Vec<Permission>, String> {
        if ask.permissions.is_empty() {
            return Ok(self.permissions.clone());
        }
        for p in &ask.permissions {
            let max = self.permissions.iter().find(|g| g.name == p.name).map(|g| rank(g.access));
            if max.is_none_or(|max| rank(p.access) > max) {
                return Err(format!("{} {} is not granted", p.name, github::access_name(p.access)));
            }
        }
        Ok(ask.permissions.clone())
    }
}

#[cfg(test)]
mod tests {
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
            let e = parse(policy).unwrap_err();
            assert!(e.contains(says), "{policy}: {e}");
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
            assert!(matches!(p.decide(&caller(), &ask), Err(Refusal::NotGranted(_))), "{ask:?}");
        }
        let owner_rule = parse(
            r#"{"rules": [{"claims": {"repository_owner": "acme"}, "permissions": {"contents": "read"}}]}"#,
        )
        .unwrap();
        assert!(matches!(
            owner_rule.decide(&caller(), &Ask { installation_id: Some(7), ..Ask::default() }),
            Err(Refusal::NotGranted(_))
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
                installation: Installation::Owner("acme".into()),
                repositories: vec!["widgets".into()],
                permissions: vec![read("contents")]
            }
        );
        let other = Ask { repositories: vec!["gadgets".into()], ..Ask::default() };
        assert_eq!(
            p.decide(&caller(), &other),
            Err(Refusal::NotGranted("repository gadgets is not granted".into()))
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
        assert_eq!(
            (grant.repositories, grant.permissions),
            (vec!["gadgets".to_owned()], vec![read("contents")])
        );
        let all = p.decide(&caller(), &Ask::default()).unwrap();
        assert_eq!(all.repositories, Vec::<String>::new());
        assert_eq!(all.permissions.len(), 2);
    }

    #[test]
    fn refusals() {
        let p = parse(r#"{"rules": [{"claims": {"repository_owner": "acme", "ref": "refs/heads/main"}, "repositories": ["widgets"], "permissions": {"contents": "read"}}]}"#).unwrap();
        let deny = |ask: Ask| p.decide(&caller(), &ask).unwrap_err();
        assert!(
            matches!(deny(Ask { owner: Some("evil".into()), ..Ask::default() }), Refusal::NotGranted(m) if m.contains("owner evil"))
        );
        assert!(
            matches!(deny(Ask { installation_id: Some(5), ..Ask::default() }), Refusal::NotGranted(m) if m.contains("installation 5"))
        );
        let write = Ask {
            permissions: vec![Permission { name: "contents".into(), access: Access::Write }],
            ..Ask::default()
        };
        assert!(matches!(deny(write), Refusal::NotGranted(m) if m.contains("contents write")));
        assert!(matches!(
            deny(Ask { permissions: vec![read("issues")], ..Ask::default() }),
            Refusal::NotGranted(_)
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
}
