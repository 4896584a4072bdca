//! Shared harness for the integration tests: starts the real `peregrine` binary, waits
//! (bounded) for it to report its addresses, and talks to it through real sockets.
//!
//! - [`Server::start`] spawns the binary with `--backend B --no-pin` (and `--threads 1`
//!   unless the test asks otherwise), reads stdout on a thread until
//!   `Application started`, and collects the `Now listening on:` addresses. Dropping the
//!   [`Server`] kills the child.
//! - [`run_to_exit`] runs the binary when it is expected to stop by itself (bad
//!   configuration, bind failures) and returns its status and output.
//! - [`Client`] sends raw bytes over TCP or a unix socket and parses responses
//!   (Content-Length, chunked or close-delimited bodies), every read bounded by a timeout.
//! - [`curl`] runs curl with `--max-time`.
//! - [`both_backends!`] turns `fn case(backend: Backend)` into one `#[test]` per backend.
//! - [`probe`]: descriptors and memory of a server process, its `/metrics`, bounded
//!   polling, the exact shape of the server's own error answers.
//! - [`inproc`]: an in-process server running a handler written in the test.
//! - [`tls`]: certificates made per test (`openssl`), a rustls client on [`Client`],
//!   `openssl s_client`, hand-built ClientHello records.
//!
//! Nothing here sleeps to wait for an event it can wait on: stdout and stderr are read by
//! threads that hand lines over through a channel or a condition variable, and every wait
//! has a deadline. Process exit is the one thing polled (`try_wait` every 10 ms).

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub mod inproc;
pub mod mixed;
pub mod nginx;
pub mod probe;
pub mod tls;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_peregrine");
/// How long the server may take to print `Application started`.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Read/write timeout on client sockets.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a process may take to exit once it should.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// The line printed once the server accepts connections.
pub const STARTED: &str = "Application started. Press Ctrl+C to shut down.";
/// The prefix of each address line.
pub const LISTENING: &str = "Now listening on: ";

/// Generate one `#[test]` per backend from `fn body(backend: Backend)`: a module `name`
/// with the tests `io_uring` and `epoll` (so `cargo test name::epoll` or
/// `cargo test io_uring` pick them out).
///
/// `both_backends!(name, body, ignore_epoll = "BUG: ...")` marks the epoll test ignored
/// (a known engine bug on that backend only), `ignore_io_uring = "..."` the io_uring
/// one; `ignore = "..."` marks both.
#[allow(unused_macros)]
macro_rules! both_backends {
    ($name:ident, $body:ident, ignore_epoll = $why:literal) => {
        mod $name {
            #[test]
            fn io_uring() {
                super::$body($crate::common::Backend::IoUring)
            }

            #[test]
            #[ignore = $why]
            fn epoll() {
                super::$body($crate::common::Backend::Epoll)
            }
        }
    };
    ($name:ident, $body:ident, ignore_io_uring = $why:literal) => {
        mod $name {
            #[test]
            #[ignore = $why]
            fn io_uring() {
                super::$body($crate::common::Backend::IoUring)
            }

            #[test]
            fn epoll() {
                super::$body($crate::common::Backend::Epoll)
            }
        }
    };
    ($name:ident, $body:ident, ignore = $why:literal) => {
        mod $name {
            #[test]
            #[ignore = $why]
            fn io_uring() {
                super::$body($crate::common::Backend::IoUring)
            }

            #[test]
            #[ignore = $why]
            fn epoll() {
                super::$body($crate::common::Backend::Epoll)
            }
        }
    };
    ($name:ident, $body:ident) => {
        mod $name {
            #[test]
            fn io_uring() {
                super::$body($crate::common::Backend::IoUring)
            }

            #[test]
            fn epoll() {
                super::$body($crate::common::Backend::Epoll)
            }
        }
    };
}

/// The I/O backend a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `--backend io-uring`
    IoUring,
    /// `--backend epoll`
    Epoll,
}

impl Backend {
    /// The `--backend` value.
    pub fn arg(self) -> &'static str {
        match self {
            Backend::IoUring => "io-uring",
            Backend::Epoll => "epoll",
        }
    }
}

