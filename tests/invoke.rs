//! The component through the real `wasmtime run --invoke` command line, as
//! the README shows it, against the stand-ins.

mod common;

use std::process::Output;

use common::wasm_path;
use standins::process::wasmtime;
use standins::world::World;

fn invoke(env: &[(String, String)], call: &str) -> Output {
    let mut command = wasmtime("run", env);
    command.args(["-S", "http"]).arg("--invoke").arg(call).arg(wasm_path());
    command.output().expect("wasmtime runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "wasmtime failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

#[test]
fn readme_invocation_mints_a_token() {
    let world = World::start("");
    let call = r#"get-installation-token({installation: some(owner("octo-org")), repositories: [], permissions: [{name: "contents", access: read}]})"#;
    let out = stdout(&invoke(&world.env(), call));
    let issued = world.github.issued();
    assert_eq!(issued.len(), 1, "{out}");
    assert!(out.starts_with("ok({token: "), "{out}");
    assert!(out.contains(&format!("token: \"{}\"", issued[0].token)));
    assert!(out.contains("installation-id: 1001"), "{out}");
    assert!(out.contains(r#"permissions: [{name: "contents", access: read}]"#), "{out}");
    assert_eq!(world.kms.signatures(), 1);
}

#[test]
fn create_app_jwt_and_revoke_from_the_command_line() {
    let world = World::start("");
    let out = stdout(&invoke(&world.env(), "create-app-jwt({:})"));
    let jwt = out.split('"').nth(1).unwrap();
    assert!(standins::github::verify_rs256(&world.kms.public_key(), jwt).is_some(), "{out}");

    let out = stdout(&invoke(
        &world.env(),
        "get-installation-token({installation: some(id(1002)), repositories: [], permissions: []})",
    ));
    let token = out.split('"').nth(1).unwrap().to_owned();
    let revoke = format!(r#"revoke-installation-token({{token: "{token}"}})"#);
    assert_eq!(stdout(&invoke(&world.env(), &revoke)).trim(), "ok");
    let again = stdout(&invoke(&world.env(), &revoke));
    assert!(again.starts_with("err(github({service: github, status: 401"), "{again}");
    assert!(!again.contains(&token));
}

#[test]
fn errors_are_printed_as_typed_values() {
    let world = World::start("");
    let call =
        r#"get-installation-token({installation: some(owner("-octo")), repositories: [], permissions: []})"#;
    let out = stdout(&invoke(&world.env(), call));
    assert!(out.starts_with(r#"err(invalid-input({field: "installation.owner", rule: "#), "{out}");

    // An access level outside the WIT enum never reaches the component.
    let call =
        r#"get-installation-token({repositories: [], permissions: [{name: "contents", access: owner}]})"#;
    let output = invoke(&world.env(), call);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("expected a enum { read, write, admin }; got owner"), "{stderr}");
    assert!(world.github.seen().is_empty() && world.kms.signatures() == 0);
}
