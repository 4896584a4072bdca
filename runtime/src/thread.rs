//! Runtime threads: a named thread, pinned to a core when asked, running a monoio
//! runtime on the chosen backend, with a `!Send` future made on that thread.
//!
//! [`ThreadBuilder::spawn`] returns once the thread has built its runtime, so that a
//! runtime that cannot be built is the caller's error, not a message from a thread that
//! has already gone.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};

pub use core_affinity::CoreId;

use crate::backend::{Backend, RING_ENTRIES};
use crate::runtime::{RingFlags, Runtime};

/// The cores this process may run on, in order (empty when they cannot be read).
pub fn cores() -> Vec<CoreId> {
    core_affinity::get_core_ids().unwrap_or_default()
}

/// Why threads cannot be pinned on this platform (`None` where they can: Linux, FreeBSD).
/// Callers that pin say it once rather than once per thread.
pub fn pinning_unsupported() -> Option<&'static str> {
    affinity::UNSUPPORTED
}

/// Pinning where the kernel has it: `sched_setaffinity` (Linux), `cpuset_setaffinity`
/// (FreeBSD), both through core_affinity.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
mod affinity {
    use super::CoreId;

    pub(super) const UNSUPPORTED: Option<&str> = None;

    /// Pin the calling thread to `core`.
    pub(super) fn set(core: CoreId) -> bool {
        // core_affinity indexes a fixed-size CPU set with the id (and panics past its end).
        core.id < libc::CPU_SETSIZE as usize && core_affinity::set_for_current(core)
    }
}

/// No pinning: macOS has only affinity *hints* (`THREAD_AFFINITY_POLICY` tags, ignored on
/// Apple silicon), which core_affinity would pass off as pinning; we call none of it.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
mod affinity {
    use super::CoreId;

    pub(super) const UNSUPPORTED: Option<&str> =
        Some("this platform cannot pin a thread to a core (macOS has only affinity hints)");

    /// Never pins.
    pub(super) fn set(_core: CoreId) -> bool {
        false
    }
}

/// A thread could not be pinned; it runs unpinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PinError {
    /// The core asked for.
    pub core: usize,
}

impl fmt::Display for PinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "could not pin the thread to core {}", self.core)
    }
}

impl std::error::Error for PinError {}

/// Pin the calling thread to `core` (always `Err` where [`pinning_unsupported`] says
/// why).
pub fn pin_current(core: CoreId) -> Result<(), PinError> {
    if affinity::set(core) {
        Ok(())
    } else {
        Err(PinError { core: core.id })
    }
}

/// Why a runtime thread did not start.
#[derive(Debug)]
pub enum StartError {
    /// The operating system refused the thread.
    Spawn(io::Error),
    /// The thread could not build its runtime (and has exited).
    Runtime {
        /// The backend asked for.
        backend: Backend,
        /// Why.
        source: io::Error,
    },
    /// The thread panicked before its runtime was built.
    Panicked,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Spawn(e) => write!(f, "cannot spawn the thread: {e}"),
            StartError::Runtime { backend, source } => {
                write!(f, "cannot build the {backend} runtime: {source}")
            }
            StartError::Panicked => f.write_str("the thread panicked while starting"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Spawn(e) | StartError::Runtime { source: e, .. } => Some(e),
            StartError::Panicked => None,
        }
    }
}

/// How to start a runtime thread.
#[derive(Debug, Clone)]
pub struct ThreadBuilder {
    name: String,
    backend: Backend,
    core: Option<CoreId>,
    ring_entries: u32,
}

impl ThreadBuilder {
    /// A thread called `name` on `backend`, not pinned, with [`RING_ENTRIES`]-entry
    /// rings.
    pub fn new(name: impl Into<String>, backend: Backend) -> ThreadBuilder {
        ThreadBuilder {
            name: name.into(),
            backend,
            core: None,
            ring_entries: RING_ENTRIES,
        }
    }

    /// Pin the thread to `core` (`None`: leave it to the scheduler).
    pub fn pin(mut self, core: Option<CoreId>) -> ThreadBuilder {
        self.core = core;
        self
    }

    /// Entries of the io_uring ring (monoio raises it to at least 256).
    pub fn ring_entries(mut self, entries: u32) -> ThreadBuilder {
        self.ring_entries = entries;
        self
    }

    /// Start the thread: pin it, build its runtime, then call `make` on it and run the
    /// future it returns to completion (the future need not be `Send`). Returns once the
    /// runtime is built, before `make` is called; `make` is never called when the
    /// runtime cannot be built.
    pub fn spawn<M, F>(self, make: M) -> Result<RuntimeThread<F::Output>, StartError>
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future,
        F::Output: Send + 'static,
    {
        let ThreadBuilder {
            name,
            backend,
            core,
            ring_entries,
        } = self;
        let (started_tx, started_rx) = mpsc::sync_channel(1);
        let handle = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let pinned = core.map_or(Ok(()), pin_current);
                match Runtime::build(backend, ring_entries) {
                    Ok(mut rt) => {
                        let _ = started_tx.send(Ok((pinned, rt.ring_flags())));
                        drop(started_tx);
                        Some(rt.block_on(make()))
                    }
                    Err(e) => {
                        let _ = started_tx.send(Err(e));
                        None
                    }
                }
            })
            .map_err(StartError::Spawn)?;
        match started_rx.recv() {
            Ok(Ok((pinned, ring_flags))) => Ok(RuntimeThread {
                handle,
                pinned,
                ring_flags,
            }),
            Ok(Err(source)) => {
                let _ = handle.join();
                Err(StartError::Runtime { backend, source })
            }
            Err(mpsc::RecvError) => {
                let _ = handle.join();
                Err(StartError::Panicked)
            }
        }
    }
}

