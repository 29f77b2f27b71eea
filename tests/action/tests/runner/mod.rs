//! The runner's side of the Action, shared by the test binaries: `node` on
//! the files `action.yml` names, inputs as `INPUT_<NAME>` variables with the
//! defaults `action.yml` declares, outputs and saved state in the
//! `GITHUB_OUTPUT` and `GITHUB_STATE` files, state handed to post as
//! `STATE_<name>`; against the stand-ins (KMS, STS, the runner's OIDC
//! endpoint, GitHub).
//!
//! Node: see [`standins::runner::node`].

// Each test binary (`action.rs`, `parity.rs`) uses part of this.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use standins::runner::{STATIC_KEYS, command_file, node};
use standins::world::{CLIENT_ID, ROLE_ARN, World};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn action_dir() -> PathBuf {
    root().join("host-examples/github-action")
}

pub fn action_yml() -> serde_yaml::Value {
    let text = std::fs::read_to_string(action_dir().join("action.yml")).unwrap();
    serde_yaml::from_str(&text).expect("action.yml is YAML")
}

/// What a step did.
#[derive(Debug)]
pub struct Step {
    pub code: i32,
    /// stdout, where workflow commands go.
    pub stdout: String,
    pub stderr: String,
    pub outputs: BTreeMap<String, String>,
    pub state: BTreeMap<String, String>,
}

impl Step {
    pub fn ok(self) -> Step {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.stdout, self.stderr);
        self
    }

    /// The `::error::` lines.
    pub fn errors(&self) -> Vec<&str> {
        self.stdout.lines().filter_map(|l| l.strip_prefix("::error::")).collect()
    }
}

/// A job: its environment, the inputs of the `uses:` step, and the state
/// main saved for post.
pub struct Job<'a> {
    pub world: &'a World,
    pub env: Vec<(String, String)>,
    pub inputs: Vec<(String, String)>,
    pub state: BTreeMap<String, String>,
    /// Where the action is checked out (`dist/` and `action.yml`).
    pub action: PathBuf,
}

impl<'a> Job<'a> {
    /// A job with static AWS keys in its environment (as after
    /// aws-actions/configure-aws-credentials) and the inputs a workflow
    /// would give for installation `octo-org`.
    pub fn new(world: &'a World) -> Job<'a> {
        Job::of(world, world.env(), &STATIC_KEYS)
    }

    /// The same job, keyless: the runner's OIDC token for `role-to-assume`.
    pub fn keyless(world: &'a World) -> Job<'a> {
        let keep = [
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL_KMS",
        ];
        Job::of(world, world.keyless_env(), &keep).with("role-to-assume", ROLE_ARN)
    }

    /// A job with the variables of `env` named in `keep`, the workflow's own,
    /// and the inputs for installation `octo-org`.
    pub fn of(world: &'a World, env: Vec<(String, String)>, keep: &[&str]) -> Job<'a> {
        let mut env: Vec<(String, String)> =
            env.into_iter().filter(|(k, _)| keep.contains(&k.as_str())).collect();
        env.extend([
            ("GITHUB_REPOSITORY".into(), "octo-org/widgets".into()),
            ("GITHUB_REPOSITORY_OWNER".into(), "octo-org".into()),
            ("GITHUB_RUN_ID".into(), "4242".into()),
            ("GITHUB_RUN_ATTEMPT".into(), "1".into()),
        ]);
        let job = Job { world, env, inputs: Vec::new(), state: BTreeMap::new(), action: action_dir() };
        job.with("client-id", CLIENT_ID)
            .with("kms-key-id", standins::kms::ALIAS)
            .with("aws-region", standins::world::REGION)
            .with("github-api-url", &world.github.url())
    }

    pub fn with(mut self, input: &str, value: &str) -> Job<'a> {
        self.inputs.retain(|(k, _)| k != input);
        self.inputs.push((input.into(), value.into()));
        self
    }

    pub fn without(mut self, input: &str) -> Job<'a> {
        self.inputs.retain(|(k, _)| k != input);
        self
    }

    /// Runs the `main` or `post` file of `action.yml` as the runner does.
    pub fn run(&self, entry: &str) -> Step {
        let yml = action_yml();
        let work = standins::temp_dir("gakt-action");
        let (output, state) = (work.join("output"), work.join("state"));
        std::fs::write(&output, "").unwrap();
        std::fs::write(&state, "").unwrap();
        let mut command = Command::new(node());
        command.arg(self.action.join(yml["runs"][entry].as_str().unwrap())).env_clear();
        // What Node needs on any OS (and NODE_OPTIONS, to profile it), and
        // nothing else of this process's environment.
        for name in ["PATH", "SYSTEMROOT", "TEMP", "TMP", "HOME", "USERPROFILE", "NODE_OPTIONS"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        // The runner's files; a job's own environment may point them elsewhere.
        command
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STATE", &state)
            .env("GITHUB_ENV", work.join("env"))
            .env("RUNNER_TEMP", &work);
        command.envs(self.env.iter().cloned());
        // Every input: the step's value, else action.yml's default, as the runner evaluates it.
        for (name, spec) in yml["inputs"].as_mapping().unwrap() {
            let name = name.as_str().unwrap();
            let default = spec["default"].as_str().unwrap_or_default();
            let default = default.replace("${{ github.api_url }}", &self.world.github.url());
            let value = self.inputs.iter().find(|(k, _)| k == name).map_or(default, |(_, v)| v.clone());
            command.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        for (name, value) in &self.state {
            command.env(format!("STATE_{name}"), value);
        }
        let run = command.output().expect("node runs");
        Step {
            code: run.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&run.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&run.stderr).into_owned(),
            outputs: command_file(&output),
            state: command_file(&state),
        }
    }

    /// Main, then post with the state main saved.
    pub fn main_then_post(&mut self) -> (Step, Step) {
        let main = self.run("main").ok();
        self.state = main.state.clone();
        let post = self.run("post");
        (main, post)
    }
}

/// Every token appears in the log only on its own `::add-mask::` line (the
/// runner hides it from then on); no other secret
/// appears at all, not even a 16-character piece of one.
pub fn assert_masked_first(step: &Step, tokens: &[&str]) {
    let lines: Vec<&str> = step.stdout.lines().collect();
    for token in tokens {
        let with_token: Vec<usize> =
            (0..lines.len()).filter(|&i| standins::leaked(token, lines[i]).is_some()).collect();
        assert_eq!(with_token.len(), 1, "the token on one line only: {:?}", step.stdout);
        assert_eq!(lines[with_token[0]], format!("::add-mask::{token}"));
        assert_eq!(standins::leaked(token, &step.stderr), None);
    }
    let log = format!("{}{}", step.stdout, step.stderr);
    let masks: Vec<String> = tokens.iter().map(|t| format!("::add-mask::{t}")).collect();
    let unmasked = masks.iter().fold(log, |log, line| log.replace(line, ""));
    for secret in standins::remembered() {
        assert_eq!(standins::leaked(&secret, &unmasked), None, "a secret reached the log: {unmasked}");
    }
}
