//! `flamegraph`: samples a server's stacks with `perf record` while a load runs (our own
//! `peregrine`, or any running process with `--pid`), then folds `perf script` output and
//! draws the SVG with inferno. When the CPU's cycle counter is not available (VMs often
//! have no PMU) perf falls back to, or is asked for, the `cpu-clock` software event; when
//! the kernel refuses perf events altogether the error says why and how to allow them.

use std::collections::HashMap;
use std::fs;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use inferno::collapse::perf::{Folder, Options as FoldOptions};
use inferno::collapse::Collapse;
use inferno::flamegraph::{self, Options as FlameOptions};
use peregrine_bench::harness::{self, Binaries, LoadResult, LoadSpec, Process};
use serde::Serialize;

use crate::table::Table;
use crate::workload::Test;

/// What to profile and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Profile this running process instead of starting `peregrine`.
    pub pid: Option<u32>,
    /// The URL to load (default: the started server's test path; none with `--pid`).
    pub url: Option<String>,
    pub test: Test,
    pub duration: Duration,
    pub connections: u32,
    pub pipeline_depth: u32,
    pub frequency: u32,
    /// `dwarf`, `fp` or `lbr`.
    pub call_graph: String,
    pub backend: String,
    pub threads: u32,
    pub server_cpus: Option<Vec<usize>>,
    pub load_cpus: Option<Vec<usize>>,
    pub output: PathBuf,
    pub work_dir: PathBuf,
    /// `perf script --no-inline` (faster, fewer frames).
    pub no_inline: bool,
    pub title: Option<String>,
    /// Frames narrower than this share of the samples (%) are left out.
    pub min_width: f64,
}

/// One function's share of the samples (weighted by the event's period: nanoseconds for
/// `cpu-clock`, cycles for `cycles`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameShare {
    pub function: String,
    pub weight: u64,
    pub percent: f64,
}

/// The report of a `flamegraph` run (also its JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub date: String,
    pub commit: Option<String>,
    pub pid: u32,
    pub event: String,
    pub frequency: u32,
    pub call_graph: String,
    pub duration_s: f64,
    pub samples: u64,
    /// The sum of the samples' periods (nanoseconds of CPU for `cpu-clock`).
    pub weight: u64,
    pub svg: PathBuf,
    pub folded: PathBuf,
    pub load: Option<LoadResult>,
    /// Share of the weight spent in the kernel (system calls, TCP, interrupts).
    pub kernel_percent: f64,
    /// Where the samples were taken (leaf frames).
    pub top_self: Vec<FrameShare>,
    /// Frames most often on the stack.
    pub top_total: Vec<FrameShare>,
}

impl Report {
    pub fn table(&self) -> String {
        let mut t = Table::new(["self %", "function (where samples landed)"]);
        for f in &self.top_self {
            t.row([format!("{:.1}", f.percent), f.function.clone()]);
        }
        format!(
            "{}kernel {:.1}%, user space {:.1}%\n",
            t.render(),
            self.kernel_percent,
            100.0 - self.kernel_percent
        )
    }
}

/// `name<generic args>` → `name`, keeping qualified paths (`<T as Trait>::f` keeps its
/// outer brackets, loses the arguments inside): Rust's inlined frames carry every type
/// parameter, which makes flame graph labels unreadable (and `->` inside them would be
/// taken for a Java inlining separator by the folder).
pub fn simplify_symbol(sym: &str) -> String {
    let mut out = String::with_capacity(sym.len());
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in sym.chars() {
        if depth > 0 {
            match c {
                '<' => depth += 1,
                '>' if prev != '-' => depth -= 1,
                _ => {}
            }
        } else if c == '<'
            && (prev.is_alphanumeric() || matches!(prev, '_' | '}' | ')' | ']' | '>'))
        {
            depth = 1;
        } else {
            out.push(c);
        }
        prev = c;
    }
    out.replace("->", "→")
}

