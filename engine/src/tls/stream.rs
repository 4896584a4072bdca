//! A TLS connection over any [`Transport`], driving a rustls `ServerConnection` by hand
//! with owned buffers (as io_uring needs).
//!
//! - Reads: ciphertext is read into the spare capacity of the caller's own buffer, fed to
//!   rustls, and the plaintext copied back into that buffer, so an idle connection holds
//!   no buffer of its own (only rustls's state). Ciphertext rustls cannot take yet is kept
//!   aside (rare).
//! - Writes: plaintext goes through rustls's writer; the records it produces leave in one
//!   owned write per batch.
//! - Readiness: buffered plaintext (or a closed peer) is ready at once; otherwise the
//!   socket's readiness stands for it (after the handshake, a client sends only
//!   application data, close_notify, or rarely a key update).
//! - The worker interrupts a TLS connection through its socket (`shutdown(2)`): the
//!   socket read ends, and so does the TLS read.

use std::io::{self, BufRead, Write};
use std::rc::Rc;
use std::sync::Arc;

use bytes::{Buf, BytesMut};
use monoio::BufResult;
use rustls::{ServerConfig, ServerConnection};

use super::poll::TlsPoll;
use crate::transport::{ConnInfo, Interrupt, TlsInfo, Transport, WriteBuf};

/// Spare room ensured before reading ciphertext: the pool's buffer size, so a pooled
/// read buffer is used as it is (records larger than this arrive over several reads).
const CIPHER_READ: usize = 4096;
/// Most ciphertext kept aside while rustls cannot take it (four full records).
const MAX_PENDING: usize = 4 * (16 * 1024 + 2048);
/// Outgoing record buffer capacity kept between writes; more is released.
const KEEP_OUTGOING: usize = 16 * 1024;

/// A TLS server connection over `T`.
pub(crate) struct Tls<T> {
    inner: T,
    /// Boxed: the transport moves on every request; rustls's state is large.
    state: Box<State>,
    info: Rc<ConnInfo>,
}

pub(super) struct State {
    pub(super) conn: ServerConnection,
    /// Ciphertext read but not yet taken by rustls.
    pub(super) pending: BytesMut,
    /// Records waiting to be written.
    pub(super) outgoing: Vec<u8>,
    /// The socket reached end-of-stream.
    pub(super) eof: bool,
    /// Plaintext rustls holds for us (as of the last packets processed, less what was
    /// taken since).
    pub(super) buffered: usize,
    /// The peer sent close_notify.
    pub(super) peer_closed: bool,
}

/// Why a handshake ended without a connection.
#[derive(Debug)]
pub(crate) enum HandshakeError {
    /// The client closed, or the worker interrupted the socket (timeout, shutdown).
    Closed,
    /// Plain HTTP arrived: it was answered `400` in cleartext.
    PlainHttp,
    /// Not TLS, or TLS the server refuses (version, cipher, malformed records).
    Tls(String),
    /// The socket failed.
    Io(io::Error),
}

impl std::fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HandshakeError::Closed => f.write_str("the connection closed during the handshake"),
            HandshakeError::PlainHttp => f.write_str("plain HTTP on a TLS port (answered 400)"),
            HandshakeError::Tls(e) => write!(f, "TLS: {e}"),
            HandshakeError::Io(e) => write!(f, "I/O: {e}"),
        }
    }
}

