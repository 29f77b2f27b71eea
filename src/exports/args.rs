//! The command line, parsed: `[COMMAND] [FLAGS]`, as `wasi:cli/run` receives it.

use crate::api::Permission;
use crate::github::names::parse_access;
use crate::mint::settings::{TIMEOUT_RULE, TIMEOUT_SECS, not_both};
use crate::secret::Secret;

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Mint installation tokens (the default).
    Token,
    /// Print the KMS-signed App JWT.
    Jwt,
    /// Revoke an installation token.
    Revoke,
    /// List the App's installations.
    Installations,
    /// Print the help text.
    Help,
    /// Print the version.
    Version,
}

/// How to print results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The token (or JWT) alone and a newline.
    Token,
    /// One JSON object.
    Json,
}

/// Everything the command line said. Flags left out are `None` or empty;
/// the environment fills them later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Args {
    /// What to do: mint (the default), sign a JWT, revoke, list, help.
    pub command: Command,
    /// `--app-id`: App ID or Client ID.
    pub app_id: Option<String>,
    /// `--key`: a key reference.
    pub key: Option<String>,
    /// `--kms-key-id`: an AWS KMS key, an alias of `--key`.
    pub kms_key_id: Option<String>,
    /// `--region`.
    pub region: Option<String>,
    /// `--installation-id`.
    pub installation_id: Option<u64>,
    /// `--enterprise`: the installation on an enterprise, by its slug.
    pub enterprise: Option<String>,
    /// `--owner`, in order (may repeat).
    pub owners: Vec<String>,
    /// `--repositories` (comma-separated) and `--repository`, repeatable:
    /// bare names or `OWNER/NAME`.
    pub repositories: Vec<String>,
    /// `--permission NAME=LEVEL`, repeatable.
    pub permissions: Vec<Permission>,
    /// `--github-api-url`: GitHub Enterprise Server's `https://HOST/api/v3`.
    pub github_api_url: Option<String>,
    /// `--format`: the token alone (default) or JSON.
    pub format: Format,
    /// `--token` (for `revoke`).
    pub token: Option<Secret>,
    /// `--timeout`, in seconds.
    pub timeout: Option<u32>,
}

/// What is wrong with a command line. Its text never quotes a value:
/// a value in the wrong place may be a pasted secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// A flag without its value.
    NeedsValue(String),
    /// A flag whose value is not what it takes (`what` it takes).
    Takes {
        /// The flag, as written in `help`.
        flag: &'static str,
        /// What it takes.
        what: &'static str,
    },
    /// A flag this program does not have.
    UnknownFlag(String),
    /// A word that is no command.
    UnknownCommand,
    /// A word after the command.
    Unexpected,
    /// More than one of `--installation-id`, `--enterprise` and `--owner`.
    InstallationAndOwner,
    /// Several owners without `--format json`.
    SeveralOwnersNeedJson,
    /// `revoke` without a token.
    NoTokenToRevoke,
}

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UsageError::NeedsValue(flag) => write!(f, "{flag} needs a value"),
            UsageError::Takes { flag, what } => write!(f, "{flag} takes {what}"),
            UsageError::UnknownFlag(flag) => write!(f, "unknown flag {flag}"),
            UsageError::UnknownCommand => {
                f.write_str("unknown command (not shown): use token, jwt, revoke, installations or help")
            }
            UsageError::Unexpected => f.write_str("unexpected argument after the command (not shown)"),
            UsageError::InstallationAndOwner => {
                f.write_str(&not_both("--owner", "--installation-id or --enterprise"))
            }
            UsageError::SeveralOwnersNeedJson => {
                f.write_str("several owners need --format json (one token per owner)")
            }
            UsageError::NoTokenToRevoke => {
                f.write_str("revoke needs GITHUB_TOKEN (or --token, which `ps` can see)")
            }
        }
    }
}

