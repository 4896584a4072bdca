//! A worker: one thread pinned to one core, running its own monoio runtime on the chosen
//! backend, accepting from its own `SO_REUSEPORT` sockets (and the shared unix sockets)
//! and serving every connection it accepts. Its state is `!Send` and shared with
//! nothing; the only thing that crosses threads is the shutdown [`Trigger`].

use std::cell::{Cell, RefCell};
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use peregrine_protocol::h1::parse::Limits;
use peregrine_runtime::{RuntimeThread, StartError, ThreadBuilder};

use crate::backend::{Backend, RING_ENTRIES};
use crate::conn;
use crate::conn::CatchUnwind;
use crate::date::DateCache;
use crate::handler::Handler;
use crate::metrics::{bump, Board, CloseReason, Counters};
use crate::pool::BufPool;
use crate::registry::{Registry, Timeouts};
use crate::signal::{LocalSignal, Trigger};
use crate::sys::set_cloexec;
use crate::transport::{Addr, ConnInfo, Stream};

/// Read/write buffer size handed out by the pool.
const BUF_SIZE: usize = 4096;
/// Idle buffers a worker keeps at most.
const MAX_IDLE_BUFS: usize = 1024;

/// HTTP settings shared (read-only) by all workers.
#[derive(Debug)]
pub(crate) struct HttpSettings {
    pub server_header: Option<Vec<u8>>,
    pub limits: Limits,
    pub max_request_body_size: Option<u64>,
    pub max_request_buffer_size: usize,
    pub max_response_buffer_size: usize,
    pub timeouts: Timeouts,
    pub max_concurrent_connections: Option<u64>,
    /// Wait for back-to-back requests with a pending read (io_uring: one operation
    /// instead of two; on epoll the readiness wait is the cheaper way).
    pub hot_reads: bool,
    /// Open connections across all workers (touched once per connection, never per
    /// request), for `max_concurrent_connections`.
    pub open_connections: AtomicU64,
}

/// Per-worker state, shared by the worker's tasks through `Rc`.
pub(crate) struct Worker<H> {
    pub handler: H,
    pub date: DateCache,
    pub pool: RefCell<BufPool>,
    /// Fired when shutdown starts: stop accepting, finish in-flight requests.
    pub shutdown: LocalSignal,
    /// Fired when the last connection closes after shutdown started.
    drained: LocalSignal,
    active: Cell<usize>,
    pub http: Arc<HttpSettings>,
    /// Every open connection's phase: timeouts, data rates, shutdown.
    pub registry: Rc<Registry>,
    /// This worker's counters, published to `board` once a second.
    pub counters: Rc<Counters>,
    board: Board,
    id: usize,
}

/// A listening socket handed to a worker.
#[derive(Debug)]
pub(crate) enum WorkerListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, std::path::PathBuf),
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

async fn worker_main<H: Handler>(spec: WorkerSpec<H>) {
    let worker = Rc::new(Worker {
        handler: spec.handler,
        date: DateCache::new(spec.http.server_header.as_deref()),
        pool: RefCell::new(BufPool::new(BUF_SIZE, MAX_IDLE_BUFS)),
        shutdown: LocalSignal::default(),
        drained: LocalSignal::default(),
        active: Cell::new(0),
        registry: Rc::new(Registry::new(spec.http.timeouts)),
        http: spec.http,
        counters: Rc::new(Counters::default()),
        board: spec.board,
        id: spec.id,
    });
    let mut tcp = Vec::new();
    let mut unix = Vec::new();
    for l in spec.listeners {
        let registered = match l {
            WorkerListener::Tcp(l) => monoio::net::TcpListener::from_std(l).map(|l| tcp.push(l)),
            WorkerListener::Unix(l, path) => {
                monoio::net::UnixListener::from_std(l).map(|l| unix.push((l, path)))
            }
        };
        if let Err(e) = registered {
            let _ = spec
                .ready
                .send(Err(format!("cannot register a listener: {e}")));
            return;
        }
    }
    let _ = spec.ready.send(Ok(()));
    worker.publish();
    for l in tcp {
        monoio::spawn(accept_tcp(worker.clone(), l));
    }
    for (l, path) in unix {
        monoio::spawn(accept_unix(worker.clone(), l, path));
    }
    monoio::spawn(tick(worker.clone()));

    spec.trigger.wait().await;
    worker.shutdown.fire();
    worker.registry.kick_idle();
    if worker.active.get() > 0 {
        let drained = monoio::time::timeout(spec.shutdown_timeout, worker.drained.wait()).await;
        if drained.is_err() {
            tracing::warn!(
                worker = spec.id,
                open = worker.active.get(),
                "shutdown timeout reached; closing the remaining connections"
            );
        }
    }
}

