//! An HTTP/2 request body as the handler reads it: DATA frames from `h2`'s `RecvStream`,
//! with the flow-control window given back as each piece is handed over (the client may
//! send more only as fast as the handler reads), the body size limit (`413`, Kestrel's
//! `MaxRequestBodySize`, also checked against `content-length` up front), the minimum
//! data rate per stream (`408`), `Expect: 100-continue` (the first read asks the stream
//! to send `100`), and the trailers.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::io;
use std::time::{Duration, Instant};

use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::RecvStream;
use http::{HeaderMap, HeaderValue};

use super::tunnel::Tunnel;
use crate::request::{
    BodyLimitError, LocalFuture, RequestIo, UpgradeError, UpgradeHeaders, Upgraded,
};
use crate::shard::{HttpSettings, Lease, ShardCore};

/// Why reading the body failed; the stream answers with the status instead of the
/// handler's response when the response has not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyFailure {
    /// Over the body size limit: `413`.
    TooLarge,
    /// Slower than the minimum data rate: `408`.
    TooSlow,
}

impl BodyFailure {
    pub fn status(self) -> u16 {
        match self {
            BodyFailure::TooLarge => 413,
            BodyFailure::TooSlow => 408,
        }
    }

    fn error(self) -> io::Error {
        match self {
            BodyFailure::TooLarge => {
                io::Error::new(io::ErrorKind::InvalidData, "request body too large")
            }
            BodyFailure::TooSlow => io::Error::new(
                io::ErrorKind::TimedOut,
                "request body arriving slower than the minimum data rate",
            ),
        }
    }
}

/// The stream's response half, shared by the stream's task (which answers) and the
/// body (which answers an accepted extended CONNECT itself).
pub(super) type Respond = Rc<RefCell<Option<SendResponse<Bytes>>>>;

/// One stream's request body, and its seam to the connection.
pub(super) struct H2Body {
    recv: RefCell<Option<RecvStream>>,
    core: Rc<ShardCore>,
    respond: Respond,
    /// The `:protocol` of an extended CONNECT.
    protocol: Option<String>,
    upgraded: Cell<bool>,
    limit: Cell<Option<u64>>,
    /// `content-length`, if sent.
    declared: Option<u64>,
    received: Cell<u64>,
    started: Cell<bool>,
    /// The last DATA frame was read.
    ended: Cell<bool>,
    /// Time spent waiting for data so far (the rate is measured over it).
    waited: Cell<Duration>,
    /// Minimum rate (bytes/s) and grace period.
    rate: Option<(u64, Duration)>,
    failure: Cell<Option<BodyFailure>>,
    /// The client sent `Expect: 100-continue` and no `100` has been asked for yet.
    expects_continue: Cell<bool>,
    /// The first read asked for the `100 Continue` (the stream sends it).
    continue_wanted: Cell<bool>,
}

impl H2Body {
    pub fn new(
        recv: RecvStream,
        parts: &http::request::Parts,
        core: Rc<ShardCore>,
        respond: Respond,
    ) -> Self {
        let headers = &parts.headers;
        let settings = &core.http;
        let limit = settings.max_request_body_size;
        let rate = settings
            .timeouts
            .min_body_rate
            .map(|(rate, grace)| (rate, Duration::from_secs(grace.into())));
        let protocol = parts
            .extensions
            .get::<h2::ext::Protocol>()
            .map(|p| p.as_str().to_owned());
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        H2Body {
            recv: RefCell::new(Some(recv)),
            core,
            respond,
            protocol,
            upgraded: Cell::new(false),
            limit: Cell::new(limit),
            declared,
            received: Cell::new(0),
            started: Cell::new(false),
            ended: Cell::new(false),
            waited: Cell::new(Duration::ZERO),
            rate,
            failure: Cell::new(None),
            expects_continue: Cell::new(
                headers
                    .get(http::header::EXPECT)
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue")),
            ),
            continue_wanted: Cell::new(false),
        }
    }

    /// Whether a `100 Continue` is to be sent now (once, at the first read).
    pub fn take_continue(&self) -> bool {
        self.continue_wanted.replace(false)
    }

    /// An extended CONNECT (`:protocol`): no request body; the stream is the tunnel.
    pub fn is_connect(&self) -> bool {
        self.protocol.is_some()
    }

    /// Why reading failed, if it did.
    pub fn failure(&self) -> Option<BodyFailure> {
        self.failure.get()
    }

    fn fail(&self, why: BodyFailure) -> Option<io::Result<Bytes>> {
        self.failure.set(Some(why));
        Some(Err(why.error()))
    }

