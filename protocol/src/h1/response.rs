//! The response-head parser (client side; used by peregrine-load and by tests).
//! Same style as [`super::parse`]: a push parser over the caller's buffer, headers as spans.
//!
//! Strict where it matters for classifying a broken server: the status line must be
//! `HTTP/1.x SP 3DIGIT [SP reason]`, header names must be tokens, values must not hold
//! control characters, obs-fold is rejected, and framing headers must be unambiguous
//! (one Content-Length value, no Content-Length next to Transfer-Encoding, no
//! Transfer-Encoding on HTTP/1.0). Bare LF line endings are accepted (RFC 9112 §2.2),
//! a bare CR is not. The status-line prefix is checked before the line is complete, so
//! a server answering garbage is reported as soon as its first bytes arrive.
//!
//! Errors reuse [`ParseError`]: a malformed status line is
//! `BadRequest(InvalidRequestLine)`, a version other than 1.0/1.1 is
//! `UnsupportedVersion`, an oversized head is `HeadersTooLarge`.

use super::error::BadRequest;
use super::{BodyFraming, HeaderSpan, ParseError, Span, Status, Version};
use crate::h1::tokens::is_tchar;
use memchr::memchr;

/// Largest response head accepted: status line, header lines and the final empty line.
pub const MAX_RESPONSE_HEAD: usize = 64 * 1024;

/// Most header lines accepted in one response head.
pub const MAX_RESPONSE_HEADERS: usize = 128;

/// A parsed response head. Spans index the buffer given to [`parse_response`].
/// Reuse one value across responses to keep the header vector's allocation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The protocol version of the response.
    pub version: Option<Version>,
    /// The reason phrase (may be empty).
    pub reason: Span,
    /// Header lines in order.
    pub headers: Vec<HeaderSpan>,
    /// How the body is framed (considering the request method and status: HEAD, 1xx,
    /// 204 and 304 have no body).
    pub framing: Option<BodyFraming>,
    /// Whether the server keeps the connection open after this response.
    pub keep_alive: bool,
    /// Bytes the head occupies.
    pub head_len: usize,
}

impl ResponseHead {
    /// True for an interim (1xx) response: the final response follows it.
    pub fn is_informational(&self) -> bool {
        (100..200).contains(&self.status)
    }

    fn reset(&mut self) {
        self.status = 0;
        self.version = None;
        self.reason = Span::default();
        self.headers.clear();
        self.framing = None;
        self.keep_alive = false;
        self.head_len = 0;
    }
}

