//! Socket activation: listening sockets handed to the process instead of bound by it,
//! under systemd's `LISTEN_FDS` protocol (sd_listen_fds(3)). Two senders use it: a
//! systemd `.socket` unit, and the old copy of this server on a SIGUSR2 restart
//! (`restart.rs`), which also sets `PEREGRINE_RESTART_NOTIFY`.
//!
//! The contract: when `LISTEN_PID` is this process's pid and `LISTEN_FDS` is `N ≥ 1`,
//! descriptors `3..3+N` are listening sockets for us to serve; `LISTEN_FDNAMES` names them
//! (`:`-separated). The variables are removed once read, so that processes the application
//! starts do not take them for theirs. A name decides what a socket serves:
//!
//! - `https` or `https-…`: HTTPS (with `--cert`/`--key` as for `https://` prefixes);
//! - `metrics`: the admin listener (`GET /metrics`);
//! - anything else (systemd's default is the socket unit's name): plain HTTP.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};

use crate::url::Scheme;

/// Whether the server serves sockets passed by a service manager (`LISTEN_FDS`) instead
/// of binding its URL prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SocketActivation {
    /// Serve passed sockets when there are some for this process, else bind the URL
    /// prefixes (the default).
    #[default]
    Auto,
    /// Serve only passed sockets; starting without any is an error (`--urls systemd`).
    Required,
    /// Ignore passed sockets (the variables are left alone).
    Off,
}

/// What a passed socket is for, from its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The application, in this scheme.
    App(Scheme),
    /// The admin (`/metrics`) listener.
    Metrics,
}

impl Role {
    /// The role a `LISTEN_FDNAMES` name gives.
    pub(crate) fn from_name(name: Option<&str>) -> Role {
        match name {
            Some(n) if n.eq_ignore_ascii_case("metrics") => Role::Metrics,
            Some(n)
                if n.eq_ignore_ascii_case("https")
                    || n.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("https-")) =>
            {
                Role::App(Scheme::Https)
            }
            _ => Role::App(Scheme::Http),
        }
    }

    /// The name a restart passes for this role.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::App(Scheme::Http) => "http",
            Role::App(Scheme::Https) => "https",
            Role::Metrics => "metrics",
        }
    }
}

/// One passed socket.
#[derive(Debug)]
pub(crate) struct PassedSocket {
    /// The socket (close-on-exec now).
    pub fd: OwnedFd,
    /// Its descriptor number as passed (3, 4, …), for messages.
    pub number: i32,
    /// Its name from `LISTEN_FDNAMES`, when given.
    pub name: Option<String>,
    /// What it serves.
    pub role: Role,
}

/// The sockets passed to this process.
#[derive(Debug)]
pub(crate) struct Passed {
    /// In descriptor order.
    pub sockets: Vec<PassedSocket>,
    /// They come from the old copy of this server (a SIGUSR2 restart), which then leaves
    /// their unix socket files to us.
    pub from_restart: bool,
}

/// The variable a restarting parent sets: where to report readiness.
pub(crate) const RESTART_NOTIFY: &str = "PEREGRINE_RESTART_NOTIFY";

/// Take the sockets passed to this process, as `mode` says. `Ok(None)`: none (bind the
/// URL prefixes). The error is one line for the user.
pub(crate) fn take(mode: SocketActivation) -> Result<Option<Passed>, String> {
    if mode == SocketActivation::Off {
        return Ok(None);
    }
    let pid = std::env::var_os("LISTEN_PID");
    let fds = std::env::var_os("LISTEN_FDS");
    let names = std::env::var_os("LISTEN_FDNAMES");
    // Read once: remove them so that nothing we start inherits them by accident.
    for (key, value) in [
        ("LISTEN_PID", &pid),
        ("LISTEN_FDS", &fds),
        ("LISTEN_FDNAMES", &names),
    ] {
        if value.is_some() {
            std::env::remove_var(key);
        }
    }
    let from_restart = std::env::var_os(RESTART_NOTIFY).is_some();
    let found = parse(
        pid.as_ref(),
        fds.as_ref(),
        names.as_ref(),
        std::process::id(),
    )?;
    let Some((count, names)) = found else {
        return match mode {
            SocketActivation::Required => Err(match pid {
                Some(p) if fds.is_some() => format!(
                    "--urls systemd: the passed sockets are for process {}, not this one ({})",
                    p.to_string_lossy(),
                    std::process::id()
                ),
                _ => "--urls systemd: no sockets were passed to this process (LISTEN_FDS and \
                      LISTEN_PID are not set for it); start it from a systemd .socket unit, or \
                      give URL prefixes"
                    .to_string(),
            }),
            _ => Ok(None),
        };
    };
    let fds = crate::sys::adopt_listen_fds(count)
        .map_err(|e| format!("socket activation: cannot take the passed sockets: {e}"))?;
    let sockets = fds
        .into_iter()
        .zip(names)
        .map(|(fd, name)| PassedSocket {
            number: fd.as_raw_fd(),
            role: Role::from_name(name.as_deref()),
            fd,
            name,
        })
        .collect();
    Ok(Some(Passed {
        sockets,
        from_restart,
    }))
}

