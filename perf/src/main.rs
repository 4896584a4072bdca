//! `peregrine-perf`: profiling tools for Peregrine deployments.
//!
//! - `flamegraph` — `perf record` a server (ours, or `--pid`) under load, SVG via inferno;
//! - `instructions` — instructions per request under callgrind for a fixed workload;
//! - `syscalls` — system calls per request (strace) for the same workload, per backend;
//! - `gate` — the CI check of instructions per request against `perf/baseline.json`.
//!
//! Each prints a table and writes JSON (under `perf/out/` unless `--json` says where).
//!
//! Linux only: perf, callgrind and strace are Linux tools (and the harness it shares with
//! peregrine-bench pins and measures processes through Linux interfaces).

#[cfg(not(target_os = "linux"))]
compile_error!("peregrine-perf is Linux-only: perf, callgrind and strace are Linux tools");

mod baseline;
mod callgrind;
mod flamegraph;
mod strace;
mod table;
mod workload;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use peregrine_bench::harness::{self, parse_cpu_list, parse_duration, Binaries};
use serde::Serialize;

use crate::baseline::{Baseline, GATE_TESTS};
use crate::workload::{parse_backends, parse_tests, Test, Workload};

#[derive(Parser, Debug)]
#[command(
    name = "peregrine-perf",
    version,
    about = "Profiling tools for Peregrine"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Record a flame graph of a server under load (perf record + inferno).
    Flamegraph(FlameArgs),
    /// Instructions per request under callgrind, for a fixed workload.
    Instructions(InstrArgs),
    /// System calls per request (strace -c), for a fixed workload.
    Syscalls(SyscallArgs),
    /// Fail when instructions per request exceed perf/baseline.json by more than its tolerance.
    Gate(GateArgs),
}

/// Where the binaries come from.
#[derive(Args, Debug, Clone)]
struct BinArgs {
    /// The peregrine binary (default: target/release/peregrine, built first).
    #[arg(long, value_name = "PATH")]
    server: Option<PathBuf>,
    /// The peregrine-load binary (default: target/release/peregrine-load, built first).
    #[arg(long, value_name = "PATH")]
    load: Option<PathBuf>,
    /// Do not run cargo build: use the binaries as they are.
    #[arg(long)]
    no_build: bool,
}

impl BinArgs {
    fn locate(&self) -> Result<Binaries, String> {
        harness::locate_binaries(self.server.clone(), self.load.clone(), !self.no_build)
    }
}

/// The fixed workload.
#[derive(Args, Debug, Clone)]
struct WorkloadArgs {
    /// Measured requests per test.
    #[arg(short = 'n', long, default_value_t = 20_000)]
    requests: u64,
    /// Connections they are spread over.
    #[arg(short = 'c', long, default_value_t = 16)]
    connections: u32,
    /// Depth of the plaintext-pipelined test.
    #[arg(long, default_value_t = 16)]
    pipeline_depth: u32,
    /// Warm-up requests per connection before each measurement.
    #[arg(long, default_value_t = 50)]
    warmup_requests: u64,
    /// Tests: plaintext, json, plaintext-pipelined.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "plaintext,json,plaintext-pipelined"
    )]
    tests: Vec<String>,
    /// Server backends: io-uring, epoll.
    #[arg(long, value_delimiter = ',', default_value = "io-uring,epoll")]
    backends: Vec<String>,
    /// Write the JSON here (default perf/out/<command>.json).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Working directory for dumps and logs (default perf/out).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

impl WorkloadArgs {
    fn workload(&self, repeat: u32) -> Workload {
        Workload {
            requests: self.requests,
            connections: self.connections,
            pipeline_depth: self.pipeline_depth,
            warmup_requests_per_connection: self.warmup_requests,
            repeat,
            server_threads: 1,
        }
    }
}

#[derive(Args, Debug)]
struct InstrArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Measurements per test (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// Extra valgrind argument (repeatable), e.g. --valgrind-arg=--cache-sim=yes.
    #[arg(long = "valgrind-arg", value_name = "ARG", allow_hyphen_values = true)]
    valgrind_args: Vec<String>,
    #[command(flatten)]
    bins: BinArgs,
}

