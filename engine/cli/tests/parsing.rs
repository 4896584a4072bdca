//! Strict request parsing (RFC 9112) against request smuggling, checked through real
//! sockets on both backends: every rule sends its exact bytes on a new connection and
//! checks the exact answer (status line, `Content-Length: 0`, `Connection: close`,
//! `Date`, [`Allow`], `Server`, empty body) and that the connection is then closed.
//! Next to each rejection, the nearest valid form is shown to be accepted, so a rule
//! cannot pass by rejecting everything.
//!
//! Rules: Content-Length (duplicates, non-decimal), Transfer-Encoding (with
//! Content-Length, final coding not chunked, on HTTP/1.0), chunked framing (size,
//! extensions, terminators, trailers, early end), header syntax (obs-fold, whitespace
//! before the colon, names, CR / LF / NUL in values), line endings (bare LF accepted,
//! bare CR not), Host (missing, repeated, invalid, disagreeing with an absolute-form
//! target), versions (505), a TLS ClientHello (400), target forms (405 with `Allow`),
//! control characters and NUL in the target, the normalised path the handler sees
//! (in-process handler), and blank lines between pipelined requests.

#[macro_use]
mod common;

use std::time::Duration;

use common::inproc::InProc;
use common::probe::expect_error_answer;
use common::*;

fn server(backend: Backend) -> Server {
    Server::start(backend, &["--urls", "http://127.0.0.1:0"])
}

/// Send `raw` on a new connection; expect the server's own `status` answer and the close.
fn rejects(s: &Server, raw: &[u8], status: u16) {
    rejects_with(s, raw, status, None);
}

fn rejects_with(s: &Server, raw: &[u8], status: u16, allow: Option<&str>) {
    let mut c = s.connect(0);
    c.send(raw);
    expect_error_answer(&mut c, status, allow, &format!("{:?}", lossy(raw)));
}

/// Send `raw` on a new connection; expect a response with `status` that keeps the
/// connection open (checked by a second request on it).
fn accepts(s: &Server, raw: &[u8], status: u16) -> Response {
    let mut c = s.connect(0);
    c.send(raw);
    let r = c.read_response();
    assert_eq!(r.status, status, "{:?} -> {}", lossy(raw), r.raw_head);
    assert!(!r.closes(), "{:?} -> {}", lossy(raw), r.raw_head);
    assert_eq!(c.get("/plaintext").status, 200, "{:?}", lossy(raw));
    r
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// `POST /request` (which reads the whole body) with `headers` and then `body`.
fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /request HTTP/1.1\r\nHost: t\r\n{headers}\r\n{body}").into_bytes()
}

/// `GET /request` with one extra header line (given without its line ending).
fn with_header(line: &[u8]) -> Vec<u8> {
    let mut v = b"GET /request HTTP/1.1\r\nHost: t\r\n".to_vec();
    v.extend_from_slice(line);
    v.extend_from_slice(b"\r\n\r\n");
    v
}

fn content_length(backend: Backend) {
    let s = server(backend);
    for cl in [
        "Content-Length: 5\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\ncontent-length: 5\r\n",
        "Content-Length: 5\r\nContent-Length: 6\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: +5\r\n",
        "Content-Length: -5\r\n",
        "Content-Length: 0x5\r\n",
        "Content-Length: 5.0\r\n",
        "Content-Length: 5 5\r\n",
        "Content-Length: 5e0\r\n",
        "Content-Length: \r\n",
        "Content-Length: 99999999999999999999999\r\n",
        "Content-Length: \u{0665}\r\n",
    ] {
        rejects(&s, &post(cl, "hello"), 400);
    }
    // The plain forms: a decimal, with optional whitespace around it, leading zeros.
    for cl in [
        "Content-Length: 5\r\n",
        "Content-Length:   5  \r\n",
        "content-length: 005\r\n",
    ] {
        let r = accepts(&s, &post(cl, "hello"), 200);
        assert_eq!(r.json()["body_length"], 5, "{cl:?}");
    }
}
both_backends!(content_length_must_be_one_plain_decimal, content_length);

