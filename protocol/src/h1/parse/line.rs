//! The request line (RFC 9112 §3): `method SP request-target SP HTTP-version`, exactly
//! one SP between the parts, and the four forms of request target (§3.2).

use super::{host, span, RequestHead, TargetForm};
use crate::h1::error::BadRequest;
use crate::h1::tokens::{find_target_event, token_len};
use crate::h1::{ParseError, Span, Version};
use memchr::{memchr, memchr2};

/// Parse the request line starting at `start` into `head` (method, target, form, path,
/// query, version) and `authority` (of an absolute-form target, which Host must
/// match). Returns the offset just past the line's LF. Works on a buffer that may hold
/// more than the head, or too little (then an error: the scan decides what it is).
#[inline(always)]
pub(super) fn parse_request_line(
    buf: &[u8],
    start: usize,
    head: &mut RequestHead,
    authority: &mut Option<Span>,
) -> Result<usize, ParseError> {
    // method SP
    let i = start + token_len(buf.get(start..).unwrap_or_default());
    match buf.get(i) {
        Some(b' ') if i > start => {}
        Some(b'\t') => return Err(BadRequest::InvalidRequestLine.into()),
        _ => return Err(stop_error(buf, i, BadRequest::InvalidMethod)),
    }
    let method_end = i;

    // request-target SP
    let t0 = i + 1;
    let target = scan_target(buf, t0);
    let t1 = target.end;
    match buf.get(t1) {
        Some(b' ') if t1 > t0 => {}
        _ => return Err(stop_error(buf, t1, BadRequest::InvalidTarget)),
    }

    // HTTP-version line-ending
    let v0 = t1 + 1;
    let version = match buf.get(v0..v0 + 8) {
        Some(b"HTTP/1.1") => Version::Http11,
        Some(b"HTTP/1.0") => Version::Http10,
        _ => return Err(version_error(buf, v0)),
    };
    let req_end = match buf.get(v0 + 8..v0 + 10) {
        Some([b'\n', _]) => v0 + 9,
        Some([b'\r', b'\n']) => v0 + 10,
        None if buf.get(v0 + 8) == Some(&b'\n') => v0 + 9,
        _ => return Err(version_error(buf, v0)),
    };

    head.version = version;
    head.method = span(start, method_end);
    head.target = span(t0, t1);
    if target.encoded_nul {
        return Err(BadRequest::InvalidTarget.into());
    }
    let method = buf.get(start..method_end).unwrap_or_default();
    *authority = target_form(
        method,
        buf.get(t0..t1).unwrap_or_default(),
        t0,
        target.query,
        head,
    )?;
    Ok(req_end)
}

/// The error for a method or target that stopped at byte `i` instead of at SP.
#[cold]
fn stop_error(buf: &[u8], i: usize, otherwise: BadRequest) -> ParseError {
    match buf.get(i) {
        Some(b'\r') if buf.get(i + 1) != Some(&b'\n') => BadRequest::InvalidLineEnding,
        Some(b' ' | b'\r' | b'\n') | None => BadRequest::InvalidRequestLine,
        Some(_) => otherwise,
    }
    .into()
}

/// The error for a version (from `v0` to the end of the line) that is not exactly
/// `HTTP/1.1` or `HTTP/1.0`: 505 for another `HTTP/x.y`, 400 otherwise.
#[cold]
fn version_error(buf: &[u8], v0: usize) -> ParseError {
    let rest = buf.get(v0..).unwrap_or_default();
    let Some(lf) = memchr(b'\n', rest) else {
        return BadRequest::InvalidRequestLine.into();
    };
    let mut version = rest.get(..lf).unwrap_or_default();
    if let [v @ .., b'\r'] = version {
        version = v;
    }
    match version {
        _ if version.contains(&b'\r') => BadRequest::InvalidLineEnding.into(),
        [h, t, t2, p, b'/', major, b'.', minor]
            if [*h, *t, *t2, *p].eq_ignore_ascii_case(b"HTTP")
                && major.is_ascii_digit()
                && minor.is_ascii_digit() =>
        {
            ParseError::UnsupportedVersion
        }
        _ => BadRequest::InvalidRequestLine.into(),
    }
}

