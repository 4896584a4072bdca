//! The opaque upgrade (`101 Switching Protocols`) through real sockets, on both backends,
//! mostly against the sample application's `GET /upgrade/echo`:
//!
//! - the handshake (the exact 101 head), a megabyte echoed byte-exact, bytes sent in the
//!   same write as the request head coming back first, the server closing once the client
//!   has;
//! - `--max-concurrent-upgraded-connections` (503, then a new upgrade once the upgraded
//!   connection closed) and `--max-concurrent-connections` (an upgraded connection no
//!   longer counts);
//! - graceful shutdown: the sample app ends its echo on the shutdown signal (the client
//!   reads end-of-stream, the process exits at once); a handler that ignores the signal
//!   (in-process) keeps its connection until `--shutdown-timeout`, then it is closed;
//! - requests that are not upgrades (no headers, another protocol, HTTP/1.0, a body) are
//!   ordinary requests, answered 400, on a connection that stays usable;
//! - `peregrine_connections_upgraded_total` on the metrics endpoint; curl's view of the
//!   handshake.

#[macro_use]
mod common;

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use common::inproc::InProc;
use common::probe::{metrics_addr, wait_until, Metrics};
use common::*;
use peregrine::http::{HeaderValue, StatusCode};
use peregrine::{Request, Response as HandlerResponse};

/// The upgrade request the sample app switches on.
const UPGRADE: &str =
    "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

