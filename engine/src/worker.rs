//! A worker: one thread pinned to one core, running its own monoio runtime on the chosen
//! backend, accepting from its own `SO_REUSEPORT` sockets (and the shared unix sockets)
//! and serving every connection it accepts. Its state ([`Shard`]) is `!Send` and shared
//! with nothing; the only thing that crosses threads is the shutdown [`Trigger`].

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use peregrine_runtime::{RuntimeThread, StartError, ThreadBuilder};

use crate::backend::{Backend, RING_ENTRIES};
use crate::handler::Handler;
use crate::metrics::{bump, Board, CloseReason};
use crate::proto::{self, CatchUnwind, Served};
use crate::registry::ConnId;
use crate::shard::{HttpSettings, Shard, ShardCore};
use crate::signal::Trigger;
use crate::transport::socket::{Socket, TcpTransport, UnixTransport};
use crate::transport::{Addr, ConnInfo, Transport};
use monoio::io::{CancelHandle, Canceller};

/// A listening socket handed to a worker.
pub(crate) struct WorkerListener {
    pub socket: ListenSocket,
    /// Set on `https` endpoints: connections start with a TLS handshake.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// The socket of a [`WorkerListener`].
#[derive(Debug)]
pub(crate) enum ListenSocket {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, std::path::PathBuf),
}

impl std::fmt::Debug for WorkerListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerListener")
            .field("socket", &self.socket)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Everything a worker thread starts from.
pub(crate) struct WorkerSpec<H> {
    pub id: usize,
    pub core: Option<core_affinity::CoreId>,
    pub backend: Backend,
    pub handler: H,
    pub listeners: Vec<WorkerListener>,
    pub http: Arc<HttpSettings>,
    pub trigger: Trigger,
    pub shutdown_timeout: Duration,
    pub ready: mpsc::Sender<Result<(), String>>,
    pub board: Board,
}

/// Start a worker thread on its core, with its runtime. It reports on `spec.ready` once
/// its listeners are registered (or why it could not register them); a runtime that
/// cannot be built is the returned error.
pub(crate) fn spawn<H: Handler>(spec: WorkerSpec<H>) -> Result<RuntimeThread<()>, StartError> {
    let id = spec.id;
    let thread = ThreadBuilder::new(format!("peregrine-w{id}"), spec.backend)
        .pin(spec.core)
        .ring_entries(RING_ENTRIES)
        .spawn(move || worker_main(spec))?;
    if let Err(e) = thread.pinned() {
        tracing::warn!(worker = id, "could not pin the worker to core {}", e.core);
    }
    tracing::debug!(worker = id, ring = ?thread.ring_flags(), "worker runtime built");
    Ok(thread)
}

/// How long connections ended at the shutdown timeout get to finish their tasks.
const ABORT_GRACE: Duration = Duration::from_secs(1);

async fn worker_main<H: Handler>(spec: WorkerSpec<H>) {
    let shard = Rc::new(Shard {
        handler: spec.handler,
        core: Rc::new(ShardCore::new(spec.http, spec.board, spec.id)),
    });
    let mut tcp = Vec::new();
    let mut unix = Vec::new();
    for l in spec.listeners {
        let registered = match l {
            WorkerListener {
                socket: ListenSocket::Tcp(s),
                tls,
            } => monoio::net::TcpListener::from_std(s).map(|s| tcp.push((s, tls))),
            WorkerListener {
                socket: ListenSocket::Unix(s, path),
                tls,
            } => monoio::net::UnixListener::from_std(s)
                .map(|listener| unix.push((UnixAcceptor { listener, path }, tls))),
        };
        if let Err(e) = registered {
            let _ = spec
                .ready
                .send(Err(format!("cannot register a listener: {e}")));
            return;
        }
    }
    let _ = spec.ready.send(Ok(()));
    shard.publish();
    let mut accepting = Vec::new();
    for (l, tls) in tcp {
        accepting.push(monoio::spawn(accept_loop(shard.clone(), l, tls)));
    }
    for (l, tls) in unix {
        accepting.push(monoio::spawn(accept_loop(shard.clone(), l, tls)));
    }
    monoio::spawn(tick(shard.core.clone()));

    spec.trigger.wait().await;
    shard.shutdown.fire();
    shard.registry.kick_idle();
    // The accept loops end first: each serves the connection its last accept returns
    // (the kernel may have handed one over as shutdown began), so none is dropped by
    // ending the worker before they ran.
    for loop_done in accepting {
        loop_done.await;
    }
    if shard.active() > 0 {
        let drained = monoio::time::timeout(spec.shutdown_timeout, shard.drained.wait()).await;
        if drained.is_err() {
            tracing::warn!(
                worker = spec.id,
                open = shard.active(),
                "shutdown timeout reached; closing the remaining connections"
            );
            // The runtime does not drop tasks still waiting on I/O when it is dropped, so
            // returning alone left these connections open (seen in-process: an upgraded
            // client never saw the close; a process exit hid it). End them at the socket,
            // then let their tasks finish and close their descriptors, briefly.
            shard.abort_all();
            let _ = monoio::time::timeout(ABORT_GRACE, shard.drained.wait()).await;
        }
    }
}