    async fn next(&self) -> Option<io::Result<Bytes>> {
        if let Some(f) = self.failure.get() {
            return Some(Err(f.error()));
        }
        let limit = self.limit.get();
        if !self.started.replace(true) {
            if let (Some(max), Some(declared)) = (limit, self.declared) {
                if declared > max {
                    return self.fail(BodyFailure::TooLarge);
                }
            }
            if self.expects_continue.replace(false) {
                self.continue_wanted.set(true);
            }
        }
        let data = poll_fn(|cx| match self.recv.borrow_mut().as_mut() {
            Some(recv) => recv.poll_data(cx),
            None => std::task::Poll::Ready(None),
        });
        let got = match self.rate {
            None => data.await,
            Some((rate, grace)) => {
                // Kestrel's rule, over the time spent waiting: after the grace period
                // the body must have averaged at least `rate`.
                let needed =
                    Duration::from_secs_f64((self.received.get() + 1) as f64 / rate as f64);
                let allowed = grace.max(needed).saturating_sub(self.waited.get());
                let began = Instant::now();
                let got = monoio::time::timeout(allowed, data).await;
                self.waited.set(self.waited.get() + began.elapsed());
                match got {
                    Ok(got) => got,
                    Err(_) => return self.fail(BodyFailure::TooSlow),
                }
            }
        };
        match got {
            None => {
                self.ended.set(true);
                None
            }
            Some(Ok(chunk)) => {
                let n = chunk.len();
                // Handed over: the client may send this much more.
                if let Some(recv) = self.recv.borrow_mut().as_mut() {
                    let _ = recv.flow_control().release_capacity(n);
                }
                let received = self.received.get() + n as u64;
                self.received.set(received);
                if limit.is_some_and(|max| received > max) {
                    return self.fail(BodyFailure::TooLarge);
                }
                Some(Ok(chunk))
            }
            Some(Err(e)) => Some(Err(io::Error::new(io::ErrorKind::ConnectionReset, e))),
        }
    }
}

impl H2Body {
    /// Accept an extended CONNECT: `200` with `extra` on the stream, which becomes the
    /// handler's opaque stream (counted as an upgraded connection).
    fn accept(&self, extra: UpgradeHeaders) -> Result<Upgraded, UpgradeError> {
        if self.protocol.is_none() {
            return Err(UpgradeError::NotUpgradable);
        }
        if self.upgraded.get() {
            return Err(UpgradeError::AlreadyUpgraded);
        }
        let lease = Lease::take(&self.core).ok_or(UpgradeError::LimitReached)?;
        let mut respond = self
            .respond
            .borrow_mut()
            .take()
            .ok_or(UpgradeError::ConnectionLost)?;
        let recv = self
            .recv
            .borrow_mut()
            .take()
            .ok_or(UpgradeError::ConnectionLost)?;
        let mut head = http::Response::new(());
        let map = head.headers_mut();
        for (name, value) in extra {
            map.append(name, value);
        }
        if let Ok(date) = HeaderValue::from_bytes(&self.core.date.get()) {
            map.insert(http::header::DATE, date);
        }
        let send = respond
            .send_response(head, false)
            .map_err(|_| UpgradeError::ConnectionLost)?;
        self.upgraded.set(true);
        Ok(Upgraded::new(
            Box::new(Tunnel {
                recv,
                send,
                ready: None,
            }),
            BytesMut::new(),
            Box::new(lease),
        ))
    }
}

impl RequestIo for H2Body {
    fn next_chunk(&self) -> LocalFuture<'_, Option<io::Result<Bytes>>> {
        Box::pin(self.next())
    }

    fn set_body_limit(&self, limit: Option<u64>) -> Result<(), BodyLimitError> {
        if self.started.get() {
            return Err(BodyLimitError);
        }
        self.limit.set(limit);
        Ok(())
    }

    fn upgrade(
        &self,
        _protocol: HeaderValue,
        extra: UpgradeHeaders,
    ) -> LocalFuture<'_, Result<Upgraded, UpgradeError>> {
        Box::pin(async move { self.accept(extra) })
    }

    fn settings(&self) -> &HttpSettings {
        &self.core.http
    }

    fn connect_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    fn trailers(&self) -> LocalFuture<'_, io::Result<Option<HeaderMap>>> {
        Box::pin(async {
            if !self.ended.get() {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the request trailers are not available until the body has been read",
                ));
            }
            poll_fn(|cx| match self.recv.borrow_mut().as_mut() {
                Some(recv) => recv.poll_trailers(cx),
                None => std::task::Poll::Ready(Ok(None)),
            })
            .await
            .map_err(|e| io::Error::new(io::ErrorKind::ConnectionReset, e))
        })
    }
}
