//! Kestrel's limits and timeouts, checked through real sockets on both backends.
//!
//! - Size limits: request line (414), header section and header count (431), request
//!   body (413: at once for a Content-Length over the limit, as soon as the count passes
//!   it for chunked; per request from the handler, through an in-process server), each
//!   at its default and set by flag, environment and config file; bad values refused.
//! - Buffers: the request and response buffer limits are backpressure, not errors: a
//!   client whose responses are not read stops being read, a slow reader stalls the
//!   writes, and the server's memory does not grow with what is pending.
//! - Timeouts and rates end to end (short values, bounded waits, never a sleep standing
//!   in for an event): one case each of keep-alive (closed, no answer), request headers
//!   (408), minimum request body rate (408) and minimum response rate (aborted), so the
//!   worker's real once-a-second sweep and its `shutdown(2)` wake-up of a pending read
//!   or write stay covered on both backends; draining an unread body (at most 5 s, a
//!   real timer). Their details (never early, at most a tick late, counted from the
//!   first byte, trickling, timers restarting, the default grace, rates off, readers at
//!   the minimum rate) are the engine's in-memory tests, with the clock ticked by hand
//!   (`engine/src/proto/h1/tests/timeouts.rs`).
//! - `--max-concurrent-connections`: one over the limit is closed at once with a warning,
//!   the others are unaffected.
//! - Every answer the server gives itself has the exact shape (status line,
//!   `Content-Length: 0`, `Connection: close`, `Date`, `Server`, no body, close) and its
//!   reason goes to the debug log, never to the client.
//!
//! The timing scenarios that share a server configuration run at once, on threads, so
//! their waits overlap; a failure names every scenario that failed.

#[macro_use]
mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::inproc::InProc;
use common::probe::{
    check_error_head, expect_error_answer, metrics_addr, rss_kib, wait_until, Metrics,
};
use common::*;

