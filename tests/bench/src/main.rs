//! `make bench`: measured figures, one run, printed as a table and written to
//! `target/bench/report.md` and `target/bench/report.json`. A benchmark, not
//! a test: it never fails on timing; a missed budget is printed plainly.
//!
//! Every variant mints installation tokens from the same local stand-ins of
//! KMS and GitHub on loopback (the KMS stand-in verifies SigV4 and signs with
//! RSA; GitHub's verifies the JWT), after a warm-up:
//!
//! 1. the component through `wasmtime run` on the `.wasm` file;
//! 2. the same on a `.cwasm` precompiled by `wasmtime compile`;
//! 3. the component embedded in the Rust host example, an instance per token,
//!    linked anew or from an `InstancePre`;
//! 4. Node.js with `@aws-sdk/client-kms` and `fetch` (`node/mint.mjs`);
//! 5. `aws kms sign` (awscli) and curl (`shell/mint.sh`);
//! 6. the floor: the two requests alone, with curl (`shell/floor.sh`);
//! 7. the GitHub Action's main step, as the runner runs it.
//!
//! Node runs as GitHub runs actions: Node 24 (from `tools/`).
//!
//! Also measured: `wasmtime run` of the `.cwasm` printing its help (2′: the
//! process's fixed cost, no request), the component's size, compile and
//! instantiate times, CPU per token, requests per token for each kind of
//! target, one token per key store side by side (`BENCH_ONLY=stores` alone),
//! and the broker under `wasmtime serve` with a bounded load.

mod load;
mod scale;
mod stats;
mod stores;
mod variants;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use standins::world::World;
use wasmtime_host::{AppJwtRequest, Host, Installation, RepositoryRef};

use stats::{Summary, ms};
use variants::{Sample, Variant};

/// Runs per variant after the warm-up (`BENCH_RUNS` to change; `BENCH_ONLY=broker`
/// measures the broker cold and warm alone).
const RUNS: usize = 30;
const WARM_UP: usize = 3;

