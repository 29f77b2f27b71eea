//! Summaries of repeated measurements, and the CPU clocks Linux keeps.

use std::time::Duration;

/// Median, p95 and minimum of a set of runs.
#[derive(Clone, Copy, Debug)]
pub struct Summary {
    pub runs: usize,
    pub median: Duration,
    pub p95: Duration,
    pub min: Duration,
}

impl Summary {
    /// Summarises `samples` (at least one).
    pub fn of(samples: &[Duration]) -> Summary {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let at = |p| percentile(&sorted, p);
        Summary { runs: sorted.len(), median: at(0.5), p95: at(0.95), min: sorted[0] }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "runs": self.runs, "median_ms": ms(self.median), "p95_ms": ms(self.p95), "min_ms": ms(self.min),
        })
    }
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU time the calling thread has used so far (nanosecond precision, from
/// `/proc/thread-self/schedstat`).
pub fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

/// CPU time (user + system) process `pid` has used so far, from `/proc`
/// (10 ms ticks).
pub fn process_cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10) // USER_HZ is 100 on Linux
}