fn server(backend: Backend, extra: &[&str]) -> Server {
    let mut args = vec!["--urls", "http://127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(backend, &args)
}

/// Send `raw` on a new connection to `addr`; expect the server's own `status` answer.
fn rejects(addr: SocketAddr, raw: &[u8], status: u16, what: &str) {
    let mut c = Client::tcp(addr);
    c.send(raw);
    expect_error_answer(&mut c, status, None, what);
}

/// Send `raw` on a new connection to `addr`; expect `status` and a connection kept open.
fn accepts(addr: SocketAddr, raw: &[u8], status: u16, what: &str) -> Response {
    let mut c = Client::tcp(addr);
    c.send(raw);
    let r = c.read_response();
    assert_eq!(r.status, status, "{what}: {}", r.raw_head);
    assert!(!r.closes(), "{what}: {}", r.raw_head);
    r
}

/// `GET /plaintext` whose request line (without its line ending) is `len` bytes long.
fn line_of(len: usize) -> String {
    let fixed = "GET /plaintext? HTTP/1.1".len();
    format!(
        "GET /plaintext?{} HTTP/1.1\r\nHost: t\r\n\r\n",
        "q".repeat(len - fixed)
    )
}

/// `GET /plaintext` whose header section (header lines and the final empty line) is
/// `len` bytes long.
fn section_of(len: usize) -> String {
    let fixed = "Host: t\r\nX: \r\n\r\n".len();
    format!(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nX: {}\r\n\r\n",
        "v".repeat(len - fixed)
    )
}

/// `GET /plaintext` with `n` header lines (Host included).
fn count_of(n: usize) -> String {
    let extra: String = (1..n).map(|i| format!("X-{i}: v\r\n")).collect();
    format!("GET /plaintext HTTP/1.1\r\nHost: t\r\n{extra}\r\n")
}

/// `POST path` with a Content-Length of `len` and `body` (possibly shorter).
fn post_cl(path: &str, len: u64, body: &str) -> String {
    format!("POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n{body}")
}

/// `GET path` with a Content-Length of `len` and `body`: `/plaintext` answers it without
/// reading the body.
fn get_cl(path: &str, len: u64, body: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n{body}")
}

/// Check the line, section and count limits at `line`, `section` and `count` (the most
/// that passes; one more is refused).
fn check_head_limits(addr: SocketAddr, line: usize, section: usize, count: usize) {
    accepts(addr, line_of(line).as_bytes(), 200, "line at the limit");
    rejects(
        addr,
        line_of(line + 1).as_bytes(),
        414,
        "line over the limit",
    );
    accepts(
        addr,
        section_of(section).as_bytes(),
        200,
        "section at the limit",
    );
    rejects(
        addr,
        section_of(section + 1).as_bytes(),
        431,
        "section over",
    );
    accepts(addr, count_of(count).as_bytes(), 200, "count at the limit");
    rejects(
        addr,
        count_of(count + 1).as_bytes(),
        431,
        "count over the limit",
    );
}

fn head_limits(backend: Backend) {
    // Kestrel's defaults: 8192, 32768, 100.
    let s = server(backend, &[]);
    check_head_limits(s.tcp_addr(0), 8192, 32768, 100);
    // A request line or header that never ends is refused as soon as it passes the
    // limit: no line ending is ever sent.
    rejects(
        s.tcp_addr(0),
        format!("GET /{}", "a".repeat(9000)).as_bytes(),
        414,
        "endless request line",
    );
    rejects(
        s.tcp_addr(0),
        format!("GET / HTTP/1.1\r\nHost: t\r\nX: {}", "a".repeat(40000)).as_bytes(),
        431,
        "endless header",
    );
    // Set by flag.
    let s = server(
        backend,
        &[
            "--max-request-line-size",
            "100",
            "--max-request-headers-total-size",
            "2048",
            "--max-request-header-count",
            "5",
        ],
    );
    check_head_limits(s.tcp_addr(0), 100, 2048, 5);
}
both_backends!(head_limits_at_their_defaults_and_by_flag, head_limits);

fn body_limit_content_length(backend: Backend) {
    // The default, 30,000,000: a Content-Length one over is refused before any body byte
    // is sent; at the limit the body is read (the echo starts).
    let s = server(backend, &[]);
    let addr = s.tcp_addr(0);
    rejects(
        addr,
        post_cl("/request", 30_000_001, "").as_bytes(),
        413,
        "default + 1",
    );
    rejects(
        addr,
        post_cl("/echo/stream", 30_000_001, "").as_bytes(),
        413,
        "echo, default + 1",
    );
    let mut c = Client::tcp(addr);
    c.send(post_cl("/echo/stream", 30_000_000, "0123456789"));
    assert_eq!(c.read_head().status, 200);
    c.wait_for_bytes(b"0123456789");

    // By flag.
    let s = server(backend, &["--max-request-body-size", "1000"]);
    let addr = s.tcp_addr(0);
    let body = "b".repeat(1000);
    let r = accepts(
        addr,
        post_cl("/request", 1000, &body).as_bytes(),
        200,
        "1000",
    );
    assert_eq!(r.json()["body_length"], 1000);
    rejects(addr, post_cl("/request", 1001, "").as_bytes(), 413, "1001");
    rejects(
        addr,
        post_cl("/echo/stream", 1001, "").as_bytes(),
        413,
        "echo 1001",
    );
    // A request that never reads its body is answered; the body over the limit is not
    // drained, the connection closes promptly after the answer.
    let mut c = Client::tcp(addr);
    c.send(get_cl("/plaintext", 5000, "x"));
    assert_eq!(c.read_response().status, 200);
    c.set_read_timeout(Duration::from_secs(3));
    c.expect_closed();

    // Unlimited.
    let s = server(backend, &["--max-request-body-size", "unlimited"]);
    let mut c = s.connect(0);
    c.send(post_cl("/echo/stream", 40_000_000_000, "0123456789"));
    assert_eq!(c.read_head().status, 200);
    c.wait_for_bytes(b"0123456789");
}
both_backends!(
    a_content_length_over_the_body_limit_is_413_at_once,
    body_limit_content_length
);

fn body_limit_chunked(backend: Backend) {
    let s = server(backend, &["--max-request-body-size", "1000"]);
    let addr = s.tcp_addr(0);
    let head = "POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
    let k = "k".repeat(1000);
    // Exactly the limit.
    let r = accepts(
        addr,
        format!("{head}3e8\r\n{k}\r\n0\r\n\r\n").as_bytes(),
        200,
        "chunked at the limit",
    );
    assert_eq!(r.json()["body_length"], 1000);
    // One byte more: 413 as soon as it is counted, without the body's end.
    rejects(
        addr,
        format!("{head}3e8\r\n{k}\r\n1\r\nx\r\n").as_bytes(),
        413,
        "chunked over the limit",
    );
    rejects(
        addr,
        format!("{head}400\r\n{}", "k".repeat(1024)).as_bytes(),
        413,
        "one chunk over the limit",
    );
}
both_backends!(
    a_chunked_body_over_the_limit_is_413_as_soon_as_counted,
    body_limit_chunked
);

/// Once a response has started on the wire, a body error (the limit passed, the rate too
/// low) can only close the connection: an error answer would land inside the response.
/// `/echo/stream` sends the first piece of the body back before reading on; then the body goes
/// over the limit, or stalls. The client must see the started response stop (no last
/// chunk) and the close — never a second status line.
fn error_after_start(backend: Backend) {
    let s = server(
        backend,
        &[
            "--max-request-body-size",
            "1000",
            "--min-request-body-data-rate",
            "240",
            "--min-request-body-data-rate-grace",
            "1s",
        ],
    );
    let after_start = |c: &mut Client, what: &str| {
        c.set_read_timeout(Duration::from_secs(8));
        let rest = String::from_utf8_lossy(&c.read_to_eof()).into_owned();
        assert!(!rest.contains("HTTP/1.1"), "{what}: {rest:?}");
        assert!(!rest.ends_with("0\r\n\r\n"), "{what}: {rest:?}");
    };
    // Over the limit.
    let mut c = s.connect(0);
    c.send(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
    );
    assert_eq!(c.read_head().status, 200);
    c.wait_for_bytes(b"0123456789\r\n");
    c.send(format!("3e8\r\n{}\r\n", "k".repeat(1000)));
    after_start(&mut c, "over the body limit");
    // Too slow.
    let mut c = s.connect(0);
    c.send(post_cl("/echo/stream", 900, "0123456789"));
    assert_eq!(c.read_head().status, 200);
    c.wait_for_bytes(b"0123456789");
    after_start(&mut c, "under the body rate");
}
both_backends!(
    a_body_error_after_the_response_started_only_closes,
    error_after_start
);

/// The handler sets its request's limit from the query (`raise`, `lower`, `unlimited`),
/// or tries to after the first read (`late`), then reads the whole body; it answers the
/// byte count, or the error.
async fn limited(mut req: peregrine::Request) -> peregrine::Response {
    let query = req.query().unwrap_or("").to_string();
    let set = match query.as_str() {
        "raise" => Some(Some(100_000)),
        "lower" => Some(Some(10)),
        "unlimited" => Some(None),
        _ => None,
    };
    if let Some(limit) = set {
        if let Err(e) = req.set_max_body_size(limit) {
            return peregrine::Response::new(format!("set failed: {e}"));
        }
    }
    let mut n = 0usize;
    let mut late = None;
    while let Some(chunk) = req.body_mut().chunk().await {
        match chunk {
            Ok(b) => n += b.len(),
            Err(e) => return peregrine::Response::new(format!("read failed: {e}")),
        }
        if query == "late" && late.is_none() {
            late = Some(req.set_max_body_size(Some(1 << 30)));
        }
    }
    match late {
        Some(Err(e)) => peregrine::Response::new(format!("{n} late: {e}")),
        Some(Ok(())) => peregrine::Response::new(format!("{n} late: changed")),
        None => peregrine::Response::new(format!("{n}")),
    }
}

fn per_request_limit(backend: Backend) {
    let s = InProc::start(backend, limited, |o| o.max_request_body_size = Some(1000));
    let addr = s.addr();
    let body = |n: usize| "b".repeat(n);
    let ok = |query: &str, n: usize| {
        let r = accepts(
            addr,
            post_cl(&format!("/?{query}"), n as u64, &body(n)).as_bytes(),
            200,
            query,
        );
        r.text()
    };
    // The server's limit.
    assert_eq!(ok("", 1000), "1000");
    rejects(addr, post_cl("/", 1001, "").as_bytes(), 413, "default");
    // Raised for one request; the next request has the server's limit again.
    assert_eq!(ok("raise", 50_000), "50000");
    rejects(
        addr,
        post_cl("/?raise", 100_001, "").as_bytes(),
        413,
        "raise",
    );
    let mut c = Client::tcp(addr);
    c.send(post_cl("/?raise", 5000, &body(5000)));
    assert_eq!(c.read_response().text(), "5000");
    c.send(post_cl("/", 1001, ""));
    let r = c.read_head();
    check_error_head(&r, 413, None, "the next request on the connection");
    // Lowered, for Content-Length and chunked bodies.
    assert_eq!(ok("lower", 10), "10");
    rejects(addr, post_cl("/?lower", 11, "").as_bytes(), 413, "lower");
    rejects(
        addr,
        b"POST /?lower HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n",
        413,
        "lower, chunked",
    );
    // Unlimited.
    assert_eq!(ok("unlimited", 200_000), "200000");
    // Too late once reading started: the change fails, the body is read under the old
    // limit.
    assert_eq!(
        ok("late", 500),
        "500 late: the request body size limit cannot change after reading has started"
    );
}
both_backends!(
    the_handler_can_change_its_request_body_limit_before_reading,
    per_request_limit
);

/// Every limit from the environment and from the config file (and the command line over
/// the environment); the timeouts and rates are accepted from both.
fn limits_from_env_and_file(backend: Backend) {
    let env = [
        ("PEREGRINE_MAX_REQUEST_LINE_SIZE", "100"),
        ("PEREGRINE_MAX_REQUEST_HEADERS_TOTAL_SIZE", "2048"),
        ("PEREGRINE_MAX_REQUEST_HEADER_COUNT", "5"),
        ("PEREGRINE_MAX_REQUEST_BODY_SIZE", "1000"),
        ("PEREGRINE_MAX_REQUEST_BUFFER_SIZE", "65536"),
        ("PEREGRINE_MAX_RESPONSE_BUFFER_SIZE", "8192"),
        ("PEREGRINE_KEEP_ALIVE_TIMEOUT", "1s"),
        ("PEREGRINE_REQUEST_HEADERS_TIMEOUT", "10s"),
        ("PEREGRINE_MIN_REQUEST_BODY_DATA_RATE", "100"),
        ("PEREGRINE_MIN_REQUEST_BODY_DATA_RATE_GRACE", "3s"),
        ("PEREGRINE_MIN_RESPONSE_DATA_RATE", "off"),
        ("PEREGRINE_MAX_CONCURRENT_CONNECTIONS", "50"),
    ];
    let mut cmd = command(Some(backend), &["--urls", "http://127.0.0.1:0"]);
    cmd.envs(env);
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    check_env_or_file(&s, "environment");

    let dir = TempDir::new("limits");
    let file = dir.join("limits.toml");
    std::fs::write(
        &file,
        r#"urls = "http://127.0.0.1:0"
max-request-line-size = 100
max-request-headers-total-size = 2048
max-request-header-count = 5
max-request-body-size = 1000
max-request-buffer-size = 65536
max-response-buffer-size = 8192
keep-alive-timeout = 1
request-headers-timeout = "10s"
min-request-body-data-rate = 100
min-request-body-data-rate-grace = "3s"
min-response-data-rate = "off"
min-response-data-rate-grace = 2
max-concurrent-connections = 50
"#,
    )
    .unwrap();
    let file = file.display().to_string();
    let s = Server::start(backend, &["--config", &file]);
    check_env_or_file(&s, "file");

    // The command line over the environment, the environment over the file.
    let mut cmd = command(
        Some(backend),
        &["--config", &file, "--max-request-line-size", "300"],
    );
    cmd.env("PEREGRINE_MAX_REQUEST_BODY_SIZE", "unlimited");
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    let addr = s.tcp_addr(0);
    accepts(addr, line_of(300).as_bytes(), 200, "line 300 by flag");
    rejects(addr, line_of(301).as_bytes(), 414, "line 301 by flag");
    let mut c = Client::tcp(addr);
    c.send(post_cl("/echo/stream", 1_000_000, "0123456789"));
    assert_eq!(c.read_head().status, 200, "unlimited from the environment");
}
both_backends!(
    limits_from_the_environment_and_the_file,
    limits_from_env_and_file
);

fn check_env_or_file(s: &Server, what: &str) {
    let addr = s.tcp_addr(0);
    check_head_limits(addr, 100, 2048, 5);
    let body = "b".repeat(1000);
    let r = accepts(addr, post_cl("/request", 1000, &body).as_bytes(), 200, what);
    assert_eq!(r.json()["body_length"], 1000);
    rejects(addr, post_cl("/request", 1001, "").as_bytes(), 413, what);
    // The keep-alive timeout of 1 s.
    let mut c = Client::tcp(addr);
    assert_eq!(c.get("/plaintext").status, 200);
    let t0 = Instant::now();
    c.set_read_timeout(Duration::from_secs(5));
    c.expect_closed();
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(3500),
        "{what}: idle connection closed after {took:?} (keep-alive timeout 1 s)"
    );
}

