//! The opaque upgrade over the in-memory transport: the hand-off (bytes behind the head
//! included), refusals (`NotUpgradable` without the headers, with a body or on HTTP/1.0;
//! `AlreadyUpgraded`; `LimitReached` until an upgraded stream is dropped), the upgraded
//! connection leaving the connection count and the HTTP timeouts, ordering behind
//! pipelined requests, graceful shutdown reaching the stream, and bulk data through it.

use bytes::BytesMut;
use http::{HeaderValue, StatusCode};

use crate::metrics::CloseReason;
use crate::testing::{get, run, settle, until, Bench, Client};
use crate::{Request, Response, UpgradeError, Upgraded};

/// Echo every byte until the client closes.
async fn echo_until_closed(mut up: Upgraded) {
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
}

/// The sample application's shape: `/echo` upgrades (`Upgrade: echo`) and echoes, 503
/// at the upgrade limit, 400 when not upgradable; `/twice` upgrades and reports a
/// second attempt on the stream; `/watch` upgrades and waits for shutdown; anything
/// else is a plain request answered with what it was.
async fn app(mut req: Request) -> Response {
    let protocol = HeaderValue::from_static("echo");
    match req.path() {
        "/echo" => match req.upgrade(protocol).await {
            Ok(up) => {
                echo_until_closed(up).await;
                Response::default()
            }
            Err(UpgradeError::LimitReached) => {
                Response::with_status(StatusCode::SERVICE_UNAVAILABLE)
            }
            Err(_) => Response::with_status(StatusCode::BAD_REQUEST),
        },
        "/twice" => {
            let Ok(mut up) = req.upgrade(protocol.clone()).await else {
                return Response::with_status(StatusCode::BAD_REQUEST);
            };
            let second = req.upgrade(protocol).await;
            let _ = up.write_all(format!("second: {:?}", second.err())).await;
            Response::new("ignored")
        }
        "/watch" => {
            let Ok(mut up) = req.upgrade(protocol).await else {
                return Response::with_status(StatusCode::BAD_REQUEST);
            };
            let _ = up
                .write_all(format!("ready {}", up.is_shutting_down()))
                .await;
            up.shutdown_requested().await;
            let _ = up.write_all(format!("bye {}", up.is_shutting_down())).await;
            Response::default()
        }
        path => {
            let path = path.to_string();
            let upgradable = req.is_upgradable();
            let body = req.body_mut().to_bytes(1 << 20).await.unwrap_or_default();
            Response::new(format!(
                "{path} upgradable={upgradable} body={}",
                String::from_utf8_lossy(&body)
            ))
        }
    }
}

fn upgrade_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .into_bytes()
}

/// Send the upgrade request for `/echo`; expect the `101`.
async fn upgraded(c: &mut Client) {
    c.send(&upgrade_request("/echo")).await;
    let r = c.response(false).await;
    assert_eq!(r.status, 101, "{r:?}");
}

/// `data` goes through the upgraded stream and comes back.
async fn echoes(c: &mut Client, data: &[u8]) {
    c.send(data).await;
    assert_eq!(c.read_exact(data.len()).await, data);
}

#[test]
fn upgrade_hands_over_the_stream_with_the_bytes_behind_the_head() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        let mut first = upgrade_request("/echo");
        first.extend_from_slice(b"right behind");
        c.send(&first).await;
        let r = c.response(false).await;
        assert_eq!(r.status, 101);
        assert_eq!(r.header("connection"), Some("Upgrade"));
        assert_eq!(r.header("upgrade"), Some("echo"));
        assert_eq!(c.read_exact(12).await, b"right behind");
        echoes(&mut c, b"more").await;
        assert_eq!(bench.counters().upgrades(), 1);
        assert_eq!(bench.active(), 1, "counted once");
        drop(c);
        bench.drained().await;
        assert_eq!(bench.closed_by(CloseReason::Upgraded), 1);
    });
}

#[test]
fn a_second_upgrade_is_refused_as_already_upgraded() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        c.send(&upgrade_request("/twice")).await;
        assert_eq!(c.response(false).await.status, 101);
        let rest = c.closed().await;
        assert_eq!(&rest[..], b"second: Some(AlreadyUpgraded)");
        assert_eq!(bench.counters().upgrades(), 1);
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_request_without_the_upgrade_headers_is_not_upgradable() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        c.send(b"GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: echo\r\n\r\n")
            .await;
        let r = c.response(false).await;
        assert_eq!(r.status, 400, "Upgrade without Connection: upgrade");
        assert!(
            r.keep_alive,
            "the handler's own answer: the connection goes on"
        );
        c.send(&get("/echo")).await;
        assert_eq!(c.response(false).await.status, 400);
        c.send(&get("/plain")).await;
        assert_eq!(
            c.response(false).await.text(),
            "/plain upgradable=false body="
        );
        assert_eq!(bench.counters().upgrades(), 0);
    });
}

