//! Protocols, and the choice of one for each new connection.
//!
//! A connection first settles its transport (a TLS handshake on `https` listeners), then
//! picks its protocol ([`serve`]):
//! - TLS: ALPN decides; `h2` goes to [`h2`], anything else to [`h1`].
//! - Cleartext with HTTP/1 on: [`h1`] reads the first request; if it is the HTTP/2
//!   preface (prior-knowledge h2c), HTTP/1 hands the connection and the bytes it read to
//!   [`h2`] (no cost to HTTP/1 requests: the check runs only on a head the parser
//!   refused).
//! - Cleartext, HTTP/2 only: [`preface`] reads until the preface is certain.
//!
//! With `--proxy-protocol`, a PROXY protocol header comes before either ([`proxy`]):
//! [`serve_proxied`] reads it, then goes on as above over a transport that replays the
//! bytes that followed it.

pub(crate) mod h1;
pub(crate) mod h2;
mod preface;
mod proxy;

use std::rc::Rc;
use std::sync::Arc;

use bytes::BytesMut;

use crate::handler::Handler;
use crate::metrics::CloseReason;
use crate::registry::{ConnId, Kick, Phase};
use crate::shard::Shard;
use crate::tls::stream::{accept, HandshakeError};
use crate::transport::Transport;

pub(crate) use h1::CatchUnwind;
pub(crate) use h1::Served;

/// Serve one connection on a TLS listener: the handshake, then [`serve`] over TLS.
pub(crate) async fn serve_tls<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    stream: T,
    id: ConnId,
    config: Arc<rustls::ServerConfig>,
) -> Served {
    shard.registry.set_phase(id, Phase::Handshake);
    match accept(stream, config).await {
        Ok(stream) => {
            shard.registry.set_phase(id, Phase::Head);
            let alpn_h2 = stream
                .info()
                .tls
                .as_ref()
                .is_some_and(|t| t.alpn.as_deref() == Some("h2"));
            if alpn_h2 {
                return h2::serve_transport(shard, stream, BytesMut::new(), id).await;
            }
            if !shard.http.protocols.http1() {
                // ALPN offers only `h2` here; a client that chose nothing cannot speak
                // HTTP/2 over TLS (RFC 9113 §3.2). Kestrel logs and closes the same way.
                tracing::debug!("HTTP/2 over TLS was not negotiated on an HTTP/2-only endpoint");
                shard.counters.closed(CloseReason::Rejected);
                return Served::Closed;
            }
            serve(shard, stream, id).await
        }
        Err(e) => {
            let reason = match (&e, shard.registry.kicked(id)) {
                (_, Some(Kick::HandshakeTimeout)) => CloseReason::TlsHandshakeTimeout,
                (_, Some(Kick::Shutdown)) => CloseReason::Shutdown,
                (HandshakeError::Closed, None) => CloseReason::Normal,
                _ => CloseReason::TlsHandshakeFailed,
            };
            tracing::debug!(error = %e, "TLS handshake failed");
            shard.counters.closed(reason);
            Served::Closed
        }
    }
}

/// Serve one connection that starts with a PROXY protocol header: the header, then TLS
/// (`tls`) or cleartext as its listener says.
pub(crate) async fn serve_proxied<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    stream: T,
    id: ConnId,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Served {
    let Some(stream) = proxy::accept(&shard, stream, id).await else {
        return Served::Closed;
    };
    match tls {
        None => serve(shard, stream, id).await,
        Some(config) => serve_tls(shard, stream, id, config).await,
    }
}

/// Serve one connection in whatever protocol it speaks, until it closes or is upgraded.
///
/// Not an `async fn`, so that the connection's task holds each part once: the HTTP/1
/// connection is built here and the future borrows it while it runs (an `async fn`
/// would keep `stream` and `shard` beside it). The HTTP/2 paths are boxed: inline, their
/// state (about 2 KB) would sit in every connection's task, HTTP/1 ones included
/// (measured: a 6,144-byte task future around a 1,000-byte HTTP/1 one, and 7,778 bytes
/// of RSS per idle keep-alive connection instead of 3,811).
pub(crate) fn serve<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    stream: T,
    id: ConnId,
) -> impl std::future::Future<Output = Served> {
    let mut start = if shard.http.protocols.http1() {
        Ok(h1::Conn::new(shard, stream, BytesMut::new(), id))
    } else {
        Err(Box::pin(serve_http2_only(shard, stream, id)))
    };
    async move {
        match &mut start {
            Ok(conn) => match conn.serve().await {
                h1::Exit::Served(served) => served,
                h1::Exit::Http2 { stream, read } => {
                    let shard = conn.shard().clone();
                    Box::pin(h2::serve_transport(shard, stream, read, id)).await
                }
            },
            Err(http2) => http2.as_mut().await,
        }
    }
}

/// An endpoint that serves only HTTP/2 over cleartext: the preface, then HTTP/2.
async fn serve_http2_only<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    mut stream: T,
    id: ConnId,
) -> Served {
    match preface::expect(&shard, &mut stream, id).await {
        Some(read) => h2::serve_transport(shard, stream, read, id).await,
        None => Served::Closed,
    }
}
