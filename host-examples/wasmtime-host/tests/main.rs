//! The `wasmtime-host` program as a user runs it: its real mode against
//! stand-ins named only through the environment, and its demo mode.

use std::path::PathBuf;
use std::process::Command;

use standins::process::Served;
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
#[cfg(feature = "demo")]
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

/// `wasmtime-host --serve 127.0.0.1:0` with `env` and `--allow` hosts; killed on drop.
fn broker(env: Vec<(String, String)>, allow: &[String]) -> Served {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasmtime-host"));
    command.arg("--wasm").arg(wasm()).args(["--serve", "127.0.0.1:0"]);
    for host in allow {
        command.args(["--allow", host]);
    }
    command.env_clear().envs(env);
    standins::process::serve(command)
}

#[test]
fn serve_mode_runs_the_broker_behind_the_allow_list() {
    let world = World::start("");
    let audience = "wasmtime-host-test";
    let policy = world.trust_policy();
    let mut env = world.env();
    env.push(("TRUST_POLICY".into(), policy.to_string()));
    env.push(("OIDC_AUDIENCE".into(), audience.into()));
    let bearer = format!("Bearer {}", world.oidc.id_token(audience));
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];

    // The issuer is allowed: its keys are fetched, the rule's repository is granted.
    let allowed = broker(env.clone(), &[world.oidc.issuer().replace("http://", "")]);
    let answer = standins::client::send(&allowed.authority, "POST", "/token", &headers, b"{}").unwrap();
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(world.github.issued()[0].repositories, ["widgets"]);

    // Not on the allow-list: the key fetch is denied, so the caller cannot
    // be verified (the audit line says why), and nothing is minted.
    let denied = broker(env, &[]);
    let answer = standins::client::send(&denied.authority, "POST", "/token", &headers, b"{}").unwrap();
    assert_eq!(answer.status, 401, "{}", String::from_utf8_lossy(&answer.body));
    let audited =
        || denied.log.lock().unwrap().iter().any(|l| l.contains(r#""reason""#) && l.contains("denied"));
    for _ in 0..100 {
        if audited() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(audited(), "{:?}", denied.log.lock().unwrap());
    assert_eq!(world.github.issued().len(), 1);
}
