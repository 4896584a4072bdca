//! The PROXY protocol header (`--proxy-protocol`): read before anything else on every
//! application listener, TLS included, then the connection goes on as usual over
//! [`Proxied`], which replays the bytes read past the header (a ClientHello, an HTTP
//! request, the HTTP/2 preface) and reports the header's source address as the client's.
//!
//! The parsing is sans-IO (`peregrine_protocol::proxy`); this module reads. The wait is
//! the connection's first `Head` phase in the registry, so `--request-headers-timeout`
//! bounds it, enforced by the worker's sweep like any other timeout: a silent client
//! holds its own task and a small buffer, and delays nobody. After the header the
//! connection's phases and timeouts are those of any new connection (the TLS handshake
//! timeout, then HTTP's). A graceful shutdown closes connections still waiting for their
//! header at once. A missing, malformed or oversized header closes the connection
//! (counted as `rejected`, the reason in the debug log).

mod replay;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::rc::Rc;

use bytes::BytesMut;
use peregrine_protocol::proxy::{self, Addresses, Header, Limits, Status};

use crate::handler::Handler;
use crate::metrics::CloseReason;
use crate::registry::{ConnId, Kick, Phase};
use crate::shard::Shard;
use crate::transport::{Addr, ConnInfo, Transport};

pub(crate) use replay::Proxied;

/// The first read's buffer: a header (107 bytes at most in version 1, usually under 100
/// in version 2) and what a client sends right behind it. A longer version 2 header grows
/// the buffer; the parser refuses one over its limit as soon as the length is read.
const FIRST_READ: usize = 1024;

/// Read the PROXY header from `stream`: `Some` transport to serve the connection over
/// once it is complete, `None` when the connection was closed (refused, timed out, shut
/// down, or closed by the client); the close is counted.
pub(crate) async fn accept<H: Handler, T: Transport>(
    shard: &Rc<Shard<H>>,
    mut stream: T,
    id: ConnId,
) -> Option<Proxied<T>> {
    shard.registry.set_phase(id, Phase::Head);
    let limits = Limits::default();
    let mut buf = BytesMut::with_capacity(FIRST_READ);
    loop {
        let (res, b) = monoio::select! {
            r = stream.read(buf) => r,
            _ = shard.shutdown.wait() => {
                shard.counters.closed(CloseReason::Shutdown);
                return None;
            }
        };
        buf = b;
        let ended = match res {
            Ok(0) => Some(if buf.is_empty() {
                CloseReason::Normal
            } else {
                CloseReason::Aborted
            }),
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(error = %e, "reading the PROXY protocol header failed");
                Some(CloseReason::Aborted)
            }
        };
        match shard.registry.kicked(id) {
            Some(Kick::HeadersTimeout) => {
                tracing::debug!(
                    "no complete PROXY protocol header within the request headers timeout"
                );
                shard.counters.closed(CloseReason::HeadersTimeout);
                return None;
            }
            Some(Kick::Shutdown) => {
                shard.counters.closed(CloseReason::Shutdown);
                return None;
            }
            _ => {}
        }
        if let Some(reason) = ended {
            shard.counters.closed(reason);
            return None;
        }
        match proxy::parse(&buf, &limits) {
            Ok(Status::Partial) => {}
            Ok(Status::Complete(n, header)) => {
                let rest = buf.split_off(n);
                let info = info(stream.info(), &header);
                tracing::trace!(?header, "PROXY protocol header");
                return Some(Proxied::new(stream, rest, info));
            }
            Err(e) => {
                tracing::debug!(
                    peer = %stream.info().remote_addr,
                    error = %e,
                    "PROXY protocol header refused; closing the connection"
                );
                shard.counters.closed(CloseReason::Rejected);
                return None;
            }
        }
    }
}

/// The connection as the application sees it: the header's source is the client; the
/// local address stays the server's own (the header's destination is the proxy's).
/// Without addresses (`LOCAL`, `UNKNOWN`) the real endpoints stand.
fn info(real: &ConnInfo, header: &Header) -> ConnInfo {
    let remote_addr = match &header.addresses {
        Some(Addresses::Ip { source, .. }) => Addr::Ip(*source),
        Some(Addresses::Unix { source, .. }) => {
            Addr::Unix((!source.is_empty()).then(|| PathBuf::from(OsStr::from_bytes(source))))
        }
        None => real.remote_addr.clone(),
    };
    ConnInfo {
        local_addr: real.local_addr.clone(),
        remote_addr,
        scheme: real.scheme,
        tls: real.tls.clone(),
    }
}

#[cfg(test)]
mod tests;
