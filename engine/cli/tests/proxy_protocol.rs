//! `--proxy-protocol` through real sockets, each case on both backends, against the
//! binary: every application listener expects a PROXY protocol header (HAProxy's, v1 or
//! v2) before anything else, and `/request` reports its source as `remote_addr`.
//!
//! - v1 `TCP4`, `TCP6` and `UNKNOWN` (the real address stays), on a keep-alive
//!   connection; v2 PROXY over IPv4 (with TLVs) and IPv6, and LOCAL;
//! - the header split into several writes (the server waits for the rest), pipelined
//!   requests right behind it;
//! - TLS behind the header: a rustls client after a v1 and a v2 header (the engine's
//!   test certificate), curl `--haproxy-protocol` over HTTP/1.1 and ALPN `h2`;
//! - the h2c preface behind the header: raw (the server's SETTINGS comes back) and curl
//!   `--http2-prior-knowledge --haproxy-protocol`;
//! - refusals: plain HTTP without a header, garbage, an oversized v1 line, a bad v2
//!   signature, a v2 length over the limit or too short for its family — each closed
//!   without a word while a keep-alive client is served, counted as `rejected` in the
//!   metrics (whose own listener takes no header);
//! - `--request-headers-timeout 1`: a silent client and one that sent half a header are
//!   closed within 0.9 to 3.5 s while another client is served;
//! - a unix-socket listener (v1, v2 over a unix socket, LOCAL);
//! - real nginx (stream module, `proxy_protocol on;`) in front, to a TCP and to a unix
//!   upstream: the client's own address and port come through (skipped without nginx's
//!   stream module).

#[macro_use]
mod common;
#[path = "proxy_protocol/headers.rs"]
mod headers;
#[path = "proxy_protocol/nginx_stream.rs"]
mod nginx_stream;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use common::probe::{metrics_addr, wait_until, Metrics};
use common::tls::{client_config, ALL_VERSIONS};
use common::*;
use headers::*;

const CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/ca.pem");
const CERT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/cert.pem");
const KEY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../src/tls/testdata/key.pem");

/// The client the headers speak for.
fn source4() -> SocketAddr {
    "203.0.113.7:51000".parse().unwrap()
}

fn source6() -> SocketAddr {
    "[2001:db8::7]:1234".parse().unwrap()
}

fn destination4() -> SocketAddr {
    "10.0.0.1:443".parse().unwrap()
}

fn destination6() -> SocketAddr {
    "[2001:db8::1]:443".parse().unwrap()
}

/// The binary with `--proxy-protocol` on `urls`, plus `extra` arguments.
fn server(backend: Backend, urls: &str, extra: &[&str]) -> Server {
    let mut args = vec!["--urls", urls, "--proxy-protocol"];
    args.extend_from_slice(extra);
    Server::start(backend, &args)
}

/// A connection to listener `i` that has sent `header`.
fn proxied(s: &Server, i: usize, header: &[u8]) -> Client {
    let mut c = s.connect(i);
    c.send(header);
    c
}

/// `/request`'s `remote_addr` on `c`.
fn remote_addr(c: &mut Client) -> String {
    let r = c.get("/request");
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["remote_addr"]
        .as_str()
        .unwrap_or_else(|| panic!("no remote_addr in {}", r.text()))
        .to_string()
}

fn v1_sources(backend: Backend) {
    let s = server(backend, "http://127.0.0.1:0", &[]);
    let mut c = proxied(&s, 0, &v1(source4(), destination4()));
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");
    // The header is the connection's: the next request on it says the same.
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");

    let mut c = proxied(&s, 0, &v1(source6(), destination6()));
    assert_eq!(remote_addr(&mut c), "[2001:db8::7]:1234");

    for header in [&b"PROXY UNKNOWN\r\n"[..], b"PROXY UNKNOWN ::1 ::1 1 2\r\n"] {
        let mut c = proxied(&s, 0, header);
        let real = c.local_addr().to_string();
        assert_eq!(remote_addr(&mut c), real, "UNKNOWN keeps the real address");
    }
}
both_backends!(v1_tcp4_tcp6_unknown, v1_sources);

fn v2_sources(backend: Backend) {
    let s = server(backend, "http://127.0.0.1:0", &[]);
    let tlvs = [
        tlv(0x01, b"h2"),
        tlv(0x04, &[0; 7]),
        tlv(0xEA, b"vpce-0123"),
    ]
    .concat();
    let mut c = proxied(&s, 0, &v2(source4(), destination4(), &tlvs));
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");

    let mut c = proxied(&s, 0, &v2(source6(), destination6(), &[]));
    assert_eq!(remote_addr(&mut c), "[2001:db8::7]:1234");

    let mut c = proxied(&s, 0, &v2_local());
    let real = c.local_addr().to_string();
    assert_eq!(remote_addr(&mut c), real, "LOCAL keeps the real address");
}
both_backends!(v2_proxy_and_local, v2_sources);

