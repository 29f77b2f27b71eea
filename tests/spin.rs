//! Spin, checked without Spin (no package registry here has it): both
//! builds' imports against what Spin 3.x and 4.x link (WASI 0.2.6, and for
//! the Spin build Spin's own `variables` and `key-value` as spin-sdk 5.2
//! ships them), and `spin.toml` against the Spin build: the route, the
//! source, a variable for every setting, the key-value store, and outbound
//! hosts that are exactly the hosts the component calls.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use github_app_kms_token::aws::{kms, region, sts};
use github_app_kms_token::broker::policy;
use github_app_kms_token::github::api as github;
use github_app_kms_token::net::url::Url;

fn manifest() -> toml::Table {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("spin.toml");
    std::fs::read_to_string(path).unwrap().parse().expect("spin.toml is TOML")
}

#[test]
fn routes_everything_to_the_built_component() {
    let m = manifest();
    assert_eq!(m["spin_manifest_version"].as_integer(), Some(2));
    let trigger = &m["trigger"]["http"].as_array().unwrap()[0];
    assert_eq!(trigger["route"].as_str(), Some("/..."));
    let component = trigger["component"].as_str().unwrap();
    let source = m["component"][component]["source"].as_str().unwrap();
    assert_eq!(source, "dist/github-app-kms-token-spin.wasm", "the Spin build `make build` writes");
    let stores = m["component"][component]["key_value_stores"].as_array().unwrap();
    assert_eq!(stores.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>(), ["default"]);
}

/// Every setting the broker reads has a Spin variable (its name in lower
/// case), handed to the component; the secret ones are marked; only what
/// every deployment must set is required; none is set here.
#[test]
fn every_broker_setting_is_a_spin_variable() {
    let m = manifest();
    let declared = m["variables"].as_table().unwrap();
    let handed = m["component"]["token"]["variables"].as_table().unwrap();
    for name in BROKER_SETTINGS {
        let variable = name.to_ascii_lowercase();
        let spec = declared.get(&variable).unwrap_or_else(|| panic!("{variable} is declared"));
        assert_eq!(
            handed.get(&variable).and_then(|v| v.as_str()),
            Some(format!("{{{{ {variable} }}}}").as_str())
        );
        let required = ["APP_ID", "AWS_REGION", "TRUST_POLICY", "OIDC_AUDIENCE"].contains(&name);
        assert_eq!(spec.get("required").and_then(|r| r.as_bool()).unwrap_or(false), required, "{variable}");
        let secret = [
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "GOOGLE_OAUTH_ACCESS_TOKEN",
            "AZURE_CLIENT_SECRET",
            "VAULT_TOKEN",
            "CACHE_KEY",
        ]
        .contains(&name);
        assert_eq!(spec.get("secret").and_then(|r| r.as_bool()).unwrap_or(false), secret, "{variable}");
        if !required {
            let default = spec.get("default").and_then(|d| d.as_str());
            assert!(
                default == Some("") || (name == "CACHE_TOKENS" && default == Some("false")),
                "{variable}"
            );
        }
    }
    assert_eq!(declared.len(), BROKER_SETTINGS.len(), "no variable the broker does not read");
    for name in BROKER_SETTINGS {
        assert!(github_app_kms_token::env::VARIABLES.iter().any(|v| v.name == name), "{name} is read");
    }
}

/// What the broker reads, as environment variables.
const BROKER_SETTINGS: [&str; 38] = [
    "APP_ID",
    "KEY",
    "KMS_KEY_ID",
    "AWS_REGION",
    "TRUST_POLICY",
    "OIDC_AUDIENCE",
    "GITHUB_API_URL",
    "TOKEN_TIMEOUT_SECONDS",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "STS_AUDIENCE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_KMS",
    "AWS_ENDPOINT_URL_STS",
    "GOOGLE_KMS_ENDPOINT",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCP_WORKLOAD_IDENTITY_PROVIDER",
    "GOOGLE_SERVICE_ACCOUNT",
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_AUTHORITY_HOST",
    "AZURE_FEDERATED_TOKEN_FILE",
    "VAULT_ADDR",
    "VAULT_NAMESPACE",
    "VAULT_TRANSIT_MOUNT",
    "VAULT_TOKEN",
    "VAULT_ROLE",
    "VAULT_AUTH_MOUNT",
    "VAULT_AUDIENCE",
    "VAULT_JWT_FILE",
    "CACHE_KEY",
    "CACHE_TOKENS",
];

