//! What GitHub calls things, and the rules for each: logins, repository
//! names, enterprise slugs, the permissions an installation token can carry
//! and their levels, tokens. A bad value is `invalid-input` naming the field.

use crate::api::{Access, Permission};
use crate::error::{Result, invalid};

/// At most this many repositories in one token request.
pub const MAX_REPOSITORIES: usize = 500;

/// `Ok` if `ok`, else `invalid-input` for `field` with `rule`.
fn check(ok: bool, field: &str, rule: &str) -> Result<()> {
    if ok { Ok(()) } else { Err(invalid(field, rule)) }
}

/// A user or organisation login: letters, digits and `-`, not first; at most 39.
pub fn check_owner(field: &str, name: &str) -> Result<()> {
    let ok = (1..=39).contains(&name.len())
        && !name.starts_with('-')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    check(ok, field, "must be a GitHub login: 1 to 39 letters, digits or '-', not starting with '-'")
}

/// A repository name: letters, digits, `.`, `-`, `_`; at most 100; not `.` or `..`.
pub fn check_repository(field: &str, name: &str) -> Result<()> {
    let ok = (1..=100).contains(&name.len())
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    let rule = "must be a bare repository name: 1 to 100 letters, digits, '.', '-' or '_' (no owner/)";
    check(ok, field, rule)
}

/// An enterprise slug: lower-case letters, digits and `-`.
pub fn check_enterprise(field: &str, slug: &str) -> Result<()> {
    let ok = (1..=100).contains(&slug.len())
        && !slug.starts_with('-')
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    check(ok, field, "must be an enterprise slug: lower-case letters, digits or '-'")
}

/// A GitHub App's slug (its name in URLs): 1 to 100 letters, digits, `-` or `_`.
pub fn check_app_slug(field: &str, slug: &str) -> Result<()> {
    let ok = (1..=100).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
    check(ok, field, "must be an App slug: 1 to 100 letters, digits, '-' or '_'")
}

/// The permissions an installation token can carry (GitHub's REST API,
/// `POST /app/installations/{id}/access_tokens`, November 2026).
pub const KNOWN_PERMISSIONS: &[&str] = &[
    "actions",
    "administration",
    "artifact_metadata",
    "attestations",
    "checks",
    "codespaces",
    "contents",
    "custom_properties_for_organizations",
    "dependabot_secrets",
    "deployments",
    "discussions",
    "email_addresses",
    "enterprise_custom_properties_for_organizations",
    "environments",
    "followers",
    "git_ssh_keys",
    "gpg_keys",
    "interaction_limits",
    "issues",
    "members",
    "merge_queues",
    "metadata",
    "organization_administration",
    "organization_announcement_banners",
    "organization_copilot_agent_settings",
    "organization_copilot_seat_management",
    "organization_custom_org_roles",
    "organization_custom_properties",
    "organization_custom_roles",
    "organization_events",
    "organization_hooks",
    "organization_packages",
    "organization_personal_access_token_requests",
    "organization_personal_access_tokens",
    "organization_plan",
    "organization_projects",
    "organization_secrets",
    "organization_self_hosted_runners",
    "organization_user_blocking",
    "packages",
    "pages",
    "profile",
    "pull_requests",
    "repository_custom_properties",
    "repository_hooks",
    "repository_projects",
    "secret_scanning_alerts",
    "secrets",
    "security_events",
    "single_file",
    "starring",
    "statuses",
    "team_discussions",
    "vulnerability_alerts",
    "workflows",
];

/// Whether `name` is one of [`KNOWN_PERMISSIONS`].
pub fn is_known_permission(name: &str) -> bool {
    KNOWN_PERMISSIONS.contains(&name)
}

/// `name` at `level` as a [`Permission`], for a name GitHub knows and a
/// level of `read`, `write` or `admin`; `None` for anything else. (For
/// text from anyone: nothing of it is quoted.)
pub fn permission(name: &str, level: &str) -> Option<Permission> {
    let access = parse_access(level).filter(|_| is_known_permission(name))?;
    Some(Permission { name: name.to_owned(), access })
}

/// Why a permission written by the operator is not one GitHub knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PermissionError {
    /// Not a permission of [`KNOWN_PERMISSIONS`].
    Unknown(String),
    /// A level other than [`LEVELS`].
    Level {
        /// The permission.
        name: String,
        /// The level written.
        level: String,
    },
}

impl std::fmt::Display for PermissionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PermissionError::Unknown(name) => write!(f, "unknown permission {name}"),
            PermissionError::Level { name, level } => {
                write!(f, "unknown level {level} for {name}: use read, write or admin")
            }
        }
    }
}

/// [`permission`] for the operator's own text: the error says which is wrong.
pub fn known_permission(name: &str, level: &str) -> std::result::Result<Permission, PermissionError> {
    if !is_known_permission(name) {
        return Err(PermissionError::Unknown(name.to_owned()));
    }
    permission(name, level)
        .ok_or_else(|| PermissionError::Level { name: name.to_owned(), level: level.to_owned() })
}

/// A permission name such as `contents` or `pull_requests`.
pub fn check_permission_name(field: &str, name: &str) -> Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    check(ok, field, "must be a GitHub permission name such as contents or pull_requests")
}

/// An installation token as a header can carry it: 1 to 4096 visible ASCII characters.
pub fn check_token(field: &str, token: &str) -> Result<()> {
    let ok = (1..=4096).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_graphic());
    check(ok, field, "must be an installation token: 1 to 4096 visible ASCII characters")
}

/// The permission levels, lowest first, as GitHub spells them.
pub const LEVELS: [&str; 3] = ["read", "write", "admin"];

/// `read`, `write` or `admin`.
pub fn parse_access(level: &str) -> Option<Access> {
    match level {
        "read" => Some(Access::Read),
        "write" => Some(Access::Write),
        "admin" => Some(Access::Admin),
        _ => None,
    }
}

/// The level's name as GitHub spells it.
pub fn access_name(access: Access) -> &'static str {
    match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Admin => "admin",
    }
}

/// `permissions` as GitHub writes them: `{"contents": "read", ...}`.
pub fn permissions_json(permissions: &[Permission]) -> serde_json::Value {
    let levels = permissions.iter().map(|p| (p.name.clone(), access_name(p.access).into()));
    serde_json::Value::Object(levels.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert!(check_owner("o", "octo-org").is_ok());
        for bad in ["", "-x", "a/b", "a b", &"x".repeat(40)] {
            assert!(check_owner("o", bad).is_err(), "{bad}");
        }
        assert!(check_repository("r", "hello_world.rs-2").is_ok());
        for bad in ["", ".", "..", "o/r", "a b", &"x".repeat(101)] {
            assert!(check_repository("r", bad).is_err(), "{bad}");
        }
        assert!(check_enterprise("e", "acme-corp").is_ok() && check_enterprise("e", "Acme").is_err());
        assert!(
            check_permission_name("p", "pull_requests").is_ok()
                && check_permission_name("p", "Contents").is_err()
        );
        assert_eq!(parse_access("write"), Some(Access::Write));
        assert_eq!(parse_access("owner"), None);
    }
}
