//! The engine's system calls that the standard library, socket2 and monoio do not cover,
//! as safe functions. Every `unsafe` block of the engine is here (bar one measured
//! `from_utf8_unchecked` in `request.rs`), each with the reason it is sound.
//!
//! Functions taking a [`RawFd`] only change that descriptor's kernel state and touch no
//! memory of ours; passing a descriptor the caller does not own would affect somebody
//! else's file (an I/O-safety bug), never memory.

use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};

/// Turn a `-1` return into the `errno` error.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Set close-on-exec on `fd` if it is not set yet. io_uring's accept does not set it
/// (epoll's `accept4` does): without it a process the application spawns would inherit
/// client connections.
pub(crate) fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl(F_GETFD) takes no pointer; it only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: fcntl(F_SETFD) with an integer argument only sets the descriptor's
        // flags; no memory is passed.
        unsafe {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

/// `shutdown(2)`: end the read side (`SHUT_RD`), write side (`SHUT_WR`) or both
/// (`SHUT_RDWR`) of the socket `fd`, completing the operations pending on it.
pub(crate) fn shutdown(fd: RawFd, how: libc::c_int) -> io::Result<()> {
    // SAFETY: shutdown(2) takes no pointer; it changes only the socket's state.
    check(unsafe { libc::shutdown(fd, how) }).map(drop)
}

/// `listen(2)` again on a listening socket, to set its backlog (clamped to `i32::MAX`;
/// the kernel clamps it further to `net.core.somaxconn`).
pub(crate) fn listen(socket: &impl AsFd, backlog: u32) -> io::Result<()> {
    let fd = socket.as_fd().as_raw_fd();
    let backlog = backlog.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: listen(2) takes no pointer; `fd` is borrowed from a live socket for the
    // duration of the call.
    check(unsafe { libc::listen(fd, backlog) }).map(drop)
}

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit.
pub(crate) fn raise_nofile_limit() -> io::Result<()> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live, writable `rlimit`, the struct getrlimit(2) fills.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a live, initialised `rlimit`, which setrlimit(2) only reads.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    }
    Ok(())
}

/// Whether the kernel moves connections queued on a closing `SO_REUSEPORT` listener to
/// another listener of its group (`net.ipv4.tcp_migrate_req`, Linux 5.14+).
pub(crate) fn tcp_migrate_req() -> bool {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req").is_ok_and(|v| v.trim() == "1")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixListener;

    fn cloexec(fd: RawFd) -> bool {
        // SAFETY: fcntl(F_GETFD) takes no pointer; it only reads the descriptor's flags.
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        assert!(flags >= 0);
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn sets_close_on_exec() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = l.as_raw_fd();
        // SAFETY: as in `set_cloexec`: flags only, no memory.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        assert!(!cloexec(fd));
        set_cloexec(fd);
        assert!(cloexec(fd));
        set_cloexec(fd);
        assert!(cloexec(fd));
    }

    #[test]
    fn shutdown_ends_the_read_side() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        shutdown(server.as_raw_fd(), libc::SHUT_RD).unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(std::io::Read::read(&mut &server, &mut buf).unwrap(), 0);
        assert!(shutdown(-1, libc::SHUT_RD).is_err());
    }

    #[test]
    fn listen_sets_a_backlog() {
        let dir = std::env::temp_dir().join(format!("peregrine-sys-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let l = UnixListener::bind(&dir).unwrap();
        listen(&l, 4096).unwrap();
        listen(&l, u32::MAX).unwrap();
        std::fs::remove_file(&dir).unwrap();
    }

    #[test]
    fn raises_the_open_files_limit() {
        raise_nofile_limit().unwrap();
    }
}
