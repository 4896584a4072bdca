//! Parse errors. Each maps straight to what goes on the wire: a status code (and, for
//! 405, the `Allow` value). The reason text is for the debug log only, never the client.

/// Why a request head (or body framing) was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// 400: the request is malformed; the inner value says how.
    BadRequest(BadRequest),
    /// 414: the request line is longer than the limit.
    RequestLineTooLong,
    /// 431: the header section is larger than the limit.
    HeadersTooLarge,
    /// 431: more header lines than the limit.
    TooManyHeaders,
    /// 505: an HTTP version other than 1.0 / 1.1.
    UnsupportedVersion,
    /// 405: `*` target on a method other than OPTIONS (`Allow: OPTIONS`), or
    /// authority-form on a method other than CONNECT (`Allow: CONNECT`).
    MethodNotAllowed {
        /// The value of the `Allow` header to send.
        allow: &'static str,
    },
}

/// The ways a request can be malformed (all answered with 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadRequest {
    /// The request line is not `method SP target SP version`.
    InvalidRequestLine,
    /// The method is not a token.
    InvalidMethod,
    /// The target has a control character, NUL (raw or `%00`), or is otherwise invalid.
    InvalidTarget,
    /// A header name is empty or not a token, or has whitespace before the colon.
    InvalidHeaderName,
    /// A header value holds CR, LF, NUL or another forbidden control character.
    InvalidHeaderValue,
    /// A line starts with whitespace (obs-fold).
    ObsFold,
    /// A line ends in a bare CR, or the head does not end with an empty line.
    InvalidLineEnding,
    /// More than one Content-Length header (even equal ones).
    MultipleContentLength,
    /// Content-Length is not a plain decimal number (or overflows).
    InvalidContentLength,
    /// Both Transfer-Encoding and Content-Length.
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding whose final coding is not `chunked`.
    UnsupportedTransferEncoding,
    /// Transfer-Encoding on an HTTP/1.0 request.
    TransferEncodingOnHttp10,
    /// HTTP/1.1 request without Host.
    MissingHost,
    /// More than one Host header.
    MultipleHost,
    /// The Host value is not a valid `uri-host [ ":" port ]`.
    InvalidHost,
    /// An absolute-form target whose authority differs from Host.
    HostMismatch,
    /// The bytes are a TLS ClientHello: TLS spoken to a cleartext port.
    TlsHandshake,
    /// A chunk size that is not hex or overflows.
    InvalidChunkSize,
    /// A malformed chunk extension (including a bare LF inside it).
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF.
    InvalidChunkTerminator,
    /// Malformed or oversized trailer section.
    InvalidTrailers,
}

impl ParseError {
    /// The status code to answer with.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::BadRequest(_) => 400,
            ParseError::RequestLineTooLong => 414,
            ParseError::HeadersTooLarge | ParseError::TooManyHeaders => 431,
            ParseError::UnsupportedVersion => 505,
            ParseError::MethodNotAllowed { .. } => 405,
        }
    }

    /// The `Allow` header value for a 405.
    pub fn allow(&self) -> Option<&'static str> {
        match self {
            ParseError::MethodNotAllowed { allow } => Some(allow),
            _ => None,
        }
    }

    /// A short description for the debug log (never sent to the client).
    pub fn reason(&self) -> &'static str {
        match self {
            ParseError::BadRequest(b) => b.reason(),
            ParseError::RequestLineTooLong => "request line too long",
            ParseError::HeadersTooLarge => "request headers too long",
            ParseError::TooManyHeaders => "request contains too many headers",
            ParseError::UnsupportedVersion => "unrecognized HTTP version",
            ParseError::MethodNotAllowed { .. } => "method not allowed",
        }
    }
}

impl BadRequest {
    /// A short description for the debug log.
    pub fn reason(&self) -> &'static str {
        match self {
            BadRequest::InvalidRequestLine => "invalid request line",
            BadRequest::InvalidMethod => "invalid method",
            BadRequest::InvalidTarget => "invalid request target",
            BadRequest::InvalidHeaderName => "invalid characters in header name",
            BadRequest::InvalidHeaderValue => "invalid characters in header value",
            BadRequest::ObsFold => "obsolete line folding",
            BadRequest::InvalidLineEnding => "invalid line ending",
            BadRequest::MultipleContentLength => "multiple Content-Length headers",
            BadRequest::InvalidContentLength => "invalid Content-Length",
            BadRequest::ContentLengthWithTransferEncoding => {
                "both Transfer-Encoding and Content-Length"
            }
            BadRequest::UnsupportedTransferEncoding => "final transfer coding is not chunked",
            BadRequest::TransferEncodingOnHttp10 => "Transfer-Encoding on HTTP/1.0",
            BadRequest::MissingHost => "request is missing Host header",
            BadRequest::MultipleHost => "multiple Host headers",
            BadRequest::InvalidHost => "invalid Host header",
            BadRequest::HostMismatch => "Host header does not match the target authority",
            BadRequest::TlsHandshake => {
                "detected a TLS handshake to an endpoint that does not have TLS enabled"
            }
            BadRequest::InvalidChunkSize => "bad chunk size data",
            BadRequest::InvalidChunkExtension => "bad chunk extension",
            BadRequest::InvalidChunkTerminator => "bad chunk suffix",
            BadRequest::InvalidTrailers => "bad chunked trailer section",
        }
    }
}

impl From<BadRequest> for ParseError {
    fn from(b: BadRequest) -> Self {
        ParseError::BadRequest(b)
    }
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.reason(), self.status())
    }
}

impl std::error::Error for ParseError {}
