//! The process's descriptor table, grown ahead of need, never by a worker.
//!
//! Linux grows a process's descriptor table when a new descriptor does not fit, by
//! doubling. In a process with more than one thread, the growth waits for an RCU grace
//! period (`synchronize_rcu` in the kernel's `expand_fdtable`): 10 to 30 ms on the
//! machines measured. The thread that needed the descriptor waits with it, and here
//! that is a worker in `accept(2)`: while it waits, nothing on it is served and nothing
//! is accepted. A burst of 10,000 connections crossed seven doublings (256 to 16,384):
//! the accept queue filled behind each stall, the kernel dropped SYNs, and those clients
//! retried a second or three later (issue 15's multi-second tails; a single-threaded
//! nginx worker never waits: its table is not shared).
//!
//! So the table is sized when the server starts, before the workers exist (no grace
//! period to wait for then), to [`INITIAL_SLOTS`] or the open-files limit if that is
//! lower. Past half of what is reserved, a short-lived helper thread doubles it: the
//! helper waits out the grace period, and a worker that takes a descriptor that still
//! fits the current table does not wait for a growth in progress.

use std::os::fd::{AsFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Slots reserved at start: 65,536 descriptors cost the kernel about 540 KB (a pointer
/// and two bits each), once.
const INITIAL_SLOTS: usize = 1 << 16;

/// What has been reserved, and whether a growth is under way.
struct FdTable {
    /// Slots asked for so far (a power of two; the kernel's table has at least these).
    reserved: AtomicUsize,
    /// A helper thread is growing the table.
    growing: AtomicBool,
}

/// The process's one table.
static TABLE: FdTable = FdTable::new();

impl FdTable {
    const fn new() -> Self {
        FdTable {
            reserved: AtomicUsize::new(0),
            growing: AtomicBool::new(false),
        }
    }

    /// Grow the table to `slots` now (capped by the open-files limit), on this thread.
    /// Once the limit is reached there is nothing more to reserve: `usize::MAX` then.
    fn reserve(&self, slots: usize) {
        let slots = slots.next_power_of_two();
        let reached = grow_to(slots);
        self.reserved.fetch_max(reached, Ordering::Relaxed);
    }

    /// `fd` was just opened: past half of the reservation, have a helper thread double
    /// it (its handle, if one started). One relaxed load when there is nothing to do.
    #[inline]
    fn note(&'static self, fd: RawFd) -> Option<std::thread::JoinHandle<()>> {
        let reserved = self.reserved.load(Ordering::Relaxed);
        let fd = usize::try_from(fd).ok()?;
        if fd < reserved / 2 || self.growing.swap(true, Ordering::AcqRel) {
            return None;
        }
        let spawned = std::thread::Builder::new()
            .name("peregrine-fdtable".into())
            .spawn(move || {
                self.reserve(reserved.saturating_mul(2));
                self.growing.store(false, Ordering::Release);
            });
        match spawned {
            Ok(helper) => Some(helper),
            Err(_) => {
                self.growing.store(false, Ordering::Release);
                None
            }
        }
    }

    /// Slots reserved so far.
    #[cfg(all(test, target_os = "linux"))]
    fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }
}

/// Size the table at start: call before the workers are spawned.
pub(crate) fn reserve_at_start() {
    TABLE.reserve(INITIAL_SLOTS);
}

/// A worker opened `fd` (an accepted connection): grow the table ahead of need.
#[inline]
pub(crate) fn note(fd: RawFd) {
    let _ = TABLE.note(fd);
}

/// Make the kernel's table hold at least `slots` descriptors, or as many as the
/// open-files limit allows: a descriptor duplicated high up makes it grow, and the
/// table does not shrink when it is closed. Returns the slots now reserved, `usize::MAX`
/// once the limit is covered (nothing more to do). A failure only means no reservation.
fn grow_to(slots: usize) -> usize {
    let limit = open_files_limit();
    // The kernel rounds a table up to a power of two (in units of 128 slots) above the
    // highest descriptor asked for: three quarters of `slots` gives exactly `slots`.
    let highest = (slots / 4 * 3).min(limit.saturating_sub(1));
    let reached = if slots >= limit { usize::MAX } else { slots };
    let Ok(highest) = RawFd::try_from(highest) else {
        return reached;
    };
    let Ok(probe) = std::os::unix::net::UnixDatagram::unbound() else {
        return 0;
    };
    match crate::sys::dup_at_least(probe.as_fd(), highest) {
        Ok(high) => {
            drop(high);
            reached
        }
        Err(_) => 0,
    }
}

/// The soft open-files limit (0 where unknown: nothing is reserved then).
fn open_files_limit() -> usize {
    crate::sys::soft_nofile_limit().map_or(0, |soft| usize::try_from(soft).unwrap_or(usize::MAX))
}

/// Linux only: the table's size is read from `/proc/self/status`.
#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The kernel's table size for this process (`FDSize` in `/proc/self/status`).
    fn table_size() -> usize {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("FDSize:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn the_table_is_reserved_then_grown_ahead_of_need_by_a_helper() {
        crate::sys::raise_nofile_limit().unwrap();
        let limit = open_files_limit();
        let start = table_size();
        // Room to reserve and then double within the limit, above what this test
        // process already has.
        let first = (start * 2).next_power_of_two();
        if first * 2 > limit {
            eprintln!("skipped: the open-files limit ({limit}) leaves no room to grow");
            return;
        }
        static TEST_TABLE: FdTable = FdTable::new();
        TEST_TABLE.reserve(first);
        assert_eq!(TEST_TABLE.reserved(), first);
        assert!(table_size() >= first, "{} < {first}", table_size());

        // A descriptor below half the reservation changes nothing.
        assert!(TEST_TABLE.note(0).is_none());
        assert!(!TEST_TABLE.growing.load(Ordering::Acquire));
        assert_eq!(TEST_TABLE.reserved(), first);

        // One at half of it has a helper double the table.
        let helper = TEST_TABLE.note(RawFd::try_from(first / 2).unwrap());
        helper
            .expect("a helper thread grows the table")
            .join()
            .unwrap();
        assert_eq!(TEST_TABLE.reserved(), first * 2);
        assert!(!TEST_TABLE.growing.load(Ordering::Acquire));
        assert!(
            table_size() >= first * 2,
            "{} < {}",
            table_size(),
            first * 2
        );
    }
}