/// The budgets of issue 6 (and the Action's, of issue 10).
const SIZE_BUDGET: u64 = 512 * 1024;
const CPU_BUDGET: Duration = Duration::from_millis(1);
const NODE_RATIO_BUDGET: f64 = 20.0;
const FLOOR_RATIO_BUDGET: f64 = 1.5;
const SHARE_BUDGET: Duration = Duration::from_millis(2);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() {
    let root = root();
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    // `BENCH_ONLY=broker`: the broker cold and warm alone, printed, no report.
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "broker") {
        print!("{}", scale::markdown(&scale::run(&root)));
        return;
    }
    let wasm = root.join("dist/github-app-kms-token.wasm");
    let wasmtime = standins::tool("wasmtime", Some("WASMTIME"), "tools");
    let runs = std::env::var("BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(RUNS);
    let world = World::start("");
    // `BENCH_ONLY=stores`: one token per key store, printed, no report.
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only == "stores") {
        let host = Host::new(&wasm, vec!["127.0.0.1".into()], Arc::new(|_| {})).expect("the component loads");
        print!("{}", stores::markdown(&stores::run(&world, &host, runs, WARM_UP), runs));
        return;
    }

    // The file, compiled by the CLI and by the embedding.
    let size = std::fs::metadata(&wasm).expect("run `make build` first").len();
    let gzipped = gzip_size(&wasm);
    let cwasm = out.join("github-app-kms-token.cwasm");
    let started = Instant::now();
    let status = Command::new(&wasmtime).arg("compile").arg(&wasm).arg("-o").arg(&cwasm).status();
    assert!(status.expect("wasmtime compile runs").success());
    let cli_compile = started.elapsed();
    let started = Instant::now();
    let host = Host::new(&wasm, vec!["127.0.0.1".into()], Arc::new(|_| {})).expect("the component loads");
    let embedded_compile = started.elapsed();

    let requests = requests_per_token(&world, &host);
    let (jwt, signing_input) = app_jwt(&world, &host);

    let bench = root.join("tests/bench");
    let aws_bin = root.join("target/bench-venv/bin");
    let node = standins::runner::node();
    let action = root.join("host-examples/github-action/dist/main.mjs");
    let mut variants = [
        Variant {
            key: "wasmtime_run_wasm",
            name: "1. `wasmtime run` the `.wasm`",
            mint: Box::new(variants::wasmtime_run(&world, &wasmtime, wasm.clone(), false)),
        },
        Variant {
            key: "wasmtime_run_cwasm",
            name: "2. `wasmtime run` the precompiled `.cwasm`",
            mint: Box::new(variants::wasmtime_run(&world, &wasmtime, cwasm.clone(), true)),
        },
        Variant {
            key: "wasmtime_run_cwasm_help",
            name: "2′. `wasmtime run` the `.cwasm` `help`: no request, the process's fixed cost",
            mint: Box::new(variants::wasmtime_fixed_cost(&wasmtime, cwasm.clone())),
        },
        Variant {
            key: "embedded_linked",
            name: "3a. embedded, an instance per token, linked anew",
            mint: Box::new(variants::embedded(&world, &host, false)),
        },
        Variant {
            key: "embedded_instance_pre",
            name: "3b. embedded, an instance per token from an `InstancePre`",
            mint: Box::new(variants::embedded(&world, &host, true)),
        },
        Variant {
            key: "node_aws_sdk",
            name: "4. Node.js: `@aws-sdk/client-kms` + `fetch`",
            mint: Box::new(variants::program(&world, &node, vec![bench.join("node/mint.mjs")], None)),
        },
        Variant {
            key: "shell_awscli_curl",
            name: "5. shell: `aws kms sign` + curl",
            mint: Box::new(variants::program(
                &world,
                Path::new("bash"),
                vec![bench.join("shell/mint.sh")],
                Some(aws_bin),
            )),
        },
        Variant {
            key: "floor_curl",
            name: "6. floor: the two requests with curl (whole script)",
            mint: Box::new(variants::floor(&world, bench.join("shell/floor.sh"), jwt, signing_input)),
        },
        Variant {
            key: "action",
            name: "7. the Action: `node dist/main.mjs`, the whole process (owner lookup: one more request)",
            mint: Box::new(variants::action(&world, &node, action)),
        },
    ];
    // Round-robin: each round runs every variant once, so that a noisy
    // moment on a shared machine falls on all of them alike.
    for variant in variants.iter_mut() {
        eprintln!("warming up {} ...", variant.name);
        for _ in 0..WARM_UP {
            (variant.mint)();
        }
    }
    let mut samples = vec![Vec::with_capacity(runs); variants.len()];
    for round in 0..runs {
        eprintln!("round {} of {runs}", round + 1);
        for (variant, samples) in variants.iter_mut().zip(&mut samples) {
            samples.push((variant.mint)());
        }
    }
    let measured: Vec<(&Variant, Vec<Sample>)> = variants.iter().zip(samples).collect();
    eprintln!("measuring each key store ...");
    let stores = stores::run(&world, &host, runs, WARM_UP);
    eprintln!("measuring the broker under load ...");
    let load = load::run(&world, &wasm);
    eprintln!("measuring the broker cold and warm (the Spin build, Redis) ...");
    let scale = scale::run(&root);

    let report = Report {
        size,
        gzipped,
        cli_compile,
        embedded_compile,
        requests,
        measured,
        stores,
        load,
        scale,
        runs,
    };
    let (markdown, json) = (report.markdown(), report.json());
    std::fs::write(out.join("report.md"), &markdown).expect("report.md");
    std::fs::write(out.join("report.json"), serde_json::to_string_pretty(&json).unwrap())
        .expect("report.json");
    print!("{markdown}");
    println!("\n(written to target/bench/report.md and report.json)");
}

fn gzip_size(file: &Path) -> u64 {
    let output = Command::new("gzip").args(["-9", "-c"]).arg(file).output().expect("gzip runs");
    output.stdout.len() as u64
}

/// HTTP requests per token for each kind of target, counted at the stand-ins.
fn requests_per_token(world: &World, host: &Host) -> Vec<(&'static str, usize)> {
    let count = || world.kms.server().requests() + world.github.server().requests();
    let targets = [
        ("installation id", Installation::Id(1001)),
        ("owner", Installation::Owner("octo-org".into())),
        (
            "repository",
            Installation::Repository(RepositoryRef { owner: "octo-org".into(), name: "widgets".into() }),
        ),
    ];
    targets
        .into_iter()
        .map(|(kind, installation)| {
            let before = count();
            let request = variants::token_request(installation);
            let mut instance = host.instance(&world.env()).expect("instantiates");
            instance.get_installation_token(&request).expect("no trap").expect("a token");
            (kind, count() - before)
        })
        .collect()
}

/// A JWT the component made, and its signing input: the floor's requests.
fn app_jwt(world: &World, host: &Host) -> (String, String) {
    let mut instance = host.instance(&world.env()).expect("instantiates");
    let request =
        AppJwtRequest { app_id: None, key: None, kms_key_id: None, aws_region: None, timeout_seconds: None };
    let jwt = instance.create_app_jwt(&request).expect("no trap").expect("a JWT").jwt;
    let input = jwt.rsplit_once('.').expect("a JWT").0.to_owned();
    (jwt, input)
}

