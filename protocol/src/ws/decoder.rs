//! The server's push decoder: client frames in, messages out (RFC 6455 §5, RFC 7692 §6).
//!
//! The engine reads into a `BytesMut` and calls [`Decoder::decode`] until it returns
//! `Ok(None)` (read more, keeping the buffer's contents, and call again). The decoder
//! splits off what it has consumed. Every rule of §5 is checked; a broken one is a
//! [`DecodeError`] whose [`close_code`](DecodeError::close_code) the engine sends in a
//! Close frame before closing. Errors are final: the same error comes back on every
//! later call.
//!
//! Memory and copies:
//! - a message in one uncompressed frame (the common case) is unmasked in place in the
//!   caller's buffer as it arrives and handed out as a slice of it: no copy. The caller's
//!   buffer holds such a frame whole (at most `max_message_size` bytes of payload);
//! - a fragmented message is copied once, frame piece by frame piece as it arrives, into
//!   the message being assembled; a compressed one is inflated piece by piece into it;
//! - control frames (at most 125 bytes) wait whole in the caller's buffer.
//!
//! Text is validated as it arrives, so invalid UTF-8 fails the connection (1007) as soon
//! as no continuation could make it valid, before the message or even the frame ends.
//! `max_message_size` bounds the assembled message after inflation (1009): an
//! uncompressed frame that would pass it fails on its header, before its payload comes.

use super::close;
use super::deflate::{DeflateParams, Inflater};
use super::error::DecodeError;
use super::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use super::mask::apply_mask;
use super::utf8::Utf8Validator;
use crate::h1::Status;
use bytes::{Buf, Bytes, BytesMut};

/// What the client sent: a whole message or a control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping: answer with a pong carrying the same payload (at most 125 bytes).
    Ping(Bytes),
    /// A pong (unsolicited or answering a ping).
    Pong(Bytes),
    /// A close: its status code and reason (valid UTF-8), or `None` for an empty Close.
    /// Answer with a Close (echoing the code is usual) and close; the decoder returns
    /// `Ok(None)` from now on.
    Close(Option<(u16, Bytes)>),
}

/// How a frame's payload is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Close, ping or pong: waits whole in the caller's buffer.
    Control(OpCode),
    /// A whole uncompressed message in one frame: unmasked in place, handed out uncopied.
    Whole { text: bool },
    /// A piece of a fragmented or compressed message: moved into the message as it comes.
    Piece,
}

/// The frame whose payload is being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    kind: Kind,
    fin: bool,
    key: [u8; 4],
    len: usize,
    /// Payload bytes done: unmasked in place (`Whole`) or consumed (`Piece`).
    done: usize,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    Payload(Frame),
    Closed,
    Failed(DecodeError),
}

/// A fragmented or compressed message being assembled.
#[derive(Debug)]
struct Assembling {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
    /// Compressed payload bytes received so far.
    wire: usize,
}

/// Decoder of one connection's client-to-server frames.
#[derive(Debug)]
pub struct Decoder {
    max_message_size: usize,
    inflater: Option<Inflater>,
    state: State,
    message: Option<Assembling>,
    utf8: Utf8Validator,
}

impl Decoder {
    /// A decoder that fails messages larger than `max_message_size` bytes with 1009, with
    /// no extension (RSV1 is a protocol error).
    pub fn new(max_message_size: usize) -> Decoder {
        Decoder {
            max_message_size,
            inflater: None,
            state: State::Header,
            message: None,
            utf8: Utf8Validator::default(),
        }
    }

    /// With permessage-deflate as negotiated: RSV1 marks a compressed message.
    pub fn with_deflate(mut self, params: &DeflateParams) -> Decoder {
        self.inflater = Some(Inflater::new(params));
        self
    }

