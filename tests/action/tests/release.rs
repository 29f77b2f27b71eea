//! The release workflow's security rules, read from
//! `.github/workflows/release.yml` as YAML: what builds or installs holds no
//! write right, each write runs behind an environment, tokens reach only the
//! steps that use them, checkouts keep no credentials, pipes fail the step,
//! the major tag moves only for a release on main, actions are pinned.
//!
//! Each rule is a function from a parsed workflow to its violations, so each
//! test also runs it on a workflow that breaks it (the release workflow as it
//! was before these rules, or a small one written here) and expects it to
//! complain.

use serde_yaml::Value;

const RELEASE_YML: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.github/workflows/release.yml");
const MAKEFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../Makefile");

fn release_text() -> String {
    std::fs::read_to_string(RELEASE_YML).expect("release.yml is readable")
}

fn parse(text: &str) -> Value {
    serde_yaml::from_str(text).expect("a workflow is YAML")
}

/// No violation in release.yml.
fn assert_holds(rule: fn(&Value) -> Vec<String>) {
    let violations = rule(&parse(&release_text()));
    assert!(violations.is_empty(), "release.yml:\n  {}", violations.join("\n  "));
}

/// The rule sees what is wrong in `text` (a rule that cannot fail proves nothing).
fn assert_flags(rule: fn(&Value) -> Vec<String>, text: &str) {
    assert!(!rule(&parse(text)).is_empty(), "no violation found in:\n{text}");
}

// --- Reading a workflow ---

fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.as_mapping()?.get(key)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    field(v, key)?.as_str()
}

fn jobs(wf: &Value) -> Vec<(&str, &Value)> {
    let Some(jobs) = field(wf, "jobs").and_then(Value::as_mapping) else { return Vec::new() };
    jobs.iter().filter_map(|(id, job)| Some((id.as_str()?, job))).collect()
}

fn steps(job: &Value) -> &[Value] {
    field(job, "steps").and_then(Value::as_sequence).map_or(&[], Vec::as_slice)
}

/// `job: step N (name)`, for messages.
fn label(job: &str, index: usize, step: &Value) -> String {
    let name = text(step, "name")
        .or_else(|| text(step, "uses"))
        .or_else(|| text(step, "run").and_then(|r| r.lines().next()))
        .unwrap_or("");
    format!("{job}: step {} ({name})", index + 1)
}

/// The scopes a job's token may write: its own `permissions`, else the
/// workflow's; with neither, the repository default, which may write.
fn write_scopes(wf: &Value, job: &Value) -> Vec<String> {
    match field(job, "permissions").or_else(|| field(wf, "permissions")) {
        None | Some(Value::Null) => vec!["(the default token)".into()],
        Some(Value::String(all)) if all == "read-all" => Vec::new(),
        Some(Value::String(all)) => vec![all.clone()],
        Some(Value::Mapping(scopes)) => scopes
            .iter()
            .filter(|(_, access)| access.as_str() == Some("write"))
            .map(|(scope, _)| scope.as_str().unwrap_or("?").to_owned())
            .collect(),
        Some(other) => vec![format!("(unreadable permissions {other:?})")],
    }
}

/// The simple commands of a shell script, as words, with what only
/// prefixes a command (assignments, `sudo`, keywords) dropped.
fn commands(script: &str) -> Vec<Vec<&str>> {
    const PREFIXES: &[&str] = &[
        "sudo", "env", "exec", "time", "command", "!", "if", "then", "else", "elif", "do", "while", "until",
    ];
    script
        .split(['\n', ';', '&', '|', '(', ')', '{', '}', '`'])
        .map(|command| {
            command
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']))
                .skip_while(|w| PREFIXES.contains(w) || w.contains('='))
                .collect::<Vec<_>>()
        })
        .filter(|words| !words.is_empty())
        .collect()
}

