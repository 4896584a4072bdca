//! A connection that sends requests back to back waits for the next one with the read
//! itself (a "hot" read, holding a buffer; at most 256 per worker). The read
//! is not taken back when the client falls silent: a quiet spell changes nothing, the
//! next request is served, and the keep-alive timeout still closes the connection as it
//! closes any idle one. Each case runs on both backends (io_uring: a pending receive;
//! epoll: a receive that waits for readiness when it finds nothing).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::*;

fn quiet_hot_connection(backend: Backend) {
    let s = Server::start(
        backend,
        &[
            "--urls",
            "http://127.0.0.1:0",
            "--threads",
            "1",
            "--keep-alive-timeout",
            "3s",
        ],
    );
    let mut c = s.connect(0);
    // Back to back: the connection goes hot.
    for _ in 0..5 {
        assert_eq!(c.get("/plaintext").status, 200);
    }
    // A quiet spell shorter than the keep-alive timeout: still open, still served,
    // nothing lost on the way.
    assert!(!c.closed_within(Duration::from_millis(1500)));
    let r = c.get("/request?after=quiet");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["query"], "after=quiet");
    assert_eq!(c.get("/plaintext").status, 200);
    // Silent past the keep-alive timeout: the server closes it (the sweep's interrupt
    // ends the pending read as it ends a readiness wait).
    let quiet = Instant::now();
    assert!(
        c.closed_within(IO_TIMEOUT),
        "a hot connection outlived the keep-alive timeout"
    );
    assert!(
        quiet.elapsed() >= Duration::from_secs(2),
        "{:?}",
        quiet.elapsed()
    );
}
both_backends!(
    a_quiet_hot_connection_is_kept_then_timed_out,
    quiet_hot_connection
);
