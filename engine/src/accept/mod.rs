//! Accepting connections: one generic accept loop per listening socket and worker, over
//! an [`Acceptor`] (TCP or unix).
//!
//! Fairness: each turn the loop waits for one connection (an io_uring accept completes
//! only when the worker next enters the kernel, so established connections get their
//! turn in between), then takes up to [`ACCEPT_BATCH`] more that are already queued
//! with non-blocking `accept(2)` calls, and yields after a full batch. Taking one
//! connection per io_uring round let a burst of thousands of connections overflow the
//! kernel's accept queue (SYNs dropped, clients retrying after a second: the
//! multi-second tails of issue 15); a batch with no bound would let a flood of new
//! connections starve the established ones.
//!
//! Stopping loses no connection: at shutdown the pending accept is made to complete
//! (see [`leave_group`]) and what it returns is served; no accept starts after that
//! (connections still queued stay for whoever listens next: a restart's new copy). The
//! worker counts its connections down only once its accept loops ended
//! ([`ShardCore::accepting_ended`](crate::shard::ShardCore::accepting_ended)).

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use monoio::io::{CancelHandle, Canceller};

use crate::fair::yield_now;
use crate::handler::Handler;
use crate::metrics::bump;
use crate::shard::{HttpSettings, Shard};
use crate::transport::socket::{Socket, TcpTransport, UnixTransport};
use crate::transport::{Addr, ConnInfo, Transport};
use crate::worker::start_conn;

/// Connections taken in one turn of an accept loop (one waited for, the rest already
/// queued). Large enough to drain a burst well before the kernel's queue (`somaxconn`,
/// 4096 by default) fills; small enough that one turn costs well under a millisecond.
pub(crate) const ACCEPT_BATCH: usize = 128;

/// A listening socket that yields transports.
pub(crate) trait Acceptor {
    /// The transport of an accepted connection.
    type Conn: Transport;

    /// Accept the next connection; `cancel` ends the wait (the result is then the
    /// connection the kernel had already handed over, or `ECANCELED`: none is lost).
    async fn accept(&self, cancel: CancelHandle) -> io::Result<Self::Conn>;

    /// Accept a connection already queued, without waiting: `Ok(None)` when none is.
    fn accept_queued(&self) -> io::Result<Option<Self::Conn>>;

    /// The listening socket's descriptor.
    fn fd(&self) -> std::os::fd::RawFd;
}

/// A TCP listening socket on a worker's runtime.
pub(crate) struct TcpAcceptor {
    listener: monoio::net::TcpListener,
    /// The readiness backend: sockets accepted by hand are made non-blocking (it needs
    /// them so), and monoio's own accept there is `accept4` with close-on-exec. On
    /// io_uring they stay blocking, as its accept returns them, without close-on-exec.
    nonblocking: bool,
    /// The listener's address where it is one address (not a wildcard): then it is every
    /// connection's local address, and no `getsockname` is needed per connection.
    local: Option<std::net::SocketAddr>,
}

impl TcpAcceptor {
    /// Register `listener` (made non-blocking, which the queued accepts rely on) with
    /// the current runtime. `TCP_NODELAY` is set on the listener, where Linux's
    /// accepted sockets inherit it: no `setsockopt` per connection.
    pub fn new(listener: std::net::TcpListener, nonblocking: bool) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        socket2::SockRef::from(&listener).set_tcp_nodelay(true)?;
        let local = listener
            .local_addr()
            .ok()
            .filter(|a| !a.ip().is_unspecified());
        Ok(TcpAcceptor {
            listener: monoio::net::TcpListener::from_std(listener)?,
            nonblocking,
            local,
        })
    }

    fn transport(
        &self,
        stream: monoio::net::TcpStream,
        peer: std::net::SocketAddr,
    ) -> TcpTransport {
        crate::fdtable::note(std::os::fd::AsRawFd::as_raw_fd(&stream));
        let local = match self.local {
            Some(local) => Addr::Ip(local),
            None => stream
                .local_addr()
                .map(Addr::Ip)
                .unwrap_or(Addr::Unix(None)),
        };
        // Inherited from the listener on Linux (see `new`).
        #[cfg(not(target_os = "linux"))]
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            local_addr: local,
            remote_addr: Addr::Ip(peer),
            scheme: "http",
            tls: None,
        };
        Socket::new(stream, info)
    }
}

impl Acceptor for TcpAcceptor {
    type Conn = TcpTransport;

    async fn accept(&self, cancel: CancelHandle) -> io::Result<TcpTransport> {
        let (stream, peer) = self.listener.cancelable_accept(cancel).await?;
        if !self.nonblocking {
            crate::sys::set_cloexec(std::os::fd::AsRawFd::as_raw_fd(&stream));
        }
        Ok(self.transport(stream, peer))
    }

    fn accept_queued(&self) -> io::Result<Option<TcpTransport>> {
        let Some((socket, peer)) = crate::sys::accept_queued(self.fd(), self.nonblocking)? else {
            return Ok(None);
        };
        let Some(peer) = peer.as_socket() else {
            return Err(io::Error::other("a TCP listener accepted a non-IP peer"));
        };
        let stream = monoio::net::TcpStream::from_std(socket.into())?;
        Ok(Some(self.transport(stream, peer)))
    }

    fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.listener)
    }
}

/// A unix listening socket and its path (the local address of its connections).
pub(crate) struct UnixAcceptor {
    listener: monoio::net::UnixListener,
    path: std::path::PathBuf,
    /// As [`TcpAcceptor::nonblocking`] (which also says when close-on-exec is set).
    nonblocking: bool,
}