#[test]
fn a_request_with_a_body_and_upgrade_headers_is_a_normal_request() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        let with_body = |path: &str| {
            format!(
                "POST {path} HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\
                 Content-Length: 5\r\n\r\nhello"
            )
            .into_bytes()
        };
        c.send(&with_body("/plain")).await;
        let r = c.response(false).await;
        assert_eq!(
            (r.status, r.text().as_str()),
            (200, "/plain upgradable=false body=hello")
        );
        c.send(&with_body("/echo")).await;
        assert_eq!(c.response(false).await.status, 400);
        // The body was skipped: the connection is still HTTP.
        c.send(&get("/after")).await;
        assert_eq!(
            c.response(false).await.text(),
            "/after upgradable=false body="
        );
        assert_eq!(bench.counters().upgrades(), 0);
    });
}

#[test]
fn http_1_0_is_not_upgradable() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        let old = |path: &str| {
            format!(
                "GET {path} HTTP/1.0\r\nConnection: Upgrade, keep-alive\r\nUpgrade: echo\r\n\r\n"
            )
            .into_bytes()
        };
        c.send(&old("/plain")).await;
        assert_eq!(
            c.response(false).await.text(),
            "/plain upgradable=false body="
        );
        c.send(&old("/echo")).await;
        assert_eq!(c.response(false).await.status, 400);
        assert_eq!(bench.counters().upgrades(), 0);
    });
}

#[test]
fn the_upgrade_limit_refuses_with_503_until_a_stream_is_dropped() {
    run(async {
        let bench = Bench::new(app, |o| o.max_concurrent_upgraded_connections = Some(1));
        let mut first = bench.connect();
        upgraded(&mut first).await;
        let mut second = bench.connect();
        second.send(&upgrade_request("/echo")).await;
        let r = second.response(false).await;
        assert_eq!(r.status, 503);
        assert!(r.keep_alive);
        echoes(&mut first, b"still fine").await;
        drop(first);
        until("the first upgraded stream to end", || bench.active() == 1).await;
        upgraded(&mut second).await;
        echoes(&mut second, b"now me").await;
        assert_eq!(bench.counters().upgrades(), 2);
    });
}

#[test]
fn an_upgraded_connection_leaves_the_connection_count() {
    run(async {
        let bench = Bench::new(app, |o| o.max_concurrent_connections = Some(1));
        let mut up = bench.connect();
        upgraded(&mut up).await;
        let mut plain = bench.connect();
        plain.send(&get("/plain")).await;
        assert_eq!(
            plain.response(false).await.text(),
            "/plain upgradable=false body="
        );
        // The limit still holds for HTTP connections.
        let mut over = bench.connect();
        assert!(over.closed().await.is_empty());
        assert_eq!(bench.rejected_over_limit(), 1);
        echoes(&mut up, b"unaffected").await;
    });
}

#[test]
fn a_pipelined_request_is_answered_before_the_101() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        let mut both = get("/a");
        both.extend(upgrade_request("/echo"));
        both.extend(b"behind");
        c.send(&both).await;
        let a = c.response(false).await;
        assert_eq!(a.text(), "/a upgradable=false body=");
        let r = c.response(false).await;
        assert_eq!(r.status, 101);
        assert_eq!(c.read_exact(6).await, b"behind");
        echoes(&mut c, b"after").await;
    });
}

#[test]
fn no_http_timeout_applies_to_an_upgraded_stream() {
    run(async {
        let bench = Bench::new(app, |o| {
            let second = std::time::Duration::from_secs(1);
            o.keep_alive_timeout = second;
            o.request_headers_timeout = second;
            o.min_request_body_data_rate = Some((240, second));
            o.min_response_data_rate = Some((240, second));
        });
        let mut c = bench.connect();
        upgraded(&mut c).await;
        for i in 0..100 {
            bench.tick();
            if i % 10 == 0 {
                echoes(&mut c, b"tick").await;
            }
        }
        settle().await;
        assert!(c.open().await);
        echoes(&mut c, b"still here").await;
        assert_eq!(bench.active(), 1);
        for reason in [
            CloseReason::KeepAliveTimeout,
            CloseReason::HeadersTimeout,
            CloseReason::DataRate,
        ] {
            assert_eq!(bench.closed_by(reason), 0, "{reason:?}");
        }
    });
}

#[test]
fn shutdown_reaches_the_upgraded_stream() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        c.send(&upgrade_request("/watch")).await;
        assert_eq!(c.response(false).await.status, 101);
        assert_eq!(c.read_exact(11).await, b"ready false");
        assert!(c.nothing_more().await && c.open().await);
        bench.shutdown();
        assert_eq!(&c.closed().await[..], b"bye true");
        drop(c);
        bench.drained().await;
    });
}

#[test]
fn a_megabyte_goes_through_the_upgraded_stream() {
    const TOTAL: usize = 1 << 20;
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        upgraded(&mut c).await;
        let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
        // Writes and reads interleaved: neither direction's full pipe stalls the other.
        c.send_reading(&data).await;
        while c.buf.len() < TOTAL {
            assert!(c.fill().await > 0);
        }
        assert_eq!(c.buf.len(), TOTAL);
        assert!(c.buf[..] == data[..], "the echo differs");
    });
}
