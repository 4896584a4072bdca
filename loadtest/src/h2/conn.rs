//! One HTTP/2 connection's task: its lanes, its [`Session`] and its socket halves.
//!
//! A read is always pending (so the server is never stuck writing to us while we write
//! to it); each completed read is taken whole: every frame in it is handled, every
//! response it completes recorded with one clock reading, and the lanes it frees send
//! their next requests, all of whose frames leave together in the next write (one
//! write at a time; what is queued meanwhile goes in the one after). One timer serves
//! the connection: the earliest of its requests' `--timeout` deadlines and its lanes'
//! open-loop slots; it fires rarely (a request's deadline is checked only when the
//! earliest one passes).
//!
//! A stream reset by the server fails that request only (`read`); `--timeout` fails one
//! request and resets its stream (`CANCEL`), the connection kept; a connection error
//! fails each lane's request in flight, and the connection is reopened by the caller.

use super::dial::Opened;
use super::frame::code;
use super::lane::{Flight, Lane, Next};
use super::session::{ConnError, Event, Session};
use super::template::Template;
use super::wire::Wire;
use crate::ctx::ThreadCtx;
use crate::stats::ErrorKind;
use monoio::io::{
    AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt, OwnedReadHalf, OwnedWriteHalf, Split,
};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

/// Capacity kept for the write buffer between batches; a larger one is released.
const KEEP_WRITE_BUF: usize = 256 * 1024;

type Reading<S> = Pin<Box<dyn Future<Output = (io::Result<usize>, OwnedReadHalf<S>, Vec<u8>)>>>;
type Writing<S> = Pin<Box<dyn Future<Output = (io::Result<usize>, OwnedWriteHalf<S>, Vec<u8>)>>>;

fn read_op<S: AsyncReadRent + AsyncWriteRent + 'static>(
    mut half: OwnedReadHalf<S>,
    buf: Vec<u8>,
) -> Reading<S> {
    Box::pin(async move {
        let (res, buf) = crate::conn::read_append(&mut half, buf).await;
        (res, half, buf)
    })
}

fn write_op<S: AsyncWriteRent + 'static>(mut half: OwnedWriteHalf<S>, buf: Vec<u8>) -> Writing<S> {
    Box::pin(async move {
        let (res, buf) = half.write_all(buf).await;
        (res, half, buf)
    })
}

/// What woke the connection.
enum Wake<S: AsyncWriteRent> {
    Read((io::Result<usize>, OwnedReadHalf<S>, Vec<u8>)),
    Wrote((io::Result<usize>, OwnedWriteHalf<S>, Vec<u8>)),
    Timer,
}

/// The lanes' side of a connection.
struct Lanes<'a> {
    ctx: &'a ThreadCtx,
    template: &'a Template,
    lanes: &'a mut [Lane],
    lanes_total: usize,
    timeout: Duration,
    /// Lanes ready to send (last out first).
    idle: Vec<usize>,
    /// Requests in flight.
    flights: usize,
    /// When the timer is set for.
    timer_at: Option<Instant>,
    timer: Pin<Box<monoio::time::Sleep>>,
}

