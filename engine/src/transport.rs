//! Transport: the byte streams connections run over (TCP and unix sockets today, TLS
//! later), behind one type so the HTTP layer never knows which it has. Owned-buffer I/O
//! (`read(buf) -> (result, buf)`), as io_uring needs.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::BytesMut;
use monoio::buf::{IoBuf, SliceMut};
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, CancelHandle, CancelableAsyncReadRent,
};
use monoio::net::{TcpStream, UnixStream};
use monoio::BufResult;

/// A connected byte stream.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-socket connection.
    Unix(UnixStream),
}

impl Stream {
    /// Wait until the stream is readable, holding no buffer while waiting (an idle
    /// keep-alive connection costs no read buffer). `relaxed` allows a false positive on
    /// the epoll backend (saving a `poll` syscall); the read that follows copes with it.
    pub async fn readable(&self, relaxed: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.readable(relaxed).await,
            Stream::Unix(s) => s.readable(relaxed).await,
        }
    }

    /// Read into the spare capacity of `buf`, appending to what it holds (monoio's own
    /// `read` fills a buffer from its start). Ensures some spare capacity first, so a
    /// zero-length result always means end-of-stream.
    pub async fn read(&mut self, mut buf: BytesMut) -> BufResult<usize, BytesMut> {
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        let (start, end) = (buf.len(), buf.capacity());
        let slice = SliceMut::new(buf, start, end);
        let (res, slice) = match self {
            Stream::Tcp(s) => s.read(slice).await,
            Stream::Unix(s) => s.read(slice).await,
        };
        (res, slice.into_inner())
    }

    /// [`Stream::read`] that the worker can cancel (the result then is `ECANCELED`, or
    /// the data if it arrived first: nothing is lost).
    pub async fn cancelable_read(
        &mut self,
        mut buf: BytesMut,
        cancel: CancelHandle,
    ) -> BufResult<usize, BytesMut> {
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        let (start, end) = (buf.len(), buf.capacity());
        let slice = SliceMut::new(buf, start, end);
        let (res, slice) = match self {
            Stream::Tcp(s) => s.cancelable_read(slice, cancel).await,
            Stream::Unix(s) => s.cancelable_read(slice, cancel).await,
        };
        (res, slice.into_inner())
    }

    /// Write all of `buf`.
    pub async fn write_all<T: IoBuf>(&mut self, buf: T) -> BufResult<usize, T> {
        match self {
            Stream::Tcp(s) => s.write_all(buf).await,
            Stream::Unix(s) => s.write_all(buf).await,
        }
    }

    /// The socket's descriptor (for the worker's connection table).
    pub fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }

    /// Shut down the write side (sends FIN).
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown().await,
            Stream::Unix(s) => s.shutdown().await,
        }
    }
}

/// One side of a connection's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A unix socket path (`None` for an unnamed client socket).
    Unix(Option<PathBuf>),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(sa) => write!(f, "{sa}"),
            Addr::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Addr::Unix(None) => f.write_str("unix"),
        }
    }
}

/// What the application may know about a connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// The server's address.
    pub local_addr: Addr,
    /// The client's address.
    pub remote_addr: Addr,
    /// `http` (later `https`).
    pub scheme: &'static str,
}