/// Parses the arguments after the program name: each flag and the command
/// word in turn, then what they mean together.
pub fn parse(args: &[String]) -> Result<Args, UsageError> {
    let mut parsed = Args {
        command: Command::Token,
        app_id: None,
        key: None,
        kms_key_id: None,
        region: None,
        installation_id: None,
        enterprise: None,
        owners: Vec::new(),
        repositories: Vec::new(),
        permissions: Vec::new(),
        github_api_url: None,
        format: Format::Token,
        token: None,
        timeout: None,
    };
    let (mut help, mut version, mut command) = (false, false, None);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let value =
            || inline.clone().or_else(|| rest.next().cloned()).ok_or(UsageError::NeedsValue(flag.to_owned()));
        match flag {
            "--help" | "-h" => help = true,
            "--version" | "-V" => version = true,
            flag if flag.starts_with('-') => set(&mut parsed, flag, value)?,
            // A stray word may be a secret pasted in the wrong place: never echo one.
            _ if command.is_some() => return Err(UsageError::Unexpected),
            word => command = Some(parse_command(word)?),
        }
    }
    parsed.command = match (help, version) {
        (true, _) => Command::Help,
        (false, true) => Command::Version,
        _ => command.unwrap_or(Command::Token),
    };
    let installations =
        [parsed.installation_id.is_some(), parsed.enterprise.is_some(), !parsed.owners.is_empty()];
    if installations.iter().filter(|given| **given).count() > 1 {
        return Err(UsageError::InstallationAndOwner);
    }
    Ok(parsed)
}

/// Sets what `flag` says to its `value` (taken only by flags that have one).
fn set(
    parsed: &mut Args,
    flag: &str,
    value: impl FnOnce() -> Result<String, UsageError>,
) -> Result<(), UsageError> {
    match flag {
        "--app-id" => parsed.app_id = Some(value()?),
        "--key" => parsed.key = Some(value()?),
        "--kms-key-id" => parsed.kms_key_id = Some(value()?),
        "--region" => parsed.region = Some(value()?),
        "--installation-id" => {
            let id = value()?
                .parse()
                .map_err(|_| UsageError::Takes { flag: "--installation-id", what: "a number" })?;
            parsed.installation_id = Some(id);
        }
        "--owner" => parsed.owners.push(value()?),
        "--enterprise" => parsed.enterprise = Some(value()?),
        "--repositories" => parsed.repositories.extend(split_list(&value()?)),
        "--repository" => parsed.repositories.push(value()?),
        "--permission" => parsed.permissions.push(parse_permission(&value()?)?),
        "--github-api-url" => parsed.github_api_url = Some(value()?),
        "--format" => parsed.format = parse_format(&value()?)?,
        "--token" => parsed.token = Some(Secret::new(value()?)),
        "--timeout" => {
            let secs = value()?.parse().ok().filter(|secs| TIMEOUT_SECS.contains(&u64::from(*secs)));
            parsed.timeout = Some(secs.ok_or(UsageError::Takes { flag: "--timeout", what: TIMEOUT_RULE })?);
        }
        flag => return Err(UsageError::UnknownFlag(flag.to_owned())),
    }
    Ok(())
}

/// The command a word names.
fn parse_command(word: &str) -> Result<Command, UsageError> {
    Ok(match word {
        "token" => Command::Token,
        "jwt" => Command::Jwt,
        "revoke" => Command::Revoke,
        "installations" => Command::Installations,
        "help" => Command::Help,
        _ => return Err(UsageError::UnknownCommand),
    })
}

/// `token` or `json`.
fn parse_format(text: &str) -> Result<Format, UsageError> {
    match text {
        "token" => Ok(Format::Token),
        "json" => Ok(Format::Json),
        _ => Err(UsageError::Takes { flag: "--format", what: "token or json" }),
    }
}

/// `a,b, c` as `["a", "b", "c"]`; empty items are dropped.
pub fn split_list(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split([',', '\n']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// `NAME=LEVEL` (or `NAME:LEVEL`), LEVEL one of read, write, admin.
pub fn parse_permission(text: &str) -> Result<Permission, UsageError> {
    let takes = |what| UsageError::Takes { flag: "--permission", what };
    let (name, level) = text.split_once(['=', ':']).ok_or(takes("NAME=LEVEL"))?;
    let access = parse_access(level.trim()).ok_or(takes("NAME=LEVEL, LEVEL one of read, write or admin"))?;
    Ok(Permission { name: name.trim().to_owned(), access })
}

#[cfg(test)]
mod tests;
