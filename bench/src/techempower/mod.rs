//! A TechEmpower-style run: each server is started pinned to its CPUs, each endpoint is
//! checked (status, Content-Type, body, Server, Date, pipelining), then `peregrine-load`
//! (pinned to other CPUs) drives every connection level of each test type — plaintext
//! pipelined 16 deep at 256, 1024 and 4096 connections, json at 16 … 512 — with the
//! TechEmpower request headers: a warm-up run, then the measured run. The results become a
//! markdown table and an SVG bar chart per test type, plus JSON.

pub mod chart;
pub mod report;
pub mod servers;

use std::fs;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::check::{check_endpoint, TestType};
use crate::harness::{self, LoadResult, LoadSpec, Process};
pub use servers::{Rig, Server, ServerSetup, PEERS};

/// TechEmpower's plaintext connection levels (16 384 left out: one small machine).
pub const PLAINTEXT_CONNECTIONS: [u32; 3] = [256, 1024, 4096];
/// TechEmpower's json connection levels.
pub const JSON_CONNECTIONS: [u32; 6] = [16, 32, 64, 128, 256, 512];

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub servers: Vec<Server>,
    pub tests: Vec<TestType>,
    pub plaintext_connections: Vec<u32>,
    pub json_connections: Vec<u32>,
    /// Pipelining depth of the plaintext test.
    pub pipeline: u32,
    pub duration: Duration,
    pub warmup: Duration,
    pub load_threads: u32,
    /// The servers (threads, backend), the generator, the CPUs and the output.
    pub rig: Rig,
}

impl Config {
    /// The connection levels of `test`.
    pub fn levels(&self, test: TestType) -> &[u32] {
        match test {
            TestType::Plaintext => &self.plaintext_connections,
            TestType::Json => &self.json_connections,
        }
    }

    pub fn pipeline(&self, test: TestType) -> u32 {
        match test {
            TestType::Plaintext => self.pipeline,
            TestType::Json => 1,
        }
    }

    /// How long the measuring takes (without builds and start-ups).
    pub fn estimate(&self) -> Duration {
        let levels: usize = self.tests.iter().map(|t| self.levels(*t).len()).sum();
        (self.duration + self.warmup + Duration::from_millis(300))
            * (levels * self.servers.len()) as u32
    }
}

/// The endpoint check of one server and test type.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub server: Server,
    pub test: TestType,
    pub problems: Vec<String>,
    /// The `Server` header it sent.
    pub server_header: Option<String>,
}

/// One measured connection level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub server: Server,
    pub test: TestType,
    pub connections: u32,
    pub pipeline: u32,
    pub load: Option<LoadResult>,
    /// The server's CPU time (all its threads and processes) per response.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU used by other processes of the machine during the measured run, in cores
    /// (a shared machine's noise: a level measured with much of it is suspect).
    pub foreign_cores: Option<f64>,
    pub error: Option<String>,
}

impl Level {
    /// A level with nothing measured (yet).
    pub fn new(server: Server, test: TestType, connections: u32, pipeline: u32) -> Level {
        Level {
            server,
            test,
            connections,
            pipeline,
            load: None,
            server_cpu_us_per_request: None,
            foreign_cores: None,
            error: None,
        }
    }

    pub fn requests_per_s(&self) -> Option<f64> {
        self.load.as_ref().map(|l| l.requests_per_s)
    }
}

/// Where and on what it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub date: String,
    pub commit: Option<String>,
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
    pub server_cpus: Option<Vec<usize>>,
    pub load_cpus: Option<Vec<usize>>,
    pub server_threads: u32,
    pub load_threads: u32,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub pipeline: u32,
    pub peregrine_backend: Option<String>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub environment: Environment,
    pub servers: Vec<Server>,
    pub tests: Vec<TestType>,
    pub plaintext_connections: Vec<u32>,
    pub json_connections: Vec<u32>,
    pub checks: Vec<Check>,
    pub levels: Vec<Level>,
}

impl Run {
    /// Whether every check passed and every level measured without errors.
    pub fn clean(&self) -> bool {
        self.checks.iter().all(|c| c.problems.is_empty())
            && self
                .levels
                .iter()
                .all(|l| l.error.is_none() && l.load.as_ref().is_some_and(|r| r.errors() == 0))
    }
}

fn environment(config: &Config) -> Environment {
    let machine = harness::machine();
    Environment {
        date: harness::utc_now(),
        commit: harness::git_commit(&harness::workspace_root()),
        cpus: machine.cpus,
        cpu_model: machine.cpu_model,
        kernel: machine.kernel,
        server_cpus: config.rig.server_cpus.clone(),
        load_cpus: config.rig.load_cpus.clone(),
        server_threads: config.rig.setup.threads,
        load_threads: config.load_threads,
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        pipeline: config.pipeline,
        peregrine_backend: config.rig.setup.peregrine_backend.clone(),
    }
}