/// Run the server side of a handshake on `inner`.
pub(crate) async fn accept<T: Transport>(
    mut inner: T,
    config: Arc<ServerConfig>,
) -> Result<Tls<T>, HandshakeError> {
    let conn = ServerConnection::new(config).map_err(|e| HandshakeError::Tls(e.to_string()))?;
    let mut state = Box::new(State {
        conn,
        pending: BytesMut::new(),
        outgoing: Vec::new(),
        eof: false,
        buffered: 0,
        peer_closed: false,
    });
    let mut buf = BytesMut::with_capacity(CIPHER_READ);
    let mut first = true;
    while state.conn.is_handshaking() {
        if state.conn.wants_write() {
            state.flush(&mut inner).await.map_err(HandshakeError::Io)?;
            continue;
        }
        buf.clear();
        let (res, b) = inner.read(buf).await;
        buf = b;
        match res {
            Ok(0) => return Err(HandshakeError::Closed),
            Ok(_) => {}
            Err(e) => return Err(HandshakeError::Io(e)),
        }
        if first {
            first = false;
            if looks_like_plain_http(&buf) {
                let (_, _) = inner.write_all(PLAIN_HTTP_ANSWER).await;
                let _ = inner.shutdown().await;
                return Err(HandshakeError::PlainHttp);
            }
        }
        if let Err(e) = state.feed(&buf) {
            // Send the alert rustls prepared, then give up.
            let _ = state.flush(&mut inner).await;
            return Err(HandshakeError::Tls(e.to_string()));
        }
    }
    state.flush(&mut inner).await.map_err(HandshakeError::Io)?;
    let info = Rc::new(ConnInfo {
        local_addr: inner.info().local_addr.clone(),
        remote_addr: inner.info().remote_addr.clone(),
        scheme: "https",
        tls: Some(Box::new(tls_info(&state.conn))),
    });
    Ok(Tls { inner, state, info })
}

/// What the handshake settled.
fn tls_info(conn: &ServerConnection) -> TlsInfo {
    TlsInfo {
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
        sni: conn.server_name().map(str::to_owned),
        version: match conn.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "unknown",
        },
        cipher: conn
            .negotiated_cipher_suite()
            .and_then(|s| s.suite().as_str())
            .unwrap_or("unknown"),
        client_chain: conn
            .peer_certificates()
            .map(|chain| chain.iter().map(|c| c.to_vec()).collect())
            .unwrap_or_default(),
        client_subject: conn
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| x509_parser::parse_x509_certificate(leaf).ok())
            .map(|(_, cert)| cert.subject().to_string()),
    }
}

/// The answer to plain HTTP on a TLS port (nginx answers such requests too; Kestrel only
/// closes): cleartext, so the client can read why.
const PLAIN_HTTP_ANSWER: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// A TLS connection starts with a handshake record (0x16); a plain HTTP request starts
/// with a method token.
fn looks_like_plain_http(first: &[u8]) -> bool {
    first.first().is_some_and(|b| b.is_ascii_uppercase())
}

impl State {
    /// Give rustls ciphertext; what it cannot take now is kept in `pending` (behind what
    /// was kept before).
    pub(super) fn feed(&mut self, data: &[u8]) -> Result<(), rustls::Error> {
        if self.pending.is_empty() {
            let mut rest = data;
            self.take(&mut rest)?;
            self.pending.extend_from_slice(rest);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(data);
            let mut rest: &[u8] = &pending;
            let taken = self.take(&mut rest);
            let used = pending.len() - rest.len();
            pending.advance(used);
            self.pending = if pending.is_empty() {
                BytesMut::new()
            } else {
                pending
            };
            taken?;
        }
        self.bounded()
    }

    /// Hand rustls as much of `data` as it takes now, processing as it goes.
    fn take(&mut self, data: &mut &[u8]) -> Result<(), rustls::Error> {
        while !data.is_empty() && self.conn.wants_read() {
            match self.conn.read_tls(data) {
                Ok(0) | Err(_) => break, // rustls's buffer is full: the rest waits
                Ok(_) => {}
            }
            self.processed()?;
        }
        Ok(())
    }

    /// Ciphertext kept aside never grows past a few records: input rustls keeps refusing
    /// while the peer keeps sending ends the connection rather than the worker's memory.
    fn bounded(&self) -> Result<(), rustls::Error> {
        if self.pending.len() > MAX_PENDING {
            return Err(rustls::Error::General(
                "the peer sent more than the TLS layer can take".into(),
            ));
        }
        Ok(())
    }

    /// Let rustls process what it was given, and note what it holds for us.
    fn processed(&mut self) -> Result<(), rustls::Error> {
        let io = self.conn.process_new_packets()?;
        self.buffered = io.plaintext_bytes_to_read();
        self.peer_closed = io.peer_has_closed();
        Ok(())
    }

