//! An accepted WebSocket: messages in and out over the upgraded stream (an HTTP/1.1
//! connection or an HTTP/2 extended-CONNECT stream alike), with the RFC's control
//! traffic handled here: pings answered, the close handshake completed, keep-alive
//! pings on a quiet socket (and a close when they go unanswered), and a graceful server
//! shutdown closing with 1001 after the message in flight.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::codec::{Codec, Frame};
use super::{CloseFrame, Message, WebSocketError};
use crate::request::Upgraded;

/// How long the close handshake may take before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Read buffer growth.
const READ_SIZE: usize = 8 * 1024;

/// Where the close handshake is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    Open,
    /// We sent a close frame and wait for the client's.
    Sent,
    /// Both sides closed (or the stream ended).
    Done,
}

/// An accepted WebSocket.
pub struct WebSocket {
    io: Upgraded,
    codec: Codec,
    rbuf: BytesMut,
    wbuf: BytesMut,
    protocol: Option<String>,
    closing: Closing,
    keep_alive: Option<Duration>,
    /// A keep-alive ping is out, unanswered.
    ping_out: bool,
    shutdown: Pin<Box<dyn Future<Output = ()>>>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("protocol", &self.protocol)
            .field("closing", &self.closing)
            .finish_non_exhaustive()
    }
}

/// What the wait for the next bytes ended with.
enum Woke {
    Read(io::Result<usize>),
    Shutdown,
    Quiet,
}

impl WebSocket {
    pub(super) fn new(
        io: Upgraded,
        codec: Codec,
        protocol: Option<String>,
        keep_alive: Option<Duration>,
    ) -> Self {
        let shutdown = Box::pin(io.shutdown_requested());
        WebSocket {
            io,
            codec,
            rbuf: BytesMut::new(),
            wbuf: BytesMut::new(),
            protocol,
            closing: Closing::Open,
            keep_alive,
            ping_out: false,
            shutdown,
        }
    }

    /// The subprotocol chosen when accepting, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The next message: `Text` or `Binary` (pings are answered and pongs absorbed
    /// here). `None` once the socket closed: after the close handshake (the client's
    /// close code is in the error-free end), at a graceful server shutdown (1001 sent),
    /// or when the stream ended. A protocol violation by the client is answered with the
    /// close code it deserves (1002, 1007, 1009) and returned as an error.
    pub async fn recv(&mut self) -> Option<Result<Message, WebSocketError>> {
        loop {
            if self.closing == Closing::Done {
                return None;
            }
            match self.codec.decode(&mut self.rbuf) {
                Ok(Some(frame)) => {
                    self.ping_out = false;
                    match frame {
                        Frame::Text(t) => return Some(Ok(Message::Text(t))),
                        Frame::Binary(b) => return Some(Ok(Message::Binary(b))),
                        Frame::Ping(p) => {
                            if self.closing == Closing::Open {
                                self.codec.encode_pong(&p, &mut self.wbuf);
                                if let Err(e) = self.flush().await {
                                    return Some(Err(e));
                                }
                            }
                        }
                        Frame::Pong => {}
                        Frame::Close(close) => {
                            self.answer_close(close).await;
                            return None;
                        }
                    }
                    continue;
                }
                Ok(None) => {}
                Err(code) => {
                    let e = WebSocketError::Protocol(code);
                    self.close_now(code, "").await;
                    return Some(Err(e));
                }
            }
            match self.wait().await {
                Woke::Read(Ok(0)) | Woke::Read(Err(_)) => {
                    self.closing = Closing::Done;
                    return None;
                }
                Woke::Read(Ok(_)) => {}
                Woke::Shutdown => {
                    self.close_now(1001, "server shutting down").await;
                    return None;
                }
                Woke::Quiet if self.ping_out => {
                    // The keep-alive ping went unanswered for a whole interval.
                    tracing::debug!("WebSocket keep-alive ping unanswered; closing");
                    self.closing = Closing::Done;
                    let _ = self.io.shutdown().await;
                    return None;
                }
                Woke::Quiet => {
                    self.ping_out = true;
                    self.codec.encode_ping(&mut self.wbuf);
                    if let Err(e) = self.flush().await {
                        return Some(Err(e));
                    }
                }
            }
        }
    }

