//! The request a handler receives: method, target, decoded path, query, headers (views
//! into the one buffer the head was read into), the body as a stream, connection info,
//! and the opaque upgrade. What it needs from the connection that carries it goes through
//! [`RequestIo`], which each protocol implements; this module knows no protocol.

mod seam;
mod upgrade;

pub(crate) use seam::{LocalFuture, RequestIo, UpgradeHeaders};
pub(crate) use upgrade::{ErasedStream, UpgradeLease};
pub use upgrade::{UpgradeError, Upgraded};

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use peregrine_protocol::h1::{HeaderSpan, Span};

use crate::transport::ConnInfo;

/// An HTTP request as the handler sees it.
pub struct Request {
    pub(crate) head: Bytes,
    pub(crate) method: Method,
    pub(crate) version: Version,
    pub(crate) target: Span,
    pub(crate) path: PathRepr,
    pub(crate) query: Option<Span>,
    pub(crate) headers: Vec<HeaderSpan>,
    pub(crate) host: Option<Span>,
    pub(crate) body: RequestBody,
    pub(crate) conn: Rc<ConnInfo>,
    /// The connection carrying the request: body limits and upgrades go through it.
    pub(crate) io: Rc<dyn RequestIo>,
    /// Where the header vector goes back to when the request is dropped, so the next
    /// parse on this connection does not allocate (a plain slot, not a call through
    /// `io`: this runs for every request).
    pub(crate) spare_headers: SpareHeaders,
    /// HTTP/1.1 with `Connection: upgrade`, an `Upgrade` header and no body.
    pub(crate) upgradable: bool,
}

impl Drop for Request {
    fn drop(&mut self) {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        if headers.capacity() > 0 {
            *self.spare_headers.borrow_mut() = headers;
        }
    }
}

/// A connection's spare header vector, shared with the request it hands out.
pub(crate) type SpareHeaders = Rc<std::cell::RefCell<Vec<HeaderSpan>>>;

/// Why a body size limit could not be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLimitError;

impl std::fmt::Display for BodyLimitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body size limit cannot change after reading has started")
    }
}

impl std::error::Error for BodyLimitError {}

/// The normalised path: a view into the head when the raw path was already normal.
pub(crate) enum PathRepr {
    Raw(Span),
    Owned(String),
}

impl Request {
    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request target exactly as sent.
    pub fn target(&self) -> &str {
        self.str_of(self.target)
    }

    /// The path, percent-decoded, dot segments removed, never above `/`.
    pub fn path(&self) -> &str {
        match &self.path {
            PathRepr::Raw(span) => self.str_of(*span),
            PathRepr::Owned(s) => s,
        }
    }

    /// The query string (without `?`), as sent.
    pub fn query(&self) -> Option<&str> {
        self.query.map(|s| self.str_of(s))
    }

    /// The Host header value, if any.
    pub fn host(&self) -> Option<&str> {
        self.host
            .and_then(|s| std::str::from_utf8(s.of(&self.head)).ok())
    }