    /// Write every record rustls has ready.
    async fn flush<T: Transport>(&mut self, inner: &mut T) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.outgoing)?;
        }
        if self.outgoing.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outgoing);
        let (res, mut out) = inner.write_all(out).await;
        out.clear();
        if out.capacity() <= KEEP_OUTGOING {
            self.outgoing = out;
        }
        res.map(|_| ())
    }

    /// Move buffered plaintext into `buf`: `Some(n)` when there was some (or `Some(0)` at
    /// the end of the stream), `None` when more ciphertext is needed.
    fn take_plaintext(&mut self, buf: &mut BytesMut) -> io::Result<Option<usize>> {
        let mut reader = self.conn.reader();
        match reader.fill_buf() {
            Ok([]) => Ok(Some(0)),
            Ok(chunk) => {
                let n = chunk.len().min(buf.capacity() - buf.len()).max(1);
                let n = n.min(chunk.len());
                buf.extend_from_slice(&chunk[..n]);
                reader.consume(n);
                self.buffered = self.buffered.saturating_sub(n);
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            // The peer closed without close_notify: the end of the stream all the same
            // (the HTTP framing says whether anything was cut short).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(Some(0)),
            Err(e) => Err(e),
        }
    }
}

impl<T: Transport> Tls<T> {
    async fn read_into(&mut self, mut buf: BytesMut) -> BufResult<usize, BytesMut> {
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        let start = buf.len();
        loop {
            match self.state.take_plaintext(&mut buf) {
                Ok(Some(n)) => return (Ok(n), buf),
                Ok(None) => {}
                Err(e) => return (Err(e), buf),
            }
            if !self.state.pending.is_empty() {
                // Ciphertext kept from before: offer it again.
                if let Err(e) = self.state.feed(&[]) {
                    let _ = self.state.flush(&mut self.inner).await;
                    return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
                }
                if self.state.buffered > 0 || !self.state.conn.wants_read() {
                    continue;
                }
            }
            if self.state.eof {
                return (Ok(0), buf);
            }
            if let Err(e) = self.state.flush(&mut self.inner).await {
                return (Err(e), buf);
            }
            // Ciphertext goes into the caller's spare capacity, used as scratch.
            if buf.capacity() - buf.len() < CIPHER_READ {
                buf.reserve(CIPHER_READ);
            }
            let (res, b) = self.inner.read(buf).await;
            buf = b;
            match res {
                Ok(0) => {
                    self.state.eof = true;
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    buf.truncate(start);
                    return (Err(e), buf);
                }
            }
            let fed = self.state.feed(&buf[start..]);
            buf.truncate(start);
            if let Err(e) = fed {
                let _ = self.state.flush(&mut self.inner).await;
                return (Err(io::Error::new(io::ErrorKind::InvalidData, e)), buf);
            }
        }
    }

    async fn write_plain<B: WriteBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        let data = buf.as_ref();
        let mut sent = 0;
        while sent < data.len() {
            match self.state.conn.writer().write(&data[sent..]) {
                Ok(n) => sent += n,
                Err(e) => return (Err(e), buf),
            }
            if let Err(e) = self.state.flush(&mut self.inner).await {
                return (Err(e), buf);
            }
        }
        (Ok(sent), buf)
    }
}

impl<T: Transport> Transport for Tls<T> {
    async fn readable(&self, relaxed: bool) -> io::Result<()> {
        let st = &self.state;
        if st.buffered > 0 || st.eof || st.peer_closed || !st.pending.is_empty() {
            return Ok(());
        }
        self.inner.readable(relaxed).await
    }

    fn read(
        &mut self,
        buf: BytesMut,
    ) -> impl std::future::Future<Output = BufResult<usize, BytesMut>> {
        self.read_into(buf)
    }

    fn write_all<B: WriteBuf>(
        &mut self,
        buf: B,
    ) -> impl std::future::Future<Output = BufResult<usize, B>> {
        self.write_plain(buf)
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        self.state.conn.send_close_notify();
        let flushed = self.state.flush(&mut self.inner).await;
        let shut = self.inner.shutdown().await;
        flushed.and(shut)
    }

    fn interrupt(&self) -> Interrupt {
        self.inner.interrupt()
    }

    fn info(&self) -> &Rc<ConnInfo> {
        &self.info
    }

    type Poll = TlsPoll<T::Poll>;

    fn into_poll(self) -> io::Result<Self::Poll> {
        Ok(TlsPoll::new(self.inner.into_poll()?, self.state))
    }
}
