//! The binary under systemd's contracts, through real sockets, on both backends:
//!
//! - socket activation: listening sockets the test makes (TCP, unix) passed as
//!   descriptors 3, 4, … with `LISTEN_FDS`/`LISTEN_PID`/`LISTEN_FDNAMES`, served instead
//!   of `--urls`; the `https` name serves TLS; `--urls systemd` without sockets fails;
//! - `sd_notify`: `READY=1`, `WATCHDOG=1`, `STOPPING=1` on a datagram socket the test
//!   binds as `NOTIFY_SOCKET` (the stuck-worker half of the watchdog is an in-process
//!   test in the engine: `server::tests`);
//! - SIGUSR2 restarts under continuous load (keep-alive and new connections), for a TCP
//!   and a unix listener, with zero failed requests counted by the client; a new copy
//!   that fails (bad configuration, not ready in time) leaves the old one serving;
//! - `docs/deploy/peregrine.{service,socket}` pass `systemd-analyze verify`.
//!
//! `LISTEN_PID` must be the pid of the process that reads it, known only after the fork.
//! The tests start the server through `sh -c 'LISTEN_PID=$$ exec "$0" "$@"'`: the shell's
//! pid is the server's after `exec`, and nothing unsafe runs between fork and exec but
//! `dup2` (setting a variable there with `setenv` is not async-signal-safe). The server's
//! own restart does the same without a shell (`engine/src/sys.rs`).
//!
//! The test process is a child subreaper, so a new copy started by a restart becomes our
//! child when the old copy exits, and can be reaped (and killed if a test fails).
//!
//! Linux only: systemd's contracts (socket activation, sd_notify, SIGUSR2 restarts on abstract sockets) are Linux's.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// The server through a shell that sets `LISTEN_PID` to its own pid and execs it, with
/// `fds` as descriptors 3, 4, …; `--backend`, `--no-pin` and `--threads 1` as
/// [`common::command`] adds them.
fn activated(backend: Backend, fds: &[BorrowedFd<'_>], names: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(r#"LISTEN_PID=$$ exec "$0" "$@""#)
        .arg(BIN)
        .args(args)
        .args(["--backend", backend.arg(), "--no-pin"]);
    if !args.contains(&"--threads") {
        cmd.args(["--threads", "1"]);
    }
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("PEREGRINE_") || k.starts_with("LISTEN_") || k == "NOTIFY_SOCKET" {
            cmd.env_remove(k);
        }
    }
    cmd.env("LISTEN_FDS", fds.len().to_string())
        .env("LISTEN_FDNAMES", names)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Copies above the target range, so that no dup2 overwrites a source.
    let high: Vec<RawFd> = fds
        .iter()
        .map(|fd| {
            // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an integer argument; `fd` is live.
            let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 64) };
            assert!(new >= 0, "dup: {}", std::io::Error::last_os_error());
            new
        })
        .collect();
    let for_child = high.clone();
    // SAFETY: the closure runs between fork and exec and only calls dup2(2), which is
    // async-signal-safe; the sources stay open in the parent until the spawn is over
    // (`HighFds` below closes them on drop).
    unsafe {
        cmd.pre_exec(move || {
            for (i, fd) in for_child.iter().enumerate() {
                if libc::dup2(*fd, 3 + i as RawFd) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    // The copies close when the command is dropped... the Command cannot own them, so
    // they are closed here once the caller spawned: leak-free enough for a test process,
    // but close them anyway after a short-lived wrapper.
    HIGH.lock().unwrap().extend(high);
    cmd
}

/// Descriptors made for children, closed by [`close_high`] once spawned.
static HIGH: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

fn close_high() {
    for fd in HIGH.lock().unwrap().drain(..) {
        // SAFETY: each was returned by fcntl(F_DUPFD_CLOEXEC) above and is owned by no
        // one else; it is closed once.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

fn spawn_activated(cmd: Command) -> Server {
    let s = Server::spawn(cmd);
    close_high();
    s.unwrap_or_else(|f| {
        panic!(
            "the server did not start ({}):\nstdout: {:?}\nstderr:\n{}",
            f.status, f.stdout, f.stderr
        )
    })
}

fn tcp_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

/// A TCP and a unix listener made here, passed as descriptors 3 and 4, served instead of
/// `--urls` (which names an address that is never bound), printed with their real
/// addresses; the unix socket file is left in place at shutdown (it is systemd's).
fn passed_sockets(backend: Backend) {
    let dir = TempDir::new("activation");
    let path = dir.join("a.sock");
    let tcp = tcp_listener();
    let unix = UnixListener::bind(&path).unwrap();
    let addr = tcp.local_addr().unwrap();
    let never = free_port();
    let cmd = activated(
        backend,
        &[tcp.as_fd(), unix.as_fd()],
        "web:web",
        &[
            "--urls",
            &format!("http://127.0.0.1:{never}"),
            "--threads",
            "2",
        ],
    );
    let s = spawn_activated(cmd);
    assert_eq!(
        s.urls,
        vec![
            format!("http://{addr}"),
            format!("http://unix:{}", path.display())
        ]
    );
    assert!(
        s.stderr().contains("passed by the service manager"),
        "{}",
        s.stderr()
    );
    // Our copies close: only the server's are left.
    drop((tcp, unix));
    for i in 0..4 {
        let mut c = s.connect(i % 2);
        assert_eq!(c.get("/plaintext").status, 200);
    }
    // Kept-alive connections on both, several requests each.
    let mut a = s.connect(0);
    let mut b = s.connect(1);
    for _ in 0..3 {
        assert_eq!(a.get("/plaintext").status, 200);
        assert_eq!(b.get("/plaintext").status, 200);
    }
    assert!(
        TcpStream::connect(("127.0.0.1", never)).is_err(),
        "--urls was bound too"
    );
    drop((a, b));
    s.stop();
    assert!(path.exists(), "systemd's socket file was removed");
}
both_backends!(serves_passed_tcp_and_unix_sockets, passed_sockets);

/// A passed socket named `https` is served with TLS (`--cert`/`--key`); without a
/// certificate the start fails in one line.
fn passed_https(backend: Backend) {
    let Some(certs) = tls::Certs::generate("activation") else {
        return skip("openssl is not installed");
    };
    let tcp = tcp_listener();
    let addr = tcp.local_addr().unwrap();
    let cmd = activated(
        backend,
        &[tcp.as_fd()],
        "https-public",
        &["--urls", "systemd"],
    );
    let f = run_cmd_to_exit(cmd, Duration::from_secs(20));
    close_high();
    f.assert_error("TLS is not configured: cannot listen on the passed socket 3");

    let mut args = vec!["--urls", "systemd"];
    let cert_args = certs.args();
    args.extend(cert_args.iter().map(String::as_str));
    let s = spawn_activated(activated(backend, &[tcp.as_fd()], "https-public", &args));
    assert_eq!(s.urls, vec![format!("https://{addr}")]);
    drop(tcp);
    let mut c = Client::tls_tcp(
        addr,
        certs.client(tls::ALL_VERSIONS, &["http/1.1"]),
        "localhost",
    );
    assert_eq!(c.get("/plaintext").status, 200);
    drop(c);
    s.stop();
}
both_backends!(a_passed_socket_named_https_serves_tls, passed_https);

#[test]
fn urls_systemd_without_passed_sockets_fails() {
    let f = run_to_exit(None, &["--urls", "systemd"]);
    f.assert_error("--urls systemd: no sockets were passed to this process");
    // Sockets for another process are not ours.
    let mut cmd = command(None, &["--urls", "systemd"]);
    cmd.env("LISTEN_PID", "1").env("LISTEN_FDS", "1");
    let f = run_cmd_to_exit(cmd, Duration::from_secs(20));
    f.assert_error("the passed sockets are for process 1, not this one");
}

#[test]
fn a_passed_descriptor_that_is_not_a_listener_fails() {
    let l = tcp_listener();
    let connected = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let cmd = activated(
        Backend::Epoll,
        &[connected.as_fd()],
        "",
        &["--urls", "systemd"],
    );
    let f = run_cmd_to_exit(cmd, Duration::from_secs(20));
    close_high();
    f.assert_error("socket activation: descriptor 3 is not a listening stream socket");
}

// ---------------------------------------------------------------------------------------
// sd_notify
// ---------------------------------------------------------------------------------------

/// A datagram socket standing in for systemd's notify socket.
struct NotifySocket {
    sock: UnixDatagram,
    path: std::path::PathBuf,
    _dir: TempDir,
}

impl NotifySocket {
    fn new(tag: &str) -> NotifySocket {
        let dir = TempDir::new(tag);
        let path = dir.join("notify");
        let sock = UnixDatagram::bind(&path).unwrap();
        NotifySocket {
            sock,
            path,
            _dir: dir,
        }
    }

    /// The next message within `timeout`, or `None`.
    fn recv(&self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => None,
            Err(e) => panic!("notify socket: {e}"),
        }
    }

    /// Wait (bounded) for a message with the line `line`; returns it.
    fn expect(&self, line: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no '{line}' within {timeout:?}; got {seen:?}"
            );
            if let Some(m) = self.recv(left) {
                if m.lines().any(|l| l == line) {
                    return m;
                }
                seen.push(m);
            }
        }
    }
}

/// READY=1 after the start line (with a STATUS naming the address), WATCHDOG=1 at half
/// of WATCHDOG_USEC, STOPPING=1 when SIGTERM starts the shutdown.
fn notify(backend: Backend) {
    let n = NotifySocket::new("notify");
    let mut cmd = command(
        Some(backend),
        &["--urls", "http://127.0.0.1:0", "--threads", "2"],
    );
    cmd.env("NOTIFY_SOCKET", &n.path)
        .env("WATCHDOG_USEC", "1000000")
        .env_remove("WATCHDOG_PID");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("no start: {}", f.stderr));
    let ready = n.expect("READY=1", STARTUP_TIMEOUT);
    assert!(
        ready.contains(&format!("STATUS=Listening on {}", s.urls[0])),
        "{ready}"
    );
    // Two pings, about half a second apart.
    n.expect("WATCHDOG=1", Duration::from_secs(5));
    let t = Instant::now();
    n.expect("WATCHDOG=1", Duration::from_secs(5));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    s.signal(libc::SIGTERM);
    n.expect("STOPPING=1", Duration::from_secs(5));
    let mut s = s;
    assert!(s.wait_exit(EXIT_TIMEOUT).success());
}
both_backends!(ready_watchdog_and_stopping_are_notified, notify);

/// The watchdog belongs to another process (WATCHDOG_PID): no pings, READY=1 still.
#[test]
fn a_watchdog_for_another_pid_is_not_pinged() {
    let n = NotifySocket::new("notify-pid");
    let mut cmd = command(Some(Backend::Epoll), &["--urls", "http://127.0.0.1:0"]);
    cmd.env("NOTIFY_SOCKET", &n.path)
        .env("WATCHDOG_USEC", "200000")
        .env("WATCHDOG_PID", "1");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("no start: {}", f.stderr));
    n.expect("READY=1", STARTUP_TIMEOUT);
    // Pings would come every 100 ms; a second without one is conclusive.
    assert_eq!(n.recv(Duration::from_secs(1)), None);
    s.stop();
}

