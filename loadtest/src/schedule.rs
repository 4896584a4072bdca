//! When a lane sends its next request, and whether that request is measured.
//!
//! A lane is one sender of requests: an HTTP/1.1 connection (its batch of `--pipeline`
//! requests goes out together), or one HTTP/2 stream slot of a connection (`--streams`
//! of them per connection). In a closed loop a lane sends as soon as its previous
//! request is answered. In the open loop (`--rate`) lane `lane` of `lanes` owns slots
//! `lane`, `lane + lanes`, `lane + 2 * lanes`, … of the run's schedule, one every
//! `1 / rate` seconds.

use crate::ctx::ThreadCtx;
use std::time::{Duration, Instant};

/// A lane's next send, decided without waiting (HTTP/2 lanes, which share their
/// connection's task and so cannot sleep one by one).
#[derive(Debug, Clone, Copy)]
pub struct Due {
    /// When it is due: `now` in a closed loop, its slot's intended time with `--rate`.
    pub at: Instant,
    /// Sent after warm-up: counted (and taken from the request budget).
    pub measured: bool,
}

/// Lane `lane`'s next send as of `now`; `None` once the run is over. `seq` counts the
/// lane's slots so far. When it is due later, the caller waits for it and counts its
/// latency from the actual send; when it is overdue (the lane was busy), from `at`.
pub fn due(ctx: &ThreadCtx, lane: usize, lanes: usize, seq: &mut u64, now: Instant) -> Option<Due> {
    let clock = ctx.clock;
    match ctx.plan.rate {
        Some(rate) => {
            let slot = lane as f64 + *seq as f64 * lanes as f64;
            *seq += 1;
            let at = clock.start + Duration::from_secs_f64(slot / rate);
            if clock.end.is_some_and(|end| at >= end) {
                return None;
            }
            Some(Due {
                at,
                measured: at >= clock.measure_start,
            })
        }
        None => {
            if clock.end.is_some_and(|end| now >= end) {
                return None;
            }
            Some(Due {
                at: now,
                measured: now >= clock.measure_start,
            })
        }
    }
}

/// The next send of a lane.
#[derive(Debug, Clone, Copy)]
pub struct Slot {
    /// Where its latency counts from.
    pub sent_at: Instant,
    /// Sent after warm-up: counted (and taken from the request budget).
    pub measured: bool,
    /// A new send of a closed loop, whose latency starts when it is written (after
    /// connecting, as with wrk), not when it was decided.
    pub fresh: bool,
}

/// Wait for lane `lane`'s next slot (open loop) or take it now (closed loop); `None` once
/// the run is over. `seq` counts the lane's slots so far.
pub async fn next(ctx: &ThreadCtx, lane: usize, lanes: usize, seq: &mut u64) -> Option<Slot> {
    let clock = ctx.clock;
    match ctx.plan.rate {
        Some(rate) => {
            let slot = lane as f64 + *seq as f64 * lanes as f64;
            *seq += 1;
            let intended = clock.start + Duration::from_secs_f64(slot / rate);
            if clock.end.is_some_and(|end| intended >= end) {
                return None;
            }
            // Latency counts from the intended time when the lane was still busy then
            // (coordinated omission). When it was idle and waited, the timer's own
            // lateness (its granularity is 1 ms) is not the server's: count from the
            // actual send.
            let sent_at = if intended > Instant::now() {
                monoio::time::sleep_until(monoio::time::Instant::from_std(intended)).await;
                Instant::now()
            } else {
                intended
            };
            Some(Slot {
                sent_at,
                measured: intended >= clock.measure_start,
                fresh: false,
            })
        }
        None => {
            let now = Instant::now();
            if clock.end.is_some_and(|end| now >= end) {
                return None;
            }
            Some(Slot {
                sent_at: now,
                measured: now >= clock.measure_start,
                fresh: true,
            })
        }
    }
}