fn bad_values(backend: Backend) {
    let run = |extra: &[&str]| {
        let mut args = vec!["--urls", "http://127.0.0.1:0"];
        args.extend_from_slice(extra);
        run_to_exit(Some(backend), &args)
    };
    run(&["--max-request-buffer-size", "100"]).assert_error(
        "Maximum request buffer size (100) must be greater than or equal to maximum request line size (8192).",
    );
    run(&["--max-request-buffer-size", "16384"]).assert_error(
        "Maximum request buffer size (16384) must be greater than or equal to maximum request headers size (32768).",
    );
    run(&["--max-response-buffer-size", "0"])
        .assert_error("--max-response-buffer-size must be greater than 0");
    run(&["--max-request-header-count", "0"])
        .assert_error("--max-request-header-count must be greater than 0");
    run(&["--max-request-body-size", "lots"])
        .assert_error("'lots' is not a number of bytes or 'unlimited'");
    run(&["--min-request-body-data-rate", "fast"]).assert_error("is not a rate in bytes/s");
    run(&["--min-response-data-rate=-1"]).assert_error("is not a rate in bytes/s");
    run(&["--keep-alive-timeout", "0"]).assert_error("Timeouts must be greater than 0.");
    run(&["--request-headers-timeout", "never"]).assert_error("invalid duration 'never'");
    run(&["--max-concurrent-connections", "0"])
        .assert_error("Maximum concurrent connections must be greater than 0.");
}
both_backends!(bad_limit_values_are_refused, bad_values);