/// The binary as a command: `args`, plus `--backend B` when given, `--no-pin`, and
/// `--threads 1` unless `args` choose; no inherited `PEREGRINE_*` variables; stdin null,
/// stdout and stderr piped.
pub fn command(backend: Option<Backend>, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    if let Some(b) = backend {
        cmd.args(["--backend", b.arg()]);
    }
    if !args.contains(&"--threads") {
        cmd.args(["--threads", "1"]);
    }
    if !args.contains(&"--no-pin") {
        cmd.arg("--no-pin");
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("PEREGRINE_") {
            cmd.env_remove(k);
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Lines a child wrote to stderr, shared with the thread reading them.
#[derive(Default)]
struct Lines {
    state: Mutex<(Vec<String>, bool)>,
    changed: Condvar,
}

impl Lines {
    fn collect(self: &Arc<Self>, pipe: impl Read + Send + 'static) -> JoinHandle<()> {
        let me = self.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                let mut st = me.state.lock().unwrap();
                st.0.push(line);
                me.changed.notify_all();
            }
            me.state.lock().unwrap().1 = true;
            me.changed.notify_all();
        })
    }

    fn text(&self) -> String {
        self.state.lock().unwrap().0.join("\n")
    }

    /// Wait (bounded) until the pipe has closed.
    fn wait_eof(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        while !st.1 {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap().0;
        }
    }

    /// Wait until some line contains `needle` (true) or the deadline passes / the pipe
    /// closes without it (false).
    fn wait_for(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_for_from(0, needle, timeout).is_some()
    }

    /// How many lines have arrived.
    fn count(&self) -> usize {
        self.state.lock().unwrap().0.len()
    }

    /// Wait until a line from index `from` on contains `needle`: its index, or `None` if
    /// the deadline passes / the pipe closes without it.
    fn wait_for_from(&self, from: usize, needle: &str, timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        let mut st = self.state.lock().unwrap();
        loop {
            if let Some(i) = st.0.iter().skip(from).position(|l| l.contains(needle)) {
                return Some(from + i);
            }
            let now = Instant::now();
            if st.1 || now >= deadline {
                return None;
            }
            st = self.changed.wait_timeout(st, deadline - now).unwrap().0;
        }
    }
}

/// A started server; killed when dropped.
pub struct Server {
    child: Child,
    /// The addresses printed, e.g. `http://127.0.0.1:43567`, in order.
    pub urls: Vec<String>,
    /// Every stdout line up to and including `Application started...`.
    pub stdout: Vec<String>,
    stderr: Arc<Lines>,
    exit: Option<ExitStatus>,
}

/// How a server failed to start.
#[derive(Debug)]
pub struct StartFailure {
    /// The exit status.
    pub status: ExitStatus,
    /// Stdout lines.
    pub stdout: Vec<String>,
    /// Stderr text.
    pub stderr: String,
}

impl Server {
    /// Start the binary with `args` on `backend`; panics (with its stderr) if it does not
    /// start within [`STARTUP_TIMEOUT`].
    pub fn start(backend: Backend, args: &[&str]) -> Server {
        Server::spawn(command(Some(backend), args)).unwrap_or_else(|f| {
            panic!(
                "the server did not start ({}):\nstdout: {:?}\nstderr:\n{}",
                f.status, f.stdout, f.stderr
            )
        })
    }

