//! The request-head push parser (RFC 9112 §2–§7, strict against request smuggling).
//!
//! Feed it the whole unconsumed read buffer after every read; it remembers how far it has
//! already scanned for the end of the head, so a partial read rescans only the new bytes.
//! Headers come out as [`HeaderSpan`] index ranges into that buffer: nothing is copied.

mod headers;
mod host;
mod line;
mod scan;
mod semantics;
#[cfg(test)]
mod tests;

use super::error::BadRequest;
use super::{BodyFraming, HeaderSpan, ParseError, Span, Status, Version};
use scan::ScanState;

/// Size limits enforced while parsing a head (Kestrel's defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, without its line ending (default 8192) → 414.
    pub max_request_line: usize,
    /// Largest header section, all header lines with their line endings plus the final
    /// empty line (default 32768) → 431.
    pub max_headers_total: usize,
    /// Most header lines (default 100) → 431.
    pub max_header_count: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8192,
            max_headers_total: 32768,
            max_header_count: 100,
        }
    }
}

/// The form of the request target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`
    Origin,
    /// `http://authority/path?query`
    Absolute,
    /// `host:port` (CONNECT only)
    Authority,
    /// `*` (OPTIONS only)
    Asterisk,
}

/// A parsed request head. All spans index the buffer given to [`RequestParser::parse`].
/// Reuse one value across requests to keep the header vector's allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method token.
    pub method: Span,
    /// The raw request target.
    pub target: Span,
    /// The form of the target.
    pub target_form: TargetForm,
    /// Within the target: the path (for absolute-form, the path after the authority;
    /// empty path for absolute-form means `/`). For asterisk-form it is the `*`, for
    /// authority-form it is empty.
    pub path: Span,
    /// Within the target: the query without the `?`, if there is a `?`.
    pub query: Option<Span>,
    /// The protocol version.
    pub version: Version,
    /// Header lines in order.
    pub headers: Vec<HeaderSpan>,
    /// The value of the (single) Host header, if any (validated; may be empty for
    /// origin-form and asterisk-form).
    pub host: Option<Span>,
    /// How the body is framed (`Content-Length: 0` gives `Length(0)`).
    pub framing: BodyFraming,
    /// Whether the connection may stay open after this exchange (version default,
    /// adjusted by `Connection: close` / `keep-alive`).
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent (HTTP/1.1 only).
    pub expect_continue: bool,
    /// `Connection: upgrade` together with an `Upgrade` header.
    pub upgrade: bool,
    /// Bytes the head occupies, including leading blank lines that were skipped and
    /// the final empty line.
    pub head_len: usize,
}

impl Default for RequestHead {
    fn default() -> Self {
        RequestHead {
            method: Span::default(),
            target: Span::default(),
            target_form: TargetForm::Origin,
            path: Span::default(),
            query: None,
            version: Version::Http11,
            headers: Vec::new(),
            host: None,
            framing: BodyFraming::Empty,
            keep_alive: true,
            expect_continue: false,
            upgrade: false,
            head_len: 0,
        }
    }
}

/// Incremental request-head parser. One per connection; call [`RequestParser::reset`]
/// (or just keep calling `parse`, which resets itself after `Complete`) between requests.
#[derive(Debug, Clone)]
pub struct RequestParser {
    limits: Limits,
    /// Where the search for the end of the head stopped on the previous call.
    scan: ScanState,
}

impl RequestParser {
    /// A parser enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        RequestParser {
            limits,
            scan: ScanState::default(),
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Forget scan progress (call when the buffer was replaced, not just appended to).
    pub fn reset(&mut self) {
        self.scan = ScanState::default();
    }

