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
//!
//! A policy is validated whole before any request is decided ([`parse`]),
//! rule by rule in the order of [`parse_rule`]; a request is then decided
//! by the first rule that admits the caller and grants it ([`Policy::decide`]).

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::api::{Access, Installation, Permission};
use crate::error::Error;
use crate::github::names::{self, PermissionError, access_name};
use crate::json::{self, Object};
use crate::mint::settings::not_both;
use crate::net::url::{Scheme, Url};

#[cfg(test)]
mod tests;

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
    /// The maximum permissions; never empty.
    pub permissions: Vec<Permission>,
}

/// Why `TRUST_POLICY` cannot be used: for the operator's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// Not JSON, or not an object with `rules` alone.
    NotAPolicy(json::Error),
    /// `rules` is not a list.
    RulesNotAList,
    /// `rules` is empty.
    NoRules,
    /// Rule `index` (counted from 1) cannot be used.
    Rule {
        /// Which rule, counted from 1.
        index: usize,
        /// What is wrong with it.
        problem: RuleError,
    },
}

/// What is wrong with one rule; each text says what to write instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// Not an object of the known fields, each of its type.
    Shape(json::Error),
    /// `issuer` is not a URL a credential may be fetched from.
    Issuer(&'static str),
    /// `jwks_uri` is not such a URL.
    JwksUri(&'static str),
    /// `jwks_uri` is plain HTTP for an HTTPS issuer.
    JwksUriNotHttps,
    /// An earlier rule names another `jwks_uri` for the same issuer.
    JwksUriDiffers,
    /// `claims` constrain nothing but the claims every token carries.
    ClaimsConstrainNothing,
    /// A GitHub Actions rule whose claims do not pin the caller's owner.
    OwnerNotPinned,
    /// `owner` is not the owner the claims pin.
    OwnerDiffers {
        /// The rule's `owner`.
        owner: String,
        /// The owner its claims pin.
        pinned: String,
    },
    /// `owner` or a repository name breaks GitHub's rules.
    Name(Error),
    /// Another issuer's rule names neither `owner` nor `installation_id`.
    OwnerRequired,
    /// Another issuer's rule does not name its repositories.
    RepositoriesRequired,
    /// `repositories` is neither a list of names nor `"*"`.
    RepositoriesShape,
    /// `repositories` is an empty list.
    RepositoriesEmpty,
    /// `installation_id` is 0.
    InstallationIdZero,
    /// Both `owner` and `installation_id`.
    OwnerAndInstallationId,
    /// An `installation_id` rule that does not grant `"*"`.
    InstallationIdNeedsAll,
    /// No `permissions`.
    PermissionsEmpty,
    /// A permission or level GitHub does not know.
    Permission(PermissionError),
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::NotAPolicy(why) => write!(f, "TRUST_POLICY is not a valid policy: {why}"),
            PolicyError::RulesNotAList => {
                f.write_str("TRUST_POLICY is not a valid policy: `rules` must be a list of rules")
            }
            PolicyError::NoRules => f.write_str("TRUST_POLICY has no rules: nobody could get a token"),
            PolicyError::Rule { index, problem } => write!(f, "TRUST_POLICY rule {index}: {problem}"),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleError::Shape(why) => write!(f, "{why}"),
            RuleError::Issuer(rule) => write!(f, "issuer {rule}"),
            RuleError::JwksUri(rule) => write!(f, "jwks_uri {rule}"),
            RuleError::JwksUriNotHttps => f.write_str("jwks_uri must be https:// when the issuer is"),
            RuleError::JwksUriDiffers => f.write_str("jwks_uri differs from an earlier rule's for the same issuer"),
            RuleError::ClaimsConstrainNothing => f.write_str(
                "claims must constrain something other than iss, aud, exp, iat and nbf, with a pattern that is \
                 not all wildcards: otherwise the rule admits every token of its issuer",
            ),
            RuleError::OwnerNotPinned => f.write_str(
                "claims must pin the caller's owner exactly (repository_owner, repository, repo:OWNER/ in sub, \
                 or an *_id): otherwise every workflow on GitHub is admitted",
            ),
            RuleError::OwnerDiffers { owner, pinned } => {
                write!(f, "owner {owner} differs from the owner {pinned} the claims pin")
            }
            RuleError::Name(error) => f.write_str(&error.message()),
            RuleError::OwnerRequired => {
                f.write_str("owner or installation_id is required for an issuer other than GitHub Actions")
            }
            RuleError::RepositoriesRequired => f.write_str(
                "repositories is required for an issuer other than GitHub Actions: a list of names, or \"*\"",
            ),
            RuleError::RepositoriesShape => f.write_str("repositories must be a list of names or \"*\""),
            RuleError::RepositoriesEmpty => {
                f.write_str("repositories must not be empty: name them, or write \"*\" for all")
            }
            RuleError::InstallationIdZero => f.write_str("installation_id must be positive"),
            RuleError::OwnerAndInstallationId => f.write_str(&not_both("owner", "installation_id")),
            RuleError::InstallationIdNeedsAll => {
                f.write_str("an installation_id rule grants whole installations: set repositories to \"*\"")
            }
            RuleError::PermissionsEmpty => f.write_str(
                "permissions must not be empty: a token without permissions carries all of the installation's",
            ),
            RuleError::Permission(why) => write!(f, "{why}"),
        }
    }
}

