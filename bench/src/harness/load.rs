//! Driving `peregrine-load`: one run's arguments ([`LoadSpec`], with TechEmpower's
//! request headers), running it to completion, and reading its JSON report
//! ([`LoadResult`]); [`run_load_observed`] also measures the server's CPU and the
//! machine's other load over the measured part.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{duration_arg, machine_busy_seconds, pin_command, process_tree_cpu_seconds};

/// The TechEmpower request headers for a test (`plaintext` or `json`) besides `Host`.
pub fn techempower_headers(json: bool) -> Vec<String> {
    let accept = if json {
        "application/json,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7"
    } else {
        "text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7"
    };
    vec![
        "Host: tfb-server".to_string(),
        format!("Accept: {accept}"),
        "Connection: keep-alive".to_string(),
    ]
}

/// One `peregrine-load` run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    pub url: String,
    pub connections: u32,
    pub threads: u32,
    /// Exactly this many requests (`-n`), else run for `duration`.
    pub requests: Option<u64>,
    pub duration: Duration,
    pub warmup: Option<Duration>,
    pub pipeline: u32,
    /// Open loop (`--rate`): this many requests per second in total, on a fixed
    /// schedule, latency counted from each request's scheduled time.
    pub rate: Option<f64>,
    pub headers: Vec<String>,
    /// The generator's own backend (`--backend`), default auto.
    pub backend: Option<String>,
    /// Pin the generator process to these CPUs.
    pub cpus: Option<Vec<usize>>,
    pub timeout: Duration,
}

impl LoadSpec {
    pub fn new(url: impl Into<String>) -> LoadSpec {
        LoadSpec {
            url: url.into(),
            connections: 16,
            threads: 1,
            requests: None,
            duration: Duration::from_secs(5),
            warmup: None,
            pipeline: 1,
            rate: None,
            headers: Vec::new(),
            backend: None,
            cpus: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// The command-line arguments (without `--json`).
    pub fn args(&self) -> Vec<String> {
        let mut a = vec![
            "-c".to_string(),
            self.connections.to_string(),
            "-t".to_string(),
            self.threads.max(1).to_string(),
        ];
        match self.requests {
            Some(n) => a.extend(["-n".to_string(), n.to_string()]),
            None => a.extend(["-d".to_string(), duration_arg(self.duration)]),
        }
        if let Some(w) = self.warmup.filter(|w| !w.is_zero()) {
            a.extend(["--warmup".to_string(), duration_arg(w)]);
        }
        if self.pipeline > 1 {
            a.extend(["--pipeline".to_string(), self.pipeline.to_string()]);
        }
        if let Some(r) = self.rate {
            a.extend(["--rate".to_string(), format!("{r:.0}")]);
        }
        for h in &self.headers {
            a.extend(["-H".to_string(), h.clone()]);
        }
        if let Some(b) = &self.backend {
            a.extend(["--backend".to_string(), b.clone()]);
        }
        a.extend([
            "--timeout".to_string(),
            duration_arg(self.timeout),
            "--no-progress".to_string(),
            self.url.clone(),
        ]);
        a
    }
}

/// What a `peregrine-load` run measured (from its `--json`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadResult {
    pub requests: u64,
    pub responses: u64,
    pub requests_per_s: f64,
    pub elapsed_s: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub p99_9_us: f64,
    pub max_us: f64,
    pub status_2xx: u64,
    /// Requests that got no answer (connect, read, write, timeout, malformed).
    pub failed_requests: u64,
    /// Of those, the ones not answered within the timeout.
    pub timeouts: u64,
    /// Answers that were not 2xx.
    pub non_2xx: u64,
    pub connections_opened: u64,
    /// The generator's own CPU seconds.
    pub cpu_s: f64,
}

impl LoadResult {
    /// Reads the figures out of `peregrine-load --json` output.
    pub fn from_json(v: &Value) -> Result<LoadResult, String> {
        let u = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("peregrine-load JSON: no integer at {p}"))
        };
        let f = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("peregrine-load JSON: no number at {p}"))
        };
        let status_2xx = u("/status/2xx")?;
        let responses = u("/responses")?;
        Ok(LoadResult {
            requests: u("/requests")?,
            responses,
            requests_per_s: f("/requests_per_s")?,
            elapsed_s: f("/elapsed_s")?,
            p50_us: f("/latency/p50_us").unwrap_or(0.0),
            p99_us: f("/latency/p99_us").unwrap_or(0.0),
            p99_9_us: f("/latency/p99_9_us").unwrap_or(0.0),
            max_us: f("/latency/max_us").unwrap_or(0.0),
            status_2xx,
            failed_requests: u("/errors/failed_requests")?,
            timeouts: u("/errors/timeout").unwrap_or(0),
            non_2xx: responses.saturating_sub(status_2xx),
            connections_opened: u("/connections_opened").unwrap_or(0),
            cpu_s: f("/cpu_s").unwrap_or(0.0),
        })
    }

    /// Requests that failed or were not answered 2xx.
    pub fn errors(&self) -> u64 {
        self.failed_requests + self.non_2xx
    }
}

/// Runs `peregrine-load` to completion, its JSON written to `json_path`; its text report
/// is returned with the figures. Fails when it exits non-zero.
pub fn run_load(
    load_bin: &Path,
    spec: &LoadSpec,
    json_path: &Path,
) -> Result<(LoadResult, String), String> {
    let out = load_command(load_bin, spec, json_path)?
        .output()
        .map_err(|e| format!("cannot run {}: {e}", load_bin.display()))?;
    let (result, _, text) = load_outcome(spec, json_path, out)?;
    Ok((result, text))
}