/// Parse a response head at the start of `buf` into `head`. `request_was_head` tells the
/// parser the response to a HEAD request carries no body.
///
/// Returns `Complete(n)` with `n == head.head_len` once the empty line ending the head
/// has arrived, `Partial` while more bytes are needed. Call again with the whole
/// (grown) buffer after each read; a partial result never becomes an error that a
/// longer buffer would not also produce.
pub fn parse_response(
    buf: &[u8],
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<Status<usize>, ParseError> {
    head.reset();

    const PREFIX: &[u8] = b"HTTP/";
    let n = buf.len().min(PREFIX.len());
    if buf[..n] != PREFIX[..n] {
        return Err(BadRequest::InvalidRequestLine.into());
    }

    let scan = &buf[..buf.len().min(MAX_RESPONSE_HEAD)];
    let Some(lf) = memchr(b'\n', scan) else {
        return partial(buf);
    };
    let line = strip_cr(&scan[..lf]);
    parse_status_line(line, head)?;

    let mut pos = lf + 1;
    let mut content_length: Option<u64> = None;
    let mut te_seen = false;
    let mut te_chunked = false;
    let mut conn_close = false;
    let mut conn_keep_alive = false;

    loop {
        let Some(i) = memchr(b'\n', &scan[pos..]) else {
            return partial(buf);
        };
        let start = pos;
        let line = strip_cr(&scan[start..start + i]);
        pos = start + i + 1;
        if line.is_empty() {
            break;
        }
        if line[0] == b' ' || line[0] == b'\t' {
            return Err(BadRequest::ObsFold.into());
        }
        if head.headers.len() == MAX_RESPONSE_HEADERS {
            return Err(ParseError::TooManyHeaders);
        }
        let Some(colon) = memchr(b':', line) else {
            return Err(BadRequest::InvalidHeaderName.into());
        };
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(BadRequest::InvalidHeaderName.into());
        }
        let mut vs = colon + 1;
        let mut ve = line.len();
        while vs < ve && is_ows(line[vs]) {
            vs += 1;
        }
        while ve > vs && is_ows(line[ve - 1]) {
            ve -= 1;
        }
        let value = &line[vs..ve];
        if !value.iter().all(|&b| VALUE_OK[b as usize]) {
            return Err(BadRequest::InvalidHeaderValue.into());
        }
        head.headers.push(HeaderSpan {
            name: span(start, start + colon),
            value: span(start + vs, start + ve),
        });

        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let n = parse_content_length(value)?;
                if content_length.is_some_and(|prev| prev != n) {
                    return Err(BadRequest::MultipleContentLength.into());
                }
                content_length = Some(n);
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                for coding in value.split(|&b| b == b',') {
                    let coding = trim_ows(coding);
                    if !coding.is_empty() {
                        te_seen = true;
                        te_chunked = coding.eq_ignore_ascii_case(b"chunked");
                    }
                }
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                for token in value.split(|&b| b == b',') {
                    let token = trim_ows(token);
                    if token.eq_ignore_ascii_case(b"close") {
                        conn_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        conn_keep_alive = true;
                    }
                }
            }
            _ => {}
        }
    }

    let version = head.version.unwrap_or(Version::Http11);
    if te_seen {
        if version == Version::Http10 {
            return Err(BadRequest::TransferEncodingOnHttp10.into());
        }
        if content_length.is_some() {
            return Err(BadRequest::ContentLengthWithTransferEncoding.into());
        }
    }
    let status = head.status;
    let no_body =
        request_was_head || (100..200).contains(&status) || status == 204 || status == 304;
    let framing = if no_body {
        BodyFraming::Empty
    } else if te_seen {
        if te_chunked {
            BodyFraming::Chunked
        } else {
            BodyFraming::CloseDelimited
        }
    } else if let Some(n) = content_length {
        BodyFraming::Length(n)
    } else {
        BodyFraming::CloseDelimited
    };
    head.framing = Some(framing);
    head.keep_alive = framing != BodyFraming::CloseDelimited
        && !conn_close
        && (version == Version::Http11 || conn_keep_alive);
    head.head_len = pos;
    Ok(Status::Complete(pos))
}

/// No end of line yet: more bytes are needed, unless the limit is already reached.
fn partial(buf: &[u8]) -> Result<Status<usize>, ParseError> {
    if buf.len() >= MAX_RESPONSE_HEAD {
        Err(ParseError::HeadersTooLarge)
    } else {
        Ok(Status::Partial)
    }
}

/// The line without its trailing CR; a CR anywhere else is left for the callers'
/// character checks to reject.
#[inline]
fn strip_cr(line: &[u8]) -> &[u8] {
    match line.split_last() {
        Some((b'\r', rest)) => rest,
        _ => line,
    }
}

