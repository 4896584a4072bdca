//! Choosing the I/O backend once, at start: io_uring (monoio's uring driver) or epoll
//! (monoio's legacy driver; kqueue on macOS and FreeBSD through the same path).
//!
//! `auto` probes the kernel with the `io-uring` crate ([`probe_io_uring`], Linux only): a
//! ring must be set up and every opcode the runtime uses must be supported; otherwise we
//! fall back to epoll and say why. Elsewhere the probe always fails, so `auto` is the
//! readiness driver and `io-uring` an error.

use std::fmt;
use std::str::FromStr;

pub use crate::uring::probe_io_uring;

/// The backend asked for (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring when the kernel allows it, else epoll.
    #[default]
    Auto,
    /// io_uring or fail.
    IoUring,
    /// The readiness driver: epoll on Linux, kqueue on macOS and FreeBSD.
    Epoll,
}

impl FromStr for BackendChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BackendChoice::Auto),
            "io-uring" | "io_uring" | "iouring" | "uring" => Ok(BackendChoice::IoUring),
            "epoll" | "legacy" | "kqueue" => Ok(BackendChoice::Epoll),
            other => Err(format!(
                "unknown backend '{other}': expected auto, io-uring or epoll"
            )),
        }
    }
}

/// The backend that runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// io_uring through monoio's uring driver.
    IoUring,
    /// Readiness-based (epoll on Linux, kqueue on macOS and FreeBSD) through monoio's
    /// legacy driver.
    Epoll,
}

impl Backend {
    /// The name used in logs and reports: `io-uring`, or for the readiness driver what it
    /// is here: `epoll` on Linux, `kqueue` on macOS and FreeBSD.
    pub fn name(self) -> &'static str {
        match self {
            Backend::IoUring => "io-uring",
            Backend::Epoll if crate::uring::EXISTS => "epoll",
            Backend::Epoll => "kqueue",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Ring entries each worker's io_uring is created with.
pub const RING_ENTRIES: u32 = 1024;

/// Resolve a choice into the backend to run, with the reason for a fallback (none where
/// io_uring does not exist: macOS and FreeBSD run on kqueue without a word).
pub fn resolve(choice: BackendChoice) -> Result<(Backend, Option<String>), String> {
    match choice {
        BackendChoice::Epoll => Ok((Backend::Epoll, None)),
        BackendChoice::IoUring => match probe_io_uring() {
            Ok(()) => Ok((Backend::IoUring, None)),
            Err(why) => Err(format!("io_uring was requested but is unavailable: {why}")),
        },
        // Not a fallback where io_uring does not exist: the readiness driver is the one.
        BackendChoice::Auto if !crate::uring::EXISTS => Ok((Backend::Epoll, None)),
        BackendChoice::Auto => match probe_io_uring() {
            Ok(()) => Ok((Backend::IoUring, None)),
            Err(why) => Ok((Backend::Epoll, Some(why))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("auto".parse::<BackendChoice>(), Ok(BackendChoice::Auto));
        assert_eq!(
            "io-uring".parse::<BackendChoice>(),
            Ok(BackendChoice::IoUring)
        );
        assert_eq!("EPOLL".parse::<BackendChoice>(), Ok(BackendChoice::Epoll));
        assert!("select".parse::<BackendChoice>().is_err());
    }

    #[test]
    fn epoll_needs_no_probe() {
        assert_eq!(resolve(BackendChoice::Epoll), Ok((Backend::Epoll, None)));
    }

    #[test]
    fn auto_follows_the_probe() {
        let resolved = resolve(BackendChoice::Auto).unwrap();
        match probe_io_uring() {
            Ok(()) => assert_eq!(resolved, (Backend::IoUring, None)),
            Err(_) if !crate::uring::EXISTS => assert_eq!(resolved, (Backend::Epoll, None)),
            Err(why) => assert_eq!(resolved, (Backend::Epoll, Some(why))),
        }
        match (probe_io_uring(), resolve(BackendChoice::IoUring)) {
            (Ok(()), Ok(r)) => assert_eq!(r, (Backend::IoUring, None)),
            (Err(why), Err(e)) => assert!(e.ends_with(&why), "{e}"),
            (probe, r) => panic!("probe {probe:?} but io-uring resolved to {r:?}"),
        }
    }

    #[test]
    fn names() {
        assert_eq!(Backend::IoUring.to_string(), "io-uring");
        let readiness = if cfg!(target_os = "linux") {
            "epoll"
        } else {
            "kqueue"
        };
        assert_eq!(Backend::Epoll.name(), readiness);
    }
}