#[derive(Args, Debug)]
struct SyscallArgs {
    #[command(flatten)]
    workload: WorkloadArgs,
    /// Measurements per test (counts are averaged).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    #[command(flatten)]
    bins: BinArgs,
}

#[derive(Args, Debug)]
struct FlameArgs {
    /// Profile this running process (any program) instead of starting peregrine.
    #[arg(long)]
    pid: Option<u32>,
    /// Load this URL while recording (default: the started server; with --pid, no load).
    #[arg(long)]
    url: Option<String>,
    /// What the load requests: plaintext, json or plaintext-pipelined.
    #[arg(long, default_value = "plaintext")]
    test: String,
    /// How long to record (and load).
    #[arg(short = 'd', long, default_value = "5s")]
    duration: String,
    /// Load connections.
    #[arg(short = 'c', long, default_value_t = 64)]
    connections: u32,
    /// Depth of the plaintext-pipelined test.
    #[arg(long, default_value_t = 16)]
    pipeline_depth: u32,
    /// Samples per second.
    #[arg(short = 'F', long, default_value_t = 999)]
    frequency: u32,
    /// How perf unwinds stacks: dwarf,BYTES (copies BYTES of stack per sample; works
    /// without frame pointers; 8 KiB truncates half of Peregrine's async stacks), fp or lbr.
    #[arg(long, default_value = "dwarf,32768")]
    call_graph: String,
    /// Leave out frames narrower than this share of the samples, in % (smaller SVG).
    #[arg(long, default_value_t = 0.2)]
    min_width: f64,
    /// Backend of the started server.
    #[arg(long, default_value = "io-uring")]
    backend: String,
    /// Worker threads of the started server.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// CPUs of the started server.
    #[arg(long, default_value = "0")]
    server_cpus: String,
    /// CPUs of the load.
    #[arg(long, default_value = "1")]
    load_cpus: String,
    /// Pin nothing.
    #[arg(long)]
    no_pin: bool,
    /// The SVG (default perf/out/flamegraph.svg; the folded stacks go next to it).
    #[arg(short = 'o', long, value_name = "FILE.svg")]
    output: Option<PathBuf>,
    /// perf script --no-inline: faster, but inlined functions disappear into their callers.
    #[arg(long)]
    no_inline: bool,
    /// Title of the graph.
    #[arg(long)]
    title: Option<String>,
    /// Write the JSON here (default: the SVG's path with .json).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    bins: BinArgs,
}

#[derive(Args, Debug)]
struct GateArgs {
    /// The baseline.
    #[arg(long, default_value = "perf/baseline.json")]
    baseline: PathBuf,
    /// Measure and write the baseline instead of checking it.
    #[arg(long)]
    update: bool,
    /// With --update: why the baseline changes (stored in it).
    #[arg(long)]
    why: Option<String>,
    /// With --update: the tolerance to store, in % (default: the current baseline's, or 3).
    #[arg(long)]
    tolerance: Option<f64>,
    /// Write the JSON here (default perf/out/gate.json).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    #[command(flatten)]
    bins: BinArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Flamegraph(a) => flamegraph_cmd(a),
        Cmd::Instructions(a) => instructions_cmd(a),
        Cmd::Syscalls(a) => syscalls_cmd(a),
        Cmd::Gate(a) => gate_cmd(a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("peregrine-perf: {e}");
            ExitCode::from(1)
        }
    }
}

/// `perf/out` of the workspace.
fn default_out() -> PathBuf {
    harness::workspace_root().join("perf").join("out")
}