fn transfer_encoding(backend: Backend) {
    let s = server(backend);
    let body = "5\r\nhello\r\n0\r\n\r\n";
    for te in [
        // With Content-Length, in either order.
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        // The final coding is not chunked.
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: identity\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: \r\n",
        // chunked twice.
        "Transfer-Encoding: chunked, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ] {
        rejects(&s, &post(te, body), 400);
    }
    // Any Transfer-Encoding on HTTP/1.0.
    rejects(
        &s,
        format!("POST /request HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n{body}").as_bytes(),
        400,
    );
    rejects(
        &s,
        b"GET /plaintext HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n",
        400,
    );
    // Accepted: chunked last, any case, with whitespace.
    for te in [
        "Transfer-Encoding: chunked\r\n",
        "Transfer-Encoding:  Chunked \r\n",
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        let r = accepts(&s, &post(te, body), 200);
        assert_eq!(r.json()["body_length"], 5, "{te:?}");
    }
}
both_backends!(
    transfer_encoding_must_end_in_chunked_and_stand_alone,
    transfer_encoding
);

fn chunked(backend: Backend) {
    let s = server(backend);
    let te = "Transfer-Encoding: chunked\r\n";
    let long_ext = format!("5;a={}\r\nhello\r\n0\r\n\r\n", "x".repeat(5000));
    for body in [
        // Chunk size not hex, signed, prefixed, empty.
        "zz\r\nhello\r\n0\r\n\r\n",
        "-5\r\nhello\r\n0\r\n\r\n",
        "+5\r\nhello\r\n0\r\n\r\n",
        "0x5\r\nhello\r\n0\r\n\r\n",
        "\r\nhello\r\n0\r\n\r\n",
        " 5\r\nhello\r\n0\r\n\r\n",
        // Overflowing: 17 hex digits, and 33 digits of leading zeros.
        "10000000000000000\r\nhello\r\n0\r\n\r\n",
        "000000000000000000000000000000005\r\nhello\r\n0\r\n\r\n",
        // Malformed extensions.
        "5;\r\nhello\r\n0\r\n\r\n",
        "5;=x\r\nhello\r\n0\r\n\r\n",
        "5;a=\r\nhello\r\n0\r\n\r\n",
        "5;a b\r\nhello\r\n0\r\n\r\n",
        "5;a=\"x\r\nhello\r\n0\r\n\r\n",
        "5;a=b c\r\nhello\r\n0\r\n\r\n",
        "5 x\r\nhello\r\n0\r\n\r\n",
        // A bare LF inside an extension.
        "5;\nhello\r\n0\r\n\r\n",
        "5;a=\"x\ny\"\r\nhello\r\n0\r\n\r\n",
        "5;a=\n\r\nhello\r\n0\r\n\r\n",
        // A bare CR after the size.
        "5\rhello\r\n0\r\n\r\n",
        // Chunk data not followed by CRLF.
        "5\r\nhelloX\r\n0\r\n\r\n",
        // A malformed trailer.
        "5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n",
        "5\r\nhello\r\n0\r\nNoColon\r\n\r\n",
        &long_ext,
    ] {
        rejects(&s, &post(te, body), 400);
    }
    // Accepted: extensions in every allowed shape, bare LF line endings, trailers.
    for body in [
        "5;a\r\nhello\r\n0\r\n\r\n",
        "5;a=b;c=\"d e\\\"f\"\r\nhello\r\n0\r\n\r\n",
        "5 ;a = b\r\nhello\r\n0\r\n\r\n",
        "5\nhello\n0\n\n",
        "05\r\nhello\r\n0\r\nX-Trailer: v\r\n\r\n",
    ] {
        let r = accepts(&s, &post(te, body), 200);
        assert_eq!(r.json()["body_length"], 5, "{body:?}");
    }
}
both_backends!(chunked_framing_errors_are_400, chunked);

