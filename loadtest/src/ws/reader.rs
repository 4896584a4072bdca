//! Server frames → echoed messages, sans-IO (RFC 6455 §5, client side).
//!
//! [`Reader::advance`] takes the bytes read so far and returns how many it consumed
//! and at most one [`Event`]. Data payloads are skipped as they arrive, never buffered:
//! a 16 KiB echo costs no copy, only its length is checked by the caller. A control
//! frame (at most 125 bytes) is consumed once it is whole; pongs are dropped here.
//! A fragmented message is one [`Event::Message`] when its final frame ends.
//!
//! What a server must not send is [`Broken`]: a masked frame, reserved bits (no
//! extension was agreed), a reserved opcode, a continuation with no message open or a
//! new message inside one, a fragmented or oversized control frame.

use peregrine_protocol::h1::Status;
use peregrine_protocol::ws::frame::MAX_CONTROL_PAYLOAD;
use peregrine_protocol::ws::{FrameHeader, OpCode};

/// What a server's frames amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole data message: its first frame's opcode and its total payload length.
    Message {
        /// [`OpCode::Text`] or [`OpCode::Binary`].
        opcode: OpCode,
        /// Payload bytes over all its frames.
        len: u64,
    },
    /// A ping, with its payload (to send back in a pong).
    Ping(Vec<u8>),
    /// A close, with its code when it carried one.
    Close(Option<u16>),
}

/// A frame the server should not have sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// A reserved opcode, or a 64-bit length with its top bit set.
    Header,
    /// Server frames are never masked (§5.1).
    Masked,
    /// RSV1–3 set without an extension to define them.
    Reserved,
    /// A continuation frame with no message open, or a data frame inside one.
    Fragments,
    /// A control frame fragmented or longer than 125 bytes.
    Control,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Broken::Header => "a reserved opcode or an invalid length",
            Broken::Masked => "a masked frame",
            Broken::Reserved => "reserved bits set",
            Broken::Fragments => "a misplaced continuation or data frame",
            Broken::Control => "a fragmented or oversized control frame",
        })
    }
}

/// The frame reader of one connection.
#[derive(Debug, Default)]
pub struct Reader {
    /// Payload bytes of the current data frame not consumed yet.
    skip: u64,
    /// The current data frame is its message's last.
    fin: bool,
    /// The message being received: its opcode and payload so far.
    open: Option<(OpCode, u64)>,
}

impl Reader {
    /// A reader at a frame boundary.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// The end of the current data frame was reached: its message, if it was the last.
    fn frame_done(&mut self) -> Option<Event> {
        if !self.fin {
            return None;
        }
        self.open
            .take()
            .map(|(opcode, len)| Event::Message { opcode, len })
    }

