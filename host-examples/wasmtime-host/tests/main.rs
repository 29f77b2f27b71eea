//! The `wasmtime-host` program as a user runs it: its real mode against
//! stand-ins named only through the environment, and its demo mode.

use std::path::PathBuf;
use std::process::Command;

use standins::world::World;

fn wasm() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist/github-app-kms-token.wasm");
    assert!(path.exists(), "{} is missing: run `make build` first", path.display());
    path
}

#[test]
fn real_mode_prints_the_token_alone_and_logs_each_exchange() {
    let world = World::start("/api/v3");
    let output = Command::new(env!("CARGO_BIN_EXE_wasmtime-host"))
        .arg("--wasm")
        .arg(wasm())
        .args(["--owner", "octo-org"])
        .env_clear()
        .envs(world.env())
        .env("AWS_SHARED_SECRET_NOT_FORWARDED", "must-not-reach-the-guest")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{stderr}");
    let issued = world.github.issued();
    assert_eq!(stdout, format!("{}\n", issued[0].token), "TOKEN=$(wasmtime-host ...) works");
    let exchanges: Vec<&str> = stderr.lines().filter(|l| l.starts_with("http: ")).collect();
    assert_eq!(exchanges.len(), 3, "{stderr}");
    assert!(exchanges[1].ends_with("/api/v3/users/octo-org/installation -> 200"), "{stderr}");
    for secret in world.secrets() {
        assert!(!stderr.contains(&secret), "a secret reached the log: {stderr}");
    }
}

#[test]
fn demo_mode_runs_the_whole_flow() {
    let output = Command::new(env!("CARGO_BIN_EXE_wasmtime-host"))
        .arg("--wasm")
        .arg(wasm())
        .arg("--demo")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for expected in
        ["/access_tokens -> 201", "repositories         widgets", "revoked", "KMS made 2 signatures"]
    {
        assert!(stdout.contains(expected), "{expected} missing from:\n{stdout}");
    }
}