/// The commands of a script that install or build (and so run third-party
/// build scripts or package hooks): make, cargo's building subcommands,
/// npm/npx, pip.
fn installs_or_builds(script: &str) -> Vec<String> {
    let script = script.replace("\\\n", " ");
    commands(&script)
        .into_iter()
        .filter(|words| {
            let program = words[0].rsplit('/').next().unwrap_or(words[0]);
            let sub = words[1..].iter().find(|w| !w.starts_with(['-', '+'])).copied().unwrap_or("");
            match program {
                "make" | "gmake" | "npx" => true,
                "cargo" => {
                    matches!(sub, "install" | "build" | "b" | "run" | "r" | "test" | "t" | "rustc")
                }
                "npm" | "pnpm" | "yarn" => matches!(sub, "install" | "i" | "ci" | "add" | "exec"),
                "pip" | "pip3" => sub == "install",
                "python" | "python3" => words.windows(2).any(|w| w == ["pip", "install"]),
                _ => false,
            }
        })
        .map(|words| words.join(" "))
        .collect()
}

fn is_token_expression(s: &str) -> bool {
    s.split("${{").skip(1).any(|expr| {
        let expr = expr.split("}}").next().unwrap_or("").to_ascii_lowercase();
        expr.contains("github.token") || expr.contains("secrets.")
    })
}

/// Every string in `v` holding a token expression, with its path.
fn token_strings(v: &Value, path: &mut Vec<String>, found: &mut Vec<Vec<String>>) {
    match v {
        Value::String(s) if is_token_expression(s) => found.push(path.clone()),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                token_strings(item, path, found);
                path.pop();
            }
        }
        Value::Mapping(entries) => {
            for (key, value) in entries {
                path.push(key.as_str().map_or_else(|| format!("{key:?}"), str::to_owned));
                token_strings(value, path, found);
                path.pop();
            }
        }
        Value::Tagged(tagged) => token_strings(&tagged.value, path, found),
        _ => {}
    }
}

/// Variables a tool reads by name, which a script then need not mention.
const READ_BY_TOOL: &[(&str, &str)] = &[("GH_TOKEN", "gh "), ("WKG_OCI_PASSWORD", "wkg oci push")];

fn script_uses(script: &str, var: &str) -> bool {
    script.contains(&format!("${var}"))
        || script.contains(&format!("${{{var}"))
        || READ_BY_TOOL.iter().any(|(name, tool)| *name == var && script.contains(tool))
}

/// A `|` pipe (or `|&`), not `||`.
fn has_pipe(script: &str) -> bool {
    let b = script.as_bytes();
    (0..b.len()).any(|i| b[i] == b'|' && (i == 0 || b[i - 1] != b'|') && b.get(i + 1) != Some(&b'|'))
}

fn default_shell(v: &Value) -> Option<&str> {
    text(field(field(v, "defaults")?, "run")?, "shell")
}

fn is_checkout(step: &Value) -> bool {
    text(step, "uses").is_some_and(|u| u.starts_with("actions/checkout@"))
}

/// An expression with its whitespace, `${{ }}` and quote style dropped.
fn normalize_condition(condition: &str) -> String {
    condition.replace("${{", "").replace("}}", "").replace('"', "'").split_whitespace().collect()
}

/// Commands in a script that create or move a tag.
const TAG_MOVES: &[&str] = &["git push", "git tag -f", "git tag --force", "git/refs"];

fn first_move(script: &str) -> Option<usize> {
    TAG_MOVES.iter().filter_map(|m| script.find(m)).min()
}

