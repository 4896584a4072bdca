//! Cooperative fairness on a worker: a task that could go on without waiting (an accept
//! loop with connections queued, a connection whose client keeps its pipeline full on
//! the readiness backend, where reads of ready sockets return at once) gives every
//! other ready task a turn first. And the measure of the worker's run queue that the
//! metrics report.

use std::cell::Cell;
use std::time::{Duration, Instant};

/// Give every other task that is ready a turn. A task that wakes itself while it runs
/// goes to the front of monoio's queue, so the wake comes from a task queued behind the
/// others (one small allocation: this is for rare yields, not every request).
pub(crate) async fn yield_now() {
    let mut queued = false;
    std::future::poll_fn(|cx| {
        if queued {
            return std::task::Poll::Ready(());
        }
        queued = true;
        let waker = cx.waker().clone();
        monoio::spawn(async move { waker.wake() });
        std::task::Poll::Pending
    })
    .await
}

/// The worker's run queue now: how many connection tasks were ready to run (each task
/// counts its polls into `polls`: [`crate::task::ConnTask`]), and how
/// long the worker took to give each its turn (the wait of a connection that becomes
/// ready now). A probe queued behind them all: every task already queued runs first.
pub(crate) async fn sample_run_queue(polls: &Cell<u64>) -> (u64, Duration) {
    let (before, start) = (polls.get(), Instant::now());
    yield_now().await;
    (polls.get().wrapping_sub(before), start.elapsed())
}
