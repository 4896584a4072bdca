//! Body decoders: Content-Length and chunked (RFC 9112 §6, §7.1), sans-IO.
//! Tests live in `decode/tests.rs`.

#[cfg(test)]
mod tests;

use super::error::BadRequest;
use super::tokens::{hex_val, is_field_vchar, is_tchar};
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

/// Longest chunk extension accepted on one chunk-size line, in bytes.
pub const MAX_CHUNK_EXTENSION: usize = 4096;

/// Most hex digits (leading zeros included) accepted in a chunk size.
const MAX_SIZE_DIGITS: u32 = 32;

/// Where the chunked decoder is in the grammar (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading the hex chunk size.
    Size,
    /// BWS after the size: only `;` may follow.
    SizeWs,
    /// After `;`: BWS, then an extension name.
    ExtNameStart,
    /// In an extension name.
    ExtName,
    /// BWS after a name: `=` or `;` must follow.
    ExtNameWs,
    /// After `=`: BWS, then a token or quoted-string.
    ExtValueStart,
    /// In a token value.
    ExtToken,
    /// In a quoted-string value.
    ExtQuoted,
    /// After a backslash in a quoted-string.
    ExtQuotedPair,
    /// Just after a quoted-string's closing quote.
    ExtQuotedEnd,
    /// BWS after a value: only `;` may follow.
    ExtValueWs,
    /// CR seen at the end of the size line: LF must follow.
    SizeLf,
    /// Chunk data: `remaining` bytes to go.
    Data,
    /// After chunk data: CRLF or LF must follow.
    DataCr,
    /// After chunk data and CR: LF must follow.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerLineStart,
    /// In a trailer field name.
    TrailerName,
    /// In a trailer field value.
    TrailerValue,
    /// CR at the end of a trailer line: LF must follow.
    TrailerLf,
    /// CR of the final empty line: LF must follow.
    EndLf,
    /// The body is complete.
    Done,
}

/// Decoder for a chunked body: chunk sizes in hex, strict chunk extensions
/// (`;name[=value]`, token or quoted-string, no bare LF), CRLF (or bare LF) after each
/// chunk's data, trailer fields skipped (bounded by `max_trailer_bytes`).
///
/// A byte-at-a-time state machine for the framing, so input may be split anywhere.
/// Chunk extensions follow RFC 9112 §7.1.1 to the letter (BWS only where the grammar
/// allows it, before `;` and around `=`), and each size line's extensions are limited
/// to [`MAX_CHUNK_EXTENSION`] bytes: a lenient extension parser that ends a line at a
/// bare LF is what request smuggling through chunk extensions exploits.
/// `max_trailer_bytes` bounds the trailer field lines (with their line endings; the
/// final empty line is not counted).
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    max_trailer_bytes: usize,
    state: State,
    /// The chunk size being read, then the data bytes still to come.
    size: u64,
    /// Hex digits read for the current size.
    digits: u32,
    /// Extension bytes on the current size line.
    ext_len: usize,
    /// Trailer bytes so far.
    trailer_len: usize,
}

impl ChunkedDecoder {
    /// A decoder that allows at most `max_trailer_bytes` of trailer section.
    pub fn new(max_trailer_bytes: usize) -> Self {
        ChunkedDecoder {
            max_trailer_bytes,
            state: State::Size,
            size: 0,
            digits: 0,
            ext_len: 0,
            trailer_len: 0,
        }
    }

