//! The frames a `--ws` connection sends (RFC 6455 §5): masked, as every client frame
//! must be, with the connection's own masking key. Headers are encoded by
//! `peregrine-protocol`'s [`FrameHeader`] and payloads masked a word at a time by its
//! [`apply_mask`].
//!
//! The key is fixed per connection and every message carries the same payload, so a
//! connection renders its masked message frame once ([`batch`]: `--ws-inflight` copies
//! back to back) and writes slices of it: nothing is masked or copied per message.

use peregrine_protocol::ws::mask::apply_mask;
use peregrine_protocol::ws::{FrameHeader, OpCode};

/// The close code sent at the end of a run: normal closure.
pub const NORMAL_CLOSURE: u16 = 1000;

/// The payload of each message: `size` bytes of printable ASCII (valid UTF-8, so the
/// same bytes serve text messages).
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| b'a' + (i % 26) as u8).collect()
}

/// One final frame of `opcode` carrying `payload`, masked with `key`.
pub fn frame(opcode: OpCode, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut h = FrameHeader::new(true, opcode, payload.len() as u64);
    h.mask = Some(key);
    let mut out = Vec::with_capacity(h.encoded_len() + payload.len());
    h.encode(&mut out);
    let at = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[at..], key, 0);
    out
}

/// `count` copies of the message frame (binary, or text when `text`) of `size` bytes:
/// the bytes and the length of one frame.
pub fn batch(size: usize, text: bool, key: [u8; 4], count: usize) -> (Vec<u8>, usize) {
    let opcode = if text { OpCode::Text } else { OpCode::Binary };
    let one = frame(opcode, &payload(size), key);
    let len = one.len();
    (one.repeat(count.max(1)), len)
}

/// A close frame with `code` and no reason.
pub fn close(code: u16, key: [u8; 4]) -> Vec<u8> {
    frame(OpCode::Close, &code.to_be_bytes(), key)
}

/// The pong answering a ping that carried `payload`.
pub fn pong(payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    frame(OpCode::Pong, payload, key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use peregrine_protocol::ws::{Decoder, Message};

    /// The engine's (server-role) decoder reads back what we send.
    fn decode_all(bytes: &[u8]) -> Vec<Message> {
        let mut d = Decoder::new(1 << 20);
        let mut buf = bytes::BytesMut::from(bytes);
        let mut out = Vec::new();
        while let Ok(Some(m)) = d.decode(&mut buf) {
            out.push(m);
        }
        out
    }

    #[test]
    fn payload_is_ascii() {
        let p = payload(100);
        assert_eq!(p.len(), 100);
        assert!(std::str::from_utf8(&p).is_ok());
        assert_eq!(&p[..3], b"abc");
    }

    #[test]
    fn frames_decode_as_sent() {
        for (size, text) in [
            (0, false),
            (64, false),
            (125, true),
            (126, true),
            (16384, false),
        ] {
            let (b, len) = batch(size, text, [1, 2, 3, 4], 3);
            assert_eq!(b.len(), 3 * len);
            let msgs = decode_all(&b);
            assert_eq!(msgs.len(), 3, "{size}");
            for m in msgs {
                match m {
                    Message::Text(t) if text => assert_eq!(&t[..], &payload(size)[..]),
                    Message::Binary(d) if !text => assert_eq!(&d[..], &payload(size)[..]),
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn close_and_pong() {
        match decode_all(&close(NORMAL_CLOSURE, [9, 9, 9, 9])).pop() {
            Some(Message::Close(Some((code, _)))) => assert_eq!(code, 1000),
            other => panic!("{other:?}"),
        }
        match decode_all(&pong(b"hi", [5, 6, 7, 8])).pop() {
            Some(Message::Pong(p)) => assert_eq!(&p[..], b"hi"),
            other => panic!("{other:?}"),
        }
    }
}
