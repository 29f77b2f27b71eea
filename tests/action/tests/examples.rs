//! The examples' IAM policies, and the Terraform workflow that uses them.
//!
//! Whoever can assume a role that may sign with an App's KMS key holds that
//! App: the Action's `permission-*` inputs narrow a request, they do not
//! bound it. So the boundary the examples promise is each role's trust
//! policy, and this checks every one under `host-examples/` (every
//! `iam/*-trust-policy.json`):
//!
//! - each statement that allows anything allows `sts:AssumeRoleWithWebIdentity`
//!   from GitHub's OIDC provider, and requires `aud` = `sts.amazonaws.com`;
//! - each `sub` value (`StringEquals` or `StringLike`, read as AWS does: `*`
//!   any run of characters, `?` one) admits none of the subjects a role must
//!   not admit (pull requests, other branches, other repositories), admits
//!   one subject only, and that subject names the example's repository
//!   exactly and an environment, `refs/heads/main` or a tag; a role whose
//!   file name says `read-only` may be trusted from `pull_request` too;
//! - the role's permission policy (`iam/NAME-kms-policy.json` beside
//!   `iam/NAME-trust-policy.json`) allows `kms:Sign` on named keys only, and
//!   no read-only role may sign with a key a role that can write signs with.
//!
//! And `host-examples/terraform/workflow.yml`: the job that assumes a role
//! that can write runs only on pushes to `main`, in the environment that
//! role trusts; the pull-request job assumes the read-only role and asks
//! for `read` only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// The repository every example's workflow runs in (the Terraform example's
/// workflow manages `acme/widgets` from there).
const REPOSITORY: &str = "acme/infra";
const PROVIDER: &str = "token.actions.githubusercontent.com";
const AUDIENCE: &str = "sts.amazonaws.com";
/// The Action as the examples name it.
const ACTION: &str = "OWNER/github-app-kms-token/host-examples/github-action@";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn examples() -> PathBuf {
    root().join("host-examples")
}

// ---------------------------------------------------------------------------
// Matching a subject as AWS does

/// AWS `StringLike`: `*` matches any run of characters (none included,
/// `:` and `/` included), `?` exactly one; everything else itself.
fn glob_admits(pattern: &str, subject: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), subject.chars().collect());
    let (mut i, mut j) = (0, 0);
    // The last `*` seen, and where in the subject its run would end next.
    let mut star: Option<(usize, usize)> = None;
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || (p[i] != '*' && p[i] == s[j])) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((at, end)) = star {
            // Let the last `*` take one more character.
            star = Some((at, end + 1));
            i = at + 1;
            j = end + 1;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// The two condition operators a `sub` or `aud` value may sit under.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Operator {
    /// `StringEquals`: the value itself, `*` and `?` included.
    Equals,
    /// `StringLike`: a glob.
    Like,
}

impl Operator {
    fn admits(self, pattern: &str, subject: &str) -> bool {
        match self {
            Operator::Equals => pattern == subject,
            Operator::Like => glob_admits(pattern, subject),
        }
    }
}

/// What a role may do, as its policy file's name declares it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    /// Its App can write: trusted from protected contexts only.
    Write,
    /// Its App has read permissions only (`read-only` in the file name):
    /// pull requests may assume it too.
    ReadOnly,
}

/// Subjects of GitHub's OIDC tokens that a role of `role` for a workflow in
/// `repository` must not admit.
fn forbidden_subjects(repository: &str, role: Role) -> Vec<String> {
    let (owner, name) = repository.split_once('/').expect("OWNER/REPO");
    let mut subjects = vec![
        format!("repo:{repository}:ref:refs/heads/feature"),
        format!("repo:{repository}:ref:refs/heads/main-next"),
        format!("repo:{repository}:ref:refs/heads/mainline"),
        format!("repo:{repository}:ref:refs/pull/1/merge"),
        format!("repo:{repository}:environment:production-preview"),
        format!("repo:{repository}-fork:environment:production"),
        format!("repo:{owner}/other:ref:refs/heads/main"),
        format!("repo:{owner}/other:environment:production"),
        format!("repo:{owner}/other:pull_request"),
        format!("repo:other/{name}:ref:refs/heads/main"),
        format!("repo:other/{name}:environment:production"),
        format!("repo:other/{name}:pull_request"),
    ];
    if role == Role::Write {
        subjects.push(format!("repo:{repository}:pull_request"));
    }
    subjects
}