    /// The header lines in order, as `(name, value)`; names keep the client's case.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.headers
            .iter()
            .map(|h| (self.str_of(h.name), h.value.of(&self.head)))
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|h| h.name.of(&self.head).eq_ignore_ascii_case(name.as_bytes()))
            .map(|h| h.value.of(&self.head))
    }

    /// The first value of header `name` as text, if it is UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The headers as an `http::HeaderMap` (allocates; for handing to ecosystem code).
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.headers.len());
        for h in &self.headers {
            let name = HeaderName::from_bytes(h.name.of(&self.head));
            let value = HeaderValue::from_maybe_shared(
                self.head
                    .slice(h.value.start as usize..h.value.end as usize),
            );
            if let (Ok(name), Ok(value)) = (name, value) {
                map.append(name, value);
            }
        }
        map
    }

    /// Connection information: addresses and scheme.
    pub fn conn_info(&self) -> &ConnInfo {
        &self.conn
    }

    /// The request body.
    pub fn body_mut(&mut self) -> &mut RequestBody {
        &mut self.body
    }

    /// Change the largest body this request may have (`None`: unlimited), before the
    /// body is read (Kestrel's `IHttpMaxRequestBodySizeFeature`). A body over the limit
    /// fails the read and the server answers 413.
    pub fn set_max_body_size(&mut self, limit: Option<u64>) -> Result<(), BodyLimitError> {
        match &self.body.io {
            Some(io) => io.set_body_limit(limit),
            None => Ok(()),
        }
    }

    /// Whether [`Request::upgrade`] can succeed: HTTP/1.1, `Connection: upgrade` with an
    /// `Upgrade` header, and no body (Kestrel's `IsUpgradableRequest`; a request with a
    /// body is served as a normal request and its upgrade headers are ignored).
    pub fn is_upgradable(&self) -> bool {
        self.upgradable
    }

    /// Switch the connection to `protocol` (Kestrel's `IHttpUpgradeFeature.UpgradeAsync`):
    /// sends `101 Switching Protocols` with `Connection: Upgrade` and `Upgrade: protocol`,
    /// then hands over the raw duplex stream, bytes the client sent right behind the head
    /// included. From then on the HTTP limits (body size, data rates, keep-alive) no
    /// longer apply and the connection counts against
    /// `max_concurrent_upgraded_connections` instead of `max_concurrent_connections`.
    /// The response the handler returns afterwards is ignored; the connection closes when
    /// the [`Upgraded`] stream is dropped.
    ///
    /// Fails, before anything is sent, when the request is not upgradable, when it was
    /// already upgraded, or when the upgraded-connection limit is reached.
    pub async fn upgrade(&mut self, protocol: HeaderValue) -> Result<Upgraded, UpgradeError> {
        self.upgrade_with(protocol, Vec::new()).await
    }

    /// [`Request::upgrade`] sending `headers` with the switch (a WebSocket handshake's
    /// `Sec-WebSocket-Accept`, for one). On an HTTP/2 extended CONNECT (RFC 8441) the
    /// switch is a `200` with `headers` on the stream, which then carries the bytes.
    pub async fn upgrade_with(
        &mut self,
        protocol: HeaderValue,
        headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<Upgraded, UpgradeError> {
        if !self.upgradable {
            return Err(UpgradeError::NotUpgradable);
        }
        self.io.upgrade(protocol, headers).await
    }

    /// The `:protocol` of an HTTP/2 extended CONNECT (RFC 8441; `websocket` for a
    /// WebSocket over HTTP/2), `None` otherwise. The method of such a request is
    /// `CONNECT`.
    pub fn connect_protocol(&self) -> Option<&str> {
        self.io.connect_protocol()
    }

    /// Take the body out of the request.
    pub fn into_body(mut self) -> RequestBody {
        std::mem::replace(&mut self.body, RequestBody::new(None))
    }

    #[inline]
    fn str_of(&self, span: Span) -> &str {
        let bytes = span.of(&self.head);
        debug_assert!(bytes.is_ascii());
        // SAFETY: spans passed here cover the method, the target (or parts of it) and
        // header names, which the parser accepts only as ASCII (tokens; targets reject bytes
        // >= 0x80 and controls), and ASCII is valid UTF-8. Checking cost 2% of the
        // instructions per request (callgrind, plaintext).
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target())
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

type ChunkFuture = Pin<Box<dyn Future<Output = Option<io::Result<Bytes>>>>>;

/// The request body: a stream of buffers read from the connection as they are asked for.
/// The first read answers `Expect: 100-continue`.
pub struct RequestBody {
    io: Option<Rc<dyn RequestIo>>,
    pending: Option<ChunkFuture>,
}

impl RequestBody {
    pub(crate) fn new(io: Option<Rc<dyn RequestIo>>) -> Self {
        RequestBody { io, pending: None }
    }

    /// The next buffer of the body, `None` at its end.
    pub async fn chunk(&mut self) -> Option<io::Result<Bytes>> {
        if let Some(fut) = self.pending.take() {
            return fut.await;
        }
        match &self.io {
            Some(io) => io.next_chunk().await,
            None => None,
        }
    }

    /// The trailer fields sent after the body (HTTP/2 trailers; Kestrel's
    /// `IHttpRequestTrailersFeature`), available once [`RequestBody::chunk`] returned
    /// `None`; before that, an error. `None` when there were none (HTTP/1.1 chunked
    /// trailers are read and discarded today).
    pub async fn trailers(&mut self) -> io::Result<Option<HeaderMap>> {
        match &self.io {
            Some(io) => io.trailers().await,
            None => Ok(None),
        }
    }

    /// Read the whole body into memory, failing if it exceeds `limit` bytes.
    pub async fn to_bytes(&mut self, limit: usize) -> io::Result<Bytes> {
        let mut all = BytesMut::new();
        while let Some(chunk) = self.chunk().await {
            let chunk = chunk?;
            if all.len() + chunk.len() > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("request body larger than {limit} bytes"),
                ));
            }
            all.extend_from_slice(&chunk);
        }
        Ok(all.freeze())
    }
}

impl Stream for RequestBody {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.pending.is_none() {
            let Some(io) = this.io.clone() else {
                return Poll::Ready(None);
            };
            this.pending = Some(Box::pin(async move { io.next_chunk().await }));
        }
        let Some(fut) = this.pending.as_mut() else {
            return Poll::Ready(None);
        };
        let out = fut.as_mut().poll(cx);
        if out.is_ready() {
            this.pending = None;
        }
        out
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RequestBody")
    }
}
