//! The token broker under `wasmtime serve`, with a bounded local load: a
//! fixed number of requests over a fixed number of kept-open connections,
//! from this process (a small Rust load generator).

use std::time::{Duration, Instant};

use serde_json::json;
use standins::client::Connection;
use standins::world::World;

use crate::stats::{ms, percentile, process_cpu};

/// Requests measured after the warm-up, and connections sending them at once.
pub const REQUESTS: usize = 200;
pub const WARM_UP: usize = 20;
pub const CONCURRENCY: usize = 2;

/// What the load measured.
pub struct Load {
    pub requests: usize,
    pub per_second: f64,
    pub median: Duration,
    pub p99: Duration,
    pub cpu_per_request: Duration,
}

impl Load {
    pub fn json(&self) -> serde_json::Value {
        json!({
            "requests": self.requests, "concurrency": CONCURRENCY, "requests_per_second": self.per_second,
            "latency_median_ms": ms(self.median), "latency_p99_ms": ms(self.p99),
            "serve_cpu_per_request_ms": ms(self.cpu_per_request),
        })
    }
}

pub fn run(world: &World, wasm: &std::path::Path) -> Load {
    let audience = "bench";
    let policy = world.trust_policy();
    let mut env = world.env();
    env.push(("TRUST_POLICY".into(), policy.to_string()));
    env.push(("OIDC_AUDIENCE".into(), audience.into()));
    let broker = standins::process::wasmtime_serve(wasm, &env);
    let bearer = format!("Bearer {}", world.oidc.id_token(audience));
    let request = |connection: &mut Connection| {
        let headers = [("content-type", "application/json"), ("authorization", bearer.as_str())];
        let started = Instant::now();
        let answer = connection.send("POST", "/token", &headers, b"{}").expect("an answer");
        assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.body));
        started.elapsed()
    };
    let connect = || Connection::open(&broker.authority).expect("the broker takes connections");
    let mut warm_up = connect();
    for _ in 0..WARM_UP {
        request(&mut warm_up);
    }
    let pid = broker.process.0.id();
    let cpu_before = process_cpu(pid);
    let started = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                scope.spawn(|| {
                    let mut connection = connect();
                    (0..REQUESTS / CONCURRENCY).map(|_| request(&mut connection)).collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a worker")).collect()
    });
    let wall = started.elapsed();
    let cpu = process_cpu(pid).saturating_sub(cpu_before);
    latencies.sort();
    let n = latencies.len();
    Load {
        requests: n,
        per_second: n as f64 / wall.as_secs_f64(),
        median: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        cpu_per_request: cpu / n as u32,
    }
}
