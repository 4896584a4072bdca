//! A worker's state, shared by its tasks through `Rc` and with nothing else (`!Send`):
//! the handler clone, the Date cache, the buffer pool, the connection table, counters and
//! the shutdown signals. [`ShardCore`] is the part that does not depend on the handler
//! type, so protocol state that outlives a request (the request body, an upgraded
//! stream) can hold it without being generic over the handler.

use std::cell::{Cell, RefCell};
use std::ops::Deref;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use peregrine_protocol::h1::parse::Limits;

use crate::date::DateCache;
use crate::metrics::{Board, Counters};
use crate::options::{Http2Limits, Options, Protocols, WebSocketOptions};
use crate::pool::BufPool;
use crate::registry::{Registry, Timeouts};
use crate::request::{LocalFuture, UpgradeLease};
use crate::signal::LocalSignal;
use crate::transport::{Interrupt, Stop};

/// Read/write buffer size handed out by the pool.
const BUF_SIZE: usize = 4096;
/// Idle buffers a worker keeps at most.
const MAX_IDLE_BUFS: usize = 1024;

/// HTTP settings shared (read-only, but for the open-connection counts) by all workers.
#[derive(Debug)]
pub(crate) struct HttpSettings {
    pub server_header: Option<Vec<u8>>,
    pub limits: Limits,
    pub max_request_body_size: Option<u64>,
    pub max_request_buffer_size: usize,
    pub max_response_buffer_size: usize,
    pub timeouts: Timeouts,
    pub max_concurrent_connections: Option<u64>,
    pub max_concurrent_upgraded_connections: Option<u64>,
    /// Which HTTP versions are served.
    pub protocols: Protocols,
    /// Connections start with a PROXY protocol header.
    pub proxy_protocol: bool,
    /// Kestrel's `Http2Limits`.
    pub http2: Http2Limits,
    /// How accepted WebSockets behave.
    pub websocket: WebSocketOptions,
    /// The keep-alive timeout as given (HTTP/2 connections time themselves).
    pub keep_alive_timeout: Duration,
    /// The ticker beats even while the worker has no connection: the systemd watchdog
    /// reads its beats (`notify.rs`).
    pub always_tick: bool,
    /// `--port-sharing`: listeners leave their group at shutdown (see `worker`).
    pub port_sharing: bool,
    /// The listening sockets were handed to a new process (binary upgrade): they must
    /// not be shut down here.
    pub listeners_handed_over: Arc<std::sync::atomic::AtomicBool>,
    /// Open (not upgraded) connections across all workers (touched once per connection,
    /// never per request), for `max_concurrent_connections`.
    pub open_connections: AtomicU64,
    /// Upgraded connections across all workers.
    pub upgraded_connections: AtomicU64,
}

impl HttpSettings {
    /// The settings every worker reads, from the server's options.
    pub fn new(o: &Options) -> Self {
        let secs = |d: Duration| d.as_secs_f64().ceil().clamp(1.0, u32::MAX as f64) as u32;
        HttpSettings {
            server_header: o.server_header.clone().map(String::into_bytes),
            limits: o.limits,
            max_request_body_size: o.max_request_body_size,
            max_request_buffer_size: o.max_request_buffer_size,
            max_response_buffer_size: o.max_response_buffer_size,
            timeouts: Timeouts {
                keep_alive: secs(o.keep_alive_timeout),
                request_headers: secs(o.request_headers_timeout),
                tls_handshake: secs(o.tls_handshake_timeout),
                min_body_rate: o.min_request_body_data_rate.map(|(r, g)| (r, secs(g))),
                min_response_rate: o.min_response_data_rate.map(|(r, g)| (r, secs(g))),
            },
            max_concurrent_connections: o.max_concurrent_connections,
            max_concurrent_upgraded_connections: o.max_concurrent_upgraded_connections,
            protocols: o.protocols,
            proxy_protocol: o.proxy_protocol,
            http2: o.http2,
            websocket: o.websocket.clone(),
            port_sharing: o.port_sharing,
            always_tick: false,
            listeners_handed_over: Arc::default(),
            keep_alive_timeout: o.keep_alive_timeout,
            open_connections: AtomicU64::new(0),
            upgraded_connections: AtomicU64::new(0),
        }
    }

