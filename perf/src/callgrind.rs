//! `instructions`: user-space instructions the server executes per request, counted by
//! callgrind — deterministic enough to compare commits, unlike time.
//!
//! valgrind runs one thread at a time and does not treat `io_uring_enter` as blocking, so
//! a worker waiting for completions starves the other threads: the server never gets to
//! handle SIGINT/SIGTERM (nor, sometimes, to print its banner). Hence: the server runs on
//! a known port and is waited for until it answers; each measurement is a warm-up, then
//! `callgrind_control -z` (zero the counters), the fixed workload, `callgrind_control -d`
//! (dump); the dump's `totals:` divided by the requests is the figure. The server is
//! SIGKILLed at the end; only its own instructions are counted (no `--trace-children`).

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use peregrine_bench::harness::{self, Binaries};
use serde::Serialize;

use crate::table::{num, Table};
use crate::workload::{self, median, Test, Workload};

/// The instruction count (event `Ir`) of one callgrind output file: its `totals:` line,
/// else the sum of its `summary:` lines, in the `Ir` column of `events:`.
pub fn parse_totals(text: &str) -> Result<u64, String> {
    let mut column = 0;
    let mut totals = None;
    let mut summary: Option<u64> = None;
    for line in text.lines() {
        if let Some(events) = line.strip_prefix("events:") {
            column = events
                .split_whitespace()
                .position(|e| e == "Ir")
                .ok_or_else(|| format!("callgrind output without an Ir event: `{line}`"))?;
        } else if let Some(rest) = line.strip_prefix("totals:") {
            totals = Some(nth_number(rest, column, line)?);
        } else if let Some(rest) = line.strip_prefix("summary:") {
            *summary.get_or_insert(0) += nth_number(rest, column, line)?;
        }
    }
    totals
        .or(summary)
        .ok_or_else(|| "callgrind output without a totals: or summary: line".to_string())
}

fn nth_number(rest: &str, column: usize, line: &str) -> Result<u64, String> {
    rest.split_whitespace()
        .nth(column)
        .ok_or_else(|| format!("short callgrind line `{line}`"))?
        .parse()
        .map_err(|_| format!("bad number in callgrind line `{line}`"))
}

/// One test on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub backend: String,
    pub test: Test,
    pub requests: u64,
    /// Instructions of each repetition.
    pub instructions: Vec<u64>,
    /// The median per request.
    pub per_request: f64,
    pub min_per_request: f64,
    pub max_per_request: f64,
    /// (max − min) / median, in %.
    pub spread_percent: f64,
}

impl Measurement {
    pub fn new(backend: &str, test: Test, requests: u64, instructions: Vec<u64>) -> Self {
        let per: Vec<f64> = instructions
            .iter()
            .map(|&i| i as f64 / requests.max(1) as f64)
            .collect();
        let med = median(&per);
        let min = per.iter().copied().fold(f64::INFINITY, f64::min);
        let max = per.iter().copied().fold(0.0, f64::max);
        Measurement {
            backend: backend.to_string(),
            test,
            requests,
            instructions,
            per_request: med,
            min_per_request: if min.is_finite() { min } else { 0.0 },
            max_per_request: max,
            spread_percent: if med > 0.0 {
                (max - min) / med * 100.0
            } else {
                0.0
            },
        }
    }
}

/// The report of an `instructions` run (also its JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub date: String,
    pub commit: Option<String>,
    pub valgrind: Option<String>,
    pub server: PathBuf,
    pub workload: Workload,
    pub results: Vec<Measurement>,
}

impl Report {
    pub fn table(&self) -> String {
        let mut t = Table::new([
            "test",
            "backend",
            "instructions/request",
            "min",
            "max",
            "spread",
        ]);
        for m in &self.results {
            t.row([
                m.test.name().to_string(),
                m.backend.clone(),
                num(m.per_request),
                num(m.min_per_request),
                num(m.max_per_request),
                format!("{:.1}%", m.spread_percent),
            ]);
        }
        t.render()
    }

    pub fn get(&self, backend: &str, test: Test) -> Option<&Measurement> {
        self.results
            .iter()
            .find(|m| m.backend == backend && m.test == test)
    }
}

/// Options of a measurement.
pub struct Options<'a> {
    pub bins: &'a Binaries,
    pub backends: Vec<String>,
    pub tests: Vec<Test>,
    pub workload: Workload,
    /// Callgrind dumps and server logs go here.
    pub work_dir: PathBuf,
    /// Extra valgrind arguments.
    pub valgrind_args: Vec<String>,
    /// Print progress.
    pub verbose: bool,
}

