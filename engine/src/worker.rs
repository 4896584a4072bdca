//! A worker: one thread pinned to one core, running its own monoio runtime on the chosen
//! backend, accepting from its own `SO_REUSEPORT` sockets (and the shared unix sockets)
//! and serving every connection it accepts. Its state ([`Shard`]) is `!Send` and shared
//! with nothing; the only thing that crosses threads is the shutdown [`Trigger`].

use std::future::Future;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use peregrine_runtime::{RuntimeThread, StartError, ThreadBuilder};

use crate::accept::{accept_loop, Acceptor, TcpAcceptor, UnixAcceptor};
use crate::backend::{Backend, RING_ENTRIES};
use crate::handler::Handler;
use crate::metrics::{bump, Board};
use crate::proto::{self, Served};
use crate::registry::ConnId;
use crate::shard::{HttpSettings, Shard, ShardCore};
use crate::signal::Trigger;
use crate::task::ConnTask;
use crate::transport::Transport;

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
    pub core: Option<peregrine_runtime::CoreId>,
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
    // Sockets accepted by hand (a batch after each accept) must be non-blocking for
    // the readiness backend.
    let nonblocking = spec.backend == Backend::Epoll;
    for l in spec.listeners {
        let registered = match l {
            WorkerListener {
                socket: ListenSocket::Tcp(s),
                tls,
            } => TcpAcceptor::new(s, nonblocking).map(|s| tcp.push((s, tls))),
            WorkerListener {
                socket: ListenSocket::Unix(s, path),
                tls,
            } => UnixAcceptor::new(s, path, nonblocking).map(|s| unix.push((s, tls))),
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
    let tcp_fds: Vec<std::os::fd::RawFd> = tcp.iter().map(|(l, _)| l.fd()).collect();
    let mut accepting = Vec::new();
    for (l, tls) in tcp {
        accepting.push(monoio::spawn(accept_loop(shard.clone(), l, tls)));
    }
    for (l, tls) in unix {
        accepting.push(monoio::spawn(accept_loop(shard.clone(), l, tls)));
    }
    monoio::spawn(tick(shard.core.clone(), tcp_fds));

    spec.trigger.wait().await;
    shard.shutdown.fire();
    shard.registry.kick_idle();
    // The accept loops end first: each serves the connection its last accept returns
    // (the kernel may have handed one over as shutdown began), so none is dropped by
    // ending the worker before they ran.
    for loop_done in accepting {
        loop_done.await;
    }
    shard.accepting_ended();
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

/// Once a second: re-render the Date value, let the buffer pool shrink, enforce
/// timeouts and data rates, sample the run queue, the accept queues of the worker's
/// TCP listeners (`tcp`) and the io_uring completion queue, and publish the counters.
/// Parked while the worker has no connection (unless the systemd watchdog wants its
/// beats).
async fn tick(core: Rc<ShardCore>, tcp: Vec<std::os::fd::RawFd>) {
    loop {
        monoio::time::sleep(Duration::from_secs(1)).await;
        core.date.refresh();
        core.pool.borrow_mut().trim();
        core.registry.sweep();
        let counters = &core.counters;
        let (tasks, delay) = crate::fair::sample_run_queue(&counters.polls).await;
        counters.run_queue_tasks.set(tasks);
        counters.run_queue_delay_us.set(delay.as_micros() as u64);
        let queued = tcp
            .iter()
            .filter_map(|fd| crate::sys::accept_queue_len(*fd));
        counters.accept_queue.set(queued.map(u64::from).sum());
        if let Some(ring) = peregrine_runtime::ring_state() {
            counters.ring_watched.set(1);
            counters.ring_overflowing.set(u64::from(ring.overflowing));
            bump(&counters.ring_overflow_samples, u64::from(ring.overflowing));
            counters
                .ring_dropped
                .set(u64::from(ring.completions_dropped));
        }
        core.publish();
        if core.active() == 0 && !core.http.always_tick {
            // No connection: nothing to time or rate, no buffer worth keeping, nothing
            // new to publish. Sleep until one arrives, so an idle worker never wakes.
            core.pool.borrow_mut().clear();
            core.publish();
            core.until_a_connection().await;
        }
    }
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

/// Run a connection's future on a task of its own (see [`ConnTask`]).
fn run_conn<H: Handler, F: Future<Output = Served> + 'static>(
    shard: Rc<Shard<H>>,
    id: ConnId,
    conn: F,
) {
    monoio::spawn(ConnTask::new(shard, id, conn));
}
