//! No io_uring: the twin of `uring.rs` for every platform but Linux (macOS and FreeBSD run
//! on monoio's legacy driver, kqueue). The probe fails, a ring is never built, and
//! [`UringRuntime`] has no values, so the io_uring arms of [`crate::Runtime`] cannot be
//! reached and cost nothing.

use std::future::Future;
use std::io;

use crate::runtime::RingFlags;

/// io_uring does not exist on this platform: `auto` is the readiness driver, not a
/// fallback from io_uring.
pub(crate) const EXISTS: bool = false;

/// Why there is no io_uring here.
const WHY: &str = "io_uring exists only on Linux; this platform's backend is kqueue \
                   (--backend auto or epoll)";

/// An io_uring runtime, which cannot exist here (no values).
#[derive(Debug)]
pub enum UringRuntime {}

impl UringRuntime {
    /// Never called: there is no io_uring runtime to run on.
    pub fn block_on<F: Future>(&mut self, _future: F) -> F::Output {
        match *self {}
    }
}

/// io_uring exists only on Linux: always `Err`, saying so.
pub fn probe_io_uring() -> Result<(), String> {
    Err(WHY.into())
}

/// No io_uring runtime, so no completion queue to show.
pub fn ring_state() -> Option<crate::RingState> {
    None
}

/// Always `Err` (`Unsupported`): io_uring exists only on Linux.
pub fn uring_runtime_with(_flags: RingFlags, _entries: u32) -> io::Result<UringRuntime> {
    Err(io::Error::new(io::ErrorKind::Unsupported, WHY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{resolve, Backend, BackendChoice, Runtime};

    #[test]
    fn io_uring_is_refused_and_auto_is_kqueue() {
        assert!(probe_io_uring().is_err());
        let e = Runtime::build(Backend::IoUring, 256).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert_eq!(resolve(BackendChoice::Auto), Ok((Backend::Epoll, None)));
        assert_eq!(Backend::Epoll.name(), "kqueue");
    }
}
