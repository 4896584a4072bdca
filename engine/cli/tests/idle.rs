//! An idle worker sleeps: with no connection open its ticker parks (no wake-ups, no
//! buffers kept), and the first connection after a quiet spell wakes it: that answer
//! carries the current Date, and the metrics are published again. Each case runs on both
//! backends.

#[macro_use]
mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::probe::{metrics_addr, wait_until, Metrics};
use common::*;

/// Seconds since midnight UTC of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn time_of_day(date: &str) -> i64 {
    let hms: Vec<i64> = date[17..25]
        .split(':')
        .map(|p| p.parse().unwrap())
        .collect();
    hms[0] * 3600 + hms[1] * 60 + hms[2]
}

/// How far `date` is from now, in seconds (across midnight too).
fn skew(date: &str) -> i64 {
    let now = (SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 86_400) as i64;
    let d = (time_of_day(date) - now).rem_euclid(86_400);
    d.min(86_400 - d)
}

fn wakes_for_a_connection(backend: Backend) {
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
    let requests = || Metrics::scrape(metrics).sum("peregrine_requests_total", &[]);
    for round in 1..=2u64 {
        {
            let mut c = s.connect(0);
            let r = c.get("/plaintext");
            assert_eq!(r.status, 200);
            assert_standard_headers(&r);
            let date = r.header("date").unwrap();
            assert!(skew(date) <= 1, "round {round}: a stale Date {date:?}");
        }
        // The answer is published (the ticker runs while the connection is open, and
        // once more when it has closed) ...
        wait_until(
            IO_TIMEOUT,
            "the request in the metrics",
            || (requests() >= round).then_some(()),
            || format!("requests {}", requests()),
        );
        // ... then nothing is open and the worker parks. A quiet spell longer than the
        // Date's one-second resolution: the next answer must not carry the old one.
        std::thread::sleep(Duration::from_millis(2500));
    }
}
both_backends!(
    an_idle_worker_wakes_with_the_current_date,
    wakes_for_a_connection
);
