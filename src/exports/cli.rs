//! The `wasi:cli/run` export: the command line, translated onto the same flow.
//!
//! ```text
//! wasmtime run -S http [--env NAME[=VALUE] ...] github-app-kms-token.wasm [COMMAND] [FLAGS]
//! ```

use std::io::Write;
use std::time::SystemTime;

use serde_json::{Value, json};

use crate::api::Installation;
use crate::cache::Cache;
use crate::env::Env;
use crate::error::{Error, ServiceError};
use crate::exports::args::{self, Args, Command, Format, UsageError};
use crate::exports::resolve::{self, Fields, host_env};
use crate::github::api::MintedToken;
use crate::github::jwt::SignedJwt;
use crate::github::names::check_token;
use crate::mint::flow;
use crate::mint::settings::route;
use crate::net::http::Transport;
use crate::net::outgoing::{self, WasiHttp};
use crate::net::retry::Retrying;
use crate::secret::Secret;

/// The help text: every command, flag and environment variable.
pub const HELP: &str = include_str!("help.txt");

/// How a run failed.
enum Failure {
    /// The command line was wrong.
    Usage(UsageError),
    /// Something failed.
    Failed(Error),
}

impl From<UsageError> for Failure {
    fn from(usage: UsageError) -> Self {
        Failure::Usage(usage)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Failed(error)
    }
}

/// Writes `text` and a newline to stdout; a closed stdout is not a trap.
fn out(text: &str) {
    let _ = writeln!(std::io::stdout(), "{text}");
}

/// Writes `text` and a newline to stderr; a closed stderr is not a trap.
fn err(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The flag that sets a request field, for messages about the command line.
fn flag_for(field: &str) -> Option<&'static str> {
    resolve::FACES.iter().find(|face| face.field == field).map(|face| face.flag)
}

/// Runs the command line `args` (without the program name), printing
/// results on stdout and an error, if any, as one line on stderr; returns
/// whether it succeeded.
pub fn main(args: &[String], env: &Env) -> bool {
    let Err(failure) = run(args, env) else { return true };
    err(&match failure {
        Failure::Usage(usage) => format!("error: {usage} (run with --help for usage)"),
        Failure::Failed(Error::InvalidInput(e)) => {
            let name = flag_for(&e.field).map_or(e.field.clone(), |flag| format!("{flag} ({})", e.field));
            format!("error: invalid {name}: {}", e.rule)
        }
        Failure::Failed(error) => format!("error: {}", error.message()),
    });
    false
}

fn run(args: &[String], env: &Env) -> Result<(), Failure> {
    let args = args::parse(args)?;
    match args.command {
        Command::Help => {
            let _ = write!(std::io::stdout(), "{HELP}");
        }
        Command::Version => out(&format!("github-app-kms-token {}", env!("CARGO_PKG_VERSION"))),
        Command::Token => tokens(&args, env)?,
        Command::Jwt => {
            let signed = app_jwt(&args, env, &transport(&args, env)?)?;
            match args.format {
                Format::Token => out(signed.token.expose()),
                Format::Json => out(&json!({
                    "jwt": signed.token.expose(), "issued_at": signed.issued_at, "expires_at": signed.expires_at
                })
                .to_string()),
            }
        }
        Command::Revoke => revoke(&args, env)?,
        Command::Installations => {
            let api = resolve::github_api(args.github_api_url.as_deref(), env)?;
            let http = transport(&args, env)?;
            let signed = app_jwt(&args, env, &http)?;
            let list = flow::installations(&api, &signed.token, &http)?;
            out(&Value::Array(list).to_string());
        }
    }
    Ok(())
}

/// The transport for this run, within `--timeout` (else the environment's).
fn transport(args: &Args, env: &Env) -> Result<Retrying<WasiHttp>, Failure> {
    Ok(outgoing::transport(resolve::timeout(args.timeout, env)?))
}

/// The flags that override the environment.
fn fields(args: &Args) -> Fields<'_> {
    Fields {
        app_id: args.app_id.as_deref(),
        key: args.key.as_deref(),
        kms_key_id: args.kms_key_id.as_deref(),
        aws_region: args.region.as_deref(),
        github_api_url: args.github_api_url.as_deref(),
        timeout_seconds: args.timeout,
    }
}

