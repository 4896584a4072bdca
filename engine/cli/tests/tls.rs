//! HTTPS through real sockets and real clients, each case on both backends, against the
//! binary (`--urls https://127.0.0.1:0 --cert ... --key ...`) unless the library itself
//! is the subject. Certificates are made per test by `common::tls` (a CA, an ECDSA P-256
//! server certificate for `localhost` and `127.0.0.1`, key variants); without `openssl`
//! the tests skip, saying so.
//!
//! - curl (`--cacert`, `--http1.1`, TLS 1.2 only and TLS 1.3 only): `/plaintext`, and
//!   `/request` reporting `scheme: https` and `tls` {version, ALPN `http/1.1`, SNI
//!   `localhost`, the cipher suite curl negotiated};
//! - `openssl s_client` with `--protocols http1`: ALPN settles on `http/1.1` (also when
//!   `h2` is offered first), none without `-alpn` (ALPN `h2`: tests/http2.rs); TLS 1.1 is refused (and a hand-built TLS 1.1 ClientHello gets
//!   an alert or a close, where the same hello as TLS 1.2 gets a ServerHello);
//! - a rustls client: keep-alive on TLS 1.2 and 1.3, no ALPN and no SNI reported as null,
//!   pipelining (three requests in one record, a response larger than a record),
//!   chunked bodies both ways, `Expect: 100-continue`, the upgrade to the echo protocol;
//!   curl for a 10 MB POST /echo/stream, byte-exact;
//! - plain HTTP to the https port: `400 Bad Request` in cleartext, `Connection: close`,
//!   then the close;
//! - random bytes, a ClientHello cut short, a well-framed record that is no ClientHello:
//!   each connection is closed while other clients are served;
//! - `--tls-handshake-timeout 1`: a silent client and one that sent half a ClientHello
//!   are closed within 0.9 to 3.5 s, a normal client is served meanwhile and keeps its
//!   connection after;
//! - startup refusals (https without a certificate; unreadable, malformed, empty or
//!   key-only certificate file; unreadable or malformed key; a key that is not the
//!   certificate's): non-zero exit, one `error:` line naming the problem, nothing
//!   listening; through the library, `ErrorKind::InvalidConfig` and the port free;
//! - key formats: EC in SEC1, RSA in PKCS#1 and PKCS#8;
//! - graceful shutdown with an idle TLS keep-alive connection: `close_notify`, exit 0;
//! - `https://unix:/path` with curl `--unix-socket` and the rustls client; http and https
//!   side by side.

#[macro_use]
mod common;

use std::net::TcpListener;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::tls::*;
use common::*;

/// The request the sample app switches to its echo protocol on.
const UPGRADE: &str =
    "GET /upgrade/echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

/// Certificates for one test, or `None` after a skip notice when openssl is missing.
fn certs(tag: &str) -> Option<Certs> {
    let c = Certs::generate(tag);
    if c.is_none() {
        skip(NO_OPENSSL);
    }
    c
}

/// The binary on `https://127.0.0.1:0` with the server certificate of `certs` and
/// `extra` arguments.
fn https_server(backend: Backend, certs: &Certs, extra: &[&str]) -> Server {
    let cert_args = certs.args();
    let mut args = vec!["--urls", "https://127.0.0.1:0"];
    args.extend(cert_args.iter().map(String::as_str));
    args.extend_from_slice(extra);
    let s = Server::start(backend, &args);
    assert!(
        s.urls.len() == 1 && s.urls[0].starts_with("https://127.0.0.1:"),
        "{:?}",
        s.urls
    );
    s
}