    /// Send a message (`Text`, `Binary`, or a `Ping`/`Pong` of at most 125 bytes).
    pub async fn send(&mut self, message: Message) -> Result<(), WebSocketError> {
        if self.closing != Closing::Open {
            return Err(WebSocketError::Closed);
        }
        self.codec.encode(&message, &mut self.wbuf)?;
        self.flush().await
    }

    /// Start the close handshake with `code` and `reason`, and wait (at most a few
    /// seconds) for the client's close.
    pub async fn close(mut self, code: u16, reason: &str) -> Result<(), WebSocketError> {
        if self.closing != Closing::Open {
            return Ok(());
        }
        self.close_now(code, reason).await;
        Ok(())
    }

    /// Send our close, then read until the client's close arrives (or time runs out).
    async fn close_now(&mut self, code: u16, reason: &str) {
        if self.closing == Closing::Open {
            self.codec
                .encode_close(Some((code, reason)), &mut self.wbuf);
            self.closing = Closing::Sent;
            if self.flush().await.is_err() {
                self.closing = Closing::Done;
                return;
            }
        }
        let _ = monoio::time::timeout(CLOSE_TIMEOUT, async {
            loop {
                match self.codec.decode(&mut self.rbuf) {
                    Ok(Some(Frame::Close(_))) | Err(_) => return,
                    Ok(Some(_)) => continue,
                    Ok(None) => {}
                }
                let buf = self.take_rbuf();
                let (res, buf) = self.io.read(buf).await;
                self.rbuf = buf;
                if !matches!(res, Ok(n) if n > 0) {
                    return;
                }
            }
        })
        .await;
        let _ = self.io.shutdown().await;
        self.closing = Closing::Done;
    }

    /// The client closed: echo its code (RFC 6455 §5.5.1) unless we closed first.
    async fn answer_close(&mut self, close: Option<CloseFrame>) {
        if self.closing == Closing::Open {
            let echo = close.as_ref().map(|c| (c.code, ""));
            self.codec.encode_close(echo, &mut self.wbuf);
            let _ = self.flush().await;
        }
        let _ = self.io.shutdown().await;
        self.closing = Closing::Done;
    }

    fn take_rbuf(&mut self) -> BytesMut {
        let mut buf = std::mem::take(&mut self.rbuf);
        if buf.capacity() - buf.len() < READ_SIZE / 4 {
            buf.reserve(READ_SIZE);
        }
        buf
    }

    /// Wait for bytes, a graceful shutdown, or a quiet interval. The race is over a
    /// readiness wait, never a pending read, so the losers lose nothing.
    async fn wait(&mut self) -> Woke {
        let keep_alive = self.keep_alive;
        let woke = {
            let ready = self.io.readable();
            let mut ready = std::pin::pin!(ready);
            let shutdown = &mut self.shutdown;
            let quiet = async {
                match keep_alive {
                    Some(d) => monoio::time::sleep(d).await,
                    None => std::future::pending().await,
                }
            };
            let mut quiet = std::pin::pin!(quiet);
            std::future::poll_fn(|cx| {
                if let std::task::Poll::Ready(r) = ready.as_mut().poll(cx) {
                    return std::task::Poll::Ready(r.err().map(|e| Woke::Read(Err(e))));
                }
                if shutdown.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(Some(Woke::Shutdown));
                }
                if quiet.as_mut().poll(cx).is_ready() {
                    return std::task::Poll::Ready(Some(Woke::Quiet));
                }
                std::task::Poll::Pending
            })
            .await
        };
        if let Some(woke) = woke {
            return woke;
        }
        let buf = self.take_rbuf();
        let (res, buf) = self.io.read(buf).await;
        self.rbuf = buf;
        Woke::Read(res)
    }

    async fn flush(&mut self) -> Result<(), WebSocketError> {
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let out: Bytes = self.wbuf.split().freeze();
        self.io.write_all(out).await.map_err(WebSocketError::Io)
    }
}
