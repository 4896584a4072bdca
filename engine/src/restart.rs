//! SIGUSR2: restart without losing a connection (nginx's binary upgrade, which Kestrel
//! lacks), for every kind of listener, unix sockets included.
//!
//! 1. Start a new copy of the binary — the file now at the path this process was started
//!    from, so an upgraded binary installed over the old one is the one that runs — with
//!    the same arguments and environment, and every listening socket inherited under the
//!    `LISTEN_FDS` convention (`sys::spawn_with_listen_fds`): `LISTEN_FDNAMES` says what
//!    each serves (`http`, `https`, `metrics`), and `PEREGRINE_RESTART_NOTIFY` names a
//!    datagram socket of ours (abstract namespace) for its `READY=1`.
//! 2. Wait, at most `--restart-timeout`, for that `READY=1`. If the new copy exits first,
//!    or is not ready in time (it is then killed), this copy logs why and keeps serving
//!    as if nothing happened.
//! 3. Once it is ready: tell systemd (when it supervises us) `MAINPID=` the new pid, then
//!    shut down gracefully. The listening sockets are the same kernel sockets in both
//!    processes, so connections waiting in their accept queues are accepted by the new
//!    copy; this one stops accepting, finishes what it has, and does not remove the unix
//!    socket files, which the new copy now serves (and removes at its own shutdown).

use std::ffi::OsString;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::activation::{Role, RESTART_NOTIFY};
use crate::listen::Endpoint;
use crate::notify::Notifier;
use crate::signal::Trigger;
use crate::sys;

/// The listening sockets the server keeps for a restart (and for removing unix socket
/// files at shutdown), shared by the running server and the restart thread.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    sockets: Mutex<Option<KeptSockets>>,
    /// Shared with the workers (`HttpSettings::listeners_handed_over`): sockets handed
    /// over are not shut down when they stop accepting.
    pub(crate) handed_over: Arc<AtomicBool>,
}

/// The application's and the admin listener's endpoints.
#[derive(Debug, Default)]
pub(crate) struct KeptSockets {
    pub app: Vec<Endpoint>,
    pub metrics: Vec<Endpoint>,
}

impl Kept {
    /// Keep the sockets once the workers serve them: restarts are possible from now on.
    pub(crate) fn keep(&self, sockets: KeptSockets) {
        *self.lock() = Some(sockets);
    }

    fn lock(&self) -> MutexGuard<'_, Option<KeptSockets>> {
        self.sockets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Take the sockets out (shutdown): no restart can start after this.
    pub(crate) fn take(&self) -> Option<KeptSockets> {
        self.lock().take()
    }

    /// Whether a restart handed the sockets over to a new copy.
    pub(crate) fn handed_over(&self) -> bool {
        self.handed_over.load(Ordering::SeqCst)
    }
}

/// Everything a restart needs.
#[derive(Debug)]
pub(crate) struct Restarter {
    pub kept: Arc<Kept>,
    pub trigger: Trigger,
    /// systemd's notify socket, to name the new main process.
    pub systemd: Option<Arc<Notifier>>,
    pub timeout: Duration,
    busy: AtomicBool,
}

impl Restarter {
    pub(crate) fn new(
        kept: Arc<Kept>,
        trigger: Trigger,
        systemd: Option<Arc<Notifier>>,
        timeout: Duration,
    ) -> Restarter {
        Restarter {
            kept,
            trigger,
            systemd,
            timeout,
            busy: AtomicBool::new(false),
        }
    }