impl Lanes<'_> {
    fn arm(&mut self, at: Instant) {
        if self.timer_at.is_none_or(|t| at < t) {
            self.timer
                .as_mut()
                .reset(monoio::time::Instant::from_std(at));
            self.timer_at = Some(at);
        }
    }

    /// Send the next request of every idle lane the session has room for.
    fn start(&mut self, sess: &mut Session, now: Instant) {
        while let Some(&i) = self.idle.last() {
            if !sess.can_open() {
                break;
            }
            self.idle.pop();
            // A lane woken twice for the same slot is listed twice.
            if self.lanes[i].flight.is_some() || self.lanes[i].done {
                continue;
            }
            match self.lanes[i].next(self.ctx, self.lanes_total, now) {
                Next::Send(c) => {
                    let stream = sess.open(i, self.template.block(), self.template.body());
                    let deadline = now + self.timeout;
                    self.lanes[i].flight = Some(Flight {
                        stream,
                        sent_at: c.sent_at,
                        measured: c.measured,
                        resends: c.resends,
                        deadline,
                    });
                    self.flights += 1;
                    self.arm(deadline);
                }
                Next::Wait(at) => self.arm(at),
                Next::Done => {}
            }
        }
    }

    /// The request in flight of lane `lane`, now over.
    fn land(&mut self, lane: usize) -> Option<Flight> {
        let f = self.lanes.get_mut(lane)?.flight.take()?;
        self.flights -= 1;
        self.idle.push(lane);
        Some(f)
    }

    /// Record what the session reported, as of `now`.
    fn on_events(&mut self, events: &mut Vec<Event>, now: Instant) {
        let ctx = self.ctx;
        for ev in events.drain(..) {
            match ev {
                Event::Done { lane, status } => {
                    if let Some(f) = self.land(lane) {
                        if f.measured {
                            ctx.response(status, ctx.stamp(now, f.sent_at));
                        }
                    }
                }
                Event::Reset { lane, code } => {
                    if let Some(f) = self.land(lane) {
                        if code == code::REFUSED_STREAM {
                            self.lanes[lane].unprocessed(ctx, f);
                        } else {
                            ctx.fail(ErrorKind::Read, 1, f.measured);
                        }
                    }
                }
                Event::Malformed { lane } => {
                    if let Some(f) = self.land(lane) {
                        ctx.fail(ErrorKind::Malformed, 1, f.measured);
                    }
                }
                Event::Unprocessed { lane } => {
                    if let Some(f) = self.land(lane) {
                        self.lanes[lane].unprocessed(ctx, f);
                    }
                }
            }
        }
    }

    /// The timer fired: time out the requests past their deadline, wake the lanes
    /// whose slot has come, and set the timer for the next of either.
    fn on_timer(&mut self, sess: &mut Session, now: Instant) {
        self.timer_at = None;
        let mut next: Option<Instant> = None;
        for i in 0..self.lanes.len() {
            if let Some(f) = self.lanes[i].flight {
                if f.deadline <= now {
                    self.land(i);
                    sess.cancel(f.stream);
                    self.ctx.fail(ErrorKind::Timeout, 1, f.measured);
                } else {
                    next = Some(next.map_or(f.deadline, |n| n.min(f.deadline)));
                }
            }
            if let Some(d) = self.lanes[i].wait {
                if d.at <= now {
                    self.idle.push(i);
                } else {
                    next = Some(next.map_or(d.at, |n| n.min(d.at)));
                }
            }
        }
        if let Some(at) = next {
            self.arm(at);
        }
    }

    /// Fail every request in flight with `kind`.
    fn fail_all(&mut self, kind: ErrorKind) {
        for lane in self.lanes.iter_mut() {
            if let Some(f) = lane.flight.take() {
                self.ctx.fail(kind, 1, f.measured);
            }
        }
        self.flights = 0;
    }

    /// Nothing in flight and nothing more to send here.
    fn finished(&self, sess: &Session) -> bool {
        self.flights == 0
            && (sess.going_away()
                || (self.idle.is_empty() && self.lanes.iter().all(|l| l.wait.is_none())))
    }
}

