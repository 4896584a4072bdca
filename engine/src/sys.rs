//! The engine's system calls that the standard library, socket2 and monoio do not cover,
//! as safe functions. Every `unsafe` block of the engine is here (bar one measured
//! `from_utf8_unchecked` in `request.rs`), each with the reason it is sound.
//!
//! Functions taking a [`RawFd`] only change that descriptor's kernel state and touch no
//! memory of ours; passing a descriptor the caller does not own would affect somebody
//! else's file (an I/O-safety bug), never memory.
//!
//! What differs between Linux and the kqueue platforms (macOS, FreeBSD) is here too, in
//! one module with a twin ([`platform`]): whether an `SO_REUSEPORT` group balances
//! connections, abstract unix socket names, `close_range(2)`, the `--port-sharing`
//! caveat, the accept queue's length (`TCP_INFO`). Nothing else in the engine's connection path names a platform.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Turn a `-1` return into the `errno` error.
fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Set close-on-exec on `fd`, a new descriptor. io_uring's accept does not set it
/// (`accept4` does): without it a process the application spawns would inherit client
/// connections. One `fcntl`: close-on-exec is the only descriptor flag there is, so
/// nothing needs reading first.
pub(crate) fn set_cloexec(fd: RawFd) {
    // SAFETY: fcntl(F_SETFD) with an integer argument only sets the descriptor's
    // flags; no memory is passed.
    unsafe {
        libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
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

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit (macOS, whose hard limit
/// is unlimited, refuses more than `OPEN_MAX`: then to that).
pub(crate) fn raise_nofile_limit() -> io::Result<()> {
    /// macOS's `OPEN_MAX` (setrlimit(2): `EINVAL` above it).
    const OPEN_MAX: libc::rlim_t = 10240;
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live, writable `rlimit`, the struct getrlimit(2) fills.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    if lim.rlim_cur < lim.rlim_max {
        let soft = lim.rlim_cur;
        lim.rlim_cur = lim.rlim_max;
        // SAFETY: `lim` is a live, initialised `rlimit`, which setrlimit(2) only reads.
        let raised = check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) });
        match raised {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && soft < OPEN_MAX => {
                lim.rlim_cur = OPEN_MAX.min(lim.rlim_max);
                // SAFETY: as above.
                check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
            }
            other => {
                other?;
            }
        }
    }
    Ok(())
}

/// Whether `socket` is listening (`SO_ACCEPTCONN`; socket2 offers it on Linux and FreeBSD
/// only, the option exists on macOS too).
pub(crate) fn is_listener(socket: &impl AsFd) -> io::Result<bool> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live, writable and as large as `len` says, which is
    // all getsockopt(2) writes; the descriptor is borrowed for the call.
    check(unsafe {
        libc::getsockopt(
            socket.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    })?;
    Ok(value != 0)
}

pub(crate) use platform::{
    abstract_name, accept_queue_len, port_sharing_caveat, REUSEPORT_BALANCES,
};

/// Linux: `SO_REUSEPORT` groups balance connections, abstract socket names,
/// `close_range(2)`, `net.ipv4.tcp_migrate_req`.
#[cfg(target_os = "linux")]
mod platform {
    use std::io;
    use std::os::fd::RawFd;
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    /// The kernel spreads the connections of one address over the sockets of an
    /// `SO_REUSEPORT` group: each worker binds its own.
    pub(crate) const REUSEPORT_BALANCES: bool = true;

    /// A unix socket address in the abstract namespace.
    pub(crate) fn abstract_name(name: &[u8]) -> io::Result<SocketAddr> {
        SocketAddr::from_abstract_name(name)
    }

