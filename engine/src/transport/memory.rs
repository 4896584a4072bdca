//! An in-memory duplex pipe as a transport: the whole HTTP stack runs over it without
//! sockets, so tests can drive a connection deterministically byte by byte (Kestrel's
//! in-memory transport does the same). Each direction is a bounded buffer: a writer
//! waits while it is full, which is how backpressure is tested. Interrupts (timeouts,
//! shutdown) end pending reads with end-of-stream and fail writes, like `shutdown(2)`.

use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, BytesMut};
use monoio::BufResult;

use super::poll::{AsyncRead, AsyncWrite, ReadBuf};
use super::{Addr, ConnInfo, Interrupt, Interruptible, Stop, Transport, WriteBuf};

/// One direction of the pipe.
#[derive(Debug, Default)]
struct Channel {
    data: BytesMut,
    capacity: usize,
    /// The writer shut down or went away: end-of-stream once `data` is read.
    write_closed: bool,
    /// The reader went away: writes fail.
    read_closed: bool,
    /// Interrupted: reads end at once, whatever is buffered.
    read_stopped: bool,
    /// Interrupted: writes fail.
    write_stopped: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

impl Channel {
    fn wake_reader(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
    }

    fn wake_writer(&mut self) {
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

type Shared = Rc<RefCell<Channel>>;

/// One end of an in-memory pipe.
#[derive(Debug)]
pub struct MemoryStream {
    inbound: Shared,
    outbound: Shared,
    info: Rc<ConnInfo>,
}

/// A connected pair `(client, server)`; each direction buffers at most `capacity`
/// bytes.
pub fn pipe(capacity: usize) -> (MemoryStream, MemoryStream) {
    let channel = || {
        Rc::new(RefCell::new(Channel {
            capacity: capacity.max(1),
            ..Channel::default()
        }))
    };
    let (up, down) = (channel(), channel());
    let info = |local, remote| {
        Rc::new(ConnInfo {
            local_addr: Addr::Memory(local),
            remote_addr: Addr::Memory(remote),
            scheme: "http",
            tls: None,
        })
    };
    let client = MemoryStream {
        inbound: down.clone(),
        outbound: up.clone(),
        info: info("client", "server"),
    };
    let server = MemoryStream {
        inbound: up,
        outbound: down,
        info: info("server", "client"),
    };
    (client, server)
}

impl MemoryStream {
    /// Bytes written to this end and not yet read by the other.
    pub fn unread_by_peer(&self) -> usize {
        self.outbound.borrow().data.len()
    }

    /// Bytes the peer wrote that this end has not read yet.
    pub fn unread_by_us(&self) -> usize {
        self.inbound.borrow().data.len()
    }

    /// Write what fits without waiting; returns how much (a test client that reads while
    /// it writes interleaves this with [`MemoryStream::try_read`]).
    pub fn try_write(&mut self, bytes: &[u8]) -> usize {
        let mut ch = self.outbound.borrow_mut();
        if ch.read_closed || ch.write_stopped {
            return 0;
        }
        let n = ch.capacity.saturating_sub(ch.data.len()).min(bytes.len());
        if n > 0 {
            ch.data.extend_from_slice(&bytes[..n]);
            ch.wake_reader();
        }
        n
    }

    /// Read what is there without waiting, appending to `buf`; returns how much.
    pub fn try_read(&mut self, buf: &mut BytesMut) -> usize {
        let mut ch = self.inbound.borrow_mut();
        let n = ch.data.len();
        if n > 0 {
            buf.extend_from_slice(&ch.data);
            ch.data.clear();
            ch.wake_writer();
        }
        n
    }

    /// The peer shut down its write side or went away (what it sent may be unread).
    pub fn peer_closed(&self) -> bool {
        self.inbound.borrow().write_closed
    }

    /// The peer shut down its write side or went away, and everything it sent was read.
    pub fn at_eof(&self) -> bool {
        let ch = self.inbound.borrow();
        ch.data.is_empty() && ch.write_closed
    }
}

impl Transport for MemoryStream {
    async fn readable(&self, _relaxed: bool) -> io::Result<()> {
        poll_fn(|cx| {
            let mut ch = self.inbound.borrow_mut();
            if ch.read_stopped || ch.write_closed || !ch.data.is_empty() {
                return Poll::Ready(Ok(()));
            }
            ch.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    async fn read(&mut self, mut buf: BytesMut) -> BufResult<usize, BytesMut> {
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        let res = poll_fn(|cx| {
            let mut ch = self.inbound.borrow_mut();
            if ch.read_stopped {
                return Poll::Ready(Ok(0));
            }
            if !ch.data.is_empty() {
                let n = ch.data.len().min(buf.capacity() - buf.len());
                buf.extend_from_slice(&ch.data[..n]);
                ch.data.advance(n);
                ch.wake_writer();
                return Poll::Ready(Ok(n));
            }
            if ch.write_closed {
                return Poll::Ready(Ok(0));
            }
            ch.reader = Some(cx.waker().clone());
            Poll::Pending
        })
        .await;
        (res, buf)
    }

    async fn write_all<B: WriteBuf>(&mut self, buf: B) -> BufResult<usize, B> {
        let mut written = 0;
        let res = poll_fn(|cx| {
            let bytes = buf.as_ref();
            let mut ch = self.outbound.borrow_mut();
            loop {
                if ch.write_stopped || ch.read_closed {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
                }
                if written == bytes.len() {
                    return Poll::Ready(Ok(written));
                }
                let room = ch.capacity.saturating_sub(ch.data.len());
                if room == 0 {
                    ch.writer = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                let n = room.min(bytes.len() - written);
                ch.data.extend_from_slice(&bytes[written..written + n]);
                written += n;
                ch.wake_reader();
            }
        })
        .await;
        (res, buf)
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        let mut ch = self.outbound.borrow_mut();
        ch.write_closed = true;
        ch.wake_reader();
        Ok(())
    }

    fn interrupt(&self) -> Interrupt {
        Interrupt::Handle(Rc::new(PipeInterrupt {
            inbound: self.inbound.clone(),
            outbound: self.outbound.clone(),
        }))
    }

    fn info(&self) -> &Rc<ConnInfo> {
        &self.info
    }

    type Poll = MemoryStream;

    fn into_poll(self) -> io::Result<MemoryStream> {
        Ok(self)
    }
}

impl AsyncRead for MemoryStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut ch = self.inbound.borrow_mut();
        if ch.read_stopped {
            return Poll::Ready(Ok(()));
        }
        if !ch.data.is_empty() {
            let n = ch.data.len().min(buf.remaining());
            buf.put_slice(&ch.data[..n]);
            ch.data.advance(n);
            ch.wake_writer();
            return Poll::Ready(Ok(()));
        }
        if ch.write_closed {
            return Poll::Ready(Ok(()));
        }
        ch.reader = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl AsyncWrite for MemoryStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut ch = self.outbound.borrow_mut();
        if ch.write_stopped || ch.read_closed {
            return Poll::Ready(Err(io::Error::from(io::ErrorKind::BrokenPipe)));
        }
        let room = ch.capacity.saturating_sub(ch.data.len());
        if room == 0 {
            ch.writer = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(bytes.len());
        ch.data.extend_from_slice(&bytes[..n]);
        ch.wake_reader();
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut ch = self.outbound.borrow_mut();
        ch.write_closed = true;
        ch.wake_reader();
        Poll::Ready(Ok(()))
    }
}

impl Drop for MemoryStream {
    fn drop(&mut self) {
        let mut out = self.outbound.borrow_mut();
        out.write_closed = true;
        out.wake_reader();
        drop(out);
        let mut inb = self.inbound.borrow_mut();
        inb.read_closed = true;
        inb.data.clear();
        inb.wake_writer();
    }
}

/// Wakes one end of a pipe the way `shutdown(2)` wakes a socket.
struct PipeInterrupt {
    inbound: Shared,
    outbound: Shared,
}

impl Interruptible for PipeInterrupt {
    fn interrupt(&self, stop: Stop) {
        let mut inb = self.inbound.borrow_mut();
        inb.read_stopped = true;
        inb.wake_reader();
        drop(inb);
        if stop == Stop::ReadWrite {
            let mut out = self.outbound.borrow_mut();
            out.write_stopped = true;
            out.wake_writer();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("a runtime")
            .block_on(f)
    }

    #[test]
    fn bytes_cross_in_both_directions() {
        run(async {
            let (mut a, mut b) = pipe(8);
            let writer = monoio::spawn(async move {
                let (res, _) = a.write_all(b"hello, pipe".to_vec()).await;
                assert_eq!(res.ok(), Some(11));
                a
            });
            let mut got = BytesMut::new();
            while got.len() < 11 {
                let (res, buf) = b.read(got).await;
                got = buf;
                assert!(res.expect("read") > 0);
            }
            assert_eq!(&got[..], b"hello, pipe");
            let a = writer.await;
            drop(a);
            let (res, _) = b.read(BytesMut::new()).await;
            assert_eq!(res.ok(), Some(0), "the peer went away: end-of-stream");
            assert!(b.at_eof());
        });
    }

    #[test]
    fn a_full_pipe_holds_the_writer_back() {
        run(async {
            let (mut a, b) = pipe(4);
            let pending = monoio::time::timeout(
                std::time::Duration::from_millis(20),
                a.write_all(b"12345678".to_vec()),
            )
            .await;
            assert!(pending.is_err(), "the write waits for the reader");
            assert_eq!(a.unread_by_peer(), 4);
            drop(b);
            let (res, _) = a.write_all(b"x".to_vec()).await;
            assert!(res.is_err(), "the reader went away");
        });
    }

    #[test]
    fn an_interrupt_ends_reads_and_fails_writes() {
        run(async {
            let (_client, mut server) = pipe(4);
            let interrupt = server.interrupt();
            monoio::spawn(async move { interrupt.fire(Stop::ReadWrite) });
            let (res, _) = server.read(BytesMut::new()).await;
            assert_eq!(res.ok(), Some(0));
            let (res, _) = server.write_all(b"x".to_vec()).await;
            assert!(res.is_err());
        });
    }
}