/// Checks one `sub` value of a trust policy for a role of `role` whose
/// workflow runs in `repository`; `Ok` when it admits exactly one subject,
/// of a context that role may be assumed from.
fn check_subject(operator: Operator, pattern: &str, repository: &str, role: Role) -> Result<(), String> {
    // What it admits that it must not.
    for subject in forbidden_subjects(repository, role) {
        if operator.admits(pattern, &subject) {
            return Err(format!("sub `{pattern}` admits `{subject}`"));
        }
    }
    // One subject only: a wildcard admits many (the two shown, at least).
    if pattern.contains(['*', '?']) {
        if operator == Operator::Equals {
            return Err(format!(
                "sub `{pattern}`: `*` and `?` are literal under StringEquals; name one subject"
            ));
        }
        let one: String =
            pattern.chars().filter(|&c| c != '*').map(|c| if c == '?' { 'a' } else { c }).collect();
        let other: String = pattern.replace('*', "x").replace('?', "b");
        assert!(glob_admits(pattern, &one) && glob_admits(pattern, &other) && one != other);
        return Err(format!("sub `{pattern}` is a wildcard: it admits `{one}` and `{other}`, and more"));
    }
    // The one subject: this repository, and a protected context.
    let Some(context) = pattern.strip_prefix(&format!("repo:{repository}:")) else {
        return Err(format!(
            "sub `{pattern}` does not name the repository the workflow runs in, {repository}"
        ));
    };
    let protected = match context.split_once(':') {
        Some(("environment", name)) => !name.is_empty(),
        Some(("ref", reference)) => {
            reference == "refs/heads/main"
                || reference.strip_prefix("refs/tags/").is_some_and(|t| !t.is_empty())
        }
        _ => context == "pull_request" && role == Role::ReadOnly,
    };
    if protected {
        Ok(())
    } else {
        Err(format!(
            "sub `{pattern}` is not an environment, refs/heads/main or a tag{}",
            if role == Role::ReadOnly { ", or pull_request" } else { "" }
        ))
    }
}

// ---------------------------------------------------------------------------
// Reading policies

/// A value or a list of them, as IAM writes either.
fn one_or_many(value: &Value) -> Result<Vec<&Value>, String> {
    match value {
        Value::Array(values) if !values.is_empty() => Ok(values.iter().collect()),
        Value::Array(_) => Err("an empty list".into()),
        value => Ok(vec![value]),
    }
}

fn strings(value: &Value) -> Result<Vec<&str>, String> {
    one_or_many(value)?.into_iter().map(|v| v.as_str().ok_or(format!("{v} is not a string"))).collect()
}

/// The statements of a policy that allow something; none may use a `Not*`
/// element. (A `Deny` only takes away.)
fn allowing(policy: &Value) -> Result<Vec<&serde_json::Map<String, Value>>, String> {
    let statements = one_or_many(policy.get("Statement").ok_or("no Statement")?)?;
    let mut allowing = Vec::new();
    for statement in statements {
        let statement = statement.as_object().ok_or("a statement is not an object")?;
        if let Some(element) =
            ["NotAction", "NotPrincipal", "NotResource"].iter().find(|k| statement.contains_key(**k))
        {
            return Err(format!("a statement uses {element}"));
        }
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Allow") => allowing.push(statement),
            Some("Deny") => {}
            other => return Err(format!("a statement's Effect is {other:?}")),
        }
    }
    if allowing.is_empty() {
        return Err("no statement allows anything".into());
    }
    Ok(allowing)
}

