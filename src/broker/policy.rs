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
//! caller's own repository (GitHub Actions only: another issuer's
//! `repository` claim says nothing about GitHub). `claims` and `permissions`
//! are required, since a rule without claims would admit every workflow on
//! GitHub and a token without permissions would carry all of the
//! installation's; an empty `repositories` list is refused rather than read
//! as "all". `jwks_uri` names the issuer's keys directly, so that checking a
//! caller costs one fetch instead of two.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::api::{Access, Permission};
use crate::github::names::{self, access_name};
use crate::json::{self, Object};
use crate::net::url::{Scheme, Url};

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
    /// The issuer's key set, when the rule names it (no discovery needed).
    pub jwks_uri: Option<Url>,
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
    jwks_uri: Option<String>,
    claims: BTreeMap<String, String>,
    owner: Option<String>,
    installation_id: Option<u64>,
    repositories: Option<Value>,
    permissions: BTreeMap<String, String>,
}

impl RawRule {
    fn read(value: Value) -> json::Result<RawRule> {
        let mut rule = Object::from_value(value, "a rule")?;
        rule.only(&[
            "issuer",
            "jwks_uri",
            "claims",
            "owner",
            "installation_id",
            "repositories",
            "permissions",
        ])?;
        Ok(RawRule {
            issuer: rule.str("issuer")?.map(str::to_owned),
            jwks_uri: rule.str("jwks_uri")?.map(str::to_owned),
            claims: rule.string_map("claims")?,
            owner: rule.str("owner")?.map(str::to_owned),
            installation_id: rule.u64("installation_id")?,
            permissions: rule.string_map("permissions")?,
            repositories: rule.take("repositories"),
        })
    }
}

/// Parses and validates `TRUST_POLICY`; the error names the problem.
///
/// ```
/// use github_app_kms_token::broker::policy::{Ask, parse};
///
/// let policy = parse(r#"{"rules": [{"claims": {"repository_owner": "acme"},
///                                   "permissions": {"contents": "read"}}]}"#)?;
/// let caller = serde_json::json!({"iss": "https://token.actions.githubusercontent.com",
///                                 "repository_owner": "acme", "repository": "acme/widgets"});
/// let grant = policy.decide(caller.as_object().unwrap(), &Ask::default()).unwrap();
/// assert_eq!(grant.repositories, ["widgets"], "the caller's own repository");
/// assert!(parse(r#"{"rules": [{"claims": {"sub": "*"}, "permissions": {"contents": "read"}}]}"#).is_err());
/// # Ok::<(), String>(())
/// ```
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
    let rules: Vec<Rule> = rules.collect::<Result<_, _>>()?;
    // One issuer, one key set: rules that disagree about it would make the
    // caller's verification depend on which rule is read first.
    for (i, rule) in rules.iter().enumerate() {
        if rules[..i].iter().any(|r| r.issuer == rule.issuer && r.jwks_uri != rule.jwks_uri) {
            return Err(format!(
                "TRUST_POLICY rule {}: jwks_uri differs from an earlier rule's for the same issuer",
                i + 1
            ));
        }
    }
    Ok(Policy { rules })
}

/// Claims every token of an issuer carries, which constrain no caller.
const TOKEN_CLAIMS: [&str; 5] = ["iss", "aud", "exp", "iat", "nbf"];

/// The GitHub owner a rule's claims pin without a wildcard, if any:
/// `repository_owner`, the owner part of `repository`, or `sub`'s `repo:OWNER/`.
fn pinned_owner(claims: &BTreeMap<String, String>) -> Option<&str> {
    fn owner_of(v: &str) -> Option<&str> {
        v.split_once('/').and_then(|(owner, _)| literal(owner))
    }
    claims
        .get("repository_owner")
        .and_then(|v| literal(v))
        .or_else(|| claims.get("repository").and_then(|v| owner_of(v)))
        .or_else(|| claims.get("sub").and_then(|v| owner_of(v.strip_prefix("repo:")?)))
}

/// `v` when it pins a value exactly: not empty, no wildcard.
fn literal(v: &str) -> Option<&str> {
    (!v.is_empty() && !v.contains('*')).then_some(v)
}