/// What one pass over the target found.
struct TargetScan {
    /// Offset of the first byte that is not a VCHAR (SP for a valid line).
    end: usize,
    /// Offset of the first `?`.
    query: Option<usize>,
    /// `%00` appears.
    encoded_nul: bool,
}

/// Scan the target from `t0` in one pass: its end, its first `?`, and any `%00`.
#[inline(always)]
fn scan_target(buf: &[u8], t0: usize) -> TargetScan {
    let mut scan = TargetScan {
        end: t0,
        query: None,
        encoded_nul: false,
    };
    let mut i = t0;
    loop {
        i = find_target_event(buf, i);
        match buf.get(i) {
            Some(b'?') => {
                scan.query.get_or_insert(i);
            }
            Some(b'%') => scan.encoded_nul |= buf.get(i + 1..i + 3) == Some(b"00"),
            _ => {
                scan.end = i;
                return scan;
            }
        }
        i += 1;
    }
}

/// Classify the target and fill `head.target_form`, `head.path`, `head.query`.
/// `query` is the offset of the target's first `?`.
#[inline(always)]
fn target_form(
    method: &[u8],
    target: &[u8],
    t0: usize,
    query: Option<usize>,
    head: &mut RequestHead,
) -> Result<Option<Span>, ParseError> {
    let t1 = t0 + target.len();
    let is_connect = method == b"CONNECT";
    let set_path = |head: &mut RequestHead, path_start: usize| match query {
        Some(q) => {
            head.path = span(path_start, q);
            head.query = Some(span(q + 1, t1));
        }
        None => {
            head.path = span(path_start, t1);
            head.query = None;
        }
    };
    if target.first() == Some(&b'/') {
        if is_connect {
            return Err(BadRequest::InvalidTarget.into());
        }
        head.target_form = TargetForm::Origin;
        set_path(head, t0);
        Ok(None)
    } else if target == b"*" {
        if is_connect {
            return Err(BadRequest::InvalidTarget.into());
        }
        if method != b"OPTIONS" {
            return Err(ParseError::MethodNotAllowed { allow: "OPTIONS" });
        }
        head.target_form = TargetForm::Asterisk;
        head.path = span(t0, t1);
        head.query = None;
        Ok(None)
    } else if let Some(scheme_len) = http_scheme_len(target) {
        if is_connect {
            return Err(BadRequest::InvalidTarget.into());
        }
        let rest = target.get(scheme_len..).unwrap_or_default();
        let authority_len = memchr2(b'/', b'?', rest).unwrap_or(rest.len());
        let authority = rest.get(..authority_len).unwrap_or_default();
        if !host::is_valid_host(authority) {
            return Err(BadRequest::InvalidTarget.into());
        }
        head.target_form = TargetForm::Absolute;
        let a0 = t0 + scheme_len;
        set_path(head, a0 + authority_len);
        Ok(Some(span(a0, a0 + authority_len)))
    } else if host::is_valid_authority_form(target) {
        if !is_connect {
            return Err(ParseError::MethodNotAllowed { allow: "CONNECT" });
        }
        head.target_form = TargetForm::Authority;
        head.path = span(t1, t1);
        head.query = None;
        Ok(None)
    } else {
        Err(BadRequest::InvalidTarget.into())
    }
}

/// Length of a leading `http://` or `https://` (case-insensitive), if any.
fn http_scheme_len(target: &[u8]) -> Option<usize> {
    if target.len() >= 7 && target[..7].eq_ignore_ascii_case(b"http://") {
        Some(7)
    } else if target.len() >= 8 && target[..8].eq_ignore_ascii_case(b"https://") {
        Some(8)
    } else {
        None
    }
}