    /// Connections waiting in the accept queue of the listening TCP socket `listener` (the
    /// kernel's `tcpi_unacked` of a socket in LISTEN state, as `ss -lt` shows in Recv-Q).
    pub(crate) fn accept_queue_len(listener: RawFd) -> Option<u32> {
        // SAFETY: tcp_info is plain integers; all zeroes is a valid value.
        let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        // SAFETY: `info` and `len` are valid for writes of `len` bytes and outlive the
        // call; the kernel writes at most `len` bytes and stores the length it wrote.
        let rc = unsafe {
            libc::getsockopt(
                listener,
                libc::IPPROTO_TCP,
                libc::TCP_INFO,
                (&mut info as *mut libc::tcp_info).cast(),
                &mut len,
            )
        };
        // TCP_LISTEN in the kernel's `enum tcp_state` (include/net/tcp_states.h).
        const TCP_LISTEN: u8 = 10;
        (rc == 0 && info.tcpi_state == TCP_LISTEN).then_some(info.tcpi_unacked)
    }

    /// What `--port-sharing` cannot promise here, if anything: connections queued on a
    /// stopping process's sockets move to the process that stays only with
    /// `net.ipv4.tcp_migrate_req=1` (Linux 5.14+).
    pub(crate) fn port_sharing_caveat() -> Option<&'static str> {
        let migrate = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_migrate_req")
            .is_ok_and(|v| v.trim() == "1");
        (!migrate).then_some(
            "--port-sharing: connections still queued on this process's sockets when it \
             stops are reset; set net.ipv4.tcp_migrate_req=1 so the kernel hands them \
             to the process that stays",
        )
    }

    /// Mark every descriptor from `first` on close-on-exec, in a forked child
    /// (async-signal-safe: system calls only).
    pub(super) fn cloexec_from(first: RawFd, max_fd: RawFd) {
        // SAFETY: close_range(2) takes integers only; CLOSE_RANGE_CLOEXEC only sets
        // flags.
        let marked = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        };
        if marked == -1 {
            // Before Linux 5.11: flag them one by one, up to the open-files limit.
            super::cloexec_each(first, max_fd);
        }
    }
}

/// macOS and FreeBSD (kqueue): an `SO_REUSEPORT` group does not balance connections (on
/// macOS one socket of it gets them all; FreeBSD's `SO_REUSEPORT_LB` is not used),
/// so the workers share one listening socket per address; no abstract socket names (nor
/// SIGUSR2 restarts, which report on one); no `close_range(2)`.
#[cfg(not(target_os = "linux"))]
mod platform {
    use std::io;
    use std::os::fd::RawFd;
    use std::os::unix::net::SocketAddr;

    /// One listening socket per address, every worker accepting from it.
    pub(crate) const REUSEPORT_BALANCES: bool = false;

    /// Abstract unix socket names exist only on Linux.
    pub(crate) fn abstract_name(_name: &[u8]) -> io::Result<SocketAddr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "abstract unix socket names exist only on Linux (so do SIGUSR2 restarts)",
        ))
    }

    /// Elsewhere the accept queue is not reported.
    pub(crate) fn accept_queue_len(_listener: RawFd) -> Option<u32> {
        None
    }

    /// Connections queued on a stopping process's socket are reset, and the kernel does
    /// not share new ones out between the processes.
    pub(crate) fn port_sharing_caveat() -> Option<&'static str> {
        Some(
            "--port-sharing: this platform does not balance connections between the \
             processes sharing a port, and connections still queued on this process's \
             socket when it stops are reset",
        )
    }

    /// Mark every descriptor from `first` on close-on-exec, one by one (no
    /// `close_range(2)` to call here).
    pub(super) fn cloexec_from(first: RawFd, max_fd: RawFd) {
        super::cloexec_each(first, max_fd);
    }
}

/// Flag `first..max_fd` close-on-exec one by one (async-signal-safe).
fn cloexec_each(first: RawFd, max_fd: RawFd) {
    for fd in first..max_fd {
        // SAFETY: fcntl(F_SETFD) with an integer argument only sets the flags of `fd`
        // (or fails with EBADF when it is not open).
        unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
    }
}

/// The first descriptor of socket activation (`SD_LISTEN_FDS_START`).
pub(crate) const LISTEN_FDS_START: RawFd = 3;

