//! A frame watcher on the bytes an HTTP/2 connection reads: it follows the frame
//! headers (9 bytes each; payloads are skipped, never copied) and keeps a token bucket
//! per kind of frame that costs the server work without bound but that `h2` accepts
//! (PING and SETTINGS answered one by one, RST_STREAM of accepted streams — the rapid
//! reset attack, PRIORITY). A bucket that runs dry is a flood: the connection ends with
//! GOAWAY(ENHANCE_YOUR_CALM). `h2` itself ends CONTINUATION floods, small-DATA floods
//! and resets of not-yet-accepted streams the same way.
//!
//! It also notes when bytes last arrived (for the keep-alive PING), and replays the
//! bytes read while the protocol was being chosen before reading more.

use std::cell::{Cell, RefCell};
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;

use crate::transport::poll::{AsyncRead, AsyncWrite, ReadBuf};
use crate::transport::prefixed::Prefixed;

/// The client preface before the first frame.
const PREFACE_LEN: usize = 24;
const FRAME_HEADER: usize = 9;

const DATA: u8 = 0;
const HEADERS: u8 = 1;
const PRIORITY: u8 = 2;
const RST_STREAM: u8 = 3;
const SETTINGS: u8 = 4;
const PING: u8 = 6;
const CONTINUATION: u8 = 9;
const ACK: u8 = 0x1;
const END_STREAM: u8 = 0x1;

/// What the watcher concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    Fine,
    /// A flood of the named frame kind.
    Flood(&'static str),
}

/// A token bucket: `burst` frames at once, `per_sec` more each second.
#[derive(Debug)]
struct Bucket {
    name: &'static str,
    burst: u32,
    per_sec: u32,
    tokens: u32,
}

impl Bucket {
    const fn new(name: &'static str, burst: u32, per_sec: u32) -> Self {
        Bucket {
            name,
            burst,
            per_sec,
            tokens: burst,
        }
    }

    fn refill(&mut self, millis: u64) {
        let add = (u64::from(self.per_sec) * millis / 1000).min(u64::from(self.burst));
        self.tokens = (self.tokens + add as u32).min(self.burst);
    }

