//! Response framing policy (RFC 9112 §6, RFC 9110 §7.6.1, §7.8): given what a server
//! knows about a response, how its body is delimited, which framing and `Connection`
//! headers it writes, and whether the connection stays open afterwards.
//!
//! A pure, allocation-free decision over [`Copy`] values, made once per response:
//!
//! - `HEAD`, 1xx, 204 and 304 carry no body. 1xx, 204 and 304 get neither
//!   `Content-Length` nor `Transfer-Encoding`; `HEAD` gets the headers a `GET` would.
//! - A body whose own length is known is sent with `Content-Length` of that length.
//! - A body of unknown length (a stream) is sent with the handler's `Content-Length` if it
//!   set one; a `HEAD` answer whose body is empty also keeps the handler's length.
//! - Otherwise: `Transfer-Encoding: chunked` for HTTP/1.1, a close-delimited body for
//!   HTTP/1.0 (which ends keep-alive).
//! - `Connection: close` when the connection ends, `Connection: keep-alive` when an
//!   HTTP/1.0 connection persists, nothing for a persistent HTTP/1.1 connection.
//! - A `101 Switching Protocols` accepting an upgrade gets `Connection: Upgrade`, no body
//!   and no framing headers, and the connection never returns to HTTP/1.
//!
//! The server owns framing: a handler's own `Transfer-Encoding` and `Connection` headers
//! are dropped by the caller, and its `Content-Length` is only an input here.

use super::Version;

/// How the body that follows a response head is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body bytes at all (`HEAD`, 1xx, 204, 304, an accepted upgrade).
    NoBody,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Raw bytes until the connection closes (bodies of unknown length to HTTP/1.0).
    Close,
}

/// The value of the `Connection` header the server writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionHeader {
    /// `Connection: close`: the connection ends after this response.
    Close,
    /// `Connection: keep-alive`: an HTTP/1.0 connection persists.
    KeepAlive,
    /// `Connection: Upgrade`: a `101` switches the connection to another protocol.
    Upgrade,
}

impl ConnectionHeader {
    /// The header value as written on the wire.
    #[inline]
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            ConnectionHeader::Close => b"close",
            ConnectionHeader::KeepAlive => b"keep-alive",
            ConnectionHeader::Upgrade => b"Upgrade",
        }
    }
}

/// What the policy needs to know about one response and the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingInput {
    /// The response status code.
    pub status: u16,
    /// The request's HTTP version.
    pub version: Version,
    /// True when the request method is `HEAD`.
    pub is_head: bool,
    /// The body's own length when known (`Some(0)` for an empty body), `None` for a
    /// stream of unknown length.
    pub body_len: Option<u64>,
    /// The length the handler declared in a `Content-Length` header, if any.
    pub handler_length: Option<u64>,
    /// True when the connection may stay open after this response (the request allows
    /// it and nothing else ends the connection).
    pub keep_alive: bool,
    /// True when the request offered an upgrade that a `101 Switching Protocols` accepts.
    /// Only a `101` status makes the switch; any other status answers over HTTP/1 as usual.
    pub upgrade: bool,
}

/// How to frame one response: the body framing, the headers to write, and whether the
/// connection stays open for another HTTP/1 request afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FramingDecision {
    /// How the body is delimited on the wire.
    pub framing: Framing,
    /// The `Content-Length` to write, if any.
    pub content_length: Option<u64>,
    /// True to write `Transfer-Encoding: chunked` (never together with a length).
    pub chunked: bool,
    /// The `Connection` header to write, if any.
    pub connection: Option<ConnectionHeader>,
    /// True when the connection serves another HTTP/1 request after this response.
    pub keep_alive: bool,
}

/// True for statuses whose responses never carry a body or framing headers: 1xx, 204, 304
/// (RFC 9110 §6.4.1, RFC 9112 §6.3).
#[inline]
pub fn status_has_no_body(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// Decide the framing of one response (see the [module docs](self) for the rules).
#[inline]
pub fn decide(input: FramingInput) -> FramingDecision {
    if input.upgrade && input.status == 101 {
        // The connection leaves HTTP/1: no body, no framing, never back to keep-alive.
        return FramingDecision {
            framing: Framing::NoBody,
            content_length: None,
            chunked: false,
            connection: Some(ConnectionHeader::Upgrade),
            keep_alive: false,
        };
    }
    let mut keep_alive = input.keep_alive;
    let mut content_length = None;
    let mut chunked = false;
    let framing = if status_has_no_body(input.status) {
        Framing::NoBody
    } else {
        let framing = match (input.body_len, input.handler_length) {
            // A HEAD answer with an empty body: the handler's length describes the GET body.
            (Some(0), Some(n)) if input.is_head => {
                content_length = Some(n);
                Framing::Length(n)
            }
            // The body's own length wins over a handler's header.
            (Some(n), _) | (None, Some(n)) => {
                content_length = Some(n);
                Framing::Length(n)
            }
            (None, None) if input.version == Version::Http10 => {
                // HTTP/1.0 has no chunked coding: the end of the body is the end of the
                // connection.
                keep_alive = false;
                Framing::Close
            }
            (None, None) => {
                chunked = true;
                Framing::Chunked
            }
        };
        if input.is_head {
            Framing::NoBody
        } else {
            framing
        }
    };
    let connection = if !keep_alive {
        Some(ConnectionHeader::Close)
    } else if input.version == Version::Http10 {
        Some(ConnectionHeader::KeepAlive)
    } else {
        None
    };
    FramingDecision {
        framing,
        content_length,
        chunked,
        connection,
        keep_alive,
    }
}

#[cfg(test)]
mod tests;