/// curl `https://localhost:PORT{path}` (resolved to 127.0.0.1), trusting the test CA,
/// HTTP/1.1, with `extra` options.
fn curl_https(s: &Server, certs: &Certs, path: &str, extra: &[&str]) -> Output {
    let port = s.port(0);
    let resolve = format!("localhost:{port}:127.0.0.1");
    let url = format!("https://localhost:{port}{path}");
    let ca = certs.ca_arg();
    let mut args = vec!["--cacert", ca.as_str(), "--http1.1", "--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    curl(&args)
}

/// Assert curl succeeded; its stdout.
fn curl_ok(out: &Output, what: &str) -> Vec<u8> {
    assert!(
        out.status.success(),
        "{what}: curl failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

/// The name rustls (after IANA) gives the suite OpenSSL calls `name`, for the suites an
/// ECDSA certificate can be served with.
fn iana_suite(name: &str) -> Option<String> {
    if let Some(tls13) = name.strip_prefix("TLS_") {
        return Some(format!("TLS13_{tls13}"));
    }
    let known = [
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
    ];
    known
        .iter()
        .find(|(o, _)| *o == name)
        .map(|(_, i)| i.to_string())
}

/// Check `/request`'s `tls` object: `version`, ALPN `alpn`, SNI `sni`, a cipher suite of
/// that version.
fn check_tls(j: &serde_json::Value, version: &str, alpn: Option<&str>, sni: Option<&str>) {
    assert_eq!(j["scheme"], "https", "{j}");
    let t = &j["tls"];
    assert!(t.is_object(), "no tls object in {j}");
    assert_eq!(t["version"], version, "{j}");
    assert_eq!(t["alpn"].as_str(), alpn, "{j}");
    assert_eq!(t["sni"].as_str(), sni, "{j}");
    let cipher = t["cipher"]
        .as_str()
        .unwrap_or_else(|| panic!("no cipher in {j}"));
    let prefix = if version == "TLSv1.3" {
        "TLS13_"
    } else {
        "TLS_ECDHE_"
    };
    assert!(cipher.starts_with(prefix), "{cipher} for {version}");
}

/// `len` pseudo-random bytes (xorshift64 from `seed`).
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
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
            "{what}: {} bytes for {} expected, first difference at {at:?}",
            got.len(),
            want.len()
        );
    }
}

/// Assert what a refused connection received holds no ServerHello (a handshake record):
/// nothing, an alert, or (for bytes that look like HTTP) a cleartext answer.
fn assert_no_server_hello(reply: &[u8], what: &str) {
    assert_ne!(
        reply.first(),
        Some(&0x16),
        "{what}: the server answered with a handshake record: {reply:02x?}"
    );
}

// ---------------------------------------------------------------------------------------
// Real clients
// ---------------------------------------------------------------------------------------

fn curl_over_https(backend: Backend) {
    let Some(c) = certs("curl") else { return };
    let s = https_server(backend, &c, &[]);
    let port = s.port(0);

    let out = curl_https(
        &s,
        &c,
        "/plaintext",
        &["-w", "\n%{http_code} %{http_version} %{scheme}"],
    );
    let text = String::from_utf8_lossy(&curl_ok(&out, "GET /plaintext")).to_lowercase();
    assert_eq!(text, "hello, world!\n200 1.1 https");

    for (flags, version) in [
        (&["--tlsv1.2", "--tls-max", "1.2"][..], "TLSv1.2"),
        (&["--tlsv1.3"][..], "TLSv1.3"),
    ] {
        let mut extra = vec!["-v"];
        extra.extend_from_slice(flags);
        let out = curl_https(&s, &c, "/request?from=curl", &extra);
        let body = curl_ok(&out, version);
        let j: serde_json::Value = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)));
        assert_eq!(j["protocol"], "HTTP/1.1", "{j}");
        assert_eq!(j["query"], "from=curl", "{j}");
        assert_eq!(j["host"], format!("localhost:{port}"), "{j}");
        check_tls(&j, version, Some("http/1.1"), Some("localhost"));
        // The suite the server reports is the one curl negotiated.
        let verbose = String::from_utf8_lossy(&out.stderr);
        let using = format!("SSL connection using {version} / ");
        let Some(line) = verbose.lines().find_map(|l| l.split_once(&using)) else {
            panic!("curl -v does not say which suite it uses:\n{verbose}");
        };
        match iana_suite(line.1.trim()) {
            Some(name) => assert_eq!(j["tls"]["cipher"], name, "curl: {}", line.1),
            None => skip(&format!("no IANA name known for {}", line.1)),
        }
    }
}
both_backends!(curl_gets_responses_over_https, curl_over_https);