/// Checks a role's trust policy and returns the subjects it admits (each
/// exactly one, by [`check_subject`]).
fn check_trust_policy(policy: &Value, repository: &str, role: Role) -> Result<Vec<String>, String> {
    let aud_key = format!("{PROVIDER}:aud");
    let sub_key = format!("{PROVIDER}:sub");
    let mut subjects = Vec::new();
    for statement in allowing(policy)? {
        // From GitHub's provider, and nobody else.
        let principal = statement.get("Principal").and_then(Value::as_object).ok_or("no Principal object")?;
        if principal.keys().any(|k| k != "Federated") {
            return Err(format!("Principal names more than GitHub's provider: {principal:?}"));
        }
        for federated in strings(principal.get("Federated").ok_or("no Principal.Federated")?)? {
            if !(federated.starts_with("arn:aws:iam::")
                && federated.ends_with(&format!(":oidc-provider/{PROVIDER}"))
                && !federated.contains(['*', '?']))
            {
                return Err(format!("Principal.Federated `{federated}` is not GitHub's OIDC provider"));
            }
        }
        let actions = strings(statement.get("Action").ok_or("no Action")?)?;
        let actions: BTreeSet<String> = actions.iter().map(|a| a.to_ascii_lowercase()).collect();
        if !actions.contains("sts:assumerolewithwebidentity")
            || actions.iter().any(|a| a != "sts:assumerolewithwebidentity" && a != "sts:tagsession")
        {
            return Err(format!(
                "Action must be sts:AssumeRoleWithWebIdentity (and sts:TagSession): {actions:?}"
            ));
        }
        // aud and sub, under StringEquals or StringLike only (an
        // `...IfExists` or a `ForAnyValue:` could admit a token without them).
        let conditions = statement.get("Condition").and_then(Value::as_object).ok_or("no Condition")?;
        let (mut auds, mut subs) = (Vec::new(), Vec::new());
        for (operator_name, block) in conditions {
            let block = block.as_object().ok_or(format!("Condition {operator_name} is not an object"))?;
            for (key, values) in block {
                let key = key.to_ascii_lowercase();
                if key != aud_key && key != sub_key {
                    continue;
                }
                let operator = match operator_name.as_str() {
                    "StringEquals" => Operator::Equals,
                    "StringLike" => Operator::Like,
                    other => return Err(format!("{key} is under {other}; only StringEquals or StringLike")),
                };
                for value in strings(values)? {
                    (if key == aud_key { &mut auds } else { &mut subs }).push((operator, value));
                }
            }
        }
        if auds.is_empty() || auds.iter().any(|&(_, aud)| aud != AUDIENCE) {
            return Err(format!("aud must be required to be {AUDIENCE}: {auds:?}"));
        }
        if subs.is_empty() {
            return Err("no sub condition: any workflow on GitHub could assume the role".into());
        }
        for (operator, sub) in subs {
            check_subject(operator, sub, repository, role)?;
            subjects.push(sub.to_owned());
        }
    }
    Ok(subjects)
}