fn server(backend: Backend, extra: &[&str]) -> Server {
    let mut args = vec!["--urls", "http://127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(backend, &args)
}

/// `len` pseudo-random bytes (xorshift64, fixed seed): no repeating pattern a shifted or
/// reordered echo could still match.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Assert `got == want` for large buffers, naming the first difference.
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got.iter().zip(want).position(|(a, b)| a != b);
        panic!(
            "{what}: {} bytes back for {} sent, first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// Check the `101` head exactly: status line, `Connection: Upgrade`, `Upgrade: echo`,
/// `Date`, `Server`, and no framing headers.
fn check_switched(r: &Response) {
    assert_eq!(r.status, 101, "{}", r.raw_head);
    assert_eq!(r.version, "HTTP/1.1", "{}", r.raw_head);
    assert_eq!(r.reason, "Switching Protocols", "{}", r.raw_head);
    assert_eq!(r.header("connection"), Some("Upgrade"), "{}", r.raw_head);
    assert_eq!(r.header("upgrade"), Some("echo"), "{}", r.raw_head);
    assert_standard_headers(r);
    assert!(
        r.header("content-length").is_none() && r.header("transfer-encoding").is_none(),
        "{}",
        r.raw_head
    );
    assert_eq!(r.headers.len(), 4, "{}", r.raw_head);
}

/// Upgrade `c` to the echo protocol.
fn upgrade(c: &mut Client) {
    c.send(UPGRADE);
    check_switched(&c.read_head());
}

/// Send `data` on an upgraded connection and read it back.
fn echo_round(c: &mut Client, data: &[u8]) {
    c.send(data);
    assert_same(&c.read_exact_raw(data.len()), data, "echo");
}

/// Close our side; the server closes its side too, with nothing more to say.
fn finish(c: &mut Client) {
    c.shutdown_write();
    c.expect_closed();
}

// ---------------------------------------------------------------------------------------
// The stream
// ---------------------------------------------------------------------------------------

fn megabyte(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    upgrade(&mut c);
    let data = noise(1 << 20);
    // Written on a thread while this one reads: the echo flows back while we send, so
    // neither side can stall on full socket buffers.
    let mut w = c.writer();
    let sent = data.clone();
    let writer = std::thread::spawn(move || -> io::Result<()> {
        for piece in sent.chunks(64 * 1024) {
            w.write_all(piece)?;
        }
        Ok(())
    });
    let back = c.read_exact_raw(data.len());
    writer
        .join()
        .expect("the writer thread")
        .expect("writing the megabyte");
    assert_same(&back, &data, "1 MiB echo");
    assert!(c.buffered().is_empty(), "more bytes than were sent");
    // Once the client closes its side, the server closes the connection.
    finish(&mut c);
}
both_backends!(a_megabyte_is_echoed_byte_exact, megabyte);

fn pipelined(backend: Backend) {
    let s = server(backend, &[]);
    // A few bytes (they arrive with the head, in the server's first read) and 32 KiB
    // (more than one read: part arrives with the head, the rest from the socket).
    for len in [12, 32 * 1024] {
        let mut c = s.connect(0);
        let behind = noise(len);
        let mut first = UPGRADE.as_bytes().to_vec();
        first.extend_from_slice(&behind);
        c.send(&first);
        check_switched(&c.read_head());
        assert_same(
            &c.read_exact_raw(len),
            &behind,
            &format!("{len} bytes behind the head"),
        );
        echo_round(&mut c, b"and then more");
        finish(&mut c);
    }
}
both_backends!(bytes_behind_the_head_come_back_first, pipelined);

// ---------------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------------

/// Send an upgrade on `c` and read the answer: the head of a `101`, or a whole response.
fn try_upgrade(c: &mut Client) -> Response {
    c.send(UPGRADE);
    c.read_response()
}

/// Assert the sample app's `503` to an upgrade over the limit: an ordinary response on a
/// connection that stays open.
fn check_refused(r: &Response) {
    assert_eq!(r.status, 503, "{}", r.raw_head);
    assert!(!r.closes(), "{}", r.raw_head);
    assert_eq!(r.header("content-length"), Some("0"), "{}", r.raw_head);
    assert!(r.header("upgrade").is_none(), "{}", r.raw_head);
}

fn upgraded_limit(backend: Backend) {
    let s = server(backend, &["--max-concurrent-upgraded-connections", "1"]);
    let mut a = s.connect(0);
    upgrade(&mut a);
    echo_round(&mut a, b"a is upgraded");

    // A second upgrade while `a` is upgraded: 503, and its connection serves on.
    let mut b = s.connect(0);
    check_refused(&try_upgrade(&mut b));
    let r = b.get("/plaintext");
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    // `a` is unaffected.
    echo_round(&mut a, b"a still echoes");

    // Once `a` has closed, an upgrade succeeds again (on `b`, which was refused before).
    // The server learns of the close a moment after our side sees it: retried, bounded.
    finish(&mut a);
    wait_until(
        IO_TIMEOUT,
        "an upgrade to succeed after the upgraded connection closed",
        || {
            let r = try_upgrade(&mut b);
            if r.status == 101 {
                check_switched(&r);
                return Some(());
            }
            check_refused(&r);
            None
        },
        String::new,
    );
    echo_round(&mut b, b"b is upgraded now");
    // Still one at most.
    let mut c = s.connect(0);
    check_refused(&try_upgrade(&mut c));
    finish(&mut b);
}
both_backends!(the_upgraded_connection_limit_answers_503, upgraded_limit);

fn leaves_connection_count(backend: Backend) {
    let s = server(backend, &["--max-concurrent-connections", "1"]);
    let addr = s.tcp_addr(0);
    let mut a = s.connect(0);
    upgrade(&mut a);
    // The upgraded connection left the count (before the 101 was sent): another one is
    // served at once.
    let mut b = s.connect(0);
    assert_eq!(b.get("/plaintext").status, 200);
    echo_round(&mut a, b"upgraded and echoing");
    // The limit still holds for HTTP connections: with `b` open, a third is closed at
    // once with nothing said.
    assert_rejected(addr);
    assert_eq!(b.get("/json").status, 200);
    finish(&mut a);
    assert_eq!(b.get("/plaintext").status, 200);
}
both_backends!(
    an_upgraded_connection_leaves_the_connection_count,
    leaves_connection_count
);

/// A new connection to `addr` is closed by the server without an answer (over
/// `--max-concurrent-connections`).
fn assert_rejected(addr: SocketAddr) {
    let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let _ = s.write_all(get("/plaintext").as_bytes());
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection over the limit: {e}"),
    }
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
}

// ---------------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------------

fn sigterm(backend: Backend) {
    let mut s = server(backend, &["--shutdown-timeout", "30s"]);
    let mut a = s.connect(0);
    upgrade(&mut a);
    echo_round(&mut a, b"before the signal");
    let start = Instant::now();
    s.signal(libc::SIGTERM);
    // The sample app ends its echo on the shutdown signal: its side is finished, then the
    // connection closed.
    let rest = a.read_to_eof();
    let eof_after = start.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        eof_after < Duration::from_secs(5),
        "EOF after {eof_after:?}"
    );
    let status = s.wait_exit(EXIT_TIMEOUT);
    let exited_after = start.elapsed();
    assert!(
        status.success(),
        "exit status {status}; stderr:\n{}",
        s.stderr()
    );
    // Well before the 30 s shutdown timeout, which was never reached.
    assert!(
        exited_after < Duration::from_secs(8),
        "exited after {exited_after:?}"
    );
    assert!(!s.stderr().contains("shutdown timeout"), "{}", s.stderr());
}
both_backends!(sigterm_ends_the_sample_echo_and_exits, sigterm);

