//! `syscalls`: system calls the server makes per request, for the fixed workload on each
//! backend. `strace -f -c` attaches to every thread of the running server after the
//! warm-up, counts during the workload and prints its summary when interrupted. strace
//! slows the server down, which does not change the counts much. With io_uring most I/O
//! is submitted without system calls: `io_uring_enter` is reported on its own.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use peregrine_bench::harness::{self, Binaries, Process};
use serde::Serialize;

use crate::table::{num, Table};
use crate::workload::{self, Test, Workload};

/// One line of `strace -c`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallCount {
    pub name: String,
    pub calls: u64,
    pub errors: u64,
}

/// Parses the summary table `strace -c` prints (with or without the errors column);
/// returns the syscalls, most called first. The `total` line is left out.
pub fn parse_summary(text: &str) -> Result<Vec<SyscallCount>, String> {
    let mut out = Vec::new();
    let mut seen_header = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("% time") {
            seen_header = true;
            continue;
        }
        if !seen_header || t.is_empty() || t.starts_with('-') {
            continue;
        }
        let fields: Vec<&str> = t.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if fields.len() < 5 || fields.len() > 6 {
            return Err(format!("unexpected strace -c line `{line}`"));
        }
        let name = fields[fields.len() - 1];
        if name == "total" {
            continue;
        }
        let calls = fields[3]
            .parse()
            .map_err(|_| format!("bad call count in strace -c line `{line}`"))?;
        let errors = if fields.len() == 6 {
            fields[4]
                .parse()
                .map_err(|_| format!("bad error count in strace -c line `{line}`"))?
        } else {
            0
        };
        out.push(SyscallCount {
            name: name.to_string(),
            calls,
            errors,
        });
    }
    if !seen_header {
        return Err("no strace -c summary table (no `% time` header)".to_string());
    }
    out.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
    Ok(out)
}

/// One test on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub backend: String,
    pub test: Test,
    pub requests: u64,
    pub syscalls: u64,
    pub per_request: f64,
    pub io_uring_enter_per_request: f64,
    /// Calls per request of every syscall seen.
    pub by_syscall: BTreeMap<String, f64>,
    pub counts: Vec<SyscallCount>,
}

impl Measurement {
    pub fn new(backend: &str, test: Test, requests: u64, counts: Vec<SyscallCount>) -> Self {
        let n = requests.max(1) as f64;
        let syscalls = counts.iter().map(|c| c.calls).sum();
        let by_syscall = counts
            .iter()
            .map(|c| (c.name.clone(), c.calls as f64 / n))
            .collect();
        let enter = counts
            .iter()
            .filter(|c| c.name == "io_uring_enter")
            .map(|c| c.calls)
            .sum::<u64>();
        Measurement {
            backend: backend.to_string(),
            test,
            requests,
            syscalls,
            per_request: syscalls as f64 / n,
            io_uring_enter_per_request: enter as f64 / n,
            by_syscall,
            counts,
        }
    }

