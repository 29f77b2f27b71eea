//! The architecture, checked: every module of `src/` may only use the
//! modules before it in [`LAYERS`], so imports point down and there is no
//! cycle. Comments are not code: a doc link may point anywhere.

use std::path::{Path, PathBuf};

/// Every module, lowest first: the values every layer uses; HTTP; the
/// services; the flows; the exports. (`crate::api`, the WIT types, and
/// the crate root's constants sit below them all.)
const LAYERS: &[&str] = &[
    "secret",
    "rs256",
    "time",
    "json",
    "store",
    "env",
    "error",
    "cache",
    "net::url",
    "net::http",
    "net::script",
    "net::retry",
    "net::outgoing",
    "identity",
    "oauth",
    "aws::region",
    "aws::arn",
    "aws::errors",
    "aws::credentials",
    "aws::sts",
    "aws::kms",
    "vault",
    "vault::errors",
    "vault::login",
    "vault::transit",
    "gcp",
    "gcp::errors",
    "gcp::kms",
    "gcp::credentials",
    "azure",
    "azure::errors",
    "azure::keyvault",
    "azure::entra",
    "github::names",
    "github::jwt",
    "github::api",
    "mint::signer",
    "mint::settings",
    "mint::flow",
    "broker::idtoken",
    "broker::keys",
    "broker::policy",
    "broker::caller",
    "broker::audit",
    "broker::service",
    "exports::resolve",
    "exports::spin",
    "exports::args",
    "exports::cli",
    "exports::issuer",
    "exports::handler",
];

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `src/net/http.rs` as `net::http`; `src/net/mod.rs` as `net`; a module's
/// tests beside it (`src/broker/policy/tests.rs`) as the module itself.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(src()).unwrap().with_extension("");
    let parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let module = parts.iter().filter(|p| *p != "mod").cloned().collect::<Vec<_>>().join("::");
    module.strip_suffix("::tests").map_or(module.clone(), str::to_owned)
}

/// The text without comments (`//` to the end of the line; none of the
/// sources puts `//` in a string that names a module).
fn code(text: &str) -> String {
    text.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n")
}

/// Every module path a text names after `crate::`, a `{a, b}` group
/// expanded one level (`crate::aws::{kms, sts}` names `aws::kms` and `aws::sts`).
fn references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':')).unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':');
        if rest[end..].starts_with('{') && rest[..end].ends_with("::") {
            let group = &rest[end + 1..rest[end..].find('}').map_or(rest.len(), |e| end + e)];
            for item in group.split(',') {
                let name = item.split_whitespace().next().unwrap_or_default();
                let name = name.split("::").next().unwrap_or_default();
                found.push(if name == "self" || name.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}::{name}")
                });
            }
        } else {
            found.push(path.to_owned());
        }
    }
    found
}

/// The layer a path names: its longest prefix in [`LAYERS`]; `None` for
/// the crate root, `api` and the generated bindings, below every layer.
fn rank(path: &str) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .filter(|(_, m)| path == **m || path.starts_with(&format!("{m}::")))
        .max_by_key(|(_, m)| m.len())
        .map(|(i, _)| i)
}

/// Whether `path` is a folder of modules in [`LAYERS`] (`net`, `aws`, ...).
fn is_folder(path: &str) -> bool {
    LAYERS.iter().any(|m| m.starts_with(&format!("{path}::")))
}

#[test]
fn every_module_is_in_the_layer_order() {
    for file in sources(&src()) {
        let module = module_of(&file);
        assert!(
            module == "lib" || is_folder(&module) || LAYERS.contains(&module.as_str()),
            "{module} is not in LAYERS"
        );
    }
}

#[test]
fn imports_point_down() {
    let mut upward = Vec::new();
    for file in sources(&src()) {
        let module = module_of(&file);
        let Some(own) = rank(&module) else { continue };
        for path in references(&code(&std::fs::read_to_string(&file).unwrap())) {
            match rank(&path) {
                Some(theirs) if theirs > own => upward.push(format!("{module} uses crate::{path}")),
                // A folder as a whole is above the modules it holds.
                None if is_folder(&path) => upward.push(format!("{module} uses the folder crate::{path}")),
                _ => {}
            }
        }
    }
    assert!(upward.is_empty(), "imports that point up the layers:\n{}", upward.join("\n"));
}

/// The check itself: it sees an upward import and a cycle.
#[test]
fn the_check_sees_what_points_up() {
    assert_eq!(
        references("use crate::aws::{kms, oidc::read};\nlet x = crate::net::http::Response;"),
        ["aws::kms", "aws::oidc", "net::http::Response"]
    );
    assert_eq!(
        references("use crate::github::api::{self as github, Scope};"),
        ["github::api", "github::api::Scope"]
    );
    assert!(rank("net::http::Response") < rank("aws::kms"));
    assert!(rank("mint::flow") > rank("mint::settings"));
    assert_eq!((rank("api::Service"), rank("USER_AGENT")), (None, None));
    assert_eq!(code("use a; // crate::exports::cli"), "use a; ");
}
