//! Timeouts and data rates with the worker's clock ticked by hand (each tick is the
//! once-a-second sweep; nothing sleeps). A wait is over only after more than its
//! timeout in whole ticks (never early, at most one tick late), so a 3 s timeout fires
//! on the 4th tick after the wait began.
//!
//! - Keep-alive: an idle connection (after a response, or one that never sent) closes
//!   quietly; each request restarts the timer.
//! - Request headers: a partial head gets 408, counted from its first byte; trickled bytes
//!   do not restart the timer; a head completed in time is served.
//! - Request body rate: a stalled body gets 408 after the grace period; one at the
//!   minimum rate is read; once the response started, a stall only closes.
//! - Response rate: a client that stops reading is aborted; one that reads at the
//!   minimum rate, however its reads fall, is not.
//! - A request in progress outlives the keep-alive timeout; with the rates off, a stalled
//!   body and a client that stops reading are left alone.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::metrics::CloseReason;
use crate::testing::{get, run, settle, Bench, Client};
use crate::{Body, Request, Response};

/// Answers `path body-length` after reading the body whole.
async fn read_all(mut req: Request) -> Response {
    match req.body_mut().to_bytes(1 << 20).await {
        Ok(body) => Response::new(format!("{} {}", req.path(), body.len())),
        Err(e) => Response::new(format!("error: {e}")),
    }
}

/// `n` ticks, letting the connections react to what was sent before the first and to
/// each tick.
async fn ticks<H: crate::Handler>(bench: &Bench<H>, n: u32) {
    settle().await;
    for _ in 0..n {
        bench.tick();
        settle().await;
    }
}

/// The connection closed with nothing (more) said.
async fn closed_quietly(c: &mut Client) {
    let rest = c.closed().await;
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
}

/// The server's own error answer with `status`, then the close.
async fn answered_then_closed(c: &mut Client, status: u16) {
    let r = c.response(false).await;
    assert_eq!(r.status, status, "{r:?}");
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.header("content-length"), Some("0"));
    closed_quietly(c).await;
}

fn keep_alive_3s(o: &mut crate::Options) {
    o.keep_alive_timeout = std::time::Duration::from_secs(3);
}

