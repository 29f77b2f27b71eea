//! What the flows need, validated before any network traffic. Two kinds,
//! told apart by type:
//!
//! - a [`Deployment`]: the App and its KMS key, the GitHub API, where AWS
//!   credentials come from, the deadline. A fault there is the
//!   deployment's: the broker answers it with a 500;
//! - a [`Target`]: the installation, and what its token is narrowed to.
//!   A fault there is the request's: the broker answers it with a 400.
//!
//! `crate::exports::resolve` resolves both, once per call, from the
//! request's fields and the environment; a bad value is `invalid-input`
//! naming the field (or the variable it came from) and the rule it broke.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;
use std::time::Duration;

use crate::api::{Installation, Permission};
use crate::error::{Result, invalid};
use crate::github::api::{Scope, account};
use crate::github::jwt::AppId;
use crate::github::names::{
    MAX_REPOSITORIES, check_enterprise, check_owner, check_permission_name, check_repository,
};
use crate::mint::signer::{Credentials, Key};
use crate::net::url::Url;

/// What signing an App JWT needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JwtSettings {
    /// The App, as the JWT's `iss`.
    pub app: AppId,
    /// The key that signs, in its store.
    pub key: Key,
}

/// What minting needs besides the target: the deployment's settings.
#[derive(Debug)]
pub struct Deployment {
    /// The App and its key.
    pub jwt: JwtSettings,
    /// The GitHub API base URL.
    pub api: Url,
    /// Where the credentials for the key's store come from.
    pub credentials: Credentials,
    /// The whole call's deadline, retries included.
    pub timeout: Duration,
}

#[cfg(test)]
impl Deployment {
    /// For tests: App 42 with its key `alias/github-app` in eu-west-1,
    /// static keys, GitHub at `api`, 30 s.
    pub fn example(api: &str) -> Deployment {
        use crate::aws::credentials::{AwsCredentials, Source};
        use crate::aws::kms::{KeyId, KmsKey};
        use crate::aws::region::Region;
        use crate::secret::Secret;
        let region = Region::parse("r", "eu-west-1").expect("a region");
        let kms = KmsKey {
            key_id: KeyId::parse("k", "alias/github-app").expect("a key id"),
            endpoint: region.endpoint("kms"),
            region,
        };
        Deployment {
            jwt: JwtSettings { app: AppId::Number(42), key: Key::AwsKms(kms) },
            api: Url::parse(api).expect("a URL"),
            credentials: Credentials::Aws(Source::Keys(AwsCredentials {
                access_key_id: "AKIDEXAMPLE".into(),
                secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                session_token: None,
            })),
            timeout: Duration::from_secs(30),
        }
    }
}

/// The deadline of a call when none is given.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// The deadlines a call may be given, in seconds.
pub const TIMEOUT_SECS: RangeInclusive<u64> = 1..=3600;
/// [`TIMEOUT_SECS`] in words, for every face's error.
pub const TIMEOUT_RULE: &str = "a whole number of seconds from 1 to 3600";

/// `secs` (`None`: not a whole number) from `field` as a deadline, if it is
/// one of [`TIMEOUT_SECS`].
pub fn timeout(field: &str, secs: Option<u64>) -> Result<Duration> {
    match secs.filter(|secs| TIMEOUT_SECS.contains(secs)) {
        Some(secs) => Ok(Duration::from_secs(secs)),
        None => Err(invalid(field, format!("must be {TIMEOUT_RULE}"))),
    }
}

/// What a token is minted for: an installation, and the scope its token is
/// narrowed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The installation, its fields checked.
    pub installation: Installation,
    /// What the token is narrowed to.
    pub scope: Scope,
}

impl Target {
    /// `installation` narrowed to `repositories` (its account's, bare or
    /// full: `widgets` or `acme/widgets`; none: `default_repository`, if any)
    /// and `permissions`, each named once. Every field is checked; an error
    /// names the field (`installation.owner`, `repositories`, ...).
    pub fn new(
        installation: Installation,
        repositories: &[String],
        default_repository: Option<String>,
        permissions: &[Permission],
    ) -> Result<Target> {
        check_installation(&installation)?;
        let repositories: Vec<String> = repositories
            .iter()
            .map(|name| bare_name(name, account(&installation)).map(str::to_owned))
            .collect::<Result<_>>()?;
        for name in &repositories {
            check_repository("repositories", name)?;
        }
        check_unique("repositories", repositories.iter().map(String::as_str))?;
        if repositories.len() > MAX_REPOSITORIES {
            return Err(invalid("repositories", format!("at most {MAX_REPOSITORIES} names")));
        }
        if !repositories.is_empty() && account(&installation).is_none() {
            return Err(invalid(
                "repositories",
                "need an owner or repository installation, so that it is clear whose repositories they are",
            ));
        }
        for permission in permissions {
            check_permission_name("permissions", &permission.name)?;
        }
        check_unique("permissions", permissions.iter().map(|p| p.name.as_str()))?;
        let repositories =
            if repositories.is_empty() { default_repository.into_iter().collect() } else { repositories };
        Ok(Target { installation, scope: Scope { repositories, permissions: permissions.to_vec() } })
    }
}