    /// The most called syscalls, `name calls/request`.
    pub fn top(&self, k: usize) -> String {
        let n = self.requests.max(1) as f64;
        self.counts
            .iter()
            .take(k)
            .map(|c| format!("{} {:.3}", c.name, c.calls as f64 / n))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The report of a `syscalls` run (also its JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub date: String,
    pub commit: Option<String>,
    pub strace: Option<String>,
    pub server: PathBuf,
    pub workload: Workload,
    pub results: Vec<Measurement>,
}

impl Report {
    pub fn table(&self) -> String {
        let mut t = Table::new([
            "test",
            "backend",
            "syscalls/request",
            "io_uring_enter/request",
            "most called (per request)",
        ]);
        for m in &self.results {
            t.row([
                m.test.name().to_string(),
                m.backend.clone(),
                num(m.per_request),
                num(m.io_uring_enter_per_request),
                m.top(4),
            ]);
        }
        t.render()
    }
}

/// Counts the syscalls of the workload for every backend and test.
pub fn measure(
    bins: &Binaries,
    backends: &[String],
    tests: &[Test],
    workload: &Workload,
    work_dir: &Path,
    verbose: bool,
) -> Result<Report, String> {
    workload.validate()?;
    let strace = harness::ensure_tool("strace", "strace")?;
    fs::create_dir_all(work_dir)
        .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
    let mut results = Vec::new();
    for backend in backends {
        let log = work_dir.join(format!("server-{backend}.log"));
        let mut server = workload::start_server(
            bins,
            backend,
            workload.server_threads,
            &[],
            &log,
            Duration::from_secs(30),
        )?;
        let pid = server.process.pid();
        for &test in tests {
            // One strace run per repetition; the counts are summed.
            let mut sum: BTreeMap<String, (u64, u64)> = BTreeMap::new();
            for _ in 0..workload.repeat {
                if let Some(warm) = workload.warmup_spec(test, server.addr) {
                    workload::drive(bins, &warm, &work_dir.join("warmup.json"))?;
                }
                let out = work_dir.join(format!("strace-{backend}-{}.txt", test.name()));
                let tracer = attach(&strace, pid, &out)?;
                let spec = workload.load_spec(test, server.addr);
                let load = workload::drive(bins, &spec, &work_dir.join("load.json"));
                let text = detach(tracer, &out)?;
                load?;
                for c in parse_summary(&text)? {
                    let e = sum.entry(c.name).or_default();
                    e.0 += c.calls;
                    e.1 += c.errors;
                }
            }
            let mut counts: Vec<SyscallCount> = sum
                .into_iter()
                .map(|(name, (calls, errors))| SyscallCount {
                    name,
                    calls: calls.div_ceil(u64::from(workload.repeat)),
                    errors: errors.div_ceil(u64::from(workload.repeat)),
                })
                .collect();
            counts.sort_by(|a, b| b.calls.cmp(&a.calls).then_with(|| a.name.cmp(&b.name)));
            let m = Measurement::new(backend, test, workload.requests, counts);
            if verbose {
                eprintln!(
                    "  {backend} {}: {:.3} syscalls/request",
                    test.name(),
                    m.per_request
                );
            }
            results.push(m);
        }
        server.process.stop(Duration::from_secs(5));
    }
    Ok(Report {
        tool: "syscalls",
        date: harness::utc_now(),
        commit: harness::git_commit(&harness::workspace_root()),
        strace: harness::tool_version("strace", "-V"),
        server: bins.server.clone(),
        workload: workload.clone(),
        results,
    })
}

/// strace attached to every thread of `pid`, once it says so.
fn attach(strace: &Path, pid: u32, out: &Path) -> Result<Process, String> {
    let _ = fs::remove_file(out);
    let mut cmd = Command::new(strace);
    cmd.args(["-f", "-c", "-o"])
        .arg(out)
        .args(["-p", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run strace: {e}"))?;
    let stderr = child.stderr.take().ok_or("no strace stderr")?;
    let process = Process::adopt("strace", child);
    // "strace: Process N attached with K threads" (or one line per thread).
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let attached = line.contains("attached");
            lines.push(line);
            if attached {
                let _ = tx.send(Ok(()));
            }
        }
        let _ = tx.send(Err(lines.join("\n")));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => {
            // Let strace finish attaching to the remaining threads.
            thread::sleep(Duration::from_millis(200));
            Ok(process)
        }
        Ok(Err(text)) => Err(format!(
            "strace could not attach to pid {pid}: {text}\n(ptrace may be forbidden here: see \
             /proc/sys/kernel/yama/ptrace_scope, or run as root)"
        )),
        Err(_) => Err(format!("strace did not attach to pid {pid} within 10 s")),
    }
}

/// Interrupts strace (it then detaches and writes its summary) and reads the summary.
fn detach(mut tracer: Process, out: &Path) -> Result<String, String> {
    tracer.signal(libc::SIGINT);
    if tracer.wait_timeout(Duration::from_secs(20)).is_none() {
        return Err("strace did not stop within 20 s of SIGINT".to_string());
    }
    fs::read_to_string(out).map_err(|e| format!("strace wrote no {}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const URING: &str = "% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 99.60    0.109175          18      5831         2 io_uring_enter
  0.24    0.000261          15        17           shutdown
  0.06    0.000070           7        10           mprotect
------ ----------- ----------- --------- --------- ----------------
100.00    0.109611          18      5858         2 total
";

    #[test]
    fn parses_strace_summaries() {
        let c = parse_summary(URING).unwrap();
        assert_eq!(
            c[0],
            SyscallCount {
                name: "io_uring_enter".into(),
                calls: 5831,
                errors: 2
            }
        );
        assert_eq!(c.len(), 3);
        assert_eq!(
            (c[1].name.as_str(), c[1].calls, c[1].errors),
            ("shutdown", 17, 0)
        );
        // Without an errors column at all, and with strace's own noise around it.
        let plain = "strace: Process 1 detached\n% time     seconds  usecs/call     calls syscall\n\
------ ----------- ----------- --------- ----------------\n\
 60.00    0.000300          10        30 sendto\n 40.00    0.000200           5        40 recvfrom\n";
        let c = parse_summary(plain).unwrap();
        assert_eq!((c[0].name.as_str(), c[0].calls), ("recvfrom", 40));
        assert_eq!(parse_summary("% time x\n"), Ok(vec![]));
    }

    #[test]
    fn bad_summaries_are_errors() {
        assert!(parse_summary("")
            .unwrap_err()
            .contains("no strace -c summary"));
        let bad = URING.replace("5831", "many");
        assert!(parse_summary(&bad).unwrap_err().contains("bad call count"));
        let short = "% time     seconds\n 1 2 3\n";
        assert!(parse_summary(short).unwrap_err().contains("unexpected"));
    }

    #[test]
    fn per_request_figures() {
        let m = Measurement::new(
            "io-uring",
            Test::Plaintext,
            20_000,
            parse_summary(URING).unwrap(),
        );
        assert_eq!(m.syscalls, 5858);
        assert!((m.per_request - 0.2929).abs() < 1e-9);
        assert!((m.io_uring_enter_per_request - 0.29155).abs() < 1e-9);
        assert_eq!(m.top(2), "io_uring_enter 0.292, shutdown 0.001");
        let report = Report {
            tool: "syscalls",
            date: "d".into(),
            commit: None,
            strace: None,
            server: PathBuf::from("p"),
            workload: Workload::default(),
            results: vec![m],
        };
        let t = report.table();
        assert!(
            t.lines().nth(2).unwrap().starts_with("plaintext  io-uring"),
            "{t}"
        );
        assert!(t.contains("0.29"));
    }
}