/// Take ownership of the `count` descriptors a service manager (or the old copy of this
/// server, on a SIGUSR2 restart) passed at `3..3 + count` under the `LISTEN_FDS`
/// protocol, setting close-on-exec on each (sd_listen_fds(3) does the same). At most once
/// per process: a second call returns an error, so no descriptor is owned twice.
pub(crate) fn adopt_listen_fds(count: usize) -> io::Result<Vec<OwnedFd>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    static ADOPTED: AtomicBool = AtomicBool::new(false);
    let Some(end) = RawFd::try_from(count)
        .ok()
        .and_then(|n| n.checked_add(LISTEN_FDS_START))
    else {
        return Err(io::Error::other("too many descriptors"));
    };
    if ADOPTED.swap(true, Ordering::SeqCst) {
        return Err(io::Error::other(
            "the passed descriptors were already taken by this process",
        ));
    }
    let mut fds = Vec::with_capacity(count);
    for fd in LISTEN_FDS_START..end {
        // SAFETY: fcntl(F_GETFD) takes no pointer; it only reads the descriptor's flags
        // (and fails with EBADF when `fd` is not open).
        let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
        if flags == -1 {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(e.kind(), format!("descriptor {fd}: {e}")));
        }
        set_cloexec(fd);
        // SAFETY: `fd` is open (checked above) and, by the LISTEN_FDS protocol, was
        // handed to this process for it to own: nothing else in the process uses the
        // descriptors from 3 on before they are adopted here, and the `ADOPTED` flag
        // makes sure they are adopted (and so closed) only once.
        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
    }
    Ok(fds)
}

/// The soft open-files limit (a bound on descriptor numbers), for the fallback above.
fn open_files_limit() -> RawFd {
    match soft_nofile_limit() {
        Ok(soft) => RawFd::try_from(soft.min(1 << 20)).unwrap_or(1 << 20),
        Err(_) => 1 << 16,
    }
}

/// This process's soft `RLIMIT_NOFILE`: descriptors are numbered below it.
pub(crate) fn soft_nofile_limit() -> io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a live, writable `rlimit`, the struct getrlimit(2) fills.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    Ok(lim.rlim_cur)
}

/// A duplicate of `fd` numbered `min` or above, close-on-exec (`F_DUPFD_CLOEXEC`).
pub(crate) fn dup_at_least(fd: BorrowedFd<'_>, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an integer argument, no pointer; `fd` is
    // borrowed from a live descriptor for the call.
    let new = check(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, min) })?;
    // SAFETY: `new` is a descriptor the kernel just created for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// What [`spawn_with_listen_fds`] starts.
pub(crate) struct Inherit<'a> {
    /// The program.
    pub program: &'a std::path::Path,
    /// Its whole argument vector, `argv[0]` included.
    pub argv: &'a [std::ffi::OsString],
    /// Its environment, without `LISTEN_PID` (set to the child's own pid here).
    pub env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// The descriptors it inherits, in order, as 3, 4, …
    pub fds: &'a [BorrowedFd<'a>],
}