    /// A Close has been received (or an error found): nothing more will be decoded.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Failed(_))
    }

    /// Decode from `buf`: `Ok(Some(message))` (call again: more may be buffered),
    /// `Ok(None)` when more bytes are needed (or after a Close), or the error to close
    /// the connection with. Consumed bytes are split off `buf`; bytes of a frame still
    /// incomplete may already have been unmasked in place (keep them as they are).
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        let r = self.step(buf);
        if let Err(e) = r {
            self.state = State::Failed(e);
            self.message = None;
        }
        r
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, DecodeError> {
        loop {
            let mut f = match self.state {
                State::Failed(e) => return Err(e),
                State::Closed => return Ok(None),
                State::Header => {
                    let (header, n) = match FrameHeader::decode(buf)? {
                        Status::Partial => return Ok(None),
                        Status::Complete(h) => h,
                    };
                    let frame = self.start(&header)?;
                    buf.advance(n);
                    self.state = State::Payload(frame);
                    continue;
                }
                State::Payload(f) => f,
            };
            match f.kind {
                Kind::Control(op) => {
                    if buf.len() < f.len {
                        return Ok(None);
                    }
                    let mut payload = buf.split_to(f.len);
                    apply_mask(&mut payload, f.key, 0);
                    self.state = State::Header;
                    return self.control(op, payload.freeze()).map(Some);
                }
                Kind::Whole { text } => {
                    let avail = buf.len().min(f.len);
                    if avail > f.done {
                        let fresh = &mut buf[f.done..avail];
                        apply_mask(fresh, f.key, f.done);
                        if text {
                            self.utf8
                                .feed(fresh)
                                .map_err(|()| DecodeError::InvalidUtf8)?;
                        }
                        f.done = avail;
                    }
                    if avail < f.len {
                        self.state = State::Payload(f);
                        return Ok(None);
                    }
                    if text && !self.utf8.is_complete() {
                        return Err(DecodeError::InvalidUtf8);
                    }
                    let payload = buf.split_to(f.len).freeze();
                    self.state = State::Header;
                    return Ok(Some(if text {
                        Message::Text(payload)
                    } else {
                        Message::Binary(payload)
                    }));
                }
                Kind::Piece => {
                    let take = buf.len().min(f.len - f.done);
                    if take > 0 {
                        let mut piece = buf.split_to(take);
                        apply_mask(&mut piece, f.key, f.done);
                        f.done += take;
                        self.piece(&piece)?;
                    }
                    if f.done < f.len {
                        self.state = State::Payload(f);
                        return Ok(None);
                    }
                    self.state = State::Header;
                    if f.fin {
                        return self.end_message().map(Some);
                    }
                }
            }
        }
    }

    /// Check a frame header against the rules and the message in progress.
    fn start(&mut self, h: &FrameHeader) -> Result<Frame, DecodeError> {
        let key = h.mask.ok_or(DecodeError::Unmasked)?;
        if h.rsv2 || h.rsv3 {
            return Err(DecodeError::ReservedBits);
        }
        let len = usize::try_from(h.len).map_err(|_| DecodeError::MessageTooBig)?;
        let frame = |kind| Frame {
            kind,
            fin: h.fin,
            key,
            len,
            done: 0,
        };
        if h.opcode.is_control() {
            if h.rsv1 {
                return Err(DecodeError::ReservedBits);
            }
            if !h.fin {
                return Err(DecodeError::FragmentedControl);
            }
            if len > MAX_CONTROL_PAYLOAD {
                return Err(DecodeError::ControlTooLong);
            }
            return Ok(frame(Kind::Control(h.opcode)));
        }
        match (&self.message, h.opcode) {
            (None, OpCode::Continuation) => Err(DecodeError::UnexpectedContinuation),
            (Some(_), OpCode::Continuation) if h.rsv1 => Err(DecodeError::ReservedBits),
            (Some(m), OpCode::Continuation) => {
                if !m.compressed && m.data.len().saturating_add(len) > self.max_message_size {
                    return Err(DecodeError::MessageTooBig);
                }
                Ok(frame(Kind::Piece))
            }
            (Some(_), _) => Err(DecodeError::ExpectedContinuation),
            (None, _) => {
                if h.rsv1 && self.inflater.is_none() {
                    return Err(DecodeError::ReservedBits);
                }
                let text = h.opcode == OpCode::Text;
                self.utf8.reset();
                if !h.rsv1 && len > self.max_message_size {
                    return Err(DecodeError::MessageTooBig);
                }
                if h.fin && !h.rsv1 {
                    return Ok(frame(Kind::Whole { text }));
                }
                self.message = Some(Assembling {
                    text,
                    compressed: h.rsv1,
                    data: Vec::new(),
                    wire: 0,
                });
                Ok(frame(Kind::Piece))
            }
        }
    }

    /// Most compressed payload one message may carry: its inflated bound plus room for
    /// deflate's framing, so a stream of empty blocks cannot run forever. Stored blocks
    /// cost 5 bytes each, and zlib's block size follows its memLevel (Python's
    /// `websockets` compresses with memLevel 5: 2 KiB blocks, 0.25 %; memLevel 1: 128
    /// bytes, 4 %): a sixteenth on top covers every memLevel.
    fn max_compressed(&self) -> usize {
        self.max_message_size
            .saturating_add(self.max_message_size / 16)
            .saturating_add(1024)
    }

    /// Add an unmasked piece of payload to the message being assembled.
    fn piece(&mut self, piece: &[u8]) -> Result<(), DecodeError> {
        let max_compressed = self.max_compressed();
        let m = self
            .message
            .as_mut()
            .ok_or(DecodeError::UnexpectedContinuation)?;
        let checked = m.data.len();
        let inflated = if m.compressed {
            // Only the allowed prefix of the compressed payload is inflated, so where the
            // limit falls does not depend on how the payload was split either.
            let allowed = max_compressed.saturating_sub(m.wire).min(piece.len());
            m.wire += allowed;
            let inflater = self.inflater.as_mut().ok_or(DecodeError::ReservedBits)?;
            let r = inflater.inflate(&piece[..allowed], &mut m.data, self.max_message_size);
            if r.is_ok() && allowed < piece.len() {
                Err(DecodeError::MessageTooBig)
            } else {
                r
            }
        } else {
            m.data.extend_from_slice(piece);
            Ok(())
        };
        // Text inflated before an inflation error is checked first, so the outcome does
        // not depend on how the payload was split.
        if m.text {
            let fresh = m.data.get(checked..).unwrap_or_default();
            self.utf8
                .feed(fresh)
                .map_err(|()| DecodeError::InvalidUtf8)?;
        }
        inflated
    }

    /// The message's final frame is in: finish inflating, check the text, hand it out.
    fn end_message(&mut self) -> Result<Message, DecodeError> {
        let mut m = self
            .message
            .take()
            .ok_or(DecodeError::UnexpectedContinuation)?;
        if m.compressed {
            let checked = m.data.len();
            let inflater = self.inflater.as_mut().ok_or(DecodeError::ReservedBits)?;
            let inflated = inflater.finish(&mut m.data, self.max_message_size);
            if m.text {
                let fresh = m.data.get(checked..).unwrap_or_default();
                self.utf8
                    .feed(fresh)
                    .map_err(|()| DecodeError::InvalidUtf8)?;
            }
            inflated?;
        }
        if m.text && !self.utf8.is_complete() {
            return Err(DecodeError::InvalidUtf8);
        }
        let data = Bytes::from(m.data);
        Ok(if m.text {
            Message::Text(data)
        } else {
            Message::Binary(data)
        })
    }

    /// A whole, unmasked control frame.
    fn control(&mut self, op: OpCode, payload: Bytes) -> Result<Message, DecodeError> {
        Ok(match op {
            OpCode::Ping => Message::Ping(payload),
            OpCode::Pong => Message::Pong(payload),
            _ => {
                let close = match payload.as_ref() {
                    [] => None,
                    [_] => return Err(DecodeError::CloseLength),
                    [hi, lo, reason @ ..] => {
                        let code = u16::from_be_bytes([*hi, *lo]);
                        if !close::is_valid(code) {
                            return Err(DecodeError::InvalidCloseCode(code));
                        }
                        if std::str::from_utf8(reason).is_err() {
                            return Err(DecodeError::InvalidUtf8);
                        }
                        Some((code, payload.slice(2..)))
                    }
                };
                self.state = State::Closed;
                self.message = None;
                Message::Close(close)
            }
        })
    }
}

#[cfg(test)]
mod tests;
