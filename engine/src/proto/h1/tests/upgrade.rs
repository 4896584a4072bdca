//! The opaque upgrade over the in-memory transport.

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

#[test]
fn upgrade_hands_over_the_stream_with_the_bytes_behind_the_head() {
    run(async {
        let bench = Bench::new(echo, |_| {});
        let mut c = bench.connect();
        let mut first = UPGRADE.to_vec();
        first.extend_from_slice(b"right behind");
        c.send(&first).await;
        let r = c.response(false).await;
        assert_eq!(r.status, 101);
        assert_eq!(r.header("connection"), Some("Upgrade"));
        assert_eq!(r.header("upgrade"), Some("echo"));
        while c.buf.len() < 12 {
            c.fill().await;
        }
        assert_eq!(&c.buf[..], b"right behind");
        c.buf.clear();
        c.send(b"more").await;
        while c.buf.len() < 4 {
            c.fill().await;
        }
        assert_eq!(&c.buf[..], b"more");
        assert_eq!(bench.counters().upgrades(), 1);
        drop(c);
        bench.drained().await;
    });
}