/// Start `spec.program` with `spec.fds` as descriptors 3, 4, … (close-on-exec cleared on
/// exactly those), every other descriptor of ours closed at exec, and
/// `LISTEN_PID` set to the child's own pid, which only exists after the fork.
///
/// Setting the variable in the child is the delicate part: between `fork` and `exec` of a
/// multi-threaded process only async-signal-safe calls are allowed (no allocation, no
/// `setenv`, whose lock another thread may have held at the fork). So everything is built
/// before the fork — the argument and environment arrays, and a `LISTEN_PID=` entry with
/// room for the digits — and the child only calls `dup2`, `getpid`, writes the digits into
/// that buffer and calls `execve` itself with the prepared arrays.
pub(crate) fn spawn_with_listen_fds(spec: Inherit<'_>) -> io::Result<std::process::Child> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;

    let cstring = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| io::Error::other("a NUL byte in an argument"))
    };
    let n = RawFd::try_from(spec.fds.len()).map_err(|_| io::Error::other("too many sockets"))?;
    // Copies numbered above the target range, so that no dup2 below overwrites a source.
    let high = spec
        .fds
        .iter()
        .map(|fd| dup_at_least(*fd, LISTEN_FDS_START + n))
        .collect::<io::Result<Vec<OwnedFd>>>()?;
    let sources: Vec<RawFd> = high.iter().map(|fd| fd.as_raw_fd()).collect();

    let program = cstring(spec.program.as_os_str().as_bytes())?;
    let argv = spec
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<io::Result<Vec<CString>>>()?;
    let env = spec
        .env
        .iter()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            cstring(&kv)
        })
        .collect::<io::Result<Vec<CString>>>()?;
    // "LISTEN_PID=" and room for any pid's digits and the NUL.
    const PID_KEY: &[u8] = b"LISTEN_PID=";
    let mut pid_entry = PID_KEY.to_vec();
    pid_entry.resize(PID_KEY.len() + 24, 0);
    // Pointer arrays as integers (the closure must be Send + Sync); null-terminated.
    let argv_ptrs: Vec<usize> = argv
        .iter()
        .map(|a| a.as_ptr() as usize)
        .chain(std::iter::once(0))
        .collect();
    // The LISTEN_PID slot (first) is filled in the child, from the buffer it wrote.
    let mut env_ptrs: Vec<usize> = std::iter::once(0)
        .chain(env.iter().map(|e| e.as_ptr() as usize))
        .chain(std::iter::once(0))
        .collect();

    let max_fd = open_files_limit();
    let mut cmd = std::process::Command::new(spec.program);
    let child_side = move || -> io::Result<()> {
        // Only async-signal-safe work from here on: dup2, getpid, stores into buffers
        // allocated before the fork, execve.
        // Every descriptor above the passed ones closes at exec, whether or not it was
        // close-on-exec: a connection io_uring accepted a moment ago has not had the flag
        // set yet, and the new copy must not keep it open.
        platform::cloexec_from(LISTEN_FDS_START + n, max_fd);
        for (i, &src) in (0..).zip(sources.iter()) {
            // SAFETY: dup2(2) takes no pointer; `src` is open (a copy made before the
            // fork, kept open by the parent until the spawn returns) and the target is
            // in 3..3+n, below every source. The new descriptor is not close-on-exec.
            if unsafe { libc::dup2(src, LISTEN_FDS_START + i) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        // SAFETY: getpid(2) cannot fail and touches no memory.
        let pid = unsafe { libc::getpid() };
        let mut digits = [0u8; 20];
        let mut len = 0;
        let mut v = pid.unsigned_abs();
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for i in 0..len {
            pid_entry[PID_KEY.len() + i] = digits[len - 1 - i];
        }
        pid_entry[PID_KEY.len() + len] = 0;
        env_ptrs[0] = pid_entry.as_ptr() as usize;
        // SAFETY: `program` is a NUL-terminated string; `argv_ptrs` and `env_ptrs` are
        // null-terminated arrays of pointers (stored as integers of the same size) to
        // NUL-terminated strings, all owned by this closure and alive for the call:
        // `argv`, `env` and `pid_entry`, whose NUL was written just above. execve only
        // returns on failure.
        unsafe {
            libc::execve(
                program.as_ptr(),
                argv_ptrs.as_ptr().cast::<*const libc::c_char>(),
                env_ptrs.as_ptr().cast::<*const libc::c_char>(),
            );
        }
        // Keep the strings the pointer arrays point into alive up to here.
        let _ = (&argv, &env);
        Err(io::Error::last_os_error())
    };
    // SAFETY: the closure runs in the forked child before exec and does only
    // async-signal-safe things (see above): no allocation, no locks, no environment
    // access through libc's functions.
    unsafe {
        cmd.pre_exec(child_side);
    }
    let child = cmd.spawn();
    // The parent's extra copies close here, after the child has its own.
    drop(high);
    child
}

/// Accept a connection already queued on the non-blocking listening socket `listener`
/// (close-on-exec; non-blocking too when `nonblocking`): `Ok(None)` when none is queued.
/// The peer's address comes with it.
pub(crate) fn accept_queued(
    listener: RawFd,
    nonblocking: bool,
) -> io::Result<Option<(socket2::Socket, socket2::SockAddr)>> {
    match accept_flagged(listener, nonblocking) {
        Ok(accepted) => Ok(Some(accepted)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
        Err(e) => Err(e),
    }
}

/// `accept4(2)` with the descriptor's flags set by the call itself: one system call per
/// connection where a separate `fcntl` pair per flag would cost three more.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn accept_flagged(
    listener: RawFd,
    nonblocking: bool,
) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
    let flags = libc::SOCK_CLOEXEC | if nonblocking { libc::SOCK_NONBLOCK } else { 0 };
    // SAFETY: `try_init` hands the closure a zeroed address buffer and its length, which
    // accept4(2) fills in (writing at most `*len` bytes); `listener` is a live listening
    // socket owned by the caller. A descriptor accept4 returns is new and owned by
    // nobody else, so `OwnedFd` takes it.
    let (fd, peer) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            let fd = libc::accept4(listener, storage.cast(), len, flags);
            if fd < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(OwnedFd::from_raw_fd(fd))
            }
        })
    }?;
    Ok((socket2::Socket::from(fd), peer))
}