impl UnixAcceptor {
    /// Register `listener` (made non-blocking) with the current runtime.
    pub fn new(
        listener: std::os::unix::net::UnixListener,
        path: std::path::PathBuf,
        nonblocking: bool,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        Ok(UnixAcceptor {
            listener: monoio::net::UnixListener::from_std(listener)?,
            path,
            nonblocking,
        })
    }

    fn transport(
        &self,
        stream: monoio::net::UnixStream,
        peer: Option<&std::path::Path>,
    ) -> UnixTransport {
        crate::fdtable::note(std::os::fd::AsRawFd::as_raw_fd(&stream));
        let info = ConnInfo {
            local_addr: Addr::Unix(Some(self.path.clone())),
            remote_addr: Addr::Unix(peer.map(|p| p.to_path_buf())),
            scheme: "http",
            tls: None,
        };
        Socket::new(stream, info)
    }
}

impl Acceptor for UnixAcceptor {
    type Conn = UnixTransport;

    async fn accept(&self, cancel: CancelHandle) -> io::Result<UnixTransport> {
        let (stream, peer) = self.listener.cancelable_accept(cancel).await?;
        if !self.nonblocking {
            crate::sys::set_cloexec(std::os::fd::AsRawFd::as_raw_fd(&stream));
        }
        Ok(self.transport(stream, peer.as_pathname()))
    }

    fn accept_queued(&self) -> io::Result<Option<UnixTransport>> {
        let Some((socket, peer)) = crate::sys::accept_queued(self.fd(), self.nonblocking)? else {
            return Ok(None);
        };
        let stream = monoio::net::UnixStream::from_std(socket.into())?;
        Ok(Some(self.transport(stream, peer.as_pathname())))
    }

    fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.listener)
    }
}

/// Accept connections until shutdown starts.
pub(crate) async fn accept_loop<H: Handler, A: Acceptor>(
    shard: Rc<Shard<H>>,
    acceptor: A,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let canceller = Canceller::new();
    loop {
        // Shutdown stops accepting, also while connections are queued (on epoll an
        // accept completes at once then, and would otherwise win every race with the
        // shutdown below): after a restart's hand-over the new copy takes them.
        if shard.shutdown.is_fired() {
            return;
        }
        let accept = acceptor.accept(canceller.handle());
        let mut accept = std::pin::pin!(accept);
        let shutdown = shard.shutdown.wait();
        let mut shutdown = std::pin::pin!(shutdown);
        let accepted = std::future::poll_fn(|cx| {
            if let std::task::Poll::Ready(r) = accept.as_mut().poll(cx) {
                return std::task::Poll::Ready(Some(r));
            }
            shutdown.as_mut().poll(cx).map(|()| None)
        })
        .await;
        let accepted = match accepted {
            Some(r) => r,
            None => {
                // Never drop a pending accept: on io_uring the kernel may have handed
                // over a connection already, which would be lost. Make it complete (the
                // listener leaves its group, or the accept is cancelled) and serve
                // what it returns.
                if !leave_group(&shard.http, acceptor.fd()) {
                    let _ = canceller.cancel();
                }
                if let Ok(conn) = accept.await {
                    start_conn(&shard, conn, tls.clone());
                }
                return;
            }
        };
        match accepted {
            Ok(conn) => start_conn(&shard, conn, tls.clone()),
            Err(e) => {
                accept_failed(&shard, e).await;
                continue;
            }
        }
        if take_queued(&shard, &acceptor, &tls).await {
            bump(&shard.counters.accept_batches_full, 1);
            yield_now().await;
        }
    }
}

/// Serve the connections already queued on `acceptor`, up to a batch; `true` when the
/// batch was full (more may be waiting: the caller yields before the next turn).
async fn take_queued<H: Handler, A: Acceptor>(
    shard: &Rc<Shard<H>>,
    acceptor: &A,
    tls: &Option<Arc<rustls::ServerConfig>>,
) -> bool {
    for _ in 1..ACCEPT_BATCH {
        if shard.shutdown.is_fired() {
            return false;
        }
        match acceptor.accept_queued() {
            Ok(Some(conn)) => start_conn(shard, conn, tls.clone()),
            Ok(None) => return false,
            Err(e) => {
                accept_failed(shard, e).await;
                return false;
            }
        }
    }
    true
}

/// At shutdown, take a shared (`--port-sharing`) listening socket out of its
/// `SO_REUSEPORT` group at once: closing it is not enough, since a pending io_uring
/// accept keeps the socket listening until the kernel tears the ring down, after the
/// process exited, and connections the kernel hands it meanwhile are reset.
/// `shutdown(2)` unhashes it now; with `net.ipv4.tcp_migrate_req=1` the connections
/// still queued on it move to another socket of the group (the new process) instead of
/// being reset. A socket handed to another process (a binary upgrade) is left alone: it
/// lives on there.
/// `true` when it did.
fn leave_group(http: &HttpSettings, fd: std::os::fd::RawFd) -> bool {
    http.port_sharing
        && !http.listeners_handed_over.load(Ordering::Acquire)
        && crate::sys::shutdown(fd, libc::SHUT_RDWR).is_ok()
}

/// Accept errors: out of descriptors backs off briefly instead of spinning.
async fn accept_failed<H: Handler>(shard: &Rc<Shard<H>>, e: io::Error) {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
            tracing::warn!(error = %e, "accept failed: out of resources; backing off");
            monoio::select! {
                _ = monoio::time::sleep(Duration::from_millis(50)) => {},
                _ = shard.shutdown.wait() => {},
            }
        }
        _ => tracing::debug!(error = %e, "accept failed"),
    }
}

#[cfg(test)]
mod tests;
