//! HTTP/2 frames (RFC 9113 §4 and §6), sans-IO: the frames a load client needs, read
//! straight out of a connection's read buffer and appended to its write buffer.
//!
//! - Reading: [`next`] finds the next whole frame at the start of a buffer (its head and
//!   its payload, borrowed), so one read's worth of bytes yields many frames without a
//!   copy; a frame cut by the read stays for the next one. [`unpad`] and
//!   [`header_fragment`] strip padding and priority fields.
//! - Writing: `put_*` append one frame each to a `Vec<u8>`, so a whole batch of frames
//!   leaves in one write.

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Length of a frame head.
pub const HEAD_LEN: usize = 9;
/// The smallest (and default) `SETTINGS_MAX_FRAME_SIZE`.
pub const DEFAULT_MAX_FRAME: usize = 16_384;
/// The largest flow-control window (2^31 - 1).
pub const MAX_WINDOW: i64 = (1 << 31) - 1;

/// Frame types.
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// PRIORITY (ignored).
    pub const PRIORITY: u8 = 0x2;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PUSH_PROMISE (refused: push is disabled).
    pub const PUSH_PROMISE: u8 = 0x5;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
    /// CONTINUATION.
    pub const CONTINUATION: u8 = 0x9;
}

/// Frame flags.
pub mod flag {
    /// DATA, HEADERS: the last frame of the stream from this side.
    pub const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub const ACK: u8 = 0x1;
    /// HEADERS, CONTINUATION: the header block is complete.
    pub const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS: padded.
    pub const PADDED: u8 = 0x8;
    /// HEADERS: carries priority fields.
    pub const PRIORITY: u8 = 0x20;
}

/// Error codes (RFC 9113 §7).
pub mod code {
    /// Graceful.
    pub const NO_ERROR: u32 = 0x0;
    /// The peer broke the protocol.
    pub const PROTOCOL_ERROR: u32 = 0x1;
    /// Flow-control limits broken.
    pub const FLOW_CONTROL_ERROR: u32 = 0x3;
    /// A frame of the wrong size.
    pub const FRAME_SIZE_ERROR: u32 = 0x6;
    /// The stream was not processed: it may be retried.
    pub const REFUSED_STREAM: u32 = 0x7;
    /// The stream is no longer needed.
    pub const CANCEL: u32 = 0x8;
    /// The header compression context is broken.
    pub const COMPRESSION_ERROR: u32 = 0x9;
}

/// The name of error code `c`, for messages.
pub fn code_name(c: u32) -> String {
    let name = match c {
        0x0 => "NO_ERROR",
        0x1 => "PROTOCOL_ERROR",
        0x2 => "INTERNAL_ERROR",
        0x3 => "FLOW_CONTROL_ERROR",
        0x4 => "SETTINGS_TIMEOUT",
        0x5 => "STREAM_CLOSED",
        0x6 => "FRAME_SIZE_ERROR",
        0x7 => "REFUSED_STREAM",
        0x8 => "CANCEL",
        0x9 => "COMPRESSION_ERROR",
        0xa => "CONNECT_ERROR",
        0xb => "ENHANCE_YOUR_CALM",
        0xc => "INADEQUATE_SECURITY",
        0xd => "HTTP_1_1_REQUIRED",
        _ => return format!("error code {c:#x}"),
    };
    name.to_string()
}

/// Settings identifiers.
pub mod setting {
    /// SETTINGS_HEADER_TABLE_SIZE.
    pub const HEADER_TABLE_SIZE: u16 = 0x1;
    /// SETTINGS_ENABLE_PUSH.
    pub const ENABLE_PUSH: u16 = 0x2;
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u16 = 0x4;
    /// SETTINGS_MAX_FRAME_SIZE.
    pub const MAX_FRAME_SIZE: u16 = 0x5;
}

/// A frame head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Payload length.
    pub len: usize,
    /// Frame type.
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Stream identifier (the reserved bit cleared).
    pub stream: u32,
}

impl Head {
    /// Whether `f` is set.
    #[inline]
    pub fn has(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A frame broke the framing rules: the connection error code to send, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    /// The error code (RFC 9113 §7).
    pub code: u32,
    /// Why, for the report.
    pub why: String,
}

impl FrameError {
    /// A `PROTOCOL_ERROR` saying `why`.
    pub fn protocol(why: impl Into<String>) -> FrameError {
        FrameError {
            code: code::PROTOCOL_ERROR,
            why: why.into(),
        }
    }