    /// Parse the head at the start of `buf` into `head`.
    ///
    /// `buf` must be the same bytes as on the previous call plus any newly read bytes.
    /// Returns `Complete(head.head_len)` when the whole head is present, `Partial` when
    /// more bytes are needed (limits are enforced on partial input too, so an endless
    /// request line fails with 414 as soon as it passes the limit).
    ///
    /// Only the bytes added since the previous call are scanned for the end of the head;
    /// the line-by-line parse runs once, when the end is there. (When nothing is
    /// pending, the first call tries the line-by-line parse straight away, as the whole
    /// head usually arrives in one read; if that does not succeed, the result comes from
    /// the scan-then-parse path, so it never depends on how the input was split.)
    /// Read `head` only after `Complete`: on `Partial` or an error it may be half
    /// written. After `Complete` or an error the scan state is reset for the next
    /// request.
    ///
    /// Line endings are CRLF or a bare LF. A CR that is not directly followed by LF is
    /// [`BadRequest::InvalidLineEnding`] wherever it appears (request line, header name
    /// or value, blank lines), so no bare CR can ever be read as a line break.
    ///
    /// [`BadRequest::InvalidLineEnding`]: super::error::BadRequest::InvalidLineEnding
    pub fn parse(
        &mut self,
        buf: &[u8],
        head: &mut RequestHead,
    ) -> Result<Status<usize>, ParseError> {
        // First try (nothing pending): the whole buffer, line by line. Then (or after
        // a failed first try) the canonical path: scan for the end, parse that head.
        let mut first_try = self.scan.is_fresh();
        loop {
            let (input, start, bounds) = if first_try {
                match scan::blank_lines_end(buf, &self.limits) {
                    // A head within the limits lies within this prefix: looking
                    // further would be wasted work the scan path rejects anyway.
                    Some(start) => {
                        let bound = start
                            .saturating_add(self.limits.max_request_line)
                            .saturating_add(2)
                            .saturating_add(self.limits.max_headers_total);
                        (buf.get(..bound).unwrap_or(buf), start, None)
                    }
                    None => {
                        first_try = false;
                        continue;
                    }
                }
            } else {
                let bounds = match self.scan.find_end(buf, &self.limits) {
                    Ok(Some(bounds)) => bounds,
                    Ok(None) => return Ok(Status::Partial),
                    Err(e) => {
                        self.reset();
                        return Err(e);
                    }
                };
                self.reset();
                (
                    buf.get(..bounds.end).unwrap_or(buf),
                    bounds.start,
                    Some(bounds),
                )
            };
            let result = parse_lines(input, start, &self.limits, head);
            match (result, bounds) {
                (Ok((req_end, end)), None) => {
                    // The scan was skipped: enforce its limits here (or let it decide).
                    if scan::line_len(input, start, req_end - 1) <= self.limits.max_request_line
                        && end - req_end <= self.limits.max_headers_total
                        && end <= u32::MAX as usize
                    {
                        return Ok(Status::Complete(end));
                    }
                    first_try = false;
                }
                (Err(_), None) => first_try = false,
                (Ok((req_end, end)), Some(b)) if req_end == b.req_end && end == b.end => {
                    return Ok(Status::Complete(end))
                }
                (Ok(_), Some(_)) => return Err(BadRequest::InvalidLineEnding.into()),
                (Err(e), Some(_)) => return Err(e),
            }
        }
    }
}

/// Parse the request line at `start` and the header lines after it into `head`;
/// returns the offsets just past the request line and just past the head. Limits on
/// line and section sizes are the caller's (only the header count is checked here).
#[inline(always)]
fn parse_lines(
    buf: &[u8],
    start: usize,
    limits: &Limits,
    head: &mut RequestHead,
) -> Result<(usize, usize), ParseError> {
    clear(head);
    let mut authority = None;
    let req_end = line::parse_request_line(buf, start, head, &mut authority)?;
    let mut fields = headers::Fields::default();
    let end = headers::parse_headers(buf, req_end, limits, head, &mut fields)?;
    semantics::apply(buf, &fields, authority, head)?;
    head.head_len = end;
    Ok((req_end, end))
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(Limits::default())
    }
}

/// Reset `head` before a parse, keeping the header vector's allocation. (Every other
/// field is written by a successful parse.)
#[inline(always)]
fn clear(head: &mut RequestHead) {
    head.headers.clear();
}

/// A span from offsets the scan has bounded by `u32::MAX`.
#[inline(always)]
fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}
