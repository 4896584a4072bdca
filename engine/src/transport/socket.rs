//! Kernel sockets as transports: TCP and unix-domain streams through monoio (io_uring
//! or epoll, whichever the worker runs). Interrupted with `shutdown(2)`.

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use bytes::BytesMut;
use monoio::buf::SliceMut;
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
};
use monoio::net::{TcpStream, UnixStream};
use monoio::BufResult;

use super::{ConnInfo, Interrupt, Transport, WriteBuf};

/// What the kernel socket types monoio provides have in common.
pub(crate) trait SocketStream:
    AsyncReadRent + AsyncWriteRent + CancelableAsyncReadRent + AsRawFd + 'static
{
    /// Readiness (monoio's inherent `readable`).
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>>;
}

impl SocketStream for TcpStream {
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>> {
        self.readable(relaxed)
    }
}

impl SocketStream for UnixStream {
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>> {
        self.readable(relaxed)
    }
}

/// A kernel socket with what the application may know about it.
#[derive(Debug)]
pub(crate) struct Socket<S> {
    stream: S,
    info: ConnInfo,
}

/// A TCP connection.
pub(crate) type TcpTransport = Socket<TcpStream>;
/// A unix-socket connection.
pub(crate) type UnixTransport = Socket<UnixStream>;

impl<S: SocketStream> Socket<S> {
    pub fn new(stream: S, info: ConnInfo) -> Self {
        Socket { stream, info }
    }

    /// The socket's descriptor.
    pub fn fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

/// Spare capacity for a read that appends: `(buf, start, end)`.
#[inline]
fn spare(mut buf: BytesMut) -> SliceMut<BytesMut> {
    if buf.capacity() == buf.len() {
        buf.reserve(4096);
    }
    let (start, end) = (buf.len(), buf.capacity());
    SliceMut::new(buf, start, end)
}

impl<S: SocketStream> Transport for Socket<S> {
    const CANCELABLE_READS: bool = true;

    #[inline]
    async fn readable(&self, relaxed: bool) -> io::Result<()> {
        self.stream.ready(relaxed).await
    }

    #[inline]
    async fn read(&mut self, buf: BytesMut) -> BufResult<usize, BytesMut> {
        let (res, slice) = self.stream.read(spare(buf)).await;
        (res, slice.into_inner())
    }

    #[inline]
    async fn cancelable_read(
        &mut self,
        buf: BytesMut,
        cancel: CancelHandle,
    ) -> BufResult<usize, BytesMut> {
        let (res, slice) = self.stream.cancelable_read(spare(buf), cancel).await;
        (res, slice.into_inner())
    }

    #[inline]
    async fn write_all<B: WriteBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        self.stream.write_all(buf).await
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        AsyncWriteRent::shutdown(&mut self.stream).await
    }

    fn interrupt(&self) -> Interrupt {
        Interrupt::Socket(self.stream.as_raw_fd())
    }

    fn info(&self) -> &ConnInfo {
        &self.info
    }
}
