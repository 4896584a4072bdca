//! The open-loop latency matrix (issue 15, "latency under load"): peregrine on io_uring
//! and on epoll, hyper and nginx, each with one thread pinned to the server CPU, driven
//! by `peregrine-load -t 1` pinned to the load CPU.
//!
//! Each repeat first measures every server's maximum throughput (closed loop), then
//! offers the *same* absolute rates to all of them — fractions (50 %, 80 %) of the
//! lowest maximum of that repeat — at each connection count, open loop (`--rate`:
//! a fixed schedule, latency counted from each request's scheduled time, so
//! coordinated omission is corrected). Every cell starts its server afresh on a new
//! port; the servers take turns cell by cell, so noise on the shared machine falls on
//! them alike. The results become a markdown report with the verdict against the bar
//! ([`report`]), a latency-by-percentile SVG per cell ([`chart`]) and JSON.

pub mod chart;
pub mod report;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::harness::{self, LoadResult, LoadSpec, Machine};
use crate::techempower::servers::{self, Rig, Server};

/// One server of the matrix: peregrine counts twice, once per I/O backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entry {
    PeregrineIoUring,
    PeregrineEpoll,
    Hyper,
    Nginx,
    /// nginx again, held to the bar as Peregrine is (against hyper and the first nginx)
    /// but outside the verdict: how often a copy of a reference fails the bar on this
    /// machine, i.e. how much of a failure is the machine's noise.
    NginxControl,
}

/// Every entry, in the report's order.
pub const ENTRIES: [Entry; 5] = [
    Entry::PeregrineIoUring,
    Entry::PeregrineEpoll,
    Entry::Hyper,
    Entry::Nginx,
    Entry::NginxControl,
];

impl Entry {
    pub fn name(self) -> &'static str {
        match self {
            Entry::PeregrineIoUring => "peregrine-io-uring",
            Entry::PeregrineEpoll => "peregrine-epoll",
            Entry::Hyper => "hyper",
            Entry::Nginx => "nginx",
            Entry::NginxControl => "nginx-control",
        }
    }

    /// `--servers` items: an entry's name, or `peregrine` for both backends.
    pub fn parse_list(s: &str) -> Result<Vec<Entry>, String> {
        let mut out = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let add: &[Entry] = match item {
                "peregrine" => &[Entry::PeregrineIoUring, Entry::PeregrineEpoll],
                "peregrine-io-uring" | "peregrine-uring" | "io-uring" => &[Entry::PeregrineIoUring],
                "peregrine-epoll" | "epoll" => &[Entry::PeregrineEpoll],
                "hyper" => &[Entry::Hyper],
                "nginx" => &[Entry::Nginx],
                "nginx-control" | "control" => &[Entry::NginxControl],
                other => {
                    return Err(format!(
                        "unknown server `{other}` (peregrine, peregrine-io-uring, \
                         peregrine-epoll, hyper, nginx, nginx-control)"
                    ))
                }
            };
            for e in add {
                if !out.contains(e) {
                    out.push(*e);
                }
            }
        }
        if out.is_empty() {
            return Err("no servers given".into());
        }
        Ok(out)
    }

    /// The server implementation behind it.
    pub fn server(self) -> Server {
        match self {
            Entry::PeregrineIoUring | Entry::PeregrineEpoll => Server::Peregrine,
            Entry::Hyper => Server::Hyper,
            Entry::Nginx | Entry::NginxControl => Server::Nginx,
        }
    }

    /// peregrine's `--backend`.
    pub fn backend(self) -> Option<&'static str> {
        match self {
            Entry::PeregrineIoUring => Some("io-uring"),
            Entry::PeregrineEpoll => Some("epoll"),
            Entry::Hyper | Entry::Nginx | Entry::NginxControl => None,
        }
    }

    /// A Peregrine entry (held to the bar, in the verdict).
    pub fn is_peregrine(self) -> bool {
        self.server() == Server::Peregrine
    }

    /// A reference the bar is measured against (hyper, nginx).
    pub fn is_reference(self) -> bool {
        matches!(self, Entry::Hyper | Entry::Nginx)
    }

    /// Compared with the best reference of its cell: Peregrine and the control.
    pub fn held_to_bar(self) -> bool {
        !self.is_reference()
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
    pub entries: Vec<Entry>,
    pub repeats: u32,
    /// Connection counts of the open-loop runs.
    pub connections: Vec<u32>,
    /// Offered load as fractions of the lowest maximum (0.5, 0.8).
    pub levels: Vec<f64>,
    /// Measured part of each open-loop run.
    pub duration: Duration,
    /// Warm-up of each run (connections opened, not measured).
    pub warmup: Duration,
    /// Measured part of each maximum-throughput run.
    pub max_duration: Duration,
    /// Connections of the maximum-throughput runs.
    pub max_connections: u32,
    pub timeout: Duration,
    /// Backlog, binaries, CPUs, output (peregrine's backend is set per entry).
    pub rig: Rig,
}