/// A path given relative to the workspace when it does not exist relative to here.
fn resolve(path: &Path) -> PathBuf {
    if path.is_absolute() || path.exists() {
        path.to_path_buf()
    } else {
        let in_root = harness::workspace_root().join(path);
        if in_root.exists() || in_root.parent().is_some_and(Path::exists) {
            in_root
        } else {
            path.to_path_buf()
        }
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("JSON: {}", path.display());
    Ok(())
}

fn instructions_cmd(a: InstrArgs) -> Result<bool, String> {
    let out = a.workload.out.clone().unwrap_or_else(default_out);
    let backends = parse_backends(&a.workload.backends)?;
    let tests = parse_tests(&a.workload.tests)?;
    let bins = a.bins.locate()?;
    let opts = callgrind::Options {
        bins: &bins,
        backends,
        tests,
        workload: a.workload.workload(a.repeat),
        work_dir: out.clone(),
        valgrind_args: a.valgrind_args,
        verbose: true,
    };
    println!("instructions: {}", opts.workload.describe());
    let report = callgrind::measure(&opts)?;
    println!("\n{}", report.table());
    println!(
        "(callgrind Ir of the server process only; dumps in {}/callgrind-*/: \
         callgrind_annotate --threshold=100 FILE)",
        out.display()
    );
    write_json(
        &a.workload
            .json
            .unwrap_or_else(|| out.join("instructions.json")),
        &report,
    )?;
    Ok(true)
}

fn syscalls_cmd(a: SyscallArgs) -> Result<bool, String> {
    let out = a.workload.out.clone().unwrap_or_else(default_out);
    let backends = parse_backends(&a.workload.backends)?;
    let tests = parse_tests(&a.workload.tests)?;
    let bins = a.bins.locate()?;
    let workload = a.workload.workload(a.repeat);
    println!("syscalls: {}", workload.describe());
    let report = strace::measure(
        &bins,
        &backends,
        &tests,
        &workload,
        &out.join("strace"),
        true,
    )?;
    println!("\n{}", report.table());
    println!(
        "(strace -f -c on every server thread during the workload; io_uring submits most I/O \
         without a system call of its own)"
    );
    write_json(
        &a.workload.json.unwrap_or_else(|| out.join("syscalls.json")),
        &report,
    )?;
    Ok(true)
}

fn flamegraph_cmd(a: FlameArgs) -> Result<bool, String> {
    let out = default_out();
    let test = Test::parse(&a.test)?;
    let duration = parse_duration(&a.duration)?;
    let (server_cpus, load_cpus) = if a.no_pin || a.pid.is_some() {
        (
            None,
            if a.no_pin {
                None
            } else {
                parse_cpu_list(&a.load_cpus).ok()
            },
        )
    } else {
        (
            Some(parse_cpu_list(&a.server_cpus)?),
            Some(parse_cpu_list(&a.load_cpus)?),
        )
    };
    let bins = match (a.pid, &a.url) {
        (None, _) => Some(a.bins.locate()?),
        (Some(_), Some(_)) => {
            let load = harness::locate_load(a.bins.load.clone(), !a.bins.no_build)?;
            Some(Binaries {
                server: PathBuf::new(),
                load,
            })
        }
        (Some(_), None) => None,
    };
    let output = a.output.unwrap_or_else(|| out.join("flamegraph.svg"));
    let json = a.json.unwrap_or_else(|| output.with_extension("json"));
    let opts = flamegraph::Options {
        pid: a.pid,
        url: a.url,
        test,
        duration,
        connections: a.connections.max(1),
        pipeline_depth: a.pipeline_depth,
        frequency: a.frequency.max(1),
        call_graph: a.call_graph,
        backend: a.backend,
        threads: a.threads,
        server_cpus,
        load_cpus,
        output,
        work_dir: out.join("flamegraph"),
        no_inline: a.no_inline,
        title: a.title,
        min_width: a.min_width,
    };
    let report = flamegraph::run(bins.as_ref(), &opts)?;
    println!("\n{}", report.table());
    if let Some(l) = &report.load {
        println!(
            "load: {} responses, {:.0} requests/s, {} errors",
            l.responses,
            l.requests_per_s,
            l.errors()
        );
    }
    println!(
        "{} samples ({}); flame graph: {}  folded stacks: {}",
        report.samples,
        report.event,
        report.svg.display(),
        report.folded.display()
    );
    write_json(&json, &report)?;
    Ok(true)
}

/// The rustc that builds the workspace.
fn rustc_version() -> Option<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string()).filter(|s| !s.is_empty())
}