    /// A `FRAME_SIZE_ERROR` saying `why`.
    pub fn size(why: impl Into<String>) -> FrameError {
        FrameError {
            code: code::FRAME_SIZE_ERROR,
            why: why.into(),
        }
    }
}

/// A big-endian `u32` at the start of `b` (at least four bytes).
#[inline]
pub fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The next whole frame at the start of `buf`: its head and payload, `Ok(None)` while it
/// is incomplete. A frame longer than `max_len` (our `SETTINGS_MAX_FRAME_SIZE`) is a
/// `FRAME_SIZE_ERROR`, found from its head alone.
#[inline]
pub fn next(buf: &[u8], max_len: usize) -> Result<Option<(Head, &[u8])>, FrameError> {
    if buf.len() < HEAD_LEN {
        return Ok(None);
    }
    let len = (usize::from(buf[0]) << 16) | (usize::from(buf[1]) << 8) | usize::from(buf[2]);
    if len > max_len {
        return Err(FrameError::size(format!(
            "a frame of {len} bytes, over the {max_len} allowed"
        )));
    }
    let Some(payload) = buf.get(HEAD_LEN..HEAD_LEN + len) else {
        return Ok(None);
    };
    let head = Head {
        len,
        kind: buf[3],
        flags: buf[4],
        stream: be32(&buf[5..9]) & 0x7fff_ffff,
    };
    Ok(Some((head, payload)))
}

/// The payload of a DATA or HEADERS frame without its padding (RFC 9113 §6.1).
#[inline]
pub fn unpad<'a>(head: &Head, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if !head.has(flag::PADDED) {
        return Ok(payload);
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(FrameError::size("a padded frame without its pad length"));
    };
    let pad = usize::from(pad);
    if pad > rest.len() {
        return Err(FrameError::protocol("padding longer than the frame"));
    }
    Ok(&rest[..rest.len() - pad])
}

/// The header block fragment of a HEADERS frame: padding and priority fields removed.
#[inline]
pub fn header_fragment<'a>(head: &Head, payload: &'a [u8]) -> Result<&'a [u8], FrameError> {
    let rest = unpad(head, payload)?;
    if head.has(flag::PRIORITY) {
        return rest
            .get(5..)
            .ok_or_else(|| FrameError::size("HEADERS too short for its priority fields"));
    }
    Ok(rest)
}

/// Append a frame head.
#[inline]
pub fn put_head(out: &mut Vec<u8>, len: usize, kind: u8, flags: u8, stream: u32) {
    let len = len as u32;
    out.extend_from_slice(&[(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags]);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
}

/// Append a SETTINGS frame with `values`.
pub fn put_settings(out: &mut Vec<u8>, values: &[(u16, u32)]) {
    put_head(out, values.len() * 6, kind::SETTINGS, 0, 0);
    for &(id, v) in values {
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&v.to_be_bytes());
    }
}

/// Append a SETTINGS acknowledgement.
pub fn put_settings_ack(out: &mut Vec<u8>) {
    put_head(out, 0, kind::SETTINGS, flag::ACK, 0);
}

/// Append a WINDOW_UPDATE of `increment` for `stream` (0: the connection).
pub fn put_window_update(out: &mut Vec<u8>, stream: u32, increment: u32) {
    put_head(out, 4, kind::WINDOW_UPDATE, 0, stream);
    out.extend_from_slice(&(increment & 0x7fff_ffff).to_be_bytes());
}

/// Append the acknowledgement of a PING carrying `data`.
pub fn put_ping_ack(out: &mut Vec<u8>, data: &[u8]) {
    put_head(out, 8, kind::PING, flag::ACK, 0);
    out.extend_from_slice(data);
}

/// Append an RST_STREAM of `stream` with `code`.
pub fn put_rst_stream(out: &mut Vec<u8>, stream: u32, code: u32) {
    put_head(out, 4, kind::RST_STREAM, 0, stream);
    out.extend_from_slice(&code.to_be_bytes());
}