/// The keys a role's permission policy lets it sign with: `kms:Sign` on
/// named keys, nothing else.
fn check_kms_policy(policy: &Value) -> Result<BTreeSet<String>, String> {
    let mut keys = BTreeSet::new();
    for statement in allowing(policy)? {
        let actions = strings(statement.get("Action").ok_or("no Action")?)?;
        if actions.iter().any(|a| !a.eq_ignore_ascii_case("kms:Sign")) {
            return Err(format!("allows more than kms:Sign: {actions:?}"));
        }
        for key in strings(statement.get("Resource").ok_or("no Resource")?)? {
            if !key.starts_with("arn:aws:kms:") || key.contains(['*', '?']) {
                return Err(format!("Resource `{key}` is not one named key"));
            }
            keys.insert(key.to_owned());
        }
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------
// The examples' files

/// One role of an example: `iam/NAME-trust-policy.json` and
/// `iam/NAME-kms-policy.json`.
#[derive(Debug)]
struct RoleFiles {
    name: String,
    /// The `iam/` folder it is in.
    folder: PathBuf,
    role: Role,
    subjects: Vec<String>,
    keys: BTreeSet<String>,
}

/// Every `iam/*trust*.json` under `dir`, leaving out what is installed or built.
fn trust_policy_files(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !(name.starts_with('.') || ["node_modules", "dist", "target"].contains(&name.as_str())) {
                trust_policy_files(&path, found);
            }
        } else if dir.file_name().is_some_and(|d| d == "iam")
            && name.contains("trust")
            && name.ends_with(".json")
        {
            found.push(path);
        }
    }
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every example role, each checked; panics naming the file at fault.
fn example_roles() -> Vec<RoleFiles> {
    let mut files = Vec::new();
    trust_policy_files(&examples(), &mut files);
    assert!(!files.is_empty(), "no iam/*trust*.json under {}", examples().display());
    files
        .into_iter()
        .map(|path| {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            let name = file
                .strip_suffix("-trust-policy.json")
                .unwrap_or_else(|| panic!("{}: name it ROLE-trust-policy.json", path.display()))
                .to_owned();
            let role = if name.contains("read-only") { Role::ReadOnly } else { Role::Write };
            let subjects = check_trust_policy(&read_json(&path), REPOSITORY, role)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let folder = path.parent().unwrap().to_owned();
            let kms = folder.join(format!("{name}-kms-policy.json"));
            assert!(kms.is_file(), "{}: no {} beside it", path.display(), kms.display());
            let keys =
                check_kms_policy(&read_json(&kms)).unwrap_or_else(|e| panic!("{}: {e}", kms.display()));
            RoleFiles { name, folder, role, subjects, keys }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The Terraform workflow

fn terraform_workflow() -> serde_yaml::Value {
    let path = examples().join("terraform/workflow.yml");
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).expect("workflow.yml is YAML")
}

/// The text of `value[key]`, if it is a string.
fn text<'a>(value: &'a serde_yaml::Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(serde_yaml::Value::as_str)
}

/// Checks that each job that uses the Action assumes a role of `roles`
/// fit for when it runs: a role that can write only in a job that runs on
/// pushes to `main` in an environment the role trusts; the job on pull
/// requests a read-only role, asking for `read` only, with another key.
fn check_workflow(workflow: &serde_yaml::Value, roles: &BTreeMap<&str, &RoleFiles>) -> Result<(), String> {
    const ON_PUSH_TO_MAIN: &str = "github.event_name == 'push' && github.ref == 'refs/heads/main'";
    const ON_PULL_REQUEST: &str = "github.event_name == 'pull_request'";
    let on = workflow.get("on").ok_or("no `on`")?;
    let branches = on.get("push").and_then(|p| p.get("branches")).and_then(serde_yaml::Value::as_sequence);
    if branches.is_none_or(|b| b.len() != 1 || b[0].as_str() != Some("main")) {
        return Err("`on.push.branches` must be [main]".into());
    }
    let jobs = workflow.get("jobs").and_then(serde_yaml::Value::as_mapping).ok_or("no jobs")?;
    let (mut write_keys, mut read_keys) = (BTreeSet::new(), BTreeSet::new());
    let (mut writes, mut pull_request_reads) = (0, 0);
    for (id, job) in jobs {
        let id = id.as_str().unwrap_or("?");
        let steps =
            job.get("steps").and_then(serde_yaml::Value::as_sequence).ok_or(format!("job {id}: no steps"))?;
        for with in steps.iter().filter(|s| text(s, "uses").is_some_and(|u| u.starts_with(ACTION))) {
            let with = with.get("with").ok_or(format!("job {id}: the Action has no `with`"))?;
            let arn = text(with, "role-to-assume").ok_or(format!("job {id}: no role-to-assume"))?;
            let name =
                arn.rsplit_once(":role/").map(|(_, n)| n).ok_or(format!("job {id}: `{arn}` is no role"))?;
            let role = roles
                .get(name)
                .ok_or(format!("job {id}: role {name} has no iam/{name}-trust-policy.json"))?;
            let key = text(with, "kms-key-id").ok_or(format!("job {id}: no kms-key-id"))?;
            let condition = text(job, "if");
            let environment = match job.get("environment") {
                Some(e) => {
                    Some(e.as_str().or_else(|| text(e, "name")).ok_or(format!("job {id}: environment?"))?)
                }
                None => None,
            };
            match role.role {
                Role::Write => {
                    if condition != Some(ON_PUSH_TO_MAIN) {
                        return Err(format!(
                            "job {id} assumes {name}, which can write, with `if: {condition:?}`"
                        ));
                    }
                    let Some(environment) = environment else {
                        return Err(format!("job {id} assumes {name}, which can write, in no environment"));
                    };
                    let subject = format!("repo:{REPOSITORY}:environment:{environment}");
                    if role.subjects.iter().any(|s| *s != subject) {
                        return Err(format!(
                            "role {name} trusts {:?}; job {id} has only {subject}",
                            role.subjects
                        ));
                    }
                    writes += 1;
                    write_keys.insert(key);
                }
                Role::ReadOnly => {
                    if condition == Some(ON_PULL_REQUEST) {
                        if environment.is_some() {
                            return Err(format!("job {id} runs on pull requests in an environment"));
                        }
                        if !role.subjects.contains(&format!("repo:{REPOSITORY}:pull_request")) {
                            return Err(format!(
                                "role {name} is not trusted from pull requests of {REPOSITORY}"
                            ));
                        }
                        pull_request_reads += 1;
                    }
                    let inputs = with.as_mapping().into_iter().flatten();
                    for (input, level) in
                        inputs.filter(|(k, _)| k.as_str().is_some_and(|k| k.starts_with("permission-")))
                    {
                        if level.as_str() != Some("read") {
                            return Err(format!("job {id} asks the read-only App for {input:?}: {level:?}"));
                        }
                    }
                    read_keys.insert(key);
                }
            }
        }
        // A job on pull requests never reaches a role that can write.
        let runs_on_pull_requests = text(job, "if").is_none_or(|c| c.contains("pull_request"));
        if runs_on_pull_requests
            && steps.iter().any(|s| text(s, "uses").is_some_and(|u| u.starts_with(ACTION)))
        {
            let uses_write =
                steps.iter().filter_map(|s| s.get("with")).filter_map(|w| text(w, "role-to-assume")).any(
                    |arn| {
                        arn.rsplit_once(":role/")
                            .is_some_and(|(_, n)| roles.get(n).is_some_and(|r| r.role == Role::Write))
                    },
                );
            if uses_write {
                return Err(format!("job {id} can run on pull requests and assumes a role that can write"));
            }
        }
    }
    if writes == 0 || pull_request_reads == 0 {
        return Err(format!(
            "expected a write job and a pull-request read job: {writes} and {pull_request_reads}"
        ));
    }
    if !write_keys.is_disjoint(&read_keys) {
        return Err(format!(
            "the read-only and read-write jobs share a key: {:?}",
            write_keys.intersection(&read_keys)
        ));
    }
    Ok(())
}

/// The Terraform example's roles, by name.
fn terraform_roles(roles: &[RoleFiles]) -> BTreeMap<&str, &RoleFiles> {
    let folder = examples().join("terraform/iam");
    roles.iter().filter(|r| r.folder == folder).map(|r| (r.name.as_str(), r)).collect()
}

// ---------------------------------------------------------------------------
// The tests

#[test]
fn every_example_trust_policy_admits_only_protected_contexts() {
    let roles = example_roles();
    for folder in ["github-action/iam", "terraform/iam"] {
        assert!(roles.iter().any(|r| r.folder == examples().join(folder)), "no trust policy in {folder}");
    }
    // No read-only role can sign with a key that a role that can write
    // signs with, in the same example.
    for read in roles.iter().filter(|r| r.role == Role::ReadOnly) {
        for write in roles.iter().filter(|r| r.role == Role::Write && r.folder == read.folder) {
            let shared: Vec<_> = read.keys.intersection(&write.keys).collect();
            assert!(
                shared.is_empty(),
                "read-only role {} may sign with {shared:?}, as {} may",
                read.name,
                write.name
            );
        }
    }
}

#[test]
fn the_terraform_workflow_writes_only_on_main_in_production() {
    let roles = example_roles();
    let roles = terraform_roles(&roles);
    assert!(
        roles.values().any(|r| r.role == Role::ReadOnly) && roles.values().any(|r| r.role == Role::Write)
    );
    check_workflow(&terraform_workflow(), &roles).unwrap();
    let text = std::fs::read_to_string(examples().join("terraform/workflow.yml")).unwrap();
    assert!(text.contains(&format!("in {REPOSITORY}:")), "workflow.yml should say it runs in {REPOSITORY}");
}

#[test]
fn a_workflow_that_lets_pull_requests_write_is_refused() {
    let roles = example_roles();
    let roles = terraform_roles(&roles);
    let mutate = |change: &dyn Fn(&mut serde_yaml::Value)| {
        let mut workflow = terraform_workflow();
        change(&mut workflow);
        check_workflow(&workflow, &roles).expect_err("a broken workflow passed")
    };
    let role = |job: &str, arn: &str| {
        let (job, arn) = (job.to_owned(), arn.to_owned());
        move |w: &mut serde_yaml::Value| {
            let steps = w["jobs"][job.as_str()]["steps"].as_sequence_mut().unwrap();
            for step in steps.iter_mut().filter(|s| text(s, "uses").is_some_and(|u| u.starts_with(ACTION))) {
                step["with"]["role-to-assume"] = arn.clone().into();
            }
        }
    };
    let write_arn = "arn:aws:iam::111122223333:role/terraform-apply";
    let error = mutate(&role("plan", write_arn));
    assert!(error.contains("job plan assumes terraform-apply"), "{error}");
    let error = mutate(&|w| {
        w["jobs"]["apply"].as_mapping_mut().unwrap().remove("environment");
    });
    assert!(error.contains("in no environment"), "{error}");
    let error = mutate(&|w| {
        w["jobs"]["apply"].as_mapping_mut().unwrap().remove("if");
    });
    assert!(error.contains("which can write"), "{error}");
    let error = mutate(&|w| w["jobs"]["apply"]["environment"] = "staging".into());
    assert!(error.contains("has only repo:acme/infra:environment:staging"), "{error}");
    let error = mutate(&|w| {
        let steps = w["jobs"]["plan"]["steps"].as_sequence_mut().unwrap();
        for step in steps.iter_mut().filter(|s| text(s, "uses").is_some_and(|u| u.starts_with(ACTION))) {
            step["with"]["permission-administration"] = "write".into();
        }
    });
    assert!(error.contains("asks the read-only App"), "{error}");
    // The workflow this example used to be: one job, one role, for both.
    let old: serde_yaml::Value = serde_yaml::from_str(
        "on: {push: {branches: [main]}, pull_request: {}}\n\
         jobs:\n  terraform:\n    runs-on: ubuntu-latest\n    steps:\n\
         \x20     - uses: OWNER/github-app-kms-token/host-examples/github-action@v1\n\
         \x20       with:\n\
         \x20         kms-key-id: arn:aws:kms:eu-west-1:111122223333:alias/github-app\n\
         \x20         role-to-assume: arn:aws:iam::111122223333:role/terraform-apply\n\
         \x20         permission-administration: \"${{ github.event_name == 'push' && 'write' || 'read' }}\"\n",
    )
    .unwrap();
    let error = check_workflow(&old, &roles).unwrap_err();
    assert!(error.contains("job terraform assumes terraform-apply, which can write"), "{error}");
}

/// The trust policy the Action's README documented before: any workflow
/// of `acme`, pull requests included, could assume the signing role.
#[test]
fn the_old_documented_policy_is_refused() {
    let old = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                "StringLike": {"token.actions.githubusercontent.com:sub": "repo:acme/*"}
            }
        }]
    });
    let error = check_trust_policy(&old, REPOSITORY, Role::Write).unwrap_err();
    assert!(error.contains("admits `repo:acme/infra:ref:refs/heads/feature`"), "{error}");
    // Not even for a read-only App: it admits every repository of acme.
    let error = check_trust_policy(&old, REPOSITORY, Role::ReadOnly).unwrap_err();
    assert!(error.contains("sub `repo:acme/*` admits"), "{error}");
}

