//! io_uring, Linux only: the kernel probe and the rings monoio's uring driver runs on.
//! Its twin for other platforms is `uring_none.rs` (no io_uring: the probe fails, no ring
//! is ever built), so that nothing else in the crate names a platform.

use std::io;

use monoio::time::TimeDriver;
use monoio::{IoUringDriver, RuntimeBuilder};

use crate::backend::RING_ENTRIES;
use crate::runtime::RingFlags;

/// io_uring can exist here (Linux); whether this kernel allows it is [`probe_io_uring`]'s
/// question.
pub(crate) const EXISTS: bool = true;

/// A monoio runtime on io_uring, with timers.
pub type UringRuntime = monoio::Runtime<TimeDriver<IoUringDriver>>;

/// Check that io_uring works here: ring setup plus every opcode monoio's uring driver
/// submits for us.
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

impl RingFlags {
    fn builder(self) -> io_uring_06::Builder {
        let mut b = io_uring_06::IoUring::builder();
        match self {
            RingFlags::DeferTaskrun => {
                b.setup_single_issuer().setup_defer_taskrun();
            }
            RingFlags::CoopTaskrun => {
                b.setup_coop_taskrun();
            }
            RingFlags::Plain => {}
        }
        b
    }
}

/// Completion-queue entries of every ring (`IORING_SETUP_CQSIZE`; the kernel's default
/// is twice the submission queue, 2,048 here). monoio reaps completions only when the
/// worker waits, and a worker with thousands of connections can have more complete in
/// between: the rest overflow into a kernel list (allocated per entry, delivered a
/// round later). Measured with the `io_uring:io_uring_cqe_overflow` tracepoint at 12,000
/// keep-alive connections on one worker: 42,341 overflows among 992,797 completions with
/// 2,048 entries, none with 16,384. At most two operations are in flight per connection,
/// so this covers 8,192 connections per worker without overflow; 256 KiB per ring.
pub const CQ_ENTRIES: u32 = 16384;

/// An io_uring runtime with exactly these setup flags and [`CQ_ENTRIES`] completion
/// entries. A plain ring falls back to the kernel's default completion queue (a kernel
/// that counts ring memory against a small `RLIMIT_MEMLOCK` may refuse the larger one).
pub fn uring_runtime_with(flags: RingFlags, entries: u32) -> io::Result<UringRuntime> {
    let mut b = flags.builder();
    b.setup_cqsize(CQ_ENTRIES);
    build(b, entries).or_else(|e| match flags {
        RingFlags::Plain => build(flags.builder(), entries),
        _ => Err(e),
    })
}

/// Build the runtime, watching its ring (`ring_watch`: the metrics read its completion
/// queue).
fn build(b: io_uring_06::Builder, entries: u32) -> io::Result<UringRuntime> {
    crate::ring_watch::watched(|| {
        RuntimeBuilder::<IoUringDriver>::new()
            .uring_builder(b)
            .with_entries(entries)
            .enable_timer()
            .build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::tests::sleep_and_count;
    use crate::runtime::Runtime;
    use crate::Backend;
    use std::time::Duration;

    #[test]
    fn uring_runtime_takes_the_best_flags_it_can() {
        if let Err(why) = probe_io_uring() {
            eprintln!("skipped: {why}");
            return;
        }
        let mut rt = Runtime::build(Backend::IoUring, RING_ENTRIES).unwrap();
        let got = rt.ring_flags().unwrap();
        // Nothing better than what it got builds here.
        for better in RingFlags::BEST_FIRST.iter().take_while(|f| **f != got) {
            assert!(
                uring_runtime_with(*better, RING_ENTRIES).is_err(),
                "{better:?}"
            );
        }
        assert_eq!(sleep_and_count(&mut rt), 1);
        // A plain ring builds wherever io_uring does.
        let mut plain = uring_runtime_with(RingFlags::Plain, 256).unwrap();
        plain.block_on(async { monoio::time::sleep(Duration::from_millis(1)).await });
    }
}