#[derive(Serialize)]
struct GateReport<'a> {
    tool: &'static str,
    baseline: &'a Baseline,
    measured: &'a callgrind::Report,
    verdicts: Vec<baseline::Verdict>,
    passed: bool,
}

fn gate_cmd(a: GateArgs) -> Result<bool, String> {
    let path = resolve(&a.baseline);
    let existing = if path.exists() {
        Some(Baseline::load(&path)?)
    } else if a.update {
        None
    } else {
        return Err(format!(
            "no baseline at {} (create it: bash perf/gate.sh --update --why \"first baseline\")",
            path.display()
        ));
    };
    let (workload, tests, backend) = match &existing {
        Some(b) => (b.workload.clone(), b.tests(), b.backend.clone()),
        None => (
            baseline::gate_workload(),
            GATE_TESTS.to_vec(),
            "io-uring".to_string(),
        ),
    };
    let bins = a.bins.locate()?;
    let out = default_out();
    let opts = callgrind::Options {
        bins: &bins,
        backends: vec![backend.clone()],
        tests,
        workload,
        work_dir: out.join("gate"),
        valgrind_args: Vec::new(),
        verbose: true,
    };
    println!(
        "perf gate: instructions per request, {} backend, {}",
        backend,
        opts.workload.describe()
    );
    let report = callgrind::measure(&opts)?;
    let rustc = rustc_version();
    if a.update {
        let tolerance = a
            .tolerance
            .or(existing.as_ref().map(|b| b.tolerance_percent))
            .unwrap_or(3.0);
        let b = Baseline::from_report(&report, &backend, tolerance, a.why, rustc);
        write_json(&path, &b)?;
        println!("\n{}", report.table());
        println!(
            "baseline written: {}; commit it with a message that says why it changed",
            path.display()
        );
        return Ok(true);
    }
    let Some(base) = existing else {
        return Err("no baseline".to_string());
    };
    let verdicts = baseline::compare(&base, &report);
    println!("\n{}", baseline::table(&verdicts, base.tolerance_percent));
    println!(
        "baseline: commit {} of {}{}",
        base.commit
            .as_deref()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("?"),
        base.date,
        base.why
            .as_deref()
            .map(|w| format!(" ({w})"))
            .unwrap_or_default()
    );
    if let (Some(then), Some(now)) = (&base.rustc, &rustc) {
        if then != now {
            println!(
                "note: the baseline was measured with {then}, this run uses {now}: compiler \
                 changes move instruction counts too"
            );
        }
    }
    let passed = verdicts.iter().all(|v| v.ok);
    for v in &verdicts {
        if let (Some(m), Some(c)) = (v.measured, v.change_percent) {
            if !v.ok {
                println!(
                    "FAIL {}: {:.0} instructions/request, {c:+.1}% against the baseline {:.0} \
                     (allowed +{}%)",
                    v.test, m, v.baseline, base.tolerance_percent
                );
            } else if c < -base.tolerance_percent {
                println!(
                    "{}: {c:+.1}% below the baseline: consider `bash perf/gate.sh --update --why \"…\"`",
                    v.test
                );
            }
        } else {
            println!("FAIL {}: not measured", v.test);
        }
    }
    write_json(
        &a.json.unwrap_or_else(|| out.join("gate.json")),
        &GateReport {
            tool: "gate",
            baseline: &base,
            measured: &report,
            verdicts,
            passed,
        },
    )?;
    if passed {
        println!("perf gate: passed");
    } else {
        println!(
            "perf gate: FAILED. If the extra instructions are intended, regenerate the baseline \
             (bash perf/gate.sh --update --why \"…\") and say why in the commit message."
        );
    }
    Ok(passed)
}
