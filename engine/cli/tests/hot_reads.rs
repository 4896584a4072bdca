//! A connection that sends requests back to back waits for the next one with the read
//! itself on io_uring (a "hot" read, holding a buffer); after a silent second the worker
//! takes that read back (cancelling it) and the connection waits
//! buffer-free, still open and served as before. On epoll every idle wait is a
//! readiness wait. Each case runs on both backends.

#[macro_use]
mod common;

use common::probe::{metrics_addr, wait_until, Metrics};
use common::*;

fn quiet_hot_connection(backend: Backend) {
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--threads",
            "1",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let metrics = metrics_addr(&s);
    let scrape = || Metrics::scrape(metrics);
    let waits = |m: &Metrics| m.sum("peregrine_io_readiness_waits_total", &[]);
    let mut c = s.connect(0);
    for round in 1..=3u64 {
        // Back to back: the connection goes hot.
        for _ in 0..5 {
            assert_eq!(c.get("/plaintext").status, 200, "round {round}");
        }
        if backend != Backend::IoUring {
            continue;
        }
        // The counters as published after the last of those requests (a hot read is
        // not a readiness wait).
        let before = wait_until(
            IO_TIMEOUT,
            "the requests in the metrics",
            || Some(scrape()).filter(|m| m.sum("peregrine_requests_total", &[]) >= 5 * round),
            String::new,
        );
        // Silent: within a couple of sweeps the read is taken back and the connection
        // waits for readiness instead (counted once it does).
        wait_until(
            IO_TIMEOUT,
            "the quiet connection's readiness wait",
            || (waits(&scrape()) > waits(&before)).then_some(()),
            || format!("waits {} (before {})", waits(&scrape()), waits(&before)),
        );
        assert!(!c.closed_within(std::time::Duration::from_millis(10)));
    }
    // Still served, and nothing was lost on the way.
    let r = c.get("/request?after=quiet");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["query"], "after=quiet");
}
both_backends!(
    a_quiet_hot_connection_waits_buffer_free,
    quiet_hot_connection
);
