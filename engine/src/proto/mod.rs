//! Protocols, and the choice of one for each new connection.
//!
//! A connection first picks its protocol ([`serve`]): today always HTTP/1.1 ([`h1`]). This
//! is the one place that grows when more arrive: ALPN `h2` and the cleartext h2c preface
//! (the HTTP/2 issue), a PROXY protocol header before either (the deployment issue).

pub(crate) mod h1;

use std::rc::Rc;

use bytes::BytesMut;

use crate::handler::Handler;
use crate::registry::ConnId;
use crate::shard::Shard;
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
