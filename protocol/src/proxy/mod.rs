//! The PROXY protocol (HAProxy's specification, versions 1 and 2), receiver side, sans-IO.
//!
//! A proxy in front of the server (HAProxy, nginx's `proxy_protocol on`, a cloud load
//! balancer) sends one header before the client's bytes, saying whom it accepted the
//! connection from. [`parse`] is a push parser over the bytes received so far:
//! [`Status::Partial`] until the header is complete, then [`Status::Complete`] with the
//! number of bytes it took and what it said; everything after those bytes is the client's
//! (a TLS ClientHello, an HTTP request, the HTTP/2 preface). Anything that is not a valid
//! header is a [`ProxyError`], decided as early as the bytes allow: plain HTTP fails on
//! its first byte, an oversized version 2 header on its sixteenth.
//!
//! - [`v1`]: the text form, `PROXY TCP4|TCP6|UNKNOWN ...\r\n`, at most 107 bytes.
//! - [`v2`]: the binary form: a 12-byte signature, version and command, family and
//!   transport, a length, the addresses, then TLVs (checked for shape and skipped).
//! - [`error`]: what was wrong, for the connection's debug log.
//!
//! The outcome is a [`Header`]: its [`Addresses`] when the proxy forwarded a stream
//! connection it knows the endpoints of; `None` for `UNKNOWN`, the `LOCAL` command, the
//! `UNSPEC` family and the datagram transports, in which cases the specification says to
//! keep the connection's real endpoints.

pub mod error;
#[cfg(test)]
mod tests;
pub mod v1;
pub mod v2;

use std::net::SocketAddr;

pub use error::ProxyError;

/// What a complete header said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The version of the protocol it was written in.
    pub version: Version,
    /// `Proxy` for a relayed connection (version 1 always), `Local` for one the proxy made
    /// itself (health checks).
    pub command: Command,
    /// The endpoints of the client's connection to the proxy, when the header carries
    /// usable ones; `None` means "keep the connection's real addresses".
    pub addresses: Option<Addresses>,
}

/// The two versions of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The human-readable line.
    V1,
    /// The binary header.
    V2,
}

/// What the proxy says the connection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Relayed on behalf of a client (the addresses say whom).
    Proxy,
    /// Made by the proxy itself (version 2 only): the real endpoints stand.
    Local,
}

/// The endpoints a header carries: the source is the client, the destination the address
/// it connected to (on the proxy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addresses {
    /// TCP over IPv4 or IPv6.
    Ip {
        /// The client's address and port.
        source: SocketAddr,
        /// The address and port the client connected to.
        destination: SocketAddr,
    },
    /// A unix stream socket (version 2): the paths' bytes, up to their first NUL (empty
    /// for an unnamed socket).
    Unix {
        /// The client's socket path.
        source: Vec<u8>,
        /// The socket path the client connected to.
        destination: Vec<u8>,
    },
}

/// Outcome of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The bytes so far are a valid beginning: read more and call again with all of them.
    Partial,
    /// A whole header: it took the first `usize` bytes; the rest belong to the client.
    Complete(usize, Header),
}

/// Bounds on what a header may occupy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest version 2 header, its 16 fixed bytes included (the addresses and TLVs may
    /// take up to 65,535 bytes on the wire; nothing a receiver needs comes near that).
    /// Version 1 is bounded by the specification: 107 bytes.
    pub max_v2_size: usize,
}

impl Default for Limits {
    /// 4096 bytes: room for any address family and the TLVs load balancers send (AWS,
    /// Azure and GCP identifiers, HAProxy's TLS details).
    fn default() -> Self {
        Limits { max_v2_size: 4096 }
    }
}

/// Parse the header at the start of `buf` (every byte received so far). The outcome
/// never changes once it is not [`Status::Partial`]: more bytes behind a complete header
/// or an error decide nothing.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Status, ProxyError> {
    match buf.first() {
        None => Ok(Status::Partial),
        Some(&b) if b == v1::PREFIX[0] => v1::parse(buf),
        Some(&b) if b == v2::SIGNATURE[0] => v2::parse(buf, limits),
        Some(_) => Err(ProxyError::Missing),
    }
}
