//! Opening an HTTP/2 connection: the socket (TCP or unix, as for HTTP/1.1), turned into a
//! poll-style stream by monoio's `poll-io` (tokio's `AsyncRead`/`AsyncWrite`, on the
//! io_uring and epoll drivers alike), TLS over it by tokio-rustls with ALPN `h2` (a
//! server that does not choose `h2` is a clear `tls` failure), byte counting, and the
//! client preface and settings.
//!
//! The client's flow-control windows are large (`WINDOW`, as h2load's defaults) so that
//! bulk responses are never held back by window updates from this side.

use super::count::Counted;
use crate::conn::{ConnectError, Connector};
use crate::ctx::ThreadCtx;
use crate::tls::{self, Session};
use bytes::Bytes;
use monoio::io::IntoPollIo;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

/// The stream and connection window this client advertises: 2^30 - 1 bytes (h2load's
/// `-w 30 -W 30`). h2's default, 64 KiB, would throttle bulk responses.
pub const WINDOW: u32 = (1 << 30) - 1;

/// Streams opened before the server's SETTINGS say how many it allows (RFC 9113
/// recommends that a server allow at least 100).
const INITIAL_MAX_STREAMS: usize = 100;

/// The sending half of a connection, cloned by each of its streams.
pub type Sender = h2::client::SendRequest<Bytes>;

/// The connection half of a connection: it must be polled for anything to move.
pub type Driver<S> = h2::client::Connection<Counted<S>, Bytes>;

/// Opens the byte stream HTTP/2 runs over.
pub trait Dial: 'static {
    /// The stream.
    type Io: AsyncRead + AsyncWrite + Unpin + 'static;
    /// Whether it is TLS (`https`), or h2c with prior knowledge.
    const TLS: bool;
    /// Open one, TLS handshake included, within `timeout`; with the TLS session.
    fn dial(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<(Self::Io, Option<Session>), ConnectError>>;
}

/// Connect with `c` and turn the socket into a poll-style stream.
async fn poll_stream<C>(
    c: &C,
    timeout: Duration,
) -> Result<<C::Stream as IntoPollIo>::PollIo, ConnectError>
where
    C: Connector,
    C::Stream: IntoPollIo,
{
    let s = c.connect(timeout).await?;
    s.try_into_poll_io().map_err(|_| ConnectError::Connect)
}

/// Cleartext HTTP/2 (h2c) with prior knowledge over the connections `C` opens.
#[derive(Debug, Clone)]
pub struct Plain<C>(pub C);

impl<C> Dial for Plain<C>
where
    C: Connector,
    C::Stream: IntoPollIo,
    <C::Stream as IntoPollIo>::PollIo: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Io = <C::Stream as IntoPollIo>::PollIo;
    const TLS: bool = false;

    async fn dial(&self, timeout: Duration) -> Result<(Self::Io, Option<Session>), ConnectError> {
        Ok((poll_stream(&self.0, timeout).await?, None))
    }
}

/// HTTP/2 over TLS (ALPN `h2`) over the connections `C` opens.
#[derive(Clone)]
pub struct Tls<C> {
    inner: C,
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl<C> Tls<C> {
    /// TLS with `config` (whose ALPN offers `h2`), checking the certificate for `name`.
    pub fn new(inner: C, config: Arc<ClientConfig>, name: ServerName<'static>) -> Tls<C> {
        Tls {
            inner,
            connector: tokio_rustls::TlsConnector::from(config),
            name,
        }
    }
}

impl<C> Dial for Tls<C>
where
    C: Connector,
    C::Stream: IntoPollIo,
    <C::Stream as IntoPollIo>::PollIo: AsyncRead + AsyncWrite + Unpin + 'static,
{
    type Io = tokio_rustls::client::TlsStream<<C::Stream as IntoPollIo>::PollIo>;
    const TLS: bool = true;

    async fn dial(&self, timeout: Duration) -> Result<(Self::Io, Option<Session>), ConnectError> {
        let deadline = monoio::time::Instant::from_std(Instant::now() + timeout);
        let io = poll_stream(&self.inner, timeout).await?;
        let handshake = self.connector.connect(self.name.clone(), io);
        let stream = match monoio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(handshake_error(&e)),
            Err(_) => {
                return Err(ConnectError::Tls(
                    "the handshake did not finish within --timeout".into(),
                ))
            }
        };
        let conn = stream.get_ref().1;
        if conn.alpn_protocol() != Some(b"h2") {
            let chose = conn.alpn_protocol().map_or("none".to_string(), |p| {
                String::from_utf8_lossy(p).into_owned()
            });
            return Err(ConnectError::Tls(format!(
                "the server did not choose h2 by ALPN (it chose {chose}): it does not speak \
                 HTTP/2 over TLS there (leave out --h2 for HTTP/1.1)"
            )));
        }
        let session = tls::session(conn);
        Ok((stream, Some(session)))
    }
}

/// Why a handshake tokio-rustls ran failed, for the report.
fn handshake_error(e: &std::io::Error) -> ConnectError {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(AlertDescription::NoApplicationProtocol)) => {
            ConnectError::Tls(
                "the server offers no h2 by ALPN (alert no_application_protocol): it does not \
                 speak HTTP/2 over TLS there (leave out --h2 for HTTP/1.1)"
                    .into(),
            )
        }
        Some(tls_err) => tls::tls_error(tls_err),
        None if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            ConnectError::Tls("the server closed the connection during the handshake".into())
        }
        None => ConnectError::Tls(format!("the handshake failed: {e}")),
    }
}

/// Open a connection with `dial` and start HTTP/2 on it (preface and settings sent),
/// all within `timeout`.
pub async fn open<D: Dial>(
    ctx: &Rc<ThreadCtx>,
    dial: &D,
    timeout: Duration,
) -> Result<(Sender, Driver<D::Io>, Option<Session>), ConnectError> {
    let deadline = monoio::time::Instant::from_std(Instant::now() + timeout);
    let (io, session) = dial.dial(timeout).await?;
    let io = Counted::new(io, ctx.clone());
    let handshake = h2::client::Builder::new()
        .initial_window_size(WINDOW)
        .initial_connection_window_size(WINDOW)
        .initial_max_send_streams(INITIAL_MAX_STREAMS)
        .enable_push(false)
        .handshake::<_, Bytes>(io);
    match monoio::time::timeout_at(deadline, handshake).await {
        Ok(Ok((sender, driver))) => Ok((sender, driver, session)),
        Ok(Err(e)) => {
            ctx.h2_failed(format!("the HTTP/2 handshake failed: {e}"));
            Err(ConnectError::Connect)
        }
        Err(_) => Err(ConnectError::Connect),
    }
}