struct Report<'a> {
    size: u64,
    gzipped: u64,
    cli_compile: Duration,
    embedded_compile: Duration,
    requests: Vec<(&'static str, usize)>,
    measured: Vec<(&'a Variant<'a>, Vec<Sample>)>,
    stores: Vec<stores::Row>,
    load: load::Load,
    scale: Vec<scale::Mode>,
    runs: usize,
}

impl Report<'_> {
    fn wall(&self, key: &str) -> Summary {
        Summary::of(&self.samples(key).iter().map(|s| s.wall).collect::<Vec<_>>())
    }

    fn samples(&self, key: &str) -> &[Sample] {
        &self.measured.iter().find(|(v, _)| v.key == key).expect("a variant").1
    }

    fn part(&self, key: &str, part: fn(&Sample) -> Option<Duration>) -> Summary {
        Summary::of(&self.samples(key).iter().filter_map(part).collect::<Vec<_>>())
    }

    /// The figures the budgets compare.
    fn budgets(&self) -> Vec<(String, String, bool)> {
        let reference = self.wall("wasmtime_run_cwasm").median;
        let node = self.wall("node_aws_sdk").median;
        let network = self.part("floor_curl", |s| s.network).median;
        let cpu = self.part("embedded_instance_pre", |s| s.cpu).median;
        let action = self.wall("action").median;
        let share = self.wall("embedded_instance_pre").median.as_secs_f64() - network.as_secs_f64();
        vec![
            (
                format!("component size ≤ {} bytes (512 KiB)", SIZE_BUDGET),
                format!("{} bytes", self.size),
                self.size <= SIZE_BUDGET,
            ),
            (
                "component CPU per token < 1 ms (3b, calling thread, median)".into(),
                format!("{:.3} ms", ms(cpu)),
                cpu < CPU_BUDGET,
            ),
            (
                "variant 2 ≥ 20× faster than variant 4 (medians)".into(),
                format!("{:.1}×", node.as_secs_f64() / reference.as_secs_f64()),
                node.as_secs_f64() / reference.as_secs_f64() >= NODE_RATIO_BUDGET,
            ),
            (
                "variant 2 within 1.5× of the floor's network time (curl `time_total`, medians)".into(),
                format!(
                    "{:.2} ms vs {:.2} ms: {:.1}×",
                    ms(reference),
                    ms(network),
                    reference.as_secs_f64() / network.as_secs_f64()
                ),
                reference.as_secs_f64() <= FLOOR_RATIO_BUDGET * network.as_secs_f64(),
            ),
            (
                "variant 3b's share (total − the two round trips) < 2 ms".into(),
                format!("{:.2} ms", share * 1000.0),
                share < SHARE_BUDGET.as_secs_f64(),
            ),
            (
                "variant 7 (the Action's whole process) faster than variant 4 (Node.js SDK), medians".into(),
                format!("{:.1} ms vs {:.1} ms", ms(action), ms(node)),
                action < node,
            ),
        ]
        .into_iter()
        .chain(self.scale_budgets())
        .collect()
    }

    /// The broker's, warm against cold (issue 21).
    fn scale_budgets(&self) -> Vec<(String, String, bool)> {
        let [cold, warm, ..] = self.scale.as_slice() else { return Vec::new() };
        let rate =
            |m: &scale::Mode, c: usize| m.per_second.iter().find(|(n, _)| *n == c).map_or(0.0, |(_, r)| *r);
        let ratios: Vec<f64> = [8, 32].map(|c| rate(warm, c) / rate(cold, c)).to_vec();
        vec![
            (
                "broker: warm throughput ≥ 3× cold (8 and 32 callers)".into(),
                format!("{:.1}× and {:.1}×", ratios[0], ratios[1]),
                ratios.iter().all(|r| *r >= 3.0),
            ),
            (
                "broker: host CPU per warm request < 1 ms".into(),
                format!("{:.2} ms", ms(warm.cpu_per_request)),
                warm.cpu_per_request < CPU_BUDGET,
            ),
        ]
    }

    fn markdown(&self) -> String {
        let reference = self.wall("wasmtime_run_cwasm").median;
        let mut md = format!(
            "## Per token ({} rounds, each variant once per round, after {WARM_UP} warm-up runs; installation known by id)\n\n\
             | variant | median | p95 | min | median ÷ variant 2's |\n|---|---|---|---|---|\n",
            self.runs
        );
        for (variant, _) in &self.measured {
            let s = self.wall(variant.key);
            md.push_str(&format!(
                "| {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |\n",
                variant.name,
                ms(s.median),
                ms(s.p95),
                ms(s.min),
                s.median.as_secs_f64() / reference.as_secs_f64()
            ));
        }
        for (name, part) in [
            (
                "6. floor: the two requests, curl's own `time_total` summed",
                self.part("floor_curl", |s| s.network),
            ),
            (
                "7. the Action: the token inside the process, as it reports it",
                self.part("action", |s| s.inside),
            ),
        ] {
            md.push_str(&format!(
                "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} |\n",
                ms(part.median),
                ms(part.p95),
                ms(part.min),
                part.median.as_secs_f64() / reference.as_secs_f64()
            ));
        }

        let instantiate_pre = self.part("embedded_instance_pre", |s| s.instantiate);
        let instantiate_linked = self.part("embedded_linked", |s| s.instantiate);
        let cpu = self.part("embedded_instance_pre", |s| s.cpu);
        md.push_str("\n## The component\n\n| measure | value |\n|---|---|\n");
        let rows = [
            (
                "size of `dist/github-app-kms-token.wasm`".to_owned(),
                format!("{} bytes ({} gzipped)", self.size, self.gzipped),
            ),
            ("compile: `wasmtime compile`".into(), format!("{:.0} ms", ms(self.cli_compile))),
            (
                "compile: embedded (`Component::from_file` and linking)".into(),
                format!("{:.0} ms", ms(self.embedded_compile)),
            ),
            (
                "instantiate from an `InstancePre` (median)".into(),
                format!("{:.3} ms", ms(instantiate_pre.median)),
            ),
            ("instantiate, linked anew (median)".into(), format!("{:.3} ms", ms(instantiate_linked.median))),
            (
                "CPU per token, network excluded (3b, calling thread: median, min)".into(),
                format!("{:.3} ms, {:.3} ms", ms(cpu.median), ms(cpu.min)),
            ),
        ];
        for (k, v) in rows {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        for (kind, n) in &self.requests {
            md.push_str(&format!("| HTTP requests per token, target by {kind} | {n} |\n"));
        }

        md.push_str(&format!(
            "\n## Token broker under `wasmtime serve` ({} requests over {} kept-open connections after {}, a Rust load generator)\n\n\
             | measure | value |\n|---|---|\n| requests per second | {:.1} |\n| latency median | {:.2} ms |\n\
             | latency p99 | {:.2} ms |\n| `wasmtime serve` CPU per request | {:.2} ms |\n",
            self.load.requests,
            load::CONCURRENCY,
            load::WARM_UP,
            self.load.per_second,
            ms(self.load.median),
            ms(self.load.p99),
            ms(self.load.cpu_per_request)
        ));

        md.push_str(&stores::markdown(&self.stores, self.runs));
        md.push_str(&scale::markdown(&self.scale));

        md.push_str("\n## Budgets\n\n| budget | measured | |\n|---|---|---|\n");
        for (budget, measured, met) in self.budgets() {
            md.push_str(&format!("| {budget} | {measured} | {} |\n", if met { "met" } else { "**MISSED**" }));
        }
        md.push_str(&format!("\nMachine: {}.\n", machine()));
        md
    }

    fn json(&self) -> Value {
        let variants: serde_json::Map<String, Value> = self
            .measured
            .iter()
            .map(|(variant, _)| {
                (
                    variant.key.to_owned(),
                    json!({ "name": variant.name, "wall": self.wall(variant.key).json() }),
                )
            })
            .collect();
        json!({
            "machine": machine(),
            "variants": variants,
            "floor_network": self.part("floor_curl", |s| s.network).json(),
            "action_token_inside": self.part("action", |s| s.inside).json(),
            "component": {
                "size_bytes": self.size,
                "gzipped_bytes": self.gzipped,
                "cli_compile_ms": ms(self.cli_compile),
                "embedded_compile_ms": ms(self.embedded_compile),
                "instantiate_instance_pre": self.part("embedded_instance_pre", |s| s.instantiate).json(),
                "instantiate_linked": self.part("embedded_linked", |s| s.instantiate).json(),
                "cpu_per_token": self.part("embedded_instance_pre", |s| s.cpu).json(),
                "requests_per_token": self.requests.iter().map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            },
            "key_stores": stores::json(&self.stores),
            "broker": self.load.json(),
            "broker_cold_and_warm": self.scale.iter().map(scale::Mode::json).collect::<Vec<_>>(),
            "budgets": self.budgets().into_iter().map(|(budget, measured, met)| json!({ "budget": budget, "measured": measured, "met": met })).collect::<Vec<_>>(),
        })
    }
}

/// The CPU model and count, from `/proc/cpuinfo`.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} × {model}, Linux")
}
