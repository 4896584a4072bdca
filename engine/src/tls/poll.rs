//! The poll-style twin of [`Tls`](super::stream::Tls), for HTTP/2: the same rustls
//! session, after its handshake, driven over the socket's poll-io twin. Reads and writes
//! may both be pending (h2 reads while it writes); rustls's state is only touched inside
//! a poll call, so they never overlap.
//!
//! Memory stays bounded: at most [`MAX_OUTGOING`] bytes of records wait to be written
//! before a write waits; ciphertext is read through one per-connection scratch buffer.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use super::stream::State;
use crate::transport::poll::{AsyncRead, AsyncWrite, ReadBuf};

/// Ciphertext read per call (one full TLS record and its overhead).
const SCRATCH: usize = 16 * 1024 + 256;
/// Records waiting to be written beyond which writers wait.
const MAX_OUTGOING: usize = 64 * 1024;

/// A TLS session over a poll-style stream.
pub(crate) struct TlsPoll<P> {
    inner: P,
    state: Box<State>,
    scratch: Vec<u8>,
    /// How much of `state.outgoing` is written.
    written: usize,
    close_sent: bool,
}

impl<P> TlsPoll<P> {
    pub(super) fn new(inner: P, state: Box<State>) -> Self {
        TlsPoll {
            inner,
            state,
            scratch: Vec::new(),
            written: 0,
            close_sent: false,
        }
    }
}

fn invalid(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<P: AsyncWrite + Unpin> TlsPoll<P> {
    /// Write every record rustls has ready.
    fn poll_records(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            while self.state.conn.wants_write() {
                self.state.conn.write_tls(&mut self.state.outgoing)?;
            }
            if self.written == self.state.outgoing.len() {
                self.state.outgoing.clear();
                self.written = 0;
                return Poll::Ready(Ok(()));
            }
            let out = &self.state.outgoing[self.written..];
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, out))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
    }

    fn unwritten(&self) -> usize {
        self.state.outgoing.len() - self.written
    }
}

impl<P: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsPoll<P> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            match this.state.conn.reader().read(buf.initialize_unfilled()) {
                Ok(n) => {
                    // `Ok(0)`: close_notify received (the end of the stream).
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Closed without close_notify: the end all the same (HTTP/2's framing
                // says whether anything was cut short).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Poll::Ready(Ok(())),
                Err(e) => return Poll::Ready(Err(e)),
            }
            if !this.state.pending.is_empty() {
                let before = this.state.pending.len();
                this.state.feed(&[]).map_err(invalid)?;
                if this.state.pending.len() < before {
                    continue;
                }
            }
            if this.state.eof {
                return Poll::Ready(Ok(()));
            }
            // Records rustls wants to send (alerts, session tickets) go out first; a
            // full socket does not hold the read up.
            if let Poll::Ready(Err(e)) = this.poll_records(cx) {
                return Poll::Ready(Err(e));
            }
            if this.scratch.len() < SCRATCH {
                this.scratch.resize(SCRATCH, 0);
            }
            let mut rb = ReadBuf::new(&mut this.scratch);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                this.state.eof = true;
                continue;
            }
            if let Err(e) = this.state.feed(&this.scratch[..n]) {
                // Send the alert rustls prepared if the socket takes it now.
                let _ = this.poll_records(cx);
                return Poll::Ready(Err(invalid(e)));
            }
        }
    }
}

impl<P: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsPoll<P> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.unwritten() >= MAX_OUTGOING {
                ready!(this.poll_records(cx))?;
            }
            let n = this.state.conn.writer().write(data)?;
            if n == 0 {
                // rustls's plaintext buffer is full: send records, then try again.
                ready!(this.poll_records(cx))?;
                continue;
            }
            if let Poll::Ready(Err(e)) = this.poll_records(cx) {
                return Poll::Ready(Err(e));
            }
            return Poll::Ready(Ok(n));
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_records(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.close_sent {
            self.close_sent = true;
            self.state.conn.send_close_notify();
        }
        ready!(self.poll_records(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
