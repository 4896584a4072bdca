//! Worker threads: one per core, each pinned, each running its own monoio runtime
//! (io_uring or epoll) with its share of the connections. Per-thread figures live in a
//! [`ThreadCtx`] shared by that thread's connection tasks only (no atomics on the request
//! path); a ticker publishes running totals for the progress line a few times a second.

use crate::args::Backend;
use crate::conn::{self, TcpConnector, UnixConnector};
use crate::stats::{ErrorKind, Stats};
use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where the connections go, resolved.
#[derive(Debug, Clone)]
pub enum Dial {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A unix-domain socket path.
    Unix(PathBuf),
}

/// The backend a run actually uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResolvedBackend {
    /// io_uring.
    IoUring,
    /// epoll.
    Epoll,
}

impl ResolvedBackend {
    /// Pick the backend for `--backend`, probing io_uring for `auto`.
    pub fn resolve(b: Backend) -> Result<ResolvedBackend, String> {
        match b {
            Backend::Epoll => Ok(ResolvedBackend::Epoll),
            Backend::IoUring if monoio::utils::detect_uring() => Ok(ResolvedBackend::IoUring),
            Backend::IoUring => Err("io_uring is not available here (kernel too old, or \
                                     blocked by seccomp); use --backend epoll"
                .into()),
            Backend::Auto if monoio::utils::detect_uring() => Ok(ResolvedBackend::IoUring),
            Backend::Auto => Ok(ResolvedBackend::Epoll),
        }
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            ResolvedBackend::IoUring => "io-uring",
            ResolvedBackend::Epoll => "epoll",
        }
    }
}

/// What every thread needs to know, fixed before the run starts.
#[derive(Debug)]
pub struct Plan {
    /// Where to connect.
    pub dial: Dial,
    /// One request, rendered.
    pub request: Vec<u8>,
    /// Length of one request in bytes.
    pub request_len: usize,
    /// Requests per batch.
    pub pipeline: usize,
    /// The method is HEAD (responses have no body).
    pub request_is_head: bool,
    /// Reuse connections.
    pub keep_alive: bool,
    /// Connections in total.
    pub connections: usize,
    /// Open loop rate, requests per second in total.
    pub rate: Option<f64>,
    /// Timeout of each connect, write and read.
    pub timeout: Duration,
    /// The backend.
    pub backend: ResolvedBackend,
    /// Pin threads to cores.
    pub pin: bool,
}

/// The run's time points, set when every thread is ready.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// The start of the run (and of the open-loop schedule).
    pub start: Instant,
    /// The end of warm-up: requests sent from here on are measured.
    pub measure_start: Instant,
    /// The end of the run (`-d`); `None` with `-n`.
    pub end: Option<Instant>,
}

/// One thread's share of the work.
#[derive(Debug, Clone)]
pub struct Share {
    /// Thread number.
    pub index: usize,
    /// Global indices of this thread's connections.
    pub connections: Range<usize>,
    /// Measured requests this thread sends (`-n`); `u64::MAX` for a timed run.
    pub budget: u64,
}

/// Running totals a thread publishes for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Responses so far.
    pub responses: AtomicU64,
    /// Failed requests so far.
    pub errors: AtomicU64,
}

/// What a thread reports when it is done.
#[derive(Debug)]
pub struct Finished {
    /// Thread number.
    pub index: usize,
    /// Its figures, or why it could not run.
    pub result: Result<Stats, String>,
    /// When its last connection finished.
    pub at: Instant,
}

/// State shared by the connection tasks of one thread.
#[derive(Debug)]
pub struct ThreadCtx {
    /// The plan.
    pub plan: Arc<Plan>,
    /// The run's time points.
    pub clock: Clock,
    /// This thread's figures.
    pub stats: RefCell<Stats>,
    /// Measured requests this thread may still send.
    pub budget: Cell<u64>,
    /// `pipeline` copies of the request, this thread's own copy.
    pub batch: Rc<Vec<u8>>,
}