// ---------------------------------------------------------------------------------------
// SIGUSR2 restarts
// ---------------------------------------------------------------------------------------

/// Become a child subreaper: orphans (a restart's new copy) are re-parented to us.
fn subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER) takes an integer and changes only this
    // process's attribute.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl: {}", std::io::Error::last_os_error());
}

/// A process that is (or will become, once re-parented) our child: killed and reaped
/// on drop unless [`Adopted::stop`] ran.
struct Adopted {
    pid: i32,
    done: bool,
}

impl Adopted {
    /// Wait (polling, bounded: process exit has no event to block on with a deadline)
    /// until it exits; its status.
    fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            let mut status = 0;
            // SAFETY: waitpid(2) with WNOHANG writes only to `status`, a live i32.
            let rc = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if rc == self.pid {
                self.done = true;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {} did not exit within {timeout:?} (waitpid: {rc})",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM, then a clean exit.
    fn stop(&mut self) {
        // SAFETY: kill(2) on our (adopted) child's pid.
        assert_eq!(unsafe { libc::kill(self.pid, libc::SIGTERM) }, 0);
        let status = self.wait_exit(EXIT_TIMEOUT);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "the new copy exited with status {status:#x}"
        );
    }
}

impl Drop for Adopted {
    fn drop(&mut self) {
        if !self.done {
            // SAFETY: kill(2) and waitpid(2) on our child's pid; `status` is live.
            unsafe {
                libc::kill(self.pid, libc::SIGKILL);
                let mut status = 0;
                libc::waitpid(self.pid, &mut status, 0);
            }
        }
    }
}

