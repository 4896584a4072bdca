//! HTTP/2 through real sockets and real clients, each case on both backends, against the
//! binary on one cleartext port (HTTP/1.1 and prior-knowledge h2c together) and one TLS
//! port (ALPN), with the engine's test certificate (`engine/src/tls/testdata`).
//!
//! - curl `--http2` (TLS, verified against the test CA) and `--http2-prior-knowledge`
//!   (h2c): `/request` reports `protocol: "HTTP/2"`, the scheme and ALPN `h2`; plain
//!   HTTP/1.1 on the same cleartext port; a 1 MB POST /echo byte-exact;
//! - nghttp: GET, POST (1 MB /echo, byte-exact), response trailers;
//! - h2load `-n 20000 -c 4 -m 10`: every request succeeds, over TLS and h2c;
//! - `--protocols`: `http2` answers HTTP/1.1 with Kestrel's `400` and junk with
//!   GOAWAY(PROTOCOL_ERROR); `http1` answers the h2c preface with
//!   GOAWAY(HTTP_1_1_REQUIRED) and offers only `http/1.1` by ALPN; HTTP/2-only over TLS
//!   refuses a client that does not offer `h2`;
//! - Python `h2` (tests/h2_client.py) for what no client tool can express: 100
//!   concurrent streams, 1 MB POST through flow control both ways, per-stream 431 (too
//!   many / too large header fields) and 413 (a body over `--max-request-body-size`,
//!   with and without `content-length`) and 408 (a body slower than the minimum rate)
//!   while the connection's other streams go on, `Expect: 100-continue`,
//!   RST_STREAM of one stream leaving the others, request and response trailers, rapid
//!   reset, CONTINUATION, PING and SETTINGS floods, an HPACK bomb (one large dynamic
//!   table entry referenced thousands of times) and a window held shut (each:
//!   GOAWAY(ENHANCE_YOUR_CALM) and a close, while another client is served), the
//!   keep-alive timeout (GOAWAY(NO_ERROR)), the keep-alive PING (answered: the
//!   connection stays; unanswered: GOAWAY(INTERNAL_ERROR)), and a graceful shutdown
//!   (GOAWAY, the in-flight stream finishes, exit 0).
//!
//! Without python3's `h2` module, nghttp or h2load, the cases that need them skip,
//! saying so.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mixed::{payload, python_has, server, CA};
use common::*;

const H2_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_client.py");

/// ENHANCE_YOUR_CALM, NO_ERROR, INTERNAL_ERROR, HTTP_1_1_REQUIRED.
const CALM: u64 = 11;
const NO_ERROR: u64 = 0;
const INTERNAL_ERROR: u64 = 2;

fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        skip(&format!("{tool} is not installed"));
    }
    found
}

fn python_h2_available() -> bool {
    python_has("h2")
}

/// Run a command to its end within `limit`; its stdout (panics with stderr on failure).
fn run(cmd: &mut Command, limit: Duration) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let Some(status) = wait_exit(&mut child, limit) else {
        let _ = child.kill();
        panic!("{cmd:?} did not finish within {limit:?}");
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let stdout = reader.join().expect("reader");
    assert!(status.success(), "{cmd:?} failed ({status}):\n{err}");
    stdout
}

/// One tests/h2_client.py case against `port`; its JSON report.
fn h2_case(case: &str, port: u16, scheme: &str, arg: Option<&str>) -> serde_json::Value {
    let mut cmd = Command::new("python3");
    cmd.args([H2_CLIENT, case, &port.to_string(), scheme]);
    cmd.args(arg);
    let out = run(&mut cmd, Duration::from_secs(90));
    serde_json::from_slice(&out)
        .unwrap_or_else(|e| panic!("{case}: not JSON ({e}): {}", String::from_utf8_lossy(&out)))
}

fn curl(args: &[&str]) -> Vec<u8> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "30", "--cacert", CA])
        .args(args);
    run(&mut cmd, Duration::from_secs(40))
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

