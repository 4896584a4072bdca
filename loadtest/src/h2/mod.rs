//! HTTP/2 (`--h2`): h2c with prior knowledge for `http://` targets, ALPN `h2` over TLS
//! for `https://`, on a lean client of our own: the load generator needs one request
//! shape, sent again and again, and the status of each response, so it keeps only that.
//!
//! - [`template`]: the request every stream sends, HPACK-encoded once per run.
//! - [`frame`]: the frames, read out of the read buffer and appended to the write
//!   buffer (sans-IO).
//! - [`hpack`]: decoding response header blocks (dynamic table, Huffman).
//! - [`session`]: one connection's protocol state (sans-IO): streams, settings, flow
//!   control, GOAWAY.
//! - [`dial`]: the socket, the TLS handshake (ALPN `h2`), split read and write halves.
//! - [`wire`]: h2c bytes as they are, or rustls driven by hand.
//! - [`lane`]: one stream slot: what it sends next and its exact accounting.
//! - [`conn`]: one connection's task: a read always pending, each read's frames handled
//!   whole, the next requests' frames leaving in one write.
//!
//! [`run`] is one connection slot: it opens the connection, runs its `--streams` lanes
//! on it, and reopens it when it is gone while a lane still has requests to send.

pub mod conn;
pub mod dial;
pub mod frame;
pub mod hpack;
pub mod lane;
pub mod session;
pub mod template;
pub mod wire;

pub use template::Template;

use crate::conn::ConnectError;
use crate::ctx::ThreadCtx;
use crate::stats::ErrorKind;
use dial::Dial;
use lane::{Lane, Next};
use std::rc::Rc;
use std::time::{Duration, Instant};
use wire::Wire;

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
        let opened = dial.dial(plan.timeout).await.and_then(|mut o| {
            let wire = Wire::new(o.tls.take()).map_err(ConnectError::Tls)?;
            Ok((o, wire))
        });
        match opened {
            Ok((opened, wire)) => {
                ctx.opened_with(|| opened.session.clone());
                conn::drive(&ctx, opened, wire, &mut lanes, lanes_total, D::TLS).await;
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
/// (a carried one, or the next of its schedule, once it is due) with `kind`.
async fn fail_each(ctx: &ThreadCtx, lanes: &mut [Lane], kind: ErrorKind, lanes_total: usize) {
    for lane in lanes.iter_mut().filter(|l| !l.done) {
        loop {
            match lane.next(ctx, lanes_total, Instant::now()) {
                Next::Send(c) => {
                    ctx.fail(kind, 1, c.measured);
                    break;
                }
                Next::Wait(at) => {
                    monoio::time::sleep_until(monoio::time::Instant::from_std(at)).await;
                }
                Next::Done => break,
            }
        }
    }
}
