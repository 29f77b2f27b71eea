//! The GitHub Action's shell steps, run outside GitHub: with temporary
//! `GITHUB_OUTPUT` / `GITHUB_ENV` / `GITHUB_PATH` files and the stand-ins.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{Env, with};
use standins::server::{Response, Server};
use standins::world::World;

fn action_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("host-examples/github-action")
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gakt-action-{}", standins::random_hex(6)));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `script` from the action's folder, as the runner would, in a
/// workspace with empty command files; returns the output and the workspace.
fn run_step(script: &Path, action_path: &Path, env: &Env) -> (Output, PathBuf) {
    let work = temp_dir();
    for file in ["output", "env", "path"] {
        std::fs::write(work.join(file), "").unwrap();
    }
    let wasmtime = std::env::var("WASMTIME").unwrap_or_else(|_| "wasmtime".into());
    let wasmtime_dir =
        Command::new("sh").arg("-c").arg(format!("dirname \"$(command -v {wasmtime})\"")).output().unwrap();
    let path = format!(
        "{}:{}",
        String::from_utf8_lossy(&wasmtime_dir.stdout).trim(),
        std::env::var("PATH").unwrap()
    );
    let output = Command::new("bash")
        .arg(script)
        .env_clear()
        .envs(env.iter().cloned())
        .env("PATH", path)
        .env("GITHUB_ACTION_PATH", action_path)
        .env("GITHUB_OUTPUT", work.join("output"))
        .env("GITHUB_ENV", work.join("env"))
        .env("GITHUB_PATH", work.join("path"))
        .env("RUNNER_TEMP", &work)
        .env("RUNNER_TOOL_CACHE", work.join("tools"))
        .output()
        .unwrap();
    (output, work)
}

fn log(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn mint_step_masks_the_token_and_writes_the_outputs() {
    let world = World::start("");
    // The action as vendored: the component beside action.yml.
    let action = temp_dir();
    std::fs::copy(action_dir().join("mint.sh"), action.join("mint.sh")).unwrap();
    std::fs::copy(common::wasm_path(), action.join("github-app-kms-token.wasm")).unwrap();
    let env = with(
        &world.keyless_env(),
        &[
            ("OWNER", Some("octo-org")),
            ("REPOSITORIES", Some("widgets\ndocs")),
            ("PERMISSIONS", Some("contents: read\n  issues: write\n")),
        ],
    );
    let (output, work) = run_step(&action.join("mint.sh"), &action, &env);
    let log = log(&output);
    assert!(output.status.success(), "{log}");

    let issued = world.github.issued();
    assert_eq!(issued.len(), 1);
    let token = &issued[0].token;
    assert_eq!(issued[0].repositories, ["widgets", "docs"]);
    assert_eq!(
        issued[0].permissions.iter().map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>(),
        ["contents:read", "issues:write"]
    );
    assert_eq!(world.sts.assumed().len(), 1, "keyless: the role was assumed with the job's OIDC token");

    let outputs = std::fs::read_to_string(work.join("output")).unwrap();
    assert!(outputs.contains(&format!("token={token}\n")));
    assert!(outputs.contains("installation-id=1001\n"));
    assert!(outputs.contains(&format!("app-slug={}\n", standins::github::APP_SLUG)));
    assert!(outputs.lines().any(|l| l.starts_with("expires-at=20") && l.ends_with('Z')));
    let env_file = std::fs::read_to_string(work.join("env")).unwrap();
    assert!(env_file.starts_with("GITHUB_APP_KMS_TOKEN_WASM="));

    // The token reaches the log only inside the mask command, which comes first.
    let lines_with_token: Vec<&str> = log.lines().filter(|l| l.contains(token.as_str())).collect();
    assert_eq!(lines_with_token, [format!("::add-mask::{token}")]);
    for secret in standins::remembered().iter().filter(|s| *s != token) {
        assert!(!log.contains(secret.as_str()), "a secret reached the log: {log}");
    }
}

#[test]
fn mint_step_needs_a_component() {
    let world = World::start("");
    let action = temp_dir();
    std::fs::copy(action_dir().join("mint.sh"), action.join("mint.sh")).unwrap();
    let (output, _) = run_step(&action.join("mint.sh"), &action, &world.keyless_env());
    assert!(!output.status.success());
    assert!(log(&output).contains("::error::no github-app-kms-token.wasm beside the action"));
}

/// A fake wasmtime release archive, served from a loopback mirror.
fn release(version: &str) -> (Server, String, Vec<u8>) {
    let arch = String::from_utf8(Command::new("uname").arg("-m").output().unwrap().stdout).unwrap();
    let arch = if arch.trim() == "aarch64" { "aarch64" } else { "x86_64" };
    let name = format!("wasmtime-v{version}-{arch}-linux");
    let build = temp_dir();
    std::fs::create_dir_all(build.join(&name)).unwrap();
    std::fs::write(build.join(&name).join("wasmtime"), "#!/bin/sh\necho fake wasmtime\n").unwrap();
    let status = Command::new("tar")
        .arg("-cJf")
        .arg(build.join("a.tar.xz"))
        .arg("-C")
        .arg(&build)
        .arg(&name)
        .status()
        .unwrap();
    assert!(status.success());
    let archive = std::fs::read(build.join("a.tar.xz")).unwrap();
    let served = archive.clone();
    let path = format!("/v{version}/{name}.tar.xz");
    let server = Server::start(move |request| {
        if request.path() == path {
            Response { status: 200, headers: vec![], body: served.clone() }
        } else {
            Response { status: 404, headers: vec![], body: vec![] }
        }
    });
    (server, name, archive)
}

fn sha256_hex(bytes: &[u8]) -> String {
    let dir = temp_dir();
    std::fs::write(dir.join("f"), bytes).unwrap();
    let out = Command::new("sha256sum").arg(dir.join("f")).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

#[test]
fn install_step_checks_the_archive_before_installing() {
    let (mirror, name, archive) = release("9.9.9");
    let script = action_dir().join("install-wasmtime.sh");
    let env = |sha: &str| -> Env {
        vec![
            ("WASMTIME_VERSION".into(), "9.9.9".into()),
            ("WASMTIME_SHA256".into(), sha.into()),
            ("WASMTIME_BASE_URL".into(), mirror.url()),
        ]
    };

    let (output, work) = run_step(&script, &action_dir(), &env(&sha256_hex(&archive)));
    assert!(output.status.success(), "{}", log(&output));
    let installed = work.join("tools/github-app-kms-token").join(format!("{name}-{}", sha256_hex(&archive)));
    assert_eq!(std::fs::read_to_string(work.join("path")).unwrap(), format!("{}\n", installed.display()));
    let ran = Command::new(installed.join("wasmtime")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&ran.stdout), "fake wasmtime\n");

    let (output, work) = run_step(&script, &action_dir(), &env(&"0".repeat(64)));
    assert!(!output.status.success());
    assert!(log(&output).contains(&format!("::error::checksum mismatch for {name}.tar.xz")));
    assert!(!work.join("tools").join("github-app-kms-token").exists(), "nothing installed");
    assert_eq!(std::fs::read_to_string(work.join("path")).unwrap(), "");

    let (output, _) = run_step(&script, &action_dir(), &env("")[..1].to_vec());
    assert!(log(&output).contains("::error::no checksum known for wasmtime-v9.9.9"), "{}", log(&output));
}
