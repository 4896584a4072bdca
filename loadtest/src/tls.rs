//! HTTPS: the client configuration (`--cacert`, `--insecure`, ALPN `http/1.1`, or `h2`
//! with `--h2`) and a TLS stream over any [`Io`] stream, driving a rustls
//! `ClientConnection` by hand with owned buffers (as io_uring needs). (HTTP/2 runs the
//! same handshake, then takes the stream apart to drive rustls over split socket halves:
//! see [`crate::h2::wire`].)
//!
//! - Handshake: once per connection, inside [`Connector::connect`], so it is bounded by
//!   `--timeout` like connecting; a failure is a [`ConnectError::Tls`] saying why (the
//!   report counts it as a `tls` error).
//! - Reads: ciphertext is read into the connection's own buffer, fed to rustls
//!   (`read_tls` + `process_new_packets`), and the plaintext copied from `reader()` into
//!   the spare capacity of the caller's buffer. Ciphertext rustls cannot take yet stays
//!   in the connection's buffer for the next read.
//! - Writes: a batch goes through `writer()`; the records rustls produces are collected
//!   with `write_tls` into a kept vector and leave in one owned write per batch.
//! - Server names: the URL's host (an IP address sends no SNI, as rustls does for
//!   [`ServerName::IpAddress`]); `localhost` for a unix socket.
//!
//! No buffer is allocated per request here; rustls itself still allocates a little per
//! record (its plaintext and record queues).

use crate::conn::{ConnectError, Connector, Io, WriteBuf, MIN_SPARE};
use crate::url::{Endpoint, Target};
use monoio::BufResult;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore};
use serde::Serialize;
use std::io::{self, BufRead, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Capacity of a connection's ciphertext buffer: one full TLS record (16 KiB of
/// plaintext plus its header and the largest expansion rustls accepts).
const CIPHER_BUF: usize = 16 * 1024 + 2048;
/// Capacity kept for outgoing records between batches (rustls hands over at most 64 KiB
/// of records at a time by default); a larger buffer is released.
const KEEP_OUTGOING: usize = 128 * 1024;

/// How the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verify {
    /// Against the CA certificates of `--cacert`.
    #[serde(rename = "cacert")]
    CaFile,
    /// Not at all (`--insecure`); handshake signatures still are.
    #[serde(rename = "insecure")]
    Insecure,
    /// Against no CA at all: every handshake fails (neither flag was given).
    #[serde(rename = "none")]
    NoRoots,
}

impl Verify {
    /// How the report says it.
    pub fn describe(self) -> &'static str {
        match self {
            Verify::CaFile => "certificates checked against --cacert",
            Verify::Insecure => "certificate not verified: --insecure",
            Verify::NoRoots => "no CA trusted",
        }
    }

    /// What to tell the user when handshakes fail, if this setting is the likely cause.
    pub fn hint(self) -> Option<&'static str> {
        match self {
            Verify::NoRoots => Some(
                "no CA certificate is trusted: pass --cacert FILE with the CA that issued \
                 the server's certificate, or --insecure to accept any certificate",
            ),
            Verify::CaFile | Verify::Insecure => None,
        }
    }
}

/// Everything a TLS connection needs, fixed before the run.
#[derive(Debug, Clone)]
pub struct TlsPlan {
    /// The client configuration, shared by every connection.
    pub config: Arc<ClientConfig>,
    /// The name the certificate must be valid for (and the SNI when it is a DNS name).
    pub name: ServerName<'static>,
    /// How the certificate is checked.
    pub verify: Verify,
}