fn is_pinned(uses: &str) -> bool {
    if uses.starts_with("./") {
        return true;
    }
    if let Some(image) = uses.strip_prefix("docker://") {
        return image.contains("@sha256:");
    }
    let Some((name, rev)) = uses.split_once('@') else { return false };
    name.split('/').count() >= 2
        && rev.len() == 40
        && rev.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

// --- The rules ---

/// `actions/checkout` leaves the token in .git/config unless told not to,
/// for every later step (and anything they run) to read.
fn checkout_credentials(wf: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    for (id, job) in jobs(wf) {
        for (i, step) in steps(job).iter().enumerate() {
            let with = field(step, "with");
            if is_checkout(step)
                && with.and_then(|w| field(w, "persist-credentials")) != Some(&Value::Bool(false))
            {
                violations.push(format!("{}: no `persist-credentials: false`", label(id, i, step)));
            }
        }
    }
    violations
}

/// A job that holds a write right installs and builds nothing: build
/// scripts, package hooks and Makefile fallbacks would run beside the token.
fn privileged_builds(wf: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    for (id, job) in jobs(wf) {
        let writes = write_scopes(wf, job);
        if writes.is_empty() {
            continue;
        }
        for (i, step) in steps(job).iter().enumerate() {
            for command in installs_or_builds(text(step, "run").unwrap_or("")) {
                violations.push(format!("{}: `{command}` with write on {writes:?}", label(id, i, step)));
            }
        }
    }
    violations
}

/// A job that writes waits for the environment's required reviewers.
fn unguarded_writers(wf: &Value) -> Vec<String> {
    jobs(wf)
        .into_iter()
        .filter(|(_, job)| !write_scopes(wf, job).is_empty())
        .filter(|(_, job)| {
            let environment = field(job, "environment");
            !(environment.and_then(Value::as_str).is_some_and(|e| !e.is_empty())
                || environment.and_then(|e| text(e, "name")).is_some_and(|e| !e.is_empty()))
        })
        .map(|(id, job)| format!("{id}: writes {:?} with no `environment`", write_scopes(wf, job)))
        .collect()
}

/// A token is in the `env` of a `run` step that uses it, and nowhere else
/// (not a job's or the workflow's env, where every step would hold it).
fn misplaced_tokens(wf: &Value) -> Vec<String> {
    let mut found = Vec::new();
    token_strings(wf, &mut Vec::new(), &mut found);
    let mut violations = Vec::new();
    for path in found {
        let place = path.join(".");
        let ["jobs", id, "steps", index, "env", var] =
            path.iter().map(String::as_str).collect::<Vec<_>>()[..]
        else {
            violations.push(format!("{place}: a token outside a step's env"));
            continue;
        };
        let index: usize = index.parse().expect("a step index");
        let step = &steps(field(field(wf, "jobs").unwrap(), id).unwrap())[index];
        match text(step, "run") {
            Some(script) if script_uses(script, var) => {}
            _ => violations.push(format!("{}: {var} holds a token it does not use", label(id, index, step))),
        }
    }
    violations
}

/// A script with a pipe runs under `bash -eo pipefail` (`shell: bash`),
/// or a failure before the last `|` passes unseen.
fn pipes_without_pipefail(wf: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    for (id, job) in jobs(wf) {
        for (i, step) in steps(job).iter().enumerate() {
            let Some(script) = text(step, "run") else { continue };
            let shell = text(step, "shell").or_else(|| default_shell(job)).or_else(|| default_shell(wf));
            if has_pipe(script) && shell != Some("bash") {
                violations.push(format!("{}: a pipe under shell {shell:?}", label(id, i, step)));
            }
        }
    }
    violations
}

/// The step that moves the major tag first checks, against a fetched main,
/// that the release's commit is on main; and it never runs for a
/// pre-release tag.
fn major_tag_moves(wf: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    let mut movers = 0;
    for (id, job) in jobs(wf) {
        let fetches_main = steps(job).iter().any(|step| {
            (is_checkout(step)
                && field(step, "with").and_then(|w| field(w, "fetch-depth")).and_then(Value::as_u64)
                    == Some(0))
                || text(step, "run").is_some_and(|s| {
                    s.lines().any(|l| l.contains("git fetch") && l.contains("origin") && l.contains("main"))
                })
        });
        for (i, step) in steps(job).iter().enumerate() {
            let Some(script) = text(step, "run") else { continue };
            let Some(moves_at) = first_move(script) else { continue };
            movers += 1;
            let at = label(id, i, step);
            let checked_at = script
                .lines()
                .filter(|l| l.contains("merge-base --is-ancestor") && l.contains("origin/main"))
                .filter_map(|l| script.find(l))
                .min();
            let checked_first = checked_at.is_some_and(|c| c < moves_at);
            if !checked_first {
                violations.push(format!(
                    "{at}: moves a tag with no `merge-base --is-ancestor … origin/main` first"
                ));
            }
            if !fetches_main {
                violations.push(format!(
                    "{at}: main is not fetched (checkout `fetch-depth: 0` or `git fetch origin main`)"
                ));
            }
            let skips_prerelease = [text(step, "if"), text(job, "if")]
                .into_iter()
                .flatten()
                .any(|c| normalize_condition(c).contains("!contains(github.ref_name,'-')"));
            if !skips_prerelease {
                violations.push(format!("{at}: runs for pre-release tags too"));
            }
        }
    }
    if movers == 0 {
        violations.push("no step moves the major tag".into());
    }
    violations
}

/// Every action and reusable workflow is pinned to a commit.
fn unpinned(wf: &Value) -> Vec<String> {
    let mut violations = Vec::new();
    for (id, job) in jobs(wf) {
        if let Some(uses) = text(job, "uses").filter(|u| !is_pinned(u)) {
            violations.push(format!("{id}: {uses}"));
        }
        for (i, step) in steps(job).iter().enumerate() {
            if let Some(uses) = text(step, "uses").filter(|u| !is_pinned(u)) {
                violations.push(format!("{}: {uses} is not pinned to a commit SHA", label(id, i, step)));
            }
        }
    }
    violations
}

/// A pin says which version it is (a comment, so read from the text).
fn pins_without_version(text: &str) -> Vec<String> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let line = line.trim_start().trim_start_matches("- ");
            line.starts_with("uses:") && line.contains('@') && !line.contains(" # v")
        })
        .map(|(n, line)| format!("line {}: {}", n + 1, line.trim()))
        .collect()
}

