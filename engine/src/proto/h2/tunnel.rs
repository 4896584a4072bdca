//! An HTTP/2 stream as an opaque byte stream: what an extended CONNECT (RFC 8441)
//! becomes once the handler accepts it (a WebSocket over HTTP/2). Reads are the
//! stream's DATA frames (their window given back as they are taken), writes go out as
//! the client's window allows, and the write side's end is END_STREAM.

use std::future::poll_fn;
use std::io;

use bytes::{Bytes, BytesMut};
use h2::{RecvStream, SendStream};

use crate::request::{ErasedStream, LocalFuture};

/// Both halves of an accepted extended CONNECT stream.
pub(super) struct Tunnel {
    pub recv: RecvStream,
    pub send: SendStream<Bytes>,
    /// DATA taken by a readiness wait, not yet read; `Some(empty)` marks the end.
    pub ready: Option<Bytes>,
}

fn broken(e: h2::Error) -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, e)
}

impl Tunnel {
    /// Wait for the next DATA (kept in `ready`: dropping the wait loses nothing).
    async fn wait_ready(&mut self) -> io::Result<()> {
        if self.ready.is_some() {
            return Ok(());
        }
        match poll_fn(|cx| self.recv.poll_data(cx)).await {
            None => self.ready = Some(Bytes::new()),
            Some(Ok(data)) => {
                let _ = self.recv.flow_control().release_capacity(data.len());
                self.ready = Some(data);
            }
            Some(Err(e)) => return Err(broken(e)),
        }
        Ok(())
    }

    async fn read_into(&mut self, mut buf: BytesMut) -> (io::Result<usize>, BytesMut) {
        if let Some(data) = self.ready.take() {
            buf.extend_from_slice(&data);
            return (Ok(data.len()), buf);
        }
        match poll_fn(|cx| self.recv.poll_data(cx)).await {
            None => (Ok(0), buf),
            Some(Ok(data)) => {
                let n = data.len();
                let _ = self.recv.flow_control().release_capacity(n);
                buf.extend_from_slice(&data);
                (Ok(n), buf)
            }
            Some(Err(e)) => (Err(broken(e)), buf),
        }
    }

    async fn write(&mut self, mut data: Bytes) -> io::Result<usize> {
        let total = data.len();
        while !data.is_empty() {
            self.send.reserve_capacity(data.len());
            let granted = loop {
                let now = self.send.capacity();
                if now > 0 {
                    break now;
                }
                match poll_fn(|cx| self.send.poll_capacity(cx)).await {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(broken(e)),
                    None => return Err(io::ErrorKind::BrokenPipe.into()),
                }
            };
            let piece = data.split_to(granted.min(data.len()));
            self.send.send_data(piece, false).map_err(broken)?;
        }
        Ok(total)
    }
}

impl ErasedStream for Tunnel {
    fn readable(&mut self) -> LocalFuture<'_, io::Result<()>> {
        Box::pin(self.wait_ready())
    }

    fn read(&mut self, buf: BytesMut) -> LocalFuture<'_, (io::Result<usize>, BytesMut)> {
        Box::pin(self.read_into(buf))
    }

    fn write_all(&mut self, buf: Bytes) -> LocalFuture<'_, io::Result<usize>> {
        Box::pin(self.write(buf))
    }

    fn shutdown(&mut self) -> LocalFuture<'_, io::Result<()>> {
        Box::pin(async move { self.send.send_data(Bytes::new(), true).map_err(broken) })
    }
}