#[test]
fn outbound_hosts_are_exactly_what_the_component_calls() {
    let m = manifest();
    // The region has one home: a required variable, never a fixed environment value.
    assert_eq!(m["variables"]["aws_region"]["required"].as_bool(), Some(true));
    let component = &m["component"]["token"];
    assert!(component.get("environment").is_none(), "settings are Spin variables");
    let region = "eu-west-1";
    let allowed: BTreeSet<String> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let h = h.as_str().unwrap();
            let host = h.split("://").nth(1).unwrap();
            assert!(!host.contains('*'), "no wildcard: {h}");
            h.replace("{{ aws_region }}", region)
        })
        .collect();

    let region = region::Region::parse("aws_region", region).unwrap();
    let endpoint = |url: Url| url.endpoint();
    let needed: BTreeSet<String> = [
        endpoint(kms::default_endpoint(&region)),
        endpoint(sts::default_endpoint(&region)),
        endpoint(Url::parse(github::DEFAULT_API_URL).unwrap()),
        endpoint(Url::parse(policy::GITHUB_ACTIONS_ISSUER).unwrap()),
    ]
    .into();
    assert_eq!(allowed, needed);
}

/// The WASI 0.2.6 packages Spin 3.x and 4.x link, vendored as test data,
/// resolved as Spin resolves them: with every `@unstable` feature off, so
/// that unstable items are absent. With `all_features`, they are present.
fn wasi_0_2_6(all_features: bool) -> wit_parser::Resolve {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/wasi-0.2.6");
    let mut resolve = wit_parser::Resolve { all_features, ..Default::default() };
    // Each package after the packages it uses.
    for package in ["io", "clocks", "random", "filesystem", "sockets", "cli", "http"] {
        resolve.push_dir(root.join(package)).unwrap_or_else(|e| panic!("{package}: {e:?}"));
    }
    resolve
}

/// The interface of `linked` with the package and name of an import, if
/// the import's version is a `0.2.x` (as hosts match them).
fn find<'a>(
    linked: &'a wit_parser::Resolve,
    package: &wit_parser::PackageName,
    name: &str,
) -> Option<&'a wit_parser::Interface> {
    let version = package.version.as_ref()?;
    let same_package = |p: &wit_parser::PackageName| {
        (p.namespace.as_str(), p.name.as_str()) == (package.namespace.as_str(), package.name.as_str())
            && p.version.as_ref().is_some_and(|v| (v.major, v.minor) == (version.major, version.minor))
    };
    linked.interfaces.iter().map(|(_, iface)| iface).find(|iface| {
        iface.name.as_deref() == Some(name)
            && iface.package.is_some_and(|p| same_package(&linked.packages[p].name))
    })
}

/// Every function and type that `component` imports from an interface and
/// that WASI 0.2.6 as Spin links it lacks, with why. Versions are matched as
/// Spin and wasmtime match them: a `wasi:cli/exit@0.2.12` import by name
/// against `wasi:cli/exit@0.2.6`.
fn unlinkable_imports(component: &[u8]) -> Vec<String> {
    let (stable, everything) = (wasi_0_2_6(false), wasi_0_2_6(true));
    let wit_parser::decoding::DecodedWasm::Component(resolve, world) =
        wit_parser::decoding::decode(component).expect("a component")
    else {
        panic!("not a component")
    };
    let mut problems = Vec::new();
    for (key, item) in &resolve.worlds[world].imports {
        let wit_parser::WorldItem::Interface { id, .. } = item else {
            problems.push(format!("{}: not an interface", resolve.name_world_key(key)));
            continue;
        };
        let iface = &resolve.interfaces[*id];
        let package = &resolve.packages[iface.package.expect("imports belong to packages")].name;
        let name = iface.name.as_deref().expect("named");
        let unstable = find(&everything, package, name);
        let (Some(linked), Some(unstable)) = (find(&stable, package, name), unstable) else {
            let why = if unstable.is_some() { "marked @unstable" } else { "missing" };
            problems.push(format!("{package}/{name}: the interface is {why} in WASI 0.2.6"));
            continue;
        };
        let items = iface
            .functions
            .keys()
            .map(|f| (f, linked.functions.contains_key(f), unstable.functions.contains_key(f)));
        let types =
            iface.types.keys().map(|t| (t, linked.types.contains_key(t), unstable.types.contains_key(t)));
        for (item, linked, exists) in items.chain(types) {
            if !linked {
                let why = if exists { "marked @unstable" } else { "missing" };
                problems.push(format!("{package}/{name}.{item}: {why} in WASI 0.2.6"));
            }
        }
    }
    problems
}

#[test]
fn the_component_imports_only_what_spin_links() {
    let component = std::fs::read(common::wasm_path()).unwrap();
    assert_eq!(unlinkable_imports(&component), Vec::<String>::new());
}

