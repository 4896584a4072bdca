//! HTTP/1.x: request parsing, body decoding, response framing and encoding, response
//! parsing.

pub mod decode;
pub mod encode;
pub mod error;
pub mod framing;
pub mod parse;
pub mod response;
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(unsafe_code)]
pub(crate) mod sse2;
pub mod target;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod tokens;

pub use error::ParseError;

/// Outcome of feeding bytes to a push parser: `Complete(n)` when a whole unit was parsed
/// (`n` bytes consumed), `Partial` when more bytes are needed. Partial data is never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole unit was parsed.
    Complete(T),
    /// More bytes are needed.
    Partial,
}

/// The HTTP versions HTTP/1.x framing supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
}

impl Version {
    /// The version as it appears on the wire, e.g. `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A byte range `start..end` into the buffer a head was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// The bytes this span covers in `buf` (the buffer the head was parsed from).
    #[inline]
    pub fn of<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start as usize..self.end as usize]
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// True for an empty span.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// One header line: name and value (value without surrounding whitespace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderSpan {
    /// The header name as sent (case preserved).
    pub name: Span,
    /// The header value, optional whitespace trimmed.
    pub value: Span,
}

/// How the length of a message body is determined (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body (no Content-Length, no Transfer-Encoding on a request).
    Empty,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Response only: the body runs until the connection closes.
    CloseDelimited,
}
