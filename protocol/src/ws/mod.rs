//! WebSocket, server role: RFC 6455 with permessage-deflate (RFC 7692), sans-IO.
//!
//! The same codec serves an HTTP/1.1 upgraded stream and an HTTP/2 extended-CONNECT
//! stream (RFC 8441): only the opening handshake differs, and [`handshake`] checks both.
//! Nothing here reads a socket: the engine reads into a `BytesMut`, hands it to
//! [`Decoder::decode`] and writes what [`Encoder`] puts into its output buffer.
//!
//! - [`handshake`]: the opening request's checks (→ `400` / `426`), `Sec-WebSocket-Accept`,
//!   the offered subprotocols.
//! - [`deflate`]: permessage-deflate offers → the agreed parameters and the response
//!   header; the per-message compressor and decompressor.
//! - [`frame`]: frame header decoding (push style) and encoding.
//! - [`decoder`]: client frames → messages, with every rule of RFC 6455 §5 checked and a
//!   close code for each failure.
//! - [`encoder`]: messages, pings, pongs and closes → server frames.
//! - [`mask`]: the XOR masking of client payloads, a word at a time.
//! - [`close`]: close codes and their validity on the wire.

pub mod close;
pub mod decoder;
pub mod deflate;
pub mod encoder;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod mask;
mod utf8;

pub use decoder::{Decoder, Message};
pub use deflate::{DeflateConfig, DeflateParams};
pub use encoder::Encoder;
pub use error::DecodeError;
pub use frame::{FrameHeader, OpCode};
pub use handshake::{accept_key, Handshake, HandshakeError, UpgradeRequest};
