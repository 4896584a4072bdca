//! Header field lines (RFC 9112 §5): `name ":" OWS value OWS`, name a token with no
//! whitespace before the colon, value free of control characters other than HTAB,
//! no obs-fold. While parsing, the fields that govern framing and the connection are
//! picked out into [`Fields`] (checked together in [`super::semantics`]).

use super::{span, Limits, RequestHead};
use crate::h1::error::BadRequest;
use crate::h1::tokens::{elements, eq_lower, find_ctl, token_len};
use crate::h1::{HeaderSpan, ParseError, Span};

/// What the header section says about framing, Host and the connection.
#[derive(Debug, Default)]
pub(super) struct Fields {
    /// The value of the one Content-Length header.
    pub content_length: Option<u64>,
    /// A Transfer-Encoding header was present.
    pub transfer_encoding: bool,
    /// `chunked` was listed (once).
    pub chunked_seen: bool,
    /// The last transfer coding listed so far is `chunked`.
    pub chunked_last: bool,
    /// The value of the one Host header.
    pub host: Option<Span>,
    /// Connection tokens seen.
    pub conn_close: bool,
    /// Connection: keep-alive.
    pub conn_keep_alive: bool,
    /// Connection: upgrade.
    pub conn_upgrade: bool,
    /// A non-empty Upgrade header.
    pub upgrade: bool,
    /// Expect: 100-continue.
    pub expect_continue: bool,
}

/// Parse the header lines from `i` (just after the request line) through the final
/// empty line into `head.headers` and `fields`; returns the offset just past that
/// empty line.
#[inline(always)]
pub(super) fn parse_headers(
    buf: &[u8],
    mut i: usize,
    limits: &Limits,
    head: &mut RequestHead,
    fields: &mut Fields,
) -> Result<usize, ParseError> {
    loop {
        match buf.get(i) {
            Some(b'\n') => {
                i += 1;
                break;
            }
            Some(b'\r') if buf.get(i + 1) == Some(&b'\n') => {
                i += 2;
                break;
            }
            Some(b'\r') | None => return Err(BadRequest::InvalidLineEnding.into()),
            Some(b' ' | b'\t') => return Err(BadRequest::ObsFold.into()),
            Some(_) => {}
        }

        // field-name ":"
        let n0 = i;
        i += token_len(buf.get(i..).unwrap_or_default());
        match buf.get(i) {
            Some(b':') if i > n0 => {}
            Some(b'\r') if buf.get(i + 1) != Some(&b'\n') => {
                return Err(BadRequest::InvalidLineEnding.into())
            }
            _ => return Err(BadRequest::InvalidHeaderName.into()),
        }
        let n1 = i;
        i += 1;

        // OWS field-value OWS line-ending
        while let Some(b' ' | b'\t') = buf.get(i) {
            i += 1;
        }
        let v0 = i;
        let mut v1 = loop {
            i = find_ctl(buf, i);
            match buf.get(i) {
                Some(b'\t') => i += 1,
                Some(b'\n') => {
                    i += 1;
                    break i - 1;
                }
                Some(b'\r') if buf.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    break i - 2;
                }
                Some(b'\r') => return Err(BadRequest::InvalidLineEnding.into()),
                _ => return Err(BadRequest::InvalidHeaderValue.into()),
            }
        };
        while v1 > v0 && matches!(buf.get(v1 - 1), Some(b' ' | b'\t')) {
            v1 -= 1;
        }

        if head.headers.len() >= limits.max_header_count {
            return Err(ParseError::TooManyHeaders);
        }
        let value = span(v0, v1);
        head.headers.push(HeaderSpan {
            name: span(n0, n1),
            value,
        });
        let name = buf.get(n0..n1).unwrap_or_default();
        fields.record(name, buf.get(v0..v1).unwrap_or_default(), value)?;
    }
    Ok(i)
}

impl Fields {
    /// Note what one header line says, rejecting duplicates where they are ambiguous.
    #[inline(always)]
    fn record(&mut self, name: &[u8], value: &[u8], value_span: Span) -> Result<(), ParseError> {
        match name.len() {
            4 if eq_lower(name, b"host") => {
                if self.host.is_some() {
                    return Err(BadRequest::MultipleHost.into());
                }
                self.host = Some(value_span);
            }
            6 if eq_lower(name, b"expect") && eq_lower(value, b"100-continue") => {
                self.expect_continue = true;
            }
            7 if eq_lower(name, b"upgrade") && !value.is_empty() => {
                self.upgrade = true;
            }
            10 if eq_lower(name, b"connection") => self.connection(value),
            14 if eq_lower(name, b"content-length") => {
                if self.content_length.is_some() {
                    return Err(BadRequest::MultipleContentLength.into());
                }
                self.content_length = Some(parse_content_length(value)?);
            }
            17 if eq_lower(name, b"transfer-encoding") => {
                self.transfer_encoding = true;
                for coding in elements(value) {
                    if eq_lower(coding, b"chunked") {
                        if self.chunked_seen {
                            return Err(BadRequest::UnsupportedTransferEncoding.into());
                        }
                        self.chunked_seen = true;
                        self.chunked_last = true;
                    } else {
                        self.chunked_last = false;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The Connection options that matter here: close, keep-alive, upgrade.
    #[inline]
    fn connection(&mut self, value: &[u8]) {
        let option = |token: &[u8]| {
            if eq_lower(token, b"close") {
                self.conn_close = true;
            } else if eq_lower(token, b"keep-alive") {
                self.conn_keep_alive = true;
            } else if eq_lower(token, b"upgrade") {
                self.conn_upgrade = true;
            }
        };
        // One option is the usual case (the value is already trimmed).
        if eq_lower(value, b"keep-alive") {
            self.conn_keep_alive = true;
        } else if eq_lower(value, b"close") {
            self.conn_close = true;
        } else {
            elements(value).for_each(option);
        }
    }
}

/// `Content-Length = 1*DIGIT` (RFC 9110 §8.6): no sign, no spaces, no list, no overflow.
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    if value.is_empty() {
        return Err(BadRequest::InvalidContentLength.into());
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(BadRequest::InvalidContentLength.into());
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(BadRequest::InvalidContentLength)?;
    }
    Ok(n)
}