/// What `perf script` output holds besides the stacks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScriptStats {
    pub samples: u64,
    /// Sum of the periods.
    pub weight: u64,
    /// Sum of the periods of samples taken in the kernel.
    pub kernel_weight: u64,
}

/// Simplifies the symbols of `perf script` output (see [`simplify_symbol`]) and counts
/// its samples, their weight and the kernel's part.
pub fn prepare_script(script: &[u8]) -> (String, ScriptStats) {
    let text = String::from_utf8_lossy(script);
    let mut out = String::with_capacity(text.len());
    let mut stats = ScriptStats::default();
    let mut period = 0;
    let mut first_frame = false;
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            // `comm pid time: period event:`
            let fields: Vec<&str> = line.split_whitespace().collect();
            period = fields
                .len()
                .checked_sub(2)
                .and_then(|i| fields[i].parse::<u64>().ok())
                .unwrap_or(1);
            stats.samples += 1;
            stats.weight += period;
            first_frame = true;
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // `\t addr symbol+0xoff (dso)`
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let (addr, rest) = trimmed.split_once(' ').unwrap_or((trimmed, ""));
        if first_frame {
            first_frame = false;
            let kernel = u64::from_str_radix(addr, 16).is_ok_and(|a| a >= 0xffff_0000_0000_0000)
                || rest.ends_with("([kernel.kallsyms])");
            if kernel {
                stats.kernel_weight += period;
            }
        }
        let (sym, dso) = match rest.rfind(" (") {
            Some(i) if rest.ends_with(')') => (&rest[..i], &rest[i..]),
            _ => (rest, ""),
        };
        out.push_str(indent);
        out.push_str(addr);
        out.push(' ');
        out.push_str(&simplify_symbol(sym));
        out.push_str(dso);
        out.push('\n');
    }
    (out, stats)
}

/// Leaf (self) and inclusive (total) weights per function from folded stacks
/// (`a;b;c 12` lines); the `k` largest of each, and the total weight.
pub fn top_frames(folded: &str, k: usize) -> (Vec<FrameShare>, Vec<FrameShare>, u64) {
    let mut own: HashMap<&str, u64> = HashMap::new();
    let mut total: HashMap<&str, u64> = HashMap::new();
    let mut weight = 0;
    for line in folded.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.trim().parse::<u64>() else {
            continue;
        };
        weight += count;
        let frames: Vec<&str> = stack.split(';').collect();
        if let Some(leaf) = frames.last() {
            *own.entry(leaf).or_default() += count;
        }
        let mut seen: Vec<&str> = Vec::with_capacity(frames.len());
        // The root frame is the thread's name: skip it for the inclusive view.
        for f in frames.iter().skip(1) {
            if !seen.contains(f) {
                seen.push(f);
                *total.entry(f).or_default() += count;
            }
        }
    }
    let top = |m: HashMap<&str, u64>| {
        let mut v: Vec<FrameShare> = m
            .into_iter()
            .map(|(f, n)| FrameShare {
                function: f.to_string(),
                weight: n,
                percent: if weight > 0 {
                    n as f64 * 100.0 / weight as f64
                } else {
                    0.0
                },
            })
            .collect();
        v.sort_by(|a, b| {
            b.weight
                .cmp(&a.weight)
                .then_with(|| a.function.cmp(&b.function))
        });
        v.truncate(k);
        v
    };
    (top(own), top(total), weight)
}

/// Folds `perf script` output into `stack count` lines.
pub fn fold(script: &[u8]) -> Result<String, String> {
    let mut opts = FoldOptions::default();
    opts.nthreads = 1;
    let mut folder = Folder::from(opts);
    let mut out = Vec::new();
    folder
        .collapse(BufReader::new(script), &mut out)
        .map_err(|e| format!("cannot fold perf script output: {e}"))?;
    String::from_utf8(out).map_err(|_| "folded stacks are not UTF-8".to_string())
}