/// When a read completed, relative to the run: the latency of the responses it
/// completes and the timeline second it falls in (computed once per read, not once per
/// response).
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    latency_ns: u64,
    second: usize,
    /// False after the end of a timed run: such late answers are not counted.
    in_run: bool,
}

impl ThreadCtx {
    /// The timeline second of instant `t`.
    #[inline]
    fn second(&self, t: Instant) -> usize {
        t.saturating_duration_since(self.clock.measure_start)
            .as_secs() as usize
    }

    /// The stamp of a read completed at `now` for a batch sent (or due) at `sent_at`.
    #[inline]
    pub fn stamp(&self, now: Instant, sent_at: Instant) -> Stamp {
        Stamp {
            latency_ns: now.saturating_duration_since(sent_at).as_nanos() as u64,
            second: self.second(now),
            in_run: self.clock.end.is_none_or(|end| now < end),
        }
    }

    /// Count a response.
    #[inline]
    pub fn response(&self, status: u16, at: Stamp) {
        if !at.in_run {
            return;
        }
        self.stats
            .borrow_mut()
            .record_response(status, at.latency_ns, at.second);
    }

    /// Count `n` bytes read.
    #[inline]
    pub fn read(&self, n: usize, at: Stamp) {
        if !at.in_run {
            return;
        }
        self.stats.borrow_mut().record_read(n as u64, at.second);
    }

    /// Count `n` failed requests, if they were measured.
    pub fn fail(&self, kind: ErrorKind, n: usize, measured: bool) {
        let now = Instant::now();
        if measured && self.clock.end.is_none_or(|end| now < end) {
            let sec = self.second(now);
            self.stats.borrow_mut().record_errors(kind, n as u64, sec);
        }
    }
}

/// The body of one worker thread: pin, build the runtime, say ready, wait for the
/// clock, run the connections, report.
pub fn thread_main(
    plan: Arc<Plan>,
    share: Share,
    ready: Sender<Result<(), String>>,
    go: Receiver<Clock>,
    progress: Option<Arc<Progress>>,
    done: Sender<Finished>,
) {
    if plan.pin {
        if let Some(cores) = core_affinity::get_core_ids() {
            if !cores.is_empty() {
                core_affinity::set_for_current(cores[share.index % cores.len()]);
            }
        }
    }
    let per_thread = share.connections.len() as u32;
    let entries = (per_thread * 4).clamp(256, 32768).next_power_of_two();
    let index = share.index;
    let result = match plan.backend {
        ResolvedBackend::IoUring => match uring_runtime(entries) {
            Ok(mut rt) => wait_for_clock(&ready, &go)
                .map(|clock| rt.block_on(worker(plan, share, clock, progress))),
            Err(e) => fail_ready(&ready, format!("cannot create an io_uring runtime: {e}")),
        },
        ResolvedBackend::Epoll => {
            match monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
                .enable_timer()
                .build()
            {
                Ok(mut rt) => wait_for_clock(&ready, &go)
                    .map(|clock| rt.block_on(worker(plan, share, clock, progress))),
                Err(e) => fail_ready(&ready, format!("cannot create an epoll runtime: {e}")),
            }
        }
    };
    let _ = done.send(Finished {
        index,
        result: result.map(|(stats, _)| stats),
        at: Instant::now(),
    });
}

/// An io_uring runtime with `IORING_SETUP_COOP_TASKRUN` (Linux 5.19+): completions are
/// run when the thread next enters the kernel, which it does on every loop, instead of
/// interrupting it with an IPI — measured 10–20 % less CPU per request, and less work
/// on the server's core. Without kernel support, a plain ring.
fn uring_runtime(
    entries: u32,
) -> std::io::Result<monoio::Runtime<monoio::time::TimeDriver<monoio::IoUringDriver>>> {
    let mut coop = io_uring_06::IoUring::builder();
    coop.setup_coop_taskrun();
    monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .uring_builder(coop)
        .with_entries(entries)
        .enable_timer()
        .build()
        .or_else(|_| {
            monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
                .with_entries(entries)
                .enable_timer()
                .build()
        })
}

