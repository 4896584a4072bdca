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
    /// the line-by-line parse runs once, when the end is there. `head` is written only
    /// then (on `Partial` it is untouched; after an error it may be half filled). After
    /// `Complete` or an error the scan state is reset for the next request.
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
        let bounds = match self.scan.find_end(buf, &self.limits) {
            Ok(Some(bounds)) => bounds,
            Ok(None) => return Ok(Status::Partial),
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        self.reset();
        let head_buf = buf.get(..bounds.end).unwrap_or(buf);
        clear(head);
        let authority = line::parse_request_line(head_buf, &bounds, head)?;
        let fields = headers::parse_headers(head_buf, bounds.req_end, &self.limits, head)?;
        semantics::apply(head_buf, &fields, authority, head)?;
        head.head_len = bounds.end;
        Ok(Status::Complete(bounds.end))
    }
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(Limits::default())
    }
}

/// Reset every field of `head` before a parse (keeping the header vector's allocation).
fn clear(head: &mut RequestHead) {
    head.headers.clear();
    head.host = None;
    head.query = None;
    head.framing = BodyFraming::Empty;
    head.keep_alive = false;
    head.expect_continue = false;
    head.upgrade = false;
    head.head_len = 0;
}

/// A span from offsets the scan has bounded by `u32::MAX`.
#[inline(always)]
fn span(start: usize, end: usize) -> Span {
    Span {
        start: start as u32,
        end: end as u32,
    }
}
