//! `make bench`: measured figures, one run, printed as a table and written to
//! `target/bench/report.md` and `target/bench/report.json`. A benchmark, not
//! a test: it never fails on timing.
//!
//! Now: the token broker under `wasmtime serve` with a bounded local load
//! (requests per second, latency, CPU per request of the serving process).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use standins::client::send;
use standins::process::Served;
use standins::world::World;

/// Requests measured after the warm-up, and connections sending them at once.
const REQUESTS: usize = 200;
const WARM_UP: usize = 20;
const CONCURRENCY: usize = 2;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// CPU time (user + system) of process `pid` so far, from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn serve(world: &World, audience: &str) -> Served {
    let policy = json!({"rules": [{"issuer": world.oidc.issuer(), "claims": {"repository_owner": "octo-org"}, "owner": "octo-org", "permissions": {"contents": "read"}}]});
    let mut env = world.env();
    env.push(("TRUST_POLICY".into(), policy.to_string()));
    env.push(("OIDC_AUDIENCE".into(), audience.into()));
    standins::process::wasmtime_serve(&root().join("dist/github-app-kms-token.wasm"), &env)
}

fn main() {
    let world = World::start("");
    let audience = "bench";
    let broker = serve(&world, audience);
    let bearer = format!("Bearer {}", world.oidc.id_token(audience));
    let request = |authority: &str| {
        let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
        let started = Instant::now();
        let answer = send(authority, "POST", "/token", &headers, b"{}").expect("an answer");
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        started.elapsed()
    };
    for _ in 0..WARM_UP {
        request(&broker.authority);
    }

    let cpu_before = cpu_time(broker.process.0.id());
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                scope.spawn(|| {
                    (0..REQUESTS / CONCURRENCY).map(|_| request(&broker.authority)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect()
    });
    let wall = started.elapsed();
    let cpu = cpu_time(broker.process.0.id()).saturating_sub(cpu_before);
    latencies.sort();

    let n = latencies.len();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let rows = [
        ("requests (after a warm-up of 20)", format!("{n} over {CONCURRENCY} connections")),
        ("requests per second", format!("{:.1}", n as f64 / wall.as_secs_f64())),
        ("latency median", format!("{:.2} ms", ms(percentile(&latencies, 0.5)))),
        ("latency p99", format!("{:.2} ms", ms(percentile(&latencies, 0.99)))),
        ("wasmtime serve CPU per request", format!("{:.2} ms", ms(cpu) / n as f64)),
    ];
    let mut report = String::from(
        "## Token broker under `wasmtime serve` (POST /token, stand-ins on loopback)\n\n| measure | value |\n|---|---|\n",
    );
    for (k, v) in &rows {
        report.push_str(&format!("| {k} | {v} |\n"));
    }
    let json = json!({
        "broker": {
            "requests": n, "concurrency": CONCURRENCY, "wall_s": wall.as_secs_f64(),
            "requests_per_second": n as f64 / wall.as_secs_f64(),
            "latency_median_ms": ms(percentile(&latencies, 0.5)), "latency_p99_ms": ms(percentile(&latencies, 0.99)),
            "serve_cpu_per_request_ms": ms(cpu) / n as f64,
        }
    });
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    std::fs::write(dir.join("report.md"), &report).expect("report.md");
    std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(&json).unwrap())
        .expect("report.json");
    print!("{report}");
    println!(
        "\n(written to target/bench/report.md and report.json; {} tokens minted)",
        world.github.issued().len()
    );
}
