//! The `wasi:cli/run` export: the command line, translated onto the same flow.
//!
//! ```text
//! wasmtime run -S http [--env NAME[=VALUE] ...] github-app-kms-token.wasm [COMMAND] [FLAGS]
//! ```

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::api::{Installation, TokenRequest};
use crate::args::{self, Args, Command, Format, UsageError};
use crate::config::{self, Env};
use crate::error::{Error, ServiceError};
use crate::github::{self, MintedToken};
use crate::mint;
use crate::secret::Secret;
use crate::wasi_http::WasiHttp;

/// The help text: every command, flag and environment variable.
pub const HELP: &str = include_str!("help.txt");

/// How a run failed.
enum Failure {
    /// The command line was wrong: exit code 2.
    Usage(String),
    /// Something failed: exit code 1.
    Failed(Error),
}

impl From<UsageError> for Failure {
    fn from(UsageError(message): UsageError) -> Self {
        Failure::Usage(message)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Failed(error)
    }
}

/// Runs the command line `args` (without the program name); returns the
/// exit code after printing results on stdout and errors on stderr.
pub fn main(args: &[String], env: &Env) -> u8 {
    match run(args, env) {
        Ok(()) => 0,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}\nRun with --help for usage.");
            2
        }
        Err(Failure::Failed(error)) => {
            eprintln!("error: {}", error.message());
            1
        }
    }
}

fn run(args: &[String], env: &Env) -> Result<(), Failure> {
    let args = args::parse(args)?;
    match args.command {
        Command::Help => print!("{HELP}"),
        Command::Version => println!("github-app-kms-token {}", env!("CARGO_PKG_VERSION")),
        Command::Token => tokens(&args, env)?,
        Command::Jwt => {
            let signed = app_jwt(&args, env)?;
            match args.format {
                Format::Token => println!("{}", signed.token.expose()),
                Format::Json => println!(
                    "{}",
                    json!({ "jwt": signed.token.expose(), "issued_at": signed.issued_at, "expires_at": signed.expires_at })
                ),
            }
        }
        Command::Revoke => revoke(&args, env)?,
        Command::Installations => {
            let signed = app_jwt(&args, env)?;
            let api = config::github_api(args.github_api_url.as_deref(), env)?;
            let list = mint::installations(&api, &signed.token, &transport(env)?)?;
            println!("{}", Value::Array(list));
        }
    }
    Ok(())
}

fn transport(env: &Env) -> Result<WasiHttp, Error> {
    Ok(WasiHttp { timeout: config::timeout(env)? })
}

fn app_jwt(args: &Args, env: &Env) -> Result<crate::jwt::SignedJwt, Failure> {
    let settings = config::jwt_settings(
        args.app_id.as_deref(),
        args.kms_key_id.as_deref(),
        args.region.as_deref(),
        env,
    )?;
    let http = transport(env)?;
    let credentials = mint::aws_credentials(env, &settings.kms.region, &http)?;
    Ok(mint::app_jwt(&settings, &credentials, &http, SystemTime::now())?)
}

/// The installations to mint for, in order: `--installation-id`, each
/// `--owner`; else what the environment says (`INSTALLATION_ID`, `OWNER`);
/// else the workflow's `GITHUB_REPOSITORY_OWNER`, scoped to the current
/// repository unless repositories are named.
fn targets(args: &Args, env: &Env, repositories: &mut Vec<String>) -> Vec<Option<Installation>> {
    if let Some(id) = args.installation_id {
        return vec![Some(Installation::Id(id))];
    }
    if !args.owners.is_empty() {
        return args.owners.iter().map(|o| Some(Installation::Owner(o.clone()))).collect();
    }
    if env.get("INSTALLATION_ID").is_some() || env.get("OWNER").is_some() {
        return vec![None];
    }
    match env.get("GITHUB_REPOSITORY_OWNER") {
        Some(owner) => {
            let current =
                env.get("GITHUB_REPOSITORY").and_then(|full| full.strip_prefix(&format!("{owner}/")));
            if repositories.is_empty() {
                repositories.extend(current.map(str::to_owned));
            }
            vec![Some(Installation::Owner(owner.to_owned()))]
        }
        None => vec![None],
    }
}

fn tokens(args: &Args, env: &Env) -> Result<(), Failure> {
    let mut repositories = args.repositories.clone();
    if repositories.is_empty() {
        repositories.extend(env.get("REPOSITORIES").into_iter().flat_map(args::split_list));
    }
    let targets = targets(args, env, &mut repositories);
    if targets.len() > 1 && !repositories.is_empty() {
        return Err(Failure::Usage(
            "--repositories names one owner's repositories: give a single --owner".into(),
        ));
    }
    if targets.len() > 1 && args.format == Format::Token {
        return Err(Failure::Usage("several owners need --format json (one token per owner)".into()));
    }

    // Everything is validated before the first request.
    let settings = targets
        .iter()
        .map(|installation| {
            let request = TokenRequest {
                app_id: args.app_id.clone(),
                kms_key_id: args.kms_key_id.clone(),
                aws_region: args.region.clone(),
                installation: installation.clone(),
                repositories: repositories.clone(),
                permissions: args.permissions.clone(),
                github_api_url: args.github_api_url.clone(),
            };
            config::token_settings(&request, env)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = settings.first() else { return Ok(()) };
    let http = transport(env)?;
    let credentials = mint::aws_credentials(env, &first.jwt.kms.region, &http)?;
    // One KMS signature serves every owner.
    let signed = mint::app_jwt(&first.jwt, &credentials, &http, SystemTime::now())?;
    let mut minted = Vec::new();
    for s in &settings {
        minted.push(mint::token_with_jwt(&s.api, &s.target, &s.scope, &signed.token, &http)?);
    }

    match (args.format, minted.as_slice()) {
        (Format::Token, [token]) => println!("{}", token.token.expose()),
        (Format::Json, [token]) if args.owners.len() <= 1 => println!("{}", token.to_json()),
        _ => {
            let by_owner: serde_json::Map<String, Value> =
                args.owners.iter().cloned().zip(minted.iter().map(MintedToken::to_json)).collect();
            println!("{}", Value::Object(by_owner));
        }
    }
    Ok(())
}

fn revoke(args: &Args, env: &Env) -> Result<(), Failure> {
    let token = args
        .token
        .as_deref()
        .or_else(|| env.get("GITHUB_TOKEN"))
        .ok_or_else(|| Failure::Usage("revoke needs --token TOKEN or GITHUB_TOKEN".into()))?;
    github::check_token(if args.token.is_some() { "--token" } else { "GITHUB_TOKEN" }, token)?;
    let token = Secret::new(token);
    let api = config::github_api(args.github_api_url.as_deref(), env)?;
    match mint::revoke(&api, &token, &transport(env)?) {
        Ok(()) => eprintln!("revoked"),
        // Revoking twice (e.g. in an `if: always()` step) is not a failure.
        Err(Error::Github(ServiceError { status: 401, .. })) => {
            eprintln!("the token was already revoked or has expired: nothing to do");
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// The export itself.
pub struct Cli;

impl wasi::exports::cli::run::Guest for Cli {
    fn run() -> Result<(), ()> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        match main(&args, &Env::from_host()) {
            0 => Ok(()),
            1 => Err(()),
            code => {
                wasi::cli::exit::exit_with_code(code);
                Err(())
            }
        }
    }
}
