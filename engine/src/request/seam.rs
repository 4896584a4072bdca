//! The seam between a [`Request`](super::Request) and the protocol connection that
//! carries it: reading the body, the body size limit and the opaque upgrade (the parsed
//! header vector goes back through a plain shared slot, `SpareHeaders`: that runs for
//! every request, these only when asked). Each protocol implements [`RequestIo`]; the request holds it as
//! a trait object, so `Request` is one type whatever transport or protocol is underneath.

use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};

use super::{BodyLimitError, UpgradeError, Upgraded};
use crate::shard::HttpSettings;

/// Headers sent with the switch (`Sec-WebSocket-Accept`, ...).
pub(crate) type UpgradeHeaders = Vec<(http::HeaderName, HeaderValue)>;

/// A boxed, worker-local future.
pub(crate) type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// What a request needs from its connection.
pub(crate) trait RequestIo {
    /// The next piece of the body; `None` at its end.
    fn next_chunk(&self) -> LocalFuture<'_, Option<io::Result<Bytes>>>;

    /// Change this request's body size limit (before reading starts).
    fn set_body_limit(&self, limit: Option<u64>) -> Result<(), BodyLimitError>;

    /// Switch protocols and hand over the stream: HTTP/1.1 sends `101 Switching
    /// Protocols` with `Upgrade: protocol` and the `extra` headers; HTTP/2 (an extended
    /// CONNECT) answers `200` with the `extra` headers and keeps the stream open.
    fn upgrade(
        &self,
        protocol: HeaderValue,
        extra: UpgradeHeaders,
    ) -> LocalFuture<'_, Result<Upgraded, UpgradeError>>;

    /// The server's HTTP settings (limits, WebSocket options).
    fn settings(&self) -> &HttpSettings;

    /// The `:protocol` of an HTTP/2 extended CONNECT (RFC 8441), e.g. `websocket`.
    fn connect_protocol(&self) -> Option<&str> {
        None
    }

    /// The trailers that followed the body (HTTP/2), once the body was read to its end.
    fn trailers(&self) -> LocalFuture<'_, io::Result<Option<HeaderMap>>> {
        Box::pin(async { Ok(None) })
    }
}
