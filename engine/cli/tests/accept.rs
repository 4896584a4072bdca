//! Accepting: a burst of connections larger than one accept batch, over TCP and a unix
//! socket, with one worker. The server is stopped (SIGSTOP) while the clients connect,
//! so every connection is queued in the kernel when it resumes: the accept loop waits
//! for one, takes full batches of the rest by hand (blocking sockets on io_uring,
//! non-blocking on epoll), yields between batches, and serves every connection like any
//! other, its peer address known. The metrics count the full batches and report the
//! run queue and the accept queue. Each case runs on both backends.

#[macro_use]
mod common;

use common::probe::{metrics_addr, wait_until, Metrics};
use common::*;

/// More than two accept batches (128 each): one waited for and 127 taken, twice, then
/// the rest.
const BURST: usize = 300;

fn burst(backend: Backend) {
    let dir = TempDir::new("burst");
    let path = dir.join("burst.sock");
    let unix = format!("http://unix:{}", path.display());
    let s = Server::start(
        backend,
        &[
            "--urls",
            &format!("http://127.0.0.1:0;{unix}"),
            "--threads",
            "1",
            "--backlog",
            "1024",
            "--metrics-urls",
            "http://127.0.0.1:0",
        ],
    );
    let metrics = metrics_addr(&s);
    let scrape = || Metrics::scrape(metrics);
    // The gauges appear with the worker's first publish (a second after it started).
    let m = wait_until(
        IO_TIMEOUT,
        "the run-queue gauge",
        || {
            Some(scrape()).filter(|m| {
                m.series
                    .keys()
                    .any(|k| k.starts_with("peregrine_run_queue_tasks"))
            })
        },
        String::new,
    );
    for series in [
        "peregrine_run_queue_delay_microseconds",
        "peregrine_accept_queue_length",
        "peregrine_listen_overflows_total",
        "peregrine_io_uring_overflowing",
        "peregrine_io_uring_overflow_samples_total",
        "peregrine_io_uring_completions_dropped_total",
    ] {
        assert!(
            m.series.keys().any(|k| k.starts_with(series)),
            "{series} missing: {:?}",
            m.series.keys()
        );
    }
    // On io_uring the worker found its ring and reads its completion queue (from its
    // ticker's first turn on).
    if backend == Backend::IoUring {
        wait_until(
            IO_TIMEOUT,
            "the io_uring completion queue watched",
            || Some(scrape()).filter(|m| m.sum("peregrine_io_uring_watched", &[]) == 1),
            String::new,
        );
    } else {
        assert_eq!(m.sum("peregrine_io_uring_watched", &[]), 0);
    }
    let m = scrape();
    assert_eq!(m.sum("peregrine_io_uring_overflowing", &[]), 0);
    assert_eq!(
        m.sum("peregrine_io_uring_completions_dropped_total", &[]),
        0
    );
    let mut full_before = scrape().sum("peregrine_accept_batches_full_total", &[]);
    for listener in 0..2 {
        s.pause();
        // Every client connects (queued by the kernel) and sends its request while
        // the server is stopped.
        let mut clients: Vec<Client> = (0..BURST).map(|_| s.connect(listener)).collect();
        for (i, c) in clients.iter_mut().enumerate() {
            c.send(format!("GET /request?i={i} HTTP/1.1\r\nHost: t\r\n\r\n"));
        }
        s.signal(libc::SIGCONT);
        for (i, c) in clients.iter_mut().enumerate() {
            let r = c.read_response();
            assert_eq!(r.status, 200, "connection {i}");
            let j = r.json();
            assert_eq!(j["query"], format!("i={i}"));
            if s.is_unix(listener) {
                assert_eq!(j["local_addr"], format!("unix:{}", path.display()));
            } else {
                assert_eq!(j["remote_addr"], c.local_addr().to_string());
            }
            // The connection stays usable.
            assert_eq!(c.get("/plaintext").status, 200);
        }
        let full = wait_until(
            IO_TIMEOUT,
            "two full accept batches in the metrics",
            || {
                let n = scrape().sum("peregrine_accept_batches_full_total", &[]);
                (n >= full_before + 2).then_some(n)
            },
            || format!("{:?}", scrape().series),
        );
        full_before = full;
    }
}
both_backends!(a_burst_of_connections_is_served_whole, burst);

/// The descriptor table is sized at start (65,536 slots, or the open-files limit if
/// lower), so no worker's `accept` waits for the kernel to grow it during a burst.
fn descriptor_table_reserved(backend: Backend) {
    let s = Server::start(backend, &["--urls", "http://127.0.0.1:0", "--threads", "1"]);
    let pid = s.pid();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let soft: usize = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .expect("the open-files limit");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let table: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("FDSize:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("FDSize");
    assert!(
        table >= soft.min(65_536),
        "descriptor table of {table} slots, open-files limit {soft}"
    );
}
both_backends!(
    the_descriptor_table_is_reserved_at_start,
    descriptor_table_reserved
);
