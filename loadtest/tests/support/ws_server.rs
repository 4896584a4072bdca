//! A WebSocket echo server for the `--ws` tests: std threads, one per connection. It
//! checks the upgrade request, answers `101` with the right `Sec-WebSocket-Accept`
//! (`peregrine-protocol`'s), unmasks each client frame (refusing unmasked ones), echoes
//! text and binary messages unmasked, answers a Close with a Close and closes. Counters
//! say what it saw; a [`WsBehavior`] makes it misbehave in one way.

use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::mask::apply_mask;
use peregrine_protocol::ws::{accept_key, FrameHeader, OpCode};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How the server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WsBehavior {
    /// Echo every message.
    Echo,
    /// Answer the handshake `404`.
    Refuse,
    /// Send a ping before each echo (the client must answer with pongs).
    PingEach,
    /// Close the TCP connection (no Close frame) after this many echoes.
    DropAfter(u64),
}

/// What the server saw.
#[derive(Debug, Default)]
pub struct WsCounters {
    /// Upgrade handshakes accepted.
    pub upgrades: AtomicU64,
    /// Messages echoed.
    pub messages: AtomicU64,
    /// Payload bytes echoed.
    pub bytes: AtomicU64,
    /// Pongs received.
    pub pongs: AtomicU64,
    /// Close frames received with code 1000.
    pub closes: AtomicU64,
    /// Frames that broke the rules (unmasked, unknown opcode).
    pub broken: AtomicU64,
}

/// A running WebSocket test server.
pub struct WsServer {
    /// `ws://127.0.0.1:port`.
    pub base: String,
    /// Its counters.
    pub counters: Arc<WsCounters>,
}

impl WsServer {
    /// A server on a free loopback port.
    pub fn start(behavior: WsBehavior) -> WsServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local addr").port();
        let counters = Arc::new(WsCounters::default());
        let c = counters.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_nodelay(true);
                let c = c.clone();
                std::thread::spawn(move || serve(stream, behavior, &c));
            }
        });
        WsServer {
            base: format!("ws://127.0.0.1:{port}"),
            counters,
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A counter's value.
    pub fn get(&self, f: impl Fn(&WsCounters) -> &AtomicU64) -> u64 {
        f(&self.counters).load(Ordering::Relaxed)
    }
}

/// Read until `buf` holds a request head; its length.
fn read_head(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(i + 4);
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The value of header `name` in `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn server_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 10);
    FrameHeader::new(true, opcode, payload.len() as u64).encode(&mut out);
    out.extend_from_slice(payload);
    out
}

fn serve(mut s: TcpStream, behavior: WsBehavior, c: &WsCounters) {
    let mut buf = Vec::new();
    let Some(head_len) = read_head(&mut s, &mut buf) else {
        return;
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
    buf.drain(..head_len);
    let upgrade = header(&head, "upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let key = header(&head, "sec-websocket-key");
    let (true, Some(key), WsBehavior::Echo | WsBehavior::PingEach | WsBehavior::DropAfter(_)) =
        (upgrade, key, behavior)
    else {
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let answer = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(key.as_bytes())
    );
    if s.write_all(answer.as_bytes()).is_err() {
        return;
    }
    c.upgrades.fetch_add(1, Ordering::Relaxed);
    let mut echoed = 0u64;
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let (h, hl) = match FrameHeader::decode(&buf) {
            Ok(Status::Complete(x)) => x,
            Ok(Status::Partial) => match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(_) => {
                c.broken.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let end = hl + h.len as usize;
        if buf.len() < end {
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            continue;
        }
        let Some(mask) = h.mask else {
            c.broken.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let mut payload = buf[hl..end].to_vec();
        buf.drain(..end);
        apply_mask(&mut payload, mask, 0);
        match h.opcode {
            OpCode::Text | OpCode::Binary => {
                if behavior == WsBehavior::DropAfter(echoed) {
                    return;
                }
                let mut out = Vec::new();
                if behavior == WsBehavior::PingEach {
                    out.extend(server_frame(OpCode::Ping, b"are you there"));
                }
                out.extend(server_frame(h.opcode, &payload));
                if s.write_all(&out).is_err() {
                    return;
                }
                echoed += 1;
                c.messages.fetch_add(1, Ordering::Relaxed);
                c.bytes.fetch_add(payload.len() as u64, Ordering::Relaxed);
            }
            OpCode::Pong => {
                c.pongs.fetch_add(1, Ordering::Relaxed);
            }
            OpCode::Close => {
                if payload.get(..2) == Some(&1000u16.to_be_bytes()[..]) {
                    c.closes.fetch_add(1, Ordering::Relaxed);
                }
                let _ = s.write_all(&server_frame(OpCode::Close, &payload));
                return;
            }
            OpCode::Ping | OpCode::Continuation => {}
        }
    }
}
