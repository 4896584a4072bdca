//! Worker threads: one per core, each pinned, each running its own monoio runtime
//! (io_uring or epoll, set up by `peregrine-runtime`) with its share of the connections
//! (HTTP/1.1 over [`conn`], HTTP/2 over [`crate::h2`], WebSocket over [`crate::ws`]).
//! Per-thread figures live in a [`ThreadCtx`] shared by that thread's connection tasks
//! only (no atomics on the request path); a ticker publishes running totals for the
//! progress line a few times a second.

use crate::args;
use crate::conn::{self, TcpConnector, UnixConnector};
use crate::ctx::{Clock, Dial, Plan, ThreadCtx};
use crate::h2;
use crate::stats::Stats;
use crate::ws;
use peregrine_runtime::{Backend, BackendChoice, RuntimeThread, ThreadBuilder};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Pick the backend for `--backend`, probing io_uring for `auto` and `io-uring`.
pub fn resolve_backend(b: args::Backend) -> Result<Backend, String> {
    let choice = match b {
        args::Backend::Auto => BackendChoice::Auto,
        args::Backend::IoUring => BackendChoice::IoUring,
        args::Backend::Epoll => BackendChoice::Epoll,
    };
    peregrine_runtime::resolve(choice)
        .map(|(backend, _)| backend)
        .map_err(|e| format!("{e}; use --backend epoll"))
}

/// Start one worker thread: pinned to its core (when the plan says so), with its runtime
/// built. It then waits for the clock on `go`, runs its connections and reports on
/// `done` (a closed `go` cancels it).
pub fn start(
    plan: Arc<Plan>,
    share: Share,
    go: Receiver<Clock>,
    progress: Option<Arc<Progress>>,
    done: Sender<Finished>,
) -> Result<RuntimeThread<()>, String> {
    let core = if plan.pin {
        let cores = peregrine_runtime::cores();
        (!cores.is_empty()).then(|| cores[share.index % cores.len()])
    } else {
        None
    };
    let per_thread = share.connections.len() as u32;
    let entries = (per_thread * 4).clamp(256, 32768).next_power_of_two();
    ThreadBuilder::new(format!("load-{}", share.index), plan.backend)
        .pin(core)
        .ring_entries(entries)
        .spawn(move || {
            // Made on the thread once its runtime is built: the wait for the clock
            // blocks this thread only.
            let clock = go.recv().map_err(|_| "run cancelled".to_string());
            async move {
                let index = share.index;
                let result = match clock {
                    Ok(clock) => Ok(worker(plan, share, clock, progress).await),
                    Err(e) => Err(e),
                };
                let _ = done.send(Finished {
                    index,
                    result: result.map(|(stats, _)| stats),
                    at: Instant::now(),
                });
            }
        })
        .map_err(|e| format!("cannot start a worker thread: {e}"))
}

async fn worker(
    plan: Arc<Plan>,
    share: Share,
    clock: Clock,
    progress: Option<Arc<Progress>>,
) -> (Stats, Instant) {
    let copies = if plan.h2.is_some() || plan.ws.is_some() {
        0
    } else {
        plan.pipeline
    };
    let mut batch = Vec::with_capacity(plan.request.len() * copies);
    for _ in 0..copies {
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
        let c = ctx.clone();
        let end = ctx.clock.end;
        if plan.ws.is_some() {
            handles.push(spawn_ws(c, &plan, i));
            continue;
        }
        let h = match (&plan.dial, &plan.tls, plan.h2.is_some()) {
            (Dial::Tcp(addr), None, false) => {
                monoio::spawn(bounded(end, conn::run(c, TcpConnector(*addr), i)))
            }
            (Dial::Unix(path), None, false) => {
                monoio::spawn(bounded(end, conn::run(c, UnixConnector(path.clone()), i)))
            }
            (Dial::Tcp(addr), Some(tls), false) => monoio::spawn(bounded(
                end,
                conn::run(c, tls.connector(TcpConnector(*addr)), i),
            )),
            (Dial::Unix(path), Some(tls), false) => monoio::spawn(bounded(
                end,
                conn::run(c, tls.connector(UnixConnector(path.clone())), i),
            )),
            (Dial::Tcp(addr), None, true) => monoio::spawn(bounded(
                end,
                h2::run(c, h2::dial::Plain(TcpConnector(*addr)), i),
            )),
            (Dial::Unix(path), None, true) => monoio::spawn(bounded(
                end,
                h2::run(c, h2::dial::Plain(UnixConnector(path.clone())), i),
            )),
            (Dial::Tcp(addr), Some(tls), true) => monoio::spawn(bounded(
                end,
                h2::run(c, tls.h2_dial(TcpConnector(*addr)), i),
            )),
            (Dial::Unix(path), Some(tls), true) => monoio::spawn(bounded(
                end,
                h2::run(c, tls.h2_dial(UnixConnector(path.clone())), i),
            )),
        };
        handles.push(h);
    }
    for h in handles {
        h.await;
    }
    let stats = ctx.stats.borrow().clone();
    (stats, Instant::now())
}

/// Start WebSocket connection `i`. It stops sending at the end of a timed run by itself,
/// then drains and closes (each wait bounded by `--timeout`); the cut-off here, well after
/// that, is only a backstop.
fn spawn_ws(c: Rc<ThreadCtx>, plan: &Plan, i: usize) -> monoio::task::JoinHandle<()> {
    let end = c
        .clock
        .end
        .map(|e| e + plan.timeout * 3 + Duration::from_secs(1));
    match (&plan.dial, &plan.tls) {
        (Dial::Tcp(addr), None) => monoio::spawn(bounded(end, ws::run(c, TcpConnector(*addr), i))),
        (Dial::Unix(path), None) => {
            monoio::spawn(bounded(end, ws::run(c, UnixConnector(path.clone()), i)))
        }
        (Dial::Tcp(addr), Some(tls)) => monoio::spawn(bounded(
            end,
            ws::run(c, tls.connector(TcpConnector(*addr)), i),
        )),
        (Dial::Unix(path), Some(tls)) => monoio::spawn(bounded(
            end,
            ws::run(c, tls.connector(UnixConnector(path.clone())), i),
        )),
    }
}

/// A connection's loop, cut off at `end`, the end of a timed run (responses still in
/// flight then are not counted, as with wrk).
async fn bounded<F: Future<Output = ()>>(end: Option<Instant>, connection: F) {
    match end {
        Some(end) => {
            let deadline = monoio::time::Instant::from_std(end);
            let _ = monoio::time::timeout_at(deadline, connection).await;
        }
        None => connection.await,
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
