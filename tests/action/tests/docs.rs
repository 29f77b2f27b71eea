//! No example puts a secret on a command line (review finding N10): a value
//! given as `NAME=value` to `--env`, `-e`, `--variable`, `export`, `env` or
//! kubectl's `--from-literal` lands in `ps` and the shell's history. The examples use the host's own
//! way instead: `--env NAME` (the value from the environment), an
//! environment file only its owner can read, Spin's variable providers,
//! Kubernetes Secrets.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The variables that hold secrets, as environment variables; Spin's
/// variables are their lower-case forms, `SPIN_VARIABLE_` their upper-case.
const SECRETS: [&str; 10] = [
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "VAULT_TOKEN",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "CACHE_KEY",
    "GITHUB_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "WKG_OCI_PASSWORD",
    // The Redis URL of the SpinKube example carries its password.
    "REDIS_URL",
];

/// Every line of `text` that gives a secret a value on a command line.
fn secrets_on_command_lines(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, word) in words.iter().enumerate() {
            let word = word.trim_start_matches(['"', '\'', '`']);
            // kubectl's `--from-literal=NAME=VALUE`.
            let word = word.strip_prefix("--from-literal=").unwrap_or(word);
            let Some((name, value)) = word.split_once('=') else { continue };
            let name = name.trim_start_matches("SPIN_VARIABLE_").to_ascii_uppercase();
            let commanded = i == 0
                || ["--env", "-e", "--variable", "export", "env", "\\"].contains(&words[i - 1])
                || words[..i]
                    .iter()
                    .any(|w| ["export", "env", "spin", "wasmtime", "make", "kubectl"].contains(w));
            if SECRETS.contains(&name.as_str()) && !value.trim_matches(['"', '\'']).is_empty() && commanded {
                found.push(line.trim().to_owned());
            }
        }
    }
    found
}

/// The files a reader copies commands from.
fn documents() -> Vec<PathBuf> {
    fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if path.is_dir()
                && !["node_modules", "dist", "target", "data"].contains(&name)
                && !name.starts_with('.')
            {
                walk(&path, into);
            } else if ["md", "toml", "yml", "yaml", "sh", "txt"]
                .iter()
                .any(|e| name.ends_with(&format!(".{e}")))
            {
                into.push(path);
            }
        }
    }
    let mut files = vec![root().join("README.md"), root().join("spin.toml")];
    for folder in ["docs", "host-examples", "src/exports"] {
        walk(&root().join(folder), &mut files);
    }
    files
}

#[test]
fn no_example_puts_a_secret_on_a_command_line() {
    let files = documents();
    assert!(files.len() > 10, "{files:?}");
    let mut found = Vec::new();
    for file in files {
        for line in secrets_on_command_lines(&std::fs::read_to_string(&file).unwrap()) {
            found.push(format!("{}: {line}", file.display()));
        }
    }
    assert!(found.is_empty(), "secrets on command lines:\n{}", found.join("\n"));
}

/// The check sees what the review found, and lets the host's own ways pass.
#[test]
fn the_check_sees_a_secret_given_on_a_command_line() {
    for bad in [
        "#   spin up --env AWS_SECRET_ACCESS_KEY=... --env AWS_SESSION_TOKEN=...",
        r#"        --env AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" --env AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \"#,
        "export APP_ID=1 AWS_SECRET_ACCESS_KEY=abc",
        "SPIN_VARIABLE_CACHE_KEY=c2VjcmV0 spin up",
        "spin up --variable cache_key=c2VjcmV0",
        r#"  --from-literal=aws_secret_access_key="$AWS_SECRET_ACCESS_KEY" \"#,
        r#"kubectl create secret generic x --from-literal=redis_url="redis://:$REDIS_PASSWORD@redis:6379""#,
    ] {
        assert!(!secrets_on_command_lines(bad).is_empty(), "{bad}");
    }
    for good in [
        "  --env AWS_ACCESS_KEY_ID --env AWS_SECRET_ACCESS_KEY --env AWS_SESSION_TOKEN \\",
        "set -a; . ./broker.env; set +a",
        "cache_key = { default = \"\", secret = true }",
        "aws_secret_access_key = \"{{ aws_secret_access_key }}\"",
        "AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}",
        "kubectl create secret generic x --from-env-file=secrets.env --from-file=trust_policy=policy.json",
    ] {
        assert_eq!(secrets_on_command_lines(good), Vec::<String>::new(), "{good}");
    }
}