/// Once a second: re-render the Date value, let the buffer pool shrink, and enforce
/// timeouts and data rates.
async fn tick(core: Rc<ShardCore>) {
    loop {
        monoio::time::sleep(Duration::from_secs(1)).await;
        core.date.refresh();
        core.pool.borrow_mut().trim();
        core.registry.sweep();
        core.publish();
    }
}

/// A listening socket that yields transports.
pub(crate) trait Acceptor {
    /// The transport of an accepted connection.
    type Conn: Transport;

    /// Accept the next connection; `cancel` ends the wait (the result is then the
    /// connection the kernel had already handed over, or `ECANCELED`: none is lost).
    async fn accept(&self, cancel: CancelHandle) -> io::Result<Self::Conn>;

    /// The listening socket's descriptor.
    fn fd(&self) -> std::os::fd::RawFd;
}

impl Acceptor for monoio::net::TcpListener {
    type Conn = TcpTransport;

    async fn accept(&self, cancel: CancelHandle) -> io::Result<TcpTransport> {
        let (stream, peer) = monoio::net::TcpListener::cancelable_accept(self, cancel).await?;
        let local = stream
            .local_addr()
            .map(Addr::Ip)
            .unwrap_or(Addr::Unix(None));
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            local_addr: local,
            remote_addr: Addr::Ip(peer),
            scheme: "http",
            tls: None,
        };
        let conn = Socket::new(stream, info);
        crate::sys::set_cloexec(conn.fd());
        Ok(conn)
    }

    fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(self)
    }
}

/// A unix listening socket and its path (the local address of its connections).
pub(crate) struct UnixAcceptor {
    listener: monoio::net::UnixListener,
    path: std::path::PathBuf,
}

impl Acceptor for UnixAcceptor {
    type Conn = UnixTransport;

    async fn accept(&self, cancel: CancelHandle) -> io::Result<UnixTransport> {
        let (stream, peer) = self.listener.cancelable_accept(cancel).await?;
        let info = ConnInfo {
            local_addr: Addr::Unix(Some(self.path.clone())),
            remote_addr: Addr::Unix(peer.as_pathname().map(|p| p.to_path_buf())),
            scheme: "http",
            tls: None,
        };
        let conn = Socket::new(stream, info);
        crate::sys::set_cloexec(conn.fd());
        Ok(conn)
    }

    fn fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.listener)
    }
}

/// Accept connections until shutdown starts.
async fn accept_loop<H: Handler, A: Acceptor>(
    shard: Rc<Shard<H>>,
    acceptor: A,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let canceller = Canceller::new();
    loop {
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
            Err(e) => accept_failed(&shard, e).await,
        }
    }
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

/// Admit a connection (the max-concurrent-connections limit) and serve it on a task of
/// its own.
pub(crate) fn start_conn<H: Handler, T: Transport>(
    shard: &Rc<Shard<H>>,
    stream: T,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let http = &shard.http;
    bump(&shard.counters.accepted, 1);
    if !http.admit_connection() {
        bump(&shard.counters.rejected_over_limit, 1);
        tracing::warn!(
            remote = %stream.info().remote_addr,
            "Connection rejected because the maximum number of concurrent connections ({}) has been reached.",
            http.max_concurrent_connections.unwrap_or_default()
        );
        drop(stream);
        return;
    }
    shard.enter();
    let id = shard.registry.register(stream.interrupt());
    if http.proxy_protocol {
        let conn = proto::serve_proxied(shard.clone(), stream, id, tls);
        run_conn(shard.clone(), id, conn);
        return;
    }
    // Two task bodies rather than one with a branch: the plain one is one state machine
    // less per poll (measured: 77 instructions per request).
    match tls {
        None => run_conn(shard.clone(), id, proto::serve(shard.clone(), stream, id)),
        Some(config) => run_conn(
            shard.clone(),
            id,
            proto::serve_tls(shard.clone(), stream, id, config),
        ),
    }
}

/// Run a connection's future on a task of its own, and account for its end.
fn run_conn<H: Handler, F: Future<Output = Served> + 'static>(
    shard: Rc<Shard<H>>,
    id: ConnId,
    conn: F,
) {
    monoio::spawn(async move {
        // A panic anywhere in the connection (the handler's own panics are answered with
        // a 500 earlier) ends this connection only, never the worker.
        let mut served = None;
        let ran = CatchUnwind::new(conn, &mut served).await;
        if ran.is_err() {
            tracing::error!("a connection task panicked; the connection was dropped");
            bump(&shard.counters.panics, 1);
            shard.counters.closed(CloseReason::Aborted);
        }
        // No await since the stream was dropped (or upgraded away): the sweep cannot
        // have seen its descriptor number reused.
        shard.registry.unregister(id);
        if served != Some(Served::Upgraded) {
            // An upgraded connection left both counts when it switched.
            shard.http.release_connection();
            shard.leave();
        }
    });
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