impl Config {
    /// How long the measuring takes (without builds and start-ups).
    pub fn estimate(&self) -> Duration {
        let per = Duration::from_millis(500);
        let max = (self.max_duration + self.warmup + per) * self.entries.len() as u32;
        let cells = self.connections.len() * self.levels.len() * self.entries.len();
        let open = (self.duration + self.warmup + per) * cells as u32;
        (max + open) * self.repeats
    }
}

/// Where and on what it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    pub date: String,
    pub commit: Option<String>,
    pub machine: Machine,
    pub server_cpus: Option<Vec<usize>>,
    pub load_cpus: Option<Vec<usize>>,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub max_duration_s: f64,
    pub max_connections: u32,
    pub timeout_s: f64,
    /// The backlog asked of peregrine and nginx.
    pub backlog: Option<u32>,
    /// `net.core.somaxconn`, which caps every backlog.
    pub somaxconn: Option<u32>,
    /// The open-files limit the servers and the generator inherit.
    pub open_files: u64,
}

/// One server's maximum throughput in one repeat (closed loop).
#[derive(Debug, Clone, Serialize)]
pub struct Maximum {
    pub repeat: u32,
    pub entry: Entry,
    pub connections: u32,
    pub load: Option<LoadResult>,
    pub foreign_cores: Option<f64>,
    pub error: Option<String>,
}

impl Maximum {
    pub fn requests_per_s(&self) -> Option<f64> {
        self.load
            .as_ref()
            .filter(|_| self.error.is_none())
            .map(|l| l.requests_per_s)
    }
}

/// The rates one repeat offered every server.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    pub repeat: u32,
    /// The lowest maximum among the servers (requests/s).
    pub lowest_max: f64,
    /// One per level: requests/s.
    pub rates: Vec<f64>,
}

/// One open-loop run.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub repeat: u32,
    pub entry: Entry,
    pub connections: u32,
    /// The fraction of the lowest maximum.
    pub level: f64,
    /// The offered rate, requests/s.
    pub rate: f64,
    pub load: Option<LoadResult>,
    /// Latency by percentile: (percentile 0–100, microseconds).
    pub distribution: Vec<(f64, f64)>,
    /// Whether the generator reached the rate (within 10 %).
    pub rate_reached: Option<bool>,
    pub server_cpu_us_per_request: Option<f64>,
    pub foreign_cores: Option<f64>,
    pub error: Option<String>,
}

impl Sample {
    fn new(repeat: u32, entry: Entry, connections: u32, level: f64, rate: f64) -> Sample {
        Sample {
            repeat,
            entry,
            connections,
            level,
            rate,
            load: None,
            distribution: Vec::new(),
            rate_reached: None,
            server_cpu_us_per_request: None,
            foreign_cores: None,
            error: None,
        }
    }

    /// Measured, without errors of its own making (a failed run or a dead server).
    pub fn measured(&self) -> Option<&LoadResult> {
        self.load.as_ref().filter(|_| self.error.is_none())
    }
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub environment: Environment,
    pub entries: Vec<Entry>,
    pub repeats: u32,
    pub connections: Vec<u32>,
    pub levels: Vec<f64>,
    pub maxima: Vec<Maximum>,
    pub rates: Vec<Rates>,
    pub samples: Vec<Sample>,
}

