//! One HTTP/2 stream: the request head checked and handed to the handler (a client
//! RST_STREAM cancels the handler), then the response — HEADERS, DATA as the client's
//! flow-control window allows (never more buffered than the window grants), trailers.
//!
//! A response the client does not take at the minimum data rate (a window held shut,
//! the zero-window stall) ends the connection with GOAWAY(ENHANCE_YOUR_CALM), as
//! Kestrel's `MinResponseDataRate` aborts it.

use std::cell::RefCell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use h2::server::SendResponse;
use h2::{Reason, RecvStream, SendStream};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, StatusCode};

use super::body::{BodyFailure, H2Body, Respond};
use super::head::{self, HeadLimits, Refused};
use super::watch::Watch;
use crate::body::{BodyKind, TrailersFuture};
use crate::handler::Handler;
use crate::proto::CatchUnwind;
use crate::response::Response;
use crate::shard::Shard;
use crate::transport::ConnInfo;

/// Serve one stream to its end.
pub(super) async fn serve<H: Handler>(
    shard: Rc<Shard<H>>,
    info: Rc<ConnInfo>,
    watch: Rc<Watch>,
    req: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
) {
    let (parts, recv) = req.into_parts();
    let settings = &shard.http;
    let has_body = !recv.is_end_stream();
    let is_head = parts.method == Method::HEAD;
    let rate =
        |r: Option<(u64, u32)>| r.map(|(rate, grace)| (rate, Duration::from_secs(grace.into())));
    let shared: Respond = Rc::new(RefCell::new(Some(respond)));
    let body = Rc::new(H2Body::new(
        recv,
        &parts,
        shard.core.clone(),
        shared.clone(),
    ));
    let limits = HeadLimits {
        h1: settings.limits,
        max_field: settings.http2.max_request_header_field_size as usize,
    };
    // An extended CONNECT has no request body: its DATA is the accepted tunnel's.
    let has_body = has_body && !body.is_connect();
    let upgradable = body.is_connect();
    let head = head::request(&parts, limits, info, body.clone(), has_body, upgradable);
    let Some(mut respond) = shared.borrow_mut().take() else {
        return;
    };
    let request = match head {
        Ok(r) => r,
        Err(Refused::Status(code)) => {
            tracing::debug!(status = code, "HTTP/2 request refused");
            let _ = send(
                &shard,
                &mut respond,
                status_response(code),
                false,
                None,
                &watch,
                None,
            )
            .await;
            return;
        }
        Err(Refused::Malformed) => {
            respond.send_reset(Reason::PROTOCOL_ERROR);
            return;
        }
    };
    drop(parts);

    // From here the body may take the response half (accepting an extended CONNECT).
    *shared.borrow_mut() = Some(respond);
    let mut out = None;
    let ran = {
        let run = pin!(CatchUnwind::new(shard.handler.call(request), &mut out));
        let mut run = run;
        poll_fn(|cx| {
            if let Poll::Ready(r) = run.as_mut().poll(cx) {
                return Poll::Ready(Some(r));
            }
            let mut slot = shared.borrow_mut();
            let Some(respond) = slot.as_mut() else {
                // Accepted as a tunnel: the tunnel sees resets from now on.
                return Poll::Pending;
            };
            if body.take_continue() {
                // The handler started reading a body sent with `Expect: 100-continue`.
                let mut interim = http::Response::new(());
                *interim.status_mut() = StatusCode::CONTINUE;
                let _ = respond.send_informational(interim);
            }
            // The client reset the stream: the handler's work is moot.
            match respond.poll_reset(cx) {
                Poll::Ready(_) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    };
    let Some(mut respond) = shared.borrow_mut().take() else {
        // The handler accepted the extended CONNECT: its answer was the `200`.
        return;
    };
    let response = match (ran, out) {
        (None, _) => return,
        (Some(Ok(())), Some(response)) => response,
        _ => {
            bump_panic(&shard);
            tracing::error!("handler panicked; answering 500");
            status_response(500)
        }
    };
    // A body that broke its limit or rate is answered for, whatever the handler said.
    let response = match body.failure() {
        Some(f) => status_response(f.status()),
        None => response,
    };
    let _ = send(
        &shard,
        &mut respond,
        response,
        is_head,
        rate(settings.timeouts.min_response_rate),
        &watch,
        Some(&body),
    )
    .await;
}

fn bump_panic<H>(shard: &Shard<H>) {
    crate::metrics::bump(&shard.counters.panics, 1);
}

/// An empty response the server itself answers with.
fn status_response(code: u16) -> Response {
    Response::with_status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
}

/// Why sending stopped early.
#[derive(Debug)]
enum SendError {
    /// The stream or connection is gone, or the body stream failed (reset sent).
    Gone,
    /// The client took the response slower than the minimum data rate.
    TooSlow,
}

impl From<h2::Error> for SendError {
    fn from(_: h2::Error) -> Self {
        SendError::Gone
    }
}

/// Send `response` on the stream.
async fn send<H>(
    shard: &Shard<H>,
    respond: &mut SendResponse<Bytes>,
    response: Response,
    is_head: bool,
    rate: Option<(u64, Duration)>,
    watch: &Watch,
    request_body: Option<&H2Body>,
) -> Result<(), SendError> {
    let response = match first_piece(response, request_body) {
        Ok(r) => r,
        Err(f) => status_response(f.status()),
    };
    let code = response.status().as_u16();
    if code >= 400 {
        shard.counters.error(code);
    }
    let (status, headers, body) = response.into_parts();
    let (body, trailers) = body.split_trailers();
    let no_body = is_head || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED;
    let mut head = http::Response::new(());
    *head.status_mut() = status;
    let map = head.headers_mut();
    map.reserve(headers.len() + 3);
    for (name, value) in headers {
        if !connection_specific(&name) {
            map.append(name, value);
        }
    }
    if !map.contains_key(header::DATE) {
        if let Ok(v) = HeaderValue::from_bytes(&shard.date.get()) {
            map.insert(header::DATE, v);
        }
    }
    if let Some(server) = shard.http.server_header.as_deref() {
        if !map.contains_key(header::SERVER) {
            if let Ok(v) = HeaderValue::from_bytes(server) {
                map.insert(header::SERVER, v);
            }
        }
    }
    if let (Some(len), false) = (body.len(), map.contains_key(header::CONTENT_LENGTH)) {
        if status != StatusCode::NO_CONTENT && status != StatusCode::NOT_MODIFIED {
            map.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
    }
    let trailers = if no_body { None } else { trailers };
    let empty = no_body || body.is_empty();
    let mut stream = respond.send_response(head, empty && trailers.is_none())?;
    if no_body {
        return Ok(());
    }
    let mut pace = rate.map(Pace::new);
    let sent = send_body(&mut stream, body.kind, trailers, &mut pace).await;
    match sent {
        Ok(()) => Ok(()),
        Err(SendError::TooSlow) => {
            tracing::debug!("HTTP/2 response slower than the minimum data rate");
            watch.flood("responses not read (flow-control window held shut)");
            Err(SendError::TooSlow)
        }
        Err(e) => {
            // A request body over its limit or rate, once the response has started,
            // ends the stream (Kestrel: RST_STREAM); so does a failed body stream.
            let failed = request_body.and_then(H2Body::failure).is_some();
            stream.send_reset(if failed {
                Reason::CANCEL
            } else {
                Reason::INTERNAL_ERROR
            });
            Err(e)
        }
    }
}

/// For a streamed body, take its first piece if it is ready now, so that a request
/// body that fails at once (a `content-length` over the limit, read by an echoing
/// handler) is still answered with its status rather than a reset (as HTTP/1 sends the
/// head with the first piece). Only what is ready is taken: a slow stream's head goes
/// out at once.
fn first_piece(response: Response, body: Option<&H2Body>) -> Result<Response, BodyFailure> {
    use futures_util::FutureExt;
    let (status, headers, b) = response.into_parts();
    let (b, trailers) = b.split_trailers();
    let b = match b.kind {
        BodyKind::Stream(mut chunks) => match chunks.next().now_or_never() {
            Some(Some(Err(e))) => match body.and_then(H2Body::failure) {
                Some(f) => return Err(f),
                None => crate::Body::from_stream(futures_util::stream::once(async { Err(e) })),
            },
            Some(Some(Ok(first))) => crate::Body::from_stream(
                futures_util::stream::once(async { Ok(first) }).chain(chunks),
            ),
            Some(None) => crate::Body::empty(),
            None => crate::Body::from_stream(chunks),
        },
        kind => crate::Body { kind },
    };
    let b = match trailers {
        Some(t) => b.with_trailers(t),
        None => b,
    };
    let mut r = Response::new(b);
    r.set_status(status);
    for (n, v) in headers {
        r.append_header(n, v);
    }
    Ok(r)
}

/// Send the body, then the trailers (or END_STREAM).
async fn send_body(
    stream: &mut SendStream<Bytes>,
    body: BodyKind,
    trailers: Option<TrailersFuture>,
    pace: &mut Option<Pace>,
) -> Result<(), SendError> {
    let last = trailers.is_none();
    match body {
        BodyKind::Empty | BodyKind::Trailed(_) => {}
        BodyKind::Full(bytes) => send_data(stream, bytes, last, pace).await?,
        BodyKind::Stream(mut chunks) => {
            while let Some(chunk) = chunks.next().await {
                match chunk {
                    Ok(c) if c.is_empty() => {}
                    Ok(c) => send_data(stream, c, false, pace).await?,
                    Err(e) => {
                        tracing::debug!(error = %e, "response body stream failed; resetting the stream");
                        return Err(SendError::Gone);
                    }
                }
            }
            if last {
                stream.send_data(Bytes::new(), true)?;
            }
        }
    }
    if let Some(trailers) = trailers {
        let mut map: HeaderMap = trailers.await;
        map.retain_names(|n| !connection_specific(n));
        stream.send_trailers(map)?;
    }
    Ok(())
}

/// Send `data` as the window allows; `end` closes the stream with the last piece.
async fn send_data(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
    pace: &mut Option<Pace>,
) -> Result<(), SendError> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let wait = capacity(stream);
        let granted = match pace {
            None => wait.await?,
            Some(pace) => pace.timed(wait).await??,
        };
        let piece = data.split_to(granted.min(data.len()));
        stream.send_data(piece, end && data.is_empty())?;
    }
    Ok(())
}

/// The minimum response data rate of one stream, measured over the time spent waiting
/// for the client to open its flow-control window: after the grace period, the window
/// must have opened by at least `rate` bytes per second waited. A window held shut
/// fails after the grace period; a slow reader above the rate never does.
struct Pace {
    rate: u64,
    grace: Duration,
    granted: u64,
    waited: Duration,
}

impl Pace {
    fn new((rate, grace): (u64, Duration)) -> Self {
        Pace {
            rate,
            grace,
            granted: 0,
            waited: Duration::ZERO,
        }
    }

    /// Wait for `capacity` within what the rate allows.
    async fn timed(
        &mut self,
        capacity: impl Future<Output = Result<usize, SendError>>,
    ) -> Result<Result<usize, SendError>, SendError> {
        let needed = Duration::from_secs_f64((self.granted + 1) as f64 / self.rate as f64);
        let allowed = self.grace.max(needed).saturating_sub(self.waited);
        let began = std::time::Instant::now();
        let got = monoio::time::timeout(allowed, capacity).await;
        self.waited += began.elapsed();
        let got = got.map_err(|_| SendError::TooSlow)?;
        if let Ok(n) = &got {
            self.granted += *n as u64;
        }
        Ok(got)
    }
}

/// Wait until the stream may send some bytes; how many.
async fn capacity(stream: &mut SendStream<Bytes>) -> Result<usize, SendError> {
    loop {
        let now = stream.capacity();
        if now > 0 {
            return Ok(now);
        }
        match poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err(SendError::Gone),
        }
    }
}

/// Fields HTTP/2 forbids (RFC 9113 §8.2.2): HTTP/1 connection management.
fn connection_specific(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
        || name == "keep-alive"
        || name == "proxy-connection"
}

/// `HeaderMap::retain` for names.
trait RetainNames {
    fn retain_names(&mut self, keep: impl Fn(&HeaderName) -> bool);
}

impl RetainNames for HeaderMap {
    fn retain_names(&mut self, keep: impl Fn(&HeaderName) -> bool) {
        let drop: Vec<HeaderName> = self.keys().filter(|n| !keep(n)).cloned().collect();
        for n in drop {
            self.remove(n);
        }
    }
}
