//! Response bodies: empty, one buffer, or a stream of buffers (sent chunked unless the
//! handler set a Content-Length), optionally followed by trailer fields (HTTP/2).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_core::Stream;
use http::HeaderMap;

/// A boxed body stream (`!Send`: it lives on one worker).
pub type BoxStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + 'static>>;

/// The trailer fields of a body, produced once the body has been sent.
pub type TrailersFuture = Pin<Box<dyn Future<Output = HeaderMap> + 'static>>;

/// The body of a response.
pub struct Body {
    pub(crate) kind: BodyKind,
}

pub(crate) enum BodyKind {
    Empty,
    Full(Bytes),
    Stream(BoxStream),
    /// A body followed by trailers (boxed: rare, and it keeps `Body` small).
    Trailed(Box<Trailed>),
}

/// A body and its trailers.
pub(crate) struct Trailed {
    pub body: BodyKind,
    pub trailers: TrailersFuture,
}

impl Body {
    /// No body.
    pub fn empty() -> Self {
        Body {
            kind: BodyKind::Empty,
        }
    }

    /// A body from a stream of buffers.
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + 'static,
    {
        Body {
            kind: BodyKind::Stream(Box::pin(stream)),
        }
    }

    /// Send trailer fields after this body: `trailers` runs once the body has been
    /// sent, so it may depend on what was sent (a checksum). HTTP/2 sends them as a
    /// final HEADERS frame; HTTP/1.1 drops them (as Kestrel does: response trailers
    /// are an HTTP/2 and HTTP/3 feature).
    pub fn with_trailers<F>(self, trailers: F) -> Body
    where
        F: Future<Output = HeaderMap> + 'static,
    {
        let body = match self.kind {
            BodyKind::Trailed(t) => t.body,
            other => other,
        };
        Body {
            kind: BodyKind::Trailed(Box::new(Trailed {
                body,
                trailers: Box::pin(trailers),
            })),
        }
    }

    /// The body without its trailers, and the trailers.
    pub(crate) fn split_trailers(self) -> (Body, Option<TrailersFuture>) {
        match self.kind {
            BodyKind::Trailed(t) => (Body { kind: t.body }, Some(t.trailers)),
            kind => (Body { kind }, None),
        }
    }

    /// Whether the body is a stream (its length unknown up front), trailers or not.
    #[inline]
    pub(crate) fn is_streamed(&self) -> bool {
        match &self.kind {
            BodyKind::Stream(_) => true,
            BodyKind::Trailed(t) => matches!(t.body, BodyKind::Stream(_)),
            _ => false,
        }
    }

    /// The length when known up front.
    pub fn len(&self) -> Option<u64> {
        match &self.kind {
            BodyKind::Empty => Some(0),
            BodyKind::Full(b) => Some(b.len() as u64),
            BodyKind::Stream(_) => None,
            BodyKind::Trailed(t) => match &t.body {
                BodyKind::Empty => Some(0),
                BodyKind::Full(b) => Some(b.len() as u64),
                _ => None,
            },
        }
    }

    /// True when known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("Body::Empty"),
            BodyKind::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            BodyKind::Stream(_) => f.write_str("Body::Stream"),
            BodyKind::Trailed(_) => f.write_str("Body::Trailed"),
        }
    }
}

impl From<Bytes> for Body {
    fn from(b: Bytes) -> Self {
        Body {
            kind: BodyKind::Full(b),
        }
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(s: &'static [u8]) -> Self {
        Bytes::from_static(s).into()
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}
