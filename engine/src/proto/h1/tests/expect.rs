//! `Expect: 100-continue`: the `100 Continue` goes out only when the handler first reads
//! the body; a handler that answers without reading gets its response out and the
//! connection closes (the body never comes, so the next request cannot be found); a body
//! over the limit is refused without inviting it; HTTP/1.0 ignores `Expect`.

use crate::testing::{get, run, Bench, Gate};
use crate::{Body, Request, Response};

const EXPECTING: &[u8] =
    b"POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

/// Waits at the gate, then reads the body and answers with it.
fn read_after(gate: Gate) -> impl crate::Handler {
    move |mut req: Request| {
        let gate = gate.clone();
        async move {
            gate.pass().await;
            match req.body_mut().to_bytes(1 << 20).await {
                Ok(body) => Response::new(body),
                Err(e) => Response::new(format!("error: {e}")),
            }
        }
    }
}

#[test]
fn continue_is_sent_when_the_handler_reads_the_body() {
    run(async {
        let gate = Gate::default();
        let bench = Bench::new(read_after(gate.clone()), |_| {});
        let mut c = bench.connect();
        c.send(EXPECTING).await;
        crate::testing::settle().await;
        assert_eq!(
            gate.arrived(),
            1,
            "the handler runs before the body is there"
        );
        assert!(c.nothing_more().await, "no 100 before the handler reads");
        gate.give(1);
        let interim = c.response(false).await;
        assert_eq!(interim.status, 100);
        assert!(
            c.nothing_more().await,
            "the final answer waits for the body"
        );
        c.send(b"hello").await;
        let r = c.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "hello"));
        assert!(r.keep_alive);
        gate.open();
        c.send(&get("/next")).await;
        assert_eq!(c.response(false).await.status, 200);
    });
}

#[test]
fn a_body_sent_without_waiting_is_read_and_continue_still_sent() {
    run(async {
        let gate = Gate::default();
        gate.open();
        let bench = Bench::new(read_after(gate), |_| {});
        let mut c = bench.connect();
        let mut all = EXPECTING.to_vec();
        all.extend(b"hello");
        all.extend(get("/next"));
        c.send(&all).await;
        assert_eq!(c.response(false).await.status, 100);
        assert_eq!(c.response(false).await.text(), "hello");
        assert_eq!(c.response(false).await.status, 200);
    });
}

#[test]
fn a_handler_answering_without_reading_closes_the_connection() {
    async fn refuse(_req: Request) -> Response {
        Response::new("no thanks")
    }
    run(async {
        let bench = Bench::new(refuse, |_| {});
        let mut c = bench.connect();
        c.send(EXPECTING).await;
        let r = c.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "no thanks"));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(!r.keep_alive);
        assert!(c.closed().await.is_empty(), "no 100 Continue, nothing else");
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_streamed_answer_that_never_reads_the_body_closes_after_it() {
    struct Once(Option<bytes::Bytes>);
    impl futures_core::Stream for Once {
        type Item = std::io::Result<bytes::Bytes>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.take().map(Ok))
        }
    }
    async fn stream(_req: Request) -> Response {
        Response::new(Body::from_stream(Once(Some("streamed".into()))))
    }
    run(async {
        let bench = Bench::new(stream, |_| {});
        let mut c = bench.connect();
        c.send(EXPECTING).await;
        // The stream might have read the body: whether the connection survives is known
        // only at its end. The answer is whole, and then the connection closes.
        let r = c.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "streamed"));
        assert!(c.closed().await.is_empty());
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_body_over_the_limit_is_refused_without_inviting_it() {
    let gate = Gate::default();
    gate.open();
    run(async {
        let bench = Bench::new(read_after(gate), |o| o.max_request_body_size = Some(4));
        let mut c = bench.connect();
        c.send(EXPECTING).await;
        let r = c.response(false).await;
        assert_eq!(r.status, 413, "not 100 first");
        assert!(!r.keep_alive);
        assert!(c.closed().await.is_empty());
    });
}

#[test]
fn expect_is_ignored_on_http_1_0() {
    let gate = Gate::default();
    gate.open();
    run(async {
        let bench = Bench::new(read_after(gate), |_| {});
        let mut c = bench.connect();
        c.send(
            b"POST /old HTTP/1.0\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\
              Content-Length: 5\r\n\r\nhello",
        )
        .await;
        let r = c.response(false).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "hello"),
            "no 100 first"
        );
        assert!(r.keep_alive);
        assert!(c.nothing_more().await);
    });
}

#[test]
fn expect_on_http_1_0_does_not_stop_an_unread_body_being_skipped() {
    async fn ignore(_req: Request) -> Response {
        Response::new("ignored")
    }
    run(async {
        let bench = Bench::new(ignore, |_| {});
        let mut c = bench.connect();
        c.send(
            b"POST /old HTTP/1.0\r\nExpect: 100-continue\r\nConnection: keep-alive\r\n\
              Content-Length: 5\r\n\r\nhelloGET /next HTTP/1.0\r\n\r\n",
        )
        .await;
        let r = c.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "ignored"));
        assert!(r.keep_alive, "HTTP/1.0 keep-alive, the body skipped");
        let next = c.response(false).await;
        assert_eq!(next.text(), "ignored");
        assert!(!next.keep_alive, "HTTP/1.0 without keep-alive");
        assert!(c.closed().await.is_empty());
    });
}