#[test]
fn sub_patterns_that_admit_pull_requests_or_any_branch_are_refused() {
    use Operator::{Equals, Like};
    use Role::{ReadOnly, Write};
    let refused = [
        (Like, "repo:acme/*", Write),
        (Like, "repo:acme/infra:*", Write),
        (Like, "repo:acme/infra:*", ReadOnly),
        (Like, "repo:acme/infra:ref:refs/heads/*", Write),
        (Like, "repo:acme/infra:ref:refs/heads/ma?n", Write),
        (Like, "repo:acme/infra:ref:*", Write),
        (Like, "repo:acme/infra:environment:*", Write),
        (Like, "repo:acme/infra:environment:prod*", Write),
        (Like, "repo:acme/infra:environment:production?", Write),
        (Like, "repo:acme/*:environment:production", Write),
        (Like, "repo:acme/infra*:environment:production", Write),
        (Like, "repo:*:environment:production", Write),
        (Like, "repo:acme/*:pull_request", ReadOnly),
        (Like, "*", Write),
        (Like, "repo:acme/infra:ref:refs/tags/*", Write),
        (Like, "repo:acme/infra:pull_request", Write),
        (Equals, "repo:acme/infra:pull_request", Write),
        (Equals, "repo:acme/infra:ref:refs/heads/feature", Write),
        (Equals, "repo:acme/infra:ref:refs/heads/*", Write),
        (Equals, "repo:acme/infra:ref:refs/pull/7/merge", ReadOnly),
        (Equals, "repo:acme/widgets:environment:production", Write),
        (Equals, "repo:acme/infra:environment:", Write),
        (Equals, "repo:acme/infra", Write),
    ];
    for (operator, pattern, role) in refused {
        assert!(
            check_subject(operator, pattern, REPOSITORY, role).is_err(),
            "{operator:?} {pattern} {role:?} passed"
        );
    }
    let accepted = [
        (Equals, "repo:acme/infra:environment:production", Write),
        (Like, "repo:acme/infra:environment:production", Write),
        (Equals, "repo:acme/infra:ref:refs/heads/main", Write),
        (Equals, "repo:acme/infra:ref:refs/tags/v1.2.3", Write),
        (Equals, "repo:acme/infra:pull_request", ReadOnly),
        (Like, "repo:acme/infra:pull_request", ReadOnly),
        (Equals, "repo:acme/infra:environment:production", ReadOnly),
    ];
    for (operator, pattern, role) in accepted {
        check_subject(operator, pattern, REPOSITORY, role)
            .unwrap_or_else(|e| panic!("{operator:?} {pattern} {role:?} refused: {e}"));
    }
}