/// A `peregrine-load` run with what the rest of the machine did meanwhile.
#[derive(Debug, Clone)]
pub struct Observed {
    pub load: LoadResult,
    /// Its whole `--json` report.
    pub json: Value,
    /// Its text report.
    pub text: String,
    /// The server's CPU time (its process tree) per response, over the measured part.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU used by other processes of the machine during the measured part, in cores
    /// (a shared machine's noise: a run measured with much of it is suspect).
    pub foreign_cores: Option<f64>,
}

/// As [`run_load`], watching the server `server_pid` and the machine over the measured
/// part of the run (after the spec's `--warmup`, which the generator's own CPU figure
/// also leaves out).
pub fn run_load_observed(
    load_bin: &Path,
    spec: &LoadSpec,
    json_path: &Path,
    server_pid: u32,
) -> Result<Observed, String> {
    let mut child = load_command(load_bin, spec, json_path)?
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", load_bin.display()))?;
    // Its report is printed at the end only (--no-progress), well within a pipe's buffer.
    let warmup = spec.warmup.unwrap_or_default();
    let deadline = Instant::now() + warmup;
    while Instant::now() < deadline && child.try_wait().ok().flatten().is_none() {
        thread::sleep(
            Duration::from_millis(10).min(deadline.saturating_duration_since(Instant::now())),
        );
    }
    let cpu_before = process_tree_cpu_seconds(server_pid);
    let busy_before = machine_busy_seconds();
    let started = Instant::now();
    let out = child
        .wait_with_output()
        .map_err(|e| format!("cannot run {}: {e}", load_bin.display()))?;
    let wall = started.elapsed().as_secs_f64();
    let busy_after = machine_busy_seconds();
    let cpu_after = process_tree_cpu_seconds(server_pid);
    let (load, json, text) = load_outcome(spec, json_path, out)?;
    let mut observed = Observed {
        load,
        json,
        text,
        server_cpu_us_per_request: None,
        foreign_cores: None,
    };
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        let load = &observed.load;
        if load.responses > 0 {
            observed.server_cpu_us_per_request = Some((b - a) * 1e6 / load.responses as f64);
        }
        if let (Some(x), Some(y)) = (busy_before, busy_after) {
            let ours = (b - a) + load.cpu_s;
            observed.foreign_cores = Some(((y - x - ours) / wall.max(1e-3)).max(0.0));
        }
    }
    Ok(observed)
}

/// The `peregrine-load` command of `spec`, writing its JSON to `json_path` (removed
/// first), pinned as the spec says.
fn load_command(load_bin: &Path, spec: &LoadSpec, json_path: &Path) -> Result<Command, String> {
    let mut cmd = Command::new(load_bin);
    cmd.args(spec.args())
        .arg("--json")
        .arg(json_path)
        .stdin(Stdio::null());
    if let Some(cpus) = &spec.cpus {
        pin_command(&mut cmd, cpus)?;
    }
    let _ = fs::remove_file(json_path);
    Ok(cmd)
}

/// The figures, the JSON and the text of a finished `peregrine-load`.
fn load_outcome(
    spec: &LoadSpec,
    json_path: &Path,
    out: std::process::Output,
) -> Result<(LoadResult, Value, String), String> {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "peregrine-load {} failed ({}):\n{}{}",
            spec.args().join(" "),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = fs::read_to_string(json_path)
        .map_err(|e| format!("peregrine-load wrote no {}: {e}", json_path.display()))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("peregrine-load JSON {}: {e}", json_path.display()))?;
    Ok((LoadResult::from_json(&v)?, v, stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_args() {
        let mut spec = LoadSpec::new("http://127.0.0.1:1/plaintext");
        spec.requests = Some(100);
        spec.pipeline = 16;
        spec.headers = techempower_headers(false);
        let a = spec.args();
        assert!(a.windows(2).any(|w| w == ["-n", "100"]));
        assert!(a.windows(2).any(|w| w == ["--pipeline", "16"]));
        assert!(a.windows(2).any(|w| w == ["-H", "Connection: keep-alive"]));
        assert_eq!(
            a.last().map(String::as_str),
            Some("http://127.0.0.1:1/plaintext")
        );
        spec.requests = None;
        spec.warmup = Some(Duration::from_secs(1));
        let a = spec.args();
        assert!(a.windows(2).any(|w| w == ["-d", "5000ms"]));
        assert!(a.windows(2).any(|w| w == ["--warmup", "1000ms"]));
        assert!(!a.iter().any(|a| a == "--rate"));
        spec.rate = Some(41_999.6);
        assert!(spec.args().windows(2).any(|w| w == ["--rate", "42000"]));
    }

    #[test]
    fn load_json() {
        let v: Value = serde_json::json!({
            "requests": 10, "responses": 9, "requests_per_s": 100.0, "elapsed_s": 0.1,
            "latency": {"p50_us": 5.0, "p99_us": 9.0, "p99_9_us": 9.5, "max_us": 10.0},
            "status": {"2xx": 8}, "errors": {"failed_requests": 1, "timeout": 1},
            "connections_opened": 2, "cpu_s": 0.01
        });
        let r = LoadResult::from_json(&v).unwrap();
        assert_eq!(
            (r.requests, r.responses, r.non_2xx, r.errors()),
            (10, 9, 1, 2)
        );
        assert_eq!((r.p99_9_us, r.timeouts), (9.5, 1));
        let err = LoadResult::from_json(&serde_json::json!({})).unwrap_err();
        assert!(err.contains("/status/2xx"), "{err}");
    }
}