impl TlsPlan {
    /// The plan for `target`, checking certificates against the PEM file `cacert`, or
    /// not at all with `insecure`, or (neither given) against no CA at all; offering
    /// ALPN `h2` only when `h2`, else `http/1.1` only.
    pub fn new(
        target: &Target,
        cacert: Option<&Path>,
        insecure: bool,
        h2: bool,
    ) -> Result<TlsPlan, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?;
        let (builder, verify) = match (cacert, insecure) {
            (_, true) => (
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider))),
                Verify::Insecure,
            ),
            (Some(path), false) => (builder.with_root_certificates(roots(path)?), Verify::CaFile),
            (None, false) => (
                builder.with_root_certificates(RootCertStore::empty()),
                Verify::NoRoots,
            ),
        };
        let mut config = builder.with_no_client_auth();
        config.alpn_protocols = if h2 {
            vec![b"h2".to_vec()]
        } else {
            vec![b"http/1.1".to_vec()]
        };
        let host = match &target.endpoint {
            Endpoint::Tcp { host, .. } => host.clone(),
            Endpoint::Unix(_) => "localhost".to_string(),
        };
        let name = ServerName::try_from(host.clone())
            .map_err(|_| format!("`{host}` cannot be used as a TLS server name"))?;
        Ok(TlsPlan {
            config: Arc::new(config),
            name,
            verify,
        })
    }

    /// A connector running the handshake over connections `inner` opens.
    pub fn connector<C: Connector>(&self, inner: C) -> TlsConnector<C> {
        TlsConnector {
            inner,
            config: self.config.clone(),
            name: self.name.clone(),
        }
    }

    /// HTTP/2 over TLS over the connections `inner` opens.
    pub fn h2_dial<C: Connector>(&self, inner: C) -> crate::h2::dial::Tls<C> {
        crate::h2::dial::Tls(self.connector(inner))
    }
}

