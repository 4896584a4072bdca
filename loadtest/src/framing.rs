//! Splitting the byte stream of a connection into responses (sans-IO): the head through
//! `protocol`'s [`parse_response`], then the body by its framing — Content-Length,
//! chunked (`protocol`'s [`ChunkedDecoder`]) or until the connection closes. Body bytes
//! are consumed and dropped as they arrive, so the read buffer only ever holds a
//! partial head or partial chunk framing. Interim (1xx) responses are skipped.
//!
//! A load test reads the same response head over and over (only `Date` changes, once a
//! second), so the reader keeps the bytes of the last head it parsed: a head that
//! repeats them byte for byte has the same parse, found with one comparison. The
//! parser's result depends only on the head's own bytes (its proptests check this),
//! so the shortcut never changes a result.

use peregrine_protocol::h1::decode::ChunkedDecoder;
use peregrine_protocol::h1::response::{parse_response, ResponseHead};
use peregrine_protocol::h1::{BodyFraming, ParseError, Status};

/// Largest trailer section accepted after a chunked body.
const MAX_TRAILERS: usize = 16 * 1024;
/// Longest head remembered for the repeated-head shortcut.
const MAX_CACHED_HEAD: usize = 1024;

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    /// The status code.
    pub status: u16,
    /// Whether the connection may carry another request.
    pub keep_alive: bool,
}

/// Why the stream is not a valid sequence of responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The head or the chunked framing is invalid.
    Parse(ParseError),
    /// `101 Switching Protocols`: the server left HTTP.
    SwitchingProtocols,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::Parse(e) => write!(f, "{}", e.reason()),
            Malformed::SwitchingProtocols => f.write_str("unexpected 101 Switching Protocols"),
        }
    }
}

#[derive(Debug)]
enum State {
    Head,
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

/// The response reader of one connection.
#[derive(Debug)]
pub struct ResponseReader {
    head: ResponseHead,
    state: State,
    request_is_head: bool,
    status: u16,
    keep_alive: bool,
    /// The bytes of the last final head parsed, and its framing.
    last_head: Vec<u8>,
    last_framing: BodyFraming,
    last_status: u16,
    last_keep_alive: bool,
}

impl ResponseReader {
    /// A reader for responses to requests of one method (`HEAD` responses have no body).
    pub fn new(request_is_head: bool) -> ResponseReader {
        ResponseReader {
            head: ResponseHead::default(),
            state: State::Head,
            request_is_head,
            status: 0,
            keep_alive: false,
            last_head: Vec::new(),
            last_framing: BodyFraming::Empty,
            last_status: 0,
            last_keep_alive: false,
        }
    }

    /// Start over for a fresh connection.
    pub fn reset(&mut self) {
        self.state = State::Head;
    }

    /// True between responses (nothing of the next response has been consumed).
    pub fn idle(&self) -> bool {
        matches!(self.state, State::Head)
    }

    /// Consume from `buf` up to the end of the next response. Returns the bytes consumed
    /// and the response if it completed; with `None`, everything usable was consumed
    /// and more bytes are needed.
    pub fn advance(&mut self, buf: &[u8]) -> Result<(usize, Option<Done>), Malformed> {
        let mut pos = 0;
        loop {
            match &mut self.state {
                State::Head => {
                    let rest = &buf[pos..];
                    let framing = if !self.last_head.is_empty() && rest.starts_with(&self.last_head)
                    {
                        pos += self.last_head.len();
                        self.status = self.last_status;
                        self.keep_alive = self.last_keep_alive;
                        self.last_framing
                    } else {
                        let n = match parse_response(rest, self.request_is_head, &mut self.head) {
                            Ok(Status::Complete(n)) => n,
                            Ok(Status::Partial) => return Ok((pos, None)),
                            Err(e) => return Err(Malformed::Parse(e)),
                        };
                        if self.head.status == 101 {
                            return Err(Malformed::SwitchingProtocols);
                        }
                        pos += n;
                        if self.head.is_informational() {
                            continue;
                        }
                        let framing = self.head.framing.unwrap_or(BodyFraming::CloseDelimited);
                        self.status = self.head.status;
                        self.keep_alive = self.head.keep_alive;
                        self.last_head.clear();
                        if n <= MAX_CACHED_HEAD {
                            self.last_head.extend_from_slice(&rest[..n]);
                            self.last_framing = framing;
                            self.last_status = self.status;
                            self.last_keep_alive = self.keep_alive;
                        }
                        framing
                    };
                    match framing {
                        BodyFraming::Length(n) if n > 0 => self.state = State::Length(n),
                        BodyFraming::Chunked => {
                            self.state = State::Chunked(ChunkedDecoder::new(MAX_TRAILERS))
                        }
                        BodyFraming::CloseDelimited => self.state = State::UntilClose,
                        _ => return Ok((pos, Some(self.done()))),
                    }
                }
                State::Length(remaining) => {
                    let avail = (buf.len() - pos) as u64;
                    if avail < *remaining {
                        *remaining -= avail;
                        return Ok((buf.len(), None));
                    }
                    pos += *remaining as usize;
                    self.state = State::Head;
                    return Ok((pos, Some(self.done())));
                }
                State::Chunked(decoder) => {
                    let d = decoder.decode(&buf[pos..]).map_err(Malformed::Parse)?;
                    pos += d.consumed;
                    if d.done {
                        self.state = State::Head;
                        return Ok((pos, Some(self.done())));
                    }
                    if d.consumed == 0 {
                        return Ok((pos, None));
                    }
                }
                State::UntilClose => return Ok((buf.len(), None)),
            }
        }
    }