fn split_and_pipelined(backend: Backend) {
    let s = server(backend, "http://127.0.0.1:0", &[]);
    let header = v2(source4(), destination4(), &tlv(0x04, &[0; 20]));
    let mut c = s.connect(0);
    c.send(&header[..7]);
    // The server has part of a header: it waits (a refusal would close at once).
    assert!(
        !c.closed_within(Duration::from_millis(200)),
        "closed on a partial header"
    );
    for piece in header[7..].chunks(5) {
        c.send(piece);
    }
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");

    // A v1 line in pieces, the first request's start in the last piece.
    let line = v1(source6(), destination6());
    let request = get("/request");
    let mut c = s.connect(0);
    c.send(&line[..3]);
    c.send(&line[3..20]);
    c.send([&line[20..], request.as_bytes()].concat());
    let r = c.read_response();
    assert_eq!(r.json()["remote_addr"], "[2001:db8::7]:1234");

    // Pipelined requests in the same write as the header.
    let mut c = s.connect(0);
    let mut bytes = v1(source4(), destination4());
    for path in ["/request", "/plaintext", "/request"] {
        bytes.extend_from_slice(get(path).as_bytes());
    }
    c.send(&bytes);
    assert_eq!(c.read_response().json()["remote_addr"], "203.0.113.7:51000");
    assert_eq!(c.read_response().text(), "Hello, World!");
    assert_eq!(c.read_response().json()["remote_addr"], "203.0.113.7:51000");
}
both_backends!(split_header_and_pipelined_requests, split_and_pipelined);

/// The binary on `https://127.0.0.1:0` (the engine's test certificate) with
/// `--proxy-protocol`.
fn https_server(backend: Backend) -> Server {
    server(
        backend,
        "https://127.0.0.1:0",
        &["--cert", CERT, "--key", KEY],
    )
}

/// A rustls client (HTTP/1.1) to `addr` that sent `header` before its ClientHello.
fn tls_after(addr: SocketAddr, header: &[u8]) -> Client {
    let mut tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT).expect("connect");
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    tcp.write_all(header).expect("send the header");
    let config = client_config(Path::new(CA), ALL_VERSIONS, &["http/1.1"]);
    Client::tls(Sock::Tcp(tcp), config, "localhost").expect("a handshake behind the header")
}

/// curl `https://localhost:PORT/request` with `--haproxy-protocol` and `extra`: the JSON.
fn curl_https_request(s: &Server, extra: &[&str]) -> serde_json::Value {
    let port = s.port(0);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}/request");
    let mut args = vec!["--haproxy-protocol", "--cacert", CA, "--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    let out = curl(&args);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from /request")
}

