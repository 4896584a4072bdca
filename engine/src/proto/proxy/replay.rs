//! [`Proxied`]: a transport after its PROXY header. It carries the connection's
//! [`ConnInfo`] as the header told it, and replays the bytes read past the header before
//! reading its transport again; everything else goes straight to the transport.

use std::future::{ready, Future};
use std::io;
use std::rc::Rc;

use bytes::BytesMut;
use futures_util::future::Either;
use monoio::BufResult;

use crate::transport::prefixed::Prefixed;
use crate::transport::{ConnInfo, Interrupt, Transport, WriteBuf};

/// A transport whose PROXY header was read.
pub(crate) struct Proxied<T> {
    inner: T,
    /// Read past the header, not yet handed on (emptied by the first read).
    rest: BytesMut,
    info: Rc<ConnInfo>,
}

impl<T: Transport> Proxied<T> {
    pub(super) fn new(inner: T, rest: BytesMut, info: ConnInfo) -> Self {
        Proxied {
            inner,
            rest,
            info: Rc::new(info),
        }
    }

    /// Append the bytes kept from the header's reads to `buf` (and let them go).
    fn replay(&mut self, mut buf: BytesMut) -> BufResult<usize, BytesMut> {
        let rest = std::mem::take(&mut self.rest);
        buf.extend_from_slice(&rest);
        (Ok(rest.len()), buf)
    }
}

impl<T: Transport> Transport for Proxied<T> {
    const HOT_READS: bool = T::HOT_READS;

    fn readable(&self, relaxed: bool) -> impl Future<Output = io::Result<()>> {
        if self.rest.is_empty() {
            Either::Left(self.inner.readable(relaxed))
        } else {
            Either::Right(ready(Ok(())))
        }
    }

    fn read(&mut self, buf: BytesMut) -> impl Future<Output = BufResult<usize, BytesMut>> {
        if self.rest.is_empty() {
            Either::Left(self.inner.read(buf))
        } else {
            Either::Right(ready(self.replay(buf)))
        }
    }

    fn write_all<B: WriteBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.inner.write_all(buf)
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        self.inner.shutdown()
    }

    fn interrupt(&self) -> Interrupt {
        self.inner.interrupt()
    }

    fn info(&self) -> &Rc<ConnInfo> {
        &self.info
    }

    type Poll = Prefixed<T::Poll>;

    fn into_poll(self) -> io::Result<Self::Poll> {
        Ok(Prefixed::new(self.inner.into_poll()?, self.rest.freeze()))
    }
}
