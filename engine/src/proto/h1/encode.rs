//! Encoding a handler's response head: status line, the handler's headers, then the
//! headers the server owns (`Date`, `Server`, framing, `Connection`).

use bytes::BytesMut;
use http::header::{CONNECTION, CONTENT_LENGTH, DATE, SERVER, TRANSFER_ENCODING};
use http::{HeaderName, HeaderValue, StatusCode};
use peregrine_protocol::h1::encode::{write_content_length, write_header, write_status_line};
use peregrine_protocol::h1::Version;

use crate::date::DateCache;

/// How the body that follows a head is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body bytes at all (HEAD, 1xx, 204, 304).
    NoBody,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Raw bytes until the connection closes (streams to HTTP/1.0 clients).
    Close,
}

/// What the encoder needs to know about the request being answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReqMeta {
    pub version: Version,
    pub is_head: bool,
}

/// Write the head for `status` and `headers`; `body_len` is the body's length when known.
/// Returns the body framing and updates `keep_alive` (a close-delimited body ends the
/// connection).
#[allow(clippy::too_many_arguments)]
pub(crate) fn encode_head(
    dst: &mut BytesMut,
    status: StatusCode,
    headers: &[(HeaderName, HeaderValue)],
    body_len: Option<u64>,
    req: ReqMeta,
    keep_alive: &mut bool,
    date: &DateCache,
    server: Option<&[u8]>,
) -> Framing {
    let status = status.as_u16();
    write_status_line(dst, Version::Http11, status);
    let mut has_date = false;
    let mut has_server = false;
    let mut handler_length: Option<u64> = None;
    for (name, value) in headers {
        if *name == CONTENT_LENGTH {
            // Kept only where the body's own length is unknown (streams) or absent (HEAD).
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
        (false, false) => dst.extend_from_slice(&date.lines()),
        _ => {
            if !has_date {
                write_header(dst, b"Date", &date.get());
            }
            if let (false, Some(server)) = (has_server, server) {
                write_header(dst, b"Server", server);
            }
        }
    }
    let no_body_status = (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body_status {
        Framing::NoBody
    } else {
        match (body_len, handler_length) {
            (Some(0), Some(n)) if req.is_head => {
                write_content_length(dst, n);
                Framing::NoBody
            }
            (Some(n), _) => {
                write_content_length(dst, n);
                if req.is_head {
                    Framing::NoBody
                } else {
                    Framing::Length(n)
                }
            }
            (None, Some(n)) => {
                write_content_length(dst, n);
                if req.is_head {
                    Framing::NoBody
                } else {
                    Framing::Length(n)
                }
            }
            (None, None) if req.version == Version::Http10 => {
                *keep_alive = false;
                if req.is_head {
                    Framing::NoBody
                } else {
                    Framing::Close
                }
            }
            (None, None) => {
                write_header(dst, b"Transfer-Encoding", b"chunked");
                if req.is_head {
                    Framing::NoBody
                } else {
                    Framing::Chunked
                }
            }
        }
    };
    if !*keep_alive {
        write_header(dst, b"Connection", b"close");
    } else if req.version == Version::Http10 {
        write_header(dst, b"Connection", b"keep-alive");
    }
    dst.extend_from_slice(b"\r\n");
    framing
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
    date: &DateCache,
    server: Option<&[u8]>,
) {
    write_status_line(dst, Version::Http11, 101);
    dst.extend_from_slice(b"Connection: Upgrade\r\n");
    write_header(dst, b"Upgrade", protocol);
    write_header(dst, b"Date", &date.get());
    if let Some(server) = server {
        write_header(dst, b"Server", server);
    }
    dst.extend_from_slice(b"\r\n");
}