fn parse_rule(raw: RawRule) -> Result<Rule, String> {
    let issuer = raw.issuer.unwrap_or_else(|| GITHUB_ACTIONS_ISSUER.to_owned());
    let issuer_url = Url::parse(&issuer).and_then(Url::secure).map_err(|rule| format!("issuer {rule}"))?;
    let jwks_uri = match &raw.jwks_uri {
        Some(text) => {
            let url = Url::parse(text).and_then(Url::secure).map_err(|rule| format!("jwks_uri {rule}"))?;
            if issuer_url.scheme == Scheme::Https && url.scheme != Scheme::Https {
                return Err("jwks_uri must be https:// when the issuer is".into());
            }
            Some(url)
        }
        None => None,
    };
    let constrains = |(name, pattern): (&String, &String)| {
        !TOKEN_CLAIMS.contains(&name.as_str()) && pattern.chars().any(|c| c != '*')
    };
    if !raw.claims.iter().any(constrains) {
        return Err("claims must constrain something other than iss, aud, exp, iat and nbf, with a pattern \
                    that is not all wildcards: otherwise the rule admits every token of its issuer"
            .into());
    }
    if let Some(owner) = &raw.owner {
        names::check_owner("owner", owner).map_err(|e| e.message())?;
    }
    if issuer == GITHUB_ACTIONS_ISSUER {
        // Every workflow on GitHub can get a token from this issuer: the
        // rule must say whose workflows it admits.
        let pinned = pinned_owner(&raw.claims);
        let pins_an_id = ["repository_owner_id", "repository_id"]
            .iter()
            .any(|name| raw.claims.get(*name).and_then(|v| literal(v)).is_some());
        if pinned.is_none() && !pins_an_id {
            return Err(
                "claims must pin the caller's owner exactly (repository_owner, repository, repo:OWNER/ in \
                        sub, or an *_id): otherwise every workflow on GitHub is admitted"
                    .into(),
            );
        }
        if let (Some(pinned), Some(owner)) = (pinned, &raw.owner)
            && !pinned.eq_ignore_ascii_case(owner)
        {
            return Err(format!("owner {owner} differs from the owner {pinned} the claims pin"));
        }
    } else if raw.owner.is_none() && raw.installation_id.is_none() {
        return Err("owner or installation_id is required for an issuer other than GitHub Actions".into());
    } else if raw.repositories.is_none() {
        // Another issuer's `repository` claim says nothing about GitHub.
        return Err(
            "repositories is required for an issuer other than GitHub Actions: a list of names, or \"*\""
                .into(),
        );
    }
    let repositories = match raw.repositories {
        None => Repositories::Callers,
        Some(Value::String(s)) if s == "*" => Repositories::All,
        Some(Value::Array(items)) => {
            let names = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or("repositories must be names"))
                .collect::<Result<Vec<_>, _>>()?;
            if names.is_empty() {
                return Err("repositories must not be empty: name them, or write \"*\" for all".into());
            }
            if names == ["*"] {
                Repositories::All
            } else {
                for name in &names {
                    names::check_repository("repositories", name).map_err(|e| e.message())?;
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
        .map(|(name, level)| names::known_permission(name, level))
        .collect::<Result<_, String>>()?;
    Ok(Rule {
        issuer,
        jwks_uri,
        claims: raw.claims,
        owner: raw.owner,
        installation_id: raw.installation_id,
        repositories,
        permissions,
    })
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
    /// The rule that granted it, counted from 1.
    pub rule: usize,
    /// The owner, or the installation id.
    pub installation: crate::api::Installation,
    /// Repository names; empty only when the rule grants `"*"` and the
    /// request names none.
    pub repositories: Vec<String>,
    /// Never empty.
    pub permissions: Vec<Permission>,
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No rule admits this caller.
    NoRule,
    /// Rules admit the caller, but none grants this request.
    NotGranted {
        /// The first admitting rule, counted from 1, whose refusal is told.
        rule: usize,
        /// Why it refused.
        why: String,
    },
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
        let admitting = self.rules.iter().zip(1..).filter(|(rule, _)| {
            claim("iss") == Some(rule.issuer.as_str())
                && rule
                    .claims
                    .iter()
                    .all(|(name, pattern)| claim(name).is_some_and(|v| glob_matches(pattern, v)))
        });
        let mut refusal = Refusal::NoRule;
        for (rule, index) in admitting {
            match rule.grant(index, claims, ask) {
                Ok(grant) => return Ok(grant),
                Err(why) if refusal == Refusal::NoRule => refusal = Refusal::NotGranted { rule: index, why },
                Err(_) => {}
            }
        }
        Err(refusal)
    }

    /// The first rule that trusts `issuer`, if any: what it says of the
    /// issuer's keys, every rule for that issuer says too.
    pub fn rule_for(&self, issuer: &str) -> Option<&Rule> {
        self.rules.iter().find(|rule| rule.issuer == issuer)
    }

    /// The key set named for `issuer`, if its rules name one (they agree).
    pub fn jwks_uri(&self, issuer: &str) -> Option<&Url> {
        self.rule_for(issuer)?.jwks_uri.as_ref()
    }
}

impl Rule {
    /// What this rule, counted `index` from 1, grants for `ask`.
    fn grant(
        &self,
        index: usize,
        claims: &serde_json::Map<String, Value>,
        ask: &Ask,
    ) -> Result<Grant, String> {
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
                rule: index,
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
        let installation = crate::api::Installation::Owner(owner);
        Ok(Grant { rule: index, installation, repositories, permissions })
    }

    /// The asked permissions if each is within the rule's, else the rule's.
    fn permissions_for(&self, ask: &Ask) -> Result<Vec<Permission>, String> {
        if ask.permissions.is_empty() {
            return Ok(self.permissions.clone());
        }
        for p in &ask.permissions {
            let max = self.permissions.iter().find(|g| g.name == p.name).map(|g| rank(g.access));
            if max.is_none_or(|max| rank(p.access) > max) {
                return Err(format!("{} {} is not granted", p.name, access_name(p.access)));
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
    fn what_the_review_found_is_refused_when_the_policy_is_read() {
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
            let e = parse(&rule(fields)).unwrap_err();
            assert!(e.contains(says), "{fields}: {e}");
        }
        let two = |a: &str, b: &str| {
            format!(
                r#"{{"rules": [{{"claims": {{"repository_owner": "acme"}}, "permissions": {{"contents": "read"}}{a}}},
                              {{"claims": {{"repository_owner": "acme"}}, "permissions": {{"issues": "read"}}{b}}}]}}"#
            )
        };
        let keys = r#", "jwks_uri": "https://token.actions.githubusercontent.com/.well-known/jwks""#;
        assert!(parse(&two(keys, "")).unwrap_err().contains("rule 2: jwks_uri differs"));
        let p = parse(&two(keys, keys)).unwrap();
        assert_eq!(
            p.jwks_uri(GITHUB_ACTIONS_ISSUER).map(Url::to_string).as_deref(),
            Some("https://token.actions.githubusercontent.com/.well-known/jwks")
        );
        assert_eq!(parse(&two("", "")).unwrap().jwks_uri(GITHUB_ACTIONS_ISSUER), None);
        assert!(
            parse(&rule(&format!(r#"{idp}, "claims": {{"sub": "x"}}, "repositories": ["infra"]"#))).is_ok()
        );
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
            Err(Refusal::NotGranted { rule: 1, why: "repository gadgets is not granted".into() })
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
            matches!(deny(Ask { owner: Some("evil".into()), ..Ask::default() }), Refusal::NotGranted { why: m, .. } if m.contains("owner evil"))
        );
        assert!(
            matches!(deny(Ask { installation_id: Some(5), ..Ask::default() }), Refusal::NotGranted { why: m, .. } if m.contains("installation 5"))
        );
        let write = Ask {
            permissions: vec![Permission { name: "contents".into(), access: Access::Write }],
            ..Ask::default()
        };
        assert!(matches!(deny(write), Refusal::NotGranted { why: m, .. } if m.contains("contents write")));
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
}
