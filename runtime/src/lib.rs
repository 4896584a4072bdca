//! peregrine-runtime: how Peregrine's threads start, shared by the server (`peregrine`)
//! and the load generator (`peregrine-load`).
//!
//! - The backend: [`BackendChoice`] (`auto`, `io-uring`, `epoll`) resolved into the
//!   [`Backend`] that runs by [`resolve`], which probes the kernel's io_uring.
//! - The runtime: [`Runtime::build`] makes a monoio runtime with timers, on io_uring with
//!   the best ring flags the kernel accepts ([`uring_runtime`]) or on epoll
//!   ([`legacy_runtime`]).
//! - Pinning: [`pin_current`] pins the calling thread to a core, reporting failure.
//! - The ring: [`ring_state`] reads the completion queue of the thread's io_uring
//!   runtime from the kernel's shared memory (waiting completions, overflow), for the
//!   metrics.
//!
//! The platforms differ only here, each difference in one module with a twin: io_uring
//! (`uring.rs` on Linux, `uring_none.rs` elsewhere, where the legacy driver is kqueue)
//! and pinning (`thread.rs`: Linux and FreeBSD pin, macOS cannot, [`pinning_unsupported`]).
//! - Threads: [`ThreadBuilder::spawn`] starts a named, pinned thread, builds its runtime
//!   and runs a `!Send` future made on it.
//!
//! ```no_run
//! use peregrine_runtime::{cores, resolve, BackendChoice, ThreadBuilder};
//!
//! let (backend, _fallback_reason) = resolve(BackendChoice::Auto).unwrap();
//! let thread = ThreadBuilder::new("worker-0", backend)
//!     .pin(cores().first().copied())
//!     .spawn(|| async { 40 + 2 })
//!     .unwrap();
//! if let Err(e) = thread.pinned() {
//!     eprintln!("warning: {e}");
//! }
//! assert_eq!(thread.join().unwrap(), 42);
//! ```
#![deny(missing_docs)]

mod backend;
#[cfg(target_os = "linux")]
mod ring_watch;
mod runtime;
mod thread;
#[cfg(target_os = "linux")]
mod uring;
#[cfg(not(target_os = "linux"))]
#[path = "uring_none.rs"]
mod uring;

pub use backend::{probe_io_uring, resolve, Backend, BackendChoice, RING_ENTRIES};
#[cfg(target_os = "linux")]
pub use ring_watch::ring_state;
pub use runtime::{
    legacy_runtime, uring_runtime, uring_runtime_with, LegacyRuntime, RingFlags, RingState,
    Runtime, UringRuntime,
};
pub use thread::{
    cores, pin_current, pinning_unsupported, CoreId, PinError, RuntimeThread, StartError,
    ThreadBuilder,
};
#[cfg(not(target_os = "linux"))]
pub use uring::ring_state;