    /// The connection reached end of file. Returns the response that the close
    /// completes (a close-delimited body), if any.
    pub fn eof(&mut self) -> Option<Done> {
        if matches!(self.state, State::UntilClose) {
            self.state = State::Head;
            Some(Done {
                status: self.status,
                keep_alive: false,
            })
        } else {
            None
        }
    }

    fn done(&self) -> Done {
        Done {
            status: self.status,
            keep_alive: self.keep_alive,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feed `input` in pieces of `step` bytes, as a connection loop would: bytes are
    /// appended to a buffer and consumed bytes are dropped.
    fn run(input: &[u8], step: usize, was_head: bool) -> Result<(Vec<Done>, bool), Malformed> {
        let mut r = ResponseReader::new(was_head);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        for piece in input.chunks(step.max(1)) {
            buf.extend_from_slice(piece);
            loop {
                let (n, done) = r.advance(&buf)?;
                buf.drain(..n);
                match done {
                    Some(d) => out.push(d),
                    None => break,
                }
            }
        }
        if let Some(d) = r.eof() {
            out.push(d);
        }
        Ok((out, buf.is_empty() && r.idle()))
    }

    fn ok(status: u16) -> Done {
        Done {
            status,
            keep_alive: true,
        }
    }

    #[test]
    fn pipelined_content_length_any_split() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\n\
                      Content-Length: 0\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n\
                      HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 500 X\r\ncontent-length: 3\r\n\r\nabc";
        for step in 1..input.len() {
            let (done, clean) = run(input, step, false).unwrap();
            assert_eq!(
                done,
                vec![ok(200), ok(404), ok(204), ok(500)],
                "step {step}"
            );
            assert!(clean);
        }
    }

    #[test]
    fn chunked_bodies_any_split() {
        let input = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                      5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nTrailer: x\r\n\r\n\
                      HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n\
                      HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        for step in 1..input.len() {
            let (done, clean) = run(input, step, false).unwrap();
            assert_eq!(done, vec![ok(200), ok(503), ok(200)], "step {step}");
            assert!(clean, "step {step}");
        }
    }

    #[test]
    fn repeated_heads_take_the_shortcut_and_stay_right() {
        let a: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
        let b: &[u8] = b"HTTP/1.1 404 No\r\nContent-Length: 3\r\n\r\nabc";
        let c: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx";
        let input = [a, a, b, b, a, c].concat();
        let closed = Done {
            status: 200,
            keep_alive: false,
        };
        for step in 1..input.len() {
            let (done, clean) = run(&input, step, false).unwrap();
            assert_eq!(
                done,
                vec![ok(200), ok(200), ok(404), ok(404), ok(200), closed],
                "step {step}"
            );
            assert!(clean);
        }
        // A cached head is only reused for identical bytes: a changed byte is parsed.
        let bad = [b, b"HTTP/1.1 404 No\r\nContent-Length: 3\x01\r\n\r\nabc"].concat();
        assert!(matches!(run(&bad, 1000, false), Err(Malformed::Parse(_))));
    }

    #[test]
    fn bad_chunk_size_is_malformed() {
        let input =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
        assert!(matches!(run(input, 100, false), Err(Malformed::Parse(_))));
    }

    #[test]
    fn head_responses_have_no_body() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n";
        let (done, clean) = run(input, 7, true).unwrap();
        assert_eq!(done, vec![ok(200), ok(200)]);
        assert!(clean);
    }

    #[test]
    fn close_delimited_completes_at_eof() {
        let input = b"HTTP/1.0 200 OK\r\n\r\nbody until close";
        let (done, _) = run(input, 4, false).unwrap();
        assert_eq!(
            done,
            vec![Done {
                status: 200,
                keep_alive: false
            }]
        );
    }

    #[test]
    fn truncated_body_is_not_a_response() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        let (done, clean) = run(input, 3, false).unwrap();
        assert!(done.is_empty());
        assert!(!clean);
    }

    #[test]
    fn garbage_and_101() {
        assert!(matches!(
            run(b"garbage\r\n\r\n", 100, false),
            Err(Malformed::Parse(_))
        ));
        assert_eq!(
            run(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 100, false),
            Err(Malformed::SwitchingProtocols)
        );
    }
}
