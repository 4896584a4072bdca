//! Protocols, and the choice of one for each new connection.
//!
//! A connection first settles its transport (a TLS handshake on `https` listeners), then
//! picks its protocol ([`serve`]): today always HTTP/1.1 ([`h1`]). This is the one place
//! that grows when more arrive: ALPN `h2` and the cleartext h2c preface (the HTTP/2
//! issue), a PROXY protocol header before either (the deployment issue).

pub(crate) mod h1;

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

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.0 and HTTP/1.1.
    Http1,
}

/// Decide the protocol of a new connection. Bytes read while deciding are handed to the
/// protocol in `rbuf` (none today: HTTP/1 is the only choice).
async fn detect<T: Transport>(_stream: &mut T, _rbuf: &mut BytesMut) -> Protocol {
    Protocol::Http1
}

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

/// Serve one connection in whatever protocol it speaks, until it closes or is upgraded.
pub(crate) async fn serve<H: Handler, T: Transport>(
    shard: Rc<Shard<H>>,
    mut stream: T,
    id: ConnId,
) -> Served {
    let mut rbuf = BytesMut::new();
    match detect(&mut stream, &mut rbuf).await {
        Protocol::Http1 => h1::serve(shard, stream, rbuf, id).await,
    }
}