/// A started runtime thread.
#[derive(Debug)]
pub struct RuntimeThread<T> {
    /// `None` only when the runtime was not built, and then no `RuntimeThread` exists.
    handle: JoinHandle<Option<T>>,
    pinned: Result<(), PinError>,
    ring_flags: Option<RingFlags>,
}

impl<T> RuntimeThread<T> {
    /// Whether pinning worked (`Ok` when the thread was not to be pinned).
    pub fn pinned(&self) -> Result<(), PinError> {
        self.pinned
    }

    /// The flags of the thread's io_uring ring (`None` on epoll).
    pub fn ring_flags(&self) -> Option<RingFlags> {
        self.ring_flags
    }

    /// The thread.
    pub fn thread(&self) -> &thread::Thread {
        self.handle.thread()
    }

    /// Whether the future has finished (or panicked).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    /// Wait for the future's output; `Err` with the panic's payload if it panicked.
    pub fn join(self) -> thread::Result<T> {
        self.handle.join().map(|out| {
            // A `RuntimeThread` exists only for a thread whose runtime was built, and
            // such a thread returns `Some` (or panics).
            out.expect("a started runtime thread returns its future's output")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::probe_io_uring;
    use std::cell::Cell;
    use std::rc::Rc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn backends() -> Vec<Backend> {
        match probe_io_uring() {
            Ok(()) => vec![Backend::IoUring, Backend::Epoll],
            Err(why) => {
                eprintln!("io_uring part skipped: {why}");
                vec![Backend::Epoll]
            }
        }
    }

    #[test]
    fn runs_a_local_future_on_a_named_thread() {
        for backend in backends() {
            let t = ThreadBuilder::new(format!("rt-test-{backend}"), backend)
                .spawn(move || {
                    // Made on the thread: an `Rc` never crosses threads.
                    let count = Rc::new(Cell::new(0));
                    async move {
                        let c = count.clone();
                        monoio::spawn(async move { c.set(c.get() + 1) }).await;
                        monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                        (count.get(), thread::current().name().map(String::from))
                    }
                })
                .unwrap();
            assert_eq!(t.pinned(), Ok(()));
            assert_eq!(t.ring_flags().is_some(), backend == Backend::IoUring);
            let name = format!("rt-test-{backend}");
            assert_eq!(t.thread().name(), Some(name.as_str()));
            assert_eq!(t.join().unwrap(), (1, Some(name)));
        }
    }

    #[test]
    fn pins_to_an_allowed_core() {
        let Some(&core) = cores().first() else {
            eprintln!("skipped: no cores listed");
            return;
        };
        let t = ThreadBuilder::new("rt-test-pin", Backend::Epoll)
            .pin(Some(core))
            .spawn(|| async {})
            .unwrap();
        assert_eq!(t.pinned().is_ok(), pinning_unsupported().is_none());
        t.join().unwrap();
    }

    #[test]
    fn a_failed_pin_is_reported_not_fatal() {
        // Inside glibc's CPU set (1024) but not ours; past every CPU set.
        for id in [1023, 1 << 20] {
            if cores().iter().any(|c| c.id == id) {
                continue;
            }
            let t = ThreadBuilder::new("rt-test-nopin", Backend::Epoll)
                .pin(Some(CoreId { id }))
                .spawn(|| async { 7 })
                .unwrap();
            assert_eq!(t.pinned(), Err(PinError { core: id }));
            assert_eq!(t.join().unwrap(), 7);
        }
    }

    #[test]
    fn a_runtime_that_cannot_be_built_is_the_callers_error() {
        let made = Arc::new(AtomicBool::new(false));
        let m = made.clone();
        // More entries than the kernel allows (32768) without IORING_SETUP_CLAMP; without
        // io_uring at all the build fails too.
        let r = ThreadBuilder::new("rt-test-fail", Backend::IoUring)
            .ring_entries(u32::MAX)
            .spawn(move || {
                m.store(true, Ordering::SeqCst);
                async {}
            });
        match r {
            Err(e @ StartError::Runtime { .. }) => {
                assert!(e
                    .to_string()
                    .starts_with("cannot build the io-uring runtime: "));
            }
            other => panic!("{other:?}"),
        }
        assert!(!made.load(Ordering::SeqCst), "make was called");
    }

    #[test]
    fn a_panicking_future_is_a_join_error() {
        let t: RuntimeThread<()> = ThreadBuilder::new("rt-test-panic", Backend::Epoll)
            .spawn(|| async { panic!("on purpose") })
            .unwrap();
        assert!(t.join().is_err());
    }
}
