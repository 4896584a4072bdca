//! What the TechEmpower-style runner and `peregrine-perf` share: finding (and building)
//! the `peregrine` and `peregrine-load` binaries, starting servers on a free port and
//! waiting until they answer, pinning child processes to CPUs, the CPU time of a process
//! tree, and small parsers (durations, CPU lists, dates). Driving `peregrine-load` and
//! reading its report is `load.rs`.
//!
//! Every child process is owned by a [`Process`], which kills it (by PID) when dropped,
//! so an error or a panic never leaves a server behind.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

mod load;
pub use load::*;

/// The workspace this crate was built from (the parent of `bench/`), when it still
/// exists; otherwise the current directory.
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    if root.join("Cargo.toml").is_file() && root.join("engine").is_dir() {
        root.canonicalize().unwrap_or(root)
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
    }
}

/// The cargo to run: the one that runs us (`$CARGO`) or `cargo` from `PATH`.
pub fn cargo() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

/// `cargo build --release -p …` in `dir` (a workspace), output passed through.
pub fn cargo_build_release(dir: &Path, packages: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(dir).args(["build", "--release"]);
    for p in packages {
        cmd.args(["-p", p]);
    }
    eprintln!(
        "building: cargo build --release -p {} (in {})",
        packages.join(" -p "),
        dir.display()
    );
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run cargo ({e}); pass the binaries' paths instead"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("cargo build failed ({status})"))
    }
}

/// The server under test and the load generator.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub server: PathBuf,
    pub load: PathBuf,
}

/// Finds `peregrine` and `peregrine-load`: the given paths, else `target/release/` of the
/// workspace, built first with cargo unless `build` is false (then they must exist).
pub fn locate_binaries(
    server: Option<PathBuf>,
    load: Option<PathBuf>,
    build: bool,
) -> Result<Binaries, String> {
    let root = workspace_root();
    let release = target_dir(&root).join("release");
    let mut packages = Vec::new();
    if server.is_none() {
        packages.push("peregrine-cli");
    }
    if load.is_none() {
        packages.push("peregrine-load");
    }
    if build && !packages.is_empty() {
        cargo_build_release(&root, &packages)?;
    }
    let server = server.unwrap_or_else(|| release.join("peregrine"));
    let load = load.unwrap_or_else(|| release.join("peregrine-load"));
    for bin in [&server, &load] {
        if !bin.is_file() {
            return Err(format!(
                "{} does not exist (build it: cargo build --release -p peregrine-cli -p peregrine-load)",
                bin.display()
            ));
        }
    }
    Ok(Binaries { server, load })
}

/// Finds `peregrine-load` alone (as [`locate_binaries`]).
pub fn locate_load(load: Option<PathBuf>, build: bool) -> Result<PathBuf, String> {
    if let Some(l) = load {
        return if l.is_file() {
            Ok(l)
        } else {
            Err(format!("{} does not exist", l.display()))
        };
    }
    let root = workspace_root();
    if build {
        cargo_build_release(&root, &["peregrine-load"])?;
    }
    let l = target_dir(&root).join("release").join("peregrine-load");
    if l.is_file() {
        Ok(l)
    } else {
        Err(format!(
            "{} does not exist (build it: cargo build --release -p peregrine-load)",
            l.display()
        ))
    }
}

/// `$CARGO_TARGET_DIR` or `ROOT/target`.
pub fn target_dir(root: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        }
        None => root.join("target"),
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16, String> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port on 127.0.0.1: {e}"))
}

/// Whether `name` is an executable in `PATH` (or an existing path).
pub fn have_tool(name: &str) -> bool {
    find_tool(name).is_some()
}