fn grants_by_default(wf: &Value) -> Vec<String> {
    match field(wf, "permissions") {
        Some(Value::Mapping(scopes)) if scopes.is_empty() => Vec::new(),
        other => vec![format!("top-level permissions {other:?}, not {{}}")],
    }
}

// --- The tests ---

#[test]
fn checkouts_keep_no_credentials() {
    assert_holds(checkout_credentials);
    assert_flags(checkout_credentials, RELEASE_BEFORE_THE_RULES);
}

#[test]
fn jobs_that_write_install_and_build_nothing() {
    assert_holds(privileged_builds);
    assert_flags(privileged_builds, RELEASE_BEFORE_THE_RULES);
    // A job with no `permissions` under a workflow with none writes too.
    assert_flags(
        privileged_builds,
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cargo install wkg --locked\n",
    );
    assert_flags(
        privileged_builds,
        "permissions: write-all\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: cd tools && npm ci\n",
    );
}

#[test]
fn only_read_only_jobs_build() {
    // The release does build, in jobs that only read.
    let wf = parse(&release_text());
    let builders: Vec<_> = jobs(&wf)
        .into_iter()
        .filter(|(_, job)| {
            steps(job).iter().any(|s| !installs_or_builds(text(s, "run").unwrap_or("")).is_empty())
        })
        .collect();
    assert!(
        builders.len() >= 2,
        "the component and wkg are built: {:?}",
        builders.iter().map(|b| b.0).collect::<Vec<_>>()
    );
    for (id, job) in builders {
        assert_eq!(write_scopes(&wf, job), Vec::<String>::new(), "{id} builds");
    }
    assert!(!installs_or_builds("set -e; if make publish OCI_REF=x; then :; fi").is_empty());
    assert!(!installs_or_builds("X=1 sudo /usr/bin/python3 -m pip install moto").is_empty());
    assert!(installs_or_builds("echo make; wkg oci push \"$ref\" dist/x.wasm | tee push.log").is_empty());
}