    /// Count a new connection; `false` (and nothing counted) when over the limit.
    pub fn admit_connection(&self) -> bool {
        admit(&self.open_connections, self.max_concurrent_connections)
    }

    /// A counted connection closed or was upgraded.
    pub fn release_connection(&self) {
        if self.max_concurrent_connections.is_some() {
            self.open_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Count a new upgraded connection; `false` when over the limit.
    pub fn admit_upgrade(&self) -> bool {
        admit(
            &self.upgraded_connections,
            self.max_concurrent_upgraded_connections,
        )
    }

    /// An upgraded connection closed.
    pub fn release_upgrade(&self) {
        if self.max_concurrent_upgraded_connections.is_some() {
            self.upgraded_connections.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn admit(count: &AtomicU64, max: Option<u64>) -> bool {
    let Some(max) = max else { return true };
    if count.fetch_add(1, Ordering::Relaxed) >= max {
        count.fetch_sub(1, Ordering::Relaxed);
        return false;
    }
    true
}

/// The handler-independent part of a worker's state.
pub(crate) struct ShardCore {
    pub date: DateCache,
    pub pool: RefCell<BufPool>,
    /// Fired when shutdown starts: stop accepting, finish in-flight requests, tell
    /// upgraded connections.
    pub shutdown: LocalSignal,
    /// Fired when the last connection closes after the accept loops ended (see
    /// [`ShardCore::accepting_ended`]).
    pub drained: LocalSignal,
    /// The accept loops have ended (shutdown): no connection can start any more.
    accepting_done: Cell<bool>,
    /// Open connections of this worker, upgraded streams that outlived their
    /// connection task included.
    active: Cell<usize>,
    /// The ticker's waker while it is parked: a worker without connections has nothing
    /// to time, so it does not tick (an idle server costs nothing).
    parked_ticker: Cell<Option<std::task::Waker>>,
    /// The interrupts of the upgraded streams alive (a slot per [`Lease`], emptied when
    /// it is dropped, right after its stream closed), to end them at the shutdown timeout.
    upgraded: RefCell<Vec<Option<Interrupt>>>,
    upgraded_free: RefCell<Vec<usize>>,
    pub http: Arc<HttpSettings>,
    /// Every open connection's phase: timeouts, data rates, shutdown.
    pub registry: Registry,
    /// This worker's counters, published to `board` once a second.
    pub counters: Counters,
    board: Board,
    pub id: usize,
}

impl ShardCore {
    pub fn new(http: Arc<HttpSettings>, board: Board, id: usize) -> Self {
        ShardCore {
            date: DateCache::new(http.server_header.as_deref()),
            pool: RefCell::new(BufPool::new(BUF_SIZE, MAX_IDLE_BUFS)),
            shutdown: LocalSignal::default(),
            drained: LocalSignal::default(),
            accepting_done: Cell::new(false),
            active: Cell::new(0),
            parked_ticker: Cell::new(None),
            upgraded: RefCell::new(Vec::new()),
            upgraded_free: RefCell::new(Vec::new()),
            registry: Registry::new(http.timeouts),
            http,
            counters: Counters::default(),
            board,
            id,
        }
    }

    /// Open connections (and upgraded streams) of this worker.
    pub fn active(&self) -> usize {
        self.active.get()
    }

    /// A connection (or an upgraded stream) starts; a ticker parked for want of
    /// connections resumes (with a fresh Date line for this one).
    pub fn enter(&self) {
        self.active.set(self.active.get() + 1);
        if let Some(ticker) = self.parked_ticker.take() {
            self.date.refresh();
            ticker.wake();
        }
    }

    /// Wait, as the ticker, until a connection starts (`enter`).
    pub async fn until_a_connection(&self) {
        std::future::poll_fn(|cx| {
            if self.active.get() > 0 {
                return std::task::Poll::Ready(());
            }
            self.parked_ticker.set(Some(cx.waker().clone()));
            std::task::Poll::Pending
        })
        .await
    }

    /// A connection (or an upgraded stream) ended; the last one after the accept loops
    /// ended fires `drained`.
    pub fn leave(&self) {
        let left = self.active.get().saturating_sub(1);
        self.active.set(left);
        if left == 0 && self.accepting_done.get() {
            self.drained.fire();
        }
    }

    /// The accept loops have ended: from now on the last connection to end fires
    /// `drained`. Not before: an accept loop still running at shutdown may start a
    /// connection after every earlier one ended, and a `drained` already fired then
    /// ended the worker under it (its clients saw the connection reset, request
    /// unread: the epoll flake of the SIGUSR2 restart tests).
    pub fn accepting_ended(&self) {
        self.accepting_done.set(true);
        if self.active.get() == 0 {
            self.drained.fire();
        }
    }

    /// The shutdown timeout ran out: end every connection still open, upgraded ones
    /// included (pending reads end, writes fail, the peer sees the connection closed),
    /// whether or not their tasks ever run again.
    pub fn abort_all(&self) {
        self.registry.abort_all();
        for i in self.upgraded.borrow().iter().flatten() {
            i.fire(Stop::ReadWrite);
        }
    }

    /// Publish this worker's counters for the metrics endpoint.
    pub fn publish(&self) {
        let pool = self.pool.borrow();
        let (hits, misses) = pool.stats();
        let snap = self
            .counters
            .snapshot(self.active.get() as u64, (pool.idle() as u64, hits, misses));
        self.board.publish(self.id, snap);
    }
}

/// A worker's state: the handler and the [`ShardCore`].
pub(crate) struct Shard<H> {
    pub handler: H,
    pub core: Rc<ShardCore>,
}

impl<H> Deref for Shard<H> {
    type Target = ShardCore;

    #[inline]
    fn deref(&self) -> &ShardCore {
        &self.core
    }
}

/// An upgraded connection's hold on its worker: counted as open (and against the
/// upgraded-connection limit) until dropped.
pub(crate) struct Lease {
    core: Rc<ShardCore>,
    /// Its slot in `core.upgraded`.
    slot: usize,
}

impl Lease {
    /// Take a lease, or `None` when the upgraded-connection limit is reached.
    pub fn take(core: &Rc<ShardCore>) -> Option<Lease> {
        if !core.http.admit_upgrade() {
            return None;
        }
        core.enter();
        crate::metrics::bump(&core.counters.upgrades, 1);
        let mut upgraded = core.upgraded.borrow_mut();
        let slot = match core.upgraded_free.borrow_mut().pop() {
            Some(i) => i,
            None => {
                upgraded.push(None);
                upgraded.len() - 1
            }
        };
        Some(Lease {
            core: core.clone(),
            slot,
        })
    }

    /// The stream is the handler's from now on: the worker ends it through `interrupt`
    /// at the shutdown timeout. The lease must be dropped right after the stream (no
    /// await in between), so the descriptor is never interrupted once closed.
    pub fn watch(&self, interrupt: Interrupt) {
        if let Some(s) = self.core.upgraded.borrow_mut().get_mut(self.slot) {
            *s = Some(interrupt);
        }
    }
}

impl UpgradeLease for Lease {
    fn shutdown_requested(&self) -> LocalFuture<'static, ()> {
        let core = self.core.clone();
        Box::pin(async move { core.shutdown.wait().await })
    }

    fn is_shutting_down(&self) -> bool {
        self.core.shutdown.is_fired()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(s) = self.core.upgraded.borrow_mut().get_mut(self.slot) {
            *s = None;
            self.core.upgraded_free.borrow_mut().push(self.slot);
        }
        self.core.http.release_upgrade();
        self.core.leave();
    }
}