    /// Consume what `buf` holds: (bytes consumed, the event they complete, if any). Call
    /// again with the rest while it returns an event; `None` means more bytes are
    /// needed.
    pub fn advance(&mut self, buf: &[u8]) -> Result<(usize, Option<Event>), Broken> {
        let mut at = 0;
        loop {
            if self.skip > 0 {
                let n = self.skip.min((buf.len() - at) as u64);
                at += n as usize;
                self.skip -= n;
                if self.skip > 0 {
                    return Ok((at, None));
                }
                if let Some(e) = self.frame_done() {
                    return Ok((at, Some(e)));
                }
            }
            let (h, hl) = match FrameHeader::decode(&buf[at..]) {
                Ok(Status::Complete(x)) => x,
                Ok(Status::Partial) => return Ok((at, None)),
                Err(_) => return Err(Broken::Header),
            };
            if h.mask.is_some() {
                return Err(Broken::Masked);
            }
            if h.rsv1 || h.rsv2 || h.rsv3 {
                return Err(Broken::Reserved);
            }
            if h.opcode.is_control() {
                if !h.fin || h.len > MAX_CONTROL_PAYLOAD as u64 {
                    return Err(Broken::Control);
                }
                let end = at + hl + h.len as usize;
                let Some(payload) = buf.get(at + hl..end) else {
                    return Ok((at, None));
                };
                at = end;
                match h.opcode {
                    OpCode::Ping => return Ok((at, Some(Event::Ping(payload.to_vec())))),
                    OpCode::Close => {
                        let code = match payload {
                            [a, b, ..] => Some(u16::from_be_bytes([*a, *b])),
                            _ => None,
                        };
                        return Ok((at, Some(Event::Close(code))));
                    }
                    _ => continue, // a pong
                }
            }
            match (h.opcode, self.open.as_mut()) {
                (OpCode::Continuation, Some((_, len))) => *len = len.saturating_add(h.len),
                (OpCode::Continuation, None) | (_, Some(_)) => return Err(Broken::Fragments),
                (opcode, None) => self.open = Some((opcode, h.len)),
            }
            at += hl;
            self.skip = h.len;
            self.fin = h.fin;
            if self.skip == 0 {
                if let Some(e) = self.frame_done() {
                    return Ok((at, Some(e)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        FrameHeader::new(fin, opcode, payload.len() as u64).encode(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// Feed `bytes` in pieces of at most `step`, as reads would deliver them.
    fn events(bytes: &[u8], step: usize) -> Result<Vec<Event>, Broken> {
        let mut r = Reader::new();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in bytes.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (n, e) = r.advance(&buf)?;
                buf.drain(..n);
                match e {
                    Some(e) => out.push(e),
                    None => break,
                }
            }
        }
        assert!(buf.len() < 14 + 125, "left over: {}", buf.len());
        Ok(out)
    }

    #[test]
    fn messages_pings_closes_at_every_split() {
        let big = vec![7u8; 16384];
        let mut wire = server_frame(true, OpCode::Binary, &[1; 64]);
        wire.extend(server_frame(true, OpCode::Pong, b"p"));
        wire.extend(server_frame(false, OpCode::Text, b"ab"));
        wire.extend(server_frame(true, OpCode::Ping, b"x"));
        wire.extend(server_frame(false, OpCode::Continuation, b""));
        wire.extend(server_frame(true, OpCode::Continuation, b"cde"));
        wire.extend(server_frame(true, OpCode::Binary, &big));
        wire.extend(server_frame(true, OpCode::Binary, b""));
        wire.extend(server_frame(true, OpCode::Close, &1000u16.to_be_bytes()));
        let expected = vec![
            Event::Message {
                opcode: OpCode::Binary,
                len: 64,
            },
            Event::Ping(b"x".to_vec()),
            Event::Message {
                opcode: OpCode::Text,
                len: 5,
            },
            Event::Message {
                opcode: OpCode::Binary,
                len: 16384,
            },
            Event::Message {
                opcode: OpCode::Binary,
                len: 0,
            },
            Event::Close(Some(1000)),
        ];
        for step in [1, 2, 3, 7, 100, 4096, wire.len()] {
            assert_eq!(events(&wire, step).unwrap(), expected, "step {step}");
        }
        assert_eq!(
            events(&server_frame(true, OpCode::Close, b""), 1).unwrap(),
            vec![Event::Close(None)]
        );
    }

    #[test]
    fn broken_frames() {
        let mut masked = Vec::new();
        let mut h = FrameHeader::new(true, OpCode::Binary, 1);
        h.mask = Some([1, 2, 3, 4]);
        h.encode(&mut masked);
        masked.push(0);
        assert_eq!(events(&masked, 100), Err(Broken::Masked));
        let mut rsv = server_frame(true, OpCode::Binary, b"a");
        rsv[0] |= 0x40;
        assert_eq!(events(&rsv, 100), Err(Broken::Reserved));
        assert_eq!(events(&[0x83, 0x00], 100), Err(Broken::Header));
        let cont = server_frame(true, OpCode::Continuation, b"a");
        assert_eq!(events(&cont, 100), Err(Broken::Fragments));
        let mut twice = server_frame(false, OpCode::Text, b"a");
        twice.extend(server_frame(true, OpCode::Text, b"b"));
        assert_eq!(events(&twice, 100), Err(Broken::Fragments));
        let long_ping = server_frame(true, OpCode::Ping, &[0; 126]);
        assert_eq!(events(&long_ping, 1000), Err(Broken::Control));
        let split_close = server_frame(false, OpCode::Close, b"");
        assert_eq!(events(&split_close, 1000), Err(Broken::Control));
    }
}