#[test]
fn trust_policies_without_aud_or_with_loose_operators_are_refused() {
    let policy = |condition: Value| {
        json!({"Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": condition
        }]})
    };
    let sub = "repo:acme/infra:environment:production";
    let good = policy(json!({"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": sub}}));
    assert_eq!(check_trust_policy(&good, REPOSITORY, Role::Write).unwrap(), [sub]);
    let refused = [
        (policy(json!({"StringEquals": {"token.actions.githubusercontent.com:sub": sub}})), "aud must be"),
        (
            policy(json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "https://example.com",
                                           "token.actions.githubusercontent.com:sub": sub}})),
            "aud must be",
        ),
        (
            policy(json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}})),
            "no sub condition",
        ),
        (
            policy(json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                          "StringLikeIfExists": {"token.actions.githubusercontent.com:sub": sub}})),
            "only StringEquals or StringLike",
        ),
        (
            policy(json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                          "ForAnyValue:StringLike": {"token.actions.githubusercontent.com:sub": sub}})),
            "only StringEquals or StringLike",
        ),
        (
            policy(json!({"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
                          "StringLike": {"token.actions.githubusercontent.com:sub": [sub, "repo:acme/infra:*"]}})),
            "admits",
        ),
        (
            json!({"Statement": [good["Statement"][0].clone(),
                                 {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}),
            "Principal names more",
        ),
    ];
    for (policy, why) in refused {
        let error = check_trust_policy(&policy, REPOSITORY, Role::Write).unwrap_err();
        assert!(error.contains(why), "{error} (expected: {why})");
    }
}

#[test]
fn the_matcher_reads_patterns_as_aws_string_like() {
    assert!(glob_admits("repo:acme/*", "repo:acme/infra:pull_request"));
    assert!(glob_admits("repo:acme/infra:*", "repo:acme/infra:ref:refs/heads/feature"));
    assert!(glob_admits("a*c", "ac") && glob_admits("a*c", "abbc") && glob_admits("a*b*c", "aXbYbZc"));
    assert!(glob_admits("a?c", "abc") && !glob_admits("a?c", "ac") && !glob_admits("a?c", "abbc"));
    assert!(glob_admits("*", "") && glob_admits("**", "x") && !glob_admits("", "x"));
    assert!(!glob_admits("repo:acme/infra:ref:refs/heads/main", "repo:acme/infra:ref:refs/heads/main2"));
    assert!(!glob_admits("*main", "main-next") && glob_admits("*main*", "main-next"));
}
