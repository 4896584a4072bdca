//! Sans-IO HTTP/1.1 (RFC 9112) and WebSocket (RFC 6455, RFC 7692) for Peregrine.
//!
//! Bytes in, events out: nothing in this crate touches a socket, a runtime or a clock
//! (the caller passes the time to [`date`]). The engine owns all I/O.
//!
//! - [`h1::parse`]: the request-head push parser (`Complete(n)` / `Partial`), headers as
//!   index ranges into the caller's buffer, rescanning only new bytes after a partial read.
//! - [`h1::decode`]: Content-Length and chunked body decoders.
//! - [`h1::framing`]: the response framing policy (body delimiting, `Content-Length`,
//!   `Transfer-Encoding`, `Connection`, keep-alive), a pure function of the response.
//! - [`h1::encode`]: response head writer and chunked encoder.
//! - [`h1::response`]: the response-head parser (client side, used by the load generator).
//! - [`h1::error`]: parse errors that map straight to the status code sent on the wire.
//! - [`proxy`]: the PROXY protocol header (versions 1 and 2) a proxy sends before the
//!   client's bytes: push parser, source and destination addresses.
//! - [`ws`]: WebSocket, server role: the opening handshake's checks, permessage-deflate,
//!   a push decoder of client frames and an encoder of server frames.
//! - [`date`]: the IMF-fixdate formatter behind the cached `Date` header.
#![deny(missing_docs)]
// No `unsafe` but the SSE2 byte classes in `h1::sse2` (allowed there alone).
#![deny(unsafe_code)]

pub mod date;
pub mod h1;
pub mod proxy;
pub mod ws;