fn tls_behind_the_header(backend: Backend) {
    let s = https_server(backend);
    let addr = s.tcp_addr(0);
    let mut c = tls_after(addr, &v1(source4(), destination4()));
    let r = c.get("/request");
    assert_eq!(r.json()["remote_addr"], "203.0.113.7:51000");
    assert_eq!(r.json()["scheme"], "https");
    assert_eq!(r.json()["tls"]["sni"], "localhost");
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");

    let mut c = tls_after(addr, &v2(source6(), destination6(), &[]));
    assert_eq!(remote_addr(&mut c), "[2001:db8::7]:1234");

    // curl sends its own addresses in a v1 header.
    let j = curl_https_request(&s, &["--http1.1"]);
    assert_eq!(j["protocol"], "HTTP/1.1");
    assert!(
        j["remote_addr"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{j}"
    );
    let j = curl_https_request(&s, &["--http2"]);
    assert_eq!(j["protocol"], "HTTP/2");
    assert_eq!(j["tls"]["alpn"], "h2");

    // No header before the ClientHello: closed, no handshake.
    let config = client_config(Path::new(CA), ALL_VERSIONS, &["http/1.1"]);
    assert!(Client::try_tls_tcp(addr, config, "localhost").is_err());
}
both_backends!(tls_after_the_header, tls_behind_the_header);

/// An empty SETTINGS frame.
const SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

fn h2c_behind_the_header(backend: Backend) {
    let s = server(backend, "http://127.0.0.1:0", &[]);
    let mut c = s.connect(0);
    c.send([&v1(source4(), destination4())[..], PREFACE, SETTINGS].concat());
    let frame = c.read_exact_raw(9);
    assert_eq!(
        frame[3], 4,
        "the server's first frame is SETTINGS: {frame:?}"
    );

    let url = format!("http://127.0.0.1:{}/request", s.port(0));
    let out = curl(&["--haproxy-protocol", "--http2-prior-knowledge", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["protocol"], "HTTP/2");

    let out = curl(&["--haproxy-protocol", "--http1.1", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["protocol"], "HTTP/1.1");
}
both_backends!(h2c_after_the_header, h2c_behind_the_header);

/// Headers the server refuses, each with what it is.
fn refused() -> Vec<(&'static str, Vec<u8>)> {
    let mut bad_signature = v2(source4(), destination4(), &[]);
    bad_signature[5] = b'X';
    let mut huge = SIGNATURE.to_vec();
    huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    let mut short = v2_raw(1, 0x21, &[0; 12]);
    short.extend_from_slice(get("/").as_bytes());
    let mut long_line = b"PROXY UNKNOWN ".to_vec();
    long_line.resize(300, b'x');
    vec![
        ("plain HTTP without a header", get("/request").into_bytes()),
        ("garbage", b"\x00\x01\x02 garbage \xff\r\n\r\n".to_vec()),
        ("an oversized v1 line", long_line),
        (
            "a v1 line with a leading zero",
            b"PROXY TCP4 203.0.113.07 10.0.0.1 1 2\r\n".to_vec(),
        ),
        ("a bad v2 signature", bad_signature),
        ("a v2 length over the limit", huge),
        ("a v2 length too short for IPv6", short),
    ]
}

fn refusals(backend: Backend) {
    let s = server(
        backend,
        "http://127.0.0.1:0",
        &["--metrics-urls", "http://127.0.0.1:0"],
    );
    let metrics = metrics_addr(&s);
    let mut good = proxied(&s, 0, &v1(source4(), destination4()));
    assert_eq!(remote_addr(&mut good), "203.0.113.7:51000");
    let cases = refused();
    for (what, bytes) in &cases {
        let mut c = s.connect(0);
        c.send(bytes);
        let rest = c.read_to_eof();
        assert!(
            rest.is_empty(),
            "{what}: the server answered {:?}",
            String::from_utf8_lossy(&rest)
        );
        assert_eq!(remote_addr(&mut good), "203.0.113.7:51000", "after {what}");
    }
    // The metrics listener takes no header (Metrics::scrape sends plain HTTP) and counts
    // every refusal.
    let rejected = || {
        Metrics::scrape(metrics).sum(
            "peregrine_connections_closed_total",
            &[("reason", "rejected")],
        )
    };
    wait_until(
        Duration::from_secs(10),
        "every refused header counted as rejected",
        || (rejected() >= cases.len() as u64).then_some(()),
        || format!("rejected: {}", rejected()),
    );
}
both_backends!(refused_headers_close_the_connection, refusals);

fn silent_clients(backend: Backend) {
    let s = server(
        backend,
        "http://127.0.0.1:0",
        &["--request-headers-timeout", "1"],
    );
    let t0 = Instant::now();
    let mut silent = s.connect(0);
    let header = v1(source4(), destination4());
    let mut half = proxied(&s, 0, &header[..header.len() / 2]);
    let mut normal = proxied(&s, 0, &header);
    assert_eq!(remote_addr(&mut normal), "203.0.113.7:51000");

    let limit = Duration::from_secs_f64(3.5);
    for (what, conn) in [
        ("a client that sent nothing", &mut silent),
        ("a client that sent half a header", &mut half),
    ] {
        let left = limit.saturating_sub(t0.elapsed());
        let reply = conn
            .eof_within(left)
            .unwrap_or_else(|| panic!("{what}: still open {limit:?} after connecting"));
        assert!(reply.is_empty(), "{what}: answered {reply:?}");
        let took = t0.elapsed().as_secs_f64();
        assert!(
            took >= 0.9,
            "{what}: closed after {took:.2} s, before the 1 s timeout"
        );
    }
    // A client whose header arrived in time is served (its head was complete too).
    assert_eq!(remote_addr(&mut normal), "203.0.113.7:51000");
}
both_backends!(
    silent_clients_meet_the_request_headers_timeout,
    silent_clients
);

fn unix_listener(backend: Backend) {
    let dir = TempDir::new("proxy-unix");
    let path = dir.join("app.sock");
    let s = server(backend, &format!("http://unix:{}", path.display()), &[]);
    let mut c = proxied(&s, 0, &v1(source4(), destination4()));
    assert_eq!(remote_addr(&mut c), "203.0.113.7:51000");
    let mut c = proxied(&s, 0, &v2(source6(), destination6(), &[]));
    assert_eq!(remote_addr(&mut c), "[2001:db8::7]:1234");
    let mut c = proxied(&s, 0, &v2_unix("/run/client.sock", "/run/app.sock"));
    assert_eq!(remote_addr(&mut c), "unix:/run/client.sock");
    let mut c = proxied(&s, 0, &v2_local());
    assert_eq!(
        remote_addr(&mut c),
        "unix",
        "LOCAL: the real (unnamed) peer"
    );
    let mut c = s.connect(0);
    c.send(get("/request"));
    c.expect_closed();
    s.stop();
}
both_backends!(unix_socket_listener, unix_listener);

fn behind_nginx(backend: Backend) {
    let dir = TempDir::new("proxy-nginx");
    let sock = dir.join("up.sock");
    let urls = format!("http://127.0.0.1:0;http://unix:{}", sock.display());
    let s = server(backend, &urls, &[]);
    let Some(nginx) = nginx_stream::NginxStream::start(s.port(0), &sock) else {
        return;
    };
    for port in [nginx.tcp_port, nginx.unix_port] {
        let mut c = Client::tcp(SocketAddr::from(([127, 0, 0, 1], port)));
        let me = c.local_addr().to_string();
        assert_eq!(remote_addr(&mut c), me, "through nginx port {port}");
        assert_eq!(
            remote_addr(&mut c),
            me,
            "keep-alive through nginx port {port}"
        );
    }
}
both_backends!(nginx_stream_proxy_protocol, behind_nginx);
