//! Writing responses: the head and a whole body into the write buffer, large bodies
//! from their own buffer in pieces, streamed bodies as they are produced (chunked when
//! their length is unknown), and flushing the buffer. Buffered output is sent whenever
//! the response stream is not immediately ready, so streamed pieces are never held back.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use futures_core::Stream;
use peregrine_protocol::h1::encode::{write_chunk_header, LAST_CHUNK};

use super::encode::{encode_head, Framing, Head, ReqMeta};
use super::exchange::Writing;
use super::{Conn, End, Persist, COPY_LIMIT, WRITE_PIECE};
use crate::body::{BodyKind, BoxStream};
use crate::handler::Handler;
use crate::metrics::bump;
use crate::transport::Transport;

impl<H: Handler, T: Transport> Conn<H, T> {
    pub(super) async fn write_response(
        &mut self,
        response: &mut crate::Response,
        meta: ReqMeta,
    ) -> Result<(), End> {
        let (status, headers, body) = response.parts_mut();
        let body = std::mem::take(body);
        let streaming = body.is_streamed();
        if (self.exchange().continue_pending() && !streaming) || self.exchange().closed() {
            // The announced body was never asked for (and a finished handler will not
            // ask), or its framing broke: we cannot tell where the next request starts,
            // so this response ends the connection.
            self.persist = Persist::Close;
        }
        if !self.exchange().body_done() && !self.exchange().drainable() {
            // The unread rest of the body is over its limit: it will not be drained, so
            // the connection closes after this response, and the response says so (it
            // said keep-alive before and the close came unannounced). A stream that
            // reads the body fails with 413 and closes too.
            self.persist = Persist::Close;
        }
        if self.shard.shutdown.is_fired() {
            // Shutdown started while the handler ran: this response is the connection's
            // last, so it says `Connection: close` (RFC 9112, section 9.6), and a client
            // that pipelined more requests knows they were not processed.
            self.persist = Persist::Close;
        }
        if self.wbuf.capacity() == 0 {
            self.wbuf = self.shard.pool.borrow_mut().take();
        }
        let start = self.wbuf.len();
        self.exchange().set_writing(Writing::Head(start));
        let head = Head {
            status,
            headers,
            body_len: body.len(),
            req: meta,
            keep_alive: self.persist == Persist::KeepAlive,
            date: &self.shard.date,
            server: self.shard.http.server_header.as_deref(),
        };
        let decision = encode_head(&mut self.wbuf, head);
        if !decision.keep_alive {
            self.persist = Persist::Close;
        }
        let framing = decision.framing;
        match body.kind {
            BodyKind::Empty => Ok(()),
            BodyKind::Full(bytes) => {
                if framing == Framing::NoBody {
                    return Ok(());
                }
                if bytes.len() <= COPY_LIMIT {
                    self.wbuf.extend_from_slice(&bytes);
                    return Ok(());
                }
                // Boxed: large bodies are rare and their write state is large.
                Box::pin(self.write_bytes(bytes)).await
            }
            BodyKind::Stream(stream) => {
                if framing == Framing::NoBody {
                    return Ok(());
                }
                // Boxed: streaming needs more state than a whole body.
                Box::pin(self.write_stream(stream, framing)).await
            }
            // HTTP/1.1 sends no response trailers (as Kestrel): the body alone. Boxed
            // (rare), so the common path keeps one body local.
            BodyKind::Trailed(t) => Box::pin(self.write_untrailed(t.body, framing)).await,
        }
    }

    /// The body of a response that had trailers, without them.
    async fn write_untrailed(&mut self, body: BodyKind, framing: Framing) -> Result<(), End> {
        if framing == Framing::NoBody {
            return Ok(());
        }
        match body {
            BodyKind::Full(bytes) => self.write_bytes(bytes).await,
            BodyKind::Stream(stream) => self.write_stream(stream, framing).await,
            BodyKind::Empty | BodyKind::Trailed(_) => Ok(()),
        }
    }

    /// Append `bytes` to the write buffer, or write them from their own buffer when large.
    pub(super) async fn write_bytes(&mut self, bytes: Bytes) -> Result<(), End> {
        if bytes.len() <= COPY_LIMIT {
            self.wbuf.extend_from_slice(&bytes);
            return Ok(());
        }
        self.flush().await.map_err(|_| End::Abort)?;
        let io = self.io.as_mut().ok_or(End::Abort)?;
        let registry = &self.shard.registry;
        let mut rest = bytes;
        while !rest.is_empty() {
            let piece = rest.split_to(rest.len().min(WRITE_PIECE));
            registry.write(self.id, true, piece.len());
            let (res, _) = io.stream.write_all(piece).await;
            let n = *res.as_ref().unwrap_or(&0);
            registry.write(self.id, false, n);
            bump(&self.shard.counters.writes, 1);
            bump(&self.shard.counters.bytes_out, n as u64);
            res.map_err(|_| End::Abort)?;
        }
        Ok(())
    }

