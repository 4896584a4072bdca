//! The response-head parser (client side; used by peregrine-load and by tests).
//! Same style as [`super::parse`]: a push parser over the caller's buffer, headers as spans.

use super::{BodyFraming, HeaderSpan, ParseError, Status, Version};

/// A parsed response head. Spans index the buffer given to [`parse_response`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The protocol version of the response.
    pub version: Option<Version>,
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

/// Parse a response head at the start of `buf` into `head`. `request_was_head` tells the
/// parser the response to a HEAD request carries no body.
pub fn parse_response(
    buf: &[u8],
    request_was_head: bool,
    head: &mut ResponseHead,
) -> Result<Status<usize>, ParseError> {
    let _ = (buf, request_was_head, head);
    todo!("implemented in the load-generator work")
}