/// The CA certificates of a PEM file.
fn roots(path: &Path) -> Result<RootCertStore, String> {
    let shown = path.display();
    let pem = std::fs::read(path).map_err(|e| format!("cannot read --cacert {shown}: {e}"))?;
    let mut roots = RootCertStore::empty();
    for (i, cert) in CertificateDer::pem_slice_iter(&pem).enumerate() {
        let cert = cert.map_err(|e| format!("--cacert {shown}: not valid PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("--cacert {shown}: certificate {}: {e}", i + 1))?;
    }
    if roots.is_empty() {
        return Err(format!(
            "--cacert {shown} holds no certificate (expected PEM `BEGIN CERTIFICATE` blocks)"
        ));
    }
    Ok(roots)
}

/// `--insecure`: any certificate, for any name, is accepted; the handshake signatures
/// are still checked with the provider's algorithms (so the server holds the key of the
/// certificate it sent, and the handshake was not tampered with).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// What a handshake settled, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `TLSv1.3` or `TLSv1.2`.
    pub version: &'static str,
    /// The cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: &'static str,
    /// The protocol the server chose by ALPN, if it chose one.
    pub alpn: Option<String>,
}

/// What `conn`'s handshake settled.
pub(crate) fn session(conn: &ClientConnection) -> Session {
    Session {
        version: match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        },
        cipher: conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown"),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    }
}

/// Opens a connection with `inner`, then runs the TLS handshake over it.
#[derive(Debug, Clone)]
pub struct TlsConnector<C> {
    inner: C,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<C: Connector> Connector for TlsConnector<C> {
    type Stream = TlsStream<C::Stream>;

    async fn connect(&self, timeout: Duration) -> Result<Self::Stream, ConnectError> {
        let deadline = Instant::now() + timeout;
        let inner = self.inner.connect(timeout).await?;
        let handshake = handshake(inner, self.config.clone(), self.name.clone());
        let deadline = monoio::time::Instant::from_std(deadline);
        match monoio::time::timeout_at(deadline, handshake).await {
            Ok(res) => res,
            Err(_) => Err(ConnectError::Tls(
                "the handshake did not finish within --timeout".into(),
            )),
        }
    }
}

/// A TLS client connection over `S`.
pub struct TlsStream<S> {
    inner: S,
    conn: ClientConnection,
    /// Ciphertext read; `incoming[taken..]` is what rustls has not taken yet.
    incoming: Vec<u8>,
    taken: usize,
    /// Records to write (empty between writes; its capacity is kept).
    outgoing: Vec<u8>,
    /// The socket reached end-of-stream.
    eof: bool,
    session: Session,
}

/// Run the client side of a handshake over `inner`.
async fn handshake<S: Io>(
    inner: S,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<TlsStream<S>, ConnectError> {
    let offers_h2 = config.alpn_protocols.iter().any(|p| p == b"h2");
    let conn = ClientConnection::new(config, name).map_err(|e| tls_error(&e))?;
    let mut tls = TlsStream {
        inner,
        conn,
        incoming: Vec::with_capacity(CIPHER_BUF),
        taken: 0,
        outgoing: Vec::new(),
        eof: false,
        session: Session {
            version: "unknown",
            cipher: "unknown",
            alpn: None,
        },
    };
    while tls.conn.is_handshaking() {
        if tls.conn.wants_write() {
            tls.flush()
                .await
                .map_err(|e| ConnectError::Tls(format!("sending the handshake failed: {e}")))?;
            continue;
        }
        if tls.taken < tls.incoming.len() {
            match tls.feed() {
                Ok(true) => continue,
                Ok(false) => {
                    return Err(ConnectError::Tls(
                        "the server's handshake messages could not be taken".into(),
                    ))
                }
                Err(e) => {
                    // Send the alert rustls prepared (best effort), then give up.
                    let _ = tls.flush().await;
                    return Err(handshake_error(&e, offers_h2));
                }
            }
        }
        if tls.eof {
            return Err(ConnectError::Tls(
                "the server closed the connection during the handshake".into(),
            ));
        }
        tls.fill()
            .await
            .map_err(|e| ConnectError::Tls(format!("reading the handshake failed: {e}")))?;
    }
    // The client's last flight (TLS 1.3: its Finished) leaves now.
    tls.flush()
        .await
        .map_err(|e| ConnectError::Tls(format!("sending the handshake failed: {e}")))?;
    tls.session = session(&tls.conn);
    Ok(tls)
}

/// A handshake failure of `conn`, said for the report: a server that refuses every
/// protocol offered by ALPN is named as such (with `--h2`: it offers no h2).
fn handshake_error(e: &rustls::Error, offers_h2: bool) -> ConnectError {
    match e {
        rustls::Error::AlertReceived(rustls::AlertDescription::NoApplicationProtocol)
            if offers_h2 =>
        {
            ConnectError::Tls(
                "the server offers no h2 by ALPN (alert no_application_protocol): it does not \
                 speak HTTP/2 over TLS there (leave out --h2 for HTTP/1.1)"
                    .into(),
            )
        }
        _ => tls_error(e),
    }
}

/// A handshake failure, said for the report.
pub(crate) fn tls_error(e: &rustls::Error) -> ConnectError {
    match e {
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            ConnectError::Tls(format!(
                "{e} (the server does not speak TLS there: plain HTTP? then use http://)"
            ))
        }
        _ => ConnectError::Tls(e.to_string()),
    }
}

impl<S> TlsStream<S> {
    /// Take the connection apart once the handshake is done (HTTP/2 drives rustls
    /// itself over split socket halves): the socket, the rustls connection, and the
    /// ciphertext read but not yet taken by rustls.
    pub(crate) fn into_parts(mut self) -> (S, ClientConnection, Vec<u8>) {
        self.incoming.drain(..self.taken);
        (self.inner, self.conn, self.incoming)
    }
}

impl<S: Io> TlsStream<S> {
    /// Read ciphertext from the socket into `incoming` (which holds nothing untaken).
    async fn fill(&mut self) -> io::Result<()> {
        self.incoming.clear();
        self.taken = 0;
        let (res, incoming) = self.inner.read(std::mem::take(&mut self.incoming)).await;
        self.incoming = incoming;
        if res? == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Give rustls the ciphertext it has not taken yet, as much as it takes now, and let
    /// it process what it got. Returns whether it took any.
    fn feed(&mut self) -> Result<bool, rustls::Error> {
        let mut took = false;
        while self.taken < self.incoming.len() {
            let mut rest = &self.incoming[self.taken..];
            match self.conn.read_tls(&mut rest) {
                // Its buffers are full (plaintext to take first), or close_notify came.
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    self.taken += n;
                    took = true;
                }
            }
            self.conn.process_new_packets()?;
        }
        if self.taken == self.incoming.len() {
            self.incoming.clear();
            self.taken = 0;
        }
        Ok(took)
    }

    /// Write every record rustls has ready, in one owned write.
    async fn flush(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.outgoing)?;
        }
        if self.outgoing.is_empty() {
            return Ok(());
        }
        let (res, mut out) = self
            .inner
            .write_all(std::mem::take(&mut self.outgoing))
            .await;
        out.clear();
        if out.capacity() <= KEEP_OUTGOING {
            self.outgoing = out;
        }
        res.map(|_| ())
    }

    /// Copy the plaintext rustls holds into the spare capacity of `buf`: `Some(n)` when
    /// there was some, `Some(0)` after the server's close_notify, `None` when more
    /// ciphertext is needed.
    fn take_plaintext(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
        let mut total = 0;
        let mut reader = self.conn.reader();
        while buf.len() < buf.capacity() {
            match reader.fill_buf() {
                // close_notify: the end of the stream, once what came before is taken.
                Ok([]) => return Ok(Some(total)),
                Ok(chunk) => {
                    let n = chunk.len().min(buf.capacity() - buf.len());
                    buf.extend_from_slice(&chunk[..n]);
                    reader.consume(n);
                    total += n;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // The socket closed without close_notify: the end all the same (the
                // HTTP framing tells whether a response was cut short).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Some(total)),
                Err(e) => return Err(e),
            }
        }
        Ok((total > 0).then_some(total))
    }

    async fn read_plain(&mut self, mut buf: Vec<u8>) -> BufResult<usize, Vec<u8>> {
        if buf.capacity() == buf.len() {
            buf.reserve(MIN_SPARE);
        }
        loop {
            match self.take_plaintext(&mut buf) {
                Ok(Some(n)) => return (Ok(n), buf),
                Ok(None) => {}
                Err(e) => return (Err(e), buf),
            }
            if self.taken < self.incoming.len() {
                match self.feed() {
                    Ok(true) => continue,
                    // rustls neither takes ciphertext nor has plaintext to give.
                    Ok(false) => {
                        return (
                            Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "TLS: the connection is stuck",
                            )),
                            buf,
                        )
                    }
                    Err(e) => {
                        let _ = self.flush().await;
                        return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                    }
                }
            }
            if self.eof {
                return (Ok(0), buf);
            }
            // Anything rustls has to say first (a key update's answer).
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
            if let Err(e) = self.fill().await {
                return (Err(e), buf);
            }
        }
    }

    async fn write_plain<B: WriteBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        let data = buf.bytes();
        let mut sent = 0;
        while sent < data.len() {
            match self.conn.writer().write(&data[sent..]) {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => sent += n,
                Err(e) => return (Err(e), buf),
            }
            // Whatever rustls took is encrypted: it leaves in one write (a batch larger
            // than rustls's outgoing buffer limit leaves in several).
            if let Err(e) = self.flush().await {
                return (Err(e), buf);
            }
        }
        (Ok(sent), buf)
    }
}

