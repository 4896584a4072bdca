//! (Linux) What the kernel shows of a thread's io_uring completion queue, read from the
//! ring's shared memory: completions waiting to be reaped, whether the queue has
//! overflowed (the kernel then keeps the extra completions in a list until the thread
//! next enters it), and the completions the kernel dropped.
//!
//! monoio keeps its ring private, so the ring is found by its descriptor: a runtime is
//! built with every `io_uring` descriptor of the process listed before and after (under
//! one lock, so two threads building at once cannot confuse each other's), and the one
//! new descriptor is mapped read-only. The field offsets in that memory are the kernel's
//! (`struct io_rings`), learnt from a throwaway ring's `io_uring_setup` answer.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io;
use std::os::fd::RawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::runtime::RingState;

/// `IORING_SQ_CQ_OVERFLOW`: completions did not fit and wait in the kernel's list.
const SQ_CQ_OVERFLOW: u32 = 1 << 1;
/// `IORING_OFF_SQ_RING`: the mmap offset of the rings' shared header.
const OFF_SQ_RING: libc::off_t = 0;

/// `struct io_sqring_offsets` (Linux UAPI).
#[repr(C)]
#[derive(Default)]
struct SqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_cqring_offsets` (Linux UAPI).
#[repr(C)]
#[derive(Default)]
struct CqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

/// `struct io_uring_params` (Linux UAPI).
#[repr(C)]
#[derive(Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqOffsets,
    cq_off: CqOffsets,
}

/// Where the watched fields are in a ring's shared header.
#[derive(Debug, Clone, Copy)]
struct Offsets {
    sq_flags: usize,
    cq_head: usize,
    cq_tail: usize,
    cq_overflow: usize,
}

impl Offsets {
    /// Bytes to map: past the last watched field.
    fn extent(&self) -> usize {
        [self.sq_flags, self.cq_head, self.cq_tail, self.cq_overflow]
            .into_iter()
            .max()
            .unwrap_or(0)
            + 4
    }
}

/// The kernel's offsets, from a throwaway ring (the same for every ring of this kernel).
fn offsets() -> Option<Offsets> {
    static OFFSETS: OnceLock<Option<Offsets>> = OnceLock::new();
    *OFFSETS.get_or_init(|| {
        let mut p = Params::default();
        // SAFETY: io_uring_setup(2) reads and fills `p`, a live `struct io_uring_params`.
        let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 2u32, &mut p as *mut Params) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the descriptor was just created here and is closed once.
        unsafe { libc::close(fd as RawFd) };
        Some(Offsets {
            sq_flags: p.sq_off.flags as usize,
            cq_head: p.cq_off.head as usize,
            cq_tail: p.cq_off.tail as usize,
            cq_overflow: p.cq_off.overflow as usize,
        })
    })
}

/// A read-only mapping of one ring's shared header.
#[derive(Debug)]
pub(crate) struct RingWatch {
    base: NonNull<u8>,
    len: usize,
    off: Offsets,
}

impl RingWatch {
    /// Map the header of the ring behind `fd` (which may be closed afterwards: the
    /// mapping keeps the ring's memory).
    pub(crate) fn map(fd: RawFd) -> io::Result<RingWatch> {
        let off = offsets().ok_or_else(|| io::Error::other("io_uring_setup failed"))?;
        let len = off.extent();
        // SAFETY: a new read-only shared mapping of the ring's header region; nothing
        // else is placed at the returned address, and it is unmapped once (`Drop`).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                OFF_SQ_RING,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(base.cast::<u8>()).ok_or_else(|| io::Error::other("mmap"))?;
        Ok(RingWatch { base, len, off })
    }

    fn load(&self, offset: usize) -> u32 {
        // SAFETY: `offset + 4 <= len` (`Offsets::extent`), the kernel aligns these u32
        // fields, and it updates them concurrently: read them as atomics.
        unsafe { (*self.base.as_ptr().add(offset).cast::<AtomicU32>()).load(Ordering::Acquire) }
    }

    /// The queue's state now.
    pub(crate) fn state(&self) -> RingState {
        let head = self.load(self.off.cq_head);
        let tail = self.load(self.off.cq_tail);
        RingState {
            completions_waiting: tail.wrapping_sub(head),
            overflowing: self.load(self.off.sq_flags) & SQ_CQ_OVERFLOW != 0,
            completions_dropped: self.load(self.off.cq_overflow),
        }
    }
}

impl Drop for RingWatch {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `map`, unmapped only here.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// The `io_uring` descriptors of this process.
fn ring_fds() -> BTreeSet<RawFd> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return BTreeSet::new();
    };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let link = std::fs::read_link(e.path()).ok()?;
        (link.as_os_str() == "anon_inode:[io_uring]")
            .then(|| e.file_name().to_str()?.parse().ok())
            .flatten()
    })
    .collect()
}

/// Serialises ring builds that are watched (see the module documentation).
static BUILDING: Mutex<()> = Mutex::new(());

thread_local! {
    /// The watch of the ring last built on this thread.
    static CURRENT: RefCell<Option<RingWatch>> = const { RefCell::new(None) };
}

/// Run `build` (which makes one ring) and watch the ring it made, for this thread.
pub(crate) fn watched<T>(build: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let _one_at_a_time = BUILDING.lock().unwrap_or_else(|e| e.into_inner());
    let before = ring_fds();
    let built = build()?;
    let new: Vec<RawFd> = ring_fds().difference(&before).copied().collect();
    let watch = match new.as_slice() {
        [fd] => RingWatch::map(*fd).ok(),
        _ => None,
    };
    CURRENT.with(|c| *c.borrow_mut() = watch);
    Ok(built)
}

/// The completion queue of the io_uring runtime built on this thread, if one was (and
/// its ring could be found).
pub fn ring_state() -> Option<RingState> {
    CURRENT.with(|c| c.borrow().as_ref().map(RingWatch::state))
}

/// The completion queue's head of this thread's watched ring (tests: it moves as the
/// runtime reaps).
#[cfg(test)]
fn cq_head() -> Option<u32> {
    CURRENT.with(|c| c.borrow().as_ref().map(|w| w.load(w.off.cq_head)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring of our own (io-uring crate), watched through its descriptor: waiting
    /// completions, then an overflow, appear as the kernel sets them.
    #[test]
    fn a_watch_reads_the_rings_completion_queue() {
        use std::os::fd::AsRawFd;
        let Ok(mut ring) = io_uring::IoUring::builder().build(4) else {
            eprintln!("skipped: io_uring is unavailable");
            return;
        };
        let watch = RingWatch::map(ring.as_raw_fd()).expect("mapped");
        assert_eq!(
            watch.state(),
            RingState {
                completions_waiting: 0,
                overflowing: false,
                completions_dropped: 0
            }
        );
        let nops = |ring: &mut io_uring::IoUring, n: usize| {
            for _ in 0..n {
                let nop = io_uring::opcode::Nop::new().build();
                // SAFETY: a no-op points to no buffer.
                unsafe { ring.submission().push(&nop) }.expect("room");
            }
            ring.submit().expect("submitted");
        };
        nops(&mut ring, 3);
        assert_eq!(watch.state().completions_waiting, 3);
        // The completion queue holds 8 (twice the 4 entries): 3 + 4 + 4 overflow it.
        nops(&mut ring, 4);
        nops(&mut ring, 4);
        let s = watch.state();
        assert_eq!(s.completions_waiting, 8);
        assert!(s.overflowing, "{s:?}");
        // Reaping everything (the enter flushes the kernel's list) ends the overflow.
        let mut reaped = 0;
        while reaped < 11 {
            reaped += ring.completion().count();
            ring.submit_and_wait(0).expect("entered");
        }
        reaped += ring.completion().count();
        assert_eq!(reaped, 11);
        assert_eq!(watch.state().completions_waiting, 0);
        assert!(!watch.state().overflowing);
    }

    /// A monoio runtime built through `watched` is the ring watched: its completions
    /// move the head the watch reads.
    #[test]
    fn the_watched_ring_is_the_runtimes() {
        let Ok(mut rt) = crate::uring_runtime(256).map(|(rt, _)| rt) else {
            eprintln!("skipped: io_uring is unavailable");
            return;
        };
        assert!(ring_state().is_some(), "the runtime's ring is watched");
        assert_eq!(ring_state().map(|s| s.overflowing), Some(false));
        let head = cq_head().unwrap();
        rt.block_on(async {
            let f = monoio::fs::File::open("/proc/self/stat").await.unwrap();
            for _ in 0..20 {
                let (res, _) = f.read_at(vec![0u8; 64], 0).await;
                res.unwrap();
            }
        });
        let reaped = cq_head().unwrap().wrapping_sub(head);
        assert!(reaped >= 21, "the runtime's completions: {reaped}");
        let s = ring_state().unwrap();
        assert_eq!(s.completions_waiting, 0, "monoio reaped them all: {s:?}");
        assert_eq!(s.completions_dropped, 0);
    }
}
