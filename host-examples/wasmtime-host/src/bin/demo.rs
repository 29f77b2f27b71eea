//! `make demo`: the whole flow through the component, against local
//! stand-ins of KMS (holding a fresh RSA key) and GitHub started in-process.
//!
//! Prints one line per HTTP exchange (method, URL, status) and the results,
//! with secrets shortened.

use std::path::PathBuf;
use std::sync::Arc;

use standins::world::World;
use wasmtime::bail;
use wasmtime_host::{
    Access, AppJwtRequest, Host, Installation, Permission, RevokeRequest, TokenRequest,
};

fn shorten(secret: &str) -> String {
    format!(
        "{}… ({} characters, shortened here)",
        &secret[..secret.len().min(8)],
        secret.len()
    )
}

fn main() -> wasmtime::Result<()> {
    let wasm = std::env::args().nth(1).map_or_else(
        || PathBuf::from("dist/github-app-kms-token.wasm"),
        PathBuf::from,
    );
    println!(
        "starting stand-ins of AWS KMS and GitHub on 127.0.0.1 (generating a fresh RSA-2048 key)…"
    );
    let world = World::start("");
    println!("  KMS    {}  key {}", world.kms.url(), world.kms.key_arn());
    println!(
        "  GitHub {}  App {}",
        world.github.url(),
        standins::world::APP_ID
    );
    let host = Host::new(
        &wasm,
        world.allowed_hosts(),
        Arc::new(|line| println!("  http: {line}")),
    )?;

    println!("\nget-installation-token for octo-org, repository widgets, contents: read");
    let request = TokenRequest {
        app_id: None,
        kms_key_id: None,
        aws_region: None,
        installation: Some(Installation::Owner("octo-org".into())),
        repositories: vec!["widgets".into()],
        permissions: vec![Permission {
            name: "contents".into(),
            access: Access::Read,
        }],
        github_api_url: None,
    };
    let token = match host
        .instance(&world.env())?
        .get_installation_token(&request)?
    {
        Ok(token) => token,
        Err(e) => bail!("get-installation-token failed: {e:?}"),
    };
    println!("  token                {}", shorten(&token.token));
    println!("  expires-at           {}", token.expires_at);
    println!("  installation-id      {}", token.installation_id);
    println!("  permissions          {:?}", token.permissions);
    println!("  repository-selection {}", token.repository_selection);
    println!("  repositories         {:?}", token.repositories);

    println!("\ncreate-app-jwt");
    let jwt_request = AppJwtRequest {
        app_id: None,
        kms_key_id: None,
        aws_region: None,
    };
    match host.instance(&world.env())?.create_app_jwt(&jwt_request)? {
        Ok(jwt) => println!(
            "  jwt {} valid {} .. {}",
            shorten(&jwt.jwt),
            jwt.issued_at,
            jwt.expires_at
        ),
        Err(e) => bail!("create-app-jwt failed: {e:?}"),
    }

    println!("\nrevoke-installation-token");
    let revoke = RevokeRequest {
        token: token.token.clone(),
        github_api_url: None,
    };
    match host
        .instance(&world.env())?
        .revoke_installation_token(&revoke)?
    {
        Ok(()) => println!("  revoked"),
        Err(e) => bail!("revoke-installation-token failed: {e:?}"),
    }
    println!(
        "\nKMS signed {} JWTs; the private key never left the KMS stand-in.",
        world.kms.signatures()
    );
    Ok(())
}
