//! Backend selection when io_uring is unavailable. The binary is started under a seccomp
//! filter (installed in the child between fork and exec) that makes `io_uring_setup`
//! fail with `ENOSYS`, as on kernels without io_uring or in containers whose seccomp
//! profile blocks it. `--backend auto` must fall back to epoll, say so on stderr and
//! serve; `--backend io-uring` must refuse to start with a clear error.
//!
//! These tests are about the backend choice itself, so they pass `--backend` explicitly
//! instead of running once per backend.
//!
//! Linux only: seccomp filters and io_uring are Linux's.
#![cfg(target_os = "linux")]

#[macro_use]
mod common;

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

use common::*;

/// `AUDIT_ARCH_X86_64`: `EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
/// `AUDIT_ARCH_AARCH64`: `EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`.
const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;
/// `io_uring_setup` on both x86_64 and aarch64.
const SYS_IO_URING_SETUP: u32 = 425;

/// The audit architecture of this build, where the syscall number above is right.
const ARCH: Option<u32> = if cfg!(target_arch = "x86_64") {
    Some(AUDIT_ARCH_X86_64)
} else if cfg!(target_arch = "aarch64") {
    Some(AUDIT_ARCH_AARCH64)
} else {
    None
};

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    }
}

/// A classic BPF program: `io_uring_setup` on our architecture returns `ENOSYS`,
/// everything else is allowed.
fn deny_io_uring(arch: u32) -> Vec<libc::sock_filter> {
    let arch_offset = std::mem::offset_of!(libc::seccomp_data, arch) as u32;
    let nr_offset = std::mem::offset_of!(libc::seccomp_data, nr) as u32;
    vec![
        // 0: A = arch
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, arch_offset),
        // 1: another architecture (another syscall table): allow (to 5)
        jump(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, arch, 0, 3),
        // 2: A = syscall number
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, nr_offset),
        // 3: io_uring_setup? to 4, else to 5
        jump(
            libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
            SYS_IO_URING_SETUP,
            0,
            1,
        ),
        // 4: fail with ENOSYS
        stmt(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        ),
        // 5: allow
        stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}

/// The binary (see [`command`]) with `--backend choice`, run under the filter. `None` on
/// architectures whose syscall numbers we do not know.
fn without_io_uring(choice: &str, args: &[&str]) -> Option<Command> {
    let arch = ARCH?;
    let mut cmd = command(None, args);
    cmd.args(["--backend", choice]);
    let filter = deny_io_uring(arch);
    let install = move || -> io::Result<()> {
        let prog = libc::sock_fprog {
            len: filter.len() as libc::c_ushort,
            filter: filter.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prctl with integer arguments only changes this (child) process's
        // no_new_privs flag; no memory is touched.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `prog` points at `filter`, a live, well-formed array of `len` BPF
        // instructions, for the duration of the call; the kernel copies it.
        let rc = unsafe {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: the closure runs in the child between fork and exec; it only makes two
    // prctl system calls on data allocated before the fork (no allocation, no locks),
    // which is async-signal-safe.
    unsafe {
        cmd.pre_exec(install);
    }
    Some(cmd)
}

fn unsupported_arch() {
    skip("no io_uring_setup syscall number for this architecture");
}

#[test]
fn auto_falls_back_to_epoll_when_io_uring_is_blocked() {
    let Some(cmd) = without_io_uring("auto", &["--urls", "http://127.0.0.1:0"]) else {
        return unsupported_arch();
    };
    let mut s = Server::spawn(cmd).unwrap_or_else(|f| {
        panic!(
            "did not start without io_uring ({}):\n{}",
            f.status, f.stderr
        )
    });
    assert!(
        s.wait_stderr("using the epoll backend", IO_TIMEOUT),
        "no word of the fallback on stderr:\n{}",
        s.stderr()
    );
    let stderr = s.stderr();
    let line = stderr
        .lines()
        .find(|l| l.contains("using the epoll backend"))
        .unwrap();
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("io_uring is unavailable"), "{line}");
    assert!(
        line.contains("io_uring_setup") || line.contains("Function not implemented"),
        "the reason is missing: {line}"
    );

    // It serves, over raw sockets and curl.
    let mut c = s.connect(0);
    for _ in 0..3 {
        let r = c.get("/plaintext");
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "Hello, World!");
    }
    let out = curl(&[&format!("http://{}/json", s.tcp_addr(0))]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        r#"{"message":"Hello, World!"}"#
    );
    // And shuts down cleanly.
    drop(c);
    s.signal(libc::SIGTERM);
    assert!(s.wait_exit(EXIT_TIMEOUT).success());
}

#[test]
fn io_uring_backend_fails_clearly_when_io_uring_is_blocked() {
    let Some(cmd) = without_io_uring("io-uring", &["--urls", "http://127.0.0.1:0"]) else {
        return unsupported_arch();
    };
    let out = run_cmd_to_exit(cmd, EXIT_TIMEOUT);
    let line = out.assert_error("io_uring was requested but is unavailable");
    assert!(
        line.contains("io_uring_setup") || line.contains("Function not implemented"),
        "the reason is missing: {line}"
    );
}

#[test]
fn epoll_backend_is_unaffected_by_the_filter() {
    let Some(cmd) = without_io_uring("epoll", &["--urls", "http://127.0.0.1:0"]) else {
        return unsupported_arch();
    };
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert!(
        s.wait_stderr("using the epoll backend", IO_TIMEOUT),
        "{}",
        s.stderr()
    );
    assert!(!s.stderr().contains("io_uring is unavailable"));
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
}

#[test]
fn auto_uses_io_uring_where_it_works() {
    // Where `--backend io-uring` starts, `auto` must choose it too.
    let probe = Server::spawn(command(
        Some(Backend::IoUring),
        &["--urls", "http://127.0.0.1:0"],
    ));
    let Ok(probe) = probe else {
        return skip("io_uring is not available on this machine");
    };
    drop(probe);
    let mut cmd = command(None, &["--urls", "http://127.0.0.1:0"]);
    cmd.args(["--backend", "auto"]);
    let s = Server::spawn(cmd).unwrap_or_else(|f| panic!("did not start: {}", f.stderr));
    assert!(
        s.wait_stderr("using the io-uring backend", IO_TIMEOUT),
        "{}",
        s.stderr()
    );
    assert!(!s.stderr().contains("epoll"), "{}", s.stderr());
    assert_eq!(s.connect(0).get("/plaintext").status, 200);
}

#[test]
fn unknown_backend_is_refused() {
    let out = run_to_exit(
        None,
        &["--urls", "http://127.0.0.1:0", "--backend", "select"],
    );
    out.assert_error("unknown backend 'select'");
}
