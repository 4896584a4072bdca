//! HTTP/2 over the in-memory transport, driven by the `h2` crate's client: the h2c
//! preface handed over by HTTP/1, the request as the handler sees it, a panicking
//! handler answered 500 while the connection goes on, 431 per stream, trailers both
//! ways, a reset cancelling its handler, and a graceful shutdown with an open stream.

use std::cell::Cell;
use std::future::poll_fn;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::testing::{run, settle, until, Bench, PATIENCE};
use crate::{Request, Response};

thread_local! {
    /// Handlers of the `/hang` route still running.
    static HANGING: Cell<u32> = const { Cell::new(0) };
}

struct Hanging;

impl Drop for Hanging {
    fn drop(&mut self) {
        HANGING.with(|h| h.set(h.get() - 1));
    }
}

async fn app(mut req: Request) -> Response {
    match req.path() {
        "/panic" => panic!("handler panic (expected by the test)"),
        "/hang" => {
            HANGING.with(|h| h.set(h.get() + 1));
            let _guard = Hanging;
            std::future::pending::<()>().await;
            Response::new("never")
        }
        "/trailers" => {
            let mut n = 0;
            while let Some(Ok(c)) = req.body_mut().chunk().await {
                n += c.len();
            }
            let got = req.body_mut().trailers().await.ok().flatten();
            let echo = got
                .and_then(|t| t.get("x-in").cloned())
                .unwrap_or(HeaderValue::from_static("none"));
            Response::new(format!("{n}"))
                .header(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain"),
                )
                .with_body_trailers(echo)
        }
        _ => {
            let n = req
                .body_mut()
                .to_bytes(1 << 20)
                .await
                .map(|b| b.len())
                .unwrap_or(0);
            Response::new(format!(
                "{:?} {} {} host={:?} body={n}",
                req.version(),
                req.method(),
                req.target(),
                req.host(),
            ))
        }
    }
}

trait WithBodyTrailers {
    fn with_body_trailers(self, value: HeaderValue) -> Response;
}

impl WithBodyTrailers for Response {
    fn with_body_trailers(mut self, value: HeaderValue) -> Response {
        let body = std::mem::take(self.body_mut());
        *self.body_mut() = body.with_trailers(async move {
            let mut t = HeaderMap::new();
            t.insert("x-out", value);
            t
        });
        self
    }
}

/// An HTTP/2 client over a new in-memory connection (prior knowledge: the preface goes
/// through HTTP/1's hand-off).
async fn client<H: crate::Handler>(bench: &Bench<H>) -> SendRequest<Bytes> {
    let stream = bench.connect().stream;
    let (send, conn) = monoio::time::timeout(PATIENCE, h2::client::handshake(stream))
        .await
        .expect("handshake in time")
        .expect("handshake");
    monoio::spawn(async move {
        let _ = conn.await;
    });
    send
}

fn request(method: Method, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://t.example{path}"))
        .body(())
        .expect("request")
}

/// Open a stream for `req` (ending it when `end`).
async fn start(
    c: &mut SendRequest<Bytes>,
    req: http::Request<()>,
    end: bool,
) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
    let mut send = poll_fn(|cx| c.poll_ready(cx))
        .await
        .map(|_| c.clone())
        .expect("ready");
    send.send_request(req, end).expect("send")
}

/// Send `req` (with `body`), then read the response: status, body, trailers.
async fn exchange(
    send: &mut SendRequest<Bytes>,
    req: http::Request<()>,
    body: Option<&[u8]>,
) -> Result<(StatusCode, Bytes, Option<HeaderMap>), h2::Error> {
    let mut send = poll_fn(|cx| send.poll_ready(cx))
        .await
        .map(|_| send.clone())?;
    let (response, mut stream) = send.send_request(req, body.is_none())?;
    if let Some(b) = body {
        stream.send_data(Bytes::copy_from_slice(b), true)?;
    }
    let response = monoio::time::timeout(PATIENCE, response)
        .await
        .expect("a response in time")?;
    let status = response.status();
    let mut recv = response.into_body();
    let mut all = Vec::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        all.extend_from_slice(&chunk);
    }
    let trailers = recv.trailers().await?;
    Ok((status, Bytes::from(all), trailers))
}

#[test]
fn the_preface_is_handed_over_and_the_handler_sees_http2() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (status, body, _) = exchange(&mut c, request(Method::GET, "/x?q=1"), None)
            .await
            .expect("exchange");
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "HTTP/2.0 GET /x?q=1 host=Some(\"t.example\") body=0");
        let (_, body, _) = exchange(&mut c, request(Method::POST, "/p"), Some(b"hello"))
            .await
            .expect("exchange");
        assert_eq!(body, "HTTP/2.0 POST /p host=Some(\"t.example\") body=5");
        assert_eq!(bench.counters().http2_connections(), 1);
    });
}