    /// Pull the response body stream and write it. Buffered output is flushed whenever
    /// the stream is not immediately ready, so streamed pieces are never held back.
    pub(super) async fn write_stream(
        &mut self,
        mut stream: BoxStream,
        framing: Framing,
    ) -> Result<(), End> {
        let mut remaining = match framing {
            Framing::Length(n) => Some(n),
            _ => None,
        };
        loop {
            let item = self.next_item(&mut stream).await?;
            let Some(item) = item else { break };
            let bytes = match item {
                Ok(b) => b,
                Err(e) => {
                    if let Writing::Head(start) = self.exchange().writing() {
                        // Nothing of this response was sent: answer the body's rejection
                        // (413, 408, 400), or 500 for a failed or panicking stream.
                        let status = self.exchange().rejected().unwrap_or(500);
                        tracing::debug!(error = %e, status, "response body failed before it started");
                        self.wbuf.truncate(start);
                        self.reject(status, None);
                        return Err(End::Reject);
                    }
                    tracing::debug!(error = %e, "response body stream failed; closing");
                    return Err(End::Abort);
                }
            };
            if bytes.is_empty() {
                continue;
            }
            match framing {
                Framing::Chunked => {
                    write_chunk_header(&mut self.wbuf, bytes.len());
                    self.write_bytes(bytes).await?;
                    self.wbuf.extend_from_slice(b"\r\n");
                }
                Framing::Length(_) => {
                    let left = remaining.unwrap_or(0);
                    let mut bytes = bytes;
                    if bytes.len() as u64 > left {
                        tracing::warn!("response body longer than its Content-Length; truncated");
                        bytes.truncate(left as usize);
                        self.persist = Persist::Close;
                    }
                    remaining = Some(left - bytes.len() as u64);
                    self.write_bytes(bytes).await?;
                }
                Framing::Close | Framing::NoBody => self.write_bytes(bytes).await?,
            }
            if self.wbuf.len() >= COPY_LIMIT {
                self.flush().await.map_err(|_| End::Abort)?;
            }
        }
        match framing {
            Framing::Chunked => self.wbuf.extend_from_slice(LAST_CHUNK),
            Framing::Length(_) if remaining != Some(0) => {
                tracing::warn!("response body shorter than its Content-Length; closing");
                return Err(End::Close);
            }
            _ => {}
        }
        Ok(())
    }

    /// The next item of the response body, with the I/O lent to the exchange while the
    /// stream is polled (it may read the request body, and then sends our buffered
    /// output before it waits for the client).
    pub(super) async fn next_item(
        &mut self,
        stream: &mut BoxStream,
    ) -> Result<Option<std::io::Result<Bytes>>, End> {
        self.lend_io()?;
        let ready = poll_fn(|cx| match poll_stream(stream, cx) {
            Poll::Ready(item) => Poll::Ready(Some(item)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        let item = match ready {
            Some(item) => item,
            None => {
                // Not ready, and the I/O is free: the stream waits on something other
                // than the client, so send what we have now.
                if let Some(io) = self.exchange().reclaim() {
                    self.io = Some(io);
                    self.take_output();
                    self.flush().await.map_err(|_| End::Abort)?;
                    self.lend_io()?;
                }
                poll_fn(|cx| poll_stream(stream, cx)).await
            }
        };
        self.io = Some(self.exchange().reclaim().ok_or(End::Abort)?);
        self.take_output();
        Ok(item)
    }

    /// Lend the transport and the buffered output to the exchange (see `next_item`).
    fn lend_io(&mut self) -> Result<(), End> {
        let io = self.io.take().ok_or(End::Abort)?;
        let out = std::mem::take(&mut self.wbuf);
        let exchange = self.exchange();
        exchange.lend(io);
        exchange.stash_output(out);
        Ok(())
    }

    /// Take the output back from the exchange (a body read may have sent some of it:
    /// the exchange then moved the response on from `Writing::Head`).
    pub(super) fn take_output(&mut self) {
        self.wbuf = self.exchange().take_output();
    }

    pub(super) async fn flush(&mut self) -> std::io::Result<()> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let io = self
            .io
            .as_mut()
            .ok_or_else(|| std::io::Error::other("connection lost"))?;
        let buf = std::mem::take(&mut self.wbuf);
        if let Some(exchange) = &self.exchange {
            exchange.output_sent();
        }
        let registry = &self.shard.registry;
        registry.write(self.id, true, buf.len());
        let (res, mut buf) = io.stream.write_all(buf).await;
        let n = *res.as_ref().unwrap_or(&0);
        registry.write(self.id, false, n);
        bump(&self.shard.counters.writes, 1);
        bump(&self.shard.counters.bytes_out, n as u64);
        buf.clear();
        self.wbuf = buf;
        res.map(|_| ())
    }
}

/// Poll a response body stream; a panic inside it becomes an error item (the response
/// has started, so the connection is closed; the worker lives on).
fn poll_stream(
    stream: &mut BoxStream,
    cx: &mut std::task::Context<'_>,
) -> Poll<Option<std::io::Result<Bytes>>> {
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Pin::new(&mut *stream).poll_next(cx)
    }));
    polled.unwrap_or_else(|_| {
        tracing::error!("a response body stream panicked; closing the connection");
        Poll::Ready(Some(Err(std::io::Error::other(
            "response body stream panicked",
        ))))
    })
}
