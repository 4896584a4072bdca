//! Accepting a WebSocket handshake (ASP.NET Core's `WebSocketMiddleware` rules).
//!
//! - HTTP/1.1: `GET`, `Upgrade` listing `websocket`, `Connection` listing `upgrade`, a
//!   `Sec-WebSocket-Key` that is base64 of 16 bytes, `Sec-WebSocket-Version: 13`.
//!   Answered `101` with `Sec-WebSocket-Accept`.
//! - HTTP/2: `CONNECT` with `:protocol websocket` and `Sec-WebSocket-Version: 13` (no
//!   key). Answered `200` on the stream.
//! - Both: `Origin` against the allowed list (`403`), the subprotocol the handler chose
//!   among those offered, permessage-deflate when offered and enabled.

use http::header::{SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderName, HeaderValue, Method};

use peregrine_protocol::ws::{HandshakeError, UpgradeRequest};

use super::codec::Codec;
use super::{WebSocket, WebSocketError};
use crate::request::Request;

/// Whether a comma-separated header list (any of the header's lines) holds `token`.
fn lists(req: &Request, name: &str, token: &str) -> bool {
    req.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
}

/// The subprotocols a client offers (`Sec-WebSocket-Protocol`), in its order.
pub(crate) fn offered_protocols(req: &Request) -> Vec<String> {
    req.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case("sec-websocket-protocol"))
        .flat_map(|(_, v)| v.split(|&b| b == b','))
        .filter_map(|t| std::str::from_utf8(t.trim_ascii()).ok())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `req` asks for a WebSocket (the checks that decide `400` vs. a normal
/// request; the full validation happens in [`accept`]).
pub(crate) fn is_websocket(req: &Request) -> bool {
    match req.connect_protocol() {
        Some(p) => p.eq_ignore_ascii_case("websocket"),
        None => {
            req.method() == Method::GET
                && lists(req, "upgrade", "websocket")
                && lists(req, "connection", "upgrade")
        }
    }
}

/// Check the handshake of `req` and switch it to a WebSocket.
pub(crate) async fn accept(
    req: &mut Request,
    subprotocol: Option<&str>,
) -> Result<WebSocket, WebSocketError> {
    let options = req.io.settings().websocket.clone();
    if !is_websocket(req) || !req.is_upgradable() {
        return Err(WebSocketError::NotWebSocket);
    }
    let mut check = UpgradeRequest::new();
    for (name, value) in req.headers() {
        check.header(name.as_bytes(), value);
    }
    let method = req.method().as_str().as_bytes();
    let checked = match req.connect_protocol() {
        Some(p) => check.check_h2(method, Some(p.as_bytes())),
        None => check.check_h1(method),
    };
    let handshake = checked.map_err(|e| match e {
        HandshakeError::UnsupportedVersion => WebSocketError::UnsupportedVersion,
        HandshakeError::BadKey => WebSocketError::BadHandshake("Sec-WebSocket-Key"),
        HandshakeError::MissingVersion => WebSocketError::BadHandshake("Sec-WebSocket-Version"),
        HandshakeError::BadProtocol => WebSocketError::BadHandshake("Sec-WebSocket-Protocol"),
        _ => WebSocketError::NotWebSocket,
    })?;
    if !options.origin_allowed(req.header_str("origin")) {
        return Err(WebSocketError::OriginNotAllowed);
    }
    let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
    if let Some(accept) = &handshake.accept {
        let value = HeaderValue::from_str(accept)
            .map_err(|_| WebSocketError::BadHandshake("Sec-WebSocket-Key"))?;
        headers.push((SEC_WEBSOCKET_ACCEPT, value));
    }
    let mut chosen = None;
    if let Some(p) = subprotocol {
        if handshake.protocols.iter().any(|o| o == p) {
            let value = HeaderValue::from_str(p)
                .map_err(|_| WebSocketError::BadHandshake("subprotocol"))?;
            headers.push((SEC_WEBSOCKET_PROTOCOL, value));
            chosen = Some(p.to_owned());
        } else {
            tracing::debug!(
                protocol = p,
                "WebSocket subprotocol not offered by the client; none chosen"
            );
        }
    }
    let (codec, extension) = Codec::negotiate(&handshake.extensions, &options);
    if let Some(ext) = extension {
        let value = HeaderValue::from_str(&ext)
            .map_err(|_| WebSocketError::BadHandshake("Sec-WebSocket-Extensions"))?;
        headers.push((SEC_WEBSOCKET_EXTENSIONS, value));
    }
    let up = req
        .upgrade_with(HeaderValue::from_static("websocket"), headers)
        .await
        .map_err(WebSocketError::Upgrade)?;
    Ok(WebSocket::new(
        up,
        codec,
        chosen,
        options.keep_alive_interval,
    ))
}

impl Request {
    /// Whether this request asks for a WebSocket: an HTTP/1.1 `GET` with `Upgrade:
    /// websocket` and `Connection: upgrade`, or an HTTP/2 extended CONNECT with
    /// `:protocol websocket`.
    pub fn is_websocket_request(&self) -> bool {
        is_websocket(self)
    }

    /// The subprotocols the client offers (`Sec-WebSocket-Protocol`), in its order.
    pub fn websocket_protocols(&self) -> Vec<String> {
        offered_protocols(self)
    }

    /// Accept a WebSocket handshake, choosing `subprotocol` (when the client offered
    /// it), and switch to the [`WebSocket`]. A refused handshake says why, and
    /// [`WebSocketError::response`] is the answer to return (`400`, `426`, `403`,
    /// `503`). Accepted sockets count against `max_concurrent_upgraded_connections`.
    pub async fn accept_websocket(
        &mut self,
        subprotocol: Option<&str>,
    ) -> Result<WebSocket, WebSocketError> {
        accept(self, subprotocol).await
    }
}