    /// Take one token; `false` when there was none.
    fn take(&mut self) -> bool {
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Where the parser is in the byte stream.
#[derive(Debug)]
struct Parse {
    preface_left: usize,
    header: [u8; FRAME_HEADER],
    header_len: usize,
    payload_left: usize,
}

/// The watcher's state, shared with the connection driver.
#[derive(Debug)]
pub(super) struct Watch {
    bytes_read: Cell<u64>,
    last_read: Cell<Instant>,
    verdict: Cell<Verdict>,
    parse: RefCell<Parse>,
    buckets: RefCell<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    refilled: Instant,
    ping: Bucket,
    settings: Bucket,
    reset: Bucket,
    priority: Bucket,
    empty: Bucket,
}

impl Watch {
    fn new() -> Self {
        let now = Instant::now();
        Watch {
            bytes_read: Cell::new(0),
            last_read: Cell::new(now),
            verdict: Cell::new(Verdict::Fine),
            parse: RefCell::new(Parse {
                preface_left: PREFACE_LEN,
                header: [0; FRAME_HEADER],
                header_len: 0,
                payload_left: 0,
            }),
            buckets: RefCell::new(Buckets {
                refilled: now,
                ping: Bucket::new("PING", 100, 10),
                settings: Bucket::new("SETTINGS", 100, 10),
                // Kestrel allows 5 x 20 refused streams in 5 s; a client that resets
                // streams it opened at a sustained rate above this is attacking.
                reset: Bucket::new("RST_STREAM", 200, 50),
                priority: Bucket::new("PRIORITY", 1000, 100),
                // Empty HEADERS/CONTINUATION/DATA frames that end nothing.
                empty: Bucket::new("empty frames", 1000, 100),
            }),
        }
    }

    pub fn verdict(&self) -> Verdict {
        self.verdict.get()
    }

    /// Report an attack seen elsewhere (a stream whose window stays shut).
    pub fn flood(&self, what: &'static str) {
        if self.verdict.get() == Verdict::Fine {
            self.verdict.set(Verdict::Flood(what));
        }
    }

    pub fn bytes_read(&self) -> u64 {
        self.bytes_read.get()
    }

    pub fn last_read(&self) -> Instant {
        self.last_read.get()
    }

    /// Follow `bytes`, just read.
    fn saw(&self, mut bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let now = Instant::now();
        self.bytes_read
            .set(self.bytes_read.get() + bytes.len() as u64);
        self.last_read.set(now);
        let mut buckets = self.buckets.borrow_mut();
        let elapsed = now.duration_since(buckets.refilled).as_millis() as u64;
        if elapsed >= 100 {
            buckets.refill(now, elapsed);
        }
        let mut p = self.parse.borrow_mut();
        while !bytes.is_empty() {
            if p.preface_left > 0 {
                let n = p.preface_left.min(bytes.len());
                p.preface_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            if p.payload_left > 0 {
                let n = p.payload_left.min(bytes.len());
                p.payload_left -= n;
                bytes = &bytes[n..];
                continue;
            }
            let n = (FRAME_HEADER - p.header_len).min(bytes.len());
            let at = p.header_len;
            p.header[at..at + n].copy_from_slice(&bytes[..n]);
            p.header_len += n;
            bytes = &bytes[n..];
            if p.header_len < FRAME_HEADER {
                break;
            }
            p.header_len = 0;
            let h = p.header;
            let len = (usize::from(h[0]) << 16) | (usize::from(h[1]) << 8) | usize::from(h[2]);
            p.payload_left = len;
            if let Some(name) = buckets.charge(h[3], h[4], len) {
                if self.verdict.get() == Verdict::Fine {
                    self.verdict.set(Verdict::Flood(name));
                }
            }
        }
    }
}

impl Buckets {
    fn refill(&mut self, now: Instant, millis: u64) {
        self.refilled = now;
        let Buckets {
            ping,
            settings,
            reset,
            priority,
            empty,
            ..
        } = self;
        for b in [ping, settings, reset, priority, empty] {
            b.refill(millis);
        }
    }

    /// Account for one frame; the flood's name when a bucket ran dry.
    fn charge(&mut self, kind: u8, flags: u8, len: usize) -> Option<&'static str> {
        let bucket = match kind {
            PING if flags & ACK == 0 => &mut self.ping,
            SETTINGS if flags & ACK == 0 => &mut self.settings,
            RST_STREAM => &mut self.reset,
            PRIORITY => &mut self.priority,
            DATA if len == 0 && flags & END_STREAM == 0 => &mut self.empty,
            HEADERS | CONTINUATION if len == 0 => &mut self.empty,
            _ => return None,
        };
        (!bucket.take()).then_some(bucket.name)
    }
}

/// A poll-style stream whose reads pass the watcher; the first return `prefix`.
pub(super) struct Watched<P> {
    inner: Prefixed<P>,
    watch: Rc<Watch>,
}

impl<P> Watched<P> {
    pub fn new(prefix: Bytes, inner: P) -> (Self, Rc<Watch>) {
        let watch = Rc::new(Watch::new());
        (
            Watched {
                inner: Prefixed::new(inner, prefix),
                watch: watch.clone(),
            },
            watch,
        )
    }
}

impl<P: AsyncRead + Unpin> AsyncRead for Watched<P> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            this.watch.saw(&buf.filled()[before..]);
        }
        res
    }
}

impl<P: AsyncWrite + Unpin> AsyncWrite for Watched<P> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn frames_split_anywhere_are_followed() {
        let w = Watch::new();
        let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        for _ in 0..100 {
            bytes.extend(frame(PING, 0, &[0; 8]));
            bytes.extend(frame(DATA, 0, &[7; 300]));
        }
        for piece in bytes.chunks(7) {
            w.saw(piece);
        }
        assert_eq!(w.verdict(), Verdict::Fine, "100 PINGs fit the burst");
        w.saw(&frame(PING, 0, &[0; 8]));
        assert_eq!(w.verdict(), Verdict::Flood("PING"));
    }

    #[test]
    fn acks_and_payload_bytes_are_not_frames() {
        let w = Watch::new();
        w.saw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..1000 {
            w.saw(&frame(SETTINGS, ACK, &[]));
            // A DATA payload that looks like PING headers is skipped.
            w.saw(&frame(DATA, 0, &frame(PING, 0, &[0; 8])));
        }
        assert_eq!(w.verdict(), Verdict::Fine);
    }

    #[test]
    fn resets_run_dry() {
        let w = Watch::new();
        w.saw(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        for _ in 0..201 {
            w.saw(&frame(RST_STREAM, 0, &[0, 0, 0, 8]));
        }
        assert_eq!(w.verdict(), Verdict::Flood("RST_STREAM"));
    }
}
