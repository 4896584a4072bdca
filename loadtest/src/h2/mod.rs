//! HTTP/2 (`--h2`): h2c with prior knowledge for `http://` targets, ALPN `h2` over TLS
//! for `https://`, on hyperium's `h2` client.
//!
//! - [`template`]: the request every stream sends, built once.
//! - [`dial`]: the socket as a poll-style stream (monoio `poll-io`), TLS
//!   (tokio-rustls), the HTTP/2 handshake with large flow-control windows.
//! - [`count`]: bytes read and written, counted below HTTP/2 (above TLS).
//! - [`lane`]: one stream slot's request loop and its exact accounting.
//! - [`frame`], [`hpack`]: a frame codec and an HPACK decoder of our own (not used
//!   yet: they are to replace the `h2` crate).
//!
//! [`run`] is one connection: it opens it, runs its `--streams` lanes and the
//! connection's driver in one task (the driver is polled after the lanes, so what they
//! queue leaves in the same turn; only woken lanes are polled), and reopens it when it
//! is gone while a lane still has requests to send.

pub mod count;
pub mod dial;
pub mod frame;
pub mod hpack;
pub mod lane;
pub mod template;

pub use template::Template;

use crate::conn::ConnectError;
use crate::ctx::ThreadCtx;
use crate::schedule;
use crate::stats::ErrorKind;
use dial::{Dial, Driver, Sender};
use futures_util::stream::{FuturesUnordered, StreamExt};
use lane::Lane;
use std::future::{poll_fn, Future};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

/// Pause after a failed connect before trying again.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// Run connection number `index` (global, `0..connections`) and its lanes until the
/// run's end or its thread's request budget.
pub async fn run<D: Dial>(ctx: Rc<ThreadCtx>, dial: D, index: usize) {
    let plan = ctx.plan.clone();
    let streams = plan.streams.max(1);
    let lanes_total = plan.connections * streams;
    let mut lanes: Vec<Lane> = (0..streams)
        .map(|s| Lane::new(index * streams + s))
        .collect();
    while lanes.iter().any(|l| !l.done) {
        match dial::open(&ctx, &dial, plan.timeout).await {
            Ok((sender, driver, session)) => {
                ctx.opened_with(|| session);
                drive(&ctx, sender, driver, &mut lanes, lanes_total, D::TLS).await;
            }
            Err(e) => {
                let kind = match e {
                    ConnectError::Connect => ErrorKind::Connect,
                    ConnectError::Tls(why) => {
                        ctx.tls_failed(why);
                        ErrorKind::Tls
                    }
                };
                fail_each(&ctx, &mut lanes, kind, lanes_total).await;
                monoio::time::sleep(CONNECT_BACKOFF).await;
            }
        }
    }
}

/// A connection could not be opened: each lane still running fails its next request
/// (a carried one, or the next of its schedule) with `kind`.
async fn fail_each(ctx: &ThreadCtx, lanes: &mut [Lane], kind: ErrorKind, lanes_total: usize) {
    let mut failing: FuturesUnordered<_> = lanes
        .iter_mut()
        .filter(|l| !l.done)
        .map(|lane| async move {
            let measured = match lane.carry.take() {
                Some(c) => c.measured,
                None => match schedule::next(ctx, lane.index, lanes_total, &mut lane.seq).await {
                    Some(slot) if ctx.take_budget(slot.measured, 1).is_some() => slot.measured,
                    _ => {
                        lane.done = true;
                        return;
                    }
                },
            };
            ctx.fail(kind, 1, measured);
        })
        .collect();
    while failing.next().await.is_some() {}
}

/// Run the lanes not done on one connection, with its driver, until every lane has
/// stopped (run over, or connection gone).
async fn drive<S>(
    ctx: &ThreadCtx,
    sender: Sender,
    driver: Driver<S>,
    lanes: &mut [Lane],
    lanes_total: usize,
    tls: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut driver = Some(Box::pin(driver));
    let mut running: FuturesUnordered<_> = lanes
        .iter_mut()
        .filter(|l| !l.done)
        .map(|l| lane::run(ctx, sender.clone(), l, lanes_total))
        .collect();
    drop(sender);
    poll_fn(|cx| {
        while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
        if running.is_empty() {
            return Poll::Ready(());
        }
        if let Some(d) = driver.as_mut() {
            if let Poll::Ready(res) = d.as_mut().poll(cx) {
                if let Err(e) = res {
                    if let Some(why) = describe(&e, tls) {
                        ctx.h2_failed(why);
                    }
                }
                driver = None;
                // The lanes learn of the end from their streams, woken by the driver's
                // end; poll them again to be sure none is left waiting.
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    })
    .await;
}

/// What to tell the user about a connection that ended with `e`; `None` for a graceful
/// `GOAWAY` from the server, and for the closing of a socket the server had already
/// closed after one (`ENOTCONN` from `shutdown(2)`).
fn describe(e: &h2::Error, tls: bool) -> Option<String> {
    if e.is_go_away() && e.is_remote() && e.reason() == Some(h2::Reason::NO_ERROR) {
        return None;
    }
    if e.get_io().map(std::io::Error::kind) == Some(std::io::ErrorKind::NotConnected) {
        return None;
    }
    let hint = if !tls && e.is_go_away() && e.is_library() {
        " (does the server speak HTTP/2 with prior knowledge (h2c) there? With an http:// \
         URL, --h2 sends the HTTP/2 preface at once)"
    } else {
        ""
    };
    Some(format!("HTTP/2 connection failed: {e}{hint}"))
}