fn fail_ready<T>(ready: &Sender<Result<(), String>>, msg: String) -> Result<T, String> {
    let _ = ready.send(Err(msg.clone()));
    Err(msg)
}

fn wait_for_clock(
    ready: &Sender<Result<(), String>>,
    go: &Receiver<Clock>,
) -> Result<Clock, String> {
    let _ = ready.send(Ok(()));
    go.recv().map_err(|_| "run cancelled".to_string())
}

async fn worker(
    plan: Arc<Plan>,
    share: Share,
    clock: Clock,
    progress: Option<Arc<Progress>>,
) -> (Stats, Instant) {
    let mut batch = Vec::with_capacity(plan.request.len() * plan.pipeline);
    for _ in 0..plan.pipeline {
        batch.extend_from_slice(&plan.request);
    }
    let ctx = Rc::new(ThreadCtx {
        plan: plan.clone(),
        clock,
        stats: RefCell::new(Stats::new()),
        budget: Cell::new(share.budget),
        batch: Rc::new(batch),
    });
    if let Some(p) = progress {
        monoio::spawn(ticker(ctx.clone(), p));
    }
    let mut handles = Vec::with_capacity(share.connections.len());
    for i in share.connections.clone() {
        let ctx = ctx.clone();
        let h = match &plan.dial {
            Dial::Tcp(addr) => monoio::spawn(bounded(ctx, TcpConnector(*addr), i)),
            Dial::Unix(path) => monoio::spawn(bounded(ctx, UnixConnector(path.clone()), i)),
        };
        handles.push(h);
    }
    for h in handles {
        h.await;
    }
    let stats = ctx.stats.borrow().clone();
    (stats, Instant::now())
}

/// A connection, cut off at the end of a timed run (responses still in flight then
/// are not counted, as with wrk).
async fn bounded<C: conn::Connector>(ctx: Rc<ThreadCtx>, connector: C, index: usize) {
    match ctx.clock.end {
        Some(end) => {
            let deadline = monoio::time::Instant::from_std(end);
            let _ =
                monoio::time::timeout_at(deadline, conn::run(ctx.clone(), connector, index)).await;
        }
        None => conn::run(ctx, connector, index).await,
    }
}

async fn ticker(ctx: Rc<ThreadCtx>, progress: Arc<Progress>) {
    loop {
        monoio::time::sleep(Duration::from_millis(250)).await;
        let s = ctx.stats.borrow();
        progress.responses.store(s.responses, Ordering::Relaxed);
        progress.errors.store(s.error_total(), Ordering::Relaxed);
    }
}

/// Split `connections` over `threads` (the first ones get one more when it does not
/// divide), and `total` requests in proportion.
pub fn shares(connections: usize, threads: usize, total: Option<u64>) -> Vec<Share> {
    let mut out = Vec::with_capacity(threads);
    let mut start = 0;
    let mut given = 0u64;
    for i in 0..threads {
        let n = connections / threads + usize::from(i < connections % threads);
        let budget = match total {
            None => u64::MAX,
            Some(total) => {
                // Cumulative rounding so the budgets sum to exactly `total`.
                let upto = (total as u128 * (start + n) as u128 / connections as u128) as u64;
                let b = upto - given;
                given = upto;
                b
            }
        };
        out.push(Share {
            index: i,
            connections: start..start + n,
            budget,
        });
        start += n;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_everything_exactly() {
        for (c, t, n) in [(10, 3, 1001), (1, 1, 5), (7, 7, 3), (128, 2, 100_000)] {
            let s = shares(c, t, Some(n));
            assert_eq!(s.len(), t);
            assert_eq!(s.iter().map(|s| s.connections.len()).sum::<usize>(), c);
            assert_eq!(s.iter().map(|s| s.budget).sum::<u64>(), n);
            assert_eq!(s.last().unwrap().connections.end, c);
        }
        assert!(shares(4, 2, None).iter().all(|s| s.budget == u64::MAX));
    }
}