fn curl_both_ways(backend: Backend) {
    let s = server(backend, &[]);
    let (h2c, tls) = (s.port(0), s.port(1));
    let j = json(&curl(&[
        "--http2-prior-knowledge",
        &format!("http://127.0.0.1:{h2c}/request?x=1"),
    ]));
    assert_eq!(j["protocol"], "HTTP/2", "{j}");
    assert_eq!(j["scheme"], "http");
    assert_eq!(j["query"], "x=1");
    assert_eq!(j["host"], format!("127.0.0.1:{h2c}"));
    let j = json(&curl(&[
        "--http2",
        &format!("https://localhost:{tls}/request"),
        "--resolve",
        &format!("localhost:{tls}:127.0.0.1"),
    ]));
    assert_eq!(j["protocol"], "HTTP/2", "{j}");
    assert_eq!(j["scheme"], "https");
    assert_eq!(j["tls"]["alpn"], "h2");
    assert_eq!(j["tls"]["sni"], "localhost");
    // HTTP/1.1 on the same cleartext port.
    let j = json(&curl(&[
        "--http1.1",
        &format!("http://127.0.0.1:{h2c}/request"),
    ]));
    assert_eq!(j["protocol"], "HTTP/1.1", "{j}");
    // 1 MB through flow control both ways, byte-exact.
    let dir = TempDir::new("h2-curl");
    let (file, bytes) = payload(&dir, 1_000_000);
    let echoed = curl(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("http://127.0.0.1:{h2c}/echo"),
    ]);
    assert!(echoed == bytes, "h2c echo differs ({} bytes)", echoed.len());
    let echoed = curl(&[
        "--http2",
        "--data-binary",
        &format!("@{}", file.display()),
        &format!("https://127.0.0.1:{tls}/echo"),
    ]);
    assert!(echoed == bytes, "TLS echo differs ({} bytes)", echoed.len());
}
both_backends!(curl_speaks_http2_over_tls_and_h2c, curl_both_ways);

fn nghttp_get_post_trailers(backend: Backend) {
    if !tool_available("nghttp") {
        return;
    }
    let s = server(backend, &[]);
    let dir = TempDir::new("h2-nghttp");
    let (file, bytes) = payload(&dir, 1_000_000);
    for url in [
        format!("http://127.0.0.1:{}", s.port(0)),
        format!("https://127.0.0.1:{}", s.port(1)),
    ] {
        let got = run(
            Command::new("nghttp").arg(format!("{url}/plaintext")),
            Duration::from_secs(30),
        );
        assert_eq!(got, b"Hello, World!", "{url}");
        let got = run(
            Command::new("nghttp")
                .args(["-d", &file.display().to_string()])
                .arg(format!("{url}/echo")),
            Duration::from_secs(60),
        );
        assert!(got == bytes, "{url}: echo differs ({} bytes)", got.len());
        let verbose = run(
            Command::new("nghttp").args(["-v", &format!("{url}/trailers")]),
            Duration::from_secs(30),
        );
        let text = String::from_utf8_lossy(&verbose);
        assert!(text.contains("x-trailer: done"), "{url}:\n{text}");
        assert!(text.contains("x-body-length: 5"), "{url}:\n{text}");
    }
}
both_backends!(
    nghttp_gets_posts_and_reads_trailers,
    nghttp_get_post_trailers
);

fn h2load_without_failures(backend: Backend) {
    if !tool_available("h2load") {
        return;
    }
    let s = server(backend, &[]);
    for url in [
        format!("http://127.0.0.1:{}/plaintext", s.port(0)),
        format!("https://127.0.0.1:{}/plaintext", s.port(1)),
    ] {
        let out = run(
            Command::new("h2load").args(["-n", "20000", "-c", "4", "-m", "10", &url]),
            Duration::from_secs(120),
        );
        let text = String::from_utf8_lossy(&out);
        assert!(
            text.contains("20000 total, 20000 started, 20000 done, 20000 succeeded, 0 failed, 0 errored, 0 timeout"),
            "{url}:\n{text}"
        );
        assert!(text.contains("status codes: 20000 2xx"), "{url}:\n{text}");
    }
}
both_backends!(h2load_runs_without_failures, h2load_without_failures);