/// Run the lanes not done on the connection `opened` until each has stopped (the run
/// is over, or the connection is gone). `tls` tells whether it is TLS (for the hint
/// given when an h2c server does not speak HTTP/2).
pub async fn drive<S>(
    ctx: &ThreadCtx,
    opened: Opened<S>,
    mut wire: Wire,
    lanes: &mut [Lane],
    lanes_total: usize,
    tls: bool,
) where
    S: AsyncReadRent + AsyncWriteRent + Split + 'static,
{
    let plan = &*ctx.plan;
    let Some(template) = plan.h2.as_ref() else {
        lanes.iter_mut().for_each(|l| l.done = true);
        return;
    };
    let Opened { reader, writer, .. } = opened;
    let mut sess = Session::new();
    let mut events = Vec::new();
    let mut l = Lanes {
        ctx,
        template,
        idle: (0..lanes.len()).rev().filter(|&i| !lanes[i].done).collect(),
        lanes,
        lanes_total,
        timeout: plan.timeout,
        flights: 0,
        timer_at: None,
        timer: Box::pin(monoio::time::sleep(Duration::from_secs(3600))),
    };
    let mut writer = Some(writer);
    let mut writing: Option<Writing<S>> = None;
    let mut spare: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut reading: Option<Reading<S>> = None;
    // The read half between reads: the frames read are taken first (on the first
    // round, those that came with the end of the TLS handshake).
    let mut between_reads = Some(reader);
    let mut now = Instant::now();
    let failure: Option<(ErrorKind, Option<String>)> = loop {
        if let Some(half) = between_reads.take() {
            match sess.receive(&wire.frames, template.body(), &mut events) {
                Ok(taken) => {
                    wire.frames.drain(..taken);
                }
                Err(e) => break Some(conn_error(&mut sess, e, tls)),
            }
            l.on_events(&mut events, now);
            if wire.closed {
                break eof(&l, &sess, tls);
            }
            reading = Some(read_op(half, wire.read_buf()));
        }
        l.start(&mut sess, now);
        if writing.is_none() && wire.wants_write(&sess.out) {
            let Some(half) = writer.take() else {
                break Some((ErrorKind::Write, None));
            };
            ctx.written_at(sess.out.len(), now);
            let mut buf = std::mem::take(&mut spare);
            if let Err(e) = wire.seal(&mut sess.out, &mut buf) {
                break Some((
                    ErrorKind::Write,
                    Some(format!("HTTP/2 connection failed: {e}")),
                ));
            }
            writing = Some(write_op(half, buf));
        }
        if l.finished(&sess) {
            if !sess.going_away() {
                sess.goodbye(code::NO_ERROR);
                wire.close();
            }
            break None;
        }
        let wake = poll_fn(|cx| {
            if let Some(r) = reading.as_mut() {
                if let Poll::Ready(done) = r.as_mut().poll(cx) {
                    return Poll::Ready(Wake::Read(done));
                }
            }
            if let Some(w) = writing.as_mut() {
                if let Poll::Ready(done) = w.as_mut().poll(cx) {
                    return Poll::Ready(Wake::Wrote(done));
                }
            }
            if l.timer_at.is_some() && l.timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Wake::Timer);
            }
            Poll::Pending
        })
        .await;
        now = Instant::now();
        match wake {
            Wake::Read((res, half, buf)) => {
                reading = None;
                match res {
                    Ok(0) => {
                        let _ = wire.received(buf);
                        break eof(&l, &sess, tls);
                    }
                    Ok(_) => match wire.received(buf) {
                        Ok(n) => {
                            ctx.read_at(n, now);
                            between_reads = Some(half);
                        }
                        Err(why) => {
                            break Some((
                                ErrorKind::Read,
                                Some(format!("HTTP/2 connection failed: {why}")),
                            ))
                        }
                    },
                    Err(e) => {
                        let why = (l.flights > 0 || !sess.going_away())
                            .then(|| format!("HTTP/2 connection failed: reading failed: {e}"));
                        break Some((ErrorKind::Read, why));
                    }
                }
            }
            Wake::Wrote((res, half, mut buf)) => {
                writing = None;
                if let Err(e) = res {
                    break Some((
                        ErrorKind::Write,
                        Some(format!("HTTP/2 connection failed: writing failed: {e}")),
                    ));
                }
                writer = Some(half);
                buf.clear();
                if buf.capacity() <= KEEP_WRITE_BUF {
                    spare = buf;
                }
            }
            Wake::Timer => l.on_timer(&mut sess, now),
        }
    };
    match failure {
        Some((kind, why)) => {
            l.fail_all(kind);
            if let Some(why) = why {
                ctx.h2_failed(why);
            }
        }
        None => {
            // A graceful end: what is queued (our GOAWAY, TLS close_notify) leaves,
            // within --timeout.
            drop(reading);
            let flush = async {
                if let Some(w) = writing.take() {
                    let (res, half, _) = w.await;
                    if res.is_err() {
                        return;
                    }
                    writer = Some(half);
                }
                let mut buf = Vec::new();
                if let (Some(mut half), Ok(())) =
                    (writer.take(), wire.seal(&mut sess.out, &mut buf))
                {
                    if !buf.is_empty() {
                        let _ = half.write_all(buf).await;
                    }
                }
            };
            let _ = monoio::time::timeout(plan.timeout, flush).await;
        }
    }
}

/// A protocol error of the server's: our GOAWAY is queued (sent if it can be), and the
/// report says why (with a hint for h2c, whose server may not speak HTTP/2 at all).
fn conn_error(sess: &mut Session, e: ConnError, tls: bool) -> (ErrorKind, Option<String>) {
    match e.send {
        Some(c) => {
            sess.goodbye(c);
            let hint = if tls { "" } else { H2C_HINT };
            (
                ErrorKind::Malformed,
                Some(format!("HTTP/2 connection failed: {}{hint}", e.why)),
            )
        }
        None => (
            ErrorKind::Read,
            Some(format!("HTTP/2 connection failed: {}", e.why)),
        ),
    }
}

/// The hint for an h2c target that did not answer in HTTP/2.
const H2C_HINT: &str = " (does the server speak HTTP/2 with prior knowledge (h2c) there? \
                        With an http:// URL, --h2 sends the HTTP/2 preface at once)";

/// The server closed the connection: an error for the requests in flight (reported,
/// with the h2c hint when it never sent its SETTINGS); nothing to report when none
/// was.
fn eof(l: &Lanes<'_>, sess: &Session, tls: bool) -> Option<(ErrorKind, Option<String>)> {
    if l.flights == 0 {
        return Some((ErrorKind::Read, None));
    }
    let hint = if !tls && !sess.got_settings() {
        H2C_HINT
    } else {
        ""
    };
    Some((
        ErrorKind::Read,
        Some(format!(
            "HTTP/2 connection failed: the server closed the connection{hint}"
        )),
    ))
}