/// A rule as written, its fields checked for type only.
struct RawRule {
    issuer: String,
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
            issuer: rule.str("issuer")?.unwrap_or(GITHUB_ACTIONS_ISSUER).to_owned(),
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
/// # Ok::<(), github_app_kms_token::broker::policy::PolicyError>(())
/// ```
pub fn parse(text: &str) -> Result<Policy, PolicyError> {
    let mut policy = Object::parse(text.as_bytes()).map_err(PolicyError::NotAPolicy)?;
    policy.only(&["rules"]).map_err(PolicyError::NotAPolicy)?;
    let Some(Value::Array(rules)) = policy.take("rules") else { return Err(PolicyError::RulesNotAList) };
    if rules.is_empty() {
        return Err(PolicyError::NoRules);
    }
    let at = |index: usize| move |problem| PolicyError::Rule { index: index + 1, problem };
    let rules: Vec<Rule> = rules
        .into_iter()
        .enumerate()
        .map(|(i, rule)| parse_rule(rule).map_err(at(i)))
        .collect::<Result<_, _>>()?;
    // One issuer, one key set: rules that disagree about it would make the
    // caller's verification depend on which rule is read first.
    for (i, rule) in rules.iter().enumerate() {
        if rules[..i].iter().any(|r| r.issuer == rule.issuer && r.jwks_uri != rule.jwks_uri) {
            return Err(at(i)(RuleError::JwksUriDiffers));
        }
    }
    Ok(Policy { rules })
}

/// One rule, checked in this order: its shape, where the issuer's keys
/// are, what the claims admit, whose installation it grants, which
/// repositories, an installation id's terms, the permissions.
pub fn parse_rule(value: Value) -> Result<Rule, RuleError> {
    let raw = RawRule::read(value).map_err(RuleError::Shape)?;
    let jwks_uri = key_set(&raw.issuer, raw.jwks_uri.as_deref())?;
    check_claims_constrain(&raw.claims)?;
    if let Some(owner) = &raw.owner {
        names::check_owner("owner", owner).map_err(RuleError::Name)?;
    }
    check_whose(&raw)?;
    let repositories = repositories(raw.repositories)?;
    check_installation_id(raw.installation_id, raw.owner.is_some(), &repositories)?;
    let permissions = permissions(&raw.permissions)?;
    Ok(Rule {
        issuer: raw.issuer,
        jwks_uri,
        claims: raw.claims,
        owner: raw.owner,
        installation_id: raw.installation_id,
        repositories,
        permissions,
    })
}

/// The issuer must be `https://` (or loopback), and so must a `jwks_uri`
/// it names, no weaker than the issuer.
fn key_set(issuer: &str, jwks_uri: Option<&str>) -> Result<Option<Url>, RuleError> {
    let issuer = Url::parse(issuer).and_then(Url::secure).map_err(RuleError::Issuer)?;
    let Some(text) = jwks_uri else { return Ok(None) };
    let url = Url::parse(text).and_then(Url::secure).map_err(RuleError::JwksUri)?;
    if issuer.scheme == Scheme::Https && url.scheme != Scheme::Https {
        return Err(RuleError::JwksUriNotHttps);
    }
    Ok(Some(url))
}

/// Claims every token of an issuer carries, which constrain no caller.
const TOKEN_CLAIMS: [&str; 5] = ["iss", "aud", "exp", "iat", "nbf"];

/// Some claim other than [`TOKEN_CLAIMS`] must have a pattern that is not
/// all wildcards.
fn check_claims_constrain(claims: &BTreeMap<String, String>) -> Result<(), RuleError> {
    let constrains = |(name, pattern): (&String, &String)| {
        !TOKEN_CLAIMS.contains(&name.as_str()) && pattern.chars().any(|c| c != '*')
    };
    if claims.iter().any(constrains) { Ok(()) } else { Err(RuleError::ClaimsConstrainNothing) }
}

/// Whose installation: a GitHub Actions rule must pin the caller's owner
/// (every workflow on GitHub can get a token from that issuer), and an
/// `owner` must be that one; another issuer's rule must name the owner (or
/// installation) and its repositories, since its claims say nothing of GitHub.
fn check_whose(raw: &RawRule) -> Result<(), RuleError> {
    if raw.issuer != GITHUB_ACTIONS_ISSUER {
        return match (&raw.owner, raw.installation_id, &raw.repositories) {
            (None, None, _) => Err(RuleError::OwnerRequired),
            (_, _, None) => Err(RuleError::RepositoriesRequired),
            _ => Ok(()),
        };
    }
    let pins_an_id = ["repository_owner_id", "repository_id"]
        .iter()
        .any(|name| raw.claims.get(*name).and_then(|v| literal(v)).is_some());
    match (pinned_owner(&raw.claims), &raw.owner) {
        (None, _) if !pins_an_id => Err(RuleError::OwnerNotPinned),
        (Some(pinned), Some(owner)) if !pinned.eq_ignore_ascii_case(owner) => {
            Err(RuleError::OwnerDiffers { owner: owner.clone(), pinned: pinned.to_owned() })
        }
        _ => Ok(()),
    }
}

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

/// `repositories` as written: absent (the caller's own), `"*"` or `["*"]`
/// (all), or names; never an empty list, which GitHub would read as all.
fn repositories(written: Option<Value>) -> Result<Repositories, RuleError> {
    let items = match written {
        None => return Ok(Repositories::Callers),
        Some(Value::String(s)) if s == "*" => return Ok(Repositories::All),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(RuleError::RepositoriesShape),
    };
    let names: Vec<String> = items
        .into_iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or(RuleError::RepositoriesShape))
        .collect::<Result<_, _>>()?;
    match names.as_slice() {
        [] => Err(RuleError::RepositoriesEmpty),
        [star] if star == "*" => Ok(Repositories::All),
        _ => {
            for name in &names {
                names::check_repository("repositories", name).map_err(RuleError::Name)?;
            }
            Ok(Repositories::Named(names))
        }
    }
}