#[test]
fn an_idle_connection_closes_quietly_after_the_keep_alive_timeout() {
    run(async {
        let bench = Bench::new(read_all, keep_alive_3s);
        let mut c = bench.connect();
        c.send(&get("/a")).await;
        assert_eq!(c.response(false).await.status, 200);
        ticks(&bench, 3).await;
        assert!(c.open().await, "not before the timeout");
        ticks(&bench, 1).await;
        closed_quietly(&mut c).await;
        assert_eq!(bench.closed_by(CloseReason::KeepAliveTimeout), 1);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_connection_that_never_sends_closes_after_the_keep_alive_timeout() {
    run(async {
        let bench = Bench::new(read_all, keep_alive_3s);
        let mut c = bench.connect();
        settle().await;
        ticks(&bench, 3).await;
        assert!(c.open().await);
        ticks(&bench, 1).await;
        closed_quietly(&mut c).await;
        assert_eq!(bench.closed_by(CloseReason::KeepAliveTimeout), 1);
    });
}

#[test]
fn each_request_restarts_the_keep_alive_timer() {
    run(async {
        let bench = Bench::new(read_all, keep_alive_3s);
        let mut c = bench.connect();
        for i in 0..5 {
            c.send(&get("/a")).await;
            assert_eq!(c.response(false).await.status, 200, "request {i}");
            ticks(&bench, 3).await;
        }
        assert!(c.open().await);
        assert_eq!(bench.closed_by(CloseReason::KeepAliveTimeout), 0);
    });
}

fn headers_2s(o: &mut crate::Options) {
    o.request_headers_timeout = std::time::Duration::from_secs(2);
}

#[test]
fn a_partial_head_gets_408_after_the_request_headers_timeout() {
    run(async {
        let bench = Bench::new(read_all, headers_2s);
        let mut c = bench.connect();
        c.send(b"GET /slow HTTP/1.1\r\nHost:").await;
        ticks(&bench, 2).await;
        assert!(c.nothing_more().await && c.open().await, "not before");
        ticks(&bench, 1).await;
        answered_then_closed(&mut c, 408).await;
        assert_eq!(bench.closed_by(CloseReason::HeadersTimeout), 1);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn the_request_headers_timeout_counts_from_the_first_byte() {
    run(async {
        let bench = Bench::new(read_all, headers_2s);
        let mut c = bench.connect();
        // Idle (the keep-alive timeout runs, 130 s by default) for longer than the
        // request-headers timeout.
        ticks(&bench, 5).await;
        c.send(b"GET /pl").await;
        ticks(&bench, 2).await;
        assert!(c.nothing_more().await && c.open().await);
        ticks(&bench, 1).await;
        answered_then_closed(&mut c, 408).await;
    });
}

#[test]
fn trickled_head_bytes_do_not_restart_the_timer() {
    run(async {
        let bench = Bench::new(read_all, headers_2s);
        let mut c = bench.connect();
        c.send(b"GET /slow HTTP/1.1\r\nX-Slow: ").await;
        for _ in 0..2 {
            ticks(&bench, 1).await;
            c.send(b"a").await;
        }
        assert!(c.nothing_more().await);
        ticks(&bench, 1).await;
        answered_then_closed(&mut c, 408).await;
    });
}

#[test]
fn a_head_completed_within_the_timeout_is_served() {
    run(async {
        let bench = Bench::new(read_all, headers_2s);
        let mut c = bench.connect();
        c.send(b"GET /in-time HTTP/1.1\r\n").await;
        ticks(&bench, 2).await;
        c.send(b"Host: t\r\n\r\n").await;
        let r = c.response(false).await;
        assert_eq!(r.text(), "/in-time 0");
        // The next head has the whole timeout again.
        ticks(&bench, 2).await;
        c.send(&get("/next")).await;
        assert_eq!(c.response(false).await.text(), "/next 0");
    });
}

fn body_rate_240_after_1s(o: &mut crate::Options) {
    o.min_request_body_data_rate = Some((240, std::time::Duration::from_secs(1)));
}

#[test]
fn a_stalled_body_gets_408_after_the_grace_period() {
    run(async {
        let bench = Bench::new(read_all, body_rate_240_after_1s);
        let mut c = bench.connect();
        c.send(b"POST /stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789")
            .await;
        ticks(&bench, 1).await;
        assert!(c.nothing_more().await && c.open().await, "grace");
        ticks(&bench, 1).await;
        answered_then_closed(&mut c, 408).await;
        assert_eq!(bench.closed_by(CloseReason::DataRate), 1);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn by_default_a_stalled_body_gets_408_after_five_seconds() {
    run(async {
        // 240 B/s after a 5 s grace.
        let bench = Bench::new(read_all, |_| {});
        let mut c = bench.connect();
        c.send(b"POST /stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789")
            .await;
        ticks(&bench, 5).await;
        assert!(c.nothing_more().await && c.open().await, "grace");
        ticks(&bench, 1).await;
        answered_then_closed(&mut c, 408).await;
    });
}

#[test]
fn a_body_at_the_minimum_rate_is_read() {
    run(async {
        let bench = Bench::new(read_all, body_rate_240_after_1s);
        let mut c = bench.connect();
        c.send(b"POST /steady HTTP/1.1\r\nHost: t\r\nContent-Length: 2400\r\n\r\n")
            .await;
        for _ in 0..10 {
            c.send(&[b'p'; 240]).await;
            ticks(&bench, 1).await;
        }
        let r = c.response(false).await;
        assert_eq!(r.text(), "/steady 2400");
        assert!(r.keep_alive);
        assert_eq!(bench.closed_by(CloseReason::DataRate), 0);
    });
}

#[test]
fn a_stalled_body_once_the_response_started_only_closes() {
    // Echoes the body as it is read: the response starts with the first piece.
    async fn echo(req: Request) -> Response {
        Response::new(Body::from_stream(req.into_body()))
    }
    run(async {
        let bench = Bench::new(echo, body_rate_240_after_1s);
        let mut c = bench.connect();
        c.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789")
            .await;
        settle().await;
        ticks(&bench, 2).await;
        let sent = c.closed().await;
        let text = String::from_utf8_lossy(&sent);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\na\r\n0123456789\r\n"), "{text}");
        assert_eq!(bench.closed_by(CloseReason::DataRate), 1);
    });
}

/// `count` pieces of `size` bytes, produced on demand.
struct Pieces {
    left: usize,
    size: usize,
}

impl futures_core::Stream for Pieces {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(Bytes::from(vec![b'r'; self.size]))))
    }
}

/// 1 MiB, streamed.
async fn megabyte(_req: Request) -> Response {
    Response::new(Body::from_stream(Pieces {
        left: 256,
        size: 4096,
    }))
}

const RESPONSE_RATE: u64 = 1024;

fn response_rate(o: &mut crate::Options) {
    o.min_response_data_rate = Some((RESPONSE_RATE, std::time::Duration::from_secs(1)));
}

#[test]
fn a_client_that_stops_reading_is_aborted() {
    run(async {
        let mut bench = Bench::new(megabyte, response_rate);
        bench.pipe_capacity = 4096;
        let mut c = bench.connect();
        c.send(&get("/big")).await;
        settle().await;
        // The write in progress is allowed its own time at the minimum rate (it may be
        // large), then the connection is aborted.
        let mut waited = 0;
        while c.open().await {
            bench.tick();
            waited += 1;
            assert!(waited < 100, "never aborted");
        }
        assert!(waited >= 2, "not within the grace period: {waited} ticks");
        let got = c.closed().await;
        assert!(got.len() <= 4096, "{} bytes", got.len());
        assert!(!got.ends_with(b"\r\n0\r\n\r\n"));
        assert_eq!(bench.closed_by(CloseReason::DataRate), 1);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_client_reading_at_the_minimum_rate_is_not_aborted() {
    run(async {
        let mut bench = Bench::new(megabyte, response_rate);
        bench.pipe_capacity = 4096;
        let mut c = bench.connect();
        c.send(&get("/big")).await;
        settle().await;
        // Exactly the minimum rate: one read of RESPONSE_RATE bytes per second.
        let mut seconds = 0;
        while !c.buf.ends_with(b"\r\n0\r\n\r\n") {
            let chunk = bytes::BytesMut::with_capacity(RESPONSE_RATE as usize);
            let (res, chunk) = crate::transport::Transport::read(&mut c.stream, chunk).await;
            assert!(res.expect("read") > 0, "aborted after {seconds} s");
            c.buf.extend_from_slice(&chunk);
            bench.tick();
            settle().await;
            seconds += 1;
            assert!(seconds < 2000);
        }
        let r = c.response(false).await;
        assert_eq!(r.body.len(), 1 << 20);
        assert_eq!(bench.closed_by(CloseReason::DataRate), 0);
    });
}

fn rates_off_keep_alive_1s(o: &mut crate::Options) {
    o.keep_alive_timeout = std::time::Duration::from_secs(1);
    o.min_request_body_data_rate = None;
    o.min_response_data_rate = None;
}

#[test]
fn a_request_in_progress_outlives_the_keep_alive_timeout() {
    run(async {
        let bench = Bench::new(read_all, rates_off_keep_alive_1s);
        let mut c = bench.connect();
        c.send(b"POST /busy HTTP/1.1\r\nHost: t\r\nContent-Length: 40\r\n\r\n")
            .await;
        for _ in 0..4 {
            ticks(&bench, 2).await;
            c.send(b"0123456789").await;
        }
        let r = c.response(false).await;
        assert_eq!(r.text(), "/busy 40");
        c.send(&get("/next")).await;
        assert_eq!(c.response(false).await.text(), "/next 0");
        assert_eq!(bench.closed_by(CloseReason::KeepAliveTimeout), 0);
    });
}

#[test]
fn with_the_rates_off_a_stalled_body_is_not_timed_out() {
    run(async {
        let bench = Bench::new(read_all, rates_off_keep_alive_1s);
        let mut c = bench.connect();
        c.send(b"POST /stalled HTTP/1.1\r\nHost: t\r\nContent-Length: 20\r\n\r\n0123456789")
            .await;
        ticks(&bench, 30).await;
        assert!(c.nothing_more().await && c.open().await);
        c.send(b"0123456789").await;
        assert_eq!(c.response(false).await.text(), "/stalled 20");
    });
}

#[test]
fn with_the_rates_off_a_client_that_stops_reading_is_not_aborted() {
    run(async {
        let mut bench = Bench::new(megabyte, rates_off_keep_alive_1s);
        bench.pipe_capacity = 4096;
        let mut c = bench.connect();
        c.send(&get("/big")).await;
        ticks(&bench, 30).await;
        assert!(c.open().await);
        let r = c.response(false).await;
        assert_eq!(r.body.len(), 1 << 20);
        assert_eq!(bench.closed_by(CloseReason::DataRate), 0);
    });
}