/// `HTTP/1.x SP 3DIGIT [SP reason-phrase]`.
fn parse_status_line(line: &[u8], head: &mut ResponseHead) -> Result<(), ParseError> {
    let bad = || ParseError::from(BadRequest::InvalidRequestLine);
    // `HTTP/` was checked by the caller.
    let v = line.get(5..8).ok_or_else(bad)?;
    head.version = Some(match v {
        b"1.1" => Version::Http11,
        b"1.0" => Version::Http10,
        [a, b'.', b] if a.is_ascii_digit() && b.is_ascii_digit() => {
            return Err(ParseError::UnsupportedVersion)
        }
        [a, ..] if a.is_ascii_digit() => return Err(ParseError::UnsupportedVersion),
        _ => return Err(bad()),
    });
    if line.get(8) != Some(&b' ') {
        return Err(bad());
    }
    let code = line.get(9..12).ok_or_else(bad)?;
    if !code.iter().all(u8::is_ascii_digit) || code[0] == b'0' {
        return Err(bad());
    }
    head.status = code
        .iter()
        .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
    match line.get(12) {
        None => head.reason = span(12, 12),
        Some(b' ') => {
            let reason = &line[13..];
            if !reason.iter().all(|&b| VALUE_OK[b as usize]) {
                return Err(bad());
            }
            head.reason = span(13, line.len());
        }
        Some(_) => return Err(bad()),
    }
    Ok(())
}

/// One decimal value, or a list of identical ones (`5, 5`, RFC 9110 §8.6).
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let invalid = || ParseError::from(BadRequest::InvalidContentLength);
    let mut result: Option<u64> = None;
    for part in value.split(|&b| b == b',') {
        let part = trim_ows(part);
        if part.is_empty() {
            return Err(invalid());
        }
        let mut n: u64 = 0;
        for &d in part {
            if !d.is_ascii_digit() {
                return Err(invalid());
            }
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(invalid)?;
        }
        if result.is_some_and(|r| r != n) {
            return Err(BadRequest::MultipleContentLength.into());
        }
        result = Some(n);
    }
    result.ok_or_else(invalid)
}

#[inline]
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

#[inline]
fn span(start: usize, end: usize) -> Span {
    // The head is bounded by MAX_RESPONSE_HEAD, far below u32::MAX.
    Span {
        start: start as u32,
        end: end as u32,
    }
}

