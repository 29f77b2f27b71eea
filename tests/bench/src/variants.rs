//! The ways to mint one token, each a closure that mints one and says how
//! long it took. Every variant gets the same stand-ins, the same settings
//! (installation 1001, known by id) and nothing cached between runs that it
//! could not keep in real use.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use standins::runner::{STATIC_KEYS, command_file};
use standins::world::World;
use wasmtime_host::{Host, Installation, TokenRequest};

use crate::stats::thread_cpu;

/// One token's measurements.
#[derive(Clone, Copy, Default)]
pub struct Sample {
    /// Wall time for the whole token.
    pub wall: Duration,
    /// The floor: curl's own `time_total` of the two requests, summed.
    pub network: Option<Duration>,
    /// Embedded: the instantiation's share of `wall`.
    pub instantiate: Option<Duration>,
    /// Embedded: CPU time of the calling thread during the call (the
    /// component's own work: JWT, SigV4, JSON; not the network, which
    /// other threads serve).
    pub cpu: Option<Duration>,
    /// The Action: the token's share of the process, as it reports it.
    pub inside: Option<Duration>,
}

/// A way to mint a token.
pub struct Variant<'a> {
    /// Short key for the JSON report.
    pub key: &'static str,
    /// What it is, for the table.
    pub name: &'static str,
    pub mint: Box<dyn FnMut() -> Sample + 'a>,
}

/// The settings every variant reads: the world's, and installation 1001.
pub fn settings(world: &World) -> Vec<(String, String)> {
    let mut env = world.env();
    env.push(("INSTALLATION_ID".into(), "1001".into()));
    env
}

/// Runs `command` to mint one token, and checks it printed the token the
/// GitHub stand-in issued last.
fn timed(mut command: Command) -> (Duration, String) {
    let started = Instant::now();
    let output = command.output().expect("the variant's program runs");
    let wall = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let program = command.get_program().to_string_lossy();
    assert!(output.status.success(), "{program} failed: {}", String::from_utf8_lossy(&output.stderr));
    (wall, stdout)
}

fn check_token(world: &World, stdout: &str) {
    let issued = world.github.issued();
    let last = issued.last().expect("a token was issued");
    assert_eq!(stdout.trim(), last.token, "the variant printed the token GitHub issued");
}

/// `wasmtime run` on `file` (a `.wasm`, or a `.cwasm` with `precompiled`).
pub fn wasmtime_run<'a>(
    world: &'a World,
    wasmtime: &'a Path,
    file: PathBuf,
    precompiled: bool,
) -> impl FnMut() -> Sample + 'a {
    let env = settings(world);
    move || {
        let mut command = Command::new(wasmtime);
        command.arg("run").args(precompiled.then_some("--allow-precompiled")).args(["-S", "http"]);
        for (name, value) in &env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        command.arg(&file);
        let (wall, stdout) = timed(command);
        check_token(world, &stdout);
        Sample { wall, ..Sample::default() }
    }
}

/// `wasmtime run` on the `.cwasm` printing its help: the process's fixed
/// cost (start, load, instantiate), with no request made.
pub fn wasmtime_fixed_cost<'a>(wasmtime: &'a Path, cwasm: PathBuf) -> impl FnMut() -> Sample + 'a {
    move || {
        let mut command = Command::new(wasmtime);
        command.args(["run", "--allow-precompiled", "-S", "http"]).arg(&cwasm).arg("help");
        let (wall, stdout) = timed(command);
        assert!(stdout.contains("USAGE"), "the help text");
        Sample { wall, ..Sample::default() }
    }
}

/// A request for a token of `installation`, everything else from the environment.
pub fn token_request(installation: Installation) -> TokenRequest {
    TokenRequest {
        app_id: None,
        key: None,
        kms_key_id: None,
        aws_region: None,
        installation: Some(installation),
        repositories: vec![],
        permissions: vec![],
        github_api_url: None,
        timeout_seconds: None,
    }
}

