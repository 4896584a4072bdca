//! Encoding a handler's response head: status line, the handler's headers, then the
//! headers the server owns (`Date`, `Server`, then the framing and `Connection` headers
//! that [`peregrine_protocol::h1::framing`] decides).

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, StatusCode};
use peregrine_protocol::h1::encode::{write_content_length, write_header, write_status_line};
pub(crate) use peregrine_protocol::h1::framing::Framing;
use peregrine_protocol::h1::framing::{decide, FramingDecision, FramingInput};
use peregrine_protocol::h1::Version;

use crate::date::DateCache;

/// What the encoder needs to know about the request being answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReqMeta {
    pub version: Version,
    pub is_head: bool,
}

/// A response head to encode, with what the framing depends on.
pub(crate) struct Head<'a> {
    /// The handler's status.
    pub status: StatusCode,
    /// The handler's headers (its `Content-Length`, `Transfer-Encoding` and `Connection`
    /// are not written as they are: the server owns framing).
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// The body's length when known.
    pub body_len: Option<u64>,
    /// The request being answered.
    pub req: ReqMeta,
    /// Whether the connection may stay open after this response.
    pub keep_alive: bool,
    /// The cached `Date` (and `Server`) lines.
    pub date: &'a DateCache,
    /// The `Server` header value, if one is sent.
    pub server: Option<&'a [u8]>,
}

/// Write `head` into `dst`. Returns the framing decision: how the body is framed and
/// whether keep-alive survives (a close-delimited body ends the connection).
// Always inlined: called once per response, and a call costs an argument copy.
#[inline(always)]
pub(crate) fn encode_head(dst: &mut BytesMut, head: Head<'_>) -> FramingDecision {
    let status = head.status.as_u16();
    write_status_line(dst, Version::Http11, status);
    let mut has_date = false;
    let mut has_server = false;
    let mut handler_length: Option<u64> = None;
    for (name, value) in head.headers {
        if *name == CONTENT_LENGTH {
            // An input to the framing policy, written only where it decides.
            handler_length = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|v| v.trim().parse().ok());
            continue;
        }
        if *name == TRANSFER_ENCODING || *name == CONNECTION {
            // The server owns message framing and connection management.
            continue;
        }
        has_date |= *name == DATE;
        has_server |= *name == SERVER;
        write_header(dst, name.as_str().as_bytes(), value.as_bytes());
    }
    match (has_date, has_server) {
        // The usual case: one copy of the cached `Date` + `Server` lines.
        (false, false) => dst.extend_from_slice(&head.date.lines()),
        _ => {
            if !has_date {
                write_header(dst, b"Date", &head.date.get());
            }
            if let (false, Some(server)) = (has_server, head.server) {
                write_header(dst, b"Server", server);
            }
        }
    }
    let decision = decide(FramingInput {
        status,
        version: head.req.version,
        is_head: head.req.is_head,
        body_len: head.body_len,
        handler_length,
        keep_alive: head.keep_alive,
        // The engine does not hand connections over to other protocols.
        upgrade: false,
    });
    if let Some(n) = decision.content_length {
        write_content_length(dst, n);
    }
    if decision.chunked {
        write_header(dst, b"Transfer-Encoding", b"chunked");
    }
    if let Some(connection) = decision.connection {
        write_header(dst, b"Connection", connection.as_bytes());
    }
    dst.extend_from_slice(b"\r\n");
    decision
}

/// The head of an error answer the server writes itself: status, `Content-Length: 0`,
/// `Connection: close`, `Date`, `Server`, and `Allow` for 405.
pub(crate) fn encode_error(
    dst: &mut BytesMut,
    status: u16,
    allow: Option<&str>,
    date: &[u8],
    server: Option<&[u8]>,
) {
    write_status_line(dst, Version::Http11, status);
    dst.extend_from_slice(b"Content-Length: 0\r\nConnection: close\r\n");
    write_header(dst, b"Date", date);
    if let Some(allow) = allow {
        write_header(dst, b"Allow", allow.as_bytes());
    }
    if let Some(server) = server {
        write_header(dst, b"Server", server);
    }
    dst.extend_from_slice(b"\r\n");
}

/// The head of `101 Switching Protocols` for an opaque upgrade: `Connection: Upgrade`,
/// `Upgrade: protocol`, `Date`, `Server`; no body framing (Kestrel's wire form).
pub(crate) fn encode_switching(
    dst: &mut BytesMut,
    protocol: &[u8],
    extra: &[(http::HeaderName, http::HeaderValue)],
    date: &DateCache,
    server: Option<&[u8]>,
) {
    write_status_line(dst, Version::Http11, 101);
    dst.extend_from_slice(b"Connection: Upgrade\r\n");
    write_header(dst, b"Upgrade", protocol);
    for (name, value) in extra {
        write_header(dst, name.as_str().as_bytes(), value.as_bytes());
    }
    write_header(dst, b"Date", &date.get());
    if let Some(server) = server {
        write_header(dst, b"Server", server);
    }
    dst.extend_from_slice(b"\r\n");
}