/// Field-value and reason-phrase bytes: HTAB, SP, VCHAR, obs-text.
static VALUE_OK: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i == b'\t' as usize || (i >= 0x20 && i != 0x7f);
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Status<usize>, ParseError> {
        parse_response(buf, false, &mut ResponseHead::default())
    }

    fn parse_ok(buf: &[u8], was_head: bool) -> ResponseHead {
        let mut head = ResponseHead::default();
        match parse_response(buf, was_head, &mut head) {
            Ok(Status::Complete(n)) => assert_eq!(n, head.head_len),
            other => panic!("expected Complete, got {other:?}"),
        }
        head
    }

    fn header<'a>(buf: &'a [u8], head: &ResponseHead, name: &str) -> Option<&'a [u8]> {
        head.headers
            .iter()
            .find(|h| h.name.of(buf).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.of(buf))
    }

    #[test]
    fn simple_content_length() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";
        let head = parse_ok(buf, false);
        assert_eq!(head.status, 200);
        assert_eq!(head.version, Some(Version::Http11));
        assert_eq!(head.reason.of(buf), b"OK");
        assert_eq!(head.framing, Some(BodyFraming::Length(13)));
        assert!(head.keep_alive);
        assert_eq!(head.head_len, buf.len() - 13);
        assert_eq!(head.headers.len(), 2);
        assert_eq!(header(buf, &head, "content-type"), Some(&b"text/plain"[..]));
    }

    #[test]
    fn partial_everywhere() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
        for i in 0..buf.len() {
            assert_eq!(parse(&buf[..i]), Ok(Status::Partial), "prefix {i}");
        }
        assert_eq!(parse(buf), Ok(Status::Complete(buf.len())));
    }

    #[test]
    fn chunked_and_close_delimited() {
        let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert_eq!(parse_ok(buf, false).framing, Some(BodyFraming::Chunked));
        let buf = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n";
        let head = parse_ok(buf, false);
        assert_eq!(head.framing, Some(BodyFraming::CloseDelimited));
        assert!(!head.keep_alive);
        let buf = b"HTTP/1.1 200 OK\r\nServer: x\r\n\r\n";
        let head = parse_ok(buf, false);
        assert_eq!(head.framing, Some(BodyFraming::CloseDelimited));
        assert!(!head.keep_alive);
    }

    #[test]
    fn bodiless_responses() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        assert_eq!(parse_ok(buf, true).framing, Some(BodyFraming::Empty));
        for status in [
            "100 Continue",
            "101 Switching",
            "204 No Content",
            "304 Not Modified",
        ] {
            let buf = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
            let head = parse_ok(buf.as_bytes(), false);
            assert_eq!(head.framing, Some(BodyFraming::Empty), "{status}");
        }
        let head = parse_ok(b"HTTP/1.1 100 Continue\r\n\r\n", false);
        assert!(head.is_informational());
        let head = parse_ok(b"HTTP/1.1 204 No Content\r\n\r\n", false);
        assert!(head.keep_alive);
    }

    #[test]
    fn keep_alive_rules() {
        let head = parse_ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            false,
        );
        assert!(!head.keep_alive);
        let head = parse_ok(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!(head.version, Some(Version::Http10));
        assert!(!head.keep_alive);
        let head = parse_ok(
            b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n",
            false,
        );
        assert!(head.keep_alive);
        let head = parse_ok(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: upgrade, CLOSE\r\n\r\n",
            false,
        );
        assert!(!head.keep_alive);
    }

    #[test]
    fn status_line_forms() {
        let head = parse_ok(b"HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", false);
        assert_eq!(head.status, 404);
        assert!(head.reason.is_empty());
        let buf = b"HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n";
        let head = parse_ok(buf, false);
        assert_eq!(head.status, 500);
        assert_eq!(head.reason.of(buf), b"");
        let buf = b"HTTP/1.1 599 Some\tOdd reason \xff\r\n\r\n";
        assert_eq!(
            parse_ok(buf, false).reason.of(buf),
            b"Some\tOdd reason \xff"
        );
    }

    #[test]
    fn bare_lf_accepted() {
        let buf = b"HTTP/1.1 200 OK\nContent-Length: 3\n\nabc";
        let head = parse_ok(buf, false);
        assert_eq!(head.head_len, buf.len() - 3);
        assert_eq!(head.framing, Some(BodyFraming::Length(3)));
    }

    #[test]
    fn spans_trim_ows() {
        let buf = b"HTTP/1.1 200 OK\r\nX-A: \t spaced \t \r\nX-Empty:\r\nContent-Length:0\r\n\r\n";
        let head = parse_ok(buf, false);
        assert_eq!(header(buf, &head, "x-a"), Some(&b"spaced"[..]));
        assert_eq!(header(buf, &head, "x-empty"), Some(&b""[..]));
        assert_eq!(head.headers[0].name.of(buf), b"X-A");
        assert_eq!(head.framing, Some(BodyFraming::Length(0)));
    }

    #[test]
    fn garbage_detected_early() {
        let bad = Err(ParseError::from(BadRequest::InvalidRequestLine));
        assert_eq!(parse(b"g"), bad);
        assert_eq!(parse(b"garbage"), bad);
        assert_eq!(parse(b"HTTX"), bad);
        assert_eq!(parse(b"<html>"), bad);
        assert_eq!(parse(b"\r\nHTTP/1.1 200 OK\r\n\r\n"), bad);
        assert_eq!(parse(b"HTTP"), Ok(Status::Partial));
        assert_eq!(parse(b""), Ok(Status::Partial));
    }

    #[test]
    fn malformed_status_lines() {
        let bad = Err(ParseError::from(BadRequest::InvalidRequestLine));
        for line in [
            &b"HTTP/1.1\r\n\r\n"[..],
            b"HTTP/1.1 20\r\n\r\n",
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 099 OK\r\n\r\n",
            b"HTTP/1.1  200 OK\r\n\r\n",
            b"HTTP/1.1\t200 OK\r\n\r\n",
            b"HTTP/1.1 200 O\x01K\r\n\r\n",
            b"HTTP/1.1 200 OK\rX\r\n\r\n",
            b"HTTP/x.1 200 OK\r\n\r\n",
        ] {
            assert_eq!(parse(line), bad, "{:?}", String::from_utf8_lossy(line));
        }
        assert_eq!(
            parse(b"HTTP/2.0 200 OK\r\n\r\n"),
            Err(ParseError::UnsupportedVersion)
        );
        assert_eq!(
            parse(b"HTTP/2 200 OK\r\n\r\n"),
            Err(ParseError::UnsupportedVersion)
        );
        assert_eq!(
            parse(b"HTTP/1.2 200 OK\r\n\r\n"),
            Err(ParseError::UnsupportedVersion)
        );
    }

    #[test]
    fn malformed_headers() {
        let check = |h: &[u8], e: ParseError| {
            let mut buf = b"HTTP/1.1 200 OK\r\n".to_vec();
            buf.extend_from_slice(h);
            buf.extend_from_slice(b"\r\n\r\n");
            assert_eq!(parse(&buf), Err(e), "{:?}", String::from_utf8_lossy(h));
        };
        let name = ParseError::from(BadRequest::InvalidHeaderName);
        let value = ParseError::from(BadRequest::InvalidHeaderValue);
        check(b"NoColon", name);
        check(b": empty", name);
        check(b"Bad Name: x", name);
        check(b"Name : x", name);
        check(b"N\x00: x", name);
        check(b"Name: a\x00b", value);
        check(b"Name: a\rb", value);
        check(b"Name: a\x7fb", value);
        check(b"A: b\r\n folded", BadRequest::ObsFold.into());
        check(
            b"Content-Length: 1\r\nContent-Length: 2",
            BadRequest::MultipleContentLength.into(),
        );
        check(
            b"Content-Length: 1, 2",
            BadRequest::MultipleContentLength.into(),
        );
        check(
            b"Content-Length: -1",
            BadRequest::InvalidContentLength.into(),
        );
        check(b"Content-Length: ", BadRequest::InvalidContentLength.into());
        check(
            b"Content-Length: 0x10",
            BadRequest::InvalidContentLength.into(),
        );
        check(
            b"Content-Length: 99999999999999999999",
            BadRequest::InvalidContentLength.into(),
        );
        check(
            b"Content-Length: 1\r\nTransfer-Encoding: chunked",
            BadRequest::ContentLengthWithTransferEncoding.into(),
        );
        let buf = b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(parse(buf), Err(BadRequest::TransferEncodingOnHttp10.into()));
    }

    #[test]
    fn duplicate_equal_content_length_accepted() {
        let buf = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\ncontent-length: 4, 4\r\n\r\n";
        assert_eq!(parse_ok(buf, false).framing, Some(BodyFraming::Length(4)));
    }

    #[test]
    fn limits() {
        let mut buf = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..MAX_RESPONSE_HEADERS {
            buf.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        let mut ok = buf.clone();
        ok.extend_from_slice(b"\r\n");
        assert!(matches!(parse(&ok), Ok(Status::Complete(_))));
        buf.extend_from_slice(b"X-last: v\r\n\r\n");
        assert_eq!(parse(&buf), Err(ParseError::TooManyHeaders));

        let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        big.resize(MAX_RESPONSE_HEAD - 1, b'a');
        assert_eq!(parse(&big), Ok(Status::Partial));
        big.push(b'a');
        assert_eq!(parse(&big), Err(ParseError::HeadersTooLarge));
    }

    #[test]
    fn reuse_clears_previous_state() {
        let mut head = ResponseHead::default();
        let a = b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 1\r\n\r\n";
        parse_response(a, false, &mut head).unwrap();
        assert_eq!(head.headers.len(), 3);
        let b = b"HTTP/1.1 204 No Content\r\n\r\n";
        parse_response(b, false, &mut head).unwrap();
        assert_eq!(head.headers.len(), 0);
        assert_eq!(head.status, 204);
        assert_eq!(head.framing, Some(BodyFraming::Empty));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn token() -> impl Strategy<Value = String> {
            "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
        }

        fn value() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(prop_oneof![Just(b'\t'), 0x20u8..0x7f, 0x80u8..=0xff], 0..24)
        }

        prop_compose! {
            fn response()(
                v11 in any::<bool>(),
                status in 100u16..1000,
                reason in "[ -~]{0,16}",
                headers in proptest::collection::vec((token(), value()), 0..8),
                cl in proptest::option::of(0u64..100_000),
                chunked in any::<bool>(),
                lf_only in any::<bool>(),
                body in proptest::collection::vec(any::<u8>(), 0..16),
            ) -> Vec<u8> {
                let eol: &[u8] = if lf_only { b"\n" } else { b"\r\n" };
                let mut b = Vec::new();
                b.extend_from_slice(if v11 { b"HTTP/1.1 " } else { b"HTTP/1.0 " });
                b.extend_from_slice(format!("{status} {reason}").as_bytes());
                b.extend_from_slice(eol);
                for (name, value) in headers {
                    let lname = name.to_ascii_lowercase();
                    if ["content-length", "transfer-encoding", "connection"].contains(&lname.as_str()) {
                        continue;
                    }
                    b.extend_from_slice(name.as_bytes());
                    b.extend_from_slice(b": ");
                    b.extend_from_slice(&value);
                    b.extend_from_slice(eol);
                }
                if chunked && v11 {
                    b.extend_from_slice(b"Transfer-Encoding: chunked");
                    b.extend_from_slice(eol);
                } else if let Some(cl) = cl {
                    b.extend_from_slice(format!("Content-Length: {cl}").as_bytes());
                    b.extend_from_slice(eol);
                }
                b.extend_from_slice(eol);
                b.extend_from_slice(&body);
                b
            }
        }

        proptest! {
            /// A valid response parses the same whether it arrives in one piece or is
            /// cut at any byte: every strict prefix of the head is `Partial`.
            #[test]
            fn split_at_any_byte_is_one_piece(buf in response(), was_head in any::<bool>()) {
                let mut whole = ResponseHead::default();
                let n = match parse_response(&buf, was_head, &mut whole) {
                    Ok(Status::Complete(n)) => n,
                    other => return Err(TestCaseError::fail(format!("{other:?}"))),
                };
                for i in 0..n {
                    let mut h = ResponseHead::default();
                    prop_assert_eq!(parse_response(&buf[..i], was_head, &mut h), Ok(Status::Partial));
                }
                // Extra bytes after the head never change it.
                for i in n..=buf.len() {
                    let mut h = ResponseHead::default();
                    prop_assert_eq!(parse_response(&buf[..i], was_head, &mut h), Ok(Status::Complete(n)));
                    prop_assert_eq!(&h, &whole);
                }
            }

            /// With a byte changed anywhere, each prefix is either still `Partial` or
            /// gives exactly the answer the whole buffer gives.
            #[test]
            fn mutated_prefixes_agree(buf in response(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
                let mut buf = buf;
                let i = at.index(buf.len());
                buf[i] = byte;
                let mut whole = ResponseHead::default();
                let full = parse_response(&buf, false, &mut whole);
                for i in 0..buf.len() {
                    let mut h = ResponseHead::default();
                    let r = parse_response(&buf[..i], false, &mut h);
                    if r != Ok(Status::Partial) {
                        prop_assert_eq!(r, full);
                        if let Ok(Status::Complete(_)) = r {
                            prop_assert_eq!(&h, &whole);
                        }
                    }
                }
            }
        }
    }
}