    /// The last chunk and the trailer section have been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode from `input`. Consumes framing bytes and at most one run of data.
    /// Call again with the rest of the input (after `consumed`) until `consumed == 0`
    /// with `done == false` (needs more input) or `done == true`.
    ///
    /// After a run of data, the framing that follows it is consumed too (up to the next
    /// chunk's data), so the call that returns the last data usually also returns
    /// `done`. A framing error right after a run of data is reported by the next call
    /// (the offending byte is left unconsumed), so data is never lost however the input
    /// was split. An error is final: the body (and so the connection) is broken.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, ParseError> {
        let mut i = 0;
        let mut data = 0..0;
        while let Some(&b) = input.get(i) {
            match self.state {
                State::Done => break,
                State::Data => {
                    if !data.is_empty() {
                        break;
                    }
                    let available = (input.len() - i) as u64;
                    let n = self.size.min(available) as usize;
                    data = i..i + n;
                    self.size -= n as u64;
                    i += n;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                }
                State::Size if self.digits == 0 => {
                    if let Some(n) = self.simple_size_line(input.get(i..).unwrap_or_default()) {
                        i += n;
                        continue;
                    }
                    match self.step(b) {
                        Ok(()) => i += 1,
                        Err(_) if !data.is_empty() => break,
                        Err(e) => return Err(e),
                    }
                }
                State::DataCr if input.get(i..i + 2) == Some(b"\r\n") => {
                    self.state = State::Size;
                    self.size = 0;
                    self.digits = 0;
                    self.ext_len = 0;
                    i += 2;
                }
                _ => match self.step(b) {
                    Ok(()) => i += 1,
                    // Hand out the data first; the next call fails on the same byte.
                    Err(_) if !data.is_empty() => break,
                    Err(e) => return Err(e),
                },
            }
        }
        Ok(Decoded {
            consumed: i,
            data,
            done: self.state == State::Done,
        })
    }

    /// Advance the framing state machine by one byte.
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        use State::*;
        const EXT: BadRequest = BadRequest::InvalidChunkExtension;
        let in_extension = matches!(
            self.state,
            SizeWs
                | ExtNameStart
                | ExtName
                | ExtNameWs
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedPair
                | ExtQuotedEnd
                | ExtValueWs
        );
        let counted = in_extension && b != b'\r' && b != b'\n';
        if counted && self.ext_len >= MAX_CHUNK_EXTENSION {
            return Err(EXT.into());
        }
        self.state = match (self.state, b) {
            (Size, _) => return self.size_byte(b),
            (SizeWs, b' ' | b'\t') => SizeWs,
            (SizeWs, b';') => ExtNameStart,
            (ExtNameStart, b' ' | b'\t') => ExtNameStart,
            (ExtNameStart, _) if is_tchar(b) => ExtName,
            (ExtName, _) if is_tchar(b) => ExtName,
            (ExtName, b' ' | b'\t') => ExtNameWs,
            (ExtName | ExtNameWs, b'=') => ExtValueStart,
            (ExtNameWs, b' ' | b'\t') => ExtNameWs,
            (ExtValueStart, b' ' | b'\t') => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart | ExtToken, _) if is_tchar(b) => ExtToken,
            (ExtQuoted, b'"') => ExtQuotedEnd,
            (ExtQuoted, b'\\') => ExtQuotedPair,
            (ExtQuoted, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => ExtQuoted,
            (ExtQuotedPair, b'\t' | b' ' | 0x21..=0x7e | 0x80..=0xff) => ExtQuoted,
            (ExtToken | ExtQuotedEnd | ExtValueWs, b' ' | b'\t') => ExtValueWs,
            (ExtName | ExtNameWs | ExtToken | ExtQuotedEnd | ExtValueWs, b';') => ExtNameStart,
            (ExtName | ExtToken | ExtQuotedEnd, b'\r') => SizeLf,
            (ExtName | ExtToken | ExtQuotedEnd, b'\n') => self.end_size_line(),
            (
                SizeWs | ExtNameStart | ExtName | ExtNameWs | ExtValueStart | ExtToken | ExtQuoted
                | ExtQuotedPair | ExtQuotedEnd | ExtValueWs,
                _,
            ) => return Err(EXT.into()),
            (SizeLf, b'\n') => self.end_size_line(),
            (SizeLf, _) if self.ext_len > 0 => return Err(EXT.into()),
            (SizeLf, _) => return Err(BadRequest::InvalidChunkSize.into()),
            (DataCr, b'\r') => DataLf,
            (DataCr | DataLf, b'\n') => {
                self.size = 0;
                self.digits = 0;
                self.ext_len = 0;
                Size
            }
            (DataCr | DataLf, _) => return Err(BadRequest::InvalidChunkTerminator.into()),
            (TrailerLineStart, b'\r') => EndLf,
            (TrailerLineStart, b'\n') | (EndLf, b'\n') => Done,
            (TrailerLineStart | TrailerName, _) if is_tchar(b) => self.trailer(TrailerName)?,
            (TrailerName, b':') => self.trailer(TrailerValue)?,
            (TrailerValue, b'\r') => self.trailer(TrailerLf)?,
            (TrailerValue | TrailerLf, b'\n') => self.trailer(TrailerLineStart)?,
            (TrailerValue, _) if is_field_vchar(b) => self.trailer(TrailerValue)?,
            (TrailerLineStart | TrailerName | TrailerValue | TrailerLf | EndLf, _) => {
                return Err(BadRequest::InvalidTrailers.into())
            }
            (Data | Done, _) => self.state,
        };
        if counted {
            self.ext_len += 1;
        }
        Ok(())
    }

    /// Fast path for the usual size line, `1*16HEXDIG CRLF` complete in `rest`: take it
    /// whole and return its length. `None` (nothing consumed) for anything else, which
    /// the byte-at-a-time machine then handles.
    #[inline]
    fn simple_size_line(&mut self, rest: &[u8]) -> Option<usize> {
        let mut size: u64 = 0;
        let mut n = 0;
        while let Some(d) = rest.get(n).and_then(|&b| hex_val(b)) {
            if n == 16 {
                return None;
            }
            size = size << 4 | u64::from(d);
            n += 1;
        }
        if n == 0 || rest.get(n..n + 2) != Some(b"\r\n") {
            return None;
        }
        self.size = size;
        self.state = self.end_size_line();
        Some(n + 2)
    }

    /// One byte of the chunk-size line before any extension.
    fn size_byte(&mut self, b: u8) -> Result<(), ParseError> {
        if let Some(d) = hex_val(b) {
            if self.size > u64::MAX >> 4 || self.digits >= MAX_SIZE_DIGITS {
                return Err(BadRequest::InvalidChunkSize.into());
            }
            self.size = self.size << 4 | u64::from(d);
            self.digits += 1;
            return Ok(());
        }
        if self.digits == 0 {
            return Err(BadRequest::InvalidChunkSize.into());
        }
        self.state = match b {
            b';' => State::ExtNameStart,
            b' ' | b'\t' => State::SizeWs,
            b'\r' => State::SizeLf,
            b'\n' => self.end_size_line(),
            _ => return Err(BadRequest::InvalidChunkSize.into()),
        };
        if matches!(self.state, State::ExtNameStart | State::SizeWs) {
            self.ext_len = 1;
        }
        Ok(())
    }

    /// The size line ended: data follows, or the trailer section after the last chunk.
    fn end_size_line(&mut self) -> State {
        self.ext_len = 0;
        self.digits = 0;
        if self.size == 0 {
            self.trailer_len = 0;
            State::TrailerLineStart
        } else {
            State::Data
        }
    }

    /// Count one trailer byte against the limit, then move to `next`.
    fn trailer(&mut self, next: State) -> Result<State, ParseError> {
        if self.trailer_len >= self.max_trailer_bytes {
            return Err(BadRequest::InvalidTrailers.into());
        }
        self.trailer_len += 1;
        Ok(next)
    }
}