/// A body that ends before its announced end (the client half-closes): the connection is
/// closed. When the response had not started, the answer announces the close; when it
/// had (`/echo/stream` streams the body back as it comes), it simply stops: the last chunk
/// never arrives.
fn body_ends_early(backend: Backend) {
    let s = server(backend);
    for (path, headers, body) in [
        ("/request", "Content-Length: 100\r\n", "0123456789"),
        ("/echo/stream", "Content-Length: 100\r\n", "0123456789"),
        (
            "/request",
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n",
        ),
        (
            "/echo/stream",
            "Transfer-Encoding: chunked\r\n",
            "5\r\nhello\r\n",
        ),
        ("/request", "Transfer-Encoding: chunked\r\n", "a\r\nhel"),
    ] {
        let what = format!("{path} {headers:?} {body:?}");
        let mut c = s.connect(0);
        c.send(format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n{body}"
        ));
        c.shutdown_write();
        let rest = c.read_to_eof();
        let text = lossy(&rest);
        if path == "/request" {
            let head = text.split("\r\n\r\n").next().unwrap();
            assert!(
                head.starts_with("HTTP/1.1 400 ")
                    && head.to_ascii_lowercase().contains("\r\nconnection: close"),
                "{what}: expected a 400 announcing the close, got {text:?}"
            );
        } else {
            assert!(text.starts_with("HTTP/1.1 200 "), "{what}: {text:?}");
            assert!(!text.ends_with("0\r\n\r\n"), "{what}: {text:?}");
        }
    }
}
both_backends!(
    a_body_that_ends_early_closes_the_connection,
    body_ends_early
);

fn header_syntax(backend: Backend) {
    let s = server(backend);
    let bad: &[&[u8]] = &[
        // obs-fold, with SP and with HTAB, and right after the request line.
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\r\n\tb\r\n\r\n",
        b"GET /request HTTP/1.1\r\n Host: t\r\n\r\n",
        // Whitespace before the colon.
        b"GET /request HTTP/1.1\r\nHost : t\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX-A\t: b\r\n\r\n",
        // Empty and non-token names, no colon.
        b"GET /request HTTP/1.1\r\nHost: t\r\n: v\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX(A): b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX\"A: b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX/A: b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX A: b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX\x80: b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX\x00: b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nNoColon\r\n\r\n",
        // CR, LF, NUL and other control characters in a value.
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\rb\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\nb c\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: a\x7fb\r\n\r\n",
        b"GET /request HTTP/1.1\r\nHost: t\r\nX: \x1b[31m\r\n\r\n",
    ];
    for raw in bad {
        rejects(&s, raw, 400);
    }
    // Accepted: HTAB inside a value, obs-text, every tchar in a name, empty value.
    let r = accepts(&s, &with_header(b"X: a\tb"), 200);
    assert_eq!(r.json()["headers"][1][1], "a\tb");
    let r = accepts(&s, &with_header(b"X: caf\xc3\xa9"), 200);
    assert_eq!(r.json()["headers"][1][1], "caf\u{e9}");
    let r = accepts(&s, &with_header(b"!#$%&'*+-.^_`|~09aZ: v"), 200);
    assert_eq!(r.json()["headers"][1][0], "!#$%&'*+-.^_`|~09aZ");
    let r = accepts(&s, &with_header(b"X-Empty:"), 200);
    assert_eq!(r.json()["headers"][1][1], "");
}
both_backends!(header_syntax_is_strict, header_syntax);