fn s_client_alpn(backend: Backend) {
    let Some(c) = certs("sclient") else { return };
    let s = https_server(backend, &c, &["--protocols", "http1"]);
    let connect = format!("127.0.0.1:{}", s.port(0));
    let ca = c.ca_arg();
    let request = b"GET /request HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    for (alpn, chosen, force12) in [
        (Some("http/1.1"), Some("http/1.1"), false),
        // The server offers http/1.1 only, whatever comes first in the client's list.
        (Some("h2,http/1.1"), Some("http/1.1"), false),
        (None, None, false),
        (Some("http/1.1"), Some("http/1.1"), true),
    ] {
        let mut args = vec![
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-CAfile",
            &ca,
            "-verify_hostname",
            "localhost",
            "-verify_return_error",
            "-ign_eof",
        ];
        if let Some(a) = alpn {
            args.extend(["-alpn", a]);
        }
        if force12 {
            args.push("-tls1_2");
        }
        let what = args.join(" ");
        let out = s_client(&args, request, Duration::from_secs(30));
        let all = format!("{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("Verify return code: 0 (ok)"),
            "{what}:\n{all}"
        );
        match chosen {
            Some(p) => assert!(
                out.stdout.contains(&format!("ALPN protocol: {p}")),
                "{what}: ALPN did not settle on {p}:\n{all}"
            ),
            None => assert!(out.stdout.contains("No ALPN negotiated"), "{what}:\n{all}"),
        }
        let version = if force12 { "TLSv1.2" } else { "TLSv1.3" };
        assert!(
            out.stdout.contains(&format!("New, {version}, Cipher is ")),
            "{what}: not {version}:\n{all}"
        );
        assert!(out.stdout.contains("HTTP/1.1 200 OK"), "{what}:\n{all}");
        let start = out
            .stdout
            .find("{\"method\"")
            .unwrap_or_else(|| panic!("{what}: no /request body:\n{all}"));
        let j: serde_json::Value = serde_json::Deserializer::from_str(&out.stdout[start..])
            .into_iter()
            .next()
            .expect("a JSON body")
            .expect("JSON");
        check_tls(&j, version, chosen, Some("localhost"));
    }
}
both_backends!(openssl_s_client_negotiates_http11, s_client_alpn);

fn tls11_refused(backend: Backend) {
    let Some(c) = certs("tls11") else { return };
    let s = https_server(backend, &c, &[]);
    let addr = s.tcp_addr(0);
    let connect = addr.to_string();
    // OpenSSL 3 offers TLS 1.1 only at security level 0.
    let out = s_client(
        &[
            "-connect",
            &connect,
            "-servername",
            "localhost",
            "-tls1_1",
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
        ],
        b"",
        Duration::from_secs(30),
    );
    let all = format!("{}\n{}", out.stdout, out.stderr);
    assert!(!out.status.success(), "TLS 1.1 was accepted:\n{all}");
    assert!(
        out.stdout.contains("Cipher is (NONE)"),
        "TLS 1.1 was negotiated:\n{all}"
    );
    // The refusal came from the server: the client did send its hello.
    let written = out
        .stdout
        .split("and written ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        written.is_some_and(|n| n > 0),
        "s_client sent nothing:\n{all}"
    );

    // The same at the byte level: a TLS 1.1 ClientHello gets a fatal alert
    // (protocol_version, or handshake_failure) or a close, never a ServerHello.
    let mut raw = Client::tcp(addr);
    raw.send(client_hello(0x0302, "localhost"));
    let reply = raw
        .eof_within(Duration::from_secs(5))
        .expect("a TLS 1.1 ClientHello was neither refused nor closed within 5 s");
    assert_no_server_hello(&reply, "TLS 1.1 ClientHello");
    if !reply.is_empty() {
        assert_eq!(reply[0], 0x15, "not an alert: {reply:02x?}");
        assert!(
            reply.len() >= 7 && reply[5] == 2 && [70, 40].contains(&reply[6]),
            "not a fatal protocol_version / handshake_failure alert: {reply:02x?}"
        );
    }
    // The same hello as TLS 1.2 gets a ServerHello: the refusal was about the version.
    let mut raw = Client::tcp(addr);
    raw.send(client_hello(0x0303, "localhost"));
    let head = raw.read_exact_raw(6);
    assert_eq!(
        (head[0], head[5]),
        (0x16, 2),
        "no ServerHello for TLS 1.2: {head:02x?}"
    );
    // Clients are still served.
    assert_eq!(s.connect_tls(0, &c).get("/plaintext").status, 200);
}
both_backends!(tls11_is_refused, tls11_refused);

