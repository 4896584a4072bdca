//! Transports: the byte streams connections run over. The protocol code is generic over
//! [`Transport`] (as hyper's `proto::h1` is over `Read + Write`): kernel sockets today
//! ([`socket`]: TCP and unix), an in-memory duplex pipe for tests ([`memory`]), and TLS,
//! PROXY-protocol-prefixed and systemd-passed sockets as further implementations.
//!
//! I/O is owned-buffer (`read(buf) -> (result, buf)`), as io_uring needs.

#[cfg(test)]
pub(crate) mod memory;
pub(crate) mod poll;
pub(crate) mod prefixed;
pub(crate) mod socket;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::BytesMut;
use monoio::buf::IoBuf;
use monoio::BufResult;

/// A buffer a transport can write: owned (io_uring keeps it while the write runs) and
/// readable as a slice (for transports that copy or encrypt it).
pub trait WriteBuf: IoBuf + AsRef<[u8]> {}

impl<T: IoBuf + AsRef<[u8]>> WriteBuf for T {}

/// A connected, bidirectional byte stream.
///
/// Every method may be called again after it returned; a read or write future that is
/// dropped before it completes loses nothing already read into the caller's buffer.
pub trait Transport: 'static {
    /// Whether a connection may wait for its next request with a read pending (a "hot"
    /// read, holding its buffer): one operation instead of a readiness wait and a read.
    /// Only where the worker's [`Interrupt`] also ends such a read (kernel sockets:
    /// `shutdown(2)`), so that timeouts and shutdown still reach the connection.
    const HOT_READS: bool = false;

    /// Whether the protocol gets this transport before anything was read from it (a
    /// socket just accepted: no stale readiness, so the first wait may be relaxed). Not
    /// where a PROXY header or a TLS handshake was read first.
    const UNREAD_AT_START: bool = false;

    /// Wait until a read would return data or end-of-stream without waiting, holding no
    /// buffer meanwhile (an idle keep-alive connection costs no read buffer). A
    /// transport that buffers (TLS holds decrypted bytes the kernel no longer reports)
    /// must answer from its buffer first. `relaxed` allows a false positive (saving a
    /// `poll(2)` on epoll); the read that follows copes with it.
    fn readable(&self, relaxed: bool) -> impl Future<Output = io::Result<()>>;

    /// Read into the spare capacity of `buf`, appending to what it holds. Ensures some
    /// spare capacity first, so `Ok(0)` always means end-of-stream.
    fn read(&mut self, buf: BytesMut) -> impl Future<Output = BufResult<usize, BytesMut>>;

    /// Try one read that does not wait, where that also tells the runtime the socket is
    /// drained (the readiness backend: a read that would block clears its readiness, so
    /// the next [`readable`](Transport::readable) may be relaxed and cost no `poll(2)`).
    /// Elsewhere [`Probe::Unsupported`] hands `buf` back untouched.
    fn probe_read(&mut self, buf: BytesMut) -> Probe {
        Probe::Unsupported(buf)
    }

    /// Write all of `buf`.
    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Finish the write side (TCP: FIN); reads may go on.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>>;

    /// The handle the worker wakes this connection's pending I/O with (timeouts,
    /// shutdown); see [`Interrupt`].
    fn interrupt(&self) -> Interrupt;

    /// Addresses and scheme of the connection (shared: the transport moves between
    /// owners on every request, so it stays small).
    fn info(&self) -> &Rc<ConnInfo>;

    /// The poll-style twin this transport becomes for HTTP/2 (see [`poll`]).
    type Poll: poll::PollIo;

    /// Become [`Transport::Poll`]; the [`Interrupt`] stays valid.
    fn into_poll(self) -> io::Result<Self::Poll>;
}

/// What [`Transport::probe_read`] found.
pub enum Probe {
    /// The read completed at once: data, end-of-stream or an error, as from `read`.
    Read(BufResult<usize, BytesMut>),
    /// Nothing to read: the read would have waited, and was dropped with its buffer.
    /// The transport's readiness is now known to be clear.
    WouldBlock,
    /// This transport (or backend) cannot probe; the buffer, untouched.
    Unsupported(BytesMut),
}

/// What an interrupt stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Pending and future reads (and readiness waits) end with end-of-stream.
    Read,
    /// Reads as above, and pending and future writes fail.
    ReadWrite,
}

/// How the worker wakes a connection whose wait ran out, without a timer per
/// connection: whatever the connection is waiting on completes, and the connection then
/// asks the worker why. Kernel sockets use `shutdown(2)` on their descriptor; other
/// transports (the in-memory pipe, a TLS session with buffered plaintext) provide their
/// own handle.
#[derive(Clone)]
pub enum Interrupt {
    /// `shutdown(2)` on this socket descriptor.
    Socket(RawFd),
    /// A transport's own wake-up.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the in-memory pipe (tests) today; TLS next")
    )]
    Handle(Rc<dyn Interruptible>),
}

impl Interrupt {
    /// Wake the connection's pending I/O.
    pub fn fire(&self, stop: Stop) {
        match self {
            Interrupt::Socket(fd) => {
                let how = match stop {
                    Stop::Read => libc::SHUT_RD,
                    Stop::ReadWrite => libc::SHUT_RDWR,
                };
                // A descriptor that is no longer a connected socket has no pending I/O.
                let _ = crate::sys::shutdown(*fd, how);
            }
            Interrupt::Handle(h) => h.interrupt(stop),
        }
    }
}

impl std::fmt::Debug for Interrupt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupt::Socket(fd) => write!(f, "Interrupt::Socket({fd})"),
            Interrupt::Handle(_) => f.write_str("Interrupt::Handle"),
        }
    }
}

/// A transport's own way of waking its pending I/O (see [`Interrupt`]).
pub trait Interruptible {
    /// Make pending and future reads end (and with [`Stop::ReadWrite`], writes fail).
    fn interrupt(&self, stop: Stop);
}

/// One side of a connection's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A unix socket path (`None` for an unnamed client socket).
    Unix(Option<PathBuf>),
    /// An in-memory pipe (tests); the name says which.
    Memory(&'static str),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Ip(sa) => write!(f, "{sa}"),
            Addr::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            Addr::Unix(None) => f.write_str("unix"),
            Addr::Memory(name) => write!(f, "memory:{name}"),
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
    /// `http` or `https`.
    pub scheme: &'static str,
    /// What the TLS handshake settled, on `https` connections (boxed: every connection
    /// holds a `ConnInfo` while it lives, and most are not TLS).
    pub tls: Option<Box<TlsInfo>>,
}

/// What a TLS connection's handshake settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The protocol chosen by ALPN (`http/1.1`), if the client offered any.
    pub alpn: Option<String>,
    /// The host name the client asked for (SNI), if any.
    pub sni: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: &'static str,
    /// The cipher suite, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher: &'static str,
    /// The client's verified certificate chain (DER, its own certificate first); empty
    /// when it sent none.
    pub client_chain: Vec<Vec<u8>>,
    /// The subject of the client's certificate, e.g. `CN=alice, O=Example`.
    pub client_subject: Option<String>,
}