/// An installation id is positive, instead of an owner, and grants the
/// whole installation.
fn check_installation_id(id: Option<u64>, owner: bool, repositories: &Repositories) -> Result<(), RuleError> {
    match id {
        None => Ok(()),
        Some(0) => Err(RuleError::InstallationIdZero),
        Some(_) if owner => Err(RuleError::OwnerAndInstallationId),
        Some(_) if *repositories != Repositories::All => Err(RuleError::InstallationIdNeedsAll),
        Some(_) => Ok(()),
    }
}

/// The maximum permissions: at least one, each known at a known level.
fn permissions(written: &BTreeMap<String, String>) -> Result<Vec<Permission>, RuleError> {
    if written.is_empty() {
        return Err(RuleError::PermissionsEmpty);
    }
    written
        .iter()
        .map(|(name, level)| names::known_permission(name, level).map_err(RuleError::Permission))
        .collect()
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

/// What a caller asked for, from the request body (each field checked).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ask {
    /// Whose installation.
    pub owner: Option<String>,
    /// Or which installation, by id.
    pub installation_id: Option<u64>,
    /// Names of the owner's repositories; empty: the rule's grant.
    pub repositories: Vec<String>,
    /// Permissions; empty: the rule's maximum.
    pub permissions: Vec<Permission>,
}

/// What to mint: exactly this, never more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The rule that granted it, counted from 1.
    pub rule: usize,
    /// The owner, or the installation id.
    pub installation: Installation,
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
        why: NotGranted,
    },
}

/// Why a rule that admits the caller does not grant the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotGranted {
    /// The rule grants an installation by id; the request names an owner.
    OwnerOfAnIdRule,
    /// The request names another installation.
    Installation(u64),
    /// The rule grants an installation by id; the request names repositories.
    RepositoriesOfAnIdRule,
    /// The rule grants the caller's owner; the token names none.
    NoOwnerClaim,
    /// The rule grants the caller's repository; the token names none.
    NoRepositoryClaim,
    /// The caller's repository belongs to another owner than the granted one.
    ForeignRepositoryClaim,
    /// The request names another owner.
    Owner(String),
    /// The request names a repository the rule does not grant.
    Repository(String),
    /// The request asks for more than the rule's maximum.
    Permission(Permission),
}

