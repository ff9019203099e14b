//! Summaries of timing samples and small helpers for reports.

use std::time::Duration;

/// Percentiles of a sample set, in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub n: usize,
    pub min: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// The nearest-rank percentile `p` (0–100) of sorted `v`.
fn rank(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[idx.clamp(1, v.len()) - 1]
}

/// Summarises `samples`.
pub fn summarize(samples: &[Duration]) -> Summary {
    let mut v: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return Summary::default();
    }
    Summary {
        n: v.len(),
        min: v[0],
        p50: rank(&v, 50.0),
        p95: rank(&v, 95.0),
        p99: rank(&v, 99.0),
        max: v[v.len() - 1],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    }
}

impl Summary {
    /// The summary as JSON (milliseconds).
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n, "min_ms": r3(self.min), "p50_ms": r3(self.p50), "p95_ms": r3(self.p95),
            "p99_ms": r3(self.p99), "max_ms": r3(self.max), "mean_ms": r3(self.mean),
        })
    }
}

/// Rounds to 3 decimals (for JSON).
pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Formats milliseconds for a table: 3 significant-ish digits.
pub fn ms(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else if x < 10.0 {
        format!("{x:.3}")
    } else if x < 1000.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    }
}

/// A small deterministic PRNG (xorshift64*), so load runs are reproducible without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Reads a field (in kB) of `/proc/self/status`, e.g. `VmRSS` or `VmHWM`; 0 if unavailable.
pub fn proc_status_kb(field: &str) -> u64 {
    status_kb("self", field)
}

/// As [`proc_status_kb`], summed over the processes `pids` (a host in child processes).
pub fn pids_status_kb(pids: &[u32], field: &str) -> u64 {
    pids.iter().map(|p| status_kb(&p.to_string(), field)).sum()
}

/// Resets the peak RSS (`VmHWM`) of the processes `pids`.
pub fn reset_pids_peak_rss(pids: &[u32]) -> bool {
    pids.iter()
        .all(|p| std::fs::write(format!("/proc/{p}/clear_refs"), "5").is_ok())
}

fn status_kb(pid: &str, field: &str) -> u64 {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Resets the peak RSS (`VmHWM`) of this process (Linux: `5` to `/proc/self/clear_refs`).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