    /// Spawn `cmd` (see [`command`]) and wait until it reports it started; `Err` if it
    /// exits first.
    pub fn spawn(mut cmd: Command) -> Result<Server, StartFailure> {
        let mut child = cmd.spawn().expect("spawn the peregrine binary");
        let stderr = Arc::new(Lines::default());
        stderr.collect(child.stderr.take().expect("piped stderr"));
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut stdout = Vec::new();
        let mut urls = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix(LISTENING) {
                        urls.push(url.to_string());
                    }
                    let done = line == STARTED;
                    stdout.push(line);
                    if done {
                        return Ok(Server {
                            child,
                            urls,
                            stdout,
                            stderr,
                            exit: None,
                        });
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    // Stdout closed before the start line: the process is exiting.
                    let status = wait_exit(&mut child, EXIT_TIMEOUT).unwrap_or_else(|| {
                        let _ = child.kill();
                        panic!(
                            "the server closed stdout but did not exit; stderr:\n{}",
                            stderr.text()
                        )
                    });
                    // Let the stderr reader reach the end of the pipe.
                    stderr.wait_eof(EXIT_TIMEOUT);
                    return Err(StartFailure {
                        status,
                        stdout,
                        stderr: stderr.text(),
                    });
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "the server did not print '{STARTED}' within {STARTUP_TIMEOUT:?}\nstdout: {stdout:?}\nstderr:\n{}",
                        stderr.text()
                    );
                }
            }
        }
    }

    /// The process id.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Wait (bounded) until a stderr line contains `needle`.
    pub fn wait_stderr(&self, needle: &str, timeout: Duration) -> bool {
        self.stderr.wait_for(needle, timeout)
    }

    /// How many stderr lines have arrived (a mark for [`Server::wait_stderr_from`]).
    pub fn stderr_lines(&self) -> usize {
        self.stderr.count()
    }

    /// Wait (bounded) until a stderr line from index `from` on contains `needle`: its
    /// index, or `None` after `timeout` (or when stderr closed without it).
    pub fn wait_stderr_from(&self, from: usize, needle: &str, timeout: Duration) -> Option<usize> {
        self.stderr.wait_for_from(from, needle, timeout)
    }

    /// The `i`th printed address as an IP socket address (`http://127.0.0.1:43567` or
    /// `https://...`).
    pub fn tcp_addr(&self, i: usize) -> SocketAddr {
        let url = &self.urls[i];
        url.strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("not an IP address: {url}"))
    }

    /// The port of the `i`th printed address.
    pub fn port(&self, i: usize) -> u16 {
        let url = &self.urls[i];
        url.rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or_else(|| panic!("no port in {url}"))
    }

    /// The socket path of the `i`th printed address (`http://unix:/tmp/x.sock` or
    /// `https://unix:...`).
    pub fn unix_path(&self, i: usize) -> PathBuf {
        let url = &self.urls[i];
        PathBuf::from(
            url.strip_prefix("http://unix:")
                .or_else(|| url.strip_prefix("https://unix:"))
                .unwrap_or_else(|| panic!("not a unix address: {url}")),
        )
    }

    /// Whether the `i`th printed address is a unix socket.
    pub fn is_unix(&self, i: usize) -> bool {
        self.urls[i].contains("://unix:")
    }

    /// A client connected to the `i`th printed address (IP or unix), in cleartext (also
    /// to an `https://` address: see [`Server::connect_tls`] for TLS).
    pub fn connect(&self, i: usize) -> Client {
        if self.is_unix(i) {
            Client::unix(&self.unix_path(i))
        } else {
            Client::tcp(self.tcp_addr(i))
        }
    }

    /// Send `sig` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) with our own child's pid has no memory-safety implications.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.pid());
    }

    /// Stop the process (`SIGSTOP`) and wait until every one of its threads is stopped:
    /// the signal is delivered asynchronously, and a thread still running could take
    /// part of what the caller queues next.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
        let tasks = format!("/proc/{}/task", self.pid());
        let all_stopped = || {
            std::fs::read_dir(&tasks)
                .ok()?
                .flatten()
                .all(|t| {
                    std::fs::read_to_string(t.path().join("stat"))
                        .ok()
                        .and_then(|s| {
                            let state = s.rsplit_once(") ")?.1.chars().next()?;
                            Some(state == 'T' || state == 't')
                        })
                        .unwrap_or(true)
                })
                .then_some(())
        };
        probe::wait_until(IO_TIMEOUT, "the server to stop", all_stopped, String::new);
    }

    /// Wait for the process to exit; panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(s) = self.exit {
            self.stderr.wait_eof(EXIT_TIMEOUT);
            return s;
        }
        match wait_exit(&mut self.child, timeout) {
            Some(s) => {
                self.exit = Some(s);
                // Let the reader thread take in the last lines.
                self.stderr.wait_eof(EXIT_TIMEOUT);
                s
            }
            None => panic!(
                "the server did not exit within {timeout:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    /// Graceful stop: SIGTERM, then wait for a successful exit (the engine removes its
    /// unix socket files; a kill would leave them behind).
    pub fn stop(mut self) {
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(EXIT_TIMEOUT);
        assert!(
            status.success(),
            "exit status {status} after SIGTERM; stderr:\n{}",
            self.stderr()
        );
    }

    /// The exit status, if the process has exited (without waiting, and without waiting
    /// for stderr to close, which a process it left behind may keep open).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.has_exited();
        self.exit
    }

    /// Whether the process has exited (without waiting).
    pub fn has_exited(&mut self) -> bool {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().expect("try_wait");
        }
        self.exit.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exit.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Poll a child for exit every 10 ms until `timeout` (process exit is the one event we
/// cannot block on with a deadline).
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A process that ran to its end.
#[derive(Debug)]
pub struct Finished {
    /// Exit status.
    pub status: ExitStatus,
    /// Stdout text.
    pub stdout: String,
    /// Stderr text.
    pub stderr: String,
}

impl Finished {
    /// The lines of stderr that start with `error:`.
    pub fn error_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .collect()
    }

    /// Assert a failed start: non-zero exit, exactly one `error: ...` line on stderr that
    /// contains `needle`, nothing listening reported on stdout. Returns the error line.
    pub fn assert_error(&self, needle: &str) -> String {
        assert!(
            !self.status.success(),
            "expected a failure, got {}; stdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        let errors = self.error_lines();
        assert_eq!(
            errors.len(),
            1,
            "expected exactly one 'error:' line on stderr:\n{}",
            self.stderr
        );
        assert!(
            errors[0].contains(needle),
            "the error line does not mention {needle:?}: {}",
            errors[0]
        );
        assert!(
            !self.stdout.contains(LISTENING) && !self.stdout.contains(STARTED),
            "a failed start printed addresses:\n{}",
            self.stdout
        );
        errors[0].to_string()
    }
}

/// Run `cmd` to its end (bounded by `timeout`; killed and a panic after that).
pub fn run_cmd_to_exit(mut cmd: Command, timeout: Duration) -> Finished {
    let mut child = cmd.spawn().expect("spawn the peregrine binary");
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let status = match wait_exit(&mut child, timeout) {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let stdout = out_t.join().unwrap_or_default();
            let stderr = err_t.join().unwrap_or_default();
            panic!(
                "the process did not exit within {timeout:?}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            );
        }
    };
    Finished {
        status,
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// Run the binary with `args` (and `--backend B` when given) to its end.
pub fn run_to_exit(backend: Option<Backend>, args: &[&str]) -> Finished {
    run_cmd_to_exit(command(backend, args), Duration::from_secs(20))
}

// ---------------------------------------------------------------------------------------
// Ports and paths
// ---------------------------------------------------------------------------------------

/// Whether this machine has an IPv6 loopback.
pub fn ipv6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// Print why a test is skipped (cargo shows it with `--nocapture`).
pub fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// A port that is free on every address right now (`[::]`, `0.0.0.0`, both loopbacks):
/// bind port 0 on one family, check the same port on the other, release both.
pub fn free_port() -> u16 {
    let v6 = ipv6_available();
    for _ in 0..100 {
        let Ok(l4) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let port = l4.local_addr().unwrap().port();
        let l6 = if v6 {
            match TcpListener::bind(("::1", port)) {
                Ok(l) => Some(l),
                Err(_) => continue,
            }
        } else {
            None
        };
        drop((l4, l6));
        // The wildcard addresses too (for `*`, `+` and host names).
        let any = if v6 { "::" } else { "0.0.0.0" };
        if TcpListener::bind((any, port)).is_ok() {
            return port;
        }
    }
    panic!("could not find a port free on every address");
}

static TEMP_SEQ: AtomicUsize = AtomicUsize::new(0);

/// A fresh directory under the temp dir, removed (with its contents) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Create `peregrine-it-<pid>-<n>-<tag>`.
    pub fn new(tag: &str) -> TempDir {
        let n = TEMP_SEQ.fetch_add(1, Ordering::SeqCst);
        let path =
            std::env::temp_dir().join(format!("peregrine-it-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory (checked short enough for a unix socket).
    pub fn join(&self, name: &str) -> PathBuf {
        let p = self.path.join(name);
        assert!(
            p.as_os_str().len() < 100,
            "temp path too long for a unix socket: {}",
            p.display()
        );
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------------------
// Raw HTTP client
// ---------------------------------------------------------------------------------------

/// A TCP or unix stream, or TLS over one of them.
pub enum Sock {
    /// TCP.
    Tcp(TcpStream),
    /// Unix socket.
    Unix(UnixStream),
    /// A rustls client connection over TCP or a unix socket (see [`tls`]).
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Sock>>),
}

impl Sock {
    /// The TCP or unix stream at the bottom.
    fn transport(&self) -> &Sock {
        match self {
            Sock::Tls(s) => s.get_ref().transport(),
            other => other,
        }
    }

    fn set_read_timeout(&self, t: Duration) {
        match self.transport() {
            Sock::Tcp(s) => s.set_read_timeout(Some(t)).unwrap(),
            Sock::Unix(s) => s.set_read_timeout(Some(t)).unwrap(),
            Sock::Tls(_) => unreachable!("a transport is not TLS"),
        }
    }

    fn shutdown_write(&self) {
        let _ = match self.transport() {
            Sock::Tcp(s) => s.shutdown(Shutdown::Write),
            Sock::Unix(s) => s.shutdown(Shutdown::Write),
            Sock::Tls(_) => unreachable!("a transport is not TLS"),
        };
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.read(buf),
            Sock::Unix(s) => s.read(buf),
            Sock::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Tcp(s) => s.write(buf),
            Sock::Unix(s) => s.write(buf),
            Sock::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    /// `HTTP/1.1`
    pub version: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body (de-chunked).
    pub body: Vec<u8>,
    /// The chunk sizes when the body was chunked (without the last, empty chunk).
    pub chunks: Option<Vec<usize>>,
    /// The head exactly as received, through the blank line.
    pub raw_head: String,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// How many times header `name` appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    /// Whether the response says `Connection: close`.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// A raw HTTP/1.x client: writes bytes, parses responses, every read bounded by
/// [`IO_TIMEOUT`].
pub struct Client {
    sock: Sock,
    buf: Vec<u8>,
    /// How many successful `read` calls returned data.
    pub reads: usize,
}

impl Client {
    /// Connect over TCP.
    pub fn tcp(addr: SocketAddr) -> Client {
        let s = loop {
            match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r.unwrap_or_else(|e| panic!("connect to {addr}: {e}")),
            }
        };
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        Client::new(Sock::Tcp(s))
    }

    /// Connect to a unix socket.
    pub fn unix(path: &Path) -> Client {
        let s = UnixStream::connect(path)
            .unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client::new(Sock::Unix(s))
    }

    /// Wrap a TCP stream connected by the caller (e.g. with socket options set first);
    /// reads and writes are bounded by [`IO_TIMEOUT`].
    pub fn from_tcp(s: TcpStream) -> Client {
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        Client::new(Sock::Tcp(s))
    }

    /// The socket's descriptor (to set socket options).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self.sock.transport() {
            Sock::Tcp(s) => s.as_raw_fd(),
            Sock::Unix(s) => s.as_raw_fd(),
            Sock::Tls(_) => unreachable!("a transport is not TLS"),
        }
    }

    fn new(sock: Sock) -> Client {
        Client {
            sock,
            buf: Vec::new(),
            reads: 0,
        }
    }

    /// The local address of a TCP connection.
    pub fn local_addr(&self) -> SocketAddr {
        match self.sock.transport() {
            Sock::Tcp(s) => s.local_addr().unwrap(),
            _ => panic!("a unix client has no IP address"),
        }
    }

    /// A second handle on the same socket, for writing from another thread.
    pub fn writer(&self) -> Sock {
        match &self.sock {
            Sock::Tcp(s) => Sock::Tcp(s.try_clone().unwrap()),
            Sock::Unix(s) => Sock::Unix(s.try_clone().unwrap()),
            Sock::Tls(_) => panic!("a TLS connection cannot be written from two threads"),
        }
    }

    /// Write all of `bytes` (over TLS: as records, flushed to the socket).
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.sock
            .write_all(bytes.as_ref())
            .and_then(|()| self.sock.flush())
            .unwrap_or_else(|e| panic!("write to the server: {e}"));
    }

    /// Shut down our sending side (the server sees EOF); over TLS a `close_notify` goes
    /// first.
    pub fn shutdown_write(&mut self) {
        if let Sock::Tls(s) = &mut self.sock {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        self.sock.shutdown_write();
    }

    /// One read into the buffer: `Ok(0)` at EOF. `EINTR` (a stop/continue of the test
    /// process interrupts a read with a timeout) is retried.
    fn fill(&mut self) -> io::Result<usize> {
        let mut tmp = [0u8; 64 * 1024];
        let n = loop {
            match self.sock.read(&mut tmp) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                r => break r?,
            }
        };
        if n > 0 {
            self.reads += 1;
            self.buf.extend_from_slice(&tmp[..n]);
        }
        Ok(n)
    }

    /// Read more or panic (on EOF, error or timeout) saying what we waited for.
    fn fill_or_panic(&mut self, what: &str) {
        match self.fill() {
            Ok(0) => panic!(
                "the server closed the connection while we waited for {what}; buffered: {:?}",
                String::from_utf8_lossy(&self.buf)
            ),
            Ok(_) => {}
            Err(e) => panic!(
                "reading {what}: {e} (buffered: {:?})",
                String::from_utf8_lossy(&self.buf)
            ),
        }
    }

    /// Bytes received but not consumed yet.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Read exactly `n` raw bytes.
    pub fn read_exact_raw(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            self.fill_or_panic(&format!("{n} raw bytes"));
        }
        self.buf.drain(..n).collect()
    }

    /// Read until `needle` has arrived (leaves it buffered).
    pub fn wait_for_bytes(&mut self, needle: &[u8]) {
        while find(&self.buf, needle).is_none() {
            self.fill_or_panic(&format!("{:?}", String::from_utf8_lossy(needle)));
        }
    }

    /// Read and parse one response head (status line and headers); the body stays
    /// unread. Interim (1xx) heads are returned like any other.
    pub fn read_head(&mut self) -> Response {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill_or_panic("a response head");
        };
        let raw: Vec<u8> = self.buf.drain(..end).collect();
        let raw_head = String::from_utf8(raw).expect("response head is not UTF-8");
        let mut lines = raw_head[..raw_head.len() - 4].split("\r\n");
        let status_line = lines.next().unwrap();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status = parts
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let reason = parts.next().unwrap_or_default().to_string();
        let headers = lines
            .map(|l| {
                let (n, v) = l
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad header line {l:?} in {raw_head:?}"));
                (n.to_string(), v.trim().to_string())
            })
            .collect();
        Response {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            chunks: None,
            raw_head,
        }
    }

    /// Read one whole response to a request that was not HEAD.
    pub fn read_response(&mut self) -> Response {
        self.read_response_to(false)
    }

    /// Read one whole response; `head_request` when it answers HEAD (no body follows).
    pub fn read_response_to(&mut self, head_request: bool) -> Response {
        let mut r = self.read_head();
        if head_request || (100..200).contains(&r.status) || r.status == 204 || r.status == 304 {
            return r;
        }
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            let (body, sizes) = self.read_chunked_body();
            r.body = body;
            r.chunks = Some(sizes);
        } else if let Some(len) = r.header("content-length") {
            let len: usize = len.parse().expect("numeric Content-Length");
            r.body = self.read_exact_raw(len);
        } else {
            r.body = self.read_to_eof();
        }
        r
    }

    /// Read a whole final response, skipping interim 1xx heads.
    pub fn read_final_response(&mut self) -> Response {
        loop {
            let r = self.read_response();
            if r.status >= 200 {
                return r;
            }
        }
    }

    fn read_line(&mut self) -> String {
        let end = loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                break i;
            }
            self.fill_or_panic("a chunk line");
        };
        let line: Vec<u8> = self.buf.drain(..end + 2).collect();
        String::from_utf8_lossy(&line[..end]).into_owned()
    }

    /// Read a chunked body through its last chunk and trailer section.
    pub fn read_chunked_body(&mut self) -> (Vec<u8>, Vec<usize>) {
        let mut body = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let line = self.read_line();
            let size_text = line.split(';').next().unwrap().trim();
            let size = usize::from_str_radix(size_text, 16)
                .unwrap_or_else(|_| panic!("bad chunk size line {line:?}"));
            if size == 0 {
                // Trailer fields until the blank line.
                while !self.read_line().is_empty() {}
                return (body, sizes);
            }
            body.extend(self.read_exact_raw(size));
            let crlf = self.read_exact_raw(2);
            assert_eq!(crlf, b"\r\n", "chunk data not followed by CRLF");
            sizes.push(size);
        }
    }

    /// Read until the server closes; returns what arrived. Panics on timeout. Over TLS a
    /// close without `close_notify` counts too (see [`Client::read_to_close_notify`]).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => return std::mem::take(&mut self.buf),
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return std::mem::take(&mut self.buf)
                }
                Err(e) => panic!(
                    "waiting for the server to close the connection: {e} (buffered: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        }
    }

    /// Assert the server closes the connection with nothing more to say.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_eof();
        assert!(
            rest.is_empty(),
            "unexpected bytes before the close: {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Whether the connection is closed by the server within `timeout` (false if still
    /// open; data arriving is an error).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        self.set_read_timeout(timeout);
        let r = self.fill();
        self.set_read_timeout(IO_TIMEOUT);
        match r {
            Ok(0) => true,
            Ok(_) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&self.buf)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                ) =>
            {
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Wait up to `limit` for the server to close: what arrived before the close, or
    /// `None` if the connection is still open then. Over TLS a close with or without
    /// `close_notify` counts.
    pub fn eof_within(&mut self, limit: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + limit;
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            self.set_read_timeout(left);
            match self.fill() {
                Ok(0) => break true,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    break true
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break false
                }
                Err(e) => panic!(
                    "waiting for the server to close the connection: {e} (buffered: {:?})",
                    String::from_utf8_lossy(&self.buf)
                ),
            }
        };
        self.set_read_timeout(IO_TIMEOUT);
        closed.then(|| std::mem::take(&mut self.buf))
    }

    /// Change the read timeout.
    pub fn set_read_timeout(&mut self, t: Duration) {
        self.sock.set_read_timeout(t);
    }

    /// Send a GET and read its response.
    pub fn get(&mut self, path: &str) -> Response {
        self.send(get(path));
        self.read_response()
    }
}

