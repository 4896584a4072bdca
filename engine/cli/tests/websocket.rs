//! WebSockets through real sockets, each case on both backends, against the sample
//! app's `/ws` (an echo of every message).
//!
//! - Python `websockets` (tests/ws_client.py): text, a 1 MB binary message, a fragmented
//!   message, ping/pong, the close handshake (1000 echoed), with permessage-deflate on
//!   and off, the subprotocol chosen, and over TLS (wss);
//! - raw frames for the RFC's rules, each answered with the close code it deserves: an
//!   unmasked client frame, a reserved bit, an unknown opcode, a control frame over 125
//!   bytes or fragmented, a continuation without a start, a new message mid-message
//!   (1002); invalid UTF-8 in one frame and across fragments, and in a close reason
//!   (1007); an invalid close code (1002); a message over `--max-websocket-message-size`
//!   (1009); interleaved pings inside a fragmented message are answered and the message
//!   still arrives whole;
//! - the handshake: no key or a malformed key → 400, version 12 → 426 with
//!   `Sec-WebSocket-Version: 13`, a foreign `Origin` with `--websocket-allowed-origins`
//!   → 403, the RFC's accept-key example;
//! - a graceful shutdown closes open sockets with 1001; `--websocket-keep-alive-interval`
//!   pings a quiet socket and closes it when the ping goes unanswered;
//! - through real nginx (`proxy_set_header Upgrade`/`Connection`): the Python client's
//!   echo, deflate included;
//! - `--max-concurrent-upgraded-connections 1`: a second socket is refused with 503
//!   while the first is open, and accepted once it closed;
//! - over HTTP/2 (RFC 8441) with Python `h2`: SETTINGS_ENABLE_CONNECT_PROTOCOL, an
//!   extended CONNECT answered 200, masked frames echoed on two sockets sharing one
//!   connection.

#[macro_use]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::mixed::{python_has, server, ws_case, CA, WS_CLIENT};
use common::*;

const H2_CLIENT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/h2_client.py");

/// The RFC 6455 §1.3 example key and its accept value.
const KEY_EXAMPLE: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT_EXAMPLE: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A client frame: FIN, RSV bits, opcode, masked with a fixed key unless `masked` is
/// false.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | (rsv << 4) | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let key = [0x37u8, 0xfa, 0x21, 0x3d];
    if masked {
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

const TEXT: u8 = 1;
const BINARY: u8 = 2;
const CONTINUATION: u8 = 0;
const CLOSE: u8 = 8;
const PING: u8 = 9;
const PONG: u8 = 10;

/// A raw WebSocket connection after a successful handshake.
struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    fn open(port: u16, extra_headers: &str) -> Raw {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        write!(
            s,
            "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY_EXAMPLE}\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n"
        )
        .expect("handshake");
        let mut raw = Raw { s, buf: Vec::new() };
        let head = raw.head();
        assert!(head.starts_with("http/1.1 101 "), "{head}");
        let accept = format!("sec-websocket-accept: {}", ACCEPT_EXAMPLE.to_lowercase());
        assert!(head.contains(&accept), "{head}");
        raw
    }

    /// The response head (lowercased), read up to the blank line.
    fn head(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..i]).to_lowercase();
                self.buf.drain(..i + 4);
                return head;
            }
            self.fill();
        }
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 65536];
        let n = self.s.read(&mut chunk).unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    fn send(&mut self, bytes: &[u8]) {
        let _ = self.s.write_all(bytes);
    }

    /// The next server frame: (fin, opcode, payload); `None` at end-of-stream.
    fn next(&mut self) -> Option<(bool, u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                assert_eq!(self.buf[1] & 0x80, 0, "server frames are unmasked");
                let (len, at) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&self.buf[2..10]);
                        (u64::from_be_bytes(b) as usize, 10)
                    }
                    n if n < 126 => (n as usize, 2),
                    _ => (usize::MAX, 0),
                };
                if len != usize::MAX && self.buf.len() >= at + len {
                    let fin = self.buf[0] & 0x80 != 0;
                    let op = self.buf[0] & 0x0f;
                    let payload = self.buf[at..at + len].to_vec();
                    self.buf.drain(..at + len);
                    return Some((fin, op, payload));
                }
            }
            if self.fill() == 0 {
                return None;
            }
        }
    }

    /// Read frames until a close; its code.
    fn close_code(&mut self) -> Option<u16> {
        while let Some((_, op, p)) = self.next() {
            if op == CLOSE {
                return (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]]));
            }
        }
        None
    }
}