/// Upgrades and echoes until the client closes, ignoring the shutdown signal.
async fn stubborn_echo(mut req: Request) -> HandlerResponse {
    let Ok(mut up) = req.upgrade(HeaderValue::from_static("echo")).await else {
        return HandlerResponse::with_status(StatusCode::BAD_REQUEST);
    };
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        let (res, b) = up.read(buf).await;
        buf = b;
        match res {
            Ok(n) if n > 0 => {
                if up.write_all(buf.split().freeze()).await.is_err() {
                    break;
                }
                buf.reserve(4096);
            }
            _ => break,
        }
    }
    HandlerResponse::default()
}

/// Wait until connecting to `addr` is refused (the listener closed once shutdown began).
/// Nothing to wait on from outside: retried (every 50 ms), bounded.
fn wait_refused(addr: SocketAddr) {
    wait_until(
        IO_TIMEOUT,
        "the listener to close",
        || match TcpStream::connect_timeout(&addr, IO_TIMEOUT) {
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                ) =>
            {
                Some(())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => None,
            Err(e) => panic!("connect to {addr}: {e}"),
            Ok(_) => None,
        },
        String::new,
    );
}

fn stubborn(backend: Backend) {
    // Short, yet long enough for an echo after the shutdown began.
    const TIMEOUT: Duration = Duration::from_secs(2);
    let mut s = InProc::start(backend, stubborn_echo, |o| o.shutdown_timeout = TIMEOUT);
    let mut a = s.connect();
    upgrade(&mut a);
    echo_round(&mut a, b"before the shutdown");
    let start = Instant::now();
    let stopped = s.shutdown_in_background();
    // Shutdown has begun (the listener is closed); the upgraded connection is served on
    // until the timeout, since its handler does not listen for the signal.
    wait_refused(s.addr());
    echo_round(&mut a, b"after the shutdown began");
    // Then the worker stops and the connection is closed (a FIN or a reset).
    let rest = a.read_to_eof();
    let closed_after = start.elapsed();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    assert!(
        closed_after >= TIMEOUT - Duration::from_millis(100),
        "closed after {closed_after:?}, before the {TIMEOUT:?} shutdown timeout"
    );
    assert!(
        closed_after < TIMEOUT + Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    stopped
        .recv_timeout(EXIT_TIMEOUT)
        .expect("the server did not stop after the shutdown timeout");
}
both_backends!(
    shutdown_timeout_closes_an_upgraded_connection_that_ignores_the_signal,
    stubborn
);

// ---------------------------------------------------------------------------------------
// Not upgrades
// ---------------------------------------------------------------------------------------

fn with_body(backend: Backend) {
    let s = server(backend, &[]);
    let head = "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n";
    let cases = [
        ("Content-Length", "Content-Length: 5\r\n\r\n", "hello"),
        (
            "chunked",
            "Transfer-Encoding: chunked\r\n\r\n",
            "5\r\nhello\r\n0\r\n\r\n",
        ),
    ];
    for (what, framing, body) in cases {
        // The next request in the same write: the body must be consumed exactly.
        let mut c = s.connect(0);
        c.send(format!("{head}{framing}{body}{}", get("/plaintext")));
        let r = c.read_response();
        assert_eq!(r.status, 400, "{what}: {}", r.raw_head);
        assert!(!r.closes(), "{what}: {}", r.raw_head);
        assert!(r.header("upgrade").is_none(), "{what}: {}", r.raw_head);
        let r = c.read_response();
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "Hello, World!"),
            "{what}"
        );
        assert_eq!(c.get("/json").status, 200, "{what}");

        // The body sent after the answer: the server skips it, then serves the next.
        let mut c = s.connect(0);
        c.send(format!("{head}{framing}"));
        let r = c.read_response();
        assert_eq!(r.status, 400, "{what}, body later: {}", r.raw_head);
        assert!(!r.closes(), "{what}, body later: {}", r.raw_head);
        c.send(format!("{body}{}", get("/plaintext")));
        let r = c.read_response();
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "Hello, World!"),
            "{what}, body later"
        );
    }
}
both_backends!(a_request_with_a_body_is_not_upgraded, with_body);

