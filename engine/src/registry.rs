//! The worker's table of open connections: what each is doing and since when.
//!
//! Timeouts and data rates are enforced here, without per-request timers: once a second
//! the worker's ticker sweeps the table (Kestrel's heartbeat), and a connection whose
//! wait ran out is woken through its transport's [`Interrupt`] (`shutdown(2)` for kernel
//! sockets), which completes its pending readiness wait or read with end-of-stream (and,
//! for a stalled write, fails the write). The connection then asks [`Registry::kicked`]
//! why and answers accordingly (close quietly, 408, abort). The per-request cost is a few
//! stores into this table.

use std::cell::{Cell, RefCell};

use crate::transport::{Interrupt, Stop};

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for the next request, holding no buffers (keep-alive timeout runs).
    Idle,
    /// Reading a request head (request-headers timeout runs).
    Head,
    /// Running the handler or writing a response.
    Busy,
    /// In the TLS handshake (the handshake timeout runs).
    Handshake,
    /// Upgraded to an opaque stream: no HTTP timeouts or data rates apply.
    Upgraded,
    /// A new connection waiting for its first request: the keep-alive timeout runs, but
    /// a graceful shutdown does not kick it (it gets a moment for its first request).
    Fresh,
    /// HTTP/2: the connection times itself (streams come and go); only shutdown's abort
    /// reaches it through the table.
    Multiplexed,
}

/// Why the worker woke a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kick {
    /// The server is shutting down (idle connections close).
    Shutdown,
    /// Idle longer than the keep-alive timeout: close without a response.
    KeepAlive,
    /// The request head took longer than the request-headers timeout: 408.
    HeadersTimeout,
    /// The TLS handshake took longer than the handshake timeout: close.
    HandshakeTimeout,
    /// The request body arrives slower than the minimum data rate: 408 or close.
    BodyRate,
    /// The client reads the response slower than the minimum data rate: abort.
    ResponseRate,
}

/// Timeout settings the sweep enforces, in whole seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    pub keep_alive: u32,
    pub request_headers: u32,
    pub tls_handshake: u32,
    /// Minimum request body rate (bytes/s) and its grace period; `None` disables.
    pub min_body_rate: Option<(u64, u32)>,
    /// Minimum response rate (bytes/s) and its grace period; `None` disables.
    pub min_response_rate: Option<(u64, u32)>,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Wakes the connection's pending I/O; `None` once it left the table.
    interrupt: Option<Interrupt>,
    phase: Phase,
    /// Tick at which `phase` was entered.
    since: u32,
    /// A body read is pending, and for how many ticks reads have been pending in total.
    reading_body: bool,
    body_waited: u32,
    body_bytes: u64,
    /// A write is pending, and for how many ticks writes have been pending in total.
    writing: bool,
    write_waited: u32,
    written: u64,
    /// Size of the pending write (see `sweep`).
    in_flight: u64,
    kicked: Option<Kick>,
    live: bool,
    /// Idle with a read (and its buffer) pending: cancelled after a second of silence.
    hot: bool,
}

/// Connections of a worker that may wait with a hot read (each holds a pooled buffer
/// meanwhile). Hot reads save an operation per request while their buffers stay in the
/// cache; with thousands of them they cost more than they save. Measured with wrk at
/// 12,000 keep-alive connections on one worker (`../shared/peers/run.sh`, two runs each):
/// every connection hot, p99 168 ms, max 216–227 ms, 60–71 k req/s; none hot, p99 133 ms,
/// max 140 ms, 71–80 k req/s (nginx in the same run: p99 144 ms, max 156–170 ms).
pub(crate) const MAX_HOT: u32 = 256;

/// Index of a connection in the table.
pub(crate) type ConnId = u32;