// ---------------------------------------------------------------------------------------
// Buffers: backpressure
// ---------------------------------------------------------------------------------------

/// Deterministic body bytes (built by copying, which stays fast in a debug build).
fn pattern(len: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..251u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut v = block.repeat(len / block.len() + 1);
    v.truncate(len);
    v
}

/// Read one chunked response from `s` with plain copies (the byte-wise client is slow on
/// tens of megabytes in a debug build): its head and its de-chunked body.
fn read_chunked_fast(s: &mut TcpStream) -> (String, Vec<u8>) {
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    while !raw.ends_with(b"\r\n0\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) => panic!("the connection closed before the end of the response"),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let head_end = memchr::memmem::find(&raw, b"\r\n\r\n").expect("a head") + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut body = Vec::new();
    let mut i = head_end;
    loop {
        let eol = i + memchr::memmem::find(&raw[i..], b"\r\n").expect("a chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[i..eol]).unwrap(), 16)
            .expect("a hex chunk size");
        if size == 0 {
            return (head, body);
        }
        body.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        assert_eq!(&raw[eol + 2 + size..eol + 4 + size], b"\r\n");
        i = eol + 4 + size;
    }
}

/// A TCP connection with small kernel buffers on our side (so what the server holds
/// back shows), as a raw stream. The sizes are set before connecting: shrinking the
/// receive buffer of an established connection can leave TCP stalled on window probes.
fn small_buffered(addr: SocketAddr) -> TcpStream {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .unwrap();
    sock.set_recv_buffer_size(64 * 1024).unwrap();
    sock.set_send_buffer_size(64 * 1024).unwrap();
    sock.set_tcp_nodelay(true).unwrap();
    sock.connect_timeout(&addr.into(), IO_TIMEOUT)
        .expect("connect");
    sock.into()
}

/// Write `data` until the peer stops taking it for `stall` (returns how much went), or
/// all of it went (`None`).
fn write_until_stalled(s: &mut TcpStream, data: &[u8], stall: Duration) -> Option<usize> {
    s.set_write_timeout(Some(stall)).unwrap();
    let mut sent = 0;
    while sent < data.len() {
        let end = (sent + 64 * 1024).min(data.len());
        match s.write(&data[sent..end]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Some(sent)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("write: {e}"),
        }
    }
    None
}

/// A client that sends a large body to `/echo/stream` and does not read the echo: the server
/// stops reading the body (the client's writes stall) and its memory does not grow with
/// the data held back. Reading the echo then lets everything through, intact.
fn request_backpressure(backend: Backend) {
    let s = server(
        backend,
        &[
            "--max-request-body-size",
            "unlimited",
            "--max-request-buffer-size",
            "65536",
            "--max-response-buffer-size",
            "8192",
        ],
    );
    let pid = s.pid();
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    let rss_before = rss_kib(pid);
    const TOTAL: usize = 24 << 20;
    let body = Arc::new(pattern(TOTAL));
    let mut sock = small_buffered(s.tcp_addr(0));
    sock.write_all(
        format!("POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Length: {TOTAL}\r\n\r\n")
            .as_bytes(),
    )
    .unwrap();
    let stalled_at = write_until_stalled(&mut sock, &body, Duration::from_millis(500))
        .unwrap_or_else(|| panic!("all {TOTAL} bytes were taken without the echo being read"));
    let rss_stalled = rss_kib(pid);
    eprintln!(
        "request backpressure ({backend:?}): stalled after {} KiB of {} KiB; server RSS {} -> {} KiB",
        stalled_at >> 10,
        TOTAL >> 10,
        rss_before,
        rss_stalled
    );
    assert!(
        rss_stalled < rss_before + 16 * 1024,
        "the server's memory grew by {} KiB while {} KiB were held back",
        rss_stalled - rss_before,
        stalled_at >> 10
    );
    // Read the echo on another thread; the rest of the body now goes through.
    let reader = sock.try_clone().unwrap();
    let expected = body.clone();
    let echo = std::thread::spawn(move || {
        let mut reader = reader;
        let (head, echoed) = read_chunked_fast(&mut reader);
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert_eq!(echoed.len(), expected.len());
        assert!(echoed == *expected, "the echo differs from the body");
    });
    sock.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    sock.write_all(&body[stalled_at..]).unwrap();
    echo.join().expect("the echo was not received intact");
}
both_backends!(
    a_client_not_reading_its_echo_is_not_read_from,
    request_backpressure
);

/// Pipelined requests for 1 MiB responses that the client does not read: the server
/// writes what the socket takes and then waits; it neither buffers the responses nor
/// reads further ahead. Reading then gets every response, intact.
fn response_backpressure(backend: Backend) {
    let s = server(
        backend,
        &[
            "--metrics-urls",
            "http://127.0.0.1:0",
            "--max-response-buffer-size",
            "8192",
        ],
    );
    let pid = s.pid();
    let metrics = metrics_addr(&s);
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    let rss_before = rss_kib(pid);
    const REQUESTS: usize = 32;
    const EACH: usize = 16 * 65536;
    let mut sock = small_buffered(s.tcp_addr(0));
    let one = get("/stream?chunks=16&size=65536");
    sock.write_all(one.repeat(REQUESTS).as_bytes()).unwrap();
    // Wait until the bytes sent stop growing across two publications.
    // Wait until the bytes sent stop growing across two publications (once a second).
    let last = std::cell::Cell::new(u64::MAX);
    let sent = wait_until(
        Duration::from_secs(15),
        "the server's writes to stall",
        || {
            let now = Metrics::scrape(metrics).sum("peregrine_sent_bytes_total", &[]);
            let stable = (now == last.get()).then_some(now);
            last.set(now);
            if stable.is_none() {
                std::thread::sleep(Duration::from_millis(1100));
            }
            stable
        },
        || format!("sent {} bytes", last.get()),
    );
    let rss_stalled = rss_kib(pid);
    eprintln!(
        "response backpressure ({backend:?}): {} KiB sent of {} KiB asked for; server RSS {} -> {} KiB",
        sent >> 10,
        (REQUESTS * EACH) >> 10,
        rss_before,
        rss_stalled
    );
    assert!(sent < (REQUESTS * EACH / 2) as u64, "sent {sent}");
    assert!(
        rss_stalled < rss_before + 16 * 1024,
        "the server's memory grew by {} KiB with responses pending",
        rss_stalled - rss_before
    );
    // Everything arrives once read.
    let mut c = Client::from_tcp(sock);
    for i in 0..REQUESTS {
        let r = c.read_response();
        assert_eq!(r.status, 200, "response {i}");
        assert_eq!(r.body.len(), EACH, "response {i}");
    }
}
both_backends!(
    unread_responses_stall_the_server_without_buffering,
    response_backpressure
);

// ---------------------------------------------------------------------------------------
// Timeouts and rates
// ---------------------------------------------------------------------------------------

type Scenario = (&'static str, Box<dyn FnOnce() + Send>);

/// Run the scenarios at once and fail with every one that failed.
fn concurrently(scenarios: Vec<Scenario>) {
    let running: Vec<_> = scenarios
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let failed: Vec<String> = running
        .into_iter()
        .filter_map(|(name, h)| {
            h.join().err().map(|e| {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                format!("{name}: {msg}")
            })
        })
        .collect();
    assert!(
        failed.is_empty(),
        "failed scenarios:\n{}",
        failed.join("\n")
    );
}

/// Assert `took` lies in `lo..hi` seconds.
fn within(took: Duration, lo: f64, hi: f64, what: &str) {
    let t = took.as_secs_f64();
    assert!(
        (lo..hi).contains(&t),
        "{what}: took {t:.2} s, expected {lo} to {hi} s"
    );
}

/// Wait (bounded) for the server to close `c`; returns the time since `t0` and what
/// arrived first.
fn closed_after(c: &mut Client, t0: Instant, limit: Duration) -> (Duration, Vec<u8>) {
    c.set_read_timeout(limit);
    let rest = c.read_to_eof();
    (t0.elapsed(), rest)
}

/// Keep-alive 1 s, request headers 1 s, body and response rates 240 B/s after 1 s: one
/// case of each over real sockets and the real clock (a 1 s wait ends between the first
/// and the second sweep after it began).
fn timeouts(backend: Backend) {
    let s = server(
        backend,
        &[
            "--keep-alive-timeout",
            "1s",
            "--request-headers-timeout",
            "1s",
            "--min-request-body-data-rate",
            "240",
            "--min-request-body-data-rate-grace",
            "1s",
            "--min-response-data-rate",
            "240",
            "--min-response-data-rate-grace",
            "1s",
        ],
    );
    let addr = s.tcp_addr(0);
    let limit = Duration::from_secs(8);
    let scenarios: Vec<Scenario> = vec![
        (
            "keep-alive: idle after a response is closed, no answer",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                assert_eq!(c.get("/plaintext").status, 200);
                let (took, rest) = closed_after(&mut c, Instant::now(), limit);
                assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
                within(took, 0.9, 3.5, "idle close");
            }),
        ),
        (
            "request headers: a partial head gets 408",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                let t0 = Instant::now();
                c.send("GET /plaintext HTTP/1.1\r\nHost:");
                c.set_read_timeout(limit);
                expect_error_answer(&mut c, 408, None, "partial head");
                within(t0.elapsed(), 0.9, 3.5, "408");
            }),
        ),
        (
            "body rate: a stalled body gets 408 before the response starts",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                let t0 = Instant::now();
                c.send(post_cl("/request", 100_000, "0123456789"));
                c.set_read_timeout(limit);
                expect_error_answer(&mut c, 408, None, "stalled body");
                within(t0.elapsed(), 0.9, 3.5, "408 for the body rate");
            }),
        ),
        (
            "response rate: a client that stops reading is aborted",
            Box::new(move || {
                // The rate is averaged over the time writes wait, and the megabytes the
                // kernel takes at once count as written (as does the write in flight): at
                // 240 B/s a reader that stops would be given hours. A rate above what the
                // kernel buffers shows the abort within seconds.
                let s = server(
                    backend,
                    &[
                        "--min-response-data-rate",
                        "16000000",
                        "--min-response-data-rate-grace",
                        "1s",
                        "--metrics-urls",
                        "http://127.0.0.1:0",
                    ],
                );
                let metrics = metrics_addr(&s);
                let mut c = Client::from_tcp(small_buffered(s.tcp_addr(0)));
                let t0 = Instant::now();
                c.send(get("/stream?chunks=1024&size=65536"));
                wait_until(
                    limit,
                    "a data_rate close in the metrics",
                    || {
                        (Metrics::scrape(metrics).sum(
                            "peregrine_connections_closed_total",
                            &[("reason", "data_rate")],
                        ) >= 1)
                            .then_some(())
                    },
                    String::new,
                );
                assert!(t0.elapsed() >= Duration::from_millis(900));
                let got = c.read_to_eof();
                assert!(got.len() < 64 << 20, "got all {} bytes", got.len());
                assert!(!got.ends_with(b"0\r\n\r\n"));
            }),
        ),
        (
            "response rate: a client that reads gets everything",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                let r = c.get("/stream?chunks=128&size=65536");
                assert_eq!(r.body.len(), 128 * 65536);
                assert_eq!(c.get("/plaintext").status, 200);
            }),
        ),
    ];
    concurrently(scenarios);
}
both_backends!(timeouts_and_data_rates, timeouts);

