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
use super::{ConnInfo, Interrupt, Probe, Transport, WriteBuf};

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
    const UNREAD_AT_START: bool = true;

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

    /// On the readiness backend, the read polled once: a socket with nothing to read
    /// answers `EAGAIN`, which clears monoio's readiness for it. (On io_uring a read
    /// is a submission that cannot be taken back for free: unsupported there.)
    fn probe_read(&mut self, buf: BytesMut) -> Probe {
        if !monoio::utils::is_legacy() {
            return Probe::Unsupported(buf);
        }
        let read = self.read(buf);
        let mut read = std::pin::pin!(read);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match read.as_mut().poll(&mut cx) {
            Poll::Ready(done) => Probe::Read(done),
            Poll::Pending => Probe::WouldBlock,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::Addr;

    fn pair() -> (UnixTransport, std::os::unix::net::UnixStream) {
        let (ours, peer) = std::os::unix::net::UnixStream::pair().unwrap();
        ours.set_nonblocking(true).unwrap();
        let info = ConnInfo {
            local_addr: Addr::Unix(None),
            remote_addr: Addr::Unix(None),
            scheme: "http",
            tls: None,
        };
        (Socket::new(UnixStream::from_std(ours).unwrap(), info), peer)
    }

    /// On epoll the probe tells "nothing yet", then (after a relaxed wait) reads what
    /// arrived, then end-of-stream.
    #[test]
    fn a_probe_reads_what_is_there_or_leaves_the_socket_known_drained() {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .build()
            .expect("a runtime")
            .block_on(async {
                use std::io::Write;
                let (mut s, mut peer) = pair();
                assert!(matches!(
                    s.probe_read(BytesMut::with_capacity(64)),
                    Probe::WouldBlock
                ));
                peer.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
                s.readable(true).await.unwrap();
                match s.probe_read(BytesMut::with_capacity(64)) {
                    Probe::Read((Ok(n), buf)) => assert_eq!(&buf[..n], b"GET / HTTP/1.1\r\n\r\n"),
                    _ => panic!("the bytes were not read"),
                }
                assert!(matches!(
                    s.probe_read(BytesMut::with_capacity(64)),
                    Probe::WouldBlock
                ));
                drop(peer);
                s.readable(true).await.unwrap();
                assert!(matches!(
                    s.probe_read(BytesMut::with_capacity(64)),
                    Probe::Read((Ok(0), _))
                ));
            });
    }

    /// On io_uring a read cannot be taken back for free: no probe, the buffer returned.
    #[cfg(target_os = "linux")]
    #[test]
    fn io_uring_does_not_probe() {
        let Ok(mut rt) = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build() else {
            eprintln!("skipped: io_uring is unavailable");
            return;
        };
        rt.block_on(async {
            let (mut s, _peer) = pair();
            match s.probe_read(BytesMut::with_capacity(64)) {
                Probe::Unsupported(buf) => assert_eq!(buf.capacity(), 64),
                _ => panic!("io_uring probed"),
            }
        });
    }
}