impl<S: Io> Io for TlsStream<S> {
    fn read(
        &mut self,
        buf: Vec<u8>,
    ) -> impl std::future::Future<Output = BufResult<usize, Vec<u8>>> {
        self.read_plain(buf)
    }

    fn write_all<B: WriteBuf>(
        &mut self,
        buf: B,
    ) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.write_plain(buf)
    }

    fn tls_session(&self) -> Option<Session> {
        Some(self.session.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(url: &str) -> TlsPlan {
        TlsPlan::new(&Target::parse(url).unwrap(), None, true, false).unwrap()
    }

    #[test]
    fn server_names_and_alpn() {
        // An IP address is no DNS name: rustls sends no SNI for it.
        assert!(matches!(
            plan("https://127.0.0.1:8443/").name,
            ServerName::IpAddress(_)
        ));
        assert!(matches!(
            plan("https://[::1]:8443/").name,
            ServerName::IpAddress(_)
        ));
        let p = plan("https://example.com/");
        assert_eq!(p.name, ServerName::try_from("example.com").unwrap());
        assert_eq!(p.config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        assert_eq!(p.verify, Verify::Insecure);
        let p = plan("https://unix:/tmp/s.sock:/x");
        assert_eq!(p.name, ServerName::try_from("localhost").unwrap());
        let none = TlsPlan::new(&Target::parse("https://h/").unwrap(), None, false, false).unwrap();
        let h2 = TlsPlan::new(&Target::parse("https://h/").unwrap(), None, true, true).unwrap();
        assert_eq!(h2.config.alpn_protocols, vec![b"h2".to_vec()]);
        assert_eq!(none.verify, Verify::NoRoots);
        assert!(none.verify.hint().unwrap().contains("--cacert"));
    }
}
