//! The release through a real OCI registry: `make publish` pushes the built
//! component to Debian's `docker-registry` (the CNCF distribution server)
//! on loopback, the manifest has the Wasm OCI artifact layout, `wkg oci
//! pull` gives back the bytes `dist/SHA256SUMS` names, and the pulled file
//! mints a token under `wasmtime run` against the stand-ins.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::wasm_path;
use standins::client::send;
use standins::process::{Owned, wasmtime};
use standins::world::World;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A registry on a loopback port, storing into a temporary folder; stopped
/// when dropped.
struct Registry {
    _process: Owned,
    authority: String,
}

impl Registry {
    fn start() -> Registry {
        let dir = standins::temp_dir("gakt-oci");
        let port = standins::process::free_port();
        let authority = format!("127.0.0.1:{port}");
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {authority}\n",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let child = Command::new(standins::tool("docker-registry", Some("DOCKER_REGISTRY"), "tools"))
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { _process: Owned(child), authority };
        for _ in 0..200 {
            if send(&registry.authority, "GET", "/v2/", &[], b"").is_ok_and(|a| a.status == 200) {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the registry did not answer /v2/ within 10 s");
    }
}

/// The SHA-256 that `dist/SHA256SUMS` gives the component.
fn published_sha256() -> String {
    let sums = std::fs::read_to_string(root().join("dist/SHA256SUMS"))
        .expect("dist/SHA256SUMS: run `make checksums` (or `make test`) first");
    let line =
        sums.lines().find(|l| l.ends_with("  github-app-kms-token.wasm")).expect("a line for the component");
    line.split_whitespace().next().unwrap().to_owned()
}

fn run(command: &mut Command) -> String {
    let output = command.output().expect("the command runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?}\nstdout: {stdout}\nstderr: {stderr}");
    stdout
}

fn wkg() -> Command {
    Command::new(standins::tool("wkg", Some("WKG"), "tools"))
}

#[test]
fn publish_pull_verify_and_run() {
    let sha256 = published_sha256();
    assert_eq!(sha256, standins::sha256_hex(&std::fs::read(wasm_path()).unwrap()), "SHA256SUMS is current");
    let registry = Registry::start();
    let reference = format!("{}/acme/github-app-kms-token:0.1.0", registry.authority);

    // The public contract, as its user runs it.
    let pushed =
        run(Command::new("make").current_dir(root()).arg("publish").arg(format!("OCI_REF={reference}")));
    let manifest_digest =
        pushed.lines().find_map(|l| l.strip_prefix("digest: ")).expect("the digest is printed");

    // The Wasm OCI artifact layout.
    let accept = [("accept", "application/vnd.oci.image.manifest.v1+json")];
    let manifest =
        send(&registry.authority, "GET", "/v2/acme/github-app-kms-token/manifests/0.1.0", &accept, b"")
            .unwrap();
    assert_eq!(manifest.status, 200);
    assert_eq!(format!("sha256:{}", standins::sha256_hex(&manifest.body)), manifest_digest);
    let manifest = manifest.json();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.wasm.config.v0+json");
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(layers[0]["mediaType"], "application/wasm");
    assert_eq!(layers[0]["digest"], format!("sha256:{sha256}"));

    // Pulled back: the same bytes.
    let pulled = standins::temp_dir("gakt-oci").join("github-app-kms-token.wasm");
    let mut pull = wkg();
    pull.args(["oci", "pull", "--insecure", &registry.authority, &reference, "-o"]).arg(&pulled);
    run(&mut pull);
    assert_eq!(standins::sha256_hex(&std::fs::read(&pulled).unwrap()), sha256);

    // And it runs: a token from the stand-ins.
    let world = World::start("");
    assert_eq!(mint(&pulled, &world).trim(), world.github.issued()[0].token);
}

/// `wasmtime run` of `wasm` minting for installation 1001.
fn mint(wasm: &Path, world: &World) -> String {
    run(wasmtime("run", &world.env()).args(["-S", "http"]).arg(wasm).args(["--installation-id", "1001"]))
}