/// Append a GOAWAY with `last_stream` (the last peer-initiated stream processed: always
/// 0 for a client) and `code`.
pub fn put_goaway(out: &mut Vec<u8>, last_stream: u32, code: u32) {
    put_head(out, 8, kind::GOAWAY, 0, 0);
    out.extend_from_slice(&(last_stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
}

/// Append a header block for `stream` as HEADERS (and CONTINUATION frames when it is
/// longer than `max_frame`), ending the stream when `end_stream`.
pub fn put_headers(
    out: &mut Vec<u8>,
    stream: u32,
    block: &[u8],
    end_stream: bool,
    max_frame: usize,
) {
    let end = if end_stream { flag::END_STREAM } else { 0 };
    let max_frame = max_frame.max(1);
    let mut chunks = block.chunks(max_frame);
    let first = chunks.next().unwrap_or(&[]);
    let last = first.len() == block.len();
    let flags = end | if last { flag::END_HEADERS } else { 0 };
    put_head(out, first.len(), kind::HEADERS, flags, stream);
    out.extend_from_slice(first);
    let mut sent = first.len();
    for chunk in chunks {
        sent += chunk.len();
        let flags = if sent == block.len() {
            flag::END_HEADERS
        } else {
            0
        };
        put_head(out, chunk.len(), kind::CONTINUATION, flags, stream);
        out.extend_from_slice(chunk);
    }
}

/// Append one DATA frame for `stream` carrying `data` (at most the peer's frame size).
pub fn put_data(out: &mut Vec<u8>, stream: u32, data: &[u8], end_stream: bool) {
    let flags = if end_stream { flag::END_STREAM } else { 0 };
    put_head(out, data.len(), kind::DATA, flags, stream);
    out.extend_from_slice(data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_and_incomplete_frames_wait() {
        let mut out = Vec::new();
        put_data(&mut out, 3, b"hello", true);
        put_window_update(&mut out, 0, 1000);
        let (h, p) = next(&out, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!(
            h,
            Head {
                len: 5,
                kind: kind::DATA,
                flags: flag::END_STREAM,
                stream: 3
            }
        );
        assert_eq!(p, b"hello");
        let rest = &out[HEAD_LEN + 5..];
        let (h, p) = next(rest, DEFAULT_MAX_FRAME).unwrap().unwrap();
        assert_eq!((h.kind, h.stream, be32(p)), (kind::WINDOW_UPDATE, 0, 1000));
        // Every cut short of the whole frame waits for more.
        for cut in 0..HEAD_LEN + 5 {
            assert_eq!(next(&out[..cut], DEFAULT_MAX_FRAME).unwrap(), None, "{cut}");
        }
    }

    #[test]
    fn oversized_frames_are_refused_from_their_head() {
        // An HTTP/1.1 answer read as a frame head: a length of 0x485454.
        let err = next(b"HTTP/1.1 400 Bad", DEFAULT_MAX_FRAME).unwrap_err();
        assert_eq!(err.code, code::FRAME_SIZE_ERROR);
    }

    #[test]
    fn padding_and_priority_are_stripped() {
        let h = Head {
            len: 0,
            kind: kind::HEADERS,
            flags: flag::PADDED | flag::PRIORITY,
            stream: 1,
        };
        let payload = [2, 0, 0, 0, 1, 16, 0x88, 0, 0];
        assert_eq!(header_fragment(&h, &payload).unwrap(), &[0x88]);
        let d = Head {
            flags: flag::PADDED,
            kind: kind::DATA,
            ..h
        };
        assert_eq!(unpad(&d, &[3, b'a', b'b', 0, 0, 0]).unwrap(), b"ab");
        assert!(unpad(&d, &[4, b'a', 0, 0]).is_err());
        assert!(unpad(&d, &[]).is_err());
        assert!(header_fragment(&h, &[0, 1, 2]).is_err());
    }

    #[test]
    fn long_header_blocks_continue() {
        let block: Vec<u8> = (0..40u8).collect();
        let mut out = Vec::new();
        put_headers(&mut out, 5, &block, true, 16);
        let mut at = &out[..];
        let mut got = Vec::new();
        let mut kinds = Vec::new();
        while let Some((h, p)) = next(at, 16).unwrap() {
            kinds.push((h.kind, h.flags));
            got.extend_from_slice(p);
            at = &at[HEAD_LEN + h.len..];
        }
        assert_eq!(got, block);
        assert_eq!(
            kinds,
            [
                (kind::HEADERS, flag::END_STREAM),
                (kind::CONTINUATION, 0),
                (kind::CONTINUATION, flag::END_HEADERS)
            ]
        );
        let mut out = Vec::new();
        put_headers(&mut out, 1, &[0x82], false, 16);
        assert_eq!(out, [0, 0, 1, 1, flag::END_HEADERS, 0, 0, 0, 1, 0x82]);
    }
}
