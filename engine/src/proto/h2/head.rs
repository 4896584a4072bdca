//! An HTTP/2 request head as a [`Request`]: the target, the authority and the header
//! fields are copied into one buffer and addressed by spans, exactly as an HTTP/1 head
//! is, so the handler cannot tell the protocols apart but by [`Request::version`].
//! The HTTP/1 limits hold per stream (Kestrel's rules): too many or too large header
//! fields → `431`; a request line (method, scheme, authority, path) over the limit →
//! RST_STREAM(PROTOCOL_ERROR); a target that is not a clean path → `400`.

use std::rc::Rc;

use bytes::{BufMut, BytesMut};
use http::request::Parts;
use http::{Method, Version};
use peregrine_protocol::h1::parse::Limits;
use peregrine_protocol::h1::target::normalize_path;
use peregrine_protocol::h1::{HeaderSpan, Span};

use crate::request::{PathRepr, Request, RequestBody, RequestIo, SpareHeaders};
use crate::transport::ConnInfo;

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// Answer with this status.
    Status(u16),
    /// Reset the stream with PROTOCOL_ERROR.
    Malformed,
}

/// The limits a head is checked against.
#[derive(Debug, Clone, Copy)]
pub(super) struct HeadLimits {
    pub h1: Limits,
    pub max_field: usize,
}

/// Check `parts` and copy it into a [`Request`].
pub(super) fn request(
    parts: &Parts,
    limits: HeadLimits,
    conn: Rc<ConnInfo>,
    io: Rc<dyn RequestIo>,
    has_body: bool,
    upgradable: bool,
) -> Result<Request, Refused> {
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("/");
    let authority = parts.uri.authority().map(|a| a.as_str());
    let scheme = parts.uri.scheme_str().unwrap_or("");
    let line =
        parts.method.as_str().len() + scheme.len() + authority.map_or(0, str::len) + target.len();
    if line > limits.h1.max_request_line {
        return Err(Refused::Malformed);
    }
    if parts.headers.len() > limits.h1.max_header_count {
        return Err(Refused::Status(431));
    }
    let mut total = 0usize;
    for (name, value) in &parts.headers {
        let field = name.as_str().len() + value.len();
        if field > limits.max_field {
            return Err(Refused::Status(431));
        }
        total += field;
    }
    if total > limits.h1.max_headers_total {
        return Err(Refused::Status(431));
    }
    // The target must be what an HTTP/1 request line may carry (visible ASCII).
    if !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Refused::Status(400));
    }

    let mut head =
        BytesMut::with_capacity(target.len() + authority.map_or(0, str::len) + total + 8);
    let target_span = push(&mut head, target.as_bytes());
    let (raw_path, query) = match target.find('?') {
        Some(q) => (
            Span {
                start: target_span.start,
                end: target_span.start + q as u32,
            },
            Some(Span {
                start: target_span.start + q as u32 + 1,
                end: target_span.end,
            }),
        ),
        None => (target_span, None),
    };
    let path = if parts.method == Method::CONNECT && parts.uri.path_and_query().is_none() {
        PathRepr::Raw(target_span)
    } else {
        path_repr(
            raw_path,
            &target.as_bytes()[..(raw_path.end - raw_path.start) as usize],
        )?
    };
    let mut headers = Vec::with_capacity(parts.headers.len() + 1);
    let mut host = None;
    if let Some(a) = authority {
        // `:authority` stands for Host (RFC 9113 §8.3.1), and is shown as one.
        let name = push(&mut head, b"host");
        let value = push(&mut head, a.as_bytes());
        headers.push(HeaderSpan { name, value });
        host = Some(value);
    }
    for (name, value) in &parts.headers {
        if name == http::header::HOST && authority.is_some() {
            continue;
        }
        let name = push(&mut head, name.as_str().as_bytes());
        let value = push(&mut head, value.as_bytes());
        if host.is_none() && name.of(&head) == b"host" {
            host = Some(value);
        }
        headers.push(HeaderSpan { name, value });
    }
    let spare: SpareHeaders = Rc::default();
    Ok(Request {
        head: head.freeze(),
        method: parts.method.clone(),
        version: Version::HTTP_2,
        target: target_span,
        path,
        query,
        headers,
        host,
        body: RequestBody::new(has_body.then(|| io.clone())),
        conn,
        io,
        spare_headers: spare,
        upgradable,
    })
}

/// Append `bytes`; the span they occupy.
fn push(head: &mut BytesMut, bytes: &[u8]) -> Span {
    let start = head.len() as u32;
    head.put_slice(bytes);
    Span {
        start,
        end: head.len() as u32,
    }
}

/// The path the handler sees: the raw one when already normal.
fn path_repr(span: Span, raw: &[u8]) -> Result<PathRepr, Refused> {
    let clean =
        raw.first() == Some(&b'/') && !raw.contains(&b'%') && !raw.windows(2).any(|w| w == b"/.");
    if clean {
        return Ok(PathRepr::Raw(span));
    }
    normalize_path(raw)
        .map(PathRepr::Owned)
        .map_err(|_| Refused::Status(400))
}