/// Draws the flame graph of folded stacks as SVG; `event` names the weights (clock
/// events count nanoseconds, shown as milliseconds of CPU).
pub fn draw(
    folded: &str,
    title: &str,
    subtitle: &str,
    event: &str,
    min_width: f64,
) -> Result<Vec<u8>, String> {
    let mut opts = FlameOptions::default();
    opts.title = title.to_string();
    opts.subtitle = Some(subtitle.to_string());
    if event.starts_with("cpu-clock") || event.starts_with("task-clock") {
        opts.count_name = "ms of CPU".to_string();
        opts.factor = 1e-6;
    } else {
        opts.count_name = event.split(':').next().unwrap_or("samples").to_string();
    }
    opts.min_width = min_width;
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut opts, folded.lines(), &mut svg)
        .map_err(|e| format!("cannot draw the flame graph: {e}"))?;
    Ok(svg)
}

/// What to add to perf's own error message: why the kernel may refuse perf events and
/// how to allow them, when the message looks like a refusal; nothing otherwise.
pub fn explain(perf_output: &str) -> String {
    let o = perf_output.to_ascii_lowercase();
    let refused = !o.contains("failed to open")
        && [
            "perf_event_paranoid",
            "permission denied",
            "operation not permitted",
            "no permission",
            "access to performance monitoring",
            "perf_event_open",
            "not supported",
        ]
        .iter()
        .any(|k| o.contains(k));
    if refused {
        format!("\n\n{}", refusal_help())
    } else {
        String::new()
    }
}

/// Why perf events may be refused, for error messages.
pub fn refusal_help() -> String {
    let paranoid = fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    format!(
        "The kernel refused perf events (kernel.perf_event_paranoid = {paranoid}; at 2 an \
         unprivileged user may only profile their own processes, user space only). Run as \
         root, or allow them: sysctl kernel.perf_event_paranoid=1 (or -1); in a container, \
         perf_event_open must be allowed by its seccomp profile and CAP_PERFMON (or \
         CAP_SYS_ADMIN) granted."
    )
}

/// The `perf` binary, installed with apt-get (`linux-perf`) when missing, and working.
pub fn ensure_perf() -> Result<PathBuf, String> {
    let perf = harness::ensure_tool("perf", "linux-perf")?;
    let out = Command::new(&perf)
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", perf.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} does not run: {}(install the linux-perf package matching this kernel)",
            perf.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(perf)
}