/// `name` as a bare name of `account`'s repositories: `widgets` as it is,
/// `acme/widgets` only when `account` is `acme` (ignoring case, as GitHub
/// does), the one rule for full names in every face.
fn bare_name<'a>(name: &'a str, account: Option<&str>) -> Result<&'a str> {
    let Some((owner, bare)) = name.split_once('/') else { return Ok(name) };
    check_owner("repositories", owner)?;
    match account {
        Some(account) if account.eq_ignore_ascii_case(owner) => Ok(bare),
        Some(account) => Err(invalid("repositories", format!("{name} is not a repository of {account}"))),
        None => Err(invalid("repositories", format!("{name} names an owner, but the installation has none"))),
    }
}

/// The repositories of each of several `installations`' tokens, from one
/// list as a user writes it: each full name (`acme/widgets`) goes to its
/// owner's token. A bare name is refused (whose would it be?), and so is a
/// full name of none of the owners, and a list that names none of one
/// owner's repositories: that owner's token would reach all of them.
pub fn route(installations: &[Installation], names: &[String]) -> Result<Vec<Vec<String>>> {
    let mut routed = vec![Vec::new(); installations.len()];
    for name in names {
        let Some((owner, _)) = name.split_once('/') else {
            return Err(invalid(
                "repositories",
                format!("{name} is a bare name, but there are several owners: write OWNER/{name}"),
            ));
        };
        let at = installations.iter().position(|i| account(i).is_some_and(|a| a.eq_ignore_ascii_case(owner)));
        let at =
            at.ok_or_else(|| invalid("repositories", format!("{name}: {owner} is not among the owners")))?;
        routed[at].push(name.clone());
    }
    match routed.iter().position(Vec::is_empty) {
        Some(at) if !names.is_empty() => {
            let whose =
                account(&installations[at]).map_or_else(|| "an installation".to_owned(), str::to_owned);
            Err(invalid(
                "repositories",
                format!(
                    "names none of {whose}'s repositories: name at least one OWNER/NAME of each owner, \
                     or none at all (a token for all of them)"
                ),
            ))
        }
        _ => Ok(routed),
    }
}

/// `invalid-input` if two of `targets` are the same installation (owners
/// compared as GitHub does, ignoring case): each would get a token of its
/// own for one installation. The one check for every face.
pub fn check_distinct(targets: &[Target]) -> Result<()> {
    let mut seen = BTreeSet::new();
    match targets.iter().map(|t| installation_name(&t.installation)).find(|k| !seen.insert(k.clone())) {
        Some((kind, twice)) => {
            let field = if kind == "id" { "installation".to_owned() } else { format!("installation.{kind}") };
            Err(invalid(&field, format!("names {twice} twice: one token per installation")))
        }
        None => Ok(()),
    }
}

/// An installation's kind and name, logins lower-cased (GitHub ignores
/// their case): what tells two installations apart, here and in cache keys.
pub fn installation_name(installation: &Installation) -> (&'static str, String) {
    match installation {
        Installation::Id(id) => ("id", id.to_string()),
        Installation::Owner(owner) => ("owner", owner.to_ascii_lowercase()),
        Installation::Repository(r) => ("repository", format!("{}/{}", r.owner, r.name).to_ascii_lowercase()),
        Installation::Enterprise(slug) => ("enterprise", slug.clone()),
    }
}

/// `invalid-input` for `field` if `names` holds a name twice.
fn check_unique<'a>(field: &str, names: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = BTreeSet::new();
    match names.into_iter().find(|name| !seen.insert(*name)) {
        Some(twice) => Err(invalid(field, format!("names {twice} more than once"))),
        None => Ok(()),
    }
}

/// The words for naming both an `owner` and an `id` of an installation,
/// which each face refuses (as its own names for the two say).
pub fn not_both(owner: &str, id: &str) -> String {
    format!("give {owner} or {id}, not both")
}

/// An installation id from `field`: GitHub's ids start at 1.
pub fn installation_id(field: &str, id: u64) -> Result<u64> {
    if id == 0 { Err(invalid(field, "must be a positive installation id")) } else { Ok(id) }
}

