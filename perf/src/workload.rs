//! The fixed workloads `instructions`, `syscalls` and the gate measure: N requests over M
//! keep-alive connections with the TechEmpower request headers, after a warm-up of a few
//! requests per connection, for each test (plaintext, json, plaintext pipelined), plus
//! the server under test — `peregrine` with one worker, optionally wrapped (valgrind).

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use peregrine_bench::harness::{self, Binaries, LoadResult, LoadSpec, Process};
use serde::{Deserialize, Serialize};

/// One kind of request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Test {
    Plaintext,
    Json,
    PlaintextPipelined,
}

impl Test {
    pub const ALL: [Test; 3] = [Test::Plaintext, Test::Json, Test::PlaintextPipelined];

    pub fn name(self) -> &'static str {
        match self {
            Test::Plaintext => "plaintext",
            Test::Json => "json",
            Test::PlaintextPipelined => "plaintext-pipelined",
        }
    }

    pub fn parse(s: &str) -> Result<Test, String> {
        Test::ALL
            .into_iter()
            .find(|t| t.name() == s.trim())
            .ok_or_else(|| format!("unknown test `{s}` (plaintext, json or plaintext-pipelined)"))
    }

    pub fn path(self) -> &'static str {
        match self {
            Test::Json => "/json",
            Test::Plaintext | Test::PlaintextPipelined => "/plaintext",
        }
    }

    /// Requests in flight per connection.
    pub fn pipeline(self, depth: u32) -> u32 {
        match self {
            Test::PlaintextPipelined => depth.max(1),
            Test::Plaintext | Test::Json => 1,
        }
    }
}

/// The fixed workload. Instruction counts are only comparable for the same workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    /// Measured requests per test (exact: `peregrine-load -n`).
    pub requests: u64,
    pub connections: u32,
    /// Depth of the pipelined test.
    pub pipeline_depth: u32,
    /// Warm-up requests per connection before each measurement (not counted).
    pub warmup_requests_per_connection: u64,
    /// Measurements per test; the median is reported.
    pub repeat: u32,
    /// `peregrine --threads`.
    pub server_threads: u32,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            requests: 20_000,
            connections: 16,
            pipeline_depth: 16,
            warmup_requests_per_connection: 50,
            repeat: 3,
            server_threads: 1,
        }
    }
}

impl Workload {
    /// The measured `peregrine-load` run of `test` against `addr`.
    pub fn load_spec(&self, test: Test, addr: SocketAddr) -> LoadSpec {
        let mut spec = LoadSpec::new(format!("http://{addr}{}", test.path()));
        spec.connections = self.connections;
        spec.threads = 1;
        spec.requests = Some(self.requests);
        spec.pipeline = test.pipeline(self.pipeline_depth);
        spec.headers = harness::techempower_headers(test == Test::Json);
        // A server under valgrind is slow to answer the first time.
        spec.timeout = Duration::from_secs(60);
        spec
    }

    /// The warm-up run before measuring `test`, if any.
    pub fn warmup_spec(&self, test: Test, addr: SocketAddr) -> Option<LoadSpec> {
        if self.warmup_requests_per_connection == 0 {
            return None;
        }
        let mut spec = self.load_spec(test, addr);
        spec.requests = Some(self.warmup_requests_per_connection * u64::from(self.connections));
        Some(spec)
    }

    /// One line for reports.
    pub fn describe(&self) -> String {
        format!(
            "{} requests over {} connections (pipelined test {} deep), {} warm-up requests per \
             connection, median of {}, server with {} thread(s)",
            self.requests,
            self.connections,
            self.pipeline_depth,
            self.warmup_requests_per_connection,
            self.repeat,
            self.server_threads
        )
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.connections == 0 || self.requests < u64::from(self.connections) {
            return Err(format!(
                "need at least one request per connection ({} requests, {} connections)",
                self.requests, self.connections
            ));
        }
        if self.repeat == 0 {
            return Err("--repeat must be at least 1".to_string());
        }
        Ok(())
    }
}

