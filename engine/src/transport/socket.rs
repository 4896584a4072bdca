//! Kernel sockets as transports: TCP and unix-domain streams through monoio (io_uring
//! or epoll, whichever the worker runs). Interrupted with `shutdown(2)`.

use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{ready, Context, Poll};

use bytes::BytesMut;
use monoio::buf::SliceMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, IntoPollIo};
use monoio::net::{TcpStream, UnixStream};
use monoio::BufResult;

use super::poll::PollIo;
use super::{ConnInfo, Interrupt, Transport, WriteBuf};

/// What the kernel socket types monoio provides have in common.
pub(crate) trait SocketStream: AsyncReadRent + AsyncWriteRent + AsRawFd + 'static {
    /// Readiness (monoio's inherent `readable`).
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>>;

    /// monoio's poll-io twin of the socket.
    type Poll: PollIo;

    /// Become the poll-io twin.
    fn into_poll(self) -> io::Result<Self::Poll>;
}

impl SocketStream for TcpStream {
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>> {
        self.readable(relaxed)
    }

    type Poll = monoio::net::tcp::stream_poll::TcpStreamPoll;

    fn into_poll(self) -> io::Result<Self::Poll> {
        self.into_poll_io()
    }
}

impl SocketStream for UnixStream {
    fn ready(&self, relaxed: bool) -> impl std::future::Future<Output = io::Result<()>> {
        self.readable(relaxed)
    }

    type Poll = monoio::net::unix::stream_poll::UnixStreamPoll;

    fn into_poll(self) -> io::Result<Self::Poll> {
        self.into_poll_io()
    }
}

/// A kernel socket with what the application may know about it.
#[derive(Debug)]
pub(crate) struct Socket<S> {
    stream: S,
    info: Rc<ConnInfo>,
}

/// A TCP connection.
pub(crate) type TcpTransport = Socket<TcpStream>;
/// A unix-socket connection.
pub(crate) type UnixTransport = Socket<UnixStream>;

impl<S: SocketStream> Socket<S> {
    pub fn new(stream: S, info: ConnInfo) -> Self {
        Socket {
            stream,
            info: Rc::new(info),
        }
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

pin_project_lite::pin_project! {
    /// A read into the spare part of a buffer, giving back the whole buffer. A plain
    /// future rather than an `async` wrapper: one state machine less to build and move
    /// per read (measured: 64 instructions of `memcpy` per request on the hot path).
    struct WholeBuf<F> {
        #[pin]
        read: F,
    }
}

impl<F: Future<Output = BufResult<usize, SliceMut<BytesMut>>>> Future for WholeBuf<F> {
    type Output = BufResult<usize, BytesMut>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (res, slice) = ready!(self.project().read.poll(cx));
        Poll::Ready((res, slice.into_inner()))
    }
}

impl<S: SocketStream> Transport for Socket<S> {
    const HOT_READS: bool = true;

    #[inline]
    fn readable(&self, relaxed: bool) -> impl Future<Output = io::Result<()>> {
        self.stream.ready(relaxed)
    }

    #[inline]
    fn read(&mut self, buf: BytesMut) -> impl Future<Output = BufResult<usize, BytesMut>> {
        WholeBuf {
            read: self.stream.read(spare(buf)),
        }
    }

    #[inline]
    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.stream.write_all(buf)
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        AsyncWriteRent::shutdown(&mut self.stream).await
    }

    fn interrupt(&self) -> Interrupt {
        Interrupt::Socket(self.stream.as_raw_fd())
    }

    fn info(&self) -> &Rc<ConnInfo> {
        &self.info
    }

    type Poll = S::Poll;

    fn into_poll(self) -> io::Result<S::Poll> {
        self.stream.into_poll()
    }
}