#[test]
fn jobs_that_write_wait_for_an_environment() {
    assert_holds(unguarded_writers);
    assert_flags(unguarded_writers, RELEASE_BEFORE_THE_RULES);
}

#[test]
fn tokens_only_in_the_env_of_steps_that_use_them() {
    assert_holds(misplaced_tokens);
    let job_env = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    env:\n      GH_TOKEN: ${{ github.token }}\n    \
                   steps:\n      - run: gh release list\n";
    assert_flags(misplaced_tokens, job_env);
    let unused = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make build\n        \
                  env:\n          TOKEN: ${{ secrets.NPM_TOKEN }}\n";
    assert_flags(misplaced_tokens, unused);
    let workflow_env = "env:\n  T: ${{ github.token }}\njobs: {}\n";
    assert_flags(misplaced_tokens, workflow_env);
}

#[test]
fn pipes_fail_the_step() {
    assert_holds(pipes_without_pipefail);
    assert_flags(pipes_without_pipefail, RELEASE_BEFORE_THE_RULES);
    // A step's own shell wins over the defaults.
    let sh = "defaults:\n  run:\n    shell: bash\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      \
              - run: make | tee log\n        shell: sh\n";
    assert_flags(pipes_without_pipefail, sh);
    assert!(!has_pipe("a || b") && has_pipe("a | b") && has_pipe("a |& b"));
}

#[test]
fn major_tag_moves_only_for_a_release_on_main() {
    assert_holds(major_tag_moves);
    assert_flags(major_tag_moves, RELEASE_BEFORE_THE_RULES);
    // Checked, but after the move.
    let late = "jobs:\n  a:\n    if: ${{ !contains(github.ref_name, '-') }}\n    runs-on: ubuntu-latest\n    \
                steps:\n      - run: git fetch origin main\n      - run: |\n          git push -f origin v1\n          \
                git merge-base --is-ancestor \"$GITHUB_SHA\" origin/main\n";
    assert_flags(major_tag_moves, late);
    // Checked first, but for pre-releases too.
    let prerelease = late.replace("    if: ${{ !contains(github.ref_name, '-') }}\n", "").replace(
        "          git push -f origin v1\n          git merge-base --is-ancestor \"$GITHUB_SHA\" origin/main\n",
        "          git merge-base --is-ancestor \"$GITHUB_SHA\" origin/main\n          git push -f origin v1\n",
    );
    assert_flags(major_tag_moves, &prerelease);
}

#[test]
fn actions_are_pinned_to_a_commit_with_its_version() {
    assert_holds(unpinned);
    assert_eq!(pins_without_version(&release_text()), Vec::<String>::new());
    assert_flags(
        unpinned,
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v7\n",
    );
    assert_flags(
        unpinned,
        "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      \
         - uses: actions/checkout@3D3C42E5AAC5BA805825DA76410C181273BA90B\n",
    );
    assert!(
        !pins_without_version("      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1\n")
            .is_empty()
    );
}

#[test]
fn workflow_grants_nothing_by_default() {
    assert_holds(grants_by_default);
    assert_flags(grants_by_default, "permissions: write-all\njobs: {}\n");
    assert_flags(grants_by_default, "jobs: {}\n");
}

