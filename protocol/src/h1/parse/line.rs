//! The request line (RFC 9112 §3): `method SP request-target SP HTTP-version`, exactly
//! one SP between the parts, and the four forms of request target (§3.2).

use super::scan::HeadBounds;
use super::{host, span, RequestHead, TargetForm};
use crate::h1::error::BadRequest;
use crate::h1::tokens::{find_non_vchar, is_tchar};
use crate::h1::{ParseError, Span, Version};
use memchr::{memchr, memchr2, memchr_iter};

/// Parse the request line into `head` (method, target, form, path, query, version).
/// Returns the authority of an absolute-form target, which Host must match.
pub(super) fn parse_request_line(
    buf: &[u8],
    bounds: &HeadBounds,
    head: &mut RequestHead,
) -> Result<Option<Span>, ParseError> {
    let start = bounds.start;
    let lf = bounds.req_end.saturating_sub(1);
    let mut end = lf;
    if end > start && buf.get(end - 1) == Some(&b'\r') {
        end -= 1;
    }
    let line = buf.get(..end).ok_or(BadRequest::InvalidRequestLine)?;

    // method SP
    let mut i = start;
    while line.get(i).is_some_and(|&b| is_tchar(b)) {
        i += 1;
    }
    match line.get(i) {
        Some(b' ') if i > start => {}
        Some(b'\r') => return Err(BadRequest::InvalidLineEnding.into()),
        Some(b' ' | b'\t') | None => return Err(BadRequest::InvalidRequestLine.into()),
        Some(_) => return Err(BadRequest::InvalidMethod.into()),
    }
    let method = span(start, i);

    // request-target SP
    let t0 = i + 1;
    let t1 = find_non_vchar(line, t0);
    match line.get(t1) {
        Some(b' ') if t1 > t0 => {}
        Some(b'\r') => return Err(BadRequest::InvalidLineEnding.into()),
        Some(b' ') | None => return Err(BadRequest::InvalidRequestLine.into()),
        Some(_) => return Err(BadRequest::InvalidTarget.into()),
    }

    // HTTP-version
    let version = line.get(t1 + 1..).unwrap_or_default();
    head.version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        _ if version.contains(&b'\r') => return Err(BadRequest::InvalidLineEnding.into()),
        [h, t, t2, p, b'/', major, b'.', minor]
            if [*h, *t, *t2, *p].eq_ignore_ascii_case(b"HTTP")
                && major.is_ascii_digit()
                && minor.is_ascii_digit() =>
        {
            return Err(ParseError::UnsupportedVersion)
        }
        _ => return Err(BadRequest::InvalidRequestLine.into()),
    };

    head.method = method;
    head.target = span(t0, t1);
    let method = line.get(start..i).unwrap_or_default();
    let target = line.get(t0..t1).unwrap_or_default();
    target_form(method, target, t0, head)
}

/// Classify the target and fill `head.target_form`, `head.path`, `head.query`.
fn target_form(
    method: &[u8],
    target: &[u8],
    t0: usize,
    head: &mut RequestHead,
) -> Result<Option<Span>, ParseError> {
    let t1 = t0 + target.len();
    if has_encoded_nul(target) {
        return Err(BadRequest::InvalidTarget.into());
    }
    let is_connect = method == b"CONNECT";
    if target.first() == Some(&b'/') {
        if is_connect {
            return Err(BadRequest::InvalidTarget.into());
        }
        head.target_form = TargetForm::Origin;
        split_query(target, t0, 0, head);
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
        split_query(target, t0, scheme_len + authority_len, head);
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

/// Set `head.path` to `target[from..]` up to the first `?` and `head.query` to the rest.
fn split_query(target: &[u8], t0: usize, from: usize, head: &mut RequestHead) {
    let t1 = t0 + target.len();
    let rest = target.get(from..).unwrap_or_default();
    match memchr(b'?', rest) {
        Some(q) => {
            let q = t0 + from + q;
            head.path = span(t0 + from, q);
            head.query = Some(span(q + 1, t1));
        }
        None => {
            head.path = span(t0 + from, t1);
            head.query = None;
        }
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

/// Whether `%00` appears anywhere in the target.
fn has_encoded_nul(target: &[u8]) -> bool {
    memchr_iter(b'%', target).any(|i| target.get(i + 1..i + 3) == Some(b"00"))
}
