//! WebSocket echo load (`--ws`, or a `ws://` / `wss://` URL): each connection does an
//! HTTP/1.1 upgrade handshake to the URL's path, then sends masked binary (or text)
//! messages of `--ws-size` bytes and waits for each to come back, one at a time or
//! `--ws-inflight` at once; at the end it closes with code 1000. Each echo is counted as
//! a response, its latency from sending the message to reading the last byte of its
//! echo.
//!
//! - [`handshake`]: the upgrade request and the check of the `101` answer.
//! - [`frames`]: the client's masked frames (message batch, close, pong).
//! - [`reader`]: server frames → echoed messages, pings and closes (sans-IO).
//! - [`conn`]: one connection's loop and its exact accounting.
//!
//! Framing is our own, on `peregrine-protocol`'s frame header and masking code, not a
//! WebSocket client crate: the generator needs a handful of frame kinds, no
//! compression, and no per-message allocation or copy.

pub mod conn;
pub mod frames;
pub mod handshake;
pub mod reader;

pub use conn::run;

/// What every `--ws` connection does, fixed before the run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The upgrade request.
    pub upgrade: handshake::Upgrade,
    /// Payload bytes of each message (`--ws-size`).
    pub size: usize,
    /// Text messages (`--ws-text`) instead of binary.
    pub text: bool,
    /// Messages in flight per connection (`--ws-inflight`).
    pub inflight: usize,
}