/// Once a second: re-render the Date value, let the buffer pool shrink, and enforce
/// timeouts and data rates.
async fn tick<H: Handler>(worker: Rc<Worker<H>>) {
    loop {
        monoio::time::sleep(Duration::from_secs(1)).await;
        worker.date.refresh();
        worker.pool.borrow_mut().trim();
        worker.registry.sweep();
        worker.publish();
    }
}

impl<H> Worker<H> {
    /// Publish this worker's counters for the metrics endpoint.
    fn publish(&self) {
        let pool = self.pool.borrow();
        let (hits, misses) = pool.stats();
        let snap = self
            .counters
            .snapshot(self.active.get() as u64, (pool.idle() as u64, hits, misses));
        self.board.publish(self.id, snap);
    }
}

async fn accept_tcp<H: Handler>(worker: Rc<Worker<H>>, listener: monoio::net::TcpListener) {
    loop {
        let accepted = monoio::select! {
            r = listener.accept() => r,
            _ = worker.shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let local = stream
                    .local_addr()
                    .map(Addr::Ip)
                    .unwrap_or(Addr::Unix(None));
                let _ = stream.set_nodelay(true);
                let info = ConnInfo {
                    local_addr: local,
                    remote_addr: Addr::Ip(peer),
                    scheme: "http",
                };
                start_conn(&worker, Stream::Tcp(stream), info);
            }
            Err(e) => accept_failed(&worker, e).await,
        }
    }
}

async fn accept_unix<H: Handler>(
    worker: Rc<Worker<H>>,
    listener: monoio::net::UnixListener,
    path: std::path::PathBuf,
) {
    loop {
        let accepted = monoio::select! {
            r = listener.accept() => r,
            _ = worker.shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let info = ConnInfo {
                    local_addr: Addr::Unix(Some(path.clone())),
                    remote_addr: Addr::Unix(peer.as_pathname().map(|p| p.to_path_buf())),
                    scheme: "http",
                };
                start_conn(&worker, Stream::Unix(stream), info);
            }
            Err(e) => accept_failed(&worker, e).await,
        }
    }
}

fn start_conn<H: Handler>(worker: &Rc<Worker<H>>, stream: Stream, info: ConnInfo) {
    set_cloexec(stream.as_raw_fd());
    let http = &worker.http;
    bump(&worker.counters.accepted, 1);
    if let Some(max) = http.max_concurrent_connections {
        if http.open_connections.fetch_add(1, Ordering::Relaxed) >= max {
            http.open_connections.fetch_sub(1, Ordering::Relaxed);
            bump(&worker.counters.rejected_over_limit, 1);
            tracing::warn!(
                remote = %info.remote_addr,
                "Connection rejected because the maximum number of concurrent connections ({max}) has been reached."
            );
            drop(stream);
            return;
        }
    }
    worker.active.set(worker.active.get() + 1);
    let worker = worker.clone();
    let id = worker.registry.register(stream.as_raw_fd());
    monoio::spawn(async move {
        // A panic anywhere in the connection (the handler's own panics are answered with
        // a 500 earlier) ends this connection only, never the worker.
        if CatchUnwind::new(conn::serve(worker.clone(), stream, info, id))
            .await
            .is_err()
        {
            tracing::error!("a connection task panicked; the connection was dropped");
            bump(&worker.counters.panics, 1);
            worker.counters.closed(CloseReason::Aborted);
        }
        // No await since the stream was dropped: the sweep cannot have seen its
        // descriptor number reused.
        worker.registry.unregister(id);
        if worker.http.max_concurrent_connections.is_some() {
            worker.http.open_connections.fetch_sub(1, Ordering::Relaxed);
        }
        let left = worker.active.get() - 1;
        worker.active.set(left);
        if left == 0 && worker.shutdown.is_fired() {
            worker.drained.fire();
        }
    });
}

/// Accept errors: out of descriptors backs off briefly instead of spinning.
async fn accept_failed<H: Handler>(worker: &Rc<Worker<H>>, e: io::Error) {
    match e.raw_os_error() {
        Some(libc::EMFILE) | Some(libc::ENFILE) | Some(libc::ENOBUFS) | Some(libc::ENOMEM) => {
            tracing::warn!(error = %e, "accept failed: out of resources; backing off");
            monoio::select! {
                _ = monoio::time::sleep(Duration::from_millis(50)) => {},
                _ = worker.shutdown.wait() => {},
            }
        }
        _ => tracing::debug!(error = %e, "accept failed"),
    }
}
