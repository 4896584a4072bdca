//! HTTP/1.x behaviour of the running binary, checked byte by byte over raw sockets and
//! with curl: keep-alive and `Connection: close` (1.1 and 1.0), pipelining, chunked
//! request and response bodies, `Expect: 100-continue`, HEAD, HTTP/1.0, large bodies, the
//! sample application's routes (`/plaintext`, `/json`, `/echo/stream`, `/request`, `/stream`,
//! 404), malformed requests (400 and close), request limits, and the `Date` / `Server`
//! headers. Each case runs on both backends.

#[macro_use]
mod common;

use std::io::Write;

use common::*;

/// A server on 127.0.0.1:0 with `extra` arguments.
fn server(backend: Backend, extra: &[&str]) -> Server {
    let mut args = vec!["--urls", "http://127.0.0.1:0"];
    args.extend_from_slice(extra);
    Server::start(backend, &args)
}

fn keep_alive(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    for _ in 0..3 {
        let r = c.get("/plaintext");
        assert_eq!(r.status, 200);
        assert_eq!(r.version, "HTTP/1.1");
        assert_eq!(r.reason, "OK");
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("content-length"), Some("13"));
        assert_eq!(r.text(), "Hello, World!");
        assert!(!r.closes(), "{}", r.raw_head);
        assert_standard_headers(&r);

        let r = c.get("/json");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.text(), r#"{"message":"Hello, World!"}"#);
        assert!(!r.closes());
    }
    // The connection is still open and idle.
    assert!(!c.closed_within(std::time::Duration::from_millis(200)));
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(
    keep_alive_serves_many_requests_on_one_connection,
    keep_alive
);

fn keep_alive_unix(backend: Backend) {
    let dir = TempDir::new("ka");
    let path = dir.join("ka.sock");
    let s = Server::start(
        backend,
        &["--urls", &format!("http://unix:{}", path.display())],
    );
    let mut c = s.connect(0);
    for i in 0..5 {
        let r = c.get(&format!("/request?i={i}"));
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["query"], format!("i={i}"));
    }
}
both_backends!(keep_alive_over_a_unix_socket, keep_alive_unix);