/// Draining an unread body after the response: the connection goes on, or closes after
/// at most 5 s (a real timer, not the sweep; the rates are off so that it is what ends
/// the drain).
fn drain(backend: Backend) {
    let s = server(
        backend,
        &[
            "--min-request-body-data-rate",
            "off",
            "--min-response-data-rate",
            "off",
        ],
    );
    let addr = s.tcp_addr(0);
    let limit = Duration::from_secs(10);
    let scenarios: Vec<Scenario> = vec![
        (
            "drain: an unread body is drained and the connection reused",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                c.send(get_cl("/plaintext", 1000, &"d".repeat(1000)));
                assert_eq!(c.read_response().status, 200);
                assert_eq!(c.get("/json").status, 200);
            }),
        ),
        (
            "drain: at most 5 s, then the connection is closed",
            Box::new(move || {
                let mut c = Client::tcp(addr);
                c.send(get_cl("/plaintext", 1_000_000, &"d".repeat(100)));
                assert_eq!(c.read_response().status, 200);
                let (took, rest) = closed_after(&mut c, Instant::now(), limit);
                assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
                within(took, 4.8, 7.5, "drain timeout");
            }),
        ),
    ];
    concurrently(scenarios);
}
both_backends!(draining_an_unread_body, drain);

// ---------------------------------------------------------------------------------------
// Concurrent connections, answers and logs
// ---------------------------------------------------------------------------------------