fn python_clients(backend: Backend) {
    if !python_has("websockets.sync.client") {
        return;
    }
    let s = server(backend, &[]);
    for (url, compression) in [
        (format!("ws://127.0.0.1:{}/ws", s.port(0)), "on"),
        (format!("ws://127.0.0.1:{}/ws", s.port(0)), "off"),
        (format!("wss://localhost:{}/ws", s.port(1)), "on"),
    ] {
        let j = ws_case("echo", &url, &[compression]);
        assert_eq!(j["text"], "hello, text ✓", "{url} {compression}: {j}");
        assert_eq!(j["binary_same"], true, "{url} {compression}: {j}");
        assert_eq!(
            j["fragmented"], "fragmented message",
            "{url} {compression}: {j}"
        );
        assert_eq!(j["pong"], true, "{url} {compression}: {j}");
        assert_eq!(j["close_code"], 1000, "{url} {compression}: {j}");
        assert_eq!(j["subprotocol"], "echo", "{j}");
        let deflate = j["extensions"]
            .as_str()
            .is_some_and(|e| e.contains("permessage-deflate"));
        assert_eq!(deflate, compression == "on", "{url} {compression}: {j}");
    }
}
both_backends!(python_websockets_echo, python_clients);

fn protocol_rules(backend: Backend) {
    let s = server(backend, &["--max-websocket-message-size", "1000"]);
    let port = s.port(0);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", frame(true, 0, TEXT, b"hi", false), 1002),
        ("reserved bit", frame(true, 0b010, TEXT, b"hi", true), 1002),
        ("unknown opcode", frame(true, 0, 3, b"hi", true), 1002),
        (
            "long control",
            frame(true, 0, PING, &[0u8; 126], true),
            1002,
        ),
        (
            "fragmented control",
            frame(false, 0, PING, b"x", true),
            1002,
        ),
        (
            "continuation first",
            frame(true, 0, CONTINUATION, b"x", true),
            1002,
        ),
        (
            "new message mid-message",
            [
                frame(false, 0, TEXT, b"a", true),
                frame(true, 0, TEXT, b"b", true),
            ]
            .concat(),
            1002,
        ),
        (
            "invalid utf-8",
            frame(true, 0, TEXT, &[0xff, 0xfe], true),
            1007,
        ),
        (
            "utf-8 split badly",
            [
                frame(false, 0, TEXT, &[0xe2, 0x82], true),
                frame(true, 0, CONTINUATION, b"x", true),
            ]
            .concat(),
            1007,
        ),
        (
            "close reason not utf-8",
            frame(true, 0, CLOSE, &[0x03, 0xe8, 0xff], true),
            1007,
        ),
        (
            "invalid close code",
            frame(true, 0, CLOSE, &[0x03, 0xed], true),
            1002,
        ),
        ("one-byte close", frame(true, 0, CLOSE, &[0x03], true), 1002),
        ("too big", frame(true, 0, BINARY, &[7u8; 1001], true), 1009),
        (
            "too big in fragments",
            [
                frame(false, 0, BINARY, &[7u8; 600], true),
                frame(true, 0, CONTINUATION, &[7u8; 600], true),
            ]
            .concat(),
            1009,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut ws = Raw::open(port, "");
        ws.send(&bytes);
        assert_eq!(ws.close_code(), Some(code), "{what}");
    }
    // Pings inside a fragmented message are answered; the message arrives whole.
    let mut ws = Raw::open(port, "");
    ws.send(&frame(false, 0, TEXT, b"hel", true));
    ws.send(&frame(true, 0, PING, b"p", true));
    ws.send(&frame(true, 0, CONTINUATION, b"lo", true));
    assert_eq!(ws.next(), Some((true, PONG, b"p".to_vec())));
    assert_eq!(ws.next(), Some((true, TEXT, b"hello".to_vec())));
    // A normal close is echoed with its code.
    ws.send(&frame(true, 0, CLOSE, &[0x03, 0xe8], true));
    assert_eq!(ws.close_code(), Some(1000));
    assert_eq!(
        ws.next(),
        None,
        "the server closes the connection after the handshake"
    );
}
both_backends!(frames_break_rules_with_the_right_close_code, protocol_rules);

fn handshake_rules(backend: Backend) {
    let s = server(
        backend,
        &["--websocket-allowed-origins", "https://app.example"],
    );
    let port = s.port(0);
    let ask = |headers: &str| -> String {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        write!(
            c,
            "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{headers}\r\n"
        )
        .expect("send");
        let mut raw = Raw {
            s: c,
            buf: Vec::new(),
        };
        raw.head()
    };
    let head = ask("Sec-WebSocket-Version: 13\r\n");
    assert!(head.starts_with("http/1.1 400"), "no key: {head}");
    let head = ask("Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n");
    assert!(head.starts_with("http/1.1 400"), "short key: {head}");
    let head = ask(&format!(
        "Sec-WebSocket-Key: {KEY_EXAMPLE}\r\nSec-WebSocket-Version: 12\r\n"
    ));
    assert!(head.starts_with("http/1.1 426"), "version 12: {head}");
    assert!(head.contains("sec-websocket-version: 13"), "{head}");
    let head = ask(&format!(
        "Sec-WebSocket-Key: {KEY_EXAMPLE}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://evil.example\r\n"
    ));
    assert!(head.starts_with("http/1.1 403"), "foreign origin: {head}");
    let _ok = Raw::open(port, "Origin: https://app.example\r\n");
}
both_backends!(handshakes_are_checked, handshake_rules);

