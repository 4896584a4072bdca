//! The server's encoder: messages and control frames → unmasked frames (RFC 6455 §5),
//! compressed with permessage-deflate when negotiated and asked for (RFC 7692 §6.1).
//!
//! Each call appends whole frames to the caller's output buffer, a message's frames all
//! together (so a ping or close goes before or after a message, never inside it). A
//! compressed message is compressed whole into a scratch buffer first (kept up to 64 KiB
//! between messages), then framed.

use super::deflate::{DeflateParams, Deflater};
use super::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use bytes::BytesMut;

/// Scratch space kept between compressed messages; more is freed after each message.
const KEEP_SCRATCH: usize = 64 * 1024;

/// Encoder of one connection's server-to-client frames.
#[derive(Debug)]
pub struct Encoder {
    deflater: Option<Deflater>,
    max_frame_payload: usize,
    scratch: Vec<u8>,
}

impl Default for Encoder {
    fn default() -> Self {
        Encoder::new()
    }
}

impl Encoder {
    /// No extension, every message in a single frame.
    pub fn new() -> Encoder {
        Encoder {
            deflater: None,
            max_frame_payload: usize::MAX,
            scratch: Vec::new(),
        }
    }

    /// With permessage-deflate as negotiated: messages sent with `compress` are
    /// compressed (RSV1 on their first frame).
    pub fn with_deflate(mut self, params: &DeflateParams) -> Encoder {
        self.deflater = Some(Deflater::new(params));
        self
    }

    /// Fragment messages into frames of at most `n` bytes of payload each (at least 1).
    pub fn max_frame_payload(mut self, n: usize) -> Encoder {
        self.max_frame_payload = n.max(1);
        self
    }

    /// A text message. `compress` applies only if permessage-deflate was negotiated.
    pub fn text(&mut self, dst: &mut BytesMut, text: &str, compress: bool) {
        self.message(dst, OpCode::Text, text.as_bytes(), compress);
    }

    /// A binary message. `compress` applies only if permessage-deflate was negotiated.
    pub fn binary(&mut self, dst: &mut BytesMut, data: &[u8], compress: bool) {
        self.message(dst, OpCode::Binary, data, compress);
    }

    fn message(&mut self, dst: &mut BytesMut, opcode: OpCode, data: &[u8], compress: bool) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let compressed = match &mut self.deflater {
            Some(d) if compress => d.compress(data, &mut scratch),
            _ => false,
        };
        let payload = if compressed { &scratch[..] } else { data };
        self.frames(dst, opcode, compressed, payload);
        if scratch.capacity() > KEEP_SCRATCH {
            scratch = Vec::new();
        }
        self.scratch = scratch;
    }

    /// Write `payload` as one or more frames: the opcode (and RSV1) on the first,
    /// continuations after, FIN on the last.
    fn frames(&self, dst: &mut BytesMut, opcode: OpCode, rsv1: bool, payload: &[u8]) {
        let max = self.max_frame_payload;
        let frames = payload.len().div_ceil(max).max(1);
        dst.reserve(payload.len() + frames * 10);
        let mut chunks = payload.chunks(max).peekable();
        let mut first = true;
        loop {
            let chunk = chunks.next().unwrap_or_default();
            let fin = chunks.peek().is_none();
            let mut h = FrameHeader::new(
                fin,
                if first { opcode } else { OpCode::Continuation },
                chunk.len() as u64,
            );
            h.rsv1 = rsv1 && first;
            h.encode(dst);
            dst.extend_from_slice(chunk);
            first = false;
            if fin {
                break;
            }
        }
    }

    /// A ping carrying `payload` (only its first 125 bytes: a control frame's limit).
    pub fn ping(&mut self, dst: &mut BytesMut, payload: &[u8]) {
        control(dst, OpCode::Ping, &[], payload);
    }

    /// A pong carrying `payload` (the ping's, when answering one; at most 125 bytes kept).
    pub fn pong(&mut self, dst: &mut BytesMut, payload: &[u8]) {
        control(dst, OpCode::Pong, &[], payload);
    }

    /// A Close: empty for `None`, else the code and the reason, cut to the 123 bytes that
    /// fit (at a character boundary).
    pub fn close(&mut self, dst: &mut BytesMut, close: Option<(u16, &str)>) {
        match close {
            None => control(dst, OpCode::Close, &[], &[]),
            Some((code, reason)) => {
                let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                control(
                    dst,
                    OpCode::Close,
                    &code.to_be_bytes(),
                    &reason.as_bytes()[..end],
                );
            }
        }
    }
}