/// Where the load goes.
#[derive(Clone)]
enum Target {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    fn open(t: &Target) -> std::io::Result<Conn> {
        let c = match t {
            Target::Tcp(a) => Conn::Tcp(TcpStream::connect_timeout(a, IO_TIMEOUT)?),
            Target::Unix(p) => Conn::Unix(UnixStream::connect(p)?),
        };
        match &c {
            Conn::Tcp(s) => s.set_read_timeout(Some(IO_TIMEOUT))?,
            Conn::Unix(s) => s.set_read_timeout(Some(IO_TIMEOUT))?,
        }
        Ok(c)
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(b),
            Conn::Unix(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(b),
            Conn::Unix(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// How an exchange ended.
enum Exchange {
    /// 200 and the whole body; whether the server closes the connection after it.
    Ok {
        closes: bool,
    },
    /// The connection closed (or was reset) before any byte of a response: on a reused
    /// keep-alive connection, the request may be sent again (RFC 9112 §9.3.1), as HTTP
    /// clients and nginx's upstream keepalive do. How it closed, for the report.
    ClosedBeforeResponse(String),
    Failed(String),
}

fn exchange(c: &mut Conn, close: bool) -> Exchange {
    let req: &[u8] = if close {
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    } else {
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
    };
    let closed = |e: &std::io::Error| {
        matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
        )
    };
    if let Err(e) = c.write_all(req) {
        return if closed(&e) {
            Exchange::ClosedBeforeResponse(format!("write: {e}"))
        } else {
            Exchange::Failed(format!("write: {e}"))
        };
    }
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 512];
    let head_end = loop {
        match c.read(&mut chunk) {
            Ok(0) if buf.is_empty() => {
                return Exchange::ClosedBeforeResponse("read: end of stream".into())
            }
            Ok(0) => return Exchange::Failed("closed inside the response head".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if closed(&e) && buf.is_empty() => {
                return Exchange::ClosedBeforeResponse(format!("read: {e}"))
            }
            Err(e) => return Exchange::Failed(format!("read: {e}")),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200 ") {
        return Exchange::Failed(format!("answer: {head:?}"));
    }
    let Some(len) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    else {
        return Exchange::Failed(format!("no content-length: {head:?}"));
    };
    while buf.len() < head_end + len {
        match c.read(&mut chunk) {
            Ok(0) => return Exchange::Failed("closed inside the body".into()),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Exchange::Failed(format!("read body: {e}")),
        }
    }
    Exchange::Ok {
        closes: head.contains("\r\nconnection: close"),
    }
}

/// What the clients counted.
struct Counts {
    /// When the load started (failures say when they happened).
    started: Instant,
    ok: AtomicU64,
    /// Requests sent again after a reused connection closed before any response byte.
    resent: AtomicU64,
    failed: AtomicU64,
    errors: Mutex<Vec<String>>,
}

impl Counts {
    fn fail(&self, why: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut e = self.errors.lock().unwrap();
        if e.len() < 10 {
            e.push(why);
        }
    }
}

/// One client loop until `stop`: keep-alive (one connection reused) or a new
/// connection per request.
fn client(target: Target, keep_alive: bool, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let mut conn: Option<Conn> = None;
    while !stop.load(Ordering::Relaxed) {
        let reused = conn.is_some();
        let mut c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(&target) {
                Ok(c) => c,
                Err(e) => {
                    counts.fail(format!("connect: {e}"));
                    continue;
                }
            },
        };
        match exchange(&mut c, !keep_alive) {
            Exchange::Ok { closes } => {
                counts.ok.fetch_add(1, Ordering::Relaxed);
                if keep_alive && !closes {
                    conn = Some(c);
                }
            }
            Exchange::ClosedBeforeResponse(_) if reused => {
                counts.resent.fetch_add(1, Ordering::Relaxed);
            }
            Exchange::ClosedBeforeResponse(how) => counts.fail(format!(
                "a new connection closed before any response ({how}, {} ms into the load)",
                counts.started.elapsed().as_millis()
            )),
            Exchange::Failed(why) => counts.fail(why),
        }
    }
}

/// Continuous load: `keep_alive` clients reusing connections, `fresh` clients opening one
/// per request.
struct Load {
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(target: &Target, keep_alive: usize, fresh: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts {
            started: Instant::now(),
            ok: AtomicU64::new(0),
            resent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            errors: Mutex::new(Vec::new()),
        });
        let threads = (0..keep_alive + fresh)
            .map(|i| {
                let (t, s, c) = (target.clone(), stop.clone(), counts.clone());
                std::thread::spawn(move || client(t, i < keep_alive, s, c))
            })
            .collect();
        Load {
            stop,
            counts,
            threads,
        }
    }

    fn ok(&self) -> u64 {
        self.counts.ok.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until `n` more requests have succeeded.
    fn wait_more(&self, n: u64) {
        let want = self.ok() + n;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.ok() < want {
            assert!(
                Instant::now() < deadline,
                "the load stalled at {} requests; errors: {:?}",
                self.ok(),
                self.counts.errors.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(self) -> (u64, u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().unwrap();
        }
        let c = &self.counts;
        (
            c.ok.load(Ordering::SeqCst),
            c.resent.load(Ordering::SeqCst),
            c.failed.load(Ordering::SeqCst),
            c.errors.lock().unwrap().clone(),
        )
    }
}

/// The pid in a `started a new copy of … (pid N)` line.
fn new_copy_pid(s: &Server) -> i32 {
    assert!(
        s.wait_stderr("started a new copy", STARTUP_TIMEOUT),
        "no restart started:\n{}",
        s.stderr()
    );
    let text = s.stderr();
    let line = text
        .lines()
        .find(|l| l.contains("started a new copy"))
        .unwrap_or_default();
    line.rsplit_once("(pid ")
        .and_then(|(_, rest)| rest.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

/// Wait (polling, bounded: process exit has no event to block on) until the old copy has
/// exited.
fn wait_old_exit(s: &mut Server) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !s.has_exited() {
        assert!(
            Instant::now() < deadline,
            "the old copy did not exit:\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGUSR2 under continuous load: the old copy starts the new one on the same sockets,
/// waits for its READY=1, drains and exits 0; no request fails; the new copy serves and
/// removes the unix socket file at its own shutdown.
fn restart_under_load(backend: Backend, unix: bool) {
    restart(backend, unix, true)
}

/// The same restart with requests before and after it but none during: the hand-over
/// itself (same sockets, unix file kept, metrics, the new copy's own shutdown).
fn restart_quiet(backend: Backend, unix: bool) {
    restart(backend, unix, false)
}

fn restart(backend: Backend, unix: bool, under_load: bool) {
    subreaper();
    let dir = TempDir::new("restart");
    let path = dir.join("r.sock");
    let urls = if unix {
        format!("http://unix:{}", path.display())
    } else {
        "http://127.0.0.1:0".to_string()
    };
    let n = NotifySocket::new("restart-notify");
    let mut cmd = command(
        Some(backend),
        &[
            "--urls",
            &urls,
            "--threads",
            "2",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    cmd.env("NOTIFY_SOCKET", &n.path);
    let mut s = Server::spawn(cmd).unwrap_or_else(|f| panic!("no start: {}", f.stderr));
    n.expect("READY=1", STARTUP_TIMEOUT);
    let target = if unix {
        Target::Unix(s.unix_path(0))
    } else {
        Target::Tcp(s.tcp_addr(0))
    };
    let load = Load::start(&target, 3, 2);
    load.wait_more(300);
    let load = if under_load {
        load
    } else {
        let (ok, _, failed, errors) = load.finish();
        assert_eq!((failed, ok > 0), (0, true), "{errors:?}");
        eprintln!("{ok} requests before the restart");
        Load::start(&target, 0, 0)
    };
    let before = load.ok();
    eprintln!(
        "SIGUSR2 {} ms into the load",
        load.counts.started.elapsed().as_millis()
    );
    s.signal(libc::SIGUSR2);
    let mut new = Adopted {
        pid: new_copy_pid(&s),
        done: false,
    };
    // The old copy names the new main process to systemd, drains and exits 0.
    let m = n.expect(&format!("MAINPID={}", new.pid), STARTUP_TIMEOUT);
    assert!(!m.contains("STOPPING=1"), "{m}");
    wait_old_exit(&mut s);
    eprintln!(
        "the old copy exited {} ms into the load",
        load.counts.started.elapsed().as_millis()
    );
    assert!(
        s.exit_status().is_some_and(|st| st.success()),
        "old copy: {:?}\n{}",
        s.exit_status(),
        s.stderr()
    );
    let load = if under_load {
        load
    } else {
        Load::start(&target, 3, 2)
    };
    let at_exit = load.ok();
    load.wait_more(300);
    let (ok, resent, failed, errors) = load.finish();
    eprintln!(
        "restart ({}, {backend:?}): {ok} requests ok ({before} before SIGUSR2, {} until the \
         old copy exited, {} after), {resent} sent again on a closed keep-alive connection, \
         {failed} failed",
        if unix { "unix" } else { "tcp" },
        at_exit - before,
        ok - at_exit
    );
    assert_eq!(
        failed,
        0,
        "failed requests: {errors:?}\nold copy:\n{}",
        s.stderr()
    );
    assert!(
        s.stderr().contains("is ready; this one stops accepting"),
        "{}",
        s.stderr()
    );
    // The new copy's metrics listener is the same socket.
    let metrics_url = s
        .stderr()
        .lines()
        .filter_map(|l| l.split("Metrics on ").nth(1))
        .map(|u| u.trim_end_matches("/metrics").to_string())
        .next()
        .unwrap_or_else(|| panic!("no metrics address:\n{}", s.stderr()));
    let maddr: SocketAddr = metrics_url.trim_start_matches("http://").parse().unwrap();
    let mut m = Client::tcp(maddr);
    m.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(m.read_response().status, 200);
    if unix {
        assert!(path.exists(), "the old copy removed the socket file");
    }
    new.stop();
    if unix {
        assert!(!path.exists(), "the new copy left its socket file behind");
    }
}

fn restart_tcp(backend: Backend) {
    restart_quiet(backend, false)
}
both_backends!(sigusr2_hands_a_tcp_listener_over, restart_tcp);

fn restart_unix(backend: Backend) {
    restart_quiet(backend, true)
}
both_backends!(sigusr2_hands_a_unix_listener_over, restart_unix);

fn restart_tcp_loaded(backend: Backend) {
    restart_under_load(backend, false)
}
both_backends!(
    sigusr2_restarts_a_tcp_listener_losing_nothing,
    restart_tcp_loaded
);

fn restart_unix_loaded(backend: Backend) {
    restart_under_load(backend, true)
}
both_backends!(
    sigusr2_restarts_a_unix_listener_losing_nothing,
    restart_unix_loaded
);

/// A new copy that cannot start (its configuration file was broken since) or is not
/// ready in time leaves the old one serving, its unix socket file in place.
fn failed_restart(backend: Backend) {
    subreaper();
    let dir = TempDir::new("restart-fail");
    let path = dir.join("f.sock");
    let config = dir.join("peregrine.toml");
    std::fs::write(
        &config,
        format!(
            "urls = \"http://unix:{};http://127.0.0.1:0\"\n",
            path.display()
        ),
    )
    .unwrap();
    let config_arg = config.display().to_string();
    let mut s = Server::start(backend, &["--config", &config_arg, "--threads", "2"]);
    assert_eq!(s.connect(0).get("/plaintext").status, 200);

    // 1. The new copy exits: its configuration is broken now.
    std::fs::write(&config, "no-such-option = 1\n").unwrap();
    let mark = s.stderr_lines();
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_stderr_from(mark, "keeps serving", STARTUP_TIMEOUT)
            .is_some(),
        "{}",
        s.stderr()
    );
    assert!(
        s.stderr()
            .contains("exited (exit status: 1) before it was ready"),
        "{}",
        s.stderr()
    );
    assert!(!s.has_exited());
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    assert_eq!(s.connect(1).get("/plaintext").status, 200);
    assert!(path.exists());

    s.stop();
    assert!(!path.exists(), "the socket file was left behind");

    // 2. The new copy is not ready in time: its configuration file is now a FIFO that
    // nobody writes, so it blocks reading it until the old copy stops it.
    std::fs::write(
        &config,
        format!("urls = \"http://unix:{}\"\n", path.display()),
    )
    .unwrap();
    let s = Server::start(
        backend,
        &["--config", &config_arg, "--restart-timeout", "500ms"],
    );
    std::fs::remove_file(&config).unwrap();
    let made = Command::new("mkfifo").arg(&config).status();
    if !made.is_ok_and(|st| st.success()) {
        s.stop();
        return skip("mkfifo is not available");
    }
    s.signal(libc::SIGUSR2);
    assert!(
        s.wait_stderr("keeps serving", STARTUP_TIMEOUT),
        "{}",
        s.stderr()
    );
    assert!(
        s.stderr()
            .contains("was not ready within 500ms; it was stopped"),
        "{}",
        s.stderr()
    );
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    assert!(path.exists());
    s.stop();
    assert!(!path.exists(), "the socket file was left behind");
}
both_backends!(a_failed_new_copy_leaves_the_old_one_serving, failed_restart);

// ---------------------------------------------------------------------------------------
// The unit files
// ---------------------------------------------------------------------------------------

#[test]
fn unit_files_pass_systemd_analyze_verify() {
    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if !analyze.is_ok_and(|o| o.status.success()) {
        return skip("systemd-analyze is not installed");
    }
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/deploy");
    let dir = TempDir::new("units");
    // The binary where the unit expects it: the one just built.
    let service = std::fs::read_to_string(deploy.join("peregrine.service")).unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/peregrine --urls systemd"));
    std::fs::write(
        dir.path().join("peregrine.service"),
        service.replace("/usr/local/bin/peregrine", BIN),
    )
    .unwrap();
    std::fs::copy(
        deploy.join("peregrine.socket"),
        dir.path().join("peregrine.socket"),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("peregrine.socket"))
        .arg(dir.path().join("peregrine.service"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    // Warnings (unknown keys, bad system call groups) do not fail verify: none allowed.
    assert!(stderr.trim().is_empty(), "systemd-analyze verify: {stderr}");
    for required in [
        "Type=notify",
        "WatchdogSec=",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectHome=yes",
        "RestrictAddressFamilies=",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service io_uring_setup io_uring_enter io_uring_register",
    ] {
        assert!(service.contains(required), "the unit lacks {required:?}");
    }
}