/// The WIT `installation`'s fields checked; errors name the nested field
/// (`installation.owner`, `installation.repository.name`, ...).
fn check_installation(installation: &Installation) -> Result<()> {
    match installation {
        Installation::Id(id) => installation_id("installation", *id).map(drop),
        Installation::Owner(owner) => check_owner("installation.owner", owner),
        Installation::Repository(r) => {
            check_owner("installation.repository.owner", &r.owner)?;
            check_repository("installation.repository.name", &r.name)
        }
        Installation::Enterprise(slug) => check_enterprise("installation.enterprise", slug),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Access, RepositoryRef};
    use crate::error::Error;
    use Installation::{Id, Owner};

    fn field_of<T>(result: Result<T>) -> String {
        match result {
            Err(Error::InvalidInput(e)) => e.field,
            Err(other) => panic!("not invalid-input: {}", other.message()),
            Ok(_) => panic!("accepted"),
        }
    }

    fn owner() -> Installation {
        Owner("acme".into())
    }

    fn read(name: &str) -> Permission {
        Permission { name: name.into(), access: Access::Read }
    }

    #[test]
    fn installations_name_their_field() {
        let repository = |owner: &str, name: &str| {
            Installation::Repository(RepositoryRef { owner: owner.into(), name: name.into() })
        };
        for (installation, field) in [
            (Installation::Owner("-bad".into()), "installation.owner"),
            (repository("o", "a/b"), "installation.repository.name"),
            (repository("o o", "a"), "installation.repository.owner"),
            (Installation::Enterprise("A B".into()), "installation.enterprise"),
            (Installation::Id(0), "installation"),
        ] {
            assert_eq!(field_of(Target::new(installation, &[], None, &[])), field);
        }
        assert!(Target::new(repository("acme", "widgets"), &["docs".into()], None, &[]).is_ok());
    }

    #[test]
    fn scopes_follow_the_rules() {
        let names = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
        for (installation, repositories, permissions, field) in [
            (owner(), vec!["octo/widgets".to_owned()], vec![], "repositories"),
            (Id(5), vec!["acme/widgets".to_owned()], vec![], "repositories"),
            (owner(), names(501), vec![], "repositories"),
            (owner(), vec!["a".into(), "a".into()], vec![], "repositories"),
            (Id(5), vec!["widgets".into()], vec![], "repositories"),
            (owner(), vec![], vec![read("Contents!")], "permissions"),
            (owner(), vec![], vec![read("contents"), read("contents")], "permissions"),
        ] {
            assert_eq!(field_of(Target::new(installation, &repositories, None, &permissions)), field);
        }
        let t = Target::new(owner(), &[], Some("widgets".into()), &[read("contents")]).unwrap();
        assert_eq!(
            (t.scope.repositories, t.scope.permissions),
            (vec!["widgets".into()], vec![read("contents")])
        );
        let named = Target::new(owner(), &["docs".into()], Some("widgets".into()), &[]).unwrap();
        assert_eq!(named.scope.repositories, ["docs"], "named repositories win over the default");
    }

    /// v3.2's rule: a full name is accepted when its owner is the
    /// installation's; beyond it, several owners each get their own.
    #[test]
    fn full_names_are_their_owners_repositories() {
        let t = Target::new(owner(), &["ACME/widgets".into(), "docs".into()], None, &[]).unwrap();
        assert_eq!(t.scope.repositories, ["widgets", "docs"]);
        let e = Target::new(owner(), &["octo/widgets".into()], None, &[]).unwrap_err();
        assert_eq!(e.message(), "invalid repositories: octo/widgets is not a repository of acme");
        let two = [owner(), Owner("octocat".into())];
        let names: Vec<String> = ["acme/widgets", "octocat/tools", "Acme/docs"].map(String::from).to_vec();
        assert_eq!(
            route(&two, &names).unwrap(),
            [vec!["acme/widgets".to_owned(), "Acme/docs".to_owned()], vec!["octocat/tools".to_owned()]]
        );
        let bare = route(&two, &["widgets".into()]).unwrap_err().message();
        assert!(
            bare.contains("widgets is a bare name, but there are several owners: write OWNER/widgets"),
            "{bare}"
        );
        let stranger = route(&two, &["evil/x".into()]).unwrap_err().message();
        assert!(stranger.contains("evil/x: evil is not among the owners"), "{stranger}");
        // An owner left out of the list would get all its repositories.
        let widened = route(&two, &["acme/widgets".into()]).unwrap_err().message();
        assert!(widened.contains("names none of octocat's repositories"), "{widened}");
        assert_eq!(route(&two, &[]).unwrap(), [Vec::<String>::new(), Vec::new()], "no list: no narrowing");
    }

    #[test]
    fn an_installation_named_twice_is_refused() {
        let of = |i: Installation| Target::new(i, &[], None, &[]).unwrap();
        let twice = [of(owner()), of(Owner("ACME".into()))];
        assert_eq!(
            check_distinct(&twice).unwrap_err().message(),
            "invalid installation.owner: names acme twice: one token per installation"
        );
        assert_eq!(field_of(check_distinct(&[of(Id(7)), of(Id(7))])), "installation");
        assert!(check_distinct(&[of(owner()), of(Owner("octocat".into())), of(Id(7))]).is_ok());
    }

    #[test]
    fn timeouts() {
        let words =
            format!("a whole number of seconds from {} to {}", TIMEOUT_SECS.start(), TIMEOUT_SECS.end());
        assert_eq!(TIMEOUT_RULE, words, "the words say the range");
        assert_eq!(timeout("t", Some(5)).unwrap(), Duration::from_secs(5));
        for bad in [None, Some(0), Some(3601)] {
            assert_eq!(
                timeout("timeout-seconds", bad).unwrap_err().message(),
                "invalid timeout-seconds: must be a whole number of seconds from 1 to 3600"
            );
        }
    }
}
