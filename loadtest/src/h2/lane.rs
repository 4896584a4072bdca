//! One stream slot of an HTTP/2 connection (a lane): it sends a request, reads its
//! response to the end, records it, and sends the next, until the run is over or its
//! connection is gone. `--streams` lanes share a connection.
//!
//! Accounting is exact, as over HTTP/1.1: every request taken from the budget ends as one
//! response or one error. A request the server did not process — never sent because the
//! connection was already going away, refused by `GOAWAY` with `NO_ERROR` (a stream
//! above its last stream id: nginx does this after `keepalive_requests`), or reset with
//! `REFUSED_STREAM` — is not an error: it is sent again (on a new connection when its
//! connection is gone), at most [`MAX_RESENDS`] times. A stream reset by the server fails
//! that request only; a connection error fails the in-flight request of every lane and
//! the connection is reopened.
//!
//! `--timeout` bounds each request from its send to the end of its response body; a
//! request past it is a timeout and its stream is reset (`CANCEL`), the connection kept.

use super::dial::Sender;
use super::template::Template;
use crate::ctx::ThreadCtx;
use crate::schedule;
use crate::stats::ErrorKind;
use h2::Reason;
use std::future::poll_fn;
use std::time::Instant;

/// How often one request is sent again after the server did not process it.
pub const MAX_RESENDS: u8 = 3;

/// A request to send again, with its original send time.
#[derive(Debug, Clone, Copy)]
pub struct Carried {
    /// Where its latency counts from.
    pub sent_at: Instant,
    /// Whether it is measured.
    pub measured: bool,
    /// Times it was sent again so far.
    pub resends: u8,
}

/// A lane's state, kept across its connection's reopenings.
#[derive(Debug)]
pub struct Lane {
    /// Global lane number, `0..connections * streams` (its open-loop schedule).
    pub index: usize,
    /// Open-loop slots taken so far.
    pub seq: u64,
    /// A request to send first on the next connection.
    pub carry: Option<Carried>,
    /// Nothing more to send: the run is over or the budget spent.
    pub done: bool,
}

impl Lane {
    /// Lane number `index`, nothing sent yet.
    pub fn new(index: usize) -> Lane {
        Lane {
            index,
            seq: 0,
            carry: None,
            done: false,
        }
    }
}

/// How a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The server did not process it: send it again (on a new connection if `dead`).
    Unprocessed { dead: bool },
    /// This stream failed; the connection goes on.
    Stream(ErrorKind),
    /// The connection failed.
    Conn(ErrorKind),
}

/// Reasons that mean the peer broke the protocol.
fn protocol_violation(reason: Option<Reason>) -> bool {
    matches!(
        reason,
        Some(Reason::PROTOCOL_ERROR | Reason::COMPRESSION_ERROR | Reason::FRAME_SIZE_ERROR)
    )
}

/// Classify an error seen after the request was sent.
fn after_send(e: &h2::Error) -> Failure {
    if e.is_go_away() {
        if e.is_remote() && e.reason() == Some(Reason::NO_ERROR) {
            Failure::Unprocessed { dead: true }
        } else if e.is_library() && protocol_violation(e.reason()) {
            Failure::Conn(ErrorKind::Malformed)
        } else {
            Failure::Conn(ErrorKind::Read)
        }
    } else if e.is_reset() {
        if e.is_remote() && e.reason() == Some(Reason::REFUSED_STREAM) {
            Failure::Unprocessed { dead: false }
        } else if e.is_library() && protocol_violation(e.reason()) {
            Failure::Stream(ErrorKind::Malformed)
        } else {
            Failure::Stream(ErrorKind::Read)
        }
    } else {
        Failure::Conn(ErrorKind::Read)
    }
}

/// Send one request and read its whole response: its status.
async fn exchange(sender: &mut Sender, t: &Template) -> Result<u16, Failure> {
    // Errors before anything was sent are the connection's (it is going away or gone).
    let unsent = |_| Failure::Unprocessed { dead: true };
    poll_fn(|cx| sender.poll_ready(cx)).await.map_err(unsent)?;
    let body = t.body();
    let (response, mut tx) = sender
        .send_request(t.request(), body.is_empty())
        .map_err(unsent)?;
    if !body.is_empty() {
        tx.send_data(body.clone(), true)
            .map_err(|e| after_send(&e))?;
    }
    let response = response.await.map_err(|e| after_send(&e))?;
    let status = response.status().as_u16();
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.map_err(|e| after_send(&e))?;
        // Give the window back as the data is consumed (the stream's and the
        // connection's); h2 sends WINDOW_UPDATE once half a window is released.
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    Ok(status)
}

/// Run `lane` on the connection of `sender` until the run is over (the lane is then
/// `done`) or the connection is gone. `lanes` is the number of lanes of the run.
pub async fn run(ctx: &ThreadCtx, mut sender: Sender, lane: &mut Lane, lanes: usize) {
    let plan = &*ctx.plan;
    let Some(template) = plan.h2.as_ref() else {
        lane.done = true;
        return;
    };
    loop {
        let (sent_at, measured, resends) = match lane.carry.take() {
            Some(c) => (c.sent_at, c.measured, c.resends),
            None => {
                let Some(slot) = schedule::next(ctx, lane.index, lanes, &mut lane.seq).await else {
                    lane.done = true;
                    return;
                };
                if ctx.take_budget(slot.measured, 1).is_none() {
                    lane.done = true;
                    return;
                }
                (slot.sent_at, slot.measured, 0)
            }
        };
        let outcome = monoio::time::timeout(plan.timeout, exchange(&mut sender, template)).await;
        match outcome {
            Ok(Ok(status)) => {
                if measured {
                    ctx.response(status, ctx.stamp(Instant::now(), sent_at));
                }
            }
            Err(_) => ctx.fail(ErrorKind::Timeout, 1, measured),
            Ok(Err(Failure::Unprocessed { dead })) => {
                if resends < MAX_RESENDS {
                    lane.carry = Some(Carried {
                        sent_at,
                        measured,
                        resends: resends + 1,
                    });
                } else {
                    ctx.fail(ErrorKind::Read, 1, measured);
                }
                if dead {
                    return;
                }
            }
            Ok(Err(Failure::Stream(kind))) => ctx.fail(kind, 1, measured),
            Ok(Err(Failure::Conn(kind))) => {
                ctx.fail(kind, 1, measured);
                return;
            }
        }
    }
}
