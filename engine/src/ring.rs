//! Finding the worker's own io_uring ring, so that a hot read (a connection waiting for
//! its next request with the read itself) can be a plain read and be taken back, when
//! the connection falls silent, by cancelling it in the ring
//! (`IORING_REGISTER_SYNC_CANCEL` on the socket, Linux 6.0+).
//!
//! monoio's own way, a `CancelHandle` passed with the read, files every such read in a
//! SipHash set and takes it out again: about 440 instructions per request in the perf
//! gate's callgrind profile, 6.7 % of a plaintext request. The ring's descriptor is not
//! exposed by monoio, so the worker finds it once: it starts a read of its own, makes the
//! worker enter the kernel (which submits it), and asks each io_uring instance of the
//! process to cancel reads of that socket; only its own ring finds one, and the read
//! then ends with `ECANCELED`, which confirms it. Where that fails (an older kernel, no
//! io_uring) the worker keeps monoio's way.

use std::future::Future;
use std::os::fd::{AsRawFd, RawFd};
use std::task::Poll;
use std::time::Duration;

use monoio::io::AsyncReadRent;

/// This worker's io_uring ring (call on the worker's io_uring runtime), or `None`.
pub(crate) async fn find_own_ring() -> Option<RawFd> {
    let (ours, peer) = std::os::unix::net::UnixStream::pair().ok()?;
    let mut ours = monoio::net::UnixStream::from_std(ours).ok()?;
    let target = ours.as_raw_fd();
    let read = ours.read(Vec::with_capacity(1));
    let mut read = std::pin::pin!(read);
    // The first poll queues the read; sleeping makes the worker enter the kernel, which
    // submits it (nothing is there to read: it stays pending).
    if std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx).is_ready())).await {
        return None;
    }
    monoio::time::sleep(Duration::from_millis(1)).await;
    let found = crate::sys::io_uring_fds()
        .into_iter()
        .find(|&ring| crate::sys::ring_cancel_fd(ring, target).is_ok());
    // Whatever happened, the read ends now: cancelled, or at end-of-stream.
    drop(peer);
    let (res, _) = read.await;
    let cancelled = res.is_err_and(|e| e.raw_os_error() == Some(libc::ECANCELED));
    found.filter(|_| cancelled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Backend, RING_ENTRIES};

    /// Each io_uring worker finds a ring, its own: two threads with a runtime each find
    /// two different io_uring descriptors.
    #[test]
    fn each_worker_finds_its_own_ring() {
        if let Err(why) = peregrine_runtime::probe_io_uring() {
            eprintln!("skipped: {why}");
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let (hold_tx, hold_rx) = std::sync::mpsc::channel::<()>();
        let hold_rx = std::sync::Arc::new(std::sync::Mutex::new(hold_rx));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let tx = tx.clone();
                let hold = hold_rx.clone();
                std::thread::spawn(move || {
                    let mut rt = peregrine_runtime::Runtime::build(Backend::IoUring, RING_ENTRIES)
                        .expect("an io_uring runtime");
                    let ring = rt.block_on(find_own_ring());
                    tx.send(ring).unwrap();
                    // Keep the ring open until both have looked.
                    let _ = hold.lock().unwrap().recv();
                })
            })
            .collect();
        let a = rx.recv().unwrap().expect("the first worker's ring");
        let b = rx.recv().unwrap().expect("the second worker's ring");
        assert_ne!(a, b);
        for ring in [a, b] {
            assert!(crate::sys::io_uring_fds().contains(&ring));
        }
        drop(hold_tx);
        for t in threads {
            t.join().unwrap();
        }
    }

    /// On the readiness backend there is no ring to find.
    #[test]
    fn no_ring_on_epoll() {
        let mut rt = peregrine_runtime::Runtime::build(Backend::Epoll, RING_ENTRIES).unwrap();
        assert_eq!(rt.block_on(find_own_ring()), None);
    }
}