/// `GET path HTTP/1.1` with a Host header.
pub fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n")
}

/// The first position of `needle` in `hay`.
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Check the headers every response carries: an IMF-fixdate `Date` and
/// `Server: peregrine`.
pub fn assert_standard_headers(r: &Response) {
    let date = r
        .header("date")
        .unwrap_or_else(|| panic!("no Date in {:?}", r.raw_head));
    assert!(is_imf_fixdate(date), "Date is not an IMF-fixdate: {date:?}");
    assert_eq!(r.header_count("date"), 1, "{:?}", r.raw_head);
    assert_eq!(r.header("server"), Some("peregrine"), "{:?}", r.raw_head);
    assert_eq!(r.header_count("server"), 1, "{:?}", r.raw_head);
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
pub fn is_imf_fixdate(d: &str) -> bool {
    let b = d.as_bytes();
    let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    b.len() == 29
        && days.contains(&&d[0..3])
        && &d[3..5] == ", "
        && digits(5..7)
        && b[7] == b' '
        && months.contains(&&d[8..11])
        && b[11] == b' '
        && digits(12..16)
        && b[16] == b' '
        && digits(17..19)
        && b[19] == b':'
        && digits(20..22)
        && b[22] == b':'
        && digits(23..25)
        && &d[25..] == " GMT"
}

// ---------------------------------------------------------------------------------------
// curl
// ---------------------------------------------------------------------------------------

/// Where curl is.
pub fn curl_path() -> &'static str {
    for p in ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"] {
        if Path::new(p).exists() {
            return p;
        }
    }
    panic!("curl is required by these tests (install it: apt-get install curl)");
}

/// Run `curl -sS --max-time 60 <args>`.
pub fn curl(args: &[&str]) -> std::process::Output {
    Command::new(curl_path())
        .args(["-sS", "--max-time", "60"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl")
}