fn line_endings(backend: Backend) {
    let s = server(backend);
    // Bare LF is a line ending (as nginx and Kestrel accept it), alone or mixed.
    for raw in [
        &b"GET /plaintext HTTP/1.1\nHost: t\n\n"[..],
        b"GET /plaintext HTTP/1.1\r\nHost: t\n\r\n",
        b"GET /plaintext HTTP/1.1\nHost: t\r\n\n",
    ] {
        let r = accepts(&s, raw, 200);
        assert_eq!(r.text(), "Hello, World!");
    }
    // Pipelined requests with bare LF endings are told apart.
    let mut c = s.connect(0);
    c.send("GET /plaintext HTTP/1.1\nHost: t\n\nGET /json HTTP/1.1\nHost: t\n\n");
    assert_eq!(c.read_response().text(), "Hello, World!");
    assert_eq!(c.read_response().text(), r#"{"message":"Hello, World!"}"#);
    // A bare CR is never a line ending.
    for raw in [
        &b"GET /plaintext HTTP/1.1\rHost: t\r\n\r\n"[..],
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
        b"\rGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
        b"\r\n\rGET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /plaintext\rHTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET\r/plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
    ] {
        rejects(&s, raw, 400);
    }
}
both_backends!(bare_lf_is_accepted_and_bare_cr_is_not, line_endings);

/// A bare CR where the final empty line belongs (`\r\n\r\r\n`): nothing more can make
/// this head valid, so it deserves its 400 at once. The engine's scan for the end of the
/// head only recognises `LF [CR] LF`, so it keeps waiting for more bytes (the 400 comes
/// only when another line ending arrives, else a 408 after the request-headers timeout).
fn bare_cr_in_the_final_line(backend: Backend) {
    let s = server(backend);
    for raw in [
        &b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\r\n"[..],
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\rX",
        b"GET /plaintext HTTP/1.1\n\r\r",
    ] {
        let mut c = s.connect(0);
        c.set_read_timeout(Duration::from_secs(3));
        c.send(raw);
        expect_error_answer(&mut c, 400, None, &format!("{:?}", lossy(raw)));
    }
}
both_backends!(
    a_bare_cr_in_the_final_empty_line_is_400_at_once,
    bare_cr_in_the_final_line
);

fn host(backend: Backend) {
    let s = server(backend);
    let bad: &[&[u8]] = &[
        // Missing on HTTP/1.1.
        b"GET /plaintext HTTP/1.1\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nX-Host: t\r\n\r\n",
        // More than one, even equal.
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\nHost: t\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        b"GET /plaintext HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n",
        // Invalid values.
        b"GET /plaintext HTTP/1.1\r\nHost: a b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a/b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a:b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a:\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a:80:80\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: [::1\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: [zz]\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: u@a\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a?b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a#b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a\\b\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: a%zz\r\n\r\n",
        b"GET /plaintext HTTP/1.1\r\nHost: http://a\r\n\r\n",
        // An absolute-form target whose authority disagrees with Host.
        b"GET http://a.test/plaintext HTTP/1.1\r\nHost: b.test\r\n\r\n",
        b"GET http://a.test:8080/plaintext HTTP/1.1\r\nHost: a.test:8081\r\n\r\n",
        b"GET http://a.test/plaintext HTTP/1.1\r\nHost: a.test.evil\r\n\r\n",
        b"GET http://a.test/plaintext HTTP/1.1\r\nHost:\r\n\r\n",
    ];
    for raw in bad {
        rejects(&s, raw, 400);
    }
    // Accepted: HTTP/1.0 without Host, names, IPv4, IPv6 with ports, an empty Host for
    // origin-form, an absolute-form target matching Host (case-insensitively).
    accepts(
        &s,
        b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        200,
    );
    for host in [
        "example.com",
        "example.com:8080",
        "127.0.0.1:1",
        "[::1]",
        "[::1]:80",
        "",
    ] {
        let raw = format!("GET /request HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let r = accepts(&s, raw.as_bytes(), 200);
        assert_eq!(r.json()["host"], host, "{raw:?}");
    }
    let r = accepts(
        &s,
        b"GET http://A.Test:81/request?q=1 HTTP/1.1\r\nHost: a.test:81\r\n\r\n",
        200,
    );
    assert_eq!(r.json()["path"], "/request");
    assert_eq!(r.json()["query"], "q=1");
}
both_backends!(host_is_required_single_valid_and_consistent, host);

fn versions(backend: Backend) {
    let s = server(backend);
    for v in ["HTTP/1.2", "HTTP/2.0", "HTTP/3.0", "HTTP/0.9", "HTTP/9.9"] {
        rejects(
            &s,
            format!("GET /plaintext {v}\r\nHost: t\r\n\r\n").as_bytes(),
            505,
        );
    }
    for v in [
        "HTTX/1.1",
        "HTTP/1",
        "HTTP/1.10",
        "HTTP/11",
        "HTTP/1.1 ",
        "1.1",
    ] {
        rejects(
            &s,
            format!("GET /plaintext {v}\r\nHost: t\r\n\r\n").as_bytes(),
            400,
        );
    }
    rejects(&s, b"GET /plaintext\r\nHost: t\r\n\r\n", 400);
}
both_backends!(unknown_versions_are_505, versions);

/// The start of a real TLS 1.2/1.3 ClientHello (record header, handshake header, version,
/// random).
fn client_hello() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0xc4, 0x01, 0x00, 0x00, 0xc0, 0x03, 0x03,
    ];
    v.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    v.extend_from_slice(&[0x00, 0x00, 0x04, 0x13, 0x01, 0x13, 0x02, 0x01, 0x00]);
    v
}