/// Finds an event perf may sample with: its default (cycles, or its own fallback), then
/// `cpu-clock`. `None` = the default.
pub fn probe_event(perf: &Path, opts: &Options, work: &Path) -> Result<Option<String>, String> {
    let data = work.join("probe.data");
    let mut last = String::new();
    for event in [None, Some("cpu-clock")] {
        let mut cmd = Command::new(perf);
        cmd.arg("record")
            .args(["-F", &opts.frequency.to_string()])
            .args(["--call-graph", &opts.call_graph]);
        if let Some(e) = event {
            cmd.args(["-e", e]);
        }
        cmd.arg("-o").arg(&data).args(["--", "true"]);
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run perf: {e}"))?;
        let _ = fs::remove_file(&data);
        if out.status.success() {
            return Ok(event.map(str::to_string));
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Err(format!(
        "perf record does not work here, even with the cpu-clock software event:\n{last}{}",
        explain(&last)
    ))
}

/// Records, folds and draws.
pub fn run(bins: Option<&Binaries>, opts: &Options) -> Result<Report, String> {
    let work = usable_dir(&opts.work_dir)?;
    let perf = ensure_perf()?;
    let event = probe_event(&perf, opts, &work)?;

    // The target: a running process, or our server.
    let mut own_server = None;
    let (pid, url) = match opts.pid {
        Some(pid) => {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                return Err(format!("no process {pid}"));
            }
            (pid, opts.url.clone())
        }
        None => {
            let bins = bins.ok_or("no peregrine binary")?;
            let log = work.join("server.log");
            let port = harness::free_port()?;
            let mut cmd = Command::new(&bins.server);
            cmd.args(["--urls", &format!("http://127.0.0.1:{port}")])
                .args(["--threads", &opts.threads.max(1).to_string()])
                .args(["--backend", &opts.backend]);
            if let Some(cpus) = &opts.server_cpus {
                harness::pin_command(&mut cmd, cpus)?;
            }
            let mut p = Process::spawn("peregrine", &mut cmd, Some(&log))?;
            harness::wait_until_answers(
                &mut p,
                ([127, 0, 0, 1], port).into(),
                "/plaintext",
                Duration::from_secs(30),
            )?;
            let pid = p.pid();
            own_server = Some(p);
            let url = opts
                .url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}{}", opts.test.path()));
            (pid, Some(url))
        }
    };

    let data = work.join("perf.data");
    let _ = fs::remove_file(&data);
    let record_secs = opts.duration.as_secs_f64() + if url.is_some() { 0.5 } else { 0.0 };
    let mut cmd = Command::new(&perf);
    cmd.arg("record")
        .args(["-F", &opts.frequency.to_string()])
        .args(["--call-graph", &opts.call_graph]);
    if let Some(e) = &event {
        cmd.args(["-e", e]);
    }
    cmd.args(["-p", &pid.to_string()])
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep", &format!("{record_secs:.3}")]);
    let record_log = work.join("perf-record.log");
    eprintln!(
        "recording pid {pid} for {record_secs:.1} s ({} Hz, --call-graph {}{})",
        opts.frequency,
        opts.call_graph,
        event
            .as_deref()
            .map(|e| format!(", event {e}"))
            .unwrap_or_default()
    );
    let mut recorder = Process::spawn("perf record", &mut cmd, Some(&record_log))?;
    std::thread::sleep(Duration::from_millis(250));
    if let Some(status) = recorder.exited() {
        let log = recorder.log_tail(20);
        return Err(format!(
            "perf record failed ({status}):\n{log}{}",
            explain(&log)
        ));
    }
    let load = match &url {
        Some(url) => {
            let mut spec = LoadSpec::new(url.clone());
            spec.connections = opts.connections;
            spec.threads = 1;
            spec.duration = opts.duration;
            spec.pipeline = opts.test.pipeline(opts.pipeline_depth);
            spec.headers = harness::techempower_headers(opts.test == Test::Json);
            spec.cpus = opts.load_cpus.clone();
            let load_bin = match bins {
                Some(b) => b.load.clone(),
                None => return Err("no peregrine-load binary".to_string()),
            };
            let json = work.join("load.json");
            let (r, _) = harness::run_load(&load_bin, &spec, &json)?;
            Some(r)
        }
        None => None,
    };
    let status = recorder
        .wait_timeout(opts.duration + Duration::from_secs(120))
        .ok_or("perf record did not finish")?;
    if !status.success() {
        let log = recorder.log_tail(20);
        return Err(format!(
            "perf record failed ({status}):\n{log}{}",
            explain(&log)
        ));
    }
    if let Some(mut p) = own_server {
        p.stop(Duration::from_secs(10));
    }
    let used_event = evlist(&perf, &data).unwrap_or_else(|| event.clone().unwrap_or_default());

    eprintln!("perf script (resolving symbols)…");
    let mut script = Command::new(&perf);
    script.arg("script").arg("-i").arg(&data);
    if opts.no_inline {
        script.arg("--no-inline");
    }
    let out = script
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run perf script: {e}"))?;
    if !out.status.success() {
        return Err(format!("perf script failed ({})", out.status));
    }
    let (script_text, stats) = prepare_script(&out.stdout);
    let folded = fold(script_text.as_bytes())?;
    let samples = stats.samples;
    let (top_self, top_total, weight) = top_frames(&folded, 15);
    if weight == 0 {
        return Err(format!(
            "no samples of pid {pid}: it did not run on a CPU while recording (was it loaded?)"
        ));
    }
    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| match (&opts.pid, &url) {
            (None, _) => format!(
                "peregrine ({}), {} at {} connections{}",
                opts.backend,
                opts.test.name(),
                opts.connections,
                if opts.test == Test::PlaintextPipelined {
                    format!(", pipeline {}", opts.pipeline_depth)
                } else {
                    String::new()
                }
            ),
            (Some(pid), _) => format!("pid {pid}"),
        });
    let subtitle = format!(
        "{samples} samples of {used_event} at {} Hz over {:.1} s, --call-graph {}",
        opts.frequency, record_secs, opts.call_graph
    );
    let svg = draw(&folded, &title, &subtitle, &used_event, opts.min_width)?;
    if let Some(dir) = opts.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    fs::write(&opts.output, &svg)
        .map_err(|e| format!("cannot write {}: {e}", opts.output.display()))?;
    let folded_path = opts.output.with_extension("folded");
    fs::write(&folded_path, &folded)
        .map_err(|e| format!("cannot write {}: {e}", folded_path.display()))?;
    Ok(Report {
        tool: "flamegraph",
        date: harness::utc_now(),
        commit: harness::git_commit(&harness::workspace_root()),
        pid,
        event: used_event,
        frequency: opts.frequency,
        call_graph: opts.call_graph.clone(),
        duration_s: record_secs,
        samples,
        weight,
        kernel_percent: if stats.weight > 0 {
            stats.kernel_weight as f64 * 100.0 / stats.weight as f64
        } else {
            0.0
        },
        svg: opts.output.clone(),
        folded: folded_path,
        load,
        top_self,
        top_total,
    })
}

