//! Graceful shutdown over the in-memory transport: what the shutdown timeout does to a
//! request that never finishes.

use http::StatusCode;

use crate::testing::{run, Bench};
use crate::{Request, Response};

/// Reads the whole body, then answers 200 (400 if the body fails).
async fn read_body(mut req: Request) -> Response {
    while let Some(chunk) = req.body_mut().chunk().await {
        if chunk.is_err() {
            return Response::with_status(StatusCode::BAD_REQUEST);
        }
    }
    Response::default()
}

#[test]
fn the_shutdown_timeout_ends_a_request_that_never_finishes() {
    run(async {
        let bench = Bench::new(read_body, |_| {});
        let mut c = bench.connect();
        c.send(b"POST /r HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf!")
            .await;
        // The handler waits for the rest of the body.
        assert!(c.nothing_more().await);
        assert_eq!(bench.active(), 1);
        bench.shutdown();
        // Not idle: it is left to finish.
        assert!(c.nothing_more().await);
        assert_eq!(bench.active(), 1);
        bench.abort_all();
        // Ended at the transport: nothing more can be sent, the connection closes.
        assert!(c.closed().await.is_empty());
        bench.drained().await;
    });
}