fn keep_alive(backend: Backend) {
    let Some(c) = certs("keepalive") else { return };
    let s = https_server(backend, &c, &[]);
    let addr = s.tcp_addr(0);
    for (versions, version) in [(TLS13, "TLSv1.3"), (TLS12, "TLSv1.2")] {
        let mut t = s.connect_tls_with(0, c.client(versions, &["http/1.1"]), "localhost");
        assert_eq!(t.tls_version(), version);
        assert_eq!(t.tls_conn().alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(
            t.tls_peer_leaf(),
            c.server.der,
            "not the configured certificate"
        );
        for i in 0..5 {
            let r = t.get(&format!("/request?i={i}"));
            assert_eq!(r.status, 200, "{}", r.raw_head);
            assert!(!r.closes(), "{}", r.raw_head);
            assert_standard_headers(&r);
            let j = r.json();
            assert_eq!(j["query"], format!("i={i}"));
            assert_eq!(j["remote_addr"], t.local_addr().to_string());
            assert_eq!(j["local_addr"], addr.to_string());
            check_tls(&j, version, Some("http/1.1"), Some("localhost"));
            assert_eq!(j["tls"]["cipher"], t.tls_cipher());

            let r = t.get("/plaintext");
            assert_eq!(r.text(), "Hello, World!");
            assert_eq!(r.header("content-length"), Some("13"));
        }
        // Idle, still open, still serving.
        assert!(!t.closed_within(Duration::from_millis(200)));
        assert_eq!(t.get("/json").text(), r#"{"message":"Hello, World!"}"#);
    }
    // No ALPN offered, no SNI sent (connecting by IP address): both reported as null.
    let mut t = s.connect_tls_with(0, c.client(ALL_VERSIONS, &[]), "127.0.0.1");
    assert_eq!(t.tls_conn().alpn_protocol(), None);
    let j = t.get("/request").json();
    check_tls(&j, t.tls_version(), None, None);
}
both_backends!(keep_alive_over_tls, keep_alive);

fn pipelining(backend: Backend) {
    let Some(c) = certs("pipeline") else { return };
    let s = https_server(backend, &c, &[]);
    let mut t = s.connect_tls(0, &c);
    // Three requests in one write: one TLS record.
    let batch: String = (0..3).map(|i| get(&format!("/request?i={i}"))).collect();
    t.send(batch);
    for i in 0..3 {
        let r = t.read_response();
        assert_eq!(r.status, 200);
        assert!(!r.closes());
        assert_eq!(
            r.json()["query"],
            format!("i={i}"),
            "responses out of order"
        );
    }
    // A response larger than a TLS record (16 KiB) ahead of a small one.
    t.send(format!(
        "{}{}",
        get("/stream?chunks=8&size=16384"),
        get("/plaintext")
    ));
    let r = t.read_response();
    assert_eq!(r.chunks.as_deref(), Some(&[16384usize; 8][..]));
    assert!(r.body.iter().all(|&b| b == b'x'));
    assert_eq!(t.read_response().text(), "Hello, World!");
    assert!(t.buffered().is_empty());
}
both_backends!(pipelined_requests_over_tls, pipelining);

fn chunked(backend: Backend) {
    let Some(c) = certs("chunked") else { return };
    let s = https_server(backend, &c, &[]);
    let mut t = s.connect_tls(0, &c);
    t.send(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    let r = t.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.header("content-type"), Some("text/x-test"));
    // In pieces, one record each.
    t.send("POST /echo/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    t.send("3\r\nabc\r\n");
    t.send("A\r\n0123456789\r\n");
    t.send("0\r\n\r\n");
    assert_eq!(t.read_response().text(), "abc0123456789");
    // 70 000 bytes in chunks of 7 000, counted by the handler.
    let mut req =
        b"POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in vec![b'z'; 70_000].chunks(7_000) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    t.send(&req);
    assert_eq!(t.read_response().json()["body_length"], 70_000);
    // A chunked response.
    let r = t.get("/stream?chunks=5&size=100");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.chunks.as_deref(), Some(&[100usize; 5][..]));
    assert_eq!(t.get("/plaintext").status, 200);
}
both_backends!(chunked_bodies_over_tls, chunked);

fn expect_continue(backend: Backend) {
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let Some(c) = certs("continue") else { return };
    let s = https_server(backend, &c, &[]);
    let mut t = s.connect_tls(0, &c);
    t.send(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    // The interim answer comes before we send a byte of the body.
    assert_eq!(
        String::from_utf8_lossy(&t.read_exact_raw(CONTINUE.len())),
        String::from_utf8_lossy(CONTINUE)
    );
    t.send("hello world");
    let r = t.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert!(!r.closes());
    assert_eq!(t.get("/plaintext").status, 200);
}
both_backends!(expect_100_continue_over_tls, expect_continue);

fn big_echo(backend: Backend) {
    let Some(c) = certs("bigecho") else { return };
    let s = https_server(backend, &c, &["--threads", "2"]);
    let input = c.dir().join("in.bin");
    let output = c.dir().join("out.bin");
    let body = noise(0x9e37_79b9_7f4a_7c15, 10 * 1024 * 1024);
    std::fs::write(&input, &body).unwrap();
    let data = format!("@{}", input.display());
    let out_arg = output.display().to_string();
    let out = curl_https(
        &s,
        &c,
        "/echo/stream",
        &[
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            &data,
            "-o",
            &out_arg,
            "-w",
            "%{http_code} %{content_type}",
        ],
    );
    let status = curl_ok(&out, "POST /echo/stream of 10 MB");
    assert_eq!(
        String::from_utf8_lossy(&status),
        "200 application/octet-stream"
    );
    assert_same(&std::fs::read(&output).unwrap(), &body, "the echoed 10 MB");
}
both_backends!(ten_megabyte_echo_over_tls, big_echo);

fn upgrade(backend: Backend) {
    let Some(c) = certs("upgrade") else { return };
    let s = https_server(backend, &c, &[]);
    let mut t = s.connect_tls(0, &c);
    t.send(UPGRADE);
    let r = t.read_head();
    assert_eq!(r.status, 101, "{}", r.raw_head);
    assert_eq!(r.header("upgrade"), Some("echo"), "{}", r.raw_head);
    t.send("over TLS");
    assert_eq!(t.read_exact_raw(8), b"over TLS");
    let data = noise(7, 256 * 1024);
    t.send(&data);
    assert_same(&t.read_exact_raw(data.len()), &data, "the upgraded echo");
    // We end the session (close_notify, then our FIN): the server closes too.
    t.shutdown_write();
    let rest = t
        .eof_within(IO_TIMEOUT)
        .expect("the server did not close the upgraded connection after ours");
    assert!(rest.is_empty(), "{rest:?}");
}
both_backends!(upgrade_over_tls, upgrade);

// ---------------------------------------------------------------------------------------
// What is not TLS
// ---------------------------------------------------------------------------------------

fn plain_http(backend: Backend) {
    let Some(c) = certs("plain") else { return };
    let s = https_server(backend, &c, &[]);
    let addr = s.tcp_addr(0);
    let mut raw = Client::tcp(addr);
    raw.send(get("/plaintext"));
    let r = raw.read_response();
    assert_eq!(
        (r.version.as_str(), r.status, r.reason.as_str()),
        ("HTTP/1.1", 400, "Bad Request"),
        "{}",
        r.raw_head
    );
    assert!(r.closes(), "no Connection: close:\n{}", r.raw_head);
    raw.expect_closed();
    // curl's view: http:// to the https port.
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{addr}/plaintext"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "400");
    // TLS clients are served as before.
    assert_eq!(s.connect_tls(0, &c).get("/plaintext").status, 200);
}
both_backends!(plain_http_to_the_https_port_gets_400, plain_http);

fn garbage(backend: Backend) {
    let Some(c) = certs("garbage") else { return };
    // A long handshake timeout: what closes these connections is what they sent.
    let s = https_server(backend, &c, &["--tls-handshake-timeout", "60"]);
    let addr = s.tcp_addr(0);
    let mut served = s.connect_tls(0, &c);
    assert_eq!(served.get("/plaintext").status, 200);

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    // Random bytes; the first is no TLS content type and no letter of an HTTP method.
    let mut junk = noise(seed, 4096);
    junk[0] |= 0x80;
    let mut random = Client::tcp(addr);
    random.send(&junk);
    // A ClientHello cut in half, then our side closed.
    let hello = client_hello(0x0303, "localhost");
    let mut truncated = Client::tcp(addr);
    truncated.send(&hello[..hello.len() / 2]);
    truncated.shutdown_write();
    // A well-framed handshake record whose ClientHello is random bytes.
    let mut framed = vec![0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4];
    framed.extend(noise(seed ^ 0xabcd, 0xc4));
    let mut bad_hello = Client::tcp(addr);
    bad_hello.send(&framed);

    // Meanwhile the established connection and a new one are served.
    assert_eq!(served.get("/json").status, 200);
    assert_eq!(s.connect_tls(0, &c).get("/plaintext").status, 200);

    for (what, mut conn) in [
        ("random bytes", random),
        ("half a ClientHello, then EOF", truncated),
        ("a ClientHello of random bytes", bad_hello),
    ] {
        let reply = conn.eof_within(Duration::from_secs(5)).unwrap_or_else(|| {
            panic!("{what} (seed {seed}): the connection is still open after 5 s")
        });
        assert_no_server_hello(&reply, what);
    }
    assert_eq!(served.get("/plaintext").status, 200);
    assert_eq!(s.connect_tls(0, &c).get("/plaintext").status, 200);
}
both_backends!(garbage_and_truncated_handshakes_are_closed, garbage);

fn handshake_timeout(backend: Backend) {
    let Some(c) = certs("hstimeout") else { return };
    let s = https_server(backend, &c, &["--tls-handshake-timeout", "1"]);
    let addr = s.tcp_addr(0);
    let t0 = Instant::now();
    let mut silent = Client::tcp(addr);
    let hello = client_hello(0x0303, "localhost");
    let mut half = Client::tcp(addr);
    half.send(&hello[..hello.len() / 2]);
    // On the same worker, a normal client is served meanwhile.
    let mut normal = s.connect_tls(0, &c);
    assert_eq!(normal.get("/plaintext").status, 200);

    let limit = Duration::from_secs_f64(3.5);
    for (what, conn) in [
        ("a client that sent nothing", &mut silent),
        ("a client that sent half a ClientHello", &mut half),
    ] {
        let left = limit.saturating_sub(t0.elapsed());
        let reply = conn
            .eof_within(left)
            .unwrap_or_else(|| panic!("{what}: still open {limit:?} after connecting"));
        let took = t0.elapsed().as_secs_f64();
        assert!(
            took >= 0.9,
            "{what}: closed after {took:.2} s, before the 1 s timeout"
        );
        assert_no_server_hello(&reply, what);
    }
    // The timeout is the handshake's: the normal connection outlives it (two sweeps
    // past its start) and is still served.
    let later = Duration::from_secs_f64(2.2).saturating_sub(t0.elapsed());
    assert!(
        !normal.closed_within(later.max(Duration::from_millis(10))),
        "an established TLS connection was closed by the handshake timeout"
    );
    assert_eq!(normal.get("/plaintext").status, 200);
    assert_eq!(s.connect_tls(0, &c).get("/plaintext").status, 200);
}
both_backends!(stalled_handshakes_time_out, handshake_timeout);

// ---------------------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------------------

/// The bad certificate / key pairs, each with the text its error line must contain.
fn bad_pairs(c: &Certs) -> Vec<(&'static str, String, String, String)> {
    let dir = c.dir();
    let missing_cert = dir.join("missing.pem").display().to_string();
    let missing_key = dir.join("missing.key").display().to_string();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.display().to_string();
    let cert = c.server.cert.display().to_string();
    let key = c.server.key.display().to_string();
    let other = c.other_key.display().to_string();
    let malformed = c.malformed.display().to_string();
    vec![
        (
            "unreadable certificate",
            missing_cert.clone(),
            key.clone(),
            missing_cert,
        ),
        (
            "unreadable key",
            cert.clone(),
            missing_key.clone(),
            missing_key,
        ),
        (
            "malformed certificate",
            malformed.clone(),
            key.clone(),
            malformed.clone(),
        ),
        ("empty certificate file", empty.clone(), key.clone(), empty),
        (
            "a key where the certificate should be",
            key.clone(),
            key.clone(),
            key.clone(),
        ),
        ("malformed key", cert.clone(), malformed.clone(), malformed),
        (
            "a key that is not the certificate's",
            cert,
            other,
            "match".into(),
        ),
    ]
}

/// Assert nothing listens on 127.0.0.1:`port`: binding it succeeds.
fn assert_port_free(port: u16, what: &str) {
    if let Err(e) = TcpListener::bind(("127.0.0.1", port)) {
        panic!("{what}: 127.0.0.1:{port} is still bound: {e}");
    }
}

fn refusals(backend: Backend) {
    // Without a certificate: no openssl needed.
    let port = free_port();
    let url = format!("https://127.0.0.1:{port}");
    let out = run_to_exit(Some(backend), &["--urls", &url]);
    let line = out.assert_error("TLS");
    assert!(line.contains(&url), "{line}");
    assert_port_free(port, "https without a certificate");

    let Some(c) = certs("refusals") else { return };
    for (what, cert, key, needle) in bad_pairs(&c) {
        let port = free_port();
        let url = format!("https://127.0.0.1:{port}");
        let out = run_to_exit(
            Some(backend),
            &["--urls", &url, "--cert", &cert, "--key", &key],
        );
        let line = out.assert_error(&needle);
        assert!(
            !line.contains("panicked"),
            "{what}: a panic, not an error: {line}"
        );
        assert_port_free(port, what);
    }
    // A unix socket: no socket file is left behind.
    let dir = TempDir::new("tlsrefuse");
    let sock = dir.join("s.sock");
    let out = run_to_exit(
        Some(backend),
        &[
            "--urls",
            &format!("https://unix:{}", sock.display()),
            "--cert",
            &c.server.cert.display().to_string(),
            "--key",
            &c.other_key.display().to_string(),
        ],
    );
    out.assert_error("match");
    assert!(!sock.exists(), "a socket file was left behind");
}
both_backends!(bad_certificates_refuse_to_start, refusals);

/// The same through the library: `Server::bind` fails with `InvalidConfig` and one line,
/// and leaves the port free while this process lives on.
fn library_refusals(backend: Backend) {
    let Some(c) = certs("librefusals") else {
        return;
    };
    let choice = match backend {
        Backend::IoUring => peregrine::BackendChoice::IoUring,
        Backend::Epoll => peregrine::BackendChoice::Epoll,
    };
    let options = |url: &str| {
        let mut o = peregrine::Options::default()
            .urls(url)
            .expect("a valid URL")
            .threads(1)
            .backend(choice);
        o.handle_signals = false;
        o.pin_workers = false;
        o
    };
    for (what, cert, key, needle) in bad_pairs(&c) {
        let port = free_port();
        let o = options(&format!("https://127.0.0.1:{port}")).certificate(&cert, &key);
        let e = match peregrine::Server::bind(o) {
            Ok(s) => panic!("{what}: bound {:?}", s.addresses()),
            Err(e) => e,
        };
        let text = e.to_string();
        assert_eq!(
            e.kind(),
            peregrine::ErrorKind::InvalidConfig,
            "{what}: {text}"
        );
        assert!(!text.contains('\n'), "{what}: not one line: {text}");
        assert!(text.contains(&needle), "{what}: {text} (expected {needle})");
        assert_port_free(port, what);
    }
    // The good pair binds.
    let o = options("https://127.0.0.1:0").certificate(&c.server.cert, &c.server.key);
    let s = peregrine::Server::bind(o).expect("bind with a good certificate");
    assert!(
        s.addresses()[0].starts_with("https://127.0.0.1:"),
        "{:?}",
        s.addresses()
    );
}
both_backends!(library_refuses_bad_certificates, library_refusals);

fn key_formats(backend: Backend) {
    let Some(c) = certs("keyformats") else { return };
    let serve = |cert: &Path, key: &Path, der: &[u8], what: &str| {
        let s = Server::start(
            backend,
            &[
                "--urls",
                "https://127.0.0.1:0",
                "--cert",
                &cert.display().to_string(),
                "--key",
                &key.display().to_string(),
            ],
        );
        for (versions, version) in [(TLS12, "TLSv1.2"), (TLS13, "TLSv1.3")] {
            let mut t = s.connect_tls_with(0, c.client(versions, &["http/1.1"]), "localhost");
            assert_eq!(t.tls_peer_leaf(), der, "{what}: another certificate");
            let j = t.get("/request").json();
            assert_eq!(j["tls"]["version"], version, "{what}: {j}");
        }
        s.stop();
    };
    serve(&c.server.cert, &c.key_sec1, &c.server.der, "EC key in SEC1");
    let rsa = c.issue("rsa", KeyType::Rsa2048);
    let pkcs1 = c.to_pkcs1(&rsa.key);
    serve(&rsa.cert, &pkcs1, &rsa.der, "RSA key in PKCS#1");
    serve(&rsa.cert, &rsa.key, &rsa.der, "RSA key in PKCS#8");
}
both_backends!(rsa_pkcs1_and_ec_sec1_keys_load, key_formats);

// ---------------------------------------------------------------------------------------
// Shutdown, unix sockets, mixed endpoints
// ---------------------------------------------------------------------------------------

fn shutdown(backend: Backend) {
    let Some(c) = certs("shutdown") else { return };
    let mut s = https_server(backend, &c, &[]);
    let mut t = s.connect_tls(0, &c);
    assert_eq!(t.get("/plaintext").status, 200);
    // Idle keep-alive connection; then SIGTERM.
    s.signal(libc::SIGTERM);
    let rest = t.read_to_close_notify();
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    let status = s.wait_exit(EXIT_TIMEOUT);
    assert!(status.success(), "exit {status}; stderr:\n{}", s.stderr());
}
both_backends!(graceful_shutdown_sends_close_notify, shutdown);

fn unix_socket(backend: Backend) {
    let Some(c) = certs("unix") else { return };
    let dir = TempDir::new("tlsunix");
    let path = dir.join("s.sock");
    let url = format!("https://unix:{}", path.display());
    let cert_args = c.args();
    let mut args = vec!["--urls", url.as_str()];
    args.extend(cert_args.iter().map(String::as_str));
    let s = Server::start(backend, &args);
    assert_eq!(s.urls, vec![url.clone()]);

    let ca = c.ca_arg();
    let sock = path.display().to_string();
    let out = curl(&[
        "--unix-socket",
        &sock,
        "--cacert",
        &ca,
        "--http1.1",
        "https://localhost/request?via=unix",
    ]);
    let body = curl_ok(&out, "curl --unix-socket");
    let j: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(j["query"], "via=unix");
    assert_eq!(j["host"], "localhost");
    check_tls(
        &j,
        j["tls"]["version"].as_str().unwrap_or("?"),
        Some("http/1.1"),
        Some("localhost"),
    );

    let mut t = s.connect_tls(0, &c);
    for _ in 0..3 {
        assert_eq!(t.get("/plaintext").text(), "Hello, World!");
    }
    drop(t);
    s.stop();
    assert!(!path.exists(), "the socket file was left behind");
}
both_backends!(https_over_a_unix_socket, unix_socket);

fn side_by_side(backend: Backend) {
    let Some(c) = certs("mixed") else { return };
    let cert_args = c.args();
    let mut args = vec!["--urls", "http://127.0.0.1:0;https://127.0.0.1:0"];
    args.extend(cert_args.iter().map(String::as_str));
    let s = Server::start(backend, &args);
    assert!(s.urls[0].starts_with("http://127.0.0.1:"), "{:?}", s.urls);
    assert!(s.urls[1].starts_with("https://127.0.0.1:"), "{:?}", s.urls);
    let j = s.connect(0).get("/request").json();
    assert_eq!(j["scheme"], "http");
    assert!(j["tls"].is_null(), "{j}");
    let mut t = s.connect_tls(1, &c);
    let j = t.get("/request").json();
    check_tls(&j, t.tls_version(), Some("http/1.1"), Some("localhost"));
}
both_backends!(http_and_https_side_by_side, side_by_side);
