//! Finding the end of a request head in a growing buffer, enforcing the size limits on
//! the way (on partial input too). Remembers where it stopped, so each byte is scanned
//! for LF (with `memchr`, SIMD) only once however the head is split across reads.

use super::Limits;
use crate::h1::error::BadRequest;
use crate::h1::ParseError;
use memchr::memchr;

/// Where the head lies in the buffer, once its end was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HeadBounds {
    /// Offset of the request line (after skipped leading blank lines).
    pub start: usize,
    /// Offset just past the request line's LF (the first header line).
    pub req_end: usize,
    /// Offset just past the final empty line: the head length.
    pub end: usize,
}

/// Scan progress across calls. All offsets are into the caller's buffer.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ScanState {
    /// Leading blank-line bytes skipped so far (final once `started`).
    start: usize,
    /// The first byte of the request line has been seen.
    started: bool,
    /// Offset just past the request line's LF, 0 while not yet found.
    req_end: usize,
    /// Where to resume the search for LF.
    scanned: usize,
}

impl ScanState {
    /// Look for the end of the head in `buf`. `Ok(None)` means more bytes are needed.
    pub fn find_end(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<HeadBounds>, ParseError> {
        if self.scanned > buf.len() || self.start > buf.len() || self.req_end > buf.len() {
            // The caller replaced the buffer instead of appending to it: start over.
            *self = ScanState::default();
        }
        match buf {
            [0x16, 0x03, ..] => return Err(BadRequest::TlsHandshake.into()),
            // Wait for the second byte: TLS or not decides the error (even over limits).
            [0x16] => return Ok(None),
            _ => {}
        }
        if !self.started && !self.skip_blank_lines(buf, limits)? {
            return Ok(None);
        }
        if self.req_end == 0 && !self.find_request_line_end(buf, limits)? {
            return Ok(None);
        }
        let hdr_start = self.req_end;
        let mut from = self.scanned;
        loop {
            let Some(lf) = buf.get(from..).and_then(|rest| memchr(b'\n', rest)) else {
                from = buf.len();
                break;
            };
            let lf = from + lf;
            // The head ends at the first LF that is followed by an empty line.
            let end = match buf.get(lf + 1) {
                None => {
                    from = lf;
                    break;
                }
                Some(b'\n') => lf + 2,
                Some(b'\r') => match buf.get(lf + 2) {
                    None => {
                        from = lf;
                        break;
                    }
                    Some(b'\n') => lf + 3,
                    // A line that starts with a bare CR: no header line can (its name
                    // must be a token), and it is not the final empty line either. (A
                    // buffer cut just before this byte would already have failed the
                    // size limit: report that, so the outcome never depends on splits.)
                    Some(_) if lf + 2 - hdr_start >= limits.max_headers_total => {
                        return Err(ParseError::HeadersTooLarge)
                    }
                    Some(_) => return Err(BadRequest::InvalidLineEnding.into()),
                },
                Some(_) => {
                    from = lf + 1;
                    continue;
                }
            };
            if end - hdr_start > limits.max_headers_total || end > u32::MAX as usize {
                return Err(ParseError::HeadersTooLarge);
            }
            return Ok(Some(HeadBounds {
                start: self.start,
                req_end: hdr_start,
                end,
            }));
        }
        self.scanned = from;
        // The header section will be at least one byte longer than what is buffered.
        if buf.len().saturating_sub(hdr_start) >= limits.max_headers_total {
            return Err(ParseError::HeadersTooLarge);
        }
        Ok(None)
    }

    /// Skip leading CRLF / LF (RFC 9112 §2.2). True once the request line has begun.
    fn skip_blank_lines(&mut self, buf: &[u8], limits: &Limits) -> Result<bool, ParseError> {
        let (i, started) = skip_blank_lines(buf, self.start, limits)?;
        self.start = i;
        self.scanned = i;
        self.started = started;
        Ok(started)
    }

    /// Find the request line's LF. True once found (and within the limit).
    fn find_request_line_end(&mut self, buf: &[u8], limits: &Limits) -> Result<bool, ParseError> {
        let from = self.scanned.max(self.start);
        match buf.get(from..).and_then(|rest| memchr(b'\n', rest)) {
            None => {
                self.scanned = buf.len();
                let mut len = buf.len().saturating_sub(self.start);
                if buf.last() == Some(&b'\r') {
                    len = len.saturating_sub(1); // may be the CR of the CRLF to come
                }
                if len > limits.max_request_line {
                    return Err(ParseError::RequestLineTooLong);
                }
                Ok(false)
            }
            Some(lf) => {
                let lf = from + lf;
                if line_len(buf, self.start, lf) > limits.max_request_line {
                    return Err(ParseError::RequestLineTooLong);
                }
                self.req_end = lf + 1;
                self.scanned = lf; // this LF may start the final empty line
                Ok(true)
            }
        }
    }
}

impl ScanState {
    /// Nothing has been scanned yet (a new request, or only part of a first CRLF).
    pub fn is_fresh(&self) -> bool {
        self.scanned == 0 && self.req_end == 0 && !self.started && self.start == 0
    }
}

/// Skip CRLF / LF from `i`; returns where they end and whether a request line begins
/// there (false: the buffer ended first). The limit is checked after each line, so the
/// outcome does not depend on how the input was split (a bare CR further on is never
/// reached first).
fn skip_blank_lines(
    buf: &[u8],
    mut i: usize,
    limits: &Limits,
) -> Result<(usize, bool), ParseError> {
    loop {
        match buf.get(i) {
            Some(b'\n') => i += 1,
            Some(b'\r') => match buf.get(i + 1) {
                Some(b'\n') => i += 2,
                Some(_) => return Err(BadRequest::InvalidLineEnding.into()),
                None => return Ok((i, false)),
            },
            Some(_) => return Ok((i, true)),
            None => return Ok((i, false)),
        }
        if i > limits.max_request_line {
            return Err(ParseError::RequestLineTooLong);
        }
    }
}

/// Length of the line `start..lf` without the CR of a CRLF.
pub(super) fn line_len(buf: &[u8], start: usize, lf: usize) -> usize {
    let len = lf.saturating_sub(start);
    if len > 0 && buf.get(lf - 1) == Some(&b'\r') {
        len - 1
    } else {
        len
    }
}

/// Without any state: where the request line starts, if blank lines end within the
/// limit and a request line begins in `buf`. `None` otherwise (the caller then takes
/// the stateful path, which reports it properly).
#[inline]
pub(super) fn blank_lines_end(buf: &[u8], limits: &Limits) -> Option<usize> {
    match buf.first() {
        Some(b'\r' | b'\n') => match skip_blank_lines(buf, 0, limits) {
            Ok((start, true)) => Some(start),
            _ => None,
        },
        Some(_) => Some(0),
        None => None,
    }
}
