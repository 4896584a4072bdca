//! Telling a service manager how the server is doing: systemd's `sd_notify` protocol
//! (sd_notify(3)) — newline-separated `KEY=VALUE` lines in one datagram to the unix socket
//! named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace) — and the
//! watchdog that keeps pinging it only while every worker is alive.
//!
//! - `READY=1` once serving ([`crate::Running::wait`], after the application announced
//!   its addresses), `STOPPING=1` when a graceful shutdown starts, `STATUS=` lines along.
//! - `WATCHDOG=1` every half of `WATCHDOG_USEC` when that is set (and `WATCHDOG_PID` is
//!   unset or ours), from a thread that first checks each worker's heartbeat: the ticker
//!   of every worker publishes its counters once a second ([`Board`]), which counts as a
//!   beat. A worker without a beat for a whole watchdog interval (at least 2 s) is stuck
//!   (a handler blocking its thread, say): the pings stop, and systemd restarts the
//!   service when `WatchdogSec=` runs out.
//! - A copy started by a SIGUSR2 restart finds `PEREGRINE_RESTART_NOTIFY`, the old
//!   copy's socket: its `READY=1` goes there (the old copy then tells systemd
//!   `MAINPID=` the new pid) rather than to systemd, which already counts the service
//!   as running.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::activation::RESTART_NOTIFY;
use crate::metrics::Board;

/// A datagram socket that sends `sd_notify` messages to one address.
#[derive(Debug)]
pub(crate) struct Notifier {
    addr: SocketAddr,
    sock: UnixDatagram,
    /// The variable's text, for messages.
    name: String,
}

impl Notifier {
    /// A notifier for a `NOTIFY_SOCKET` value: an absolute path or `@abstract-name`.
    pub(crate) fn new(value: &OsStr) -> io::Result<Notifier> {
        let bytes = value.as_bytes();
        let addr = match bytes.first() {
            Some(b'/') => SocketAddr::from_pathname(value)?,
            Some(b'@') => crate::sys::abstract_name(&bytes[1..])?,
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "not an absolute path or an @abstract name",
                ))
            }
        };
        let sock = UnixDatagram::unbound()?;
        // A full socket buffer must not block a shutdown.
        sock.set_write_timeout(Some(Duration::from_secs(1)))?;
        Ok(Notifier {
            addr,
            sock,
            name: value.to_string_lossy().into_owned(),
        })
    }

    /// Send one message (lines `KEY=VALUE`).
    pub(crate) fn send(&self, message: &str) -> io::Result<()> {
        self.sock
            .send_to_addr(message.as_bytes(), &self.addr)
            .map(drop)
    }

    /// Send, logging a failure instead of returning it.
    pub(crate) fn send_logged(&self, message: &str) {
        if let Err(e) = self.send(message) {
            tracing::warn!(socket = %self.name, error = %e, "cannot notify the service manager");
        }
    }
}

/// What the environment asks of us: where to send notifications and how often the
/// watchdog must be pinged.
#[derive(Debug, Default)]
pub(crate) struct SystemdEnv {
    /// `NOTIFY_SOCKET`.
    pub notify: Option<Arc<Notifier>>,
    /// Half of `WATCHDOG_USEC`'s interval is the ping period; set only when the
    /// watchdog is ours (`WATCHDOG_PID` unset or our pid) and there is a notify socket.
    pub watchdog: Option<Duration>,
    /// The old copy's socket, when we were started by a SIGUSR2 restart.
    pub restart_parent: Option<Notifier>,
}