pub(crate) struct Registry {
    entries: RefCell<Vec<Entry>>,
    /// Connections waiting with a hot read now (at most [`MAX_HOT`]).
    hot: Cell<u32>,
    free: RefCell<Vec<ConnId>>,
    now: Cell<u32>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("connections", &self.entries.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Registry {
    pub fn new(timeouts: Timeouts) -> Self {
        Registry {
            entries: RefCell::new(Vec::new()),
            hot: Cell::new(0),
            free: RefCell::new(Vec::new()),
            now: Cell::new(0),
            timeouts,
        }
    }

    /// Add a connection (reading its first head).
    pub fn register(&self, interrupt: Interrupt) -> ConnId {
        let entry = Entry {
            interrupt: Some(interrupt),
            phase: Phase::Head,
            since: self.now.get(),
            reading_body: false,
            body_waited: 0,
            body_bytes: 0,
            writing: false,
            write_waited: 0,
            written: 0,
            in_flight: 0,
            kicked: None,
            live: true,
            hot: false,
        };
        let mut entries = self.entries.borrow_mut();
        match self.free.borrow_mut().pop() {
            Some(id) => {
                entries[id as usize] = entry;
                id
            }
            None => {
                entries.push(entry);
                (entries.len() - 1) as ConnId
            }
        }
    }

    /// Remove a connection (before its descriptor is closed).
    pub fn unregister(&self, id: ConnId) {
        if let Some(e) = self.entries.borrow_mut().get_mut(id as usize) {
            if e.live {
                e.live = false;
                e.interrupt = None;
                e.kicked = None;
                if std::mem::take(&mut e.hot) {
                    self.hot.set(self.hot.get() - 1);
                }
                self.free.borrow_mut().push(id);
            }
        }
    }

    /// Record the phase a connection enters.
    #[inline]
    pub fn set_phase(&self, id: ConnId, phase: Phase) {
        let now = self.now.get();
        self.with(id, |e| {
            e.phase = phase;
            e.since = now;
            if phase == Phase::Head {
                // A new request: its body and response rates start afresh.
                e.body_waited = 0;
                e.body_bytes = 0;
                e.write_waited = 0;
                e.written = 0;
                e.in_flight = 0;
            }
            if phase == Phase::Upgraded {
                e.reading_body = false;
                e.writing = false;
                if std::mem::take(&mut e.hot) {
                    self.hot.set(self.hot.get() - 1);
                }
            }
        });
    }

    /// A body read starts (`true`) or ends having received `bytes`.
    #[inline]
    pub fn body_read(&self, id: ConnId, pending: bool, bytes: usize) {
        self.with(id, |e| {
            e.reading_body = pending;
            e.body_bytes += bytes as u64;
        });
    }

    /// A write of `bytes` starts (`true`), or ends (`false`) having sent `bytes`.
    #[inline]
    pub fn write(&self, id: ConnId, pending: bool, bytes: usize) {
        self.with(id, |e| {
            e.writing = pending;
            if pending {
                e.in_flight = bytes as u64;
            } else {
                e.in_flight = 0;
                e.written += bytes as u64;
            }
        });
    }

    /// Enter the idle phase holding a pending read ("hot": the client has been sending
    /// requests back to back), taking one of the [`MAX_HOT`] places.
    pub fn go_hot(&self, id: ConnId) {
        self.set_phase(id, Phase::Idle);
        self.with(id, |e| {
            if !std::mem::replace(&mut e.hot, true) {
                self.hot.set(self.hot.get() + 1);
            }
        });
    }

    /// Whether one more connection may wait with a hot read: at most [`MAX_HOT`] do,
    /// the others wait for readiness, buffer-free.
    #[inline]
    pub fn room_for_hot(&self) -> bool {
        self.hot.get() < MAX_HOT
    }

    /// The hot read completed (its place is free again).
    #[inline]
    pub fn cool(&self, id: ConnId) {
        self.with(id, |e| {
            if std::mem::take(&mut e.hot) {
                self.hot.set(self.hot.get() - 1);
            }
        });
    }

    /// Record why a connection ends when it noticed by itself (a new connection whose
    /// first request did not come within the shutdown grace).
    pub fn note(&self, id: ConnId, kick: Kick) {
        self.with(id, |e| {
            e.kicked.get_or_insert(kick);
        });
    }

    /// Why the connection was woken, if it was.
    #[inline]
    pub fn kicked(&self, id: ConnId) -> Option<Kick> {
        self.entries
            .borrow()
            .get(id as usize)
            .and_then(|e| e.kicked)
    }

    #[inline]
    fn with(&self, id: ConnId, f: impl FnOnce(&mut Entry)) {
        if let Some(e) = self.entries.borrow_mut().get_mut(id as usize) {
            f(e);
        }
    }

    /// Wake every idle connection: the server is shutting down.
    pub fn kick_idle(&self) {
        for e in self.entries.borrow_mut().iter_mut() {
            if e.live && matches!(e.phase, Phase::Idle | Phase::Handshake) && e.kicked.is_none() {
                e.kicked = Some(Kick::Shutdown);
                if let Some(i) = &e.interrupt {
                    i.fire(Stop::Read);
                }
            }
        }
    }

    /// Wake every connection for good (reads end, writes fail): the shutdown timeout ran
    /// out. Upgraded connections are left to their [`Lease`](crate::shard::Lease): their
    /// stream may already be closed while the entry lives on.
    pub fn abort_all(&self) {
        for e in self.entries.borrow_mut().iter_mut() {
            if e.live && e.phase != Phase::Upgraded {
                e.kicked.get_or_insert(Kick::Shutdown);
                if let Some(i) = &e.interrupt {
                    i.fire(Stop::ReadWrite);
                }
            }
        }
    }

    /// Advance the clock one second and wake the connections whose wait ran out.
    pub fn sweep(&self) {
        let now = self.now.get() + 1;
        self.now.set(now);
        let t = self.timeouts;
        for e in self.entries.borrow_mut().iter_mut() {
            if !e.live || e.kicked.is_some() || e.phase == Phase::Upgraded {
                continue;
            }
            // The phase began somewhere inside tick `since`: only after more than the
            // timeout in whole ticks is it surely over (never early, at most 1 s late).
            let age = now.saturating_sub(e.since);
            let kick = match e.phase {
                Phase::Idle | Phase::Fresh if age > t.keep_alive => Some(Kick::KeepAlive),
                Phase::Head if age > t.request_headers => Some(Kick::HeadersTimeout),
                Phase::Handshake if age > t.tls_handshake => Some(Kick::HandshakeTimeout),
                _ => None,
            };
            let kick = kick.or_else(|| {
                if !e.reading_body {
                    return None;
                }
                e.body_waited += 1;
                let (rate, grace) = t.min_body_rate?;
                (e.body_waited > grace && e.body_bytes < rate * u64::from(e.body_waited))
                    .then_some(Kick::BodyRate)
            });
            let kick = kick.or_else(|| {
                if !e.writing {
                    return None;
                }
                e.write_waited += 1;
                let (rate, grace) = t.min_response_rate?;
                // A write reports its bytes only when all of them are sent, so the client
                // may have read up to all of the pending one: it is credited (the write
                // gets its own time at the minimum rate, as in Kestrel). Counting only
                // finished writes aborted clients reading at several times the minimum
                // rate whenever one write outlasted the grace period.
                let credited = e.written + e.in_flight;
                (e.write_waited > grace && credited < rate * u64::from(e.write_waited))
                    .then_some(Kick::ResponseRate)
            });
            if let Some(k) = kick {
                e.kicked = Some(k);
                let stop = if k == Kick::ResponseRate {
                    Stop::ReadWrite
                } else {
                    Stop::Read
                };
                if let Some(i) = &e.interrupt {
                    i.fire(stop);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> Registry {
        Registry::new(Timeouts {
            keep_alive: 3,
            request_headers: 2,
            tls_handshake: 2,
            min_body_rate: Some((100, 2)),
            min_response_rate: Some((100, 2)),
        })
    }

    #[test]
    fn idle_connections_time_out() {
        let r = registry();
        let id = r.register(Interrupt::Socket(-1));
        r.set_phase(id, Phase::Idle);
        r.sweep();
        r.sweep();
        r.sweep();
        assert_eq!(r.kicked(id), None);
        r.sweep();
        assert_eq!(r.kicked(id), Some(Kick::KeepAlive));
    }

    #[test]
    fn slow_heads_time_out() {
        let r = registry();
        let id = r.register(Interrupt::Socket(-1));
        r.sweep();
        r.sweep();
        assert_eq!(r.kicked(id), None);
        r.sweep();
        assert_eq!(r.kicked(id), Some(Kick::HeadersTimeout));
    }

    #[test]
    fn body_rate_counts_only_while_reading() {
        let r = registry();
        let id = r.register(Interrupt::Socket(-1));
        r.set_phase(id, Phase::Busy);
        for _ in 0..10 {
            r.sweep(); // not reading: no rate check
        }
        assert_eq!(r.kicked(id), None);
        r.body_read(id, true, 0);
        r.sweep();
        r.sweep();
        assert_eq!(r.kicked(id), None, "grace period");
        r.body_read(id, false, 250);
        r.body_read(id, true, 0);
        r.sweep(); // 250 bytes in 3 s < 300
        assert_eq!(r.kicked(id), Some(Kick::BodyRate));
    }

    #[test]
    fn fast_writers_pass() {
        let r = registry();
        let id = r.register(Interrupt::Socket(-1));
        r.set_phase(id, Phase::Busy);
        r.write(id, true, 0);
        for _ in 0..5 {
            r.sweep();
            r.write(id, false, 1000);
            r.write(id, true, 0);
        }
        assert_eq!(r.kicked(id), None);
    }

    #[test]
    fn a_large_write_in_flight_gets_its_time_at_the_minimum_rate() {
        let r = registry();
        let id = r.register(Interrupt::Socket(-1));
        r.set_phase(id, Phase::Busy);
        r.write(id, true, 1000);
        for _ in 0..10 {
            r.sweep(); // 1000 bytes at 100 B/s: 10 s
        }
        assert_eq!(r.kicked(id), None);
        r.sweep();
        assert_eq!(r.kicked(id), Some(Kick::ResponseRate));
    }

    #[test]
    fn abort_all_leaves_upgraded_entries_to_their_lease() {
        let r = registry();
        let busy = r.register(Interrupt::Socket(-1));
        r.set_phase(busy, Phase::Busy);
        let up = r.register(Interrupt::Socket(-1));
        r.set_phase(up, Phase::Upgraded);
        r.abort_all();
        assert_eq!(r.kicked(busy), Some(Kick::Shutdown));
        assert_eq!(r.kicked(up), None);
    }

    #[test]
    fn slots_are_reused() {
        let r = registry();
        let a = r.register(Interrupt::Socket(-1));
        r.unregister(a);
        r.unregister(a);
        let b = r.register(Interrupt::Socket(-1));
        let c = r.register(Interrupt::Socket(-1));
        assert_eq!(a, b);
        assert_ne!(b, c);
    }

    #[test]
    fn at_most_max_hot_connections_wait_hot() {
        let r = registry();
        let ids: Vec<ConnId> = (0..=MAX_HOT)
            .map(|_| r.register(Interrupt::Socket(-1)))
            .collect();
        for &id in &ids[..MAX_HOT as usize] {
            assert!(r.room_for_hot());
            r.go_hot(id);
        }
        assert!(!r.room_for_hot(), "full at {MAX_HOT}");
        // Each way out of the hot wait makes room again: the read completed, ...
        r.cool(ids[0]);
        r.cool(ids[0]);
        assert!(r.room_for_hot());
        r.go_hot(ids[MAX_HOT as usize]);
        assert!(!r.room_for_hot());
        // ... the connection ended, ...
        r.unregister(ids[1]);
        r.unregister(ids[1]);
        assert!(r.room_for_hot());
        r.go_hot(ids[0]);
        // ... it upgraded, ...
        r.set_phase(ids[2], Phase::Upgraded);
        assert!(r.room_for_hot());
        let late = r.register(Interrupt::Socket(-1));
        r.go_hot(late);
        assert!(!r.room_for_hot());
        // ... and a silent hot connection keeps its place (its read is not taken
        // back) until it speaks or its keep-alive timeout ends it.
        r.sweep();
        r.sweep();
        assert!(!r.room_for_hot());
        r.sweep();
        r.sweep();
        // Past the keep-alive timeout (3 ticks here): kicked like any idle connection.
        assert_eq!(r.kicked(late), Some(Kick::KeepAlive));
        r.cool(late);
        assert!(r.room_for_hot());
    }
}
