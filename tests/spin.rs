//! `spin.toml` checked against the component (Spin itself cannot be
//! installed here): the route, the source, and outbound hosts that are
//! exactly the hosts the component calls.

use std::collections::BTreeSet;
use std::path::PathBuf;

use github_app_kms_token::http::Url;
use github_app_kms_token::{github, kms, policy, sts};

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
    assert_eq!(source, "dist/github-app-kms-token.wasm", "the file `make build` writes");
}

#[test]
fn outbound_hosts_are_exactly_what_the_component_calls() {
    let m = manifest();
    let region_default = m["variables"]["aws_region"]["default"].as_str().unwrap();
    let component = &m["component"]["token"];
    let allowed: BTreeSet<String> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let h = h.as_str().unwrap();
            let host = h.split("://").nth(1).unwrap();
            assert!(!host.contains('*'), "no wildcard: {h}");
            h.replace("{{ aws_region }}", region_default)
        })
        .collect();

    let region = kms::Region::parse("aws_region", region_default).unwrap();
    let endpoint = |url: Url| url.endpoint();
    let needed: BTreeSet<String> = [
        endpoint(kms::default_endpoint(&region)),
        endpoint(sts::default_endpoint(&region)),
        endpoint(Url::parse(github::DEFAULT_API_URL).unwrap()),
        endpoint(Url::parse(policy::GITHUB_ACTIONS_ISSUER).unwrap()),
    ]
    .into();
    assert_eq!(allowed, needed);
    // The environment the manifest sets agrees with the variable.
    assert_eq!(component["environment"]["AWS_REGION"].as_str(), Some(region_default));
}
