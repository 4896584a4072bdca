//! The opening handshake, server side: RFC 6455 §4.2 over HTTP/1.1 and RFC 8441 over
//! HTTP/2 (extended CONNECT with `:protocol websocket`).
//!
//! Feed the request's headers one by one to an [`UpgradeRequest`] (names are matched
//! case-insensitively, repeated headers are combined as comma lists), then call
//! [`UpgradeRequest::check_h1`] or [`UpgradeRequest::check_h2`]:
//!
//! ```
//! use peregrine_protocol::ws::handshake::{accept_key, UpgradeRequest};
//!
//! let mut req = UpgradeRequest::new();
//! req.header(b"Upgrade", b"websocket");
//! req.header(b"Connection", b"keep-alive, Upgrade");
//! req.header(b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ==");
//! req.header(b"Sec-WebSocket-Version", b"13");
//! req.header(b"Sec-WebSocket-Protocol", b"chat, superchat");
//! let hs = req.check_h1(b"GET").unwrap();
//! assert_eq!(hs.accept.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
//! assert_eq!(hs.protocols, ["chat", "superchat"]);
//! ```
//!
//! The answer is the engine's to write: `101 Switching Protocols` with `Upgrade:
//! websocket`, `Connection: Upgrade` and `Sec-WebSocket-Accept` (HTTP/1.1), or `200` on
//! the stream (HTTP/2); plus `Sec-WebSocket-Protocol` if the handler chose one of
//! [`Handshake::protocols`] and `Sec-WebSocket-Extensions` from
//! [`deflate::negotiate`](super::deflate::negotiate) over [`Handshake::extensions`].

use crate::h1::tokens::{elements, is_tchar, trim_ows};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::fmt;

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version (RFC 6455 §4.4), as sent in `Sec-WebSocket-Version`.
pub const VERSION: &str = "13";

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)) (§1.3).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID);
    STANDARD.encode(sha.finalize())
}

/// Why a request is not an acceptable WebSocket opening handshake, and the HTTP answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeError {
    /// HTTP/1.1: the method is not GET; HTTP/2: not CONNECT. 400.
    Method,
    /// HTTP/1.1: no `Upgrade: websocket` or no `upgrade` in `Connection`; HTTP/2: no
    /// `:protocol websocket`. 400 (if the engine routes it as a WebSocket request at all:
    /// see [`UpgradeRequest::is_websocket`]).
    NotUpgrade,
    /// `Sec-WebSocket-Key` missing, repeated, or not the base64 of exactly 16 bytes. 400.
    BadKey,
    /// `Sec-WebSocket-Version` missing or repeated. 400.
    MissingVersion,
    /// A version other than 13: 426 with `Sec-WebSocket-Version: 13` (§4.2.2).
    UnsupportedVersion,
    /// `Sec-WebSocket-Protocol` holds something that is not a token. 400.
    BadProtocol,
}

impl HandshakeError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// Headers the answer must carry besides the usual ones (`Sec-WebSocket-Version: 13`
    /// for a 426).
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            HandshakeError::UnsupportedVersion => &[("Sec-WebSocket-Version", VERSION)],
            _ => &[],
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HandshakeError::Method => "WebSocket handshake with the wrong method",
            HandshakeError::NotUpgrade => "not a WebSocket upgrade",
            HandshakeError::BadKey => "missing or invalid Sec-WebSocket-Key",
            HandshakeError::MissingVersion => "missing Sec-WebSocket-Version",
            HandshakeError::UnsupportedVersion => "unsupported Sec-WebSocket-Version",
            HandshakeError::BadProtocol => "invalid Sec-WebSocket-Protocol",
        })
    }
}

impl std::error::Error for HandshakeError {}

/// An accepted opening handshake: what the response needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// HTTP/1.1: the `Sec-WebSocket-Accept` value to send. HTTP/2: `None` (RFC 8441 §5
    /// uses no key).
    pub accept: Option<String>,
    /// The subprotocols offered in `Sec-WebSocket-Protocol`, in the client's order of
    /// preference. The handler may pick one and echo it; none is chosen by default.
    pub protocols: Vec<String>,
    /// The `Sec-WebSocket-Extensions` values, joined with `,` (empty when absent), for
    /// [`deflate::negotiate`](super::deflate::negotiate).
    pub extensions: Vec<u8>,
}