/// Runs every server through every test type; progress goes to stdout.
pub fn run(config: &Config) -> Result<Run, String> {
    fs::create_dir_all(config.rig.out.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", config.rig.out.display()))?;
    let mut run = Run {
        environment: environment(config),
        servers: config.servers.clone(),
        tests: config.tests.clone(),
        plaintext_connections: config.plaintext_connections.clone(),
        json_connections: config.json_connections.clone(),
        checks: Vec::new(),
        levels: Vec::new(),
    };
    for &server in &config.servers {
        if let Err(e) = run_server(config, server, &mut run) {
            println!("{}: {e}", server.name());
            for &test in &config.tests {
                for &connections in config.levels(test) {
                    if !run.levels.iter().any(|l| {
                        l.server == server && l.test == test && l.connections == connections
                    }) {
                        let mut level =
                            Level::new(server, test, connections, config.pipeline(test));
                        level.error = Some(e.clone());
                        run.levels.push(level);
                    }
                }
            }
        }
    }
    Ok(run)
}

fn run_server(config: &Config, server: Server, run: &mut Run) -> Result<(), String> {
    let log = config
        .rig
        .out
        .join("logs")
        .join(format!("{}.log", server.name()));
    let (mut process, addr, started) = servers::start(
        server,
        &config.rig.setup,
        config.rig.server_cpus.as_deref(),
        &config.rig.out,
        &log,
        TestType::Plaintext.path(),
    )?;
    println!(
        "== {} (pid {}, answering after {:.1} s, log {})",
        server.name(),
        process.pid(),
        started.as_secs_f64(),
        log.display()
    );
    for &test in &config.tests {
        let check = match check_endpoint(addr, test) {
            Ok(r) => Check {
                server,
                test,
                problems: Vec::new(),
                server_header: r.header("server").map(str::to_string),
            },
            Err(problems) => Check {
                server,
                test,
                problems,
                server_header: None,
            },
        };
        if !check.problems.is_empty() {
            println!(
                "{} {}: check FAILED: {}",
                server.name(),
                test.name(),
                check.problems.join("; ")
            );
        }
        let failed = !check.problems.is_empty();
        run.checks.push(check);
        for &connections in config.levels(test) {
            let level = if failed {
                let mut level = Level::new(server, test, connections, config.pipeline(test));
                level.error = Some("endpoint check failed".to_string());
                level
            } else {
                measure(config, &mut process, addr, server, test, connections)
            };
            print_level(&level);
            run.levels.push(level);
        }
    }
    // nginx's master must stop its workers: SIGTERM first.
    process.stop(Duration::from_secs(5));
    Ok(())
}

fn measure(
    config: &Config,
    process: &mut Process,
    addr: SocketAddr,
    server: Server,
    test: TestType,
    connections: u32,
) -> Level {
    let pipeline = config.pipeline(test);
    let mut level = Level::new(server, test, connections, pipeline);
    let mut spec = LoadSpec::new(format!("http://{addr}{}", test.path()));
    spec.connections = connections;
    spec.threads = config.load_threads.min(connections);
    spec.pipeline = pipeline;
    spec.headers = harness::techempower_headers(test == TestType::Json);
    spec.cpus = config.rig.load_cpus.clone();
    let json = config.rig.out.join("logs").join(format!(
        "{}-{}-{connections}.json",
        server.name(),
        test.name()
    ));
    if !config.warmup.is_zero() {
        spec.duration = config.warmup;
        if let Err(e) = harness::run_load(&config.rig.load_bin, &spec, &json) {
            level.error = Some(format!("warm-up: {e}"));
            return level;
        }
    }
    spec.duration = config.duration;
    let started = Instant::now();
    match harness::run_load_observed(&config.rig.load_bin, &spec, &json, process.pid()) {
        Ok(observed) => {
            level.server_cpu_us_per_request = observed.server_cpu_us_per_request;
            level.foreign_cores = observed.foreign_cores;
            level.load = Some(observed.load);
        }
        Err(e) => level.error = Some(e),
    }
    if let Some(status) = process.exited() {
        level.error = Some(format!(
            "the server exited ({status}) during the run ({:.1} s in):\n{}",
            started.elapsed().as_secs_f64(),
            process.log_tail(10)
        ));
    }
    level
}

fn print_level(l: &Level) {
    let head = format!(
        "{:<13} {:<9} c={:<5} p={:<2}",
        l.server.name(),
        l.test.name(),
        l.connections,
        l.pipeline
    );
    match (&l.load, &l.error) {
        (_, Some(e)) => println!("{head} ERROR {e}"),
        (Some(r), None) => println!(
            "{head} {:>12} req/s  p50 {}  p99 {}  errors {}  server {}  other load {}",
            report::thousands(r.requests_per_s),
            report::latency(r.p50_us),
            report::latency(r.p99_us),
            r.errors(),
            l.server_cpu_us_per_request
                .map(|c| format!("{c:.2} us/req"))
                .unwrap_or_else(|| "-".into()),
            l.foreign_cores
                .map(|c| format!("{c:.2} cores"))
                .unwrap_or_else(|| "-".into()),
        ),
        (None, None) => println!("{head} (nothing measured)"),
    }
}
