//! The sample application `peregrine` serves. Its routes are a contract that tests, the
//! benchmark harness and the load generator rely on:
//!
//! - `GET /plaintext` → `Hello, World!` (text/plain)
//! - `GET /json` → `{"message":"Hello, World!"}`, serialized per request
//! - `POST /echo` → the request body sent back once read whole, same Content-Type
//!   (works behind nginx, which stops forwarding a body once the answer starts)
//! - `POST /echo/stream` → the request body streamed back as it arrives (full duplex)
//! - `GET|POST /request` → the request as the handler sees it, as JSON: `scheme` is
//!   `https` on TLS connections, and `tls` is `{"alpn", "sni", "version", "cipher",
//!   "client_cert_subject"}` there (`null` on cleartext; the subject, e.g.
//!   `CN=test client, O=Peregrine`, is `null` when the client sent no certificate)
//!   `protocol` is `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`; `trailers` lists the request's
//!   trailer fields (HTTP/2)
//! - `GET /stream?chunks=N&size=B` → a chunked response of N chunks of B bytes
//! - `GET /trailers` → `hello` followed by the trailer fields `x-body-length: 5` and
//!   `x-trailer: done` (HTTP/2; HTTP/1.1 sends the body alone)
//! - `GET /upgrade/echo` with `Connection: Upgrade` and `Upgrade: echo` → `101 Switching
//!   Protocols`, then every byte the client sends is echoed back until it closes its
//!   side (then the server closes too); a graceful shutdown ends the echo at once (the
//!   server finishes its side, the client reads end-of-stream). Without those headers,
//!   or when the request cannot be upgraded (it has a body) → 400; over
//!   `--max-concurrent-upgraded-connections` → 503
//! - `GET /ws` (a WebSocket handshake), or an HTTP/2 extended CONNECT with `:protocol
//!   websocket` → the WebSocket echoes every message (subprotocol `echo` when offered);
//!   a refused handshake gets its answer (400, 426, 403, 503)
//! - anything else → 404
//!
//! `HEAD` is answered wherever `GET` is.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use peregrine::http::header::CONTENT_TYPE;
use peregrine::http::{HeaderValue, Method, StatusCode};
use peregrine::ws::Message as WsMessage;
use peregrine::{Body, Request, Response, UpgradeError, Upgraded};
use serde::Serialize;

/// Largest `/stream` response the sample app agrees to produce.
const MAX_STREAM_BYTES: u64 = 1 << 30;
/// Largest read of the `/upgrade/echo` loop; each is written back before the next.
const ECHO_CHUNK: usize = 16 * 1024;

/// The sample application's handler.
pub async fn handle(req: Request) -> Response {
    let get = matches!(*req.method(), Method::GET | Method::HEAD);
    // The benchmark routes answer at once; the rest share one boxed future, so they
    // size neither this future nor every request's (measured: each awaiting route
    // added a move of the response to every request).
    match req.path() {
        "/plaintext" if get => plaintext(),
        "/json" if get => json(),
        _ => Box::pin(other_routes(req, get)).await,
    }
}

