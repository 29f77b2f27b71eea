//! `wasmtime-host`: mints an installation token through the component.
//!
//! ```text
//! wasmtime-host --demo [--wasm PATH]
//!     the whole flow against local stand-ins of KMS and GitHub (`make demo`)
//! APP_ID=… KMS_KEY_ID=… AWS_REGION=… AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
//!   wasmtime-host [--wasm PATH] [--allow HOST]... (--owner OWNER | --installation-id N)
//!     a real token: printed alone on stdout, details on stderr
//! TRUST_POLICY=… OIDC_AUDIENCE=… APP_ID=… … wasmtime-host [--wasm PATH] [--allow HOST]... --serve ADDR
//!     the token broker (POST /token, GET /healthz) on ADDR, e.g. 127.0.0.1:8080
//! ```
//!
//! The component sees only the variables in [`FORWARDED_ENV`], and may reach
//! only `api.github.com`, KMS in the key's region, the hosts of the
//! endpoint variables that are set, and hosts given with `--allow`. Each HTTP
//! exchange is logged as one line: method, URL, status.

use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::bail;
use wasmtime::error::Context;
use wasmtime_host::{Access, Host, Installation, InstallationToken, Permission, TokenRequest};

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
    "TOKEN_TIMEOUT_SECONDS",
    "TRUST_POLICY",
    "OIDC_AUDIENCE",
];

const USAGE: &str = "usage: wasmtime-host [--wasm PATH] (--demo | [--allow HOST]... \
                     ([--owner OWNER | --installation-id N] | --serve ADDR))";

fn main() -> wasmtime::Result<()> {
    let mut wasm = PathBuf::from("dist/github-app-kms-token.wasm");
    let mut allowed_hosts = vec!["api.github.com".to_owned()];
    let mut installation = None;
    let mut demo_mode = false;
    let mut serve_on = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value; {USAGE}"));
        match arg.as_str() {
            "--wasm" => wasm = value()?.into(),
            "--allow" => allowed_hosts.push(value()?),
            "--owner" => installation = Some(Installation::Owner(value()?)),
            "--installation-id" => {
                installation = Some(Installation::Id(value()?.parse::<u64>().context("--installation-id")?))
            }
            "--demo" => demo_mode = true,
            "--serve" => {
                serve_on = Some(value()?.parse::<std::net::SocketAddr>().context("--serve takes HOST:PORT")?)
            }
            _ => bail!("{USAGE}"),
        }
    }
    if demo_mode {
        #[cfg(feature = "demo")]
        return demo(&wasm);
        #[cfg(not(feature = "demo"))]
        bail!("--demo needs the stand-ins: cargo run -p wasmtime-host --features demo -- --demo");
    }
    let env: Vec<(String, String)> =
        FORWARDED_ENV.iter().filter_map(|&name| Some((name.to_owned(), std::env::var(name).ok()?))).collect();
    allowed_hosts.extend(kms_host());
    for name in ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL", "GITHUB_API_URL"] {
        let url = std::env::var(name).unwrap_or_default();
        if let Some(authority) =
            url.parse::<http::Uri>().ok().and_then(|uri| Some(uri.authority()?.to_string()))
        {
            allowed_hosts.push(authority);
        }
    }
    match serve_on {
        Some(addr) => {
            // The broker also fetches the trusted issuers' keys (GitHub Actions' by default).
            allowed_hosts.push("token.actions.githubusercontent.com".to_owned());
            let ready = |addr| eprintln!("Serving HTTP on http://{addr}/");
            let serve = wasmtime_host::serve::run(&wasm, addr, env, allowed_hosts, log_to_stderr(), ready);
            tokio::runtime::Runtime::new()?.block_on(serve)
        }
        None => mint(&wasm, &env, allowed_hosts, installation),
    }
}

fn log_to_stderr() -> wasmtime_host::Log {
    Arc::new(|line| eprintln!("http: {line}"))
}

fn token_request(
    installation: Option<Installation>,
    repositories: &[&str],
    permissions: Vec<Permission>,
) -> TokenRequest {
    TokenRequest {
        app_id: None,
        key: None,
        kms_key_id: None,
        aws_region: None,
        installation,
        repositories: repositories.iter().map(|r| r.to_string()).collect(),
        permissions,
        github_api_url: None,
        timeout_seconds: None,
    }
}