/// The component embedded: an instance per token, from the `InstancePre`
/// (`pre`) or linked anew.
pub fn embedded<'a>(world: &'a World, host: &'a Host, pre: bool) -> impl FnMut() -> Sample + 'a {
    let env = settings(world);
    let request = token_request(Installation::Id(1001));
    move || {
        let started = Instant::now();
        let mut instance =
            if pre { host.instance(&env) } else { host.instance_relinked(&env) }.expect("instantiates");
        let instantiate = started.elapsed();
        let cpu = thread_cpu();
        let token = instance.get_installation_token(&request).expect("no trap").expect("a token");
        let cpu = thread_cpu().saturating_sub(cpu);
        let wall = started.elapsed();
        check_token(world, &token.token);
        Sample { wall, instantiate: Some(instantiate), cpu: Some(cpu), ..Sample::default() }
    }
}

/// A program run with the settings as environment variables (`node`, `bash`).
pub fn program<'a>(
    world: &'a World,
    program: &'a Path,
    args: Vec<PathBuf>,
    path: Option<PathBuf>,
) -> impl FnMut() -> Sample + 'a {
    let env = settings(world);
    move || {
        let mut command = Command::new(program);
        command.args(&args).envs(env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &path {
            let old = std::env::var_os("PATH").unwrap_or_default();
            let joined =
                std::env::join_paths(std::iter::once(dir.clone()).chain(std::env::split_paths(&old)));
            command.env("PATH", joined.expect("a PATH"));
        }
        let (wall, stdout) = timed(command);
        check_token(world, &stdout);
        Sample { wall, ..Sample::default() }
    }
}

/// The GitHub Action's main step, run as the runner runs it, with static
/// keys: the whole `node` process, and the token inside it (the action's
/// `::debug::` line). Its inputs name an owner (the Action has no
/// installation id input): one more request, a lookup, than the others.
pub fn action<'a>(world: &'a World, node: &'a Path, main: PathBuf) -> impl FnMut() -> Sample + 'a {
    let mut env: Vec<(String, String)> =
        world.env().into_iter().filter(|(k, _)| STATIC_KEYS.contains(&k.as_str())).collect();
    let inputs = [
        ("CLIENT-ID", standins::world::CLIENT_ID.to_owned()),
        ("KMS-KEY-ID", standins::kms::ALIAS.to_owned()),
        ("AWS-REGION", standins::world::REGION.to_owned()),
        ("OWNER", "octo-org".to_owned()),
        ("GITHUB-API-URL", world.github.url()),
        ("AUDIENCE", "sts.amazonaws.com".to_owned()),
        ("SKIP-TOKEN-REVOKE", "true".to_owned()),
    ];
    env.extend(inputs.into_iter().map(|(name, value)| (format!("INPUT_{name}"), value)));
    let output = std::env::temp_dir().join(format!("bench-action-output-{}", std::process::id()));
    env.push(("GITHUB_OUTPUT".into(), output.display().to_string()));
    move || {
        std::fs::write(&output, "").expect("GITHUB_OUTPUT");
        let mut command = Command::new(node);
        command.arg(&main).env_clear().envs(env.iter().cloned());
        let (wall, stdout) = timed(command);
        check_token(world, command_file(&output).get("token").map_or("", String::as_str));
        let inside = stdout.lines().find_map(|l| {
            let ms = l.strip_prefix("::debug::minting took ")?.split(' ').next()?;
            Some(Duration::from_secs_f64(ms.parse::<f64>().ok()? / 1000.0))
        });
        Sample { wall, inside, ..Sample::default() }
    }
}

/// The floor: `floor.sh`'s two curl requests, with a JWT the component made.
pub fn floor<'a>(
    world: &'a World,
    script: PathBuf,
    jwt: String,
    signing_input: String,
) -> impl FnMut() -> Sample + 'a {
    let mut env = settings(world);
    env.push(("JWT".into(), jwt));
    env.push(("SIGNING_INPUT".into(), signing_input));
    move || {
        let mut command = Command::new("bash");
        command.arg(&script).envs(env.iter().map(|(k, v)| (k, v)));
        let (wall, stdout) = timed(command);
        let network =
            stdout.lines().map(|l| Duration::from_secs_f64(l.trim().parse().expect("a time_total"))).sum();
        Sample { wall, network: Some(network), ..Sample::default() }
    }
}