/// Runs one load to completion and checks every request was answered 2xx.
pub fn drive(bins: &Binaries, spec: &LoadSpec, json: &Path) -> Result<LoadResult, String> {
    let (r, text) = harness::run_load(&bins.load, spec, json)?;
    if r.errors() > 0 || r.responses != spec.requests.unwrap_or(r.responses) {
        return Err(format!(
            "the load had {} errors ({} responses of {} requests):\n{text}",
            r.errors(),
            r.responses,
            r.requests
        ));
    }
    Ok(r)
}

/// A `peregrine` under test on a free port.
pub struct ServerUnderTest {
    pub process: Process,
    pub addr: SocketAddr,
}

/// Starts `peregrine --threads N --no-pin --backend B` on a free port, behind `wrapper`
/// (e.g. valgrind's arguments) if given, and waits until it answers.
pub fn start_server(
    bins: &Binaries,
    backend: &str,
    threads: u32,
    wrapper: &[OsString],
    log: &Path,
    timeout: Duration,
) -> Result<ServerUnderTest, String> {
    let port = harness::free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let mut cmd = match wrapper.split_first() {
        Some((program, rest)) => {
            let mut c = Command::new(program);
            c.args(rest).arg(&bins.server);
            c
        }
        None => Command::new(&bins.server),
    };
    cmd.args(["--urls", &format!("http://{addr}")])
        .args(["--threads", &threads.max(1).to_string()])
        .args(["--backend", backend])
        .arg("--no-pin");
    let mut process = Process::spawn(&format!("peregrine ({backend})"), &mut cmd, Some(log))?;
    harness::wait_until_answers(&mut process, addr, "/plaintext", timeout)?;
    Ok(ServerUnderTest { process, addr })
}

/// The backends to measure, checked.
pub fn parse_backends(list: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for b in list {
        let b = b.trim();
        match b {
            "io-uring" | "epoll" => {
                if !out.iter().any(|o| o == b) {
                    out.push(b.to_string())
                }
            }
            other => return Err(format!("unknown backend `{other}` (io-uring or epoll)")),
        }
    }
    if out.is_empty() {
        return Err("no backend given".to_string());
    }
    Ok(out)
}

/// The tests to run, checked.
pub fn parse_tests(list: &[String]) -> Result<Vec<Test>, String> {
    let mut out = Vec::new();
    for t in list {
        let t = Test::parse(t)?;
        if !out.contains(&t) {
            out.push(t);
        }
    }
    if out.is_empty() {
        return Err("no test given".to_string());
    }
    Ok(out)
}

/// The median of `v` (mean of the two middle values for an even count).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() / 2;
    if s.len() % 2 == 1 {
        s[m]
    } else {
        (s[m - 1] + s[m]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tests_and_backends() {
        for t in Test::ALL {
            assert_eq!(Test::parse(t.name()), Ok(t));
        }
        assert!(Test::parse("fortunes").is_err());
        assert_eq!(Test::PlaintextPipelined.pipeline(16), 16);
        assert_eq!(Test::Json.pipeline(16), 1);
        assert_eq!(
            parse_backends(&["epoll".into(), "io-uring".into(), "epoll".into()]).unwrap(),
            vec!["epoll", "io-uring"]
        );
        assert!(parse_backends(&["kqueue".into()]).is_err());
        assert!(parse_tests(&[]).is_err());
    }

    #[test]
    fn workload_specs() {
        let w = Workload::default();
        let addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
        let s = w.load_spec(Test::PlaintextPipelined, addr);
        assert_eq!(s.url, "http://127.0.0.1:8080/plaintext");
        assert_eq!(
            (s.requests, s.pipeline, s.connections),
            (Some(20_000), 16, 16)
        );
        let warm = w.warmup_spec(Test::Json, addr).unwrap();
        assert_eq!(warm.requests, Some(800));
        assert!(warm
            .headers
            .iter()
            .any(|h| h.starts_with("Accept: application/json")));
        let none = Workload {
            warmup_requests_per_connection: 0,
            ..w.clone()
        };
        assert!(none.warmup_spec(Test::Json, addr).is_none());
        assert!(w.validate().is_ok());
        assert!(Workload {
            requests: 3,
            ..w.clone()
        }
        .validate()
        .is_err());
        assert!(Workload { repeat: 0, ..w }.validate().is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