fn shutdown_closes_with_1001(backend: Backend) {
    if !python_has("websockets.sync.client") {
        return;
    }
    let mut s = server(backend, &[]);
    let url = format!("ws://127.0.0.1:{}/ws", s.port(0));
    let mut child = Command::new("python3")
        .args([WS_CLIENT, "shutdown", &url, CA])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    out.read_line(&mut line).expect("READY");
    assert_eq!(line.trim(), "READY");
    s.signal(libc::SIGTERM);
    line.clear();
    out.read_line(&mut line).expect("report");
    let j: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(j["first"], "before", "{j}");
    assert_eq!(j["close_code"], 1001, "{j}");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).is_some());
    let status = s.wait_exit(Duration::from_secs(20));
    assert!(status.success(), "{status}");
}
both_backends!(shutdown_sends_1001, shutdown_closes_with_1001);

fn keep_alive_pings(backend: Backend) {
    let s = server(backend, &["--websocket-keep-alive-interval", "1s"]);
    let mut ws = Raw::open(s.port(0), "");
    let start = Instant::now();
    let (_, op, _) = ws.next().expect("a ping");
    assert_eq!(op, PING);
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "pinged after {waited:?}"
    );
    // Unanswered: the server gives up after another interval.
    let start = Instant::now();
    while let Some((_, op, _)) = ws.next() {
        assert_ne!(op, TEXT);
    }
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "closed after {:?}",
        start.elapsed()
    );
}
both_backends!(keep_alive_pings_quiet_sockets, keep_alive_pings);

fn over_http2(backend: Backend) {
    if !python_has("h2") {
        return;
    }
    let s = server(backend, &[]);
    let out = Command::new("python3")
        .args([H2_CLIENT, "websocket", &s.port(0).to_string(), "http"])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(j["connect_protocol_enabled"], true, "{j}");
    assert_eq!(j["status"], serde_json::json!([200, 200]), "{j}");
    assert_eq!(
        j["echo"],
        serde_json::json!(["first socket", "second socket"]),
        "{j}"
    );
    assert_eq!(j["close_code"], 1000, "{j}");
}
both_backends!(websockets_over_http2, over_http2);

fn through_nginx(backend: Backend) {
    if !python_has("websockets.sync.client") {
        return;
    }
    let s = server(backend, &[]);
    let Some(nginx) = common::nginx::Nginx::start(s.port(0)) else {
        return;
    };
    let url = format!("ws://127.0.0.1:{}/ws", nginx.port);
    let j = ws_case("echo", &url, &["on"]);
    assert_eq!(j["text"], "hello, text ✓", "{j}");
    assert_eq!(j["binary_same"], true, "{j}");
    assert_eq!(j["close_code"], 1000, "{j}");
}
both_backends!(websockets_through_nginx, through_nginx);

fn upgraded_limit(backend: Backend) {
    let s = server(backend, &["--max-concurrent-upgraded-connections", "1"]);
    let port = s.port(0);
    let first = Raw::open(port, "");
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
    write!(
        c,
        "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY_EXAMPLE}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .expect("send");
    let mut second = Raw {
        s: c,
        buf: Vec::new(),
    };
    let head = second.head();
    assert!(head.starts_with("http/1.1 503"), "{head}");
    let mut first = first;
    first.send(&frame(true, 0, CLOSE, &[0x03, 0xe8], true));
    assert_eq!(first.close_code(), Some(1000));
    assert_eq!(first.next(), None);
    // The lease went with the socket: a new one is accepted (the server may take a
    // moment to drop it after the close handshake: try a few times, bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        c.set_read_timeout(Some(IO_TIMEOUT)).expect("timeout");
        write!(
            c,
            "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY_EXAMPLE}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("send");
        let mut raw = Raw {
            s: c,
            buf: Vec::new(),
        };
        let head = raw.head();
        if head.starts_with("http/1.1 101") {
            break;
        }
        assert!(Instant::now() < deadline, "never accepted again: {head}");
    }
}
both_backends!(upgraded_connection_limit_holds, upgraded_limit);
