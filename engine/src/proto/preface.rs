//! The HTTP/2 connection preface on cleartext HTTP/2-only endpoints: read until it is
//! certain, answer anything else the way Kestrel does (an HTTP/1.x request gets a `400`
//! in HTTP/1.1, other bytes a GOAWAY(PROTOCOL_ERROR)), then close.

use std::rc::Rc;

use bytes::BytesMut;

use crate::handler::Handler;
use crate::metrics::CloseReason;
use crate::registry::{ConnId, Phase};
use crate::shard::Shard;
use crate::transport::Transport;

/// The client connection preface (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Kestrel's answer to HTTP/1.x on an HTTP/2-only endpoint.
const HTTP1_ON_HTTP2_ONLY: &[u8] = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\
Content-Type: text/plain\r\nContent-Length: 56\r\n\r\n\
An HTTP/1.x request was sent to an HTTP/2 only endpoint.";

/// GOAWAY(PROTOCOL_ERROR), last stream 0.
const GOAWAY_PROTOCOL_ERROR: &[u8] = &[0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// Read the preface; `Some(bytes read)` when it arrived (they start with it), `None` when
/// the connection was answered and closed (or closed by the client or a timeout).
pub(super) async fn expect<H: Handler, T: Transport>(
    shard: &Rc<Shard<H>>,
    stream: &mut T,
    id: ConnId,
) -> Option<BytesMut> {
    shard.registry.set_phase(id, Phase::Head);
    let mut read = BytesMut::with_capacity(256);
    loop {
        let have = read.len().min(PREFACE.len());
        if read[..have] != PREFACE[..have] {
            break;
        }
        if have == PREFACE.len() {
            return Some(read);
        }
        let (res, buf) = stream.read(read).await;
        read = buf;
        if !matches!(res, Ok(n) if n > 0) || shard.registry.kicked(id).is_some() {
            shard.counters.closed(CloseReason::Normal);
            return None;
        }
    }
    let answer = if looks_like_http1(&read) {
        shard.counters.error(400);
        HTTP1_ON_HTTP2_ONLY
    } else {
        GOAWAY_PROTOCOL_ERROR
    };
    tracing::debug!("not an HTTP/2 preface on an HTTP/2-only endpoint");
    let (_, _) = stream.write_all(answer).await;
    let _ = stream.shutdown().await;
    shard.counters.closed(CloseReason::Rejected);
    None
}

/// An HTTP/1.x request line starts with a method token and a space.
fn looks_like_http1(bytes: &[u8]) -> bool {
    let token = bytes
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
        .count();
    token > 0 && bytes.get(token) == Some(&b' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http1_is_told_from_junk() {
        assert!(looks_like_http1(b"GET / HTTP/1.1\r\n"));
        assert!(looks_like_http1(b"M-SEARCH * HTTP/1.1"));
        assert!(!looks_like_http1(b"\x16\x03\x01"));
        assert!(!looks_like_http1(b" GET"));
        assert_eq!(
            HTTP1_ON_HTTP2_ONLY.len()
                - HTTP1_ON_HTTP2_ONLY
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .unwrap()
                - 4,
            56
        );
    }
}