/// `fermyon:spin@2.0.0` as spin-sdk 5.2 ships it (with the WASI packages
/// it names: 0.2.0 and 0.2.0-rc-2023-10-18), resolved with every `@unstable`
/// feature off.
fn spin_2_0_0() -> wit_parser::Resolve {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/spin-sdk-5.2.0");
    let mut resolve = wit_parser::Resolve::default();
    let wasi = ["io", "clocks", "random", "filesystem", "sockets", "cli", "http"];
    let dirs = wasi.iter().flat_map(|p| [format!("{p}@0.2.0"), format!("{p}-2023-10-18")]);
    for dir in dirs.chain(["spin@2.0.0".to_owned()]) {
        resolve.push_dir(root.join(&dir)).unwrap_or_else(|e| panic!("{dir}: {e:?}"));
    }
    resolve
}

/// The Spin build: its WASI imports as the portable build's, and its Spin
/// imports (`variables`, `key-value`) exactly as Spin's `platform` world has
/// them, every function and type.
#[test]
fn the_spin_build_imports_only_what_spin_links() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist/github-app-kms-token-spin.wasm");
    assert!(path.exists(), "{} is missing: run `make build`", path.display());
    let component = std::fs::read(path).unwrap();
    let wit_parser::decoding::DecodedWasm::Component(resolve, world) =
        wit_parser::decoding::decode(&component).expect("a component")
    else {
        panic!("not a component")
    };
    let spin = spin_2_0_0();
    let mut spin_imports = Vec::new();
    for item in resolve.worlds[world].imports.values() {
        let wit_parser::WorldItem::Interface { id, .. } = item else { continue };
        let iface = &resolve.interfaces[*id];
        let package = &resolve.packages[iface.package.expect("in a package")].name;
        if package.namespace != "fermyon" {
            continue;
        }
        let name = iface.name.clone().expect("named");
        let linked = find(&spin, package, &name).unwrap_or_else(|| panic!("{package}/{name} is not Spin's"));
        for f in iface.functions.keys() {
            assert!(linked.functions.contains_key(f), "{package}/{name}.{f} is not Spin's");
        }
        for t in iface.types.keys() {
            assert!(linked.types.contains_key(t), "{package}/{name}.{t} is not Spin's");
        }
        spin_imports.push(format!("{package}/{name}"));
    }
    assert_eq!(spin_imports, ["fermyon:spin@2.0.0/variables", "fermyon:spin@2.0.0/key-value"]);
    // Spin 3.x/4.x's host world includes that package's platform, which imports both.
    let host = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/spin-sdk-5.2.0/spin-up-world.wit"),
    )
    .unwrap();
    assert!(host.contains("include fermyon:spin/platform@2.0.0;"));
    let platform = spin.worlds.iter().find(|(_, w)| w.name == "platform").map(|(_, w)| w).unwrap();
    let imported: Vec<String> = platform.imports.keys().map(|k| spin.name_world_key(k)).collect();
    for name in ["fermyon:spin/variables@2.0.0", "fermyon:spin/key-value@2.0.0"] {
        assert!(imported.iter().any(|i| i == name), "{name} in {imported:?}");
    }
    // And its WASI imports are linkable as the portable build's are.
    let wasi_only: Vec<String> =
        unlinkable_imports(&component).into_iter().filter(|p| !p.starts_with("fermyon:")).collect();
    assert_eq!(wasi_only, Vec::<String>::new());
}

/// The check fails for a component that calls `exit-with-code` (as the
/// command line did before) or imports what 0.2.6 lacks, and passes the
/// same imports without them.
#[test]
fn the_import_check_refuses_exit_with_code() {
    let component = |exit_funcs: &str| {
        wat::parse_str(format!(
            r#"(component
                 (import "wasi:cli/exit@0.2.12" (instance {exit_funcs}))
                 (import "wasi:cli/environment@0.2.12" (instance
                   (export "get-arguments" (func (result (list string)))))))"#
        ))
        .expect("valid WAT")
    };
    let exit = r#"(export "exit" (func (param "status" (result))))"#;
    let exit_with_code = r#"(export "exit-with-code" (func (param "status-code" u8)))"#;
    assert_eq!(unlinkable_imports(&component(exit)), Vec::<String>::new());
    assert_eq!(
        unlinkable_imports(&component(&format!("{exit} {exit_with_code}"))),
        ["wasi:cli@0.2.12/exit.exit-with-code: marked @unstable in WASI 0.2.6"]
    );
    let invented = r#"(export "exit-quietly" (func))"#;
    assert_eq!(
        unlinkable_imports(&component(invented)),
        ["wasi:cli@0.2.12/exit.exit-quietly: missing in WASI 0.2.6"]
    );
    let timezone = wat::parse_str(
        r#"(component (import "wasi:clocks/timezone@0.2.12" (instance
             (export "utc-offset" (func (param "when" u64) (result s32))))))"#,
    )
    .expect("valid WAT");
    assert_eq!(
        unlinkable_imports(&timezone),
        ["wasi:clocks@0.2.12/timezone: the interface is marked @unstable in WASI 0.2.6"]
    );
}