/// One control frame: `head` then `body`, cut to 125 bytes in all.
fn control(dst: &mut BytesMut, opcode: OpCode, head: &[u8], body: &[u8]) {
    let body = &body[..body.len().min(MAX_CONTROL_PAYLOAD - head.len())];
    let h = FrameHeader::new(true, opcode, (head.len() + body.len()) as u64);
    dst.reserve(2 + head.len() + body.len());
    h.encode(dst);
    dst.extend_from_slice(head);
    dst.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::deflate::{negotiate, DeflateConfig};

    #[test]
    fn rfc_examples() {
        // RFC 6455 §5.7.
        let mut e = Encoder::new();
        let mut out = BytesMut::new();
        e.text(&mut out, "Hello", true);
        assert_eq!(&out[..], [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        Encoder::new()
            .max_frame_payload(3)
            .text(&mut out, "Hello", false);
        assert_eq!(
            &out[..],
            [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]
        );
        out.clear();
        e.ping(&mut out, b"Hello");
        assert_eq!(&out[..], [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        out.clear();
        e.binary(&mut out, &[7; 256], false);
        assert_eq!(&out[..4], [0x82, 0x7e, 0x01, 0x00]);
        assert_eq!(out.len(), 260);
        out.clear();
        e.binary(&mut out, &vec![7; 65536], false);
        assert_eq!(&out[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        // RFC 7692 §7.2.3.1 and §7.2.3.2.
        let p = negotiate(b"permessage-deflate", &DeflateConfig::default()).unwrap();
        let mut e = Encoder::new().with_deflate(&p);
        out.clear();
        e.text(&mut out, "Hello", true);
        e.text(&mut out, "Hello", true);
        e.text(&mut out, "Hello", false);
        assert_eq!(
            &out[..],
            [
                0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, // first
                0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00, // second, context taken over
                0x81, 0x05, b'H', b'e', b'l', b'l', b'o', // not compressed
            ]
        );
        // Compressed and fragmented: RSV1 on the first frame only.
        out.clear();
        Encoder::new()
            .with_deflate(&p)
            .max_frame_payload(4)
            .text(&mut out, "Hello", true);
        assert_eq!(
            &out[..],
            [0x41, 0x04, 0xf2, 0x48, 0xcd, 0xc9, 0x80, 0x03, 0xc9, 0x07, 0x00]
        );
    }

    #[test]
    fn control_frames_are_cut_to_fit() {
        let mut out = BytesMut::new();
        let mut e = Encoder::new();
        e.pong(&mut out, &[1; 300]);
        assert_eq!(&out[..2], [0x8a, 125]);
        assert_eq!(out.len(), 127);
        out.clear();
        e.close(&mut out, None);
        assert_eq!(&out[..], [0x88, 0x00]);
        out.clear();
        let reason = "é".repeat(100); // 200 bytes; 123 would split a character
        e.close(&mut out, Some((1000, &reason)));
        assert_eq!(&out[..4], [0x88, 124, 0x03, 0xe8]);
        assert!(std::str::from_utf8(&out[4..]).is_ok());
        out.clear();
        e.close(&mut out, Some((1001, "bye")));
        assert_eq!(&out[..], [0x88, 0x05, 0x03, 0xe9, b'b', b'y', b'e']);
        // Empty messages are one frame.
        out.clear();
        Encoder::new()
            .max_frame_payload(4)
            .binary(&mut out, b"", false);
        assert_eq!(&out[..], [0x82, 0x00]);
    }
}
