//! A body the handler did not read: after the response it is read and discarded so the
//! connection can go on (however late its bytes arrive), unless it is over the body
//! limit, when the connection closes after the response instead.

use crate::testing::{get, run, settle, Bench};
use crate::{Request, Response};

/// Answers without reading the body.
async fn ignore_body(req: Request) -> Response {
    Response::new(format!("{} {}", req.method(), req.path()))
}

#[test]
fn a_body_sent_after_the_response_is_drained() {
    run(async {
        let bench = Bench::new(ignore_body, |_| {});
        let mut c = bench.connect();
        c.send(b"GET /unread HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\nd")
            .await;
        let r = c.response(false).await;
        assert_eq!(r.text(), "GET /unread");
        assert!(r.keep_alive);
        // The rest arrives after the response, in pieces.
        for _ in 0..4 {
            c.send(&[b'd'; 49_999]).await;
            settle().await;
        }
        assert!(c.nothing_more().await);
        c.send(&[b'd'; 3]).await;
        c.send(&get("/next")).await;
        assert_eq!(c.response(false).await.text(), "GET /next");
        assert!(bench.bytes_in() > 200_000);
    });
}

#[test]
fn a_body_over_the_limit_is_not_drained() {
    run(async {
        let bench = Bench::new(ignore_body, |o| o.max_request_body_size = Some(10));
        let mut c = bench.connect();
        c.send(b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n0123456789")
            .await;
        let r = c.response(false).await;
        assert_eq!((r.status, r.text().as_str()), (200, "POST /big"));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.closed().await.is_empty(), "closed rather than drained");
        drop(c);
        bench.drained().await;
    });
}