fn concurrent_limit(backend: Backend) {
    let s = server(
        backend,
        &[
            "--threads",
            "2",
            "--max-concurrent-connections",
            "2",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let addr = s.tcp_addr(0);
    let metrics = metrics_addr(&s);
    let mut a = Client::tcp(addr);
    let mut b = Client::tcp(addr);
    assert_eq!(a.get("/plaintext").status, 200);
    assert_eq!(b.get("/plaintext").status, 200);
    // The third is closed at once, with nothing said.
    let t0 = Instant::now();
    let mut third = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    third.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let _ = third.write_all(get("/plaintext").as_bytes());
    let mut got = Vec::new();
    match third.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection over the limit: {e}"),
    }
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(
        s.wait_stderr(
            "Connection rejected because the maximum number of concurrent connections (2) has been reached.",
            IO_TIMEOUT
        ),
        "{}",
        s.stderr()
    );
    assert!(s
        .stderr()
        .lines()
        .any(|l| l.contains(" WARN ") && l.contains("Connection rejected")));
    // The others are unaffected.
    assert_eq!(a.get("/json").status, 200);
    assert_eq!(b.get("/json").status, 200);
    wait_until(
        IO_TIMEOUT,
        "connections_rejected_total to count it",
        || {
            (Metrics::scrape(metrics).sum("peregrine_connections_rejected_total", &[]) >= 1)
                .then_some(())
        },
        String::new,
    );
    // Once one closes, a new connection is served (the server sees the close a moment
    // later: retried, bounded).
    drop(a);
    wait_until(
        IO_TIMEOUT,
        "a new connection to be served after one closed",
        || {
            let mut s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).ok()?;
            s.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
            s.write_all(get("/plaintext").as_bytes()).ok()?;
            let mut buf = [0u8; 12];
            s.read_exact(&mut buf).ok()?;
            (&buf == b"HTTP/1.1 200").then_some(())
        },
        String::new,
    );
    assert_eq!(b.get("/plaintext").status, 200);
}
both_backends!(
    a_connection_over_the_limit_is_closed_at_once,
    concurrent_limit
);