/// A real token, with the host's own environment.
fn mint(
    wasm: &std::path::Path,
    env: &[(String, String)],
    allowed_hosts: Vec<String>,
    installation: Option<Installation>,
) -> wasmtime::Result<()> {
    let host = Host::new(wasm, allowed_hosts, log_to_stderr())?;
    match host.instance(env)?.get_installation_token(&token_request(installation, &[], vec![]))? {
        Ok(token) => {
            describe(&token, &mut std::io::stderr());
            println!("{}", token.token);
            Ok(())
        }
        Err(e) => bail!("{e:?}"),
    }
}

/// KMS's public endpoint for the key's region, found as the component finds
/// it: the region of a key ARN, else `AWS_REGION`, else `AWS_DEFAULT_REGION`.
fn kms_host() -> Option<String> {
    let var = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
    let arn_region =
        var("KMS_KEY_ID").and_then(|key| Some(key.strip_prefix("arn:")?.split(':').nth(2)?.to_owned()));
    let region = arn_region.or_else(|| var("AWS_REGION")).or_else(|| var("AWS_DEFAULT_REGION"))?;
    let domain = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    Some(format!("kms.{region}.{domain}"))
}

/// The whole flow against stand-ins started in this process.
#[cfg(feature = "demo")]
fn demo(wasm: &std::path::Path) -> wasmtime::Result<()> {
    use standins::world::World;
    use wasmtime_host::{AppJwtRequest, RevokeRequest};
    println!("starting stand-ins of AWS KMS and GitHub on 127.0.0.1 (generating a fresh RSA-2048 key)…");
    let world = World::start("");
    println!("  KMS    {}  key {}", world.kms.url(), world.kms.key_arn());
    println!("  GitHub {}  App {}", world.github.url(), standins::world::APP_ID);
    let host = Host::new(wasm, world.allowed_hosts(), Arc::new(|line| println!("  http: {line}")))?;

    println!("\nget-installation-token: owner octo-org, repository widgets, contents: read");
    let request = token_request(
        Some(Installation::Owner("octo-org".into())),
        &["widgets"],
        vec![Permission { name: "contents".into(), access: Access::Read }],
    );
    let token = match host.instance(&world.env())?.get_installation_token(&request)? {
        Ok(token) => token,
        Err(e) => bail!("get-installation-token failed: {e:?}"),
    };
    describe(&token, &mut std::io::stdout());

    println!("\ncreate-app-jwt");
    let jwt_request =
        AppJwtRequest { app_id: None, key: None, kms_key_id: None, aws_region: None, timeout_seconds: None };
    match host.instance(&world.env())?.create_app_jwt(&jwt_request)? {
        Ok(jwt) => {
            println!("  jwt {}, valid from {} to {}", shorten(&jwt.jwt), jwt.issued_at, jwt.expires_at)
        }
        Err(e) => bail!("create-app-jwt failed: {e:?}"),
    }

    println!("\nrevoke-installation-token");
    let revoke = RevokeRequest { token: token.token.clone(), github_api_url: None, timeout_seconds: None };
    match host.instance(&world.env())?.revoke_installation_token(&revoke)? {
        Ok(()) => println!("  revoked"),
        Err(e) => bail!("revoke-installation-token failed: {e:?}"),
    }
    println!(
        "\nKMS made {} signatures; the private key never left the KMS stand-in.",
        world.kms.signatures()
    );
    Ok(())
}

/// A secret, as a log may show it: its length only.
fn shorten(secret: &str) -> String {
    format!("[{} characters, not shown]", secret.len())
}

fn describe(token: &InstallationToken, out: &mut impl std::io::Write) {
    let permissions: Vec<String> = token
        .permissions
        .iter()
        .map(|p| {
            let level = match p.access {
                Access::Read => "read",
                Access::Write => "write",
                Access::Admin => "admin",
            };
            format!("{}: {level}", p.name)
        })
        .collect();
    let _ = writeln!(out, "  token                {}", shorten(&token.token));
    let _ = writeln!(out, "  expires-at           {}", token.expires_at);
    let _ = writeln!(out, "  installation-id      {}", token.installation_id);
    let _ = writeln!(out, "  permissions          {}", permissions.join(", "));
    let _ = writeln!(out, "  repository-selection {}", token.repository_selection);
    let _ = writeln!(out, "  repositories         {}", token.repositories.join(", "));
}
