//! The broker as platform teams run it, cold and warm: the Spin build in the
//! Spin test host (`tests/spin-host`, a fresh instance per request as Spin
//! runs it), its key-value store on a local Redis, against the fast local
//! stand-ins.
//!
//! - cold: no cache key, so nothing is kept between requests: every request
//!   fetches the issuer's keys, signs at KMS, looks the installation up and
//!   mints;
//! - warm: a cache key, after one request: the keys, the App JWT and the
//!   installation id come from the store, and a request mints once;
//! - warm with tokens cached: a request makes no upstream call at all.
//!
//! For each: requests per second at 8 and 32 concurrent callers, the host's
//! CPU per request, upstream calls per request (counted at the stand-ins),
//! and KMS signatures per minute at a steady 100 requests per second.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use standins::client::{Connection, send};
use standins::process::{Redis, Served};
use standins::world::World;

use crate::stats::{ms, process_cpu};

/// Requests per concurrency level, after the warm-up.
pub const REQUESTS: usize = 320;
/// Seconds of the steady 100 requests per second.
pub const STEADY_SECS: u64 = 10;
const CONCURRENCY: [usize; 2] = [8, 32];
const AUDIENCE: &str = "bench";

/// One mode's figures.
pub struct Mode {
    pub name: &'static str,
    /// Requests per second at each of [`CONCURRENCY`].
    pub per_second: Vec<(usize, f64)>,
    pub cpu_per_request: Duration,
    pub upstream_per_request: f64,
    pub signatures_per_minute: f64,
}

impl Mode {
    pub fn json(&self) -> Value {
        json!({
            "name": self.name,
            "requests_per_second": self.per_second.iter().map(|(c, r)| (c.to_string(), json!(r))).collect::<serde_json::Map<_, _>>(),
            "host_cpu_per_request_ms": ms(self.cpu_per_request),
            "upstream_calls_per_request": self.upstream_per_request,
            "kms_signatures_per_minute_at_100_rps": self.signatures_per_minute,
        })
    }
}

/// The Spin test host serving the Spin build with `extra` variables.
fn host(root: &Path, world: &World, redis: &str, extra: &[(&str, &str)]) -> Served {
    let spin_host = standins::tool("spin-host", Some("SPIN_HOST"), "bench");
    let policy = world.trust_policy();
    let mut settings = world.env();
    settings.extend(
        [("TRUST_POLICY", policy.to_string().as_str()), ("OIDC_AUDIENCE", AUDIENCE)]
            .iter()
            .chain(extra)
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let mut command = Command::new(spin_host);
    command
        .arg("--manifest")
        .arg(root.join("spin.toml"))
        .arg("--wasm")
        .arg(root.join("dist/github-app-kms-token-spin.wasm"))
        .args(["--redis", redis])
        .env_clear()
        .envs(settings.into_iter().map(|(k, v)| (format!("SPIN_VARIABLE_{k}"), v)));
    standins::process::serve(command)
}

fn upstream(world: &World) -> usize {
    world.oidc.server().requests() + world.kms.server().requests() + world.github.server().requests()
}

/// Measures one mode: `extra` variables, warmed up with `warm_up` requests.
fn measure(root: &Path, world: &World, name: &'static str, extra: &[(&str, &str)]) -> Mode {
    let redis = Redis::start();
    let host = host(root, world, &redis.url, extra);
    let bearer = format!("Bearer {}", world.oidc.id_token(AUDIENCE));
    let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
    let check = |answer: standins::client::Answer| {
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
    };
    // Each caller on a kept-open connection, as behind a load balancer.
    let caller = |requests: usize| {
        let mut connection = Connection::open(&host.authority).expect("the host takes connections");
        for _ in 0..requests {
            check(connection.send("POST", "/token", &headers, b"{}").expect("an answer"));
        }
    };
    caller(3);
    let pid = host.process.0.id();
    let mut per_second = Vec::new();
    let (mut cpu, mut calls, mut count) = (Duration::ZERO, 0, 0);
    for callers in CONCURRENCY {
        let (cpu_before, calls_before) = (process_cpu(pid), upstream(world));
        let started = Instant::now();
        std::thread::scope(|scope| {
            for _ in 0..callers {
                scope.spawn(|| caller(REQUESTS / callers));
            }
        });
        let wall = started.elapsed();
        let n = REQUESTS / callers * callers;
        per_second.push((callers, n as f64 / wall.as_secs_f64()));
        cpu += process_cpu(pid).saturating_sub(cpu_before);
        calls += upstream(world) - calls_before;
        count += n;
    }
    // A steady 100 requests per second, paced from one thread per request slot.
    let signatures_before = world.kms.signatures();
    let started = Instant::now();
    let total = STEADY_SECS * 100;
    std::thread::scope(|scope| {
        for i in 0..total {
            let due = started + Duration::from_millis(i * 10);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            scope.spawn(|| {
                check(send(&host.authority, "POST", "/token", &headers, b"{}").expect("an answer"))
            });
        }
    });
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let signatures_per_minute = (world.kms.signatures() - signatures_before) as f64 / minutes;
    Mode {
        name,
        per_second,
        cpu_per_request: cpu / count as u32,
        upstream_per_request: calls as f64 / count as f64,
        signatures_per_minute,
    }
}

/// Cold, warm, and warm with tokens cached, on fresh stand-ins each.
pub fn run(root: &Path) -> Vec<Mode> {
    let cache_key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    [
        ("cold (no cache key: nothing kept)", vec![]),
        ("warm (cache key: keys, App JWT and installation id kept)", vec![("CACHE_KEY", cache_key)]),
        ("warm, tokens cached too", vec![("CACHE_KEY", cache_key), ("CACHE_TOKENS", "true")]),
    ]
    .into_iter()
    .map(|(name, extra)| measure(root, &World::start(""), name, &extra))
    .collect()
}

/// The figures as a Markdown section, warm against cold.
pub fn markdown(modes: &[Mode]) -> String {
    let mut md = format!(
        "\n## The broker cold and warm (the Spin build in the Spin test host, Redis key-value, {REQUESTS} requests per concurrency, each caller on a kept-open connection, a Rust load generator)\n\n\
         | mode | requests/s, 8 callers | requests/s, 32 callers | host CPU per request | upstream calls per request | KMS signatures per minute at 100 requests/s |\n|---|---|---|---|---|---|\n"
    );
    for m in modes {
        let rate = |c: usize| m.per_second.iter().find(|(n, _)| *n == c).map_or(0.0, |(_, r)| *r);
        md.push_str(&format!(
            "| {} | {:.1} | {:.1} | {:.2} ms | {:.2} | {:.1} |\n",
            m.name,
            rate(8),
            rate(32),
            ms(m.cpu_per_request),
            m.upstream_per_request,
            m.signatures_per_minute
        ));
    }
    if let [cold, warm, ..] = modes {
        let ratio = |c: usize| {
            let at = |m: &Mode| m.per_second.iter().find(|(n, _)| *n == c).map_or(0.0, |(_, r)| *r);
            at(warm) / at(cold)
        };
        md.push_str(&format!(
            "\nWarm against cold: {:.1}× at 8 callers, {:.1}× at 32.\n",
            ratio(8),
            ratio(32)
        ));
    }
    md
}
