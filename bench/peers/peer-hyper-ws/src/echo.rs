//! `GET /ws`: the opening handshake checked by hand (RFC 6455 §4.2.1: GET, `Upgrade:
//! websocket`, `Connection: upgrade`, version 13, a key), answered `101` with the
//! `Sec-WebSocket-Accept` tungstenite derives; then hyper's upgraded connection becomes
//! a tokio-tungstenite server stream that sends every text and binary message back.
//! Pings are answered and the close handshake completed by tungstenite itself.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, UPGRADE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

/// Whether the comma-separated header `name` holds `token` (case-insensitive).
fn has_token(req: &Request<Incoming>, name: hyper::header::HeaderName, token: &str) -> bool {
    req.headers().get_all(name).iter().any(|v| {
        v.to_str()
            .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
            .unwrap_or(false)
    })
}

/// The service: `/ws` upgrades, everything else is 404.
pub async fn handle(mut req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.uri().path() != "/ws" {
        return Ok(status(StatusCode::NOT_FOUND));
    }
    if req.method() != Method::GET
        || !has_token(&req, UPGRADE, "websocket")
        || !has_token(&req, CONNECTION, "upgrade")
    {
        return Ok(status(StatusCode::BAD_REQUEST));
    }
    if req
        .headers()
        .get("sec-websocket-version")
        .map(|v| v.as_bytes())
        != Some(b"13")
    {
        let mut r = status(StatusCode::UPGRADE_REQUIRED);
        r.headers_mut()
            .insert("sec-websocket-version", HeaderValue::from_static("13"));
        return Ok(r);
    }
    let Some(key) = req.headers().get("sec-websocket-key") else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let Ok(accept) = HeaderValue::from_str(&derive_accept_key(key.as_bytes())) else {
        return Ok(status(StatusCode::BAD_REQUEST));
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::task::spawn_local(async move {
        if let Ok(upgraded) = upgrade.await {
            let ws =
                WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
            echo(ws).await;
        }
    });
    let mut r = status(StatusCode::SWITCHING_PROTOCOLS);
    let h = r.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert("sec-websocket-accept", accept);
    Ok(r)
}

/// Send every data message back, one `send` (write and flush) each, until the client
/// closes or the connection fails.
async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(msg)) = ws.next().await {
        if matches!(msg, Message::Text(_) | Message::Binary(_)) && ws.send(msg).await.is_err() {
            break;
        }
    }
}
