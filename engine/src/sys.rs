//! The few libc calls the engine makes, as safe functions. Every `unsafe` block of the
//! engine's I/O lives here, each with its `SAFETY` note.

use std::os::fd::RawFd;

use crate::transport::Stop;

/// `shutdown(2)`: make the pending reads (and with [`Stop::ReadWrite`], writes) of a
/// socket complete. Errors (a descriptor that is not a connected socket) are ignored:
/// the caller only wants pending I/O to end.
pub(crate) fn shutdown(fd: RawFd, stop: Stop) {
    let how = match stop {
        Stop::Read => libc::SHUT_RD,
        Stop::ReadWrite => libc::SHUT_RDWR,
    };
    // SAFETY: shutdown(2) takes plain integers and touches no memory of ours; the
    // registry removes a connection before its descriptor closes, so `fd` is not a
    // reused number belonging to someone else.
    unsafe {
        libc::shutdown(fd, how);
    }
}

/// Set close-on-exec on a descriptor we own. io_uring's accept does not set it (epoll's
/// `accept4` does): without it a process the application spawns would inherit client
/// connections.
pub(crate) fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own; F_GETFD/F_SETFD touch only its flags.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}
