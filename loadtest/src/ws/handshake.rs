//! The WebSocket opening handshake, client side (RFC 6455 §4.1): the upgrade request,
//! rendered once with room for each connection's `Sec-WebSocket-Key`, and the check of
//! the server's answer (sans-IO, on `peregrine-protocol`'s response-head parser).
//!
//! No extension is offered (so no permessage-deflate: every frame is sent and echoed as
//! is) and none may come back; `-H` adds headers, except those the handshake sets.

use crate::request::parse_header;
use base64::Engine as _;
use peregrine_protocol::h1::response::{parse_response, ResponseHead};
use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::accept_key;

/// Length of a `Sec-WebSocket-Key` value: 16 bytes in base64.
pub const KEY_LEN: usize = 24;

/// Headers the handshake itself sends; `-H` may not set them.
const OWN_HEADERS: [&str; 5] = [
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// The upgrade request, rendered once.
#[derive(Debug, Clone)]
pub struct Upgrade {
    request: Vec<u8>,
    /// Where the key's [`KEY_LEN`] bytes go in `request`.
    key_at: usize,
}

impl Upgrade {
    /// `GET path` to `authority` (the `Host`, unless `-H` sets one) with the `-H`
    /// `headers`.
    pub fn new(path: &str, authority: &str, headers: &[String]) -> Result<Upgrade, String> {
        let mut out = format!("GET {path} HTTP/1.1\r\n").into_bytes();
        let mut has_host = false;
        let mut extra = Vec::new();
        for h in headers {
            let (name, value) = parse_header(h)?;
            let lower = name.to_ascii_lowercase();
            if OWN_HEADERS.contains(&lower.as_str()) {
                return Err(format!(
                    "-H `{name}` is set by the WebSocket handshake of --ws (no extension is \
                     offered: frames go uncompressed)"
                ));
            }
            has_host |= lower == "host";
            extra.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if !has_host {
            out.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
        }
        out.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        out.extend_from_slice(b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ");
        let key_at = out.len();
        out.extend_from_slice(&[b'A'; KEY_LEN]);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&extra);
        out.extend_from_slice(b"\r\n");
        Ok(Upgrade {
            request: out,
            key_at,
        })
    }

    /// The request bytes with `key` (from [`key`]).
    pub fn request(&self, key: &str) -> Vec<u8> {
        let mut r = self.request.clone();
        if key.len() == KEY_LEN {
            r[self.key_at..self.key_at + KEY_LEN].copy_from_slice(key.as_bytes());
        }
        r
    }
}

/// A `Sec-WebSocket-Key`: 16 bytes drawn from `seed` (splitmix64), in base64. The RFC
/// wants it random per connection; a server only echoes it back hashed.
pub fn key(seed: u64) -> String {
    let mut s = seed;
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_exact_mut(8) {
        chunk.copy_from_slice(&splitmix(&mut s).to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// One step of splitmix64: a well-mixed 64-bit value from a counter.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Why the server's answer is not a WebSocket accepting our handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not an HTTP/1.x response at all.
    NotHttp(String),
    /// A well-formed answer that does not switch, or switches wrongly.
    Refused(String),
}

/// Whether the comma-separated `value` holds `token` (case-insensitive).
fn has_token(value: &[u8], token: &str) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// Check the answer at the start of `buf` to the handshake sent with `key`:
/// `Complete(head length)` when it accepts, `Partial` until the head is whole.
pub fn check(buf: &[u8], key: &str) -> Result<Status<usize>, Refusal> {
    let mut head = ResponseHead::default();
    let n = match parse_response(buf, false, &mut head) {
        Ok(Status::Partial) => return Ok(Status::Partial),
        Ok(Status::Complete(n)) => n,
        Err(e) => {
            return Err(Refusal::NotHttp(format!(
                "the answer to the WebSocket handshake is not HTTP/1.x ({e:?})"
            )))
        }
    };
    if head.status != 101 {
        return Err(Refusal::Refused(format!(
            "the server answered {} to the WebSocket handshake (is the URL's path a \
             WebSocket endpoint?)",
            head.status
        )));
    }
    let (mut upgrade, mut connection, mut accept) = (false, false, false);
    let expected = accept_key(key.as_bytes());
    for h in &head.headers {
        let name = h.name.of(buf);
        let value = h.value.of(buf);
        if name.eq_ignore_ascii_case(b"upgrade") {
            upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-accept") {
            accept = value == expected.as_bytes();
        } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") {
            return Err(Refusal::Refused(format!(
                "the server chose the extension `{}`, which was not offered",
                String::from_utf8_lossy(value)
            )));
        }
    }
    let missing = match (upgrade, connection, accept) {
        (false, _, _) => "Upgrade: websocket",
        (_, false, _) => "Connection: Upgrade",
        (_, _, false) => "the right Sec-WebSocket-Accept",
        _ => return Ok(Status::Complete(n)),
    };
    Err(Refusal::Refused(format!(
        "the server's 101 answer to the WebSocket handshake lacks {missing}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(key: &str, extra: &str) -> Vec<u8> {
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: keep-alive, \
             upgrade\r\nSec-WebSocket-Accept: {}\r\n{extra}\r\n",
            accept_key(key.as_bytes())
        )
        .into_bytes()
    }

    #[test]
    fn request_holds_the_key() {
        let u = Upgrade::new("/ws?a=1", "127.0.0.1:8080", &["X-A: b".into()]).unwrap();
        let k = key(7);
        assert_eq!(k.len(), KEY_LEN);
        assert_ne!(k, key(8));
        let r = String::from_utf8(u.request(&k)).unwrap();
        assert!(
            r.starts_with("GET /ws?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
            "{r}"
        );
        assert!(r.contains(&format!("Sec-WebSocket-Key: {k}\r\n")), "{r}");
        assert!(r.contains("Sec-WebSocket-Version: 13\r\n"), "{r}");
        assert!(r.ends_with("X-A: b\r\n\r\n"), "{r}");
        let own = Upgrade::new("/", "h", &["host: other".into()]).unwrap();
        let r = String::from_utf8(own.request(&k)).unwrap();
        assert!(!r.contains("Host: h"), "{r}");
        assert!(Upgrade::new("/", "h", &["Sec-WebSocket-Extensions: x".into()]).is_err());
        assert!(Upgrade::new("/", "h", &["Upgrade: h2c".into()]).is_err());
    }

    #[test]
    fn accepts_a_switch_at_every_split() {
        let k = key(1);
        let mut a = answer(&k, "");
        let head = a.len();
        a.extend_from_slice(&[0x82, 0x00]); // a frame right behind the head
        for cut in 0..head {
            assert_eq!(check(&a[..cut], &k), Ok(Status::Partial), "{cut}");
        }
        assert_eq!(check(&a, &k), Ok(Status::Complete(head)));
    }

    #[test]
    fn refusals() {
        let k = key(2);
        let not_found = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        assert!(matches!(check(not_found, &k), Err(Refusal::Refused(w)) if w.contains("404")));
        assert!(matches!(
            check(b"SSH-2.0-x\r\n", &k),
            Err(Refusal::NotHttp(_))
        ));
        let wrong_key = answer(&key(3), "");
        assert!(matches!(check(&wrong_key, &k), Err(Refusal::Refused(w)) if w.contains("Accept")));
        let deflate = answer(&k, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert!(matches!(check(&deflate, &k), Err(Refusal::Refused(w)) if w.contains("extension")));
        let no_upgrade = format!(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nSec-WebSocket-Accept: \
             {}\r\n\r\n",
            accept_key(k.as_bytes())
        );
        assert!(matches!(
            check(no_upgrade.as_bytes(), &k),
            Err(Refusal::Refused(w)) if w.contains("Upgrade: websocket")
        ));
    }
}
