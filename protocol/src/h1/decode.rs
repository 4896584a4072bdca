//! Body decoders: Content-Length and chunked (RFC 9112 §6, §7.1), sans-IO.

use super::ParseError;
use std::ops::Range;

/// What one call to a decoder found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input consumed (framing and data).
    pub consumed: usize,
    /// Body data found, as a range into the input (within `..consumed`); may be empty.
    pub data: Range<usize>,
    /// The body is complete (for chunked: last chunk and trailers consumed).
    pub done: bool,
}

/// Decoder for a `Content-Length` body.
#[derive(Debug, Clone)]
pub struct LengthDecoder {
    remaining: u64,
}

impl LengthDecoder {
    /// A decoder for a body of `len` bytes.
    pub fn new(len: u64) -> Self {
        LengthDecoder { remaining: len }
    }

    /// Bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Take as much of `input` as belongs to the body.
    pub fn decode(&mut self, input: &[u8]) -> Decoded {
        let n = (input.len() as u64).min(self.remaining) as usize;
        self.remaining -= n as u64;
        Decoded {
            consumed: n,
            data: 0..n,
            done: self.remaining == 0,
        }
    }
}

/// Decoder for a chunked body: chunk sizes in hex, strict chunk extensions
/// (`;name[=value]`, token or quoted-string, no bare LF), CRLF (or bare LF) after each
/// chunk's data, trailer fields skipped (bounded by `max_trailer_bytes`).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    max_trailer_bytes: usize,
}

impl ChunkedDecoder {
    /// A decoder that allows at most `max_trailer_bytes` of trailer section.
    pub fn new(max_trailer_bytes: usize) -> Self {
        ChunkedDecoder { max_trailer_bytes }
    }

    /// Decode from `input`. Consumes framing bytes and at most one run of data.
    /// Call again with the rest of the input (after `consumed`) until `consumed == 0`
    /// with `done == false` (needs more input) or `done == true`.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ParseError> {
        let _ = (input, self.max_trailer_bytes);
        todo!("implemented in the protocol work")
    }
}