#[test]
fn a_panicking_handler_is_a_500_and_the_connection_goes_on() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (status, _, _) = exchange(&mut c, request(Method::GET, "/panic"), None)
            .await
            .expect("exchange");
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let (status, _, _) = exchange(&mut c, request(Method::GET, "/after"), None)
            .await
            .expect("exchange");
        assert_eq!(status, StatusCode::OK);
    });
}

#[test]
fn too_many_headers_get_431_on_their_stream_only() {
    run(async {
        let bench = Bench::new(app, |o| o.limits.max_header_count = 5);
        let mut c = client(&bench).await;
        let mut req = request(Method::GET, "/many");
        for i in 0..6 {
            req.headers_mut().insert(
                format!("x-{i}").parse::<http::HeaderName>().expect("name"),
                HeaderValue::from_static("v"),
            );
        }
        let (status, _, _) = exchange(&mut c, req, None).await.expect("exchange");
        assert_eq!(status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        let (status, _, _) = exchange(&mut c, request(Method::GET, "/few"), None)
            .await
            .expect("exchange");
        assert_eq!(status, StatusCode::OK);
    });
}

#[test]
fn trailers_go_both_ways() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (response, mut stream) = start(&mut c, request(Method::POST, "/trailers"), false).await;
        stream
            .send_data(Bytes::from_static(b"abc"), false)
            .expect("data");
        let mut t = HeaderMap::new();
        t.insert("x-in", HeaderValue::from_static("sent"));
        stream.send_trailers(t).expect("trailers");
        let response = monoio::time::timeout(PATIENCE, response)
            .await
            .expect("in time")
            .expect("response");
        let mut recv = response.into_body();
        let body = recv.data().await.expect("data").expect("chunk");
        assert_eq!(body, "3");
        assert!(recv.data().await.is_none());
        let trailers = recv.trailers().await.expect("trailers").expect("some");
        assert_eq!(trailers["x-out"], "sent");
    });
}

#[test]
fn a_client_reset_cancels_the_handler() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (_response, mut stream) = start(&mut c, request(Method::GET, "/hang"), true).await;
        until("the handler runs", || HANGING.with(Cell::get) == 1).await;
        stream.send_reset(h2::Reason::CANCEL);
        until("the handler is dropped", || HANGING.with(Cell::get) == 0).await;
        let (status, _, _) = exchange(&mut c, request(Method::GET, "/after"), None)
            .await
            .expect("exchange");
        assert_eq!(status, StatusCode::OK);
    });
}

#[test]
fn shutdown_lets_the_open_stream_finish_then_abort_ends_a_stuck_one() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (response, mut stream) = start(&mut c, request(Method::POST, "/slow"), false).await;
        stream
            .send_data(Bytes::from_static(b"12"), false)
            .expect("data");
        settle().await;
        bench.shutdown();
        settle().await;
        // The stream that was open before GOAWAY finishes.
        stream
            .send_data(Bytes::from_static(b"345"), true)
            .expect("data");
        let response = monoio::time::timeout(PATIENCE, response)
            .await
            .expect("in time")
            .expect("response");
        assert_eq!(response.status(), StatusCode::OK);
        let mut recv = response.into_body();
        let body = recv.data().await.expect("data").expect("chunk");
        assert!(body.ends_with(b"body=5"), "{body:?}");
        until("the connection closes", || bench.active() == 0).await;

        // A second connection whose handler never returns is ended by the abort.
        let bench = Bench::new(app, |_| {});
        let mut c = client(&bench).await;
        let (_response, _stream) = start(&mut c, request(Method::GET, "/hang"), true).await;
        until("the handler runs", || HANGING.with(Cell::get) == 1).await;
        bench.shutdown();
        settle().await;
        assert_eq!(bench.active(), 1, "the stream keeps the connection open");
        bench.abort_all();
        until("the connection ends", || bench.active() == 0).await;
        until("its handler is dropped", || HANGING.with(Cell::get) == 0).await;
    });
}

#[test]
fn body_trailers_do_not_reach_http1() {
    run(async {
        let bench = Bench::new(app, |_| {});
        let mut c = bench.connect();
        c.send(b"GET /trailers HTTP/1.1\r\nHost: t\r\n\r\n").await;
        let r = c.response(false).await;
        assert_eq!(r.text(), "0");
    });
}