impl fmt::Display for NotGranted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotGranted::OwnerOfAnIdRule => {
                f.write_str("this rule grants an installation by id, not an owner")
            }
            NotGranted::Installation(id) => write!(f, "installation {id} is not granted"),
            NotGranted::RepositoriesOfAnIdRule => {
                f.write_str("repositories cannot be named for an installation granted by id")
            }
            NotGranted::NoOwnerClaim => {
                f.write_str("the rule grants the caller's owner, but the token has no repository_owner")
            }
            NotGranted::NoRepositoryClaim => {
                f.write_str("the rule grants the caller's repository, but the token has none")
            }
            NotGranted::ForeignRepositoryClaim => {
                f.write_str("the caller's repository is not the granted owner's")
            }
            NotGranted::Owner(owner) => write!(f, "owner {owner} is not granted"),
            NotGranted::Repository(name) => write!(f, "repository {name} is not granted"),
            NotGranted::Permission(p) => write!(f, "{} {} is not granted", p.name, access_name(p.access)),
        }
    }
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
    pub fn decide(&self, claims: &Map<String, Value>, ask: &Ask) -> Result<Grant, Refusal> {
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
    /// What this rule, counted `index` from 1, grants for `ask`: the
    /// installation and repositories, then the permissions.
    fn grant(&self, index: usize, claims: &Map<String, Value>, ask: &Ask) -> Result<Grant, NotGranted> {
        let (installation, repositories) = match self.installation_id {
            Some(id) => self.by_id(id, ask)?,
            None => self.by_owner(claims, ask)?,
        };
        let permissions = self.permissions_for(ask)?;
        Ok(Grant { rule: index, installation, repositories, permissions })
    }

    /// A whole installation, by id: nothing narrower or elsewhere may be named.
    fn by_id(&self, granted: u64, ask: &Ask) -> Result<(Installation, Vec<String>), NotGranted> {
        if ask.owner.is_some() {
            return Err(NotGranted::OwnerOfAnIdRule);
        }
        if let Some(asked) = ask.installation_id.filter(|asked| *asked != granted) {
            return Err(NotGranted::Installation(asked));
        }
        if !ask.repositories.is_empty() {
            return Err(NotGranted::RepositoriesOfAnIdRule);
        }
        Ok((Installation::Id(granted), Vec::new()))
    }

    /// The rule's (or the caller's) owner, and the repositories asked
    /// within the granted ones (none asked: the granted ones).
    fn by_owner(
        &self,
        claims: &Map<String, Value>,
        ask: &Ask,
    ) -> Result<(Installation, Vec<String>), NotGranted> {
        if let Some(asked) = ask.installation_id {
            return Err(NotGranted::Installation(asked));
        }
        let claim = |name: &str| claims.get(name).and_then(Value::as_str);
        let owner = match &self.owner {
            Some(owner) => owner.clone(),
            None => claim("repository_owner").ok_or(NotGranted::NoOwnerClaim)?.to_owned(),
        };
        if let Some(asked) = ask.owner.as_ref().filter(|asked| !asked.eq_ignore_ascii_case(&owner)) {
            return Err(NotGranted::Owner(asked.clone()));
        }
        let granted = match &self.repositories {
            Repositories::All => None,
            Repositories::Named(names) => Some(names.clone()),
            Repositories::Callers => Some(vec![callers_repository(claim("repository"), &owner)?]),
        };
        let repositories = match (granted, ask.repositories.as_slice()) {
            (granted, []) => granted.unwrap_or_default(),
            (None, asked) => asked.to_vec(),
            (Some(granted), asked) => {
                let not_granted = asked.iter().find(|r| !granted.iter().any(|g| g.eq_ignore_ascii_case(r)));
                if let Some(other) = not_granted {
                    return Err(NotGranted::Repository(other.clone()));
                }
                asked.to_vec()
            }
        };
        Ok((Installation::Owner(owner), repositories))
    }

    /// The asked permissions if each is within the rule's, else the rule's.
    fn permissions_for(&self, ask: &Ask) -> Result<Vec<Permission>, NotGranted> {
        if ask.permissions.is_empty() {
            return Ok(self.permissions.clone());
        }
        for p in &ask.permissions {
            let max = self.permissions.iter().find(|g| g.name == p.name).map(|g| rank(g.access));
            if max.is_none_or(|max| rank(p.access) > max) {
                return Err(NotGranted::Permission(p.clone()));
            }
        }
        Ok(ask.permissions.clone())
    }
}

/// The name of the caller's repository (its `repository` claim, `OWNER/NAME`)
/// when it is `owner`'s.
fn callers_repository(full: Option<&str>, owner: &str) -> Result<String, NotGranted> {
    let (repository_owner, name) =
        full.ok_or(NotGranted::NoRepositoryClaim)?.split_once('/').unwrap_or_default();
    if repository_owner.eq_ignore_ascii_case(owner) && !name.is_empty() {
        Ok(name.to_owned())
    } else {
        Err(NotGranted::ForeignRepositoryClaim)
    }
}