fn not_upgrades(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    let cases = [
        ("no upgrade headers", get("/upgrade/echo")),
        (
            "Upgrade without Connection: upgrade",
            "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n\r\n".to_string(),
        ),
        (
            "Connection: upgrade without Upgrade",
            "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n\r\n".to_string(),
        ),
        (
            "another protocol",
            "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
                .to_string(),
        ),
    ];
    for (what, req) in cases {
        c.send(req);
        let r = c.read_response();
        assert_eq!(r.status, 400, "{what}: {}", r.raw_head);
        assert!(!r.closes(), "{what}: {}", r.raw_head);
        assert!(r.body.is_empty(), "{what}");
    }
    // The connection was never switched.
    assert_eq!(c.get("/plaintext").status, 200);

    // HTTP/1.0 cannot upgrade: 400, then the server closes (no keep-alive).
    let mut c = s.connect(0);
    c.send("GET /upgrade/echo HTTP/1.0\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 400, "{}", r.raw_head);
    c.expect_closed();

    // `echo` among other offered protocols is chosen.
    let mut c = s.connect(0);
    c.send("GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: keep-alive, Upgrade\r\nUpgrade: h2c, echo\r\n\r\n");
    check_switched(&c.read_head());
    echo_round(&mut c, b"chosen");
    finish(&mut c);
}
both_backends!(requests_that_are_not_upgrades_get_400, not_upgrades);

// ---------------------------------------------------------------------------------------
// Metrics and curl
// ---------------------------------------------------------------------------------------

fn metrics(backend: Backend) {
    let s = server(backend, &["--metrics-urls", "http://127.0.0.1:0"]);
    let m = metrics_addr(&s);
    let upgraded = || Metrics::scrape(m).sum("peregrine_connections_upgraded_total", &[]);
    assert_eq!(upgraded(), 0);
    let mut a = s.connect(0);
    upgrade(&mut a);
    echo_round(&mut a, b"counted");
    // Published once a second: polled, bounded.
    wait_until(
        IO_TIMEOUT,
        "peregrine_connections_upgraded_total to be 1",
        || (upgraded() == 1).then_some(()),
        || format!("{:?}", Metrics::scrape(m).series),
    );
    finish(&mut a);
    // Once the upgraded connection has ended: closed for the reason "upgraded", nothing
    // open, still one upgrade.
    wait_until(
        IO_TIMEOUT,
        "the upgraded connection to be counted closed",
        || {
            let now = Metrics::scrape(m);
            (now.sum(
                "peregrine_connections_closed_total",
                &[("reason", "upgraded")],
            ) == 1
                && now.sum("peregrine_connections_active", &[]) == 0)
                .then_some(())
        },
        || format!("{:?}", Metrics::scrape(m).series),
    );
    assert_eq!(upgraded(), 1);
}
both_backends!(metrics_count_upgraded_connections, metrics);

fn curl_handshake(backend: Backend) {
    let Some(curl) = ["/usr/bin/curl", "/usr/local/bin/curl", "/bin/curl"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        skip("curl is not installed");
        return;
    };
    let s = server(backend, &[]);
    let url = format!("{}/upgrade/echo", s.urls[0]);
    // curl prints the 101 head, then waits on the switched stream until --max-time.
    let out = Command::new(curl)
        .args(["-i", "-sS", "--max-time", "2"])
        .args(["-H", "Connection: Upgrade", "-H", "Upgrade: echo", &url])
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout);
    // 0, or 28 (timed out waiting on the upgraded stream).
    assert!(
        matches!(out.status.code(), Some(0 | 28)),
        "curl: {}; {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{text:?}"
    );
    let head = text.to_ascii_lowercase();
    assert!(head.contains("\r\nconnection: upgrade\r\n"), "{text:?}");
    assert!(head.contains("\r\nupgrade: echo\r\n"), "{text:?}");
    // Without the headers: 400.
    let out = Command::new(curl)
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg(&url)
        .stdin(Stdio::null())
        .output()
        .expect("run curl");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
}
both_backends!(curl_sees_the_101_head, curl_handshake);