impl SystemdEnv {
    /// Read `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID` and
    /// `PEREGRINE_RESTART_NOTIFY` (removed once read: only this process may use it). Bad
    /// values are warnings, not errors: a server that cannot notify still serves.
    pub(crate) fn from_env() -> SystemdEnv {
        let restart_parent = std::env::var_os(RESTART_NOTIFY).and_then(|v| {
            std::env::remove_var(RESTART_NOTIFY);
            Notifier::new(&v)
                .map_err(|e| {
                    tracing::warn!(
                        "{RESTART_NOTIFY}='{}' cannot be used ({e}); the old copy will not \
                         hear that this one is ready",
                        v.to_string_lossy()
                    )
                })
                .ok()
        });
        let notify = std::env::var_os("NOTIFY_SOCKET").and_then(|v| {
            Notifier::new(&v)
                .map_err(|e| {
                    tracing::warn!(
                        "NOTIFY_SOCKET='{}' cannot be used ({e}); not notifying systemd",
                        v.to_string_lossy()
                    )
                })
                .ok()
                .map(Arc::new)
        });
        let watchdog = match (
            &notify,
            watchdog_interval(
                std::env::var("WATCHDOG_USEC").ok().as_deref(),
                std::env::var("WATCHDOG_PID").ok().as_deref(),
                std::process::id(),
            ),
        ) {
            (Some(_), Ok(w)) => w,
            (None, _) => None,
            (Some(_), Err(e)) => {
                tracing::warn!("{e}; the watchdog is not pinged");
                None
            }
        };
        SystemdEnv {
            notify,
            watchdog,
            restart_parent,
        }
    }

    /// Report that the server is serving `addresses`: to the old copy when we are a
    /// restart's new copy, else to systemd.
    pub(crate) fn ready(&self, addresses: &[String]) {
        let status = format!("STATUS=Listening on {}", addresses.join(", "));
        if let Some(parent) = &self.restart_parent {
            parent.send_logged(&format!("READY=1\nMAINPID={}\n", std::process::id()));
            if let Some(n) = &self.notify {
                // Accepted once the old copy has made us the main process.
                n.send_logged(&format!("{status}\n"));
            }
        } else if let Some(n) = &self.notify {
            n.send_logged(&format!("READY=1\n{status}\n"));
        }
    }

    /// Report that a graceful shutdown started.
    pub(crate) fn stopping(&self) {
        if let Some(n) = &self.notify {
            n.send_logged("STOPPING=1\nSTATUS=Shutting down: draining connections\n");
        }
    }
}

/// The watchdog interval from `WATCHDOG_USEC` and `WATCHDOG_PID` (sd_watchdog_enabled(3)):
/// `None` when unset or meant for another process.
fn watchdog_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    our_pid: u32,
) -> Result<Option<Duration>, String> {
    let Some(usec) = usec else { return Ok(None) };
    if let Some(pid) = pid {
        let pid: u32 = pid
            .trim()
            .parse()
            .map_err(|_| format!("WATCHDOG_PID='{pid}' is not a process id"))?;
        if pid != our_pid {
            return Ok(None);
        }
    }
    match usec.trim().parse::<u64>() {
        Ok(0) => Ok(None),
        Ok(us) => Ok(Some(Duration::from_micros(us))),
        Err(_) => Err(format!(
            "WATCHDOG_USEC='{usec}' is not a number of microseconds"
        )),
    }
}

/// Which workers are alive: each must have beaten within `stale_after`.
#[derive(Debug)]
pub(crate) struct Liveness {
    /// Per worker: the last beat count seen and when it changed.
    last: Vec<(u64, Instant)>,
    stale_after: Duration,
}

/// Workers beat once a second: never call one stuck sooner than this.
const MIN_STALE: Duration = Duration::from_secs(2);

impl Liveness {
    pub(crate) fn new(workers: usize, interval: Duration, now: Instant) -> Liveness {
        Liveness {
            last: vec![(0, now); workers],
            stale_after: interval.max(MIN_STALE),
        }
    }

    /// Take in the current beat counts; `Err(worker)` names the first stuck worker and
    /// for how long it has been silent.
    pub(crate) fn check(&mut self, beats: &[u64], now: Instant) -> Result<(), (usize, Duration)> {
        let mut stuck = None;
        for (i, (&beat, last)) in beats.iter().zip(self.last.iter_mut()).enumerate() {
            if beat != last.0 {
                *last = (beat, now);
            } else {
                let silent = now.saturating_duration_since(last.1);
                if silent >= self.stale_after && stuck.is_none() {
                    stuck = Some((i, silent));
                }
            }
        }
        stuck.map_or(Ok(()), Err)
    }
}