/// Runs the workload under callgrind for every backend and test.
pub fn measure(opts: &Options) -> Result<Report, String> {
    opts.workload.validate()?;
    let valgrind = harness::ensure_tool("valgrind", "valgrind")?;
    let control = harness::find_tool("callgrind_control")
        .ok_or("callgrind_control is missing (it comes with valgrind)")?;
    let mut results = Vec::new();
    for backend in &opts.backends {
        let dir = opts.work_dir.join(format!("callgrind-{backend}"));
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        clear_dumps(&dir);
        let mut wrapper: Vec<OsString> = vec![
            valgrind.clone().into(),
            "--tool=callgrind".into(),
            "--collect-atstart=yes".into(),
            // Every dump names its functions and files in full: compressed names refer
            // to an earlier dump, and callgrind_annotate reading a later one alone then
            // puts every instruction under `clone`.
            "--compress-strings=no".into(),
            "--compress-pos=no".into(),
            format!("--callgrind-out-file={}/cg.%p.out", dir.display()).into(),
        ];
        wrapper.extend(opts.valgrind_args.iter().map(OsString::from));
        let log = dir.join("server.log");
        if opts.verbose {
            eprintln!("starting peregrine --backend {backend} under callgrind");
        }
        let mut server = workload::start_server(
            opts.bins,
            backend,
            opts.workload.server_threads,
            &wrapper,
            &log,
            Duration::from_secs(120),
        )?;
        let pid = server.process.pid();
        for &test in &opts.tests {
            let mut counts = Vec::new();
            for rep in 0..opts.workload.repeat {
                if let Some(warm) = opts.workload.warmup_spec(test, server.addr) {
                    workload::drive(opts.bins, &warm, &dir.join("warmup.json"))?;
                }
                control_cmd(&control, "-z", pid)?;
                let before = dump_files(&dir, pid);
                let spec = opts.workload.load_spec(test, server.addr);
                workload::drive(opts.bins, &spec, &dir.join("load.json"))?;
                control_cmd(&control, "-d", pid)?;
                let ir = read_new_dump(&dir, pid, &before)?;
                if opts.verbose {
                    eprintln!(
                        "  {backend} {} run {}: {} instructions, {:.0}/request",
                        test.name(),
                        rep + 1,
                        ir,
                        ir as f64 / opts.workload.requests as f64
                    );
                }
                counts.push(ir);
            }
            results.push(Measurement::new(
                backend,
                test,
                opts.workload.requests,
                counts,
            ));
        }
        if let Some(status) = server.process.exited() {
            return Err(format!(
                "the server exited during the measurement ({status}):\n{}",
                server.process.log_tail(15)
            ));
        }
        // It cannot act on SIGTERM under valgrind (see above).
        server.process.kill();
    }
    Ok(Report {
        tool: "instructions",
        date: harness::utc_now(),
        commit: harness::git_commit(&harness::workspace_root()),
        valgrind: harness::tool_version("valgrind", "--version"),
        server: opts.bins.server.clone(),
        workload: opts.workload.clone(),
        results,
    })
}

fn control_cmd(control: &Path, flag: &str, pid: u32) -> Result<(), String> {
    let out = Command::new(control)
        .arg(flag)
        .arg(pid.to_string())
        .output()
        .map_err(|e| format!("cannot run callgrind_control: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "callgrind_control {flag} {pid} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(())
}

/// Removes the dumps of earlier runs.
fn clear_dumps(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with("cg.") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// The dump files (`cg.PID.out.N`, and per-thread `-NN` variants) of `pid`.
fn dump_files(dir: &Path, pid: u32) -> BTreeSet<PathBuf> {
    let prefix = format!("cg.{pid}.out.");
    fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Sums the dump files that appeared since `before` (waiting for them to be complete).
fn read_new_dump(dir: &Path, pid: u32, before: &BTreeSet<PathBuf>) -> Result<u64, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let new: Vec<PathBuf> = dump_files(dir, pid).difference(before).cloned().collect();
        if !new.is_empty() {
            let mut total = 0;
            let mut complete = true;
            for f in &new {
                let text = fs::read_to_string(f).unwrap_or_default();
                match parse_totals(&text) {
                    Ok(n) if text.contains("totals:") => total += n,
                    _ => complete = false,
                }
            }
            if complete {
                return Ok(total);
            }
        }
        if Instant::now() > deadline {
            return Err(format!(
                "no complete callgrind dump of pid {pid} appeared in {}",
                dir.display()
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DUMP: &str = "# callgrind format\nversion: 1\ncreator: callgrind-3.19.0\npid: 19443\n\
cmd:  /x/peregrine --urls http://127.0.0.1:0\npart: 1\n\ndesc: Trigger: dump\n\n\
positions: line\nevents: Ir\nsummary: 13889525\n\n\nob=(1) /lib/ld.so\nfl=(1) ???\nfn=(0) 0x1\n0 189\n\
summary: 13889525\ntotals: 13889531\n";

    #[test]
    fn totals_of_a_dump() {
        assert_eq!(parse_totals(DUMP), Ok(13_889_531));
        // No totals: the summaries.
        let no_totals = DUMP.replace("totals: 13889531\n", "");
        assert_eq!(parse_totals(&no_totals), Ok(2 * 13_889_525));
        // Several events: the Ir column.
        let multi = "events: Dr Ir Dw\ntotals: 5 42 7\n";
        assert_eq!(parse_totals(multi), Ok(42));
    }

    #[test]
    fn bad_dumps_are_errors() {
        assert!(parse_totals("").unwrap_err().contains("totals"));
        assert!(parse_totals("events: Dr\ntotals: 1")
            .unwrap_err()
            .contains("Ir"));
        assert!(parse_totals("events: Ir\ntotals: lots")
            .unwrap_err()
            .contains("bad number"));
        assert!(parse_totals("events: Ir\ntotals:")
            .unwrap_err()
            .contains("short"));
    }

    #[test]
    fn medians_and_spread() {
        let m = Measurement::new(
            "io-uring",
            Test::Plaintext,
            1000,
            vec![7_100_000, 7_000_000, 7_200_000],
        );
        assert_eq!(m.per_request, 7100.0);
        assert_eq!((m.min_per_request, m.max_per_request), (7000.0, 7200.0));
        assert!((m.spread_percent - 200.0 / 7100.0 * 100.0).abs() < 1e-9);
        let report = Report {
            tool: "instructions",
            date: "d".into(),
            commit: None,
            valgrind: None,
            server: PathBuf::from("peregrine"),
            workload: Workload::default(),
            results: vec![m],
        };
        let t = report.table();
        assert!(
            t.contains("plaintext  io-uring                 7,100  7,000  7,200    2.8%"),
            "{t}"
        );
        assert!(report.get("io-uring", Test::Plaintext).is_some());
        assert!(report.get("epoll", Test::Plaintext).is_none());
    }
}
