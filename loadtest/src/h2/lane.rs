//! One stream slot of an HTTP/2 connection (a lane): what it sends next, its request in
//! flight, and the accounting of a request the server did not process.
//!
//! Accounting is exact, as over HTTP/1.1: every request taken from the budget ends as one
//! response or one error. A request the server did not process — refused by `GOAWAY`
//! with `NO_ERROR` (a stream above its last stream id: nginx does this after
//! `keepalive_requests`), or reset with `REFUSED_STREAM` — is not an error: it is sent
//! again (on a new connection when its connection is going away), at most
//! [`MAX_RESENDS`] times.

use crate::ctx::ThreadCtx;
use crate::schedule::{self, Due};
use crate::stats::ErrorKind;
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

/// A request in flight on a stream.
#[derive(Debug, Clone, Copy)]
pub struct Flight {
    /// Its stream.
    pub stream: u32,
    /// Where its latency counts from.
    pub sent_at: Instant,
    /// Whether it is measured.
    pub measured: bool,
    /// Times it was sent again before.
    pub resends: u8,
    /// When it times out (`--timeout` after it left).
    pub deadline: Instant,
}

/// What a lane does next.
#[derive(Debug, Clone, Copy)]
pub enum Next {
    /// Send a request now.
    Send(Carried),
    /// Its next request is due at this time (open loop).
    Wait(Instant),
    /// Nothing more to send.
    Done,
}

/// A lane's state, kept across its connection's reopenings.
#[derive(Debug)]
pub struct Lane {
    /// Global lane number, `0..connections * streams` (its open-loop schedule).
    pub index: usize,
    /// Open-loop slots taken so far.
    pub seq: u64,
    /// A request to send first.
    pub carry: Option<Carried>,
    /// Its next open-loop slot, not due yet when it was taken.
    pub wait: Option<Due>,
    /// Its request in flight.
    pub flight: Option<Flight>,
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
            wait: None,
            flight: None,
            done: false,
        }
    }

    /// What to send next as of `now` (a request taken from the budget, a time to wait
    /// for, or nothing more). `lanes` is the number of lanes of the run.
    pub fn next(&mut self, ctx: &ThreadCtx, lanes: usize, now: Instant) -> Next {
        if let Some(c) = self.carry.take() {
            return Next::Send(c);
        }
        let (sent_at, measured) = match self.wait.take() {
            // It waited for its slot: its latency counts from the actual send.
            Some(d) if d.at <= now => (now, d.measured),
            Some(d) => {
                self.wait = Some(d);
                return Next::Wait(d.at);
            }
            None => match schedule::due(ctx, self.index, lanes, &mut self.seq, now) {
                None => {
                    self.done = true;
                    return Next::Done;
                }
                Some(d) if d.at > now => {
                    self.wait = Some(d);
                    return Next::Wait(d.at);
                }
                // Due (closed loop), or overdue: the lane was busy at its slot.
                Some(d) => (d.at, d.measured),
            },
        };
        if ctx.take_budget(measured, 1).is_none() {
            self.done = true;
            return Next::Done;
        }
        Next::Send(Carried {
            sent_at,
            measured,
            resends: 0,
        })
    }

    /// The server did not process `f`: send it again, or fail it once it was sent
    /// [`MAX_RESENDS`] times again.
    pub fn unprocessed(&mut self, ctx: &ThreadCtx, f: Flight) {
        if f.resends < MAX_RESENDS {
            self.carry = Some(Carried {
                sent_at: f.sent_at,
                measured: f.measured,
                resends: f.resends + 1,
            });
        } else {
            ctx.fail(ErrorKind::Read, 1, f.measured);
        }
    }
}
