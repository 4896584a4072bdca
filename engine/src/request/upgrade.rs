//! The opaque stream a handler owns after [`Request::upgrade`](super::Request::upgrade):
//! raw bytes both ways over whatever transport the connection has, starting with any
//! bytes the client sent right behind the request head.

use std::fmt;
use std::io;

use bytes::{Bytes, BytesMut};

use super::seam::LocalFuture;
use crate::transport::Transport;

/// Why an upgrade was refused. Nothing was sent: the handler can still answer normally
/// (the sample application answers `503` when the limit is reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpgradeError {
    /// Not HTTP/1.1 with `Connection: upgrade` and an `Upgrade` header, or it has a body.
    NotUpgradable,
    /// `upgrade` was already called for this request.
    AlreadyUpgraded,
    /// `max_concurrent_upgraded_connections` upgraded connections are open.
    LimitReached,
    /// The response had already started, or the connection failed while sending the
    /// `101` answer.
    ConnectionLost,
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UpgradeError::NotUpgradable => {
                "cannot upgrade a non-upgradable request (it needs HTTP/1.1, \
                 Connection: upgrade, an Upgrade header and no body)"
            }
            UpgradeError::AlreadyUpgraded => {
                "the request was already upgraded; upgrade can be called once per connection"
            }
            UpgradeError::LimitReached => {
                "request cannot be upgraded: the maximum number of concurrent upgraded \
                 connections has been reached"
            }
            UpgradeError::ConnectionLost => "the connection failed before the upgrade",
        })
    }
}

impl std::error::Error for UpgradeError {}

/// A transport with its types erased, for the upgraded stream (not the hot path).
pub(crate) trait ErasedStream {
    /// Wait until a read would return at once (data or end-of-stream); dropping the
    /// wait loses nothing.
    fn readable(&mut self) -> LocalFuture<'_, io::Result<()>>;
    fn read(&mut self, buf: BytesMut) -> LocalFuture<'_, (io::Result<usize>, BytesMut)>;
    fn write_all(&mut self, buf: Bytes) -> LocalFuture<'_, io::Result<usize>>;
    fn shutdown(&mut self) -> LocalFuture<'_, io::Result<()>>;
}

impl<T: Transport> ErasedStream for T {
    fn readable(&mut self) -> LocalFuture<'_, io::Result<()>> {
        Box::pin(Transport::readable(self, false))
    }

    fn read(&mut self, buf: BytesMut) -> LocalFuture<'_, (io::Result<usize>, BytesMut)> {
        Box::pin(Transport::read(self, buf))
    }

    fn write_all(&mut self, buf: Bytes) -> LocalFuture<'_, io::Result<usize>> {
        Box::pin(async move { Transport::write_all(self, buf).await.0 })
    }

    fn shutdown(&mut self) -> LocalFuture<'_, io::Result<()>> {
        Box::pin(Transport::shutdown(self))
    }
}

/// What an upgraded connection keeps from the worker: it counts as open (and against
/// the upgraded-connection limit) until dropped, and it tells of a graceful shutdown.
pub(crate) trait UpgradeLease {
    /// Resolves when the server starts shutting down. The future owns what it needs
    /// (it does not borrow the lease), so a handler can race it against a read.
    fn shutdown_requested(&self) -> LocalFuture<'static, ()>;
    /// Whether the server is shutting down.
    fn is_shutting_down(&self) -> bool;
}

/// The raw duplex stream of an upgraded connection. Dropping it closes the connection.
pub struct Upgraded {
    stream: Box<dyn ErasedStream>,
    /// Bytes read past the request head before the upgrade; returned by the first reads.
    leftover: BytesMut,
    /// Declared after `stream`, so dropped after it: the worker may interrupt the
    /// stream's descriptor as long as the lease lives, never once it is closed.
    lease: Box<dyn UpgradeLease>,
}

impl Upgraded {
    pub(crate) fn new(
        stream: Box<dyn ErasedStream>,
        leftover: BytesMut,
        lease: Box<dyn UpgradeLease>,
    ) -> Self {
        Upgraded {
            stream,
            leftover,
            lease,
        }
    }

    /// Read into the spare capacity of `buf`, appending to what it holds (bytes the
    /// client sent right behind the request head come first). `Ok(0)`: the client
    /// closed its side (end-of-stream, not an error).
    pub async fn read(&mut self, mut buf: BytesMut) -> (io::Result<usize>, BytesMut) {
        if !self.leftover.is_empty() {
            let n = self.leftover.len();
            buf.extend_from_slice(&self.leftover);
            self.leftover.clear();
            self.leftover = BytesMut::new();
            return (Ok(n), buf);
        }
        self.stream.read(buf).await
    }

    /// Wait until [`read`](Self::read) would return at once (data or end-of-stream),
    /// holding no buffer. Unlike a pending read, this wait can be dropped (raced against
    /// a timer or a shutdown) without losing anything the client sent.
    pub async fn readable(&mut self) -> io::Result<()> {
        if !self.leftover.is_empty() {
            return Ok(());
        }
        self.stream.readable().await
    }

    /// Write all of `data`.
    pub async fn write_all(&mut self, data: impl Into<Bytes>) -> io::Result<()> {
        self.stream.write_all(data.into()).await.map(|_| ())
    }

    /// Finish the write side (the client reads end-of-stream); reading may go on.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }

    /// Resolves when the server starts a graceful shutdown: finish within the shutdown
    /// timeout, after which the connection is closed.
    ///
    /// The future does not borrow the stream, so it can be raced against a pending
    /// [`read`](Self::read) (which borrows it mutably): take it once before the loop.
    // It was an `async fn` borrowing `&self` at first, which made exactly that race
    // impossible to write (a shared and a mutable borrow of the stream at once).
    pub fn shutdown_requested(&self) -> impl std::future::Future<Output = ()> + 'static {
        self.lease.shutdown_requested()
    }

    /// Whether the server is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.lease.is_shutting_down()
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("buffered", &self.leftover.len())
            .finish_non_exhaustive()
    }
}
