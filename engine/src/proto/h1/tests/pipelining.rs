//! Pipelining: several requests in one write are answered in order, and every answer
//! to what one read brought leaves in one write (the client reads them back to back);
//! a request right behind a body (Content-Length or chunked); HEAD among them; a
//! `Connection: close` in the middle ends the pipeline there.

use crate::testing::{get, post, run, Bench, Client};
use crate::{Request, Response};

/// Answers `METHOD path body=...` (the body read whole).
async fn describe(mut req: Request) -> Response {
    let body = req.body_mut().to_bytes(1 << 20).await.expect("a body");
    Response::new(format!(
        "{} {} body={}",
        req.method(),
        req.path(),
        String::from_utf8_lossy(&body)
    ))
}

/// Send `requests` in one write; expect one write back, read in one read.
async fn one_write_each_way(bench: &Bench<impl crate::Handler>, c: &mut Client, requests: &[u8]) {
    let writes = bench.writes();
    c.send(requests).await;
    // Room for everything: one read takes whatever the server wrote.
    c.buf.reserve(64 * 1024);
    let n = c.fill().await;
    assert!(n > 0);
    crate::testing::settle().await;
    assert_eq!(
        c.stream.unread_by_us(),
        0,
        "more arrived after the first read"
    );
    assert_eq!(bench.writes() - writes, 1, "one write for all the answers");
}

#[test]
fn pipelined_requests_are_answered_in_order_in_one_write() {
    run(async {
        let bench = Bench::new(describe, |_| {});
        let mut c = bench.connect();
        let mut all = get("/a");
        all.extend(get("/b"));
        all.extend(get("/c"));
        one_write_each_way(&bench, &mut c, &all).await;
        for path in ["/a", "/b", "/c"] {
            let r = c.response(false).await;
            assert_eq!(r.status, 200);
            assert!(r.keep_alive);
            assert_eq!(r.text(), format!("GET {path} body="));
        }
        assert!(c.buf.is_empty());
        assert_eq!(bench.counters().requests(), 3);
        // The connection goes on.
        c.send(&get("/d")).await;
        assert_eq!(c.response(false).await.text(), "GET /d body=");
    });
}

#[test]
fn a_request_right_behind_a_body_is_the_next_request() {
    run(async {
        let bench = Bench::new(describe, |_| {});
        let mut c = bench.connect();
        let mut all = post("/first", b"hello");
        all.extend(
            b"POST /second HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
              3\r\nabc\r\n0\r\n\r\n",
        );
        all.extend(get("/third"));
        one_write_each_way(&bench, &mut c, &all).await;
        assert_eq!(c.response(false).await.text(), "POST /first body=hello");
        assert_eq!(c.response(false).await.text(), "POST /second body=abc");
        assert_eq!(c.response(false).await.text(), "GET /third body=");
        assert!(c.buf.is_empty());
    });
}

#[test]
fn an_unread_body_is_skipped_to_the_next_pipelined_request() {
    async fn ignore_body(req: Request) -> Response {
        Response::new(format!("{} {}", req.method(), req.path()))
    }
    run(async {
        let bench = Bench::new(ignore_body, |_| {});
        let mut c = bench.connect();
        let mut all = post("/unread", b"GET /not-a-request HTTP/1.1\r\n\r\n");
        all.extend(get("/next"));
        c.send(&all).await;
        assert_eq!(c.response(false).await.text(), "POST /unread");
        assert_eq!(c.response(false).await.text(), "GET /next");
        assert!(c.nothing_more().await);
        assert_eq!(bench.counters().requests(), 2);
    });
}

#[test]
fn head_in_a_pipeline_has_no_body() {
    run(async {
        let bench = Bench::new(describe, |_| {});
        let mut c = bench.connect();
        let mut all = get("/a");
        all.extend(b"HEAD /a HTTP/1.1\r\nHost: t\r\n\r\n");
        all.extend(get("/b"));
        one_write_each_way(&bench, &mut c, &all).await;
        let a = c.response(false).await;
        assert_eq!(a.text(), "GET /a body=");
        let head = c.response(true).await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        // The length HEAD announces is the one GET would have (same length text).
        assert_eq!(head.header("content-length"), Some("13"));
        assert_eq!(a.header("content-length"), Some("12"));
        let b = c.response(false).await;
        assert_eq!(b.text(), "GET /b body=");
        assert!(c.buf.is_empty());
    });
}

#[test]
fn connection_close_ends_the_pipeline_there() {
    run(async {
        let bench = Bench::new(describe, |_| {});
        let mut c = bench.connect();
        let mut all = get("/a");
        all.extend(b"GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        all.extend(get("/c"));
        c.send(&all).await;
        assert!(c.response(false).await.keep_alive);
        let b = c.response(false).await;
        assert_eq!(b.text(), "GET /b body=");
        assert!(!b.keep_alive);
        assert_eq!(b.header("connection"), Some("close"));
        assert!(c.closed().await.is_empty(), "/c is not answered");
        assert_eq!(bench.counters().requests(), 2);
        drop(c);
        bench.drained().await;
    });
}