/// The rates to offer: each level times the lowest of the measured maxima (whole
/// requests/s, at least 1); `None` when nothing was measured.
pub fn offered_rates(maxima: &[f64], levels: &[f64]) -> Option<(f64, Vec<f64>)> {
    let lowest = maxima
        .iter()
        .copied()
        .filter(|m| m.is_finite() && *m > 0.0)
        .min_by(f64::total_cmp)?;
    Some((
        lowest,
        levels
            .iter()
            .map(|l| (lowest * l).floor().max(1.0))
            .collect(),
    ))
}

/// The latency-by-percentile points of a `peregrine-load --json` report.
pub fn distribution(json: &Value) -> Vec<(f64, f64)> {
    json.get("latency_distribution")
        .and_then(Value::as_array)
        .map(|points| {
            points
                .iter()
                .filter_map(|p| {
                    Some((
                        p.get("percentile")?.as_f64()?,
                        p.get("latency_us")?.as_f64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn environment(config: &Config) -> Environment {
    Environment {
        date: harness::utc_now(),
        commit: harness::git_commit(&harness::workspace_root()),
        machine: harness::machine(),
        server_cpus: config.rig.server_cpus.clone(),
        load_cpus: config.rig.load_cpus.clone(),
        duration_s: config.duration.as_secs_f64(),
        warmup_s: config.warmup.as_secs_f64(),
        max_duration_s: config.max_duration.as_secs_f64(),
        max_connections: config.max_connections,
        timeout_s: config.timeout.as_secs_f64(),
        backlog: config.rig.setup.backlog,
        somaxconn: harness::somaxconn(),
        open_files: harness::raise_open_files_limit(),
    }
}

/// Runs the whole matrix; progress goes to stdout.
pub fn run(config: &Config) -> Result<Run, String> {
    std::fs::create_dir_all(config.rig.out.join("logs"))
        .map_err(|e| format!("cannot create {}: {e}", config.rig.out.display()))?;
    let mut run = Run {
        environment: environment(config),
        entries: config.entries.clone(),
        repeats: config.repeats,
        connections: config.connections.clone(),
        levels: config.levels.clone(),
        maxima: Vec::new(),
        rates: Vec::new(),
        samples: Vec::new(),
    };
    for repeat in 1..=config.repeats {
        println!(
            "== repeat {repeat} of {}: maximum throughput",
            config.repeats
        );
        let mut maxima = Vec::new();
        for &entry in &config.entries {
            let m = maximum(config, repeat, entry);
            print_maximum(&m);
            maxima.extend(m.requests_per_s());
            run.maxima.push(m);
        }
        let Some((lowest, rates)) = offered_rates(&maxima, &config.levels) else {
            println!("repeat {repeat}: no server's maximum was measured; skipping its rates");
            continue;
        };
        println!(
            "== repeat {repeat}: offering {} (of the lowest maximum, {} req/s)",
            config
                .levels
                .iter()
                .zip(&rates)
                .map(|(l, r)| format!("{} = {} req/s", report::percent(*l), report::thousands(*r)))
                .collect::<Vec<_>>()
                .join(", "),
            report::thousands(lowest)
        );
        for &connections in &config.connections {
            for (&level, &rate) in config.levels.iter().zip(&rates) {
                for &entry in &config.entries {
                    let s = open_loop(config, repeat, entry, connections, level, rate);
                    print_sample(&s);
                    run.samples.push(s);
                }
            }
        }
        run.rates.push(Rates {
            repeat,
            lowest_max: lowest,
            rates,
        });
    }
    Ok(run)
}

/// The load of every run: TechEmpower's plaintext request, one at a time per connection.
fn spec(config: &Config, addr: std::net::SocketAddr, connections: u32) -> LoadSpec {
    let mut spec = LoadSpec::new(format!("http://{addr}/plaintext"));
    spec.connections = connections;
    spec.threads = 1;
    spec.headers = harness::techempower_headers(false);
    spec.cpus = config.rig.load_cpus.clone();
    spec.timeout = config.timeout;
    spec.warmup = Some(config.warmup);
    spec
}

/// The server of `entry`, started for one run; the caller stops it.
fn start(
    config: &Config,
    entry: Entry,
    tag: &str,
) -> Result<(harness::Process, std::net::SocketAddr), String> {
    let mut setup = config.rig.setup.clone();
    setup.peregrine_backend = entry.backend().map(str::to_string);
    let log = logs(config).join(format!("{}-{tag}.log", entry.name()));
    let (process, addr, _) = servers::start(
        entry.server(),
        &setup,
        config.rig.server_cpus.as_deref(),
        &config.rig.out,
        &log,
        "/plaintext",
    )?;
    Ok((process, addr))
}

fn logs(config: &Config) -> PathBuf {
    config.rig.out.join("logs")
}

/// The closed-loop maximum of one server: `max_connections` connections for
/// `max_duration`, after the warm-up.
fn maximum(config: &Config, repeat: u32, entry: Entry) -> Maximum {
    let mut m = Maximum {
        repeat,
        entry,
        connections: config.max_connections,
        load: None,
        foreign_cores: None,
        error: None,
    };
    let tag = format!("r{repeat}-max");
    match drive(config, entry, &tag, config.max_connections, None) {
        Ok(observed) => {
            m.foreign_cores = observed.foreign_cores;
            m.load = Some(observed.load);
        }
        Err(e) => m.error = Some(e),
    }
    m
}

/// One cell of the matrix for one server.
fn open_loop(
    config: &Config,
    repeat: u32,
    entry: Entry,
    connections: u32,
    level: f64,
    rate: f64,
) -> Sample {
    let mut s = Sample::new(repeat, entry, connections, level, rate);
    let tag = format!("r{repeat}-c{connections}-{}", report::percent_tag(level));
    match drive(config, entry, &tag, connections, Some(rate)) {
        Ok(observed) => {
            s.distribution = distribution(&observed.json);
            s.rate_reached = observed
                .json
                .pointer("/rate/reached")
                .and_then(Value::as_bool);
            s.server_cpu_us_per_request = observed.server_cpu_us_per_request;
            s.foreign_cores = observed.foreign_cores;
            s.load = Some(observed.load);
        }
        Err(e) => s.error = Some(e),
    }
    s
}

/// Starts `entry`'s server afresh, drives it with `connections` — closed loop for
/// `max_duration`, or open loop at `rate` for `duration` — and stops it. A server that
/// exited during the run voids it.
fn drive(
    config: &Config,
    entry: Entry,
    tag: &str,
    connections: u32,
    rate: Option<f64>,
) -> Result<harness::Observed, String> {
    let (mut process, addr) = start(config, entry, tag)?;
    let mut spec = spec(config, addr, connections);
    spec.duration = if rate.is_some() {
        config.duration
    } else {
        config.max_duration
    };
    spec.rate = rate;
    let json = logs(config).join(format!("{}-{tag}.json", entry.name()));
    let observed = harness::run_load_observed(&config.rig.load_bin, &spec, &json, process.pid());
    let died = died(&mut process);
    process.stop(Duration::from_secs(5));
    match died {
        Some(e) => Err(e),
        None => observed,
    }
}

/// Why the run is void if the server exited during it.
fn died(process: &mut harness::Process) -> Option<String> {
    process.exited().map(|status| {
        format!(
            "the server exited ({status}) during the run:\n{}",
            process.log_tail(10)
        )
    })
}

fn print_maximum(m: &Maximum) {
    let head = format!("{:<19} max c={:<5}", m.entry.name(), m.connections);
    match (&m.load, &m.error) {
        (_, Some(e)) => println!("{head} ERROR {e}"),
        (Some(r), None) => println!(
            "{head} {:>10} req/s  errors {}  other load {}",
            report::thousands(r.requests_per_s),
            r.errors(),
            report::cores(m.foreign_cores)
        ),
        (None, None) => println!("{head} (nothing measured)"),
    }
}

fn print_sample(s: &Sample) {
    let head = format!(
        "{:<19} c={:<5} {:>4} {:>9} req/s",
        s.entry.name(),
        s.connections,
        report::percent(s.level),
        report::thousands(s.rate)
    );
    match (&s.load, &s.error) {
        (_, Some(e)) => println!("{head}  ERROR {e}"),
        (Some(r), None) => println!(
            "{head}  got {:>9}  p50 {}  p99 {}  p99.9 {}  max {}  errors {}  other load {}",
            report::thousands(r.requests_per_s),
            report::latency(r.p50_us),
            report::latency(r.p99_us),
            report::latency(r.p99_9_us),
            report::latency(r.max_us),
            r.errors(),
            report::cores(s.foreign_cores)
        ),
        (None, None) => println!("{head}  (nothing measured)"),
    }
}

/// `bench/out/latency-20240501T123456Z` under `out`.
pub fn out_dir(out: &Path, utc: &str) -> PathBuf {
    out.join(format!("latency-{}", utc.replace([':', '-'], "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse() {
        assert_eq!(
            Entry::parse_list("peregrine,hyper,nginx,control").unwrap(),
            ENTRIES.to_vec()
        );
        assert_eq!(
            Entry::parse_list("nginx, epoll,nginx").unwrap(),
            vec![Entry::Nginx, Entry::PeregrineEpoll]
        );
        for e in ENTRIES {
            assert_eq!(Entry::parse_list(e.name()).unwrap(), vec![e]);
        }
        assert!(Entry::parse_list("apache").is_err());
        assert!(Entry::parse_list(" , ").is_err());
        assert_eq!(Entry::PeregrineEpoll.backend(), Some("epoll"));
        assert!(Entry::PeregrineIoUring.is_peregrine() && !Entry::Hyper.is_peregrine());
        assert!(Entry::NginxControl.held_to_bar() && !Entry::NginxControl.is_peregrine());
        assert!(Entry::Nginx.is_reference() && !Entry::NginxControl.is_reference());
        assert_eq!(Entry::NginxControl.server(), Server::Nginx);
    }

    #[test]
    fn rates_come_from_the_lowest_maximum() {
        let (lowest, rates) = offered_rates(
            &[120_000.0, 99_999.9, f64::NAN, 0.0, 150_000.0],
            &[0.5, 0.8],
        )
        .unwrap();
        assert_eq!(lowest, 99_999.9);
        assert_eq!(rates, vec![49_999.0, 79_999.0]);
        assert_eq!(offered_rates(&[1.0], &[0.5]).unwrap().1, vec![1.0]);
        assert!(offered_rates(&[], &[0.5]).is_none());
        assert!(offered_rates(&[0.0, f64::NAN], &[0.5]).is_none());
    }

    #[test]
    fn distribution_points() {
        let v = serde_json::json!({"latency_distribution": [
            {"percentile": 50.0, "latency_us": 120.0, "count": 5},
            {"percentile": 99.0, "latency_us": 900.5, "count": 1},
            {"bad": 1}
        ]});
        assert_eq!(distribution(&v), vec![(50.0, 120.0), (99.0, 900.5)]);
        assert!(distribution(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn output_directory() {
        assert_eq!(
            out_dir(Path::new("bench/out"), "2024-05-01T12:34:56Z"),
            Path::new("bench/out/latency-20240501T123456Z")
        );
    }

    #[test]
    fn estimate_counts_every_run() {
        let config = Config {
            entries: ENTRIES.to_vec(),
            repeats: 3,
            connections: vec![1000, 10_000],
            levels: vec![0.5, 0.8],
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(2),
            max_duration: Duration::from_secs(5),
            max_connections: 1000,
            timeout: Duration::from_secs(10),
            rig: Rig {
                setup: crate::techempower::ServerSetup {
                    peregrine: PathBuf::new(),
                    peregrine_backend: None,
                    peers_dir: PathBuf::new(),
                    nginx: None,
                    threads: 1,
                    backlog: None,
                },
                load_bin: PathBuf::new(),
                server_cpus: None,
                load_cpus: None,
                out: PathBuf::new(),
            },
        };
        // 3 × (5 × 7.5 s + 20 × 12.5 s)
        assert_eq!(
            config.estimate(),
            Duration::from_secs(862) + Duration::from_millis(500)
        );
    }
}
