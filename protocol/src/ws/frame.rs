//! Frame headers (RFC 6455 §5.2): decoded push-style, encoded for server frames.
//!
//! ```text
//! FIN RSV1-3 opcode(4) | MASK len(7) | [len 16 | len 64] | [masking key 32]
//! ```
//! Lengths need not be minimally encoded; a 64-bit length must have its top bit clear.

use super::error::DecodeError;
use crate::h1::Status;
use bytes::BufMut;

/// The longest frame header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The longest payload a control frame may carry (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (§5.2); the reserved ones are a [`DecodeError::UnknownOpcode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: the next piece of a fragmented message.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The opcode for the low four bits `bits`, `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The four bits on the wire.
    pub fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong (opcodes with the high bit set).
    pub fn is_control(self) -> bool {
        self.bits() & 0x8 != 0
    }
}

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The final frame of its message.
    pub fin: bool,
    /// RSV1: with permessage-deflate, set on the first frame of a compressed message.
    pub rsv1: bool,
    /// RSV2 (no extension here defines it).
    pub rsv2: bool,
    /// RSV3 (no extension here defines it).
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client frame and on no server frame.
    pub mask: Option<[u8; 4]>,
    /// Payload length in bytes.
    pub len: u64,
}

impl FrameHeader {
    /// An unmasked header without reserved bits (what a server sends).
    pub fn new(fin: bool, opcode: OpCode, len: u64) -> FrameHeader {
        FrameHeader {
            fin,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            len,
        }
    }

    /// Decode the header at the start of `buf`: `Complete((header, header_len))`, or
    /// `Partial` until all of it is there. Fails only on a reserved opcode or a 64-bit
    /// length with its top bit set; every other rule is the [`Decoder`]'s.
    ///
    /// [`Decoder`]: super::Decoder
    pub fn decode(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, DecodeError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(Status::Partial);
        };
        let opcode = OpCode::from_bits(b0 & 0x0f).ok_or(DecodeError::UnknownOpcode(b0 & 0x0f))?;
        let masked = b1 & 0x80 != 0;
        let (len, len_bytes) = match b1 & 0x7f {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(Status::Partial),
            },
            127 => match rest.get(..8) {
                Some(bytes) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(bytes);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(DecodeError::LengthOverflow);
                    }
                    (len, 8)
                }
                None => return Ok(Status::Partial),
            },
            n => (u64::from(n), 0),
        };
        let mask = if masked {
            match rest.get(len_bytes..len_bytes + 4) {
                Some(k) => Some([k[0], k[1], k[2], k[3]]),
                None => return Ok(Status::Partial),
            }
        } else {
            None
        };
        let header = FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv1: b0 & 0x40 != 0,
            rsv2: b0 & 0x20 != 0,
            rsv3: b0 & 0x10 != 0,
            opcode,
            mask,
            len,
        };
        Ok(Status::Complete((
            header,
            2 + len_bytes + if masked { 4 } else { 0 },
        )))
    }

    /// Bytes [`encode`](FrameHeader::encode) writes: 2 to 14.
    pub fn encoded_len(&self) -> usize {
        let len = match self.len {
            0..=125 => 2,
            126..=0xffff => 4,
            _ => 10,
        };
        len + if self.mask.is_some() { 4 } else { 0 }
    }

    /// Append the header to `dst`, the length in its shortest form. (The payload follows,
    /// masked by the caller if `mask` is set; servers send no mask.)
    pub fn encode<B: BufMut>(&self, dst: &mut B) {
        let mut b0 = self.opcode.bits();
        for (set, bit) in [
            (self.fin, 0x80),
            (self.rsv1, 0x40),
            (self.rsv2, 0x20),
            (self.rsv3, 0x10),
        ] {
            if set {
                b0 |= bit;
            }
        }
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        dst.put_u8(b0);
        match self.len {
            0..=125 => dst.put_u8(m | self.len as u8),
            126..=0xffff => {
                dst.put_u8(m | 126);
                dst.put_u16(self.len as u16);
            }
            _ => {
                dst.put_u8(m | 127);
                dst.put_u64(self.len);
            }
        }
        if let Some(key) = self.mask {
            dst.put_slice(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(buf: &[u8]) -> (FrameHeader, usize) {
        match FrameHeader::decode(buf) {
            Ok(Status::Complete(x)) => x,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc_examples() {
        // §5.7: a single-frame unmasked text message, and a masked one.
        let (h, n) = decode(&[0x81, 0x05, 0x48, 0x65]);
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        let (h, n) = decode(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f]);
        assert_eq!((h.mask, h.len, n), (Some([0x37, 0xfa, 0x21, 0x3d]), 5, 6));
        // A fragmented text message's first frame, its continuation.
        assert!(!decode(&[0x01, 0x03]).0.fin);
        assert_eq!(decode(&[0x80, 0x02]).0.opcode, OpCode::Continuation);
        // 256 bytes binary (16-bit length), 64 KiB binary (64-bit length).
        assert_eq!(decode(&[0x82, 0x7e, 0x01, 0x00]).0.len, 256);
        let (h, n) = decode(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.len, n), (65536, 10));
    }

    #[test]
    fn partial_until_whole_at_every_split() {
        let headers: [&[u8]; 4] = [
            &[0x89, 0x80, 1, 2, 3, 4],
            &[0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4],
            &[0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9],
            &[0x81, 0x7e, 0x00, 0x05],
        ];
        for h in headers {
            for n in 0..h.len() {
                assert_eq!(
                    FrameHeader::decode(&h[..n]),
                    Ok(Status::Partial),
                    "{h:x?} {n}"
                );
            }
            assert_eq!(decode(h).1, h.len());
        }
    }

    #[test]
    fn errors() {
        for op in [3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0x80]),
                Err(DecodeError::UnknownOpcode(op))
            );
        }
        let msb = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        assert_eq!(FrameHeader::decode(&msb), Err(DecodeError::LengthOverflow));
        // Non-minimal lengths are accepted.
        assert_eq!(decode(&[0x82, 0x7e, 0x00, 0x01]).0.len, 1);
        assert_eq!(decode(&[0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1]).0.len, 1);
    }

    #[test]
    fn encode_round_trip() {
        for len in [0u64, 1, 125, 126, 127, 0xffff, 0x1_0000, (1 << 63) - 1] {
            for mask in [None, Some([9, 8, 7, 6])] {
                let mut h = FrameHeader::new(len % 2 == 0, OpCode::Binary, len);
                h.mask = mask;
                h.rsv1 = len == 126;
                let mut out = Vec::new();
                h.encode(&mut out);
                assert_eq!(out.len(), h.encoded_len());
                assert_eq!(decode(&out), (h, out.len()));
            }
        }
    }
}
