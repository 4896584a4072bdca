//! The end of an upgraded stream at graceful shutdown, over the in-memory transport: the
//! handler hears the signal while it waits in a read, and a handler that ignores it is
//! cut off at the shutdown timeout.

use std::future::Future;

use bytes::BytesMut;
use http::{HeaderValue, StatusCode};

use crate::testing::{run, Bench};
use crate::{Request, Response, UpgradeError};

/// Upgrades `GET /echo` (`Upgrade: echo`) and echoes every byte until the client closes.
async fn echo(mut req: Request) -> Response {
    match req.upgrade(HeaderValue::from_static("echo")).await {
        Ok(mut up) => {
            let mut buf = BytesMut::with_capacity(8192);
            loop {
                let (res, b) = up.read(buf).await;
                buf = b;
                match res {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let data = buf.split().freeze();
                        if up.write_all(data).await.is_err() {
                            break;
                        }
                        buf.reserve(8192);
                    }
                }
            }
            Response::default()
        }
        Err(UpgradeError::LimitReached) => Response::with_status(StatusCode::SERVICE_UNAVAILABLE),
        Err(_) => Response::with_status(StatusCode::BAD_REQUEST),
    }
}

const UPGRADE: &[u8] =
    b"GET /echo HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n";

/// Like [`echo`], but a graceful shutdown ends the loop: the read is raced against
/// [`Upgraded::shutdown_requested`](crate::Upgraded::shutdown_requested), whose future
/// does not borrow the stream.
async fn echo_until_shutdown(mut req: Request) -> Response {
    let Ok(mut up) = req.upgrade(HeaderValue::from_static("echo")).await else {
        return Response::with_status(StatusCode::BAD_REQUEST);
    };
    let mut stop = std::pin::pin!(up.shutdown_requested());
    let mut buf = BytesMut::with_capacity(8192);
    loop {
        let read = {
            let mut read = std::pin::pin!(up.read(buf));
            std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(None);
                }
                read.as_mut().poll(cx).map(Some)
            })
            .await
        };
        let Some((res, b)) = read else {
            assert!(up.is_shutting_down());
            let _ = up.shutdown().await;
            break;
        };
        buf = b;
        match res {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if up.write_all(buf.split().freeze()).await.is_err() {
                    break;
                }
                buf.reserve(8192);
            }
        }
    }
    Response::default()
}

#[test]
fn shutdown_requested_can_interrupt_a_pending_read() {
    run(async {
        let bench = Bench::new(echo_until_shutdown, |_| {});
        let mut c = bench.connect();
        c.send(UPGRADE).await;
        assert_eq!(c.response(false).await.status, 101);
        c.send(b"ping").await;
        while c.buf.len() < 4 {
            c.fill().await;
        }
        assert_eq!(&c.buf[..], b"ping");
        c.buf.clear();
        // The handler is now waiting in a read; the shutdown signal ends it.
        bench.shutdown();
        assert!(c.closed().await.is_empty());
        bench.drained().await;
    });
}

#[test]
fn the_shutdown_timeout_ends_an_upgraded_stream_whose_handler_ignores_the_signal() {
    run(async {
        let bench = Bench::new(echo, |_| {});
        let mut c = bench.connect();
        c.send(UPGRADE).await;
        assert_eq!(c.response(false).await.status, 101);
        bench.shutdown();
        // `echo` does not listen for the signal: it echoes on.
        c.send(b"still here").await;
        while c.buf.len() < 10 {
            c.fill().await;
        }
        c.buf.clear();
        assert_eq!(
            bench.active(),
            1,
            "the upgraded stream (its connection task left the count)"
        );
        bench.abort_all();
        assert!(c.closed().await.is_empty());
        bench.drained().await;
        assert_eq!(bench.counters().upgrades(), 1);
    });
}