/// Collects the request headers a WebSocket handshake looks at; everything else is
/// ignored. Repeated headers combine (as comma lists, RFC 9110 §5.3), except the key and
/// the version, which must appear once.
#[derive(Debug, Clone, Default)]
pub struct UpgradeRequest {
    upgrade_websocket: bool,
    connection_upgrade: bool,
    key: Option<Vec<u8>>,
    keys: u32,
    version: Option<Vec<u8>>,
    versions: u32,
    protocols: Vec<String>,
    bad_protocol: bool,
    extensions: Vec<u8>,
}

/// Whether the comma list `value` holds `token` (ASCII case-insensitive).
fn list_has(value: &[u8], token: &[u8]) -> bool {
    elements(value).any(|e| e.eq_ignore_ascii_case(token))
}

impl UpgradeRequest {
    /// Nothing seen yet.
    pub fn new() -> UpgradeRequest {
        UpgradeRequest::default()
    }

    /// One header line (name as sent, value with its whitespace trimmed or not).
    pub fn header(&mut self, name: &[u8], value: &[u8]) {
        let value = trim_ows(value);
        if name.eq_ignore_ascii_case(b"upgrade") {
            self.upgrade_websocket |= list_has(value, b"websocket");
        } else if name.eq_ignore_ascii_case(b"connection") {
            self.connection_upgrade |= list_has(value, b"upgrade");
        } else if name.eq_ignore_ascii_case(b"sec-websocket-key") {
            self.keys += 1;
            self.key = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"sec-websocket-version") {
            self.versions += 1;
            self.version = Some(value.to_vec());
        } else if name.eq_ignore_ascii_case(b"sec-websocket-protocol") {
            for p in elements(value) {
                match std::str::from_utf8(p) {
                    Ok(s) if p.iter().all(|&b| is_tchar(b)) => self.protocols.push(s.to_owned()),
                    _ => self.bad_protocol = true,
                }
            }
        } else if name.eq_ignore_ascii_case(b"sec-websocket-extensions") {
            if !self.extensions.is_empty() {
                self.extensions.push(b',');
            }
            self.extensions.extend_from_slice(value);
        }
    }

    /// HTTP/1.1: `Upgrade` lists `websocket` and `Connection` lists `upgrade` — the
    /// request asks for a WebSocket (valid or not). An engine may serve other requests as
    /// ordinary ones.
    pub fn is_websocket(&self) -> bool {
        self.upgrade_websocket && self.connection_upgrade
    }

    /// Check an HTTP/1.1 request with method `method` (RFC 6455 §4.2.1).
    pub fn check_h1(self, method: &[u8]) -> Result<Handshake, HandshakeError> {
        if method != b"GET" {
            return Err(HandshakeError::Method);
        }
        if !self.is_websocket() {
            return Err(HandshakeError::NotUpgrade);
        }
        let key = match (&self.key, self.keys) {
            (Some(key), 1) if valid_key(key) => accept_key(key),
            _ => return Err(HandshakeError::BadKey),
        };
        self.finish(Some(key))
    }

    /// Check an HTTP/2 extended CONNECT (RFC 8441 §4–5): `method` is `:method`,
    /// `protocol` is `:protocol` (`None` when absent). No key is used.
    pub fn check_h2(
        self,
        method: &[u8],
        protocol: Option<&[u8]>,
    ) -> Result<Handshake, HandshakeError> {
        if method != b"CONNECT" {
            return Err(HandshakeError::Method);
        }
        if !protocol.is_some_and(|p| p.eq_ignore_ascii_case(b"websocket")) {
            return Err(HandshakeError::NotUpgrade);
        }
        self.finish(None)
    }

    /// The checks both versions share: version, subprotocols.
    fn finish(self, accept: Option<String>) -> Result<Handshake, HandshakeError> {
        match (&self.version, self.versions) {
            (Some(v), 1) if v == VERSION.as_bytes() => {}
            (Some(_), 1) => return Err(HandshakeError::UnsupportedVersion),
            _ => return Err(HandshakeError::MissingVersion),
        }
        if self.bad_protocol {
            return Err(HandshakeError::BadProtocol);
        }
        Ok(Handshake {
            accept,
            protocols: self.protocols,
            extensions: self.extensions,
        })
    }
}

/// A `Sec-WebSocket-Key`: the (canonical, padded) base64 of exactly 16 bytes (§4.1).
fn valid_key(key: &[u8]) -> bool {
    let mut out = [0u8; 18];
    key.len() == 24 && matches!(STANDARD.decode_slice(key, &mut out), Ok(16))
}

#[cfg(test)]
mod tests;
