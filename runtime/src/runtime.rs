//! Building a thread's monoio runtime, timers enabled: io_uring with the best ring setup
//! flags the kernel accepts, or the legacy driver (epoll; kqueue on macOS and FreeBSD).
//! The io_uring part itself is `uring.rs` (Linux) or its twin `uring_none.rs`
//! (elsewhere: no ring is ever built).
//!
//! A monoio runtime is `!Send`: build it on the thread that runs it. With
//! `IORING_SETUP_SINGLE_ISSUER` that is also the kernel's rule: only the thread that set
//! the ring up may submit to it.

use std::future::Future;
use std::io;

use monoio::time::TimeDriver;
use monoio::{LegacyDriver, RuntimeBuilder};

use crate::backend::Backend;
pub use crate::uring::{uring_runtime_with, UringRuntime};

/// A monoio runtime on the legacy driver (epoll; kqueue on macOS and FreeBSD), with
/// timers.
pub type LegacyRuntime = monoio::Runtime<TimeDriver<LegacyDriver>>;

/// The setup flags an io_uring ring is created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingFlags {
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (Linux 6.1+):
    /// completions run when the thread waits for events.
    DeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19+): completions run on the thread's next
    /// kernel entry.
    CoopTaskrun,
    /// No flags: completions interrupt the thread.
    Plain,
}

impl RingFlags {
    /// Every setting, best first: the order [`uring_runtime`] tries them in.
    pub const BEST_FIRST: [RingFlags; 3] = [
        RingFlags::DeferTaskrun,
        RingFlags::CoopTaskrun,
        RingFlags::Plain,
    ];
}

/// An io_uring runtime whose completions never interrupt the thread: with
/// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN` (Linux 6.1+) they are run
/// when the thread waits for events, else with `IORING_SETUP_COOP_TASKRUN` (5.19+) on its
/// next kernel entry, else (older kernels) a plain ring. Each thread is the only one that
/// submits to its ring. Measured on the server's workers in one wrk run
/// (`../shared/peers/run.sh`, 3 runs each): server CPU per request 0.72 / 6.27 / 6.21 µs
/// (pipelined / plaintext / json) with deferred task work, 0.75 / 6.37 / 6.27 with
/// cooperative, 10.6 µs plaintext with a plain ring. On peregrine-load's threads,
/// cooperative task work alone measured 10–20 % less CPU per request than a plain ring.
///
/// Returns the runtime and the flags it got; the error is the plain ring's.
pub fn uring_runtime(entries: u32) -> io::Result<(UringRuntime, RingFlags)> {
    for flags in [RingFlags::DeferTaskrun, RingFlags::CoopTaskrun] {
        if let Ok(rt) = uring_runtime_with(flags, entries) {
            return Ok((rt, flags));
        }
    }
    uring_runtime_with(RingFlags::Plain, entries).map(|rt| (rt, RingFlags::Plain))
}

/// What the kernel shows of an io_uring runtime's completion queue (see
/// [`ring_state`](crate::ring_state)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RingState {
    /// Completions posted and not yet reaped.
    pub completions_waiting: u32,
    /// The queue is full and the kernel holds more completions in its overflow list,
    /// delivered when the thread next enters the ring (`IORING_SQ_CQ_OVERFLOW`).
    pub overflowing: bool,
    /// Completions the kernel dropped for want of room (it keeps them instead when it
    /// can: this stays 0 unless memory ran short).
    pub completions_dropped: u32,
}

/// A runtime on the legacy driver (epoll; kqueue on macOS and FreeBSD).
pub fn legacy_runtime() -> io::Result<LegacyRuntime> {
    RuntimeBuilder::<LegacyDriver>::new().enable_timer().build()
}

/// A runtime on either backend.
// Built once per thread and never moved about; where io_uring does not exist its variant
// is empty, which is all the size difference is.
#[allow(clippy::large_enum_variant)]
pub enum Runtime {
    /// io_uring, with the flags its ring got.
    IoUring(UringRuntime, RingFlags),
    /// The legacy driver.
    Epoll(LegacyRuntime),
}

impl Runtime {
    /// Build a runtime for `backend`; `ring_entries` sizes an io_uring ring (monoio
    /// raises it to at least 256).
    pub fn build(backend: Backend, ring_entries: u32) -> io::Result<Runtime> {
        match backend {
            Backend::IoUring => {
                uring_runtime(ring_entries).map(|(rt, flags)| Runtime::IoUring(rt, flags))
            }
            Backend::Epoll => legacy_runtime().map(Runtime::Epoll),
        }
    }

    /// The backend it runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Runtime::IoUring(..) => Backend::IoUring,
            Runtime::Epoll(_) => Backend::Epoll,
        }
    }

    /// The io_uring ring's flags (`None` on epoll).
    pub fn ring_flags(&self) -> Option<RingFlags> {
        match self {
            Runtime::IoUring(_, flags) => Some(*flags),
            Runtime::Epoll(_) => None,
        }
    }

    /// Run `future` (and the tasks it spawns) to completion.
    pub fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        match self {
            Runtime::IoUring(rt, _) => rt.block_on(future),
            Runtime::Epoll(rt) => rt.block_on(future),
        }
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("backend", &self.backend())
            .field("ring_flags", &self.ring_flags())
            .finish()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::backend::RING_ENTRIES;
    use std::time::Duration;

    /// Timers work (they are enabled) and the runtime runs `!Send` futures.
    pub(crate) fn sleep_and_count(rt: &mut Runtime) -> usize {
        let local = std::rc::Rc::new(std::cell::Cell::new(0));
        let l = local.clone();
        rt.block_on(async move {
            monoio::spawn(async move { l.set(l.get() + 1) }).await;
            monoio::time::sleep(Duration::from_millis(1)).await;
        });
        local.get()
    }

    #[test]
    fn epoll_runtime_runs() {
        let mut rt = Runtime::build(Backend::Epoll, RING_ENTRIES).unwrap();
        assert_eq!(rt.backend(), Backend::Epoll);
        assert_eq!(rt.ring_flags(), None);
        assert_eq!(sleep_and_count(&mut rt), 1);
    }

    #[test]
    fn uring_runtime_fails_cleanly() {
        // More entries than the kernel allows (32768) without IORING_SETUP_CLAMP.
        assert!(uring_runtime(u32::MAX).is_err());
    }
}