/// Every route but the benchmark ones.
async fn other_routes(req: Request, get: bool) -> Response {
    match req.path() {
        "/echo" if req.method() == Method::POST => echo(req).await,
        "/echo/stream" if req.method() == Method::POST => echo_stream_body(req),
        "/request" if get || req.method() == Method::POST => describe(req).await,
        "/stream" if get => stream(&req),
        "/trailers" if get => trailers(),
        "/upgrade/echo" if req.method() == Method::GET => upgrade_echo(req).await,
        "/ws" if get || req.method() == Method::CONNECT => ws_echo(req).await,
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn plaintext() -> Response {
    Response::new("Hello, World!").header(CONTENT_TYPE, HeaderValue::from_static("text/plain"))
}

#[derive(Serialize)]
struct Message {
    message: &'static str,
}

fn json() -> Response {
    let body = serde_json::to_vec(&Message {
        message: "Hello, World!",
    })
    .unwrap_or_default();
    Response::new(body).header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

/// `/echo`: the whole body is read before the answer starts. A proxy such as nginx
/// forwards no more of a request body once the response has started (its upstream side
/// is half-duplex), so a handler that answers while still reading deadlocks behind it;
/// reading first works everywhere (the body size limit bounds the memory).
async fn echo(mut req: Request) -> Response {
    let content_type = req
        .header("content-type")
        .and_then(|v| HeaderValue::from_bytes(v).ok());
    let body = match req.body_mut().to_bytes(usize::MAX).await {
        Ok(b) => b,
        // Over the body limit the server answers 413 whatever this says.
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let mut r = Response::new(body);
    if let Some(ct) = content_type {
        r.append_header(CONTENT_TYPE, ct);
    }
    r
}

/// `/echo/stream`: the body streamed back as it arrives (full duplex; see [`echo`] for
/// why not behind nginx).
fn echo_stream_body(req: Request) -> Response {
    let content_type = req
        .header("content-type")
        .and_then(|v| HeaderValue::from_bytes(v).ok());
    let mut r = Response::new(Body::from_stream(req.into_body()));
    if let Some(ct) = content_type {
        r.append_header(CONTENT_TYPE, ct);
    }
    r
}

#[derive(Serialize)]
struct Described<'a> {
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    protocol: &'static str,
    scheme: &'a str,
    host: Option<&'a str>,
    remote_addr: String,
    local_addr: String,
    headers: Vec<[String; 2]>,
    body_length: u64,
    /// Request trailers (HTTP/2), as `[name, value]` pairs.
    trailers: Vec<[String; 2]>,
    /// What the TLS handshake settled; `null` on cleartext connections.
    tls: Option<DescribedTls<'a>>,
}

#[derive(Serialize)]
struct DescribedTls<'a> {
    alpn: Option<&'a str>,
    sni: Option<&'a str>,
    version: &'static str,
    cipher: &'static str,
    /// The verified client certificate's subject; `null` when none was sent.
    client_cert_subject: Option<&'a str>,
}

async fn describe(mut req: Request) -> Response {
    let mut body_length = 0u64;
    while let Some(chunk) = req.body_mut().chunk().await {
        match chunk {
            Ok(c) => body_length += c.len() as u64,
            Err(_) => return status(StatusCode::BAD_REQUEST),
        }
    }
    let trailers = match req.body_mut().trailers().await {
        Ok(t) => t.unwrap_or_default(),
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let info = req.conn_info();
    let d = Described {
        method: req.method().as_str(),
        path: req.path(),
        query: req.query(),
        protocol: match req.version() {
            peregrine::http::Version::HTTP_10 => "HTTP/1.0",
            peregrine::http::Version::HTTP_2 => "HTTP/2",
            _ => "HTTP/1.1",
        },
        scheme: info.scheme,
        host: req.host(),
        remote_addr: info.remote_addr.to_string(),
        local_addr: info.local_addr.to_string(),
        headers: req
            .headers()
            .map(|(n, v)| [n.to_string(), String::from_utf8_lossy(v).into_owned()])
            .collect(),
        body_length,
        trailers: trailers
            .iter()
            .map(|(n, v)| {
                [
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ]
            })
            .collect(),
        tls: info.tls.as_ref().map(|t| DescribedTls {
            alpn: t.alpn.as_deref(),
            sni: t.sni.as_deref(),
            version: t.version,
            cipher: t.cipher,
            client_cert_subject: t.client_subject.as_deref(),
        }),
    };
    let body = serde_json::to_vec(&d).unwrap_or_default();
    Response::new(body).header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
}

fn trailers() -> Response {
    let body = Body::from("hello").with_trailers(async {
        let mut t = peregrine::http::HeaderMap::new();
        t.insert("x-body-length", HeaderValue::from_static("5"));
        t.insert("x-trailer", HeaderValue::from_static("done"));
        t
    });
    Response::new(body).header(CONTENT_TYPE, HeaderValue::from_static("text/plain"))
}

fn stream(req: &Request) -> Response {
    let mut chunks = 10u64;
    let mut size = 1024u64;
    for pair in req
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Ok(n) = v.parse::<u64>() else {
            return status(StatusCode::BAD_REQUEST);
        };
        match k {
            "chunks" => chunks = n,
            "size" => size = n,
            _ => {}
        }
    }
    if size == 0 || chunks.saturating_mul(size) > MAX_STREAM_BYTES {
        return status(StatusCode::BAD_REQUEST);
    }
    let piece = Bytes::from(vec![b'x'; size as usize]);
    Response::new(Body::from_stream(Repeat {
        piece,
        left: chunks,
    }))
    .header(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    )
}

/// `left` copies of one buffer.
struct Repeat {
    piece: Bytes,
    left: u64,
}

impl Stream for Repeat {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        Poll::Ready(Some(Ok(self.piece.clone())))
    }
}

/// `GET /upgrade/echo`: switch to the `echo` protocol and echo until the client closes
/// or the server shuts down.
async fn upgrade_echo(mut req: Request) -> Response {
    if !req.is_upgradable() || !offers_echo(&req) {
        return status(StatusCode::BAD_REQUEST);
    }
    match req.upgrade(HeaderValue::from_static("echo")).await {
        Ok(up) => {
            echo_stream(up).await;
            // Ignored: the connection was upgraded.
            Response::default()
        }
        Err(UpgradeError::LimitReached) => status(StatusCode::SERVICE_UNAVAILABLE),
        Err(_) => status(StatusCode::BAD_REQUEST),
    }
}

/// `/ws`: accept a WebSocket (HTTP/1.1 upgrade or HTTP/2 extended CONNECT; subprotocol
/// `echo` when offered) and echo every message until it closes.
async fn ws_echo(mut req: Request) -> Response {
    let wants_echo = req.websocket_protocols().iter().any(|p| p == "echo");
    let mut ws = match req.accept_websocket(wants_echo.then_some("echo")).await {
        Ok(ws) => ws,
        Err(e) => return e.response(),
    };
    while let Some(message) = ws.recv().await {
        let echo = match message {
            Ok(m @ (WsMessage::Text(_) | WsMessage::Binary(_))) => m,
            Ok(_) => continue,
            Err(_) => break,
        };
        if ws.send(echo).await.is_err() {
            break;
        }
    }
    // Ignored: the connection was upgraded.
    Response::default()
}

/// Whether the `Upgrade` header lists `echo` (a comma-separated list of protocols).
fn offers_echo(req: &Request) -> bool {
    req.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case("upgrade"))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"echo"))
}

/// Echo every byte back, one bounded read at a time, until the client closes its side
/// (or the stream fails), or until a graceful shutdown starts: then finish our side, so
/// the client reads end-of-stream, and stop. Dropping the stream closes the connection.
async fn echo_stream(mut up: Upgraded) {
    let mut stop = pin!(up.shutdown_requested());
    let mut buf = BytesMut::with_capacity(ECHO_CHUNK);
    loop {
        let read = {
            let mut read = pin!(up.read(buf));
            std::future::poll_fn(|cx| {
                if stop.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
                read.as_mut().poll(cx).map(Some)
            })
            .await
        };
        let Some((res, b)) = read else {
            // Shutting down: whatever the read had in flight is abandoned.
            let _ = up.shutdown().await;
            return;
        };
        buf = b;
        match res {
            Ok(n) if n > 0 => {
                if up.write_all(buf.split().freeze()).await.is_err() {
                    return;
                }
                // The written piece has been released: this takes its memory back.
                buf.reserve(ECHO_CHUNK);
            }
            // End-of-stream or a failure: we are done too.
            _ => return,
        }
    }
}

fn status(code: StatusCode) -> Response {
    Response::with_status(code)
}