/// wkg is built in the release at the version the Makefile pins (and
/// `make publish` checks for).
#[test]
fn release_builds_the_makefiles_wkg() {
    let makefile = std::fs::read_to_string(MAKEFILE).expect("the Makefile is readable");
    let pinned = makefile
        .lines()
        .find_map(|l| l.strip_prefix("WKG_VERSION")?.trim_start().strip_prefix(":=").map(str::trim))
        .expect("the Makefile pins WKG_VERSION");
    let wf = parse(&release_text());
    let versions: Vec<String> = jobs(&wf)
        .into_iter()
        .flat_map(|(_, job)| steps(job))
        .filter_map(|step| text(step, "run"))
        .flat_map(commands)
        .filter(|words| words.starts_with(&["cargo", "install", "wkg"]))
        .map(|words| {
            let at = words.iter().position(|w| *w == "--version").expect("cargo install wkg --version");
            words[at + 1].to_owned()
        })
        .collect();
    assert_eq!(versions, [pinned]);
}

/// The release workflow as it was before these rules (`git show
/// d4d1398:.github/workflows/release.yml`): one publishing job held every
/// write right, ran `make publish`, and waited for no environment.
const RELEASE_BEFORE_THE_RULES: &str = r##"
# A release, on a version tag: the component built reproducibly, published
# with checksums, provenance and a signature, as a GitHub release and as a
# Wasm OCI artifact on GHCR; and the Action's moving major tag.
name: release

on:
  push:
    tags: ["v*"]

permissions: {}

jobs:
  build:
    runs-on: ubuntu-latest
    timeout-minutes: 90
    permissions:
      contents: read
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
        with:
          persist-credentials: false
      - run: make release
      - name: The committed Action dist/ is what this release builds
        run: |
          changed=$(git status --porcelain -- host-examples/github-action)
          test -z "$changed" || { echo "$changed"; exit 1; }
      - name: A second build in another folder gives the same bytes
        run: make check-reproducible
      - uses: actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0
        with:
          name: component
          path: |
            dist/github-app-kms-token.wasm
            dist/SHA256SUMS
          if-no-files-found: error

  publish:
    needs: build
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: write      # the GitHub release and the Action's major tag
      id-token: write      # the provenance attestation and cosign's keyless signature
      attestations: write
      packages: write      # the OCI artifact on GHCR
    steps:
      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1
      - uses: actions/download-artifact@3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c # v8.0.1
        with:
          name: component
          path: dist
      - run: cd dist && sha256sum -c SHA256SUMS
      - uses: actions/attest-build-provenance@a2bbfa25375fe432b6a289bc6b6cd05ecd0c4c32 # v4.1.0
        with:
          subject-path: dist/github-app-kms-token.wasm
      - name: GitHub release
        run: gh release create "$GITHUB_REF_NAME" dist/github-app-kms-token.wasm dist/SHA256SUMS --verify-tag --generate-notes
        env:
          GH_TOKEN: ${{ github.token }}
      - name: GHCR, as a Wasm OCI artifact
        id: oci
        run: |
          ref="ghcr.io/${GITHUB_REPOSITORY,,}:${GITHUB_REF_NAME#v}"
          make --no-print-directory publish OCI_REF="$ref" | tee push.log
          echo "image=${ref%:*}@$(sed -n 's/^digest: //p' push.log)" >> "$GITHUB_OUTPUT"
        env:
          WKG_OCI_USERNAME: ${{ github.actor }}
          WKG_OCI_PASSWORD: ${{ github.token }}
      - uses: sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6 # v4.1.2
      - name: Sign the artifact, keyless
        run: |
          echo "$TOKEN" | cosign login ghcr.io --username "$GITHUB_ACTOR" --password-stdin
          cosign sign --yes "$IMAGE"
        env:
          IMAGE: ${{ steps.oci.outputs.image }}
          TOKEN: ${{ github.token }}
      - name: The Action's major tag (v1 for v1.2.3) follows the release
        if: ${{ !contains(github.ref_name, '-') }}
        run: |
          git tag -f "${GITHUB_REF_NAME%%.*}" "$GITHUB_SHA"
          git push -f origin "refs/tags/${GITHUB_REF_NAME%%.*}"
"##;
