//! Opening an HTTP/2 connection: the socket (TCP or unix, as for HTTP/1.1), the TLS
//! handshake with ALPN `h2` for `https` (the HTTP/1.1 handshake of [`crate::tls`],
//! bounded by `--timeout`; a server that does not choose `h2` is a clear `tls`
//! failure), then the socket split into owned read and write halves so that a read is
//! always pending while batches are written. After the handshake TLS is driven by hand
//! ([`super::wire::Wire`]).

use crate::conn::{ConnectError, Connector};
use crate::tls::{Session, TlsConnector};
use monoio::io::{AsyncReadRent, AsyncWriteRent, OwnedReadHalf, OwnedWriteHalf, Split, Splitable};
use rustls::ClientConnection;
use std::future::Future;
use std::time::Duration;

/// An open connection, before HTTP/2 starts.
pub struct Opened<S: AsyncWriteRent> {
    /// The socket's read half.
    pub reader: OwnedReadHalf<S>,
    /// The socket's write half.
    pub writer: OwnedWriteHalf<S>,
    /// TLS: the connection after its handshake, and ciphertext already read.
    pub tls: Option<(ClientConnection, Vec<u8>)>,
    /// What the TLS handshake settled.
    pub session: Option<Session>,
}

/// Opens the connections HTTP/2 runs over.
pub trait Dial: 'static {
    /// The socket.
    type Socket: AsyncReadRent + AsyncWriteRent + Split + 'static;
    /// Whether it is TLS (`https`), or h2c with prior knowledge.
    const TLS: bool;
    /// Open one, TLS handshake included, within `timeout`.
    fn dial(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<Opened<Self::Socket>, ConnectError>>;
}

/// Cleartext HTTP/2 (h2c) with prior knowledge over the connections `C` opens.
#[derive(Debug, Clone)]
pub struct Plain<C>(pub C);

impl<C> Dial for Plain<C>
where
    C: Connector,
    C::Stream: AsyncReadRent + AsyncWriteRent + Split,
{
    type Socket = C::Stream;
    const TLS: bool = false;

    async fn dial(&self, timeout: Duration) -> Result<Opened<C::Stream>, ConnectError> {
        let (reader, writer) = self.0.connect(timeout).await?.into_split();
        Ok(Opened {
            reader,
            writer,
            tls: None,
            session: None,
        })
    }
}

/// HTTP/2 over TLS (ALPN `h2`) over the connections `C` opens.
#[derive(Debug, Clone)]
pub struct Tls<C>(pub TlsConnector<C>);

impl<C> Dial for Tls<C>
where
    C: Connector,
    C::Stream: AsyncReadRent + AsyncWriteRent + Split,
{
    type Socket = C::Stream;
    const TLS: bool = true;

    async fn dial(&self, timeout: Duration) -> Result<Opened<C::Stream>, ConnectError> {
        let stream = self.0.connect(timeout).await?;
        let session = crate::conn::Io::tls_session(&stream);
        let alpn = session.as_ref().and_then(|s| s.alpn.clone());
        if alpn.as_deref() != Some("h2") {
            let chose = alpn.unwrap_or_else(|| "none".into());
            return Err(ConnectError::Tls(format!(
                "the server did not choose h2 by ALPN (it chose {chose}): it does not speak \
                 HTTP/2 over TLS there (leave out --h2 for HTTP/1.1)"
            )));
        }
        let (socket, conn, read) = stream.into_parts();
        let (reader, writer) = socket.into_split();
        Ok(Opened {
            reader,
            writer,
            tls: Some((conn, read)),
            session,
        })
    }
}