fn connection_close_11(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send("GET /plaintext HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(r.header("connection"), Some("close"), "{}", r.raw_head);
    c.expect_closed();
}
both_backends!(connection_close_is_honoured_on_http11, connection_close_11);

fn connection_close_10(backend: Backend) {
    let s = server(backend, &[]);
    // Default for 1.0: close.
    let mut c = s.connect(0);
    c.send("GET /plaintext HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.version, "HTTP/1.1");
    assert_eq!(r.text(), "Hello, World!");
    assert_eq!(r.header("connection"), Some("close"), "{}", r.raw_head);
    c.expect_closed();
    // Explicit close on 1.0.
    let mut c = s.connect(0);
    c.send("GET /json HTTP/1.0\r\nConnection: close\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.closes(), "{}", r.raw_head);
    c.expect_closed();
}
both_backends!(http10_closes_by_default_and_on_request, connection_close_10);

fn http10_keep_alive(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    for _ in 0..3 {
        c.send("GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, World!");
        assert_eq!(
            r.header("connection")
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("keep-alive"),
            "{}",
            r.raw_head
        );
    }
    // Without the header the 1.0 connection ends after the response.
    c.send("GET /plaintext HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert!(r.closes(), "{}", r.raw_head);
    c.expect_closed();
}
both_backends!(http10_keep_alive_is_kept_alive, http10_keep_alive);

fn http10_request(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send("GET /request?v=10 HTTP/1.0\r\nX-Old: yes\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_standard_headers(&r);
    let j = r.json();
    assert_eq!(j["protocol"], "HTTP/1.0");
    assert_eq!(j["method"], "GET");
    assert_eq!(j["query"], "v=10");
    assert!(j["host"].is_null(), "no Host was sent: {j}");
    c.expect_closed();

    // A streamed (unknown-length) body to a 1.0 client: no chunking, delimited by close.
    let mut c = s.connect(0);
    c.send("GET /stream?chunks=4&size=10 HTTP/1.0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.header("transfer-encoding").is_none(), "{}", r.raw_head);
    assert!(r.closes(), "{}", r.raw_head);
    assert_eq!(r.body, vec![b'x'; 40]);
}
both_backends!(http10_requests_are_answered, http10_request);

fn pipelining(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    let batch: String = (0..16).map(|i| get(&format!("/request?i={i}"))).collect();
    c.send(batch);
    for i in 0..16 {
        let r = c.read_response();
        assert_eq!(r.status, 200);
        assert!(!r.closes());
        let j = r.json();
        assert_eq!(j["query"], format!("i={i}"), "responses out of order");
    }
    assert!(c.buffered().is_empty());
    // Every complete request in one read is answered before anything is written, so the
    // 16 responses leave in one write; on loopback they arrive in one read.
    assert_eq!(
        c.reads, 1,
        "the 16 pipelined responses arrived in {} reads, not in one write",
        c.reads
    );
    // The connection goes on.
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(pipelined_requests_are_answered_in_order, pipelining);

/// More pipelined requests than one read buffer holds: heads straddle reads and the
/// responses are flushed in several writes.
fn pipelining_many(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.set_read_timeout(std::time::Duration::from_secs(5));
    let batch: String = (0..1000).map(|i| get(&format!("/request?i={i}"))).collect();
    let mut w = c.writer();
    let writer = std::thread::spawn(move || w.write_all(batch.as_bytes()).expect("send"));
    for i in 0..1000 {
        let r = c.read_response();
        assert_eq!(
            r.json()["query"],
            format!("i={i}"),
            "responses out of order"
        );
    }
    writer.join().unwrap();
}
both_backends!(a_thousand_pipelined_requests, pipelining_many);

fn close_then_more(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    // Requests after the one that says close are not answered.
    c.send(format!(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n{}{}",
        get("/json"),
        get("/json")
    ));
    let r = c.read_response();
    assert_eq!(r.text(), "Hello, World!");
    assert!(r.closes());
    c.expect_closed();
}
both_backends!(nothing_is_answered_after_connection_close, close_then_more);

fn absolute_form(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send("GET http://example.test/request?a=b HTTP/1.1\r\nHost: example.test\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["path"], "/request");
    assert_eq!(j["query"], "a=b");
    assert_eq!(j["host"], "example.test");
    // Percent-encoded and dot segments are normalised before routing.
    assert_eq!(c.get("/%70laintext").text(), "Hello, World!");
    assert_eq!(c.get("/x/../plaintext").text(), "Hello, World!");
}
both_backends!(target_forms_and_normalisation, absolute_form);

fn pipelining_mixed(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    // GET, HEAD, POST with a body, 404, chunked POST, then close: all in one write.
    let mut batch = String::new();
    batch += &get("/plaintext");
    batch += "HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n";
    batch += "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc";
    batch += &get("/missing");
    batch += "POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
    batch += "GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    c.send(batch);
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "Hello, World!"));
    let r = c.read_response_to(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("27"));
    let r = c.read_response();
    assert_eq!((r.status, r.text().as_str()), (200, "abc"));
    assert_eq!(c.read_response().status, 404);
    let r = c.read_response();
    assert_eq!(r.json()["body_length"], 2);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.closes());
    c.expect_closed();
}
both_backends!(pipelined_mixed_requests, pipelining_mixed);

fn chunked_request_echo(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Type: text/x-test\r\nTransfer-Encoding: chunked\r\n\r\n\
         5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert_eq!(r.header("content-type"), Some("text/x-test"));
    assert!(!r.closes());
    // The trailer was consumed: the next request parses.
    assert_eq!(c.get("/plaintext").text(), "Hello, World!");

    // A chunked body sent in pieces, with pauses the server must wait through.
    c.send("POST /echo/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send("3\r\nabc\r\n");
    c.send("A\r\n0123456789\r\n");
    c.send("0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.text(), "abc0123456789");
    assert!(r.header("content-type").is_none(), "{}", r.raw_head);
}
both_backends!(chunked_request_body_is_echoed, chunked_request_echo);

fn chunked_request_described(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    let data = vec![b'z'; 70_000];
    let mut req =
        b"POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in data.chunks(7_000) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    c.send(&req);
    let r = c.read_response();
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["body_length"], 70_000);
    let headers = j["headers"].as_array().unwrap();
    assert!(headers.iter().any(|h| h[0]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("transfer-encoding")
        && h[1] == "chunked"));
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(chunked_request_body_is_counted, chunked_request_described);

fn chunked_response(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    let r = c.get("/stream?chunks=5&size=100");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert!(r.header("content-length").is_none());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_standard_headers(&r);
    assert_eq!(r.chunks.as_deref(), Some(&[100usize; 5][..]));
    assert_eq!(r.body, vec![b'x'; 500]);

    // A large one (several flushes), then the connection goes on.
    let r = c.get("/stream?chunks=64&size=16384");
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 64 * 16384);
    assert!(r.body.iter().all(|&b| b == b'x'));
    assert_eq!(r.chunks.as_ref().map(Vec::len), Some(64));

    // Defaults: 10 chunks of 1024 bytes.
    let r = c.get("/stream");
    assert_eq!(r.chunks.as_deref(), Some(&[1024usize; 10][..]));
    // Bad parameters: 400 from the application, connection kept.
    assert_eq!(c.get("/stream?chunks=x").status, 400);
    assert_eq!(c.get("/stream?size=0").status, 400);
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(chunked_response_is_streamed, chunked_response);

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

fn expect_continue(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    // The interim answer comes before we send a byte of the body.
    assert_eq!(
        String::from_utf8_lossy(&c.read_exact_raw(CONTINUE.len())),
        String::from_utf8_lossy(CONTINUE)
    );
    c.send("hello world");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello world");
    assert!(!r.closes());

    // Same with a handler that reads the body to describe it, chunked this time.
    c.send(
        "POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    );
    assert_eq!(c.read_exact_raw(CONTINUE.len()), CONTINUE);
    c.send("4\r\nbody\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.json()["body_length"], 4);
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(
    expect_100_continue_is_answered_before_the_body,
    expect_continue
);

fn expect_continue_unread(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    // /plaintext never reads the body: no 100 Continue, a final answer straight away.
    c.send(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.raw_head);
    assert_eq!(r.text(), "Hello, World!");
    // The server cannot know whether the body will come: it closes the connection.
    c.expect_closed();
}
both_backends!(
    expect_100_continue_without_reading_the_body,
    expect_continue_unread
);

/// The connection above is closed after the response, so the response should say so
/// (RFC 9112 §9.6: a server that is going to close sends `Connection: close`); today the
/// head is encoded before the engine decides to close.
fn expect_continue_unread_announces_close(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let r = c.read_response();
    assert_eq!(r.status, 200, "{}", r.raw_head);
    assert!(
        r.closes(),
        "closed without Connection: close:\n{}",
        r.raw_head
    );
    c.expect_closed();
}

both_backends!(
    expect_100_continue_unread_announces_close,
    expect_continue_unread_announces_close
);

/// Whether curl's verbose output shows it asked for and got `100 Continue`.
fn curl_used_continue(verbose: &str) -> Option<bool> {
    verbose
        .contains("> Expect: 100-continue")
        .then(|| verbose.contains("< HTTP/1.1 100 Continue"))
}

fn curl_expect_continue(backend: Backend) {
    let s = server(backend, &[]);
    let dir = TempDir::new("curl100");
    let url = format!("http://{}/echo/stream", s.tcp_addr(0));
    let post = |body: &[u8], extra: &[&str]| {
        let input = dir.join("in.bin");
        std::fs::write(&input, body).unwrap();
        let data = format!("@{}", input.display());
        let mut args = vec!["-v", "-H", "Content-Type: text/plain"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--data-binary", &data, &url]);
        let out = curl(&args);
        let verbose = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "curl failed:\n{verbose}");
        assert!(out.stdout == body, "the echo differs");
        verbose
    };
    // A large body: curl asks for 100-continue by itself (the size at which it starts
    // doing so differs between versions: 1 KiB in old ones, 1 MiB in newer ones).
    let big: Vec<u8> = (0..2_000_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let verbose = post(&big, &[]);
    match curl_used_continue(&verbose) {
        Some(got) => assert!(
            got,
            "curl sent Expect: 100-continue but got no 100:\n{verbose}"
        ),
        None => skip("this curl did not send Expect: 100-continue for 2 MB"),
    }
    // A small body with the header asked for explicitly.
    let small: Vec<u8> = (0..2000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let verbose = post(&small, &["-H", "Expect: 100-continue"]);
    assert_eq!(curl_used_continue(&verbose), Some(true), "{verbose}");
}
both_backends!(curl_post_with_expect_continue, curl_expect_continue);

/// The header names of a response, lower-cased, in order.
fn header_names(r: &Response) -> Vec<String> {
    r.headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect()
}

fn head(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    // HEAD answers with the headers GET has.
    for path in [
        "/plaintext",
        "/json",
        "/stream?chunks=2&size=5",
        "/request",
        "/nope",
    ] {
        let g = c.get(path);
        c.send(format!("HEAD {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        let h = c.read_response_to(true);
        assert_eq!(h.status, g.status, "{path}");
        assert_eq!(header_names(&h), header_names(&g), "{path}");
        if path != "/request" {
            // (the description of a HEAD says "HEAD", so its length differs)
            assert_eq!(
                h.header("content-length"),
                g.header("content-length"),
                "{path}"
            );
        }
        assert_eq!(h.header("content-type"), g.header("content-type"), "{path}");
    }
    c.send("HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response_to(true);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("13"));
    assert_eq!(r.header("content-type"), Some("text/plain"));
    assert_standard_headers(&r);
    // No body bytes follow: the next response parses from the first byte.
    let r = c.get("/plaintext");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");

    // HEAD of a streamed response: same headers as GET, no chunks.
    c.send("HEAD /stream?chunks=3&size=10 HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response_to(true);
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_none() || r.header("content-length") == Some("30"));
    let r = c.get("/json");
    assert_eq!(r.text(), r#"{"message":"Hello, World!"}"#);

    // HEAD of /request and of a 404.
    c.send("HEAD /request HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.read_response_to(true);
    assert_eq!(r.status, 200);
    assert!(r.header("content-length").is_some());
    c.send("HEAD /nope HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.read_response_to(true).status, 404);
    assert_eq!(c.get("/plaintext").text(), "Hello, World!");
    assert!(c.buffered().is_empty());
}
both_backends!(head_has_the_headers_and_no_body, head);

/// Deterministic pseudo-random bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn big_echo(backend: Backend) {
    let s = server(backend, &["--threads", "2"]);
    let dir = TempDir::new("big");
    let input = dir.join("in.bin");
    let output = dir.join("out.bin");
    let body = noise(10 * 1024 * 1024);
    std::fs::write(&input, &body).unwrap();
    let url = format!("http://{}/echo/stream", s.tcp_addr(0));
    let out = curl(&[
        "-v",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &format!("@{}", input.display()),
        "-o",
        &output.display().to_string(),
        "-w",
        "%{http_code} %{content_type}",
        &url,
    ]);
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "200 application/octet-stream"
    );
    if let Some(got) = curl_used_continue(&String::from_utf8_lossy(&out.stderr)) {
        assert!(got, "curl sent Expect: 100-continue but got no 100");
    }
    let echoed = std::fs::read(&output).unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(echoed == body, "the echoed 10 MB differ from what was sent");
}
both_backends!(ten_megabyte_echo_with_curl, big_echo);

fn big_raw_body(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    let body = noise(3 * 1024 * 1024 + 17);
    c.send(format!(
        "POST /request HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    c.send(&body);
    let r = c.read_response();
    assert_eq!(r.json()["body_length"], body.len());
    // And echoed with a Content-Length request body.
    c.send(format!(
        "POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    ));
    // The echo streams back while we send: write from another thread so that neither
    // side blocks on a full socket buffer.
    let mut w = c.writer();
    let sent = body.clone();
    let writer = std::thread::spawn(move || w.write_all(&sent).expect("send the body"));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert!(r.body == body, "echo differs");
    writer.join().unwrap();
}
both_backends!(large_content_length_bodies, big_raw_body);

/// On a wildcard listener the local address is the one the client reached (asked of the
/// connection); on a one-address listener it is the listener's own (no system call).
fn local_address_on_a_wildcard_listener(backend: Backend) {
    let s = Server::start(backend, &["--urls", "http://0.0.0.0:0"]);
    let port = s.port(0);
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut c = Client::tcp(addr);
    let j = c.get("/request").json();
    assert_eq!(j["local_addr"], addr.to_string());
    assert_eq!(j["remote_addr"], c.local_addr().to_string());
}
both_backends!(
    the_local_address_on_a_wildcard_listener_is_the_one_reached,
    local_address_on_a_wildcard_listener
);

fn request_json(backend: Backend) {
    let s = server(backend, &[]);
    let addr = s.tcp_addr(0);
    let mut c = s.connect(0);
    let host = format!("{addr}");
    c.send(format!(
        "GET /request?x=1&y=%20two HTTP/1.1\r\nHost: {host}\r\nX-Test: Some Value\r\nx-lower: v2\r\nAccept: */*\r\n\r\n"
    ));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["method"], "GET");
    assert_eq!(j["path"], "/request");
    assert_eq!(j["query"], "x=1&y=%20two");
    assert_eq!(j["protocol"], "HTTP/1.1");
    assert_eq!(j["scheme"], "http");
    assert_eq!(j["host"], host);
    assert_eq!(j["remote_addr"], c.local_addr().to_string());
    assert_eq!(j["local_addr"], addr.to_string());
    assert_eq!(j["body_length"], 0);
    assert!(j["tls"].is_null());
    let headers: Vec<(String, String)> = j["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h[0].as_str().unwrap().to_string(),
                h[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        headers,
        vec![
            ("Host".to_string(), host.clone()),
            ("X-Test".to_string(), "Some Value".to_string()),
            ("x-lower".to_string(), "v2".to_string()),
            ("Accept".to_string(), "*/*".to_string()),
        ]
    );

    // POST with a body; no query; a path that needs normalising.
    c.send("POST /a/../request HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n12345");
    let j = c.read_response().json();
    assert_eq!(j["method"], "POST");
    assert_eq!(j["path"], "/request");
    assert!(j["query"].is_null());
    assert_eq!(j["body_length"], 5);

    // Through curl too.
    let out = curl(&[&format!("http://{addr}/request?from=curl")]);
    assert!(out.status.success());
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["query"], "from=curl");
    assert_eq!(j["host"], addr.to_string());
}
both_backends!(request_route_describes_the_request, request_json);

fn not_found(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    for req in [
        get("/nope"),
        get("/"),
        get("/echo/stream"),
        get("/plaintext/extra"),
        "POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n".to_string(),
        "DELETE /json HTTP/1.1\r\nHost: t\r\n\r\n".to_string(),
    ] {
        c.send(&req);
        let r = c.read_response();
        assert_eq!(r.status, 404, "{req:?} -> {}", r.raw_head);
        assert_eq!(r.header("content-length"), Some("0"));
        assert!(r.body.is_empty());
        assert!(!r.closes(), "a 404 keeps the connection: {}", r.raw_head);
        assert_standard_headers(&r);
    }
    // A body the application never reads is drained; the connection goes on.
    let body = "q".repeat(100_000);
    c.send(format!(
        "POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert_eq!(c.read_response().status, 404);
    assert_eq!(c.get("/plaintext").text(), "Hello, World!");
    let out = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("http://{}/missing", s.tcp_addr(0)),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "404");
}
both_backends!(unknown_paths_are_404, not_found);

/// Send `raw`, expect 400 with `Content-Length: 0` and `Connection: close`, then the close.
fn assert_rejected(s: &Server, raw: &[u8], status: u16) {
    let mut c = s.connect(0);
    c.send(raw);
    let r = c.read_response();
    let what = String::from_utf8_lossy(raw);
    assert_eq!(r.status, status, "{what:?} -> {}", r.raw_head);
    assert_eq!(
        r.header("content-length"),
        Some("0"),
        "{what:?} -> {}",
        r.raw_head
    );
    assert_eq!(
        r.header("connection"),
        Some("close"),
        "{what:?} -> {}",
        r.raw_head
    );
    assert!(r.header("date").is_some_and(is_imf_fixdate));
    c.expect_closed();
}

fn malformed(backend: Backend) {
    let s = server(backend, &[]);
    for raw in [
        &b"this is not http\r\n\r\n"[..],
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nNo colon here\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"POST /echo/stream HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /plain text HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
        b"GET http://a.test/plaintext HTTP/1.1\r\nHost: b.test\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\n Folded: x\r\n\r\n",
    ] {
        assert_rejected(&s, raw, 400);
    }
    // A bad request after a good one on the same connection: the good one is answered,
    // then 400 and close.
    let mut c = s.connect(0);
    c.send(format!("{}garbage garbage\r\n\r\n", get("/plaintext")));
    assert_eq!(c.read_response().status, 200);
    let r = c.read_response();
    assert_eq!(r.status, 400);
    assert!(r.closes());
    c.expect_closed();
}
both_backends!(malformed_requests_get_400_and_close, malformed);

/// The echo is streamed: what has been read of the body is sent back before the rest of
/// the body arrives (`write_stream` promises to flush whenever the body stream is not
/// ready; it does not when the stream is waiting on the request body, which holds the I/O).
fn echo_streams_promptly(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send("POST /echo/stream HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n");
    c.send("0123456789");
    c.set_read_timeout(std::time::Duration::from_secs(3));
    let head = c.read_head();
    assert_eq!(head.status, 200);
    c.wait_for_bytes(b"0123456789");
}
both_backends!(
    echo_sends_back_a_partial_body_without_waiting,
    echo_streams_promptly
);

/// A request whose chunked body is malformed is a bad request: when nothing of the
/// response has been sent yet, the client gets 400 and a close, not a bare close.
fn bad_chunked_body_answered(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.send("POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 400, "{}", r.raw_head);
    assert!(r.closes(), "{}", r.raw_head);
    c.expect_closed();
}
both_backends!(
    bad_chunk_size_is_answered_with_400,
    bad_chunked_body_answered
);

fn bad_chunked_body(backend: Backend) {
    let s = server(backend, &[]);
    // The head is fine, the chunk size is not: the body read fails and the connection
    // cannot be reused.
    let mut c = s.connect(0);
    c.send("POST /request HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n");
    let rest = c.read_to_eof();
    let text = String::from_utf8_lossy(&rest);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 400"),
        "expected a 400 or a bare close, got {text:?}"
    );
}
both_backends!(bad_chunk_size_ends_the_connection, bad_chunked_body);

/// A head that does not fit in the first read (the engine reads into 4 KiB buffers) is
/// completed by later reads. Today the later read lands at the start of the buffer
/// (monoio reads into a `BytesMut` from offset 0, not after its length), overwriting the
/// beginning of the head, so the request hangs. A fresh server and connection make the
/// first read a fresh 4 KiB buffer.
fn large_head(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.set_read_timeout(std::time::Duration::from_secs(5));
    let big = "b".repeat(6000);
    c.send(format!(
        "GET /request HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n"
    ));
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["headers"][1][1], big.as_str());
    // A long request line (within the 8 KiB limit).
    let q = "q".repeat(5000);
    let r = c.get(&format!("/request?{q}"));
    assert_eq!(r.json()["query"], q.as_str());
}
both_backends!(request_head_larger_than_one_read, large_head);

/// The same bug with a small head sent in three pieces: the pauses make the server read
/// each piece separately (there is no server-side event to wait on instead).
fn split_head(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    c.set_read_timeout(std::time::Duration::from_secs(5));
    c.send("GET /plaintext HTTP/1.1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send("Host: t\r\n");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send("\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "Hello, World!");
}
both_backends!(request_head_split_across_writes, split_head);

fn limits(backend: Backend) {
    let s = server(
        backend,
        &[
            "--max-request-line-size",
            "100",
            "--max-request-header-count",
            "5",
            "--max-request-headers-total-size",
            "2048",
        ],
    );
    let long = format!("/plaintext?{}", "a".repeat(200));
    assert_rejected(&s, get(&long).as_bytes(), 414);
    let many: String = (0..10).map(|i| format!("X-H{i}: v\r\n")).collect();
    assert_rejected(
        &s,
        format!("GET /plaintext HTTP/1.1\r\nHost: t\r\n{many}\r\n").as_bytes(),
        431,
    );
    let big = format!(
        "GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "b".repeat(4000)
    );
    assert_rejected(&s, big.as_bytes(), 431);
    // Within the limits all is well.
    let mut c = s.connect(0);
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(request_limits_are_enforced, limits);

fn standard_headers(backend: Backend) {
    let s = server(backend, &[]);
    let mut c = s.connect(0);
    for path in [
        "/plaintext",
        "/json",
        "/request",
        "/stream?chunks=1&size=1",
        "/nope",
    ] {
        let r = c.get(path);
        assert_standard_headers(&r);
    }
    let out = curl(&[
        "-sS",
        "-D",
        "-",
        "-o",
        "/dev/null",
        &format!("http://{}/json", s.tcp_addr(0)),
    ]);
    let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
    assert!(head.contains("\r\nserver: peregrine\r\n"), "{head}");
    assert!(head.contains("\r\ndate: "), "{head}");
}
both_backends!(date_and_server_headers_are_sent, standard_headers);

fn no_server_header(backend: Backend) {
    let s = server(backend, &["--no-server-header"]);
    let mut c = s.connect(0);
    for path in ["/plaintext", "/stream?chunks=1&size=1", "/nope"] {
        let r = c.get(path);
        assert!(r.header("server").is_none(), "{}", r.raw_head);
        assert!(r.header("date").is_some());
    }
    let mut c = s.connect(0);
    c.send("bad request\r\n\r\n");
    let r = c.read_response();
    assert_eq!(r.status, 400);
    assert!(r.header("server").is_none(), "{}", r.raw_head);

    let s = server(backend, &["--server-header", "Custom/1.0"]);
    let mut c = s.connect(0);
    let r = c.get("/plaintext");
    assert_eq!(r.header("server"), Some("Custom/1.0"));
    assert_eq!(r.header_count("server"), 1);
}
both_backends!(server_header_can_be_changed_or_removed, no_server_header);

fn concurrent_connections(backend: Backend) {
    let s = server(backend, &["--threads", "2"]);
    let addr = s.tcp_addr(0);
    let handles: Vec<_> = (0..8)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::tcp(addr);
                for i in 0..25 {
                    let r = c.get(&format!("/request?t={t}&i={i}"));
                    assert_eq!(r.json()["query"], format!("t={t}&i={i}"));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("a client thread failed");
    }
}
both_backends!(concurrent_connections_are_served, concurrent_connections);