fn app_jwt(args: &Args, env: &Env, http: &impl Transport) -> Result<SignedJwt, Failure> {
    let jwt = resolve::jwt_settings(&fields(args), env)?;
    Ok(flow::app_jwt(&jwt, &resolve::credentials(env, &jwt.key)?, http, SystemTime::now())?)
}

/// The installations to mint for and the repositories to narrow to, in
/// order: `--installation-id`, each `--owner`; else what the environment
/// says (`INSTALLATION_ID`, `OWNER`, the current repository: the same
/// default as every face, [`resolve::token_target`]'s).
fn targets(args: &Args, env: &Env) -> (Vec<Option<Installation>>, Vec<String>) {
    let mut repositories = args.repositories.clone();
    if repositories.is_empty() {
        repositories.extend(env.get("REPOSITORIES").into_iter().flat_map(args::split_list));
    }
    if let Some(id) = args.installation_id {
        return (vec![Some(Installation::Id(id))], repositories);
    }
    if let Some(slug) = &args.enterprise {
        return (vec![Some(Installation::Enterprise(slug.clone()))], repositories);
    }
    if !args.owners.is_empty() {
        return (args.owners.iter().map(|o| Some(Installation::Owner(o.clone()))).collect(), repositories);
    }
    (vec![None], repositories)
}

fn tokens(args: &Args, env: &Env) -> Result<(), Failure> {
    let (targets, repositories) = targets(args, env);
    if targets.len() > 1 && args.format == Format::Token {
        return Err(UsageError::SeveralOwnersNeedJson.into());
    }

    // Everything is validated before the first request: several owners
    // each get their own of the full names (`--repository OWNER/NAME`).
    let deployment = resolve::deployment(&fields(args), env)?;
    let routed = match targets.iter().cloned().collect::<Option<Vec<Installation>>>() {
        Some(installations) if installations.len() > 1 => route(&installations, &repositories)?,
        _ => vec![repositories; targets.len()],
    };
    let targets = targets
        .iter()
        .zip(routed)
        .map(|(installation, repositories)| {
            resolve::token_target(installation.as_ref(), &repositories, &args.permissions, env)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let http = outgoing::transport(deployment.timeout);
    // One KMS signature serves every owner; all or nothing.
    let minted = flow::installation_tokens(&deployment, &targets, &http, SystemTime::now(), &Cache::none())?;

    match (args.format, minted.as_slice()) {
        (Format::Token, [token]) => out(token.token.expose()),
        (Format::Json, [token]) if args.owners.len() <= 1 => out(&token.to_json().to_string()),
        _ => {
            let by_owner: serde_json::Map<String, Value> =
                args.owners.iter().cloned().zip(minted.iter().map(MintedToken::to_json)).collect();
            out(&Value::Object(by_owner).to_string());
        }
    }
    Ok(())
}

fn revoke(args: &Args, env: &Env) -> Result<(), Failure> {
    let (field, token) = match &args.token {
        Some(token) => ("--token", token.clone()),
        None => {
            ("GITHUB_TOKEN", env.get("GITHUB_TOKEN").map(Secret::new).ok_or(UsageError::NoTokenToRevoke)?)
        }
    };
    check_token(field, token.expose())?;
    let api = resolve::github_api(args.github_api_url.as_deref(), env)?;
    match flow::revoke(&api, &token, &transport(args, env)?) {
        Ok(()) => err("revoked"),
        // Revoking twice (e.g. in an `if: always()` step) is not a failure.
        Err(Error::Github(ServiceError { status: 401, .. })) => {
            err("the token was already revoked or has expired: nothing to do");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The `wasi:cli/run` export.
pub struct Cli;

impl wasi::exports::cli::run::Guest for Cli {
    /// `Err` is exit status 1, for usage errors too: the only other status
    /// WASI 0.2.6 hosts such as Spin link (`exit-with-code` is unstable there).
    fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if main(&args, &host_env()) { Ok(()) } else { Err(()) }
    }
}
