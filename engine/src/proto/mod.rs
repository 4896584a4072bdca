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
/// The connection's task holds only what an idle connection needs: the transport,
/// parked between requests ([`h1::Parked`]). Each time it has work, the HTTP/1
/// connection is built again in an allocation of its own ([`h1::Conn::resume`]) and
/// freed when it parks once more, so the largest state a request ever needs is not held
/// through every idle wait. The HTTP/2 paths are boxed for the same reason (inline,
/// their ~2 KB sat in every connection's task). Not an `async fn`, which would keep its
/// arguments beside the state they move into.
///
/// Measured at 10,000 idle keep-alive connections (`../shared/peers/idle_mem.py`): RSS
/// per connection 7,778 bytes with everything inline, 1,452 with the HTTP/2 paths boxed
/// and no idle exchange, and see ARCHITECTURE.md (memory) for parked connections.
pub(crate) fn serve<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    stream: T,
    id: ConnId,
) -> impl std::future::Future<Output = Served> {
    let mut next = if shard.http.protocols.http1() {
        Next::Http1(h1::Parked::fresh(stream))
    } else {
        Next::Http2Only(Box::pin(serve_http2_only(shard.clone(), stream, id)))
    };
    async move {
        // In place: the task holds one `Parked`, never a copy beside it.
        let parked = match &mut next {
            Next::Http1(parked) => parked,
            Next::Http2Only(http2) => return http2.as_mut().await,
        };
        loop {
            let Some(conn) = h1::Conn::resume(shard.clone(), parked, id) else {
                return Served::Closed;
            };
            // Scoped so that no `Exit` is kept in the task's state across the waits below.
            let http2 = {
                let mut active = Box::pin(conn.into_serve());
                match active.as_mut().await {
                    h1::Exit::Served(served) => return served,
                    h1::Exit::Http2 { stream, read } => Some(Box::pin(h2::serve_transport(
                        shard.clone(),
                        stream,
                        read,
                        id,
                    ))),
                    h1::Exit::Parked(again) => {
                        *parked = again;
                        None
                    }
                }
            };
            if let Some(mut http2) = http2 {
                return http2.as_mut().await;
            }
            parked.wait(&shard, id).await;
        }
    }
}

/// Where a connection's task goes on from (see [`serve`]).
enum Next<T, F> {
    /// HTTP/1 (and h2c by prior knowledge): parked, or about to start.
    Http1(h1::Parked<T>),
    /// A cleartext endpoint that serves only HTTP/2.
    Http2Only(std::pin::Pin<Box<F>>),
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
