//! Graceful shutdown of the running binary on SIGTERM / SIGINT: listeners close (new
//! connections are refused), in-flight requests finish, idle keep-alive connections are
//! closed by the server, unix socket files are removed, the exit status is 0; the
//! shutdown timeout bounds how long a request that never finishes can hold the process;
//! a second signal exits at once. Each case runs on both backends.

#[macro_use]
mod common;

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// Deterministic bytes that are not all the same.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// Wait until connecting to `addr` fails (the listeners are closed). There is no event to
/// wait on from outside the process, so this retries every 20 ms, bounded by `timeout`.
fn wait_tcp_refused(addr: SocketAddr, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            // A connection that reached the accept queue just as the listener closed is
            // reset by the kernel: that is a refusal too.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("connect to {addr}: {e}"),
            Ok(s) => drop(s),
        }
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts connections {timeout:?} after the shutdown signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Same for a unix socket.
fn wait_unix_refused(path: &Path, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match UnixStream::connect(path) {
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionRefused | ErrorKind::NotFound) => {
                return
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("connect to {}: {e}", path.display()),
            Ok(s) => drop(s),
        }
        assert!(
            Instant::now() < deadline,
            "{} still accepts connections {timeout:?} after the shutdown signal",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Start `POST /echo/stream` with `Content-Length: total` and send `first` of the body; returns
/// once the response head has arrived (the request is being served).
fn start_slow_echo(c: &mut Client, body: &[u8], first: usize) -> Response {
    c.send(format!(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    c.send(&body[..first]);
    let head = c.read_head();
    assert_eq!(head.status, 200, "{}", head.raw_head);
    head
}

/// The full scenario: idle keep-alive connections (TCP and unix) and a request in flight
/// when SIGTERM arrives.
fn graceful(backend: Backend) {
    let dir = TempDir::new("graceful");
    let sock = dir.join("g.sock");
    let urls = format!("http://127.0.0.1:0;http://unix:{}", sock.display());
    let mut s = Server::start(backend, &["--urls", &urls, "--shutdown-timeout", "30s"]);
    let addr = s.tcp_addr(0);

    // Idle keep-alive connections, one per transport.
    let mut idle_tcp = s.connect(0);
    assert_eq!(idle_tcp.get("/plaintext").status, 200);
    let mut idle_unix = s.connect(1);
    assert_eq!(idle_unix.get("/plaintext").status, 200);

    // A request in flight: half of its body sent.
    let body = pattern(100_000);
    let mut busy = s.connect(0);
    let head = start_slow_echo(&mut busy, &body, 50_000);
    assert_eq!(head.header("transfer-encoding"), Some("chunked"));

    s.signal(libc::SIGTERM);

    // The idle connections are closed by the server.
    assert!(
        idle_tcp.closed_within(IO_TIMEOUT),
        "the idle TCP connection was not closed"
    );
    assert!(
        idle_unix.closed_within(IO_TIMEOUT),
        "the idle unix connection was not closed"
    );
    // New connections are refused.
    wait_tcp_refused(addr, IO_TIMEOUT);
    wait_unix_refused(&sock, IO_TIMEOUT);
    assert!(
        !s.has_exited(),
        "the process exited with a request in flight"
    );

    // The request in flight completes.
    busy.send(&body[50_000..]);
    let (echoed, _) = busy.read_chunked_body();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echo differs from the body");
    // ...and then its connection is closed too.
    busy.expect_closed();

    let status = s.wait_exit(EXIT_TIMEOUT);
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        s.stderr()
    );
    assert!(!sock.exists(), "the unix socket file was not removed");
    assert!(
        s.stderr().contains("Application is shutting down"),
        "{}",
        s.stderr()
    );
}
both_backends!(
    sigterm_closes_idle_connections_and_finishes_in_flight_requests,
    graceful
);

/// The in-flight part alone (no used keep-alive connections), so that it is covered on
/// both backends.
fn in_flight(backend: Backend) {
    let dir = TempDir::new("inflight");
    let sock = dir.join("f.sock");
    let urls = format!("http://127.0.0.1:0;http://unix:{}", sock.display());
    let mut s = Server::start(backend, &["--urls", &urls]);
    let addr = s.tcp_addr(0);
    let body = pattern(100_000);
    let mut busy = s.connect(1);
    start_slow_echo(&mut busy, &body, 50_000);
    // A connection that has not sent anything yet is idle: closed.
    let mut silent = s.connect(0);

    s.signal(libc::SIGTERM);

    assert!(
        silent.closed_within(IO_TIMEOUT),
        "a silent connection stayed open"
    );
    wait_tcp_refused(addr, IO_TIMEOUT);
    wait_unix_refused(&sock, IO_TIMEOUT);
    assert!(
        !s.has_exited(),
        "the process exited with a request in flight"
    );
    busy.send(&body[50_000..]);
    let (echoed, _) = busy.read_chunked_body();
    assert!(echoed == body, "the echo differs from the body");
    busy.expect_closed();
    let status = s.wait_exit(EXIT_TIMEOUT);
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        s.stderr()
    );
    assert!(!sock.exists(), "the unix socket file was not removed");
}
both_backends!(sigterm_finishes_an_in_flight_request, in_flight);

fn idle_only(backend: Backend) {
    let dir = TempDir::new("idle");
    let sock = dir.join("i.sock");
    let urls = format!("http://127.0.0.1:0;http://unix:{}", sock.display());
    let mut s = Server::start(backend, &["--urls", &urls, "--threads", "2"]);
    let mut clients: Vec<Client> = (0..6).map(|i| s.connect(i % 2)).collect();
    for c in &mut clients {
        assert_eq!(c.get("/json").status, 200);
    }
    let start = Instant::now();
    s.signal(libc::SIGINT);
    for c in &mut clients {
        assert!(
            c.closed_within(IO_TIMEOUT),
            "an idle connection stayed open"
        );
    }
    let status = s.wait_exit(EXIT_TIMEOUT);
    assert!(status.success(), "exit status {status}");
    // Nothing was in flight: no waiting for the 30 s shutdown timeout.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(!sock.exists(), "the unix socket file was not removed");
}
both_backends!(
    sigint_closes_idle_keep_alive_connections_and_exits,
    idle_only
);

fn quiet(backend: Backend) {
    let dir = TempDir::new("quiet");
    let sock = dir.join("q.sock");
    let urls = format!("http://127.0.0.1:0;http://unix:{}", sock.display());
    let mut s = Server::start(backend, &["--urls", &urls, "--threads", "2"]);
    let mut silent: Vec<Client> = (0..4).map(|i| s.connect(i % 2)).collect();
    let start = Instant::now();
    s.signal(libc::SIGINT);
    for c in &mut silent {
        assert!(
            c.closed_within(IO_TIMEOUT),
            "a silent connection stayed open"
        );
    }
    let status = s.wait_exit(EXIT_TIMEOUT);
    assert!(status.success(), "exit status {status}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(!sock.exists(), "the unix socket file was not removed");
}
both_backends!(sigint_with_no_requests_exits_at_once, quiet);

fn timeout(backend: Backend) {
    let mut s = Server::start(
        backend,
        &["--urls", "http://127.0.0.1:0", "--shutdown-timeout", "1s"],
    );
    let body = pattern(100_000);
    let mut stuck = s.connect(0);
    start_slow_echo(&mut stuck, &body, 50_000);
    let start = Instant::now();
    s.signal(libc::SIGTERM);
    // The request never finishes; the process exits once the timeout has passed.
    let status = s.wait_exit(EXIT_TIMEOUT);
    let took = start.elapsed();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        s.stderr()
    );
    assert!(
        took >= Duration::from_millis(900),
        "exited after {took:?}, before the 1 s shutdown timeout"
    );
    assert!(took < Duration::from_secs(8), "exited after {took:?}");
    assert!(s.stderr().contains("shutdown timeout"), "{}", s.stderr());
    // The stuck connection was closed.
    stuck.read_to_eof();
}
both_backends!(shutdown_timeout_bounds_a_stuck_request, timeout);

fn second_signal(backend: Backend) {
    let mut s = Server::start(backend, &["--urls", "http://127.0.0.1:0"]);
    let body = pattern(100_000);
    let mut stuck = s.connect(0);
    start_slow_echo(&mut stuck, &body, 50_000);
    s.signal(libc::SIGTERM);
    assert!(
        s.wait_stderr("Application is shutting down", IO_TIMEOUT),
        "{}",
        s.stderr()
    );
    s.signal(libc::SIGTERM);
    let status = s.wait_exit(EXIT_TIMEOUT);
    assert_eq!(status.code(), Some(1), "{}", s.stderr());
    assert!(s.wait_stderr("Second signal", IO_TIMEOUT), "{}", s.stderr());
}
both_backends!(second_signal_exits_at_once, second_signal);
