//! Mints a real installation token through the component.
//!
//! ```text
//! APP_ID=… KMS_KEY_ID=… AWS_REGION=… AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   wasmtime-host [--wasm dist/github-app-kms-token.wasm] [--allow HOST]… --owner OWNER
//! ```
//!
//! The component sees only the variables in [`FORWARDED_ENV`], and may reach
//! only `api.github.com`, `kms.$AWS_REGION.amazonaws.com`, the hosts of any
//! endpoint variables set, and hosts given with `--allow`.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::bail;
use wasmtime::error::Context;
use wasmtime_host::{Host, Installation, TokenRequest};

/// The environment variables passed to the component.
const FORWARDED_ENV: &[&str] = &[
    "APP_ID",
    "KMS_KEY_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL",
    "GITHUB_API_URL",
    "GITHUB_REPOSITORY",
];

fn main() -> wasmtime::Result<()> {
    let mut wasm = PathBuf::from("dist/github-app-kms-token.wasm");
    let mut allowed_hosts = vec!["api.github.com".to_owned()];
    let mut installation = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--wasm" => wasm = value()?.into(),
            "--allow" => allowed_hosts.push(value()?),
            "--owner" => installation = Some(Installation::Owner(value()?)),
            "--installation-id" => {
                installation = Some(Installation::Id(
                    value()?.parse::<u64>().context("--installation-id")?,
                ))
            }
            _ => bail!(
                "usage: wasmtime-host [--wasm PATH] [--allow HOST]... [--owner OWNER | --installation-id N]"
            ),
        }
    }

    let env: Vec<(String, String)> = FORWARDED_ENV
        .iter()
        .filter_map(|&name| Some((name.to_owned(), std::env::var(name).ok()?)))
        .collect();
    if let Ok(region) = std::env::var("AWS_REGION") {
        allowed_hosts.push(format!("kms.{region}.amazonaws.com"));
    }
    for name in ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "GITHUB_API_URL"] {
        if let Some(authority) = std::env::var(name)
            .ok()
            .and_then(|url| Some(url.parse::<http::Uri>().ok()?.authority()?.to_string()))
        {
            allowed_hosts.push(authority);
        }
    }

    let host = Host::new(&wasm, allowed_hosts, Arc::new(|line| eprintln!("{line}")))?;
    let request = TokenRequest {
        app_id: None,
        kms_key_id: None,
        aws_region: None,
        installation,
        repositories: vec![],
        permissions: vec![],
        github_api_url: None,
    };
    match host.instance(&env)?.get_installation_token(&request)? {
        Ok(token) => {
            eprintln!(
                "installation {} token expires at {}",
                token.installation_id, token.expires_at
            );
            println!("{}", token.token);
            Ok(())
        }
        Err(e) => bail!("{e:?}"),
    }
}