/// Where `accept4(2)` is missing: accept (close-on-exec), then set the flag.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn accept_flagged(
    listener: RawFd,
    nonblocking: bool,
) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
    // SAFETY: the caller's listener owns `listener` and outlives this call; the
    // borrow ends with it.
    let fd = unsafe { BorrowedFd::borrow_raw(listener) };
    let (socket, peer) = socket2::SockRef::from(&fd).accept()?;
    if nonblocking {
        socket.set_nonblocking(true)?;
    }
    Ok((socket, peer))
}

/// Connections the kernel dropped because an accept queue was full, in this network
/// namespace (`TcpExt: ListenOverflows` of `/proc/net/netstat`); `None` where unknown.
pub(crate) fn listen_overflows() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/net/netstat").ok()?;
    netstat_value(&text, "TcpExt:", "ListenOverflows")
}

/// A value from `/proc/net/netstat` text: a line of names after `prefix`, then a line
/// of values.
fn netstat_value(text: &str, prefix: &str, name: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(prefix));
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let at = names.split_whitespace().position(|n| n == name);
        if let Some(at) = at {
            return values.split_whitespace().nth(at)?.parse().ok();
        }
    }
    None
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

    #[test]
    // TCP_INFO, and an accepted socket that does not inherit the listener's O_NONBLOCK,
    // are Linux's.
    #[cfg(target_os = "linux")]
    fn accept_queue_length_and_queued_accepts() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        assert_eq!(accept_queue_len(l.as_raw_fd()), Some(0));
        assert!(accept_queued(l.as_raw_fd(), false).unwrap().is_none());
        let clients: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(addr).unwrap()).collect();
        // connect(2) returns once the kernel queued the connection.
        assert_eq!(accept_queue_len(l.as_raw_fd()), Some(3));
        let (s, peer) = accept_queued(l.as_raw_fd(), true).unwrap().unwrap();
        assert_eq!(peer.as_socket(), Some(clients[0].local_addr().unwrap()));
        assert!(s.nonblocking().unwrap());
        assert!(cloexec(s.as_raw_fd()));
        let (s, _) = accept_queued(l.as_raw_fd(), false).unwrap().unwrap();
        assert!(!s.nonblocking().unwrap());
        assert_eq!(accept_queue_len(l.as_raw_fd()), Some(1));
        // Not a listening socket.
        assert_eq!(accept_queue_len(clients[0].as_raw_fd()), None);
    }

    #[test]
    fn netstat_values_are_found_by_name() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 18\nIpExt: InNoRoutes\nIpExt: 4\n";
        assert_eq!(netstat_value(text, "TcpExt:", "ListenOverflows"), Some(17));
        assert_eq!(netstat_value(text, "IpExt:", "InNoRoutes"), Some(4));
        assert_eq!(netstat_value(text, "TcpExt:", "Missing"), None);
        if cfg!(target_os = "linux") {
            assert!(listen_overflows().is_some(), "/proc/net/netstat");
        }
    }
}