fn tls(backend: Backend) {
    let s = server(backend);
    rejects(&s, &client_hello(), 400);
    // Byte by byte: the first byte alone does not decide, the second does.
    let mut c = s.connect(0);
    let hello = client_hello();
    c.send(&hello[..1]);
    assert!(!c.closed_within(Duration::from_millis(200)));
    c.send(&hello[1..2]);
    expect_error_answer(&mut c, 400, None, "ClientHello in pieces");
    // SSLv3 / TLS 1.0 record versions too.
    rejects(&s, &[0x16, 0x03, 0x00, 0x00, 0x10], 400);
}
both_backends!(tls_handshake_on_a_cleartext_port_is_400, tls);

fn target_forms(backend: Backend) {
    let s = server(backend);
    // `*` on anything but OPTIONS.
    for m in ["GET", "HEAD", "POST", "DELETE"] {
        rejects_with(
            &s,
            format!("{m} * HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
            405,
            Some("OPTIONS"),
        );
    }
    // Authority-form on anything but CONNECT.
    for m in ["GET", "OPTIONS", "POST"] {
        rejects_with(
            &s,
            format!("{m} example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n").as_bytes(),
            405,
            Some("CONNECT"),
        );
    }
    // CONNECT with any other form, and targets of no form at all.
    for raw in [
        &b"CONNECT /x HTTP/1.1\r\nHost: t\r\n\r\n"[..],
        b"CONNECT * HTTP/1.1\r\nHost: t\r\n\r\n",
        b"CONNECT http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
        b"CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n",
        b"GET example.com HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET plaintext HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
    ] {
        rejects(&s, raw, 400);
    }
    // The allowed pairs reach the application (which has no such route: 404).
    accepts(&s, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n", 404);
    accepts(
        &s,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        404,
    );
}
both_backends!(target_forms_are_tied_to_their_methods, target_forms);

fn target_characters(backend: Backend) {
    let s = server(backend);
    let bad: &[&[u8]] = &[
        b"GET /a\x00b HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a%00b HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /request?x=%00 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a\x01b HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a\x7fb HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a\tb HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a\x1bb HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: t\r\n\r\n",
        // Control characters through percent-encoding, bad escapes, decoded non-UTF-8.
        b"GET /a%0ab HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a%0Db HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a%7f HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a%zz HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /a%4 HTTP/1.1\r\nHost: t\r\n\r\n",
        b"GET /%c3 HTTP/1.1\r\nHost: t\r\n\r\n",
    ];
    for raw in bad {
        rejects(&s, raw, 400);
    }
    // The same paths without the bad byte are fine.
    let r = accepts(&s, b"GET /request?x=%41 HTTP/1.1\r\nHost: t\r\n\r\n", 200);
    assert_eq!(r.json()["query"], "x=%41");
}
both_backends!(
    control_characters_and_nul_in_the_target_are_400,
    target_characters
);

/// The in-process handler answers `target\npath\nquery`.
async fn describe_target(req: peregrine::Request) -> peregrine::Response {
    peregrine::Response::new(format!(
        "{}\n{}\n{}",
        req.target(),
        req.path(),
        req.query().unwrap_or("-")
    ))
}

fn path_normalisation(backend: Backend) {
    let s = InProc::start(backend, describe_target, |_| {});
    let mut c = s.connect();
    for (target, path) in [
        ("/plain", "/plain"),
        ("/a/b/../c", "/a/c"),
        ("/a/./b/.", "/a/b/"),
        ("/..", "/"),
        ("/../../../etc/passwd", "/etc/passwd"),
        ("/a/../../..", "/"),
        ("/a/%2e%2e/%2E%2E/%2e%2e/x", "/x"),
        ("/a/.%2e/b", "/b"),
        ("/%41%42c", "/ABc"),
        ("/caf%C3%A9", "/caf\u{e9}"),
        ("/a%2Fb/../c", "/c"),
        ("/a%2fb", "/a%2fb"),
        ("/a%20b", "/a b"),
    ] {
        c.send(get(target));
        let r = c.read_response();
        assert_eq!(r.status, 200, "{target}");
        let text = r.text();
        let parts: Vec<&str> = text.split('\n').collect();
        assert_eq!(parts[0], target, "the raw target is kept");
        assert_eq!(parts[1], path, "the path of {target}");
        assert!(parts[1].starts_with('/'));
    }
    // The query is left as sent; the path still climbs no higher than `/`.
    c.send(get("/../a/%2e%2e/../b?x=%2e%2e/y"));
    let text = c.read_response().text();
    assert_eq!(text, "/../a/%2e%2e/../b?x=%2e%2e/y\n/b\nx=%2e%2e/y");
    // Absolute-form: the path comes from the target's path.
    c.send("GET http://a.test/x/../y?q HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert_eq!(c.read_response().text(), "http://a.test/x/../y?q\n/y\nq");
    // A NUL (raw or encoded) never reaches the handler.
    let mut c = s.connect();
    c.send(get("/a/%00/../b"));
    expect_error_answer(&mut c, 400, None, "%00 in the path");
}
both_backends!(
    the_handler_sees_a_normalised_path_and_the_raw_target,
    path_normalisation
);

fn blank_lines(backend: Backend) {
    let s = server(backend);
    let mut c = s.connect(0);
    // Before the first request, between pipelined requests (CRLF and bare LF), and after
    // a request with a body.
    c.send(format!(
        "\r\n\r\n{}\r\n\r\n\n{}\nPOST /request HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\r\n{}",
        get("/plaintext"),
        get("/json"),
        get("/request?last")
    ));
    assert_eq!(c.read_response().text(), "Hello, World!");
    assert_eq!(c.read_response().text(), r#"{"message":"Hello, World!"}"#);
    let r = c.read_response();
    assert_eq!(r.json()["body_length"], 5);
    let r = c.read_response();
    assert_eq!(r.json()["query"], "last");
    assert!(!r.closes());
    // Blank lines alone, then a request, on a later read.
    c.send("\r\n\n");
    assert!(!c.closed_within(Duration::from_millis(100)));
    assert_eq!(c.get("/plaintext").status, 200);
}
both_backends!(blank_lines_between_requests_are_ignored, blank_lines);