    /// Start a restart on a thread of its own (SIGUSR2); one at a time.
    pub(crate) fn request(self: &Arc<Self>) {
        if self.busy.swap(true, Ordering::SeqCst) {
            tracing::warn!("SIGUSR2 ignored: a restart is already in progress");
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("peregrine-restart".into())
            .spawn(move || {
                if let Err(e) = me.run() {
                    tracing::error!("SIGUSR2 restart failed: {e}; this process keeps serving");
                }
                me.busy.store(false, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            tracing::error!("SIGUSR2 restart failed: cannot start a thread: {e}");
            self.busy.store(false, Ordering::SeqCst);
        }
    }

    fn run(&self) -> Result<(), String> {
        if self.trigger.is_fired() {
            return Err("the server is already shutting down".into());
        }
        let program = program_path();
        let argv: Vec<OsString> = std::env::args_os().collect();
        let (ready, ready_name) = ready_socket()
            .map_err(|e| format!("cannot make the socket the new copy reports on: {e}"))?;
        let mut child = {
            let guard = self.kept.lock();
            let Some(kept) = guard.as_ref() else {
                return Err("the server is still starting or already shutting down".into());
            };
            let mut fds = Vec::new();
            let mut names = Vec::new();
            for (ep, role) in kept
                .app
                .iter()
                .map(|ep| (ep, Role::App(ep.scheme)))
                .chain(kept.metrics.iter().map(|ep| (ep, Role::Metrics)))
            {
                for fd in ep.sockets.each() {
                    fds.push(fd);
                    names.push(role.name());
                }
            }
            let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
                .filter(|(k, _)| {
                    ![
                        "LISTEN_PID",
                        "LISTEN_FDS",
                        "LISTEN_FDNAMES",
                        "WATCHDOG_PID",
                        RESTART_NOTIFY,
                    ]
                    .iter()
                    .any(|v| k == v)
                })
                .collect();
            env.push(("LISTEN_FDS".into(), fds.len().to_string().into()));
            env.push(("LISTEN_FDNAMES".into(), names.join(":").into()));
            env.push((RESTART_NOTIFY.into(), format!("@{ready_name}").into()));
            sys::spawn_with_listen_fds(sys::Inherit {
                program: &program,
                argv: &argv,
                env,
                fds: &fds,
            })
            .map_err(|e| format!("cannot start {}: {e}", program.display()))?
        };
        let pid = child.id();
        tracing::info!(
            "SIGUSR2: started a new copy of {} (pid {pid}); waiting up to {:?} for it to be ready",
            program.display(),
            self.timeout
        );
        let deadline = Instant::now() + self.timeout;
        let mut buf = [0u8; 4096];
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    return Err(format!(
                        "the new copy (pid {pid}) exited ({status}) before it was ready"
                    ))
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, "cannot check on the new copy"),
            }
            let mut stop = |why: String| {
                let _ = child.kill();
                let _ = child.wait();
                Err(why)
            };
            if self.trigger.is_fired() {
                return stop(format!(
                    "shutdown started during the restart; the new copy (pid {pid}) was stopped"
                ));
            }
            if Instant::now() >= deadline {
                return stop(format!(
                    "the new copy (pid {pid}) was not ready within {:?}; it was stopped",
                    self.timeout
                ));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let _ = ready.set_read_timeout(Some(left.clamp(Duration::from_millis(1), POLL)));
            match ready.recv(&mut buf) {
                Ok(n) if says_ready(&buf[..n]) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return stop(format!("waiting for the new copy (pid {pid}): {e}")),
            }
        }
        self.kept.handed_over.store(true, Ordering::SeqCst);
        if let Some(n) = &self.systemd {
            n.send_logged(&format!("MAINPID={pid}\nSTATUS=Handed over to pid {pid}\n"));
        }
        tracing::info!(
            "SIGUSR2: the new copy (pid {pid}) is ready; this one stops accepting and drains"
        );
        self.trigger.fire();
        // The new copy lives on; it is reparented when we exit.
        drop(child);
        Ok(())
    }
}

/// How often the wait for the new copy also checks whether it exited (process exit has
/// no event a datagram socket can wait on with it).
const POLL: Duration = Duration::from_millis(100);

/// Whether an `sd_notify` message has the line `READY=1`.
fn says_ready(message: &[u8]) -> bool {
    message.split(|b| *b == b'\n').any(|l| l == b"READY=1")
}

/// A datagram socket in the abstract namespace (nothing to clean up, reachable from this
/// network namespace only) with a name no other process guesses.
fn ready_socket() -> io::Result<(UnixDatagram, String)> {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    let name = format!(
        "peregrine-restart-{}-{:016x}",
        std::process::id(),
        h.finish()
    );
    let sock = UnixDatagram::bind_addr(&sys::abstract_name(name.as_bytes())?)?;
    Ok((sock, name))
}

/// The binary to start: the file now at the path we were started from (a new version
/// installed over it is the point of a binary upgrade), else our own image (or, without
/// `/proc`, what the standard library finds).
fn program_path() -> PathBuf {
    let own = PathBuf::from("/proc/self/exe");
    match std::fs::read_link(&own) {
        Ok(p) => {
            let text = p.as_os_str().as_encoded_bytes();
            let path = match text.strip_suffix(b" (deleted)") {
                Some(stripped) => PathBuf::from(String::from_utf8_lossy(stripped).into_owned()),
                None => p,
            };
            if path.is_file() {
                path
            } else {
                own
            }
        }
        Err(_) => std::env::current_exe().unwrap_or(own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines() {
        assert!(says_ready(b"READY=1"));
        assert!(says_ready(b"STATUS=x\nREADY=1\nMAINPID=4\n"));
        assert!(!says_ready(b"READY=0\n"));
        assert!(!says_ready(b"NOTREADY=1\n"));
    }

    #[test]
    fn the_program_is_a_file() {
        assert!(program_path().exists());
    }
}