/// The watchdog thread: pings every `interval / 2` while every worker beats. It ends when
/// `stop` is dropped or sent to.
pub(crate) fn start_watchdog(
    notifier: Arc<Notifier>,
    interval: Duration,
    board: Board,
) -> io::Result<mpsc::Sender<()>> {
    let (stop, stopped) = mpsc::channel::<()>();
    let period = interval / 2;
    std::thread::Builder::new()
        .name("peregrine-watchdog".into())
        .spawn(move || {
            let mut liveness = Liveness::new(board.beats().len(), interval, Instant::now());
            let mut was_stuck = false;
            loop {
                match liveness.check(&board.beats(), Instant::now()) {
                    Ok(()) => {
                        if was_stuck {
                            tracing::warn!("every worker is alive again; watchdog pings resume");
                            was_stuck = false;
                        }
                        notifier.send_logged("WATCHDOG=1\n");
                    }
                    Err((worker, silent)) => {
                        if !was_stuck {
                            tracing::error!(
                                worker,
                                "worker {worker} has not ticked for {:.1}s: it is stuck; \
                                 watchdog pings stop",
                                silent.as_secs_f64()
                            );
                            notifier.send_logged(&format!(
                                "STATUS=Worker {worker} is stuck; watchdog pings stopped\n"
                            ));
                            was_stuck = true;
                        }
                    }
                }
                match stopped.recv_timeout(period) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
            }
        })?;
    Ok(stop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_interval_follows_sd_watchdog_enabled() {
        let s = |us: u64| Ok(Some(Duration::from_micros(us)));
        assert_eq!(watchdog_interval(None, None, 5), Ok(None));
        assert_eq!(watchdog_interval(Some("3000000"), None, 5), s(3_000_000));
        assert_eq!(
            watchdog_interval(Some("3000000"), Some("5"), 5),
            s(3_000_000)
        );
        assert_eq!(watchdog_interval(Some("3000000"), Some("6"), 5), Ok(None));
        assert_eq!(watchdog_interval(Some("0"), None, 5), Ok(None));
        assert!(watchdog_interval(Some("soon"), None, 5).is_err());
        assert!(watchdog_interval(Some("1"), Some("me"), 5).is_err());
    }

    #[test]
    fn a_worker_without_beats_for_an_interval_is_stuck() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut l = Liveness::new(2, s(4), t0);
        assert_eq!(l.check(&[1, 1], t0 + s(1)), Ok(()));
        assert_eq!(l.check(&[2, 2], t0 + s(2)), Ok(()));
        // Worker 1 stops beating at 2 s; at 5 s it has been silent 3 s < 4 s.
        assert_eq!(l.check(&[5, 2], t0 + s(5)), Ok(()));
        assert_eq!(l.check(&[6, 2], t0 + s(6)), Err((1, s(4))));
        assert_eq!(l.check(&[7, 2], t0 + s(7)), Err((1, s(5))));
        // It beats again: alive.
        assert_eq!(l.check(&[8, 3], t0 + s(8)), Ok(()));
    }

    #[test]
    fn short_intervals_leave_room_for_the_one_second_tick() {
        let t0 = Instant::now();
        let mut l = Liveness::new(1, Duration::from_millis(500), t0);
        let ms = Duration::from_millis;
        assert_eq!(l.check(&[0], t0 + ms(1500)), Ok(()));
        assert_eq!(l.check(&[0], t0 + ms(2000)), Err((0, ms(2000))));
    }

    #[test]
    fn notify_socket_values() {
        assert!(Notifier::new(OsStr::new("/run/systemd/notify")).is_ok());
        // Abstract names are Linux's.
        assert_eq!(
            Notifier::new(OsStr::new("@abstract")).is_ok(),
            cfg!(target_os = "linux")
        );
        assert!(Notifier::new(OsStr::new("relative")).is_err());
        assert!(Notifier::new(OsStr::new("")).is_err());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn sends_datagrams_to_an_abstract_socket() {
        let name = format!("peregrine-notify-test-{}", std::process::id());
        let addr = crate::sys::abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&addr).unwrap();
        rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let n = Notifier::new(OsStr::new(&format!("@{name}"))).unwrap();
        n.send("READY=1\n").unwrap();
        let mut buf = [0u8; 64];
        let len = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\n");
    }
}
