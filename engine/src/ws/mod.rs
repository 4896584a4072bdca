//! WebSockets for handlers: RFC 6455, with permessage-deflate (RFC 7692), over an
//! HTTP/1.1 upgrade or an HTTP/2 extended CONNECT (RFC 8441) alike.
//!
//! [`Request::accept_websocket`](crate::Request::accept_websocket) checks the handshake
//! (ASP.NET Core's rules and answers: `400`, `426` with `Sec-WebSocket-Version: 13`,
//! `403` for a foreign `Origin`, `503` over the upgraded-connection limit), switches
//! protocols through the request's opaque upgrade, and returns a [`WebSocket`]. The
//! frames are the sans-IO codec's (`peregrine_protocol::ws`); this module adds the I/O,
//! the close handshake, keep-alive pings and graceful shutdown (1001).

mod accept;
mod codec;
mod socket;

pub use socket::WebSocket;

use std::fmt;
use std::io;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

use crate::request::UpgradeError;
use crate::response::Response;

/// A WebSocket message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes; the peer answers with a pong).
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code (1000 normal, 1001 going away, ...).
    pub code: u16,
    /// The reason, as sent.
    pub reason: String,
}

/// Why a WebSocket could not be accepted, or failed afterwards.
#[derive(Debug)]
#[non_exhaustive]
pub enum WebSocketError {
    /// Not a WebSocket handshake (answered `400`).
    NotWebSocket,
    /// A malformed handshake: which part (answered `400`).
    BadHandshake(&'static str),
    /// A `Sec-WebSocket-Version` other than 13 (answered `426` with
    /// `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// An `Origin` not in the allowed list (answered `403`).
    OriginNotAllowed,
    /// The switch failed (over the upgraded-connection limit: `503`).
    Upgrade(UpgradeError),
    /// The client broke the protocol; the socket was closed with this code (1002,
    /// 1007, 1009).
    Protocol(u16),
    /// A message the codec cannot send (a control frame over 125 bytes).
    InvalidMessage(&'static str),
    /// The socket is closed (the close handshake happened).
    Closed,
    /// The stream failed.
    Io(io::Error),
}

impl fmt::Display for WebSocketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketError::NotWebSocket => f.write_str("not a WebSocket handshake"),
            WebSocketError::BadHandshake(what) => write!(f, "bad WebSocket handshake: {what}"),
            WebSocketError::UnsupportedVersion => {
                f.write_str("unsupported WebSocket version (13 is supported)")
            }
            WebSocketError::OriginNotAllowed => f.write_str("WebSocket origin not allowed"),
            WebSocketError::Upgrade(e) => write!(f, "WebSocket upgrade failed: {e}"),
            WebSocketError::Protocol(code) => write!(f, "WebSocket protocol error (closed {code})"),
            WebSocketError::InvalidMessage(what) => write!(f, "cannot send: {what}"),
            WebSocketError::Closed => f.write_str("the WebSocket is closed"),
            WebSocketError::Io(e) => write!(f, "WebSocket I/O: {e}"),
        }
    }
}

impl std::error::Error for WebSocketError {}

impl WebSocketError {
    /// The HTTP answer to a refused handshake (ASP.NET Core's), for the handler to
    /// return. Errors after the switch have no HTTP answer: an empty `500`.
    pub fn response(&self) -> Response {
        match self {
            WebSocketError::NotWebSocket | WebSocketError::BadHandshake(_) => {
                Response::with_status(StatusCode::BAD_REQUEST)
            }
            WebSocketError::UnsupportedVersion => {
                Response::with_status(StatusCode::UPGRADE_REQUIRED).header(
                    http::header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static("13"),
                )
            }
            WebSocketError::OriginNotAllowed => Response::with_status(StatusCode::FORBIDDEN),
            WebSocketError::Upgrade(UpgradeError::LimitReached) => {
                Response::with_status(StatusCode::SERVICE_UNAVAILABLE)
            }
            WebSocketError::Upgrade(_) => Response::with_status(StatusCode::BAD_REQUEST),
            _ => Response::with_status(StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}