fn protocols_flag(backend: Backend) {
    // HTTP/2 only: HTTP/1.1 gets Kestrel's 400; junk gets GOAWAY(PROTOCOL_ERROR).
    let s = server(backend, &["--protocols", "http2"]);
    let mut c = s.connect(0);
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "An HTTP/1.x request was sent to an HTTP/2 only endpoint."
    );
    c.expect_closed();
    let mut c = s.connect(0);
    c.send([0x16u8, 3, 1, 0, 5, 1, 2, 3, 4, 5]);
    let got = c.read_to_eof();
    assert_eq!(got, [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let j = json(&curl(&[
        "--http2-prior-knowledge",
        &format!("http://127.0.0.1:{}/request", s.port(0)),
    ]));
    assert_eq!(j["protocol"], "HTTP/2");
    // Over TLS, a client that offers only http/1.1 is refused.
    let refused = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert", CA, "--http1.1"])
        .arg(format!("https://127.0.0.1:{}/plaintext", s.port(1)))
        .output()
        .expect("curl");
    assert!(
        !refused.status.success(),
        "HTTP/1.1 over TLS on an HTTP/2-only endpoint"
    );
    drop(s);

    // HTTP/1 only: the h2c preface gets GOAWAY(HTTP_1_1_REQUIRED); ALPN offers no h2.
    let s = server(backend, &["--protocols", "http1"]);
    let mut c = s.connect(0);
    c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    let got = c.read_to_eof();
    assert_eq!(got, [0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0d]);
    let j = json(&curl(&[
        "--http2",
        &format!("https://127.0.0.1:{}/request", s.port(1)),
    ]));
    assert_eq!(j["protocol"], "HTTP/1.1", "{j}");
    assert_eq!(j["tls"]["alpn"], "http/1.1", "{j}");
}
both_backends!(protocols_flag_both_ways, protocols_flag);

fn concurrent_streams_and_flow_control(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let s = server(backend, &[]);
    for (port, scheme) in [(s.port(0), "http"), (s.port(1), "https")] {
        let j = h2_case("streams", port, scheme, Some("100"));
        assert_eq!(j["ok"], 100, "{scheme}: {j}");
        assert_eq!(j["max_concurrent"], 100, "{scheme}: {j}");
        let j = h2_case("echo", port, scheme, Some("1000000"));
        assert_eq!(j["status"], 200, "{scheme}: {j}");
        assert_eq!(j["same"], true, "{scheme}: {j}");
        let j = h2_case("trailers", port, scheme, None);
        assert_eq!(j["request"]["trailers"][0][0], "x-checksum", "{j}");
        assert_eq!(j["request"]["body_length"], 4, "{j}");
        assert_eq!(j["response"]["trailers"]["x-trailer"], "done", "{j}");
        assert_eq!(j["response_body"], "hello", "{j}");
    }
}
both_backends!(
    streams_flow_control_and_trailers,
    concurrent_streams_and_flow_control
);

fn per_stream_limits(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let s = server(backend, &["--max-request-body-size", "1000"]);
    let j = h2_case("limits", s.port(0), "http", None);
    assert_eq!(j["many_headers"]["status"], 431, "{j}");
    assert_eq!(j["huge_header"]["status"], 431, "{j}");
    assert_eq!(j["large_body"]["status"], 413, "{j}");
    assert_eq!(j["declared_body"]["status"], 413, "{j}");
    assert_eq!(j["fine"]["status"], 200, "{j}");
    assert_eq!(j["after"]["status"], 200, "the connection goes on: {j}");
    assert!(j["goaway"].is_null(), "{j}");
    let j = h2_case("continue", s.port(0), "http", None);
    assert_eq!(j["informational"][0], 100, "{j}");
    assert_eq!(j["got_100_before_body"], true, "{j}");
    assert_eq!(j["status"], 200, "{j}");
    assert_eq!(j["body"]["body_length"], 5, "{j}");
    let j = h2_case("reset", s.port(1), "https", None);
    assert_eq!(j["other"]["status"], 200, "{j}");
    assert_eq!(j["other_body"], "other stream", "{j}");
    assert_eq!(j["plain"]["status"], 200, "{j}");
    assert!(j["goaway"].is_null(), "{j}");
}
both_backends!(limits_hold_per_stream, per_stream_limits);

fn slow_body(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let s = server(backend, &["--min-request-body-data-rate-grace", "1s"]);
    let j = h2_case("slow-body", s.port(0), "http", None);
    assert_eq!(j["stream"]["status"], 408, "{j}");
    let secs = j["seconds"].as_f64().unwrap_or(-1.0);
    assert!((0.5..5.0).contains(&secs), "408 after {secs} s: {j}");
    assert_eq!(j["after"]["status"], 200, "the connection goes on: {j}");
}
both_backends!(a_slow_body_gets_408_on_its_stream, slow_body);

fn attacks_end_in_enhance_your_calm(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let s = server(backend, &["--min-response-data-rate-grace", "1s"]);
    for case in [
        "rapid-reset",
        "continuation-flood",
        "ping-flood",
        "settings-flood",
        "hpack-bomb",
        "zero-window",
    ] {
        let j = h2_case(case, s.port(0), "http", None);
        assert_eq!(j["goaway"]["code"], CALM, "{case}: {j}");
        // Another client is served meanwhile and after.
        let j = json(&curl(&[
            "--http2-prior-knowledge",
            &format!("http://127.0.0.1:{}/request", s.port(0)),
        ]));
        assert_eq!(j["protocol"], "HTTP/2", "after {case}");
    }
    let j = h2_case("ping-flood", s.port(1), "https", None);
    assert_eq!(j["goaway"]["code"], CALM, "TLS: {j}");
}
both_backends!(floods_end_in_goaway, attacks_end_in_enhance_your_calm);

fn keep_alive_and_ping(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let s = server(backend, &["--keep-alive-timeout", "1s"]);
    let j = h2_case("keepalive", s.port(0), "http", None);
    assert_eq!(j["goaway"]["code"], NO_ERROR, "{j}");
    assert_eq!(j["closed"], true, "{j}");
    let secs = j["seconds"].as_f64().unwrap_or(-1.0);
    assert!((0.5..4.0).contains(&secs), "closed after {secs} s: {j}");
    drop(s);
    let s = server(
        backend,
        &[
            "--http2-keep-alive-ping-delay",
            "1s",
            "--http2-keep-alive-ping-timeout",
            "1s",
        ],
    );
    let j = h2_case("ping", s.port(1), "https", Some("answer"));
    assert_eq!(j["closed"], false, "answered PINGs keep it: {j}");
    assert!(j["pings"].as_u64().unwrap_or(0) >= 2, "{j}");
    assert_eq!(j["after"]["status"], 200, "{j}");
    let j = h2_case("ping", s.port(0), "http", Some("silent"));
    assert_eq!(j["goaway"]["code"], INTERNAL_ERROR, "{j}");
    assert_eq!(j["closed"], true, "{j}");
}
both_backends!(keep_alive_timeout_and_ping, keep_alive_and_ping);

fn graceful_shutdown(backend: Backend) {
    if !python_h2_available() {
        return;
    }
    let mut s = server(backend, &[]);
    {
        let (port, scheme) = (s.port(1), "https");
        let mut child = Command::new("python3")
            .args([H2_CLIENT, "shutdown", &port.to_string(), scheme])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("READY");
        assert_eq!(line.trim(), "READY");
        s.signal(libc::SIGTERM);
        line.clear();
        out.read_line(&mut line).expect("report");
        assert!(
            wait_exit(&mut child, Duration::from_secs(30)).is_some_and(|st| st.success()),
            "the client did not finish"
        );
        let j: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(j["goaway"]["code"], NO_ERROR, "{j}");
        assert_eq!(
            j["stream"]["status"], 200,
            "the in-flight stream finishes: {j}"
        );
        assert_eq!(j["body"], "first half, second half", "{j}");
        assert_eq!(j["closed"], true, "{j}");
    }
    let status = s.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");
}
both_backends!(
    shutdown_sends_goaway_and_finishes_streams,
    graceful_shutdown
);

/// A raw preface on a TLS-less socket, to check the server's first frame is SETTINGS.
#[test]
fn server_settings_are_kestrels() {
    let s = server(Backend::Epoll, &[]);
    let mut c = TcpStream::connect(("127.0.0.1", s.port(0))).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .expect("preface");
    let mut head = [0u8; 9];
    c.read_exact(&mut head).expect("SETTINGS header");
    assert_eq!(head[3], 4, "the first frame is SETTINGS");
    let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
    let mut body = vec![0u8; len];
    c.read_exact(&mut body).expect("SETTINGS payload");
    let settings: Vec<(u16, u32)> = body
        .chunks(6)
        .map(|p| {
            (
                u16::from_be_bytes([p[0], p[1]]),
                u32::from_be_bytes([p[2], p[3], p[4], p[5]]),
            )
        })
        .collect();
    // MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 768 KiB.
    assert!(settings.contains(&(3, 100)), "{settings:?}");
    assert!(settings.contains(&(4, 786_432)), "{settings:?}");
    // The connection window grows to 1 MiB right after.
    let start = Instant::now();
    let mut seen = false;
    while start.elapsed() < IO_TIMEOUT && !seen {
        c.read_exact(&mut head).expect("frame");
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let mut p = vec![0u8; len];
        c.read_exact(&mut p).expect("payload");
        if head[3] == 8 && head[5..9] == [0, 0, 0, 0] {
            let inc = u32::from_be_bytes([p[0], p[1], p[2], p[3]]);
            assert_eq!(inc + 65_535, 1_048_576);
            seen = true;
        }
    }
    assert!(seen, "no connection WINDOW_UPDATE");
}