/// The path of executable `name` from `PATH` (plus `/usr/sbin` and `/sbin`).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let p = PathBuf::from(name);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Makes sure `tool` exists, installing Debian `package` with apt-get when it does not
/// and we are root; otherwise a clear error naming the package.
pub fn ensure_tool(tool: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(p) = find_tool(tool) {
        return Ok(p);
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root || !have_tool("apt-get") {
        return Err(format!(
            "`{tool}` is not installed; install it (apt-get install {package}) and run again"
        ));
    }
    eprintln!("`{tool}` is missing: apt-get install -y {package}");
    let _ = Command::new("apt-get")
        .args(["update", "-qq"])
        .stdout(Stdio::null())
        .status();
    let status = Command::new("apt-get")
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    if !status.success() {
        return Err(format!(
            "apt-get install {package} failed ({status}); install it and run again"
        ));
    }
    find_tool(tool).ok_or_else(|| format!("`{tool}` still missing after installing {package}"))
}

/// Parses a CPU list as taskset takes it: `0`, `0,2`, `0-3`.
pub fn parse_cpu_list(s: &str) -> Result<Vec<usize>, String> {
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("bad CPU list `{s}` (expected e.g. 0 or 0,2 or 0-3)");
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().map_err(|_| bad())?;
                let b: usize = b.trim().parse().map_err(|_| bad())?;
                if a > b {
                    return Err(bad());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cpus.is_empty() {
        return Err(format!("empty CPU list `{s}`"));
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; sched_getaffinity fills it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Vec::new();
        }
        (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .collect()
    }
}

/// Runs `cmd`'s process on `cpus` only (sched_setaffinity between fork and exec, as
/// `taskset` does). Fails if a CPU is not available to us.
pub fn pin_command(cmd: &mut Command, cpus: &[usize]) -> Result<(), String> {
    let allowed = allowed_cpus();
    if let Some(c) = cpus.iter().find(|c| !allowed.contains(c)) {
        return Err(format!(
            "CPU {c} is not available (this process may use {allowed:?}); pick others or pass --no-pin"
        ));
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays in bounds (checked
    // against the allowed CPUs, all below CPU_SETSIZE).
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        set
    };
    // SAFETY: the closure only makes the async-signal-safe sched_setaffinity system call
    // on a set copied into it; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Ok(())
}

/// A child process, killed (SIGKILL, by PID) and reaped when dropped.
#[derive(Debug)]
pub struct Process {
    child: Child,
    name: String,
    log: Option<PathBuf>,
}

impl Process {
    /// Spawns `cmd` with stdin closed and stdout + stderr appended to `log` (or discarded).
    pub fn spawn(name: &str, cmd: &mut Command, log: Option<&Path>) -> Result<Process, String> {
        cmd.stdin(Stdio::null());
        match log {
            Some(path) => {
                let file = fs::File::create(path)
                    .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
                let err = file
                    .try_clone()
                    .map_err(|e| format!("cannot use {}: {e}", path.display()))?;
                cmd.stdout(file).stderr(err);
            }
            None => {
                cmd.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", cmd.get_program()))?;
        Ok(Process {
            child,
            name: name.to_string(),
            log: log.map(Path::to_path_buf),
        })
    }

    /// Takes ownership of a child started elsewhere.
    pub fn adopt(name: &str, child: Child) -> Process {
        Process {
            child,
            name: name.to_string(),
            log: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        let Some(path) = &self.log else {
            return String::new();
        };
        let text = fs::read_to_string(path).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        let start = all.len().saturating_sub(lines);
        all[start..].join("\n")
    }

    /// Sends `signal` (e.g. `libc::SIGINT`) to the process.
    pub fn signal(&self, signal: i32) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            // SAFETY: kill has no memory-safety preconditions; the PID is our unreaped child.
            unsafe {
                libc::kill(pid, signal);
            }
        }
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then SIGKILL after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        if self.exited().is_some() {
            return;
        }
        self.signal(libc::SIGTERM);
        if self.wait_timeout(grace).is_none() {
            self.kill();
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if self.exited().is_none() {
            self.kill();
        }
    }
}

/// Waits until `GET path` on `addr` answers with any HTTP status line, the process still
/// running; returns how long it took.
pub fn wait_until_answers(
    process: &mut Process,
    addr: SocketAddr,
    path: &str,
    timeout: Duration,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        if let Some(status) = process.exited() {
            return Err(format!(
                "{} exited ({status}) before answering on {addr}:\n{}",
                process.name(),
                process.log_tail(15)
            ));
        }
        if answers(addr, path) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > timeout {
            return Err(format!(
                "{} did not answer GET {path} on {addr} within {timeout:?}:\n{}",
                process.name(),
                process.log_tail(15)
            ));
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn answers(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 16];
    let mut got = 0;
    while got < 9 {
        match stream.read(&mut buf[got..]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => got += n,
        }
    }
    buf.starts_with(b"HTTP/1.")
}

/// User + system CPU seconds of `pid` and all its live descendants (from `/proc`), e.g.
/// nginx's workers; `None` if `pid` is gone.
pub fn process_tree_cpu_seconds(pid: u32) -> Option<f64> {
    let ticks = clock_ticks();
    let own = proc_stat(pid)?;
    let mut total = own.utime + own.stime;
    let mut tree = vec![pid];
    // Children of processes in the tree, breadth first (a few levels at most).
    let all: Vec<(u32, ProcStat)> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| Some((p, proc_stat(p)?)))
        .collect();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        for (p, st) in &all {
            if st.ppid == parent && !tree.contains(p) {
                tree.push(*p);
                total += st.utime + st.stime;
            }
        }
        i += 1;
    }
    Some(total as f64 / ticks)
}

/// CPU seconds the whole machine has been busy (all CPUs, from the first line of
/// `/proc/stat`: user, nice, system, irq, softirq, steal; not idle nor iowait).
pub fn machine_busy_seconds() -> Option<f64> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    parse_machine_busy(text.lines().next()?).map(|t| t as f64 / clock_ticks())
}

fn parse_machine_busy(line: &str) -> Option<u64> {
    let mut f = line.split_whitespace();
    if f.next()? != "cpu" {
        return None;
    }
    let v: Vec<u64> = f.map(|x| x.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice] (guest time is
    // already in user).
    Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0))
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ProcStat {
    ppid: u32,
    utime: u64,
    stime: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    parse_proc_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Fields of `/proc/PID/stat` after the command name (which may hold spaces and parens).
fn parse_proc_stat(text: &str) -> Option<ProcStat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
    Some(ProcStat {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// Parses `5s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let value: f64 = num
        .parse()
        .map_err(|_| format!("bad duration `{s}` (expected e.g. 5s, 500ms, 2m)"))?;
    let secs = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("bad duration unit in `{s}` (ms, s or m)")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("bad duration `{s}`"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `peregrine-load`'s argument for a duration (`1500ms`).
pub fn duration_arg(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// The current UTC time as `2024-05-01T12:34:56Z`.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    format_utc(secs)
}

/// `secs` since the epoch as `2024-05-01T12:34:56Z`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 → (year, month, day) (Howard Hinnant's algorithm).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What the machine is, for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
}

/// This machine's CPU count and model (`/proc/cpuinfo`) and kernel release.
pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    Machine {
        cpus: thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        cpu_model: cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string()),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
    }
}

/// `net.core.somaxconn`: the kernel caps every listen backlog at it.
pub fn somaxconn() -> Option<u32> {
    fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The workspace's `git rev-parse HEAD`, if it is a git checkout.
pub fn git_commit(root: &Path) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(["rev-parse", "HEAD"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

/// The first line of `program --version` (e.g. `valgrind-3.19.0`).
pub fn tool_version(program: &str, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
}

/// Raises this process's open-files limit to its hard limit (children inherit it), for
/// thousands of connections; returns the new soft limit.
pub fn raise_open_files_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            let mut raised = lim;
            raised.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                return raised.rlim_cur as u64;
            }
        }
        lim.rlim_cur as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0").unwrap(), vec![0]);
        assert_eq!(parse_cpu_list("1,0, 3").unwrap(), vec![0, 1, 3]);
        assert_eq!(parse_cpu_list("0-2,2").unwrap(), vec![0, 1, 2]);
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("2-1").is_err());
        assert!(parse_cpu_list("a").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("s").is_err());
        assert_eq!(duration_arg(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        for days in [-1000, 0, 59, 60, 11_016, 19_675, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn proc_stat_fields() {
        let line = "1234 (my (odd) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 30 0 0 20 0 3 0";
        assert_eq!(
            parse_proc_stat(line),
            Some(ProcStat {
                ppid: 1,
                utime: 250,
                stime: 30
            })
        );
        assert_eq!(parse_proc_stat("garbage"), None);
        assert_eq!(
            parse_machine_busy("cpu  100 5 50 1000 7 3 2 1 0 0"),
            Some(100 + 5 + 50 + 3 + 2 + 1)
        );
        assert_eq!(parse_machine_busy("cpu0 1 2 3 4 5 6 7 8"), None);
        assert_eq!(parse_machine_busy("cpu 1 2"), None);
        assert!(machine_busy_seconds().is_some());
        assert!(process_tree_cpu_seconds(std::process::id()).is_some());
    }

    #[test]
    fn pinned_child_runs_on_its_cpu() {
        let cpu = allowed_cpus()[0];
        let mut cmd = Command::new("cat");
        cmd.arg("/proc/self/status");
        pin_command(&mut cmd, &[cpu]).unwrap();
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find(|l| l.starts_with("Cpus_allowed_list:"))
            .unwrap();
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(cpu.to_string().as_str())
        );
        assert!(pin_command(&mut Command::new("true"), &[100_000]).is_err());
    }
}
