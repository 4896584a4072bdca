//! Choosing the I/O backend once, at start: io_uring (monoio's uring driver) or epoll
//! (monoio's legacy driver; kqueue on macOS through the same path).
//!
//! `auto` probes the kernel with the `io-uring` crate: a ring must be set up and every
//! opcode the runtime uses must be supported; otherwise we fall back to epoll and say why.

use std::fmt;
use std::str::FromStr;

/// The backend asked for (`--backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendChoice {
    /// io_uring when the kernel allows it, else epoll.
    #[default]
    Auto,
    /// io_uring or fail.
    IoUring,
    /// epoll (kqueue on macOS).
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
    /// Readiness-based (epoll / kqueue) through monoio's legacy driver.
    Epoll,
}

impl Backend {
    /// The name used in logs and reports: `io-uring` or `epoll`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::IoUring => "io-uring",
            Backend::Epoll => "epoll",
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

/// Resolve a choice into the backend to run, with the reason for a fallback.
pub fn resolve(choice: BackendChoice) -> Result<(Backend, Option<String>), String> {
    match choice {
        BackendChoice::Epoll => Ok((Backend::Epoll, None)),
        BackendChoice::IoUring => match probe_io_uring() {
            Ok(()) => Ok((Backend::IoUring, None)),
            Err(why) => Err(format!("io_uring was requested but is unavailable: {why}")),
        },
        BackendChoice::Auto => match probe_io_uring() {
            Ok(()) => Ok((Backend::IoUring, None)),
            Err(why) => Ok((Backend::Epoll, Some(why))),
        },
    }
}

/// Check that io_uring works here: ring setup plus every opcode monoio's uring driver
/// submits for us.
#[cfg(target_os = "linux")]
pub fn probe_io_uring() -> Result<(), String> {
    use io_uring::{opcode, IoUring, Probe};

    let ring = IoUring::new(RING_ENTRIES).map_err(|e| format!("io_uring_setup failed: {e}"))?;
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| format!("io_uring probe failed: {e}"))?;
    let needed = [
        ("Accept", opcode::Accept::CODE),
        ("AsyncCancel", opcode::AsyncCancel::CODE),
        ("Close", opcode::Close::CODE),
        ("Connect", opcode::Connect::CODE),
        ("PollAdd", opcode::PollAdd::CODE),
        ("Read", opcode::Read::CODE),
        ("Readv", opcode::Readv::CODE),
        ("Recv", opcode::Recv::CODE),
        ("Send", opcode::Send::CODE),
        ("SendMsg", opcode::SendMsg::CODE),
        ("RecvMsg", opcode::RecvMsg::CODE),
        ("Timeout", opcode::Timeout::CODE),
        ("Write", opcode::Write::CODE),
        ("Writev", opcode::Writev::CODE),
    ];
    let missing: Vec<&str> = needed
        .iter()
        .filter(|(_, code)| !probe.is_supported(*code))
        .map(|(name, _)| *name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "kernel lacks io_uring opcodes: {}",
            missing.join(", ")
        ))
    }
}

/// io_uring exists only on Linux.
#[cfg(not(target_os = "linux"))]
pub fn probe_io_uring() -> Result<(), String> {
    Err("io_uring is Linux-only".into())
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
        assert_eq!(Backend::Epoll.name(), "epoll");
    }
}