/// One name (or none) per passed descriptor.
type Names = Vec<Option<String>>;

/// The most descriptors accepted (systemd caps a unit's at a few thousand too).
const MAX_FDS: usize = 4096;

/// Read the three variables: `Ok(Some((count, names)))` when sockets are passed to the
/// process `our_pid`; `Ok(None)` when none are (unset, `0`, or for another process).
fn parse(
    pid: Option<&OsString>,
    fds: Option<&OsString>,
    names: Option<&OsString>,
    our_pid: u32,
) -> Result<Option<(usize, Names)>, String> {
    let (Some(pid), Some(fds)) = (pid, fds) else {
        return Ok(None);
    };
    let text = |v: &OsString, var: &str| {
        v.to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("socket activation: {var} is not valid text"))
    };
    let pid_text = text(pid, "LISTEN_PID")?;
    let pid: u32 = pid_text
        .trim()
        .parse()
        .map_err(|_| format!("socket activation: LISTEN_PID='{pid_text}' is not a process id"))?;
    if pid != our_pid {
        return Ok(None);
    }
    let fds_text = text(fds, "LISTEN_FDS")?;
    let count: usize = fds_text.trim().parse().map_err(|_| {
        format!("socket activation: LISTEN_FDS='{fds_text}' is not a number of descriptors")
    })?;
    if count == 0 {
        return Ok(None);
    }
    if count > MAX_FDS {
        return Err(format!(
            "socket activation: LISTEN_FDS={count} is more than {MAX_FDS} descriptors"
        ));
    }
    let names = match names {
        None => vec![None; count],
        Some(n) => {
            let n = text(n, "LISTEN_FDNAMES")?;
            let list: Vec<Option<String>> = n
                .split(':')
                .map(|s| (!s.is_empty()).then(|| s.to_string()))
                .collect();
            if list.len() != count {
                return Err(format!(
                    "socket activation: LISTEN_FDNAMES has {} names for {count} descriptors",
                    list.len()
                ));
            }
            list
        }
    };
    Ok(Some((count, names)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    #[test]
    fn passed_only_to_the_named_process() {
        let (pid, fds) = (os("42"), os("2"));
        assert_eq!(
            parse(Some(&pid), Some(&fds), None, 42),
            Ok(Some((2, vec![None, None])))
        );
        assert_eq!(parse(Some(&pid), Some(&fds), None, 43), Ok(None));
        assert_eq!(parse(None, Some(&fds), None, 42), Ok(None));
        assert_eq!(parse(Some(&pid), None, None, 42), Ok(None));
        assert_eq!(parse(Some(&pid), Some(&os("0")), None, 42), Ok(None));
    }

    #[test]
    fn names_match_the_descriptors() {
        let (pid, fds) = (os("7"), os("3"));
        let names = os("web:https::");
        assert_eq!(
            parse(Some(&pid), Some(&fds), Some(&os("web:https:metrics")), 7),
            Ok(Some((
                3,
                vec![
                    Some("web".into()),
                    Some("https".into()),
                    Some("metrics".into())
                ]
            )))
        );
        let e = parse(Some(&pid), Some(&fds), Some(&names), 7).unwrap_err();
        assert_eq!(
            e,
            "socket activation: LISTEN_FDNAMES has 4 names for 3 descriptors"
        );
        let one_empty = os("a::c");
        assert_eq!(
            parse(Some(&pid), Some(&fds), Some(&one_empty), 7),
            Ok(Some((3, vec![Some("a".into()), None, Some("c".into())])))
        );
    }

    #[test]
    fn malformed_values_are_one_line_errors() {
        let e = parse(Some(&os("me")), Some(&os("1")), None, 7).unwrap_err();
        assert_eq!(e, "socket activation: LISTEN_PID='me' is not a process id");
        let e = parse(Some(&os("7")), Some(&os("-1")), None, 7).unwrap_err();
        assert_eq!(
            e,
            "socket activation: LISTEN_FDS='-1' is not a number of descriptors"
        );
        let e = parse(Some(&os("7")), Some(&os("100000")), None, 7).unwrap_err();
        assert!(e.contains("more than 4096"), "{e}");
    }

    #[test]
    fn roles_come_from_names() {
        assert_eq!(Role::from_name(None), Role::App(Scheme::Http));
        assert_eq!(
            Role::from_name(Some("peregrine.socket")),
            Role::App(Scheme::Http)
        );
        assert_eq!(Role::from_name(Some("https")), Role::App(Scheme::Https));
        assert_eq!(
            Role::from_name(Some("HTTPS-public")),
            Role::App(Scheme::Https)
        );
        assert_eq!(Role::from_name(Some("httpsx")), Role::App(Scheme::Http));
        assert_eq!(Role::from_name(Some("metrics")), Role::Metrics);
        for role in [
            Role::App(Scheme::Http),
            Role::App(Scheme::Https),
            Role::Metrics,
        ] {
            assert_eq!(Role::from_name(Some(role.name())), role);
        }
    }
}