fn debug_log(backend: Backend) {
    let s = server(
        backend,
        &[
            "--log-level",
            "debug",
            "--request-headers-timeout",
            "1s",
            "--max-request-body-size",
            "10",
        ],
    );
    let addr = s.tcp_addr(0);
    let cases: [(&[u8], u16, Option<&str>, &str); 8] = [
        (
            b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            400,
            None,
            "multiple Content-Length headers (400)",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            400,
            None,
            "multiple Host headers (400)",
        ),
        (
            b"\x16\x03\x01\x00\x05hello",
            400,
            None,
            "detected a TLS handshake to an endpoint that does not have TLS enabled (400)",
        ),
        (
            b"GET / HTTP/2.0\r\nHost: t\r\n\r\n",
            505,
            None,
            "unrecognized HTTP version (505)",
        ),
        (
            b"GET * HTTP/1.1\r\nHost: t\r\n\r\n",
            405,
            Some("OPTIONS"),
            "method not allowed (405)",
        ),
        (
            b"GET /request HTTP/1.1\r\nHost: t\r\nX-1: a\r\nX-2: b\r\n",
            408,
            None,
            "request headers timeout",
        ),
        (
            b"POST /request HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n",
            413,
            None,
            "request body too large",
        ),
        (
            b"POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
            None,
            "bad chunk size data",
        ),
    ];
    for (raw, status, allow, reason) in cases {
        let mut c = Client::tcp(addr);
        c.send(raw);
        // The answer is exactly the status line and the fixed headers: no reason text.
        expect_error_answer(&mut c, status, allow, reason);
        assert!(
            s.wait_stderr(reason, IO_TIMEOUT),
            "{reason:?} not logged:\n{}",
            s.stderr()
        );
        let line = s
            .stderr()
            .lines()
            .find(|l| l.contains(reason))
            .unwrap()
            .to_string();
        assert!(line.contains(" DEBUG "), "not at debug level: {line}");
    }
    // At the default level (info) nothing is logged for bad requests.
    let s = server(backend, &[]);
    rejects(
        s.tcp_addr(0),
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        400,
        "info level",
    );
    // A request after the bad one: anything logged for the bad one came first.
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
    let text = s.stderr();
    assert!(
        !text.contains("bad request") && !text.contains("multiple Host"),
        "{text}"
    );
}
both_backends!(
    the_reason_for_an_error_answer_is_logged_at_debug_only,
    debug_log
);