/// `dir`, created, when we may write in it; else a directory of our own under the
/// system's temporary directory.
fn usable_dir(dir: &Path) -> Result<PathBuf, String> {
    let writable = |d: &Path| {
        fs::create_dir_all(d).is_ok() && {
            let probe = d.join(format!(".write-test-{}", std::process::id()));
            let ok = fs::write(&probe, b"").is_ok();
            let _ = fs::remove_file(&probe);
            ok
        }
    };
    if writable(dir) {
        return Ok(dir.to_path_buf());
    }
    let tmp = std::env::temp_dir().join(format!("peregrine-perf-{}", std::process::id()));
    if writable(&tmp) {
        eprintln!(
            "{} is not writable: working in {}",
            dir.display(),
            tmp.display()
        );
        Ok(tmp)
    } else {
        Err(format!(
            "cannot write in {} nor in {}",
            dir.display(),
            tmp.display()
        ))
    }
}

/// The event recorded in `data` (`perf evlist`), e.g. `cpu-clock:ppp`.
fn evlist(perf: &Path, data: &Path) -> Option<String> {
    let out = Command::new(perf)
        .arg("evlist")
        .arg("-i")
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty() && !l.contains("dummy"))
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCRIPT: &str = "peregrine-w0 24330  2892.481366:    1001001 cpu-clock:ppp: 
\t          10a887 __GI___getsockname+0x7 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           9e5c1 monoio::task::raw::poll+0x881 (/x/peregrine)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

peregrine-w0 24330  2892.482875:    1001001 cpu-clock:ppp: 
\t          101829 syscall+0x19 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           9e5c1 monoio::task::raw::poll+0x881 (/x/peregrine)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

peregrine-w0 24330  2892.484199:    1001001 cpu-clock:ppp: 
\t          101829 syscall+0x19 (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t           9e5c1 monoio::task::raw::poll+0x881 (/x/peregrine)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

peregrine-w0 24330  2892.485199:    1001001 cpu-clock:ppp: 
\tffffffff81e2f652 sock_sendmsg+0x92 ([kernel.kallsyms])
\t           9e5c1 poll<peregrine::worker::start_conn::{async_block_env#0}<fn(peregrine::request::Request) -> peregrine::app::handle::{async_fn_env#0}>>+0x2606 (inlined)
\t           9e5c1 {closure#0}<fn(a::B) -> c::D<E>>+0x881 (inlined)
\t          1098eb clone3+0x2b (/usr/lib/x86_64-linux-gnu/libc.so.6)

";

    #[test]
    fn simplifies_rust_symbols() {
        assert_eq!(
            simplify_symbol("monoio::task::raw::poll+0x881"),
            "monoio::task::raw::poll+0x881"
        );
        assert_eq!(
            simplify_symbol("poll<peregrine::worker::start_conn::{async_block_env#0}<fn(peregrine::request::Request) -> peregrine::app::handle::{async_fn_env#0}>>+0x2606"),
            "poll+0x2606"
        );
        assert_eq!(
            simplify_symbol("<alloc::boxed::Box<dyn core::ops::function::FnOnce<(), Output = ()> + core::marker::Send> as core::ops::function::FnOnce<()>>::call_once"),
            "<alloc::boxed::Box as core::ops::function::FnOnce>::call_once"
        );
        assert_eq!(simplify_symbol("{closure#0}<fn(a) -> b>"), "{closure#0}");
        assert_eq!(simplify_symbol("f() -> g"), "f() → g");
        assert_eq!(simplify_symbol("a<b<c"), "a");
    }

    #[test]
    fn folds_and_ranks_perf_script_output() {
        let (text, stats) = prepare_script(SCRIPT.as_bytes());
        assert_eq!(
            stats,
            ScriptStats {
                samples: 4,
                weight: 4 * 1_001_001,
                kernel_weight: 1_001_001
            }
        );
        let folded = fold(text.as_bytes()).unwrap();
        assert!(
            folded.contains("peregrine-w0;clone3;monoio::task::raw::poll;syscall 2"),
            "{folded}"
        );
        // Weighted by the period: 1001001 ns of cpu-clock per sample.
        let (own, total, weight) = top_frames(&folded, 5);
        assert_eq!(weight, 4 * 1_001_001);
        assert_eq!(own[0].function, "syscall");
        assert_eq!(own[0].weight, 2 * 1_001_001);
        assert!((own[0].percent - 50.0).abs() < 0.01);
        assert_eq!(total[0].weight, 4 * 1_001_001);
        assert!(
            folded.contains(";{closure#0};poll;sock_sendmsg 1001001"),
            "{folded}"
        );
        assert!(total.iter().all(|f| f.function != "peregrine-w0"));
        let svg = draw(&folded, "title", "sub", "cpu-clock:ppp", 0.1).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("monoio::task::raw::poll"));
        assert!(svg.contains("ms of CPU"), "{svg}");
    }

    #[test]
    fn ranks_ignore_junk_lines() {
        let (own, total, weight) = top_frames("a;b 3\nnot a line\na;b;b 1\na;c x\n", 1);
        assert_eq!(weight, 4);
        assert_eq!(
            own,
            vec![FrameShare {
                function: "b".into(),
                weight: 4,
                percent: 100.0
            }]
        );
        // b counted once per stack even when it recurses.
        assert_eq!(total[0].weight, 4);
    }

    #[test]
    fn explains_refusals_only() {
        assert!(explain("Error: No permission to enable cpu-clock event.")
            .contains("perf_event_paranoid"));
        assert!(explain("perf_event_open(..., PERF_FLAG_FD_CLOEXEC) failed with unexpected error 1 (Operation not permitted)").contains("sysctl"));
        assert_eq!(explain("failed to open perf.data : Permission denied"), "");
        assert_eq!(explain("Workload failed: No such file or directory"), "");
    }

    #[test]
    fn empty_profiles_draw_nothing() {
        assert_eq!(fold(b"").unwrap(), "");
        assert_eq!(top_frames("", 3).2, 0);
    }
}
