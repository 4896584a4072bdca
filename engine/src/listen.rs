//! Binding listen sockets for the parsed URL prefixes, all of them before any worker
//! starts, so that a failure leaves nothing bound.
//!
//! - A TCP address is bound once per worker with `SO_REUSEPORT`: the kernel shards
//!   accepted connections across workers. Before that, an exclusive probe bind checks the
//!   port is free (unless port sharing is on), so a taken port is an error, not a
//!   silent join of somebody else's group. Where a group does not balance connections
//!   (macOS, FreeBSD: [`sys::REUSEPORT_BALANCES`]) the address is bound once and every
//!   worker accepts from a copy of that one socket, as from a unix socket.
//! - A unix socket is one listening socket that every worker accepts from. A stale file
//!   (nothing listening) is replaced; a live socket or a non-socket file is refused.
//! - `localhost` binds 127.0.0.1 and [::1]; a missing loopback family is a warning.
//! - `*`, `+` and host names bind `[::]` dual-stack, falling back to `0.0.0.0`.
//! - Passed sockets (socket activation, a SIGUSR2 restart: `activation.rs`) are adopted
//!   instead ([`adopt_all`]): a TCP socket with `SO_REUSEPORT` set is joined by sockets we
//!   bind into its group until every worker has one of its own (several passed sockets of
//!   one address, as a restart passes them, are spread over the workers as they are);
//!   one without `SO_REUSEPORT` is shared by every worker, like a unix socket. A passed
//!   unix socket's file is not ours: it is removed at shutdown only when it came from a
//!   restart (the old copy left it to us), never when systemd passed it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, Socket, Type};

use crate::activation::{Passed, Role};
use crate::sys;
use crate::url::{BindAddress, ListenTarget, Scheme};

/// A bound endpoint: the sockets for one reported address.
#[derive(Debug)]
pub struct Endpoint {
    /// What is reported: `http://127.0.0.1:43567`, `http://localhost:5000`,
    /// `http://unix:/tmp/x.sock`.
    pub display: String,
    /// The scheme the endpoint serves.
    pub scheme: Scheme,
    /// The sockets.
    pub sockets: EndpointSockets,
    /// Where the sockets came from.
    pub origin: Origin,
}

/// Where an endpoint's sockets came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Bound here, from a URL prefix.
    Bound,
    /// Passed by a service manager (socket activation).
    Systemd,
    /// Passed by the old copy of this server on a SIGUSR2 restart.
    Restart,
}

/// The sockets of an endpoint.
#[derive(Debug)]
pub enum EndpointSockets {
    /// One `SO_REUSEPORT` group per local address (two for localhost); each group has one
    /// socket per worker.
    Tcp(Vec<Vec<TcpListener>>),
    /// One TCP listener every worker accepts from (a passed socket without
    /// `SO_REUSEPORT`).
    SharedTcp(TcpListener),
    /// One unix listener shared by all workers; the file is removed on drop.
    Unix(UnixSocketFile),
}

impl EndpointSockets {
    /// Each distinct listening socket once (what a restart hands over).
    pub fn each(&self) -> Vec<std::os::fd::BorrowedFd<'_>> {
        use std::os::fd::AsFd;
        match self {
            EndpointSockets::Tcp(groups) => groups.iter().flatten().map(|l| l.as_fd()).collect(),
            EndpointSockets::SharedTcp(l) => vec![l.as_fd()],
            EndpointSockets::Unix(file) => vec![file.listener.as_fd()],
        }
    }
}

/// A bound unix socket and its file, removed when dropped (if it is still ours).
#[derive(Debug)]
pub struct UnixSocketFile {
    /// The listening socket.
    pub listener: UnixListener,
    /// The socket file's path.
    pub path: PathBuf,
    ino: u64,
    dev: u64,
    /// Remove the file on drop (if it is still the same file): set for sockets bound here;
    /// a restart that handed the socket over clears it.
    pub remove: bool,
}

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
        if !self.remove {
            return;
        }
        // Remove the file only if it is still the socket we created.
        if let Ok(meta) = std::fs::symlink_metadata(&self.path) {
            if meta.ino() == self.ino && meta.dev() == self.dev {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

/// How to bind.
#[derive(Debug, Clone, Copy)]
pub struct BindOptions {
    /// Sockets per TCP address (one per worker).
    pub workers: usize,
    /// Listen backlog.
    pub backlog: u32,
    /// Skip the exclusive probe: join an existing `SO_REUSEPORT` group.
    pub port_sharing: bool,
    /// Mode for unix socket files.
    pub unix_socket_mode: Option<u32>,
}

/// A bind failure: one clear line of text naming the address, and the kind of the
/// operating system's error when there was one.
#[derive(Debug)]
pub struct BindError {
    message: String,
    io_kind: Option<io::ErrorKind>,
}

impl BindError {
    pub(crate) fn new(message: String, io_kind: Option<io::ErrorKind>) -> Self {
        BindError { message, io_kind }
    }

    /// The kind of the operating system's error that made the bind fail
    /// (`AddrInUse`, `PermissionDenied`, `AddrNotAvailable`, …), when there was one.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        self.io_kind
    }

    /// The same failure, its text prefixed (e.g. `metrics: `).
    pub(crate) fn prefixed(self, prefix: &str) -> Self {
        BindError {
            message: format!("{prefix}{}", self.message),
            io_kind: self.io_kind,
        }
    }
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BindError {}

/// Bind every address; on any failure everything bound so far is closed (and unix socket
/// files removed) and the error says which address failed and why.
pub fn bind_all(addrs: &[BindAddress], opts: &BindOptions) -> Result<Vec<Endpoint>, BindError> {
    addrs.iter().map(|a| bind_one(a, opts)).collect()
}

fn bind_one(addr: &BindAddress, opts: &BindOptions) -> Result<Endpoint, BindError> {
    let scheme = addr.scheme;
    let s = scheme.as_str();
    match &addr.target {
        ListenTarget::Ip(sa) => {
            let group = bind_group(*sa, opts)
                .map_err(|e| bind_failed(&format!("{s}://{}", display_ip(sa)), &e))?;
            let real = local_addr(&group)?;
            Ok(Endpoint {
                display: format!("{s}://{}", display_ip(&real)),
                scheme,
                sockets: EndpointSockets::Tcp(vec![group]),
                origin: Origin::Bound,
            })
        }
        ListenTarget::Localhost(port) => bind_localhost(s, *port, opts).map(|groups| Endpoint {
            display: format!("{s}://localhost:{port}"),
            scheme,
            sockets: EndpointSockets::Tcp(groups),
            origin: Origin::Bound,
        }),
        ListenTarget::Any { port, host_name } => {
            if let Some(name) = host_name {
                tracing::warn!(
                    "Binding to all interfaces for '{}': the host name '{name}' does not restrict which addresses are served.",
                    addr.original
                );
            }
            let group = bind_any(s, *port, opts)?;
            let real = local_addr(&group)?;
            Ok(Endpoint {
                display: format!("{s}://{}", display_ip(&real)),
                scheme,
                sockets: EndpointSockets::Tcp(vec![group]),
                origin: Origin::Bound,
            })
        }
        ListenTarget::Unix(path) => {
            let file = bind_unix(path, opts).map_err(|e| {
                BindError::new(
                    format!(
                        "Failed to bind to address {s}://unix:{}: {e}",
                        path.display()
                    ),
                    Some(e.kind()),
                )
            })?;
            Ok(Endpoint {
                display: format!("{s}://unix:{}", path.display()),
                scheme,
                sockets: EndpointSockets::Unix(file),
                origin: Origin::Bound,
            })
        }
    }
}

fn display_ip(sa: &SocketAddr) -> String {
    match sa {
        SocketAddr::V4(v4) => format!("{}:{}", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => format!("[{}]:{}", v6.ip(), v6.port()),
    }
}

fn bind_failed(what: &str, e: &io::Error) -> BindError {
    let message = if e.kind() == io::ErrorKind::AddrInUse {
        format!("Failed to bind to address {what}: address already in use.")
    } else {
        format!("Failed to bind to address {what}: {e}.")
    };
    BindError::new(message, Some(e.kind()))
}

fn local_addr(group: &[TcpListener]) -> Result<SocketAddr, BindError> {
    group
        .first()
        .ok_or_else(|| BindError::new("no socket was bound".into(), None))?
        .local_addr()
        .map_err(|e| {
            BindError::new(
                format!("cannot read the bound address: {e}"),
                Some(e.kind()),
            )
        })
}

fn bind_localhost(
    s: &str,
    port: u16,
    opts: &BindOptions,
) -> Result<Vec<Vec<TcpListener>>, BindError> {
    let mut groups = Vec::new();
    let mut failures = Vec::new();
    for ip in [
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let sa = SocketAddr::new(ip, port);
        match bind_group(sa, opts) {
            Ok(g) => groups.push(g),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
                return Err(bind_failed(&format!("{s}://{}", display_ip(&sa)), &e));
            }
            Err(e) => {
                let family = if ip.is_ipv4() { "IPv4" } else { "IPv6" };
                tracing::warn!(
                    "Unable to bind to {s}://localhost:{port} on the {family} loopback interface: '{e}'."
                );
                failures.push(e);
            }
        }
    }
    if groups.is_empty() {
        let why = failures
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        // One kind only when both loopback families failed the same way.
        let kind = failures.first().map(io::Error::kind);
        let kind = kind.filter(|k| failures.iter().all(|e| e.kind() == *k));
        return Err(BindError::new(
            format!("Failed to bind to address {s}://localhost:{port}: {why}."),
            kind,
        ));
    }
    Ok(groups)
}

fn bind_any(s: &str, port: u16, opts: &BindOptions) -> Result<Vec<TcpListener>, BindError> {
    let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
    match bind_group(v6, opts) {
        Ok(g) => Ok(g),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            Err(bind_failed(&format!("{s}://[::]:{port}"), &e))
        }
        Err(e) => {
            tracing::debug!(
                "Failed to bind to {s}://[::]:{port} (IPv6Any): {e}. Attempting to bind to {s}://0.0.0.0:{port} instead."
            );
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port);
            bind_group(v4, opts).map_err(|e| bind_failed(&format!("{s}://0.0.0.0:{port}"), &e))
        }
    }
}

/// Bind `workers` sockets to `addr` in one `SO_REUSEPORT` group (port 0 resolves to one
/// real port shared by the group); where groups do not balance, one socket and a copy of
/// it for each other worker.
fn bind_group(addr: SocketAddr, opts: &BindOptions) -> io::Result<Vec<TcpListener>> {
    bind_group_as(addr, opts, sys::REUSEPORT_BALANCES)
}

/// [`bind_group`] as on a platform whose groups balance or not (the tests run the kqueue
/// platforms' choice on Linux too).
fn bind_group_as(
    addr: SocketAddr,
    opts: &BindOptions,
    balanced: bool,
) -> io::Result<Vec<TcpListener>> {
    let mut addr = addr;
    if !opts.port_sharing {
        // Exclusive probe: fails with EADDRINUSE if anyone holds the port, including
        // another SO_REUSEPORT group; for port 0 it also picks the port.
        let probe = new_tcp_socket(addr, false)?;
        probe.bind(&addr.into())?;
        addr = probe
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::other("bound address is not an IP address"))?;
        drop(probe);
    }
    let mut group: Vec<TcpListener> = Vec::with_capacity(opts.workers);
    let bound = if balanced { opts.workers.max(1) } else { 1 };
    for _ in 0..bound {
        let sock = new_tcp_socket(addr, true)?;
        sock.bind(&addr.into())?;
        sock.listen(opts.backlog.min(i32::MAX as u32) as i32)?;
        if addr.port() == 0 {
            if let Some(real) = sock.local_addr()?.as_socket() {
                addr = real;
            }
        }
        group.push(sock.into());
    }
    share_first(&mut group, opts.workers)?;
    Ok(group)
}

/// Fill `group` up to `workers` with copies of its first socket (nothing to do where each
/// worker bound its own).
fn share_first(group: &mut Vec<TcpListener>, workers: usize) -> io::Result<()> {
    while group.len() < workers {
        let copy = group
            .first()
            .ok_or_else(|| io::Error::other("no socket was bound"))?
            .try_clone()?;
        group.push(copy);
    }
    Ok(())
}

fn new_tcp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    // [::] is dual-stack (Kestrel: "IPv6Any binds to both IPv6 and IPv4").
    let only_v6 = matches!(addr, SocketAddr::V6(v6) if !v6.ip().is_unspecified());
    new_tcp_socket_v6(addr, reuse_port, only_v6)
}

fn new_tcp_socket_v6(addr: SocketAddr, reuse_port: bool, only_v6: bool) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(only_v6)?;
    }
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.set_tcp_nodelay(true)?;
    Ok(sock)
}

fn bind_unix(path: &Path, opts: &BindOptions) -> io::Result<UnixSocketFile> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "another process is listening on this socket",
                ))
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!("Removing stale unix socket file {}", path.display());
                std::fs::remove_file(path)?;
            }
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("the socket file exists and its state cannot be checked ({e})"),
                ))
            }
        },
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket; refusing to replace it",
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let listener = UnixListener::bind(path)?;
    let meta = std::fs::symlink_metadata(path)?;
    let file = UnixSocketFile {
        listener,
        path: path.to_path_buf(),
        ino: meta.ino(),
        dev: meta.dev(),
        remove: true,
    };
    if let Some(mode) = opts.unix_socket_mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    file.listener.set_nonblocking(true)?;
    set_backlog(&file.listener, opts.backlog)?;
    Ok(file)
}

/// `UnixListener::bind` listens with std's default backlog; raise it to ours.
fn set_backlog(listener: &UnixListener, backlog: u32) -> io::Result<()> {
    crate::sys::listen(listener, backlog)
}

/// Endpoints from passed sockets: the application's and the admin (`metrics`) ones, each
/// in the order passed. A passed socket that is not a listening stream socket (TCP or
/// unix) is an error naming its descriptor.
pub(crate) fn adopt_all(
    passed: Passed,
    opts: &BindOptions,
) -> Result<(Vec<Endpoint>, Vec<Endpoint>), BindError> {
    let origin = if passed.from_restart {
        Origin::Restart
    } else {
        Origin::Systemd
    };
    // TCP sockets of one address and role form one group (a restart passes one per
    // worker), reported where the first of them was passed.
    enum Pending {
        Tcp(usize),
        Ready(Role, Endpoint),
    }
    let mut tcp: Vec<(SocketAddr, Role, Vec<Socket>)> = Vec::new();
    let mut out: Vec<Pending> = Vec::new();
    for p in passed.sockets {
        let what = match &p.name {
            Some(n) => format!("descriptor {} ('{n}')", p.number),
            None => format!("descriptor {}", p.number),
        };
        let failed = |e: io::Error| {
            BindError::new(format!("socket activation: {what}: {e}"), Some(e.kind()))
        };
        let sock = Socket::from(p.fd);
        let local = sock.local_addr().map_err(failed)?;
        let listening = sock.r#type().map_err(failed)? == Type::STREAM
            && crate::sys::is_listener(&sock).map_err(failed)?;
        if !listening {
            return Err(BindError::new(
                format!(
                    "socket activation: {what} is not a listening stream socket \
                     (systemd: ListenStream= with Accept=no)"
                ),
                None,
            ));
        }
        sock.set_nonblocking(true).map_err(failed)?;
        if let Some(addr) = local.as_socket() {
            match tcp.iter_mut().find(|(a, r, _)| (*a, *r) == (addr, p.role)) {
                Some((_, _, group)) => group.push(sock),
                None => {
                    out.push(Pending::Tcp(tcp.len()));
                    tcp.push((addr, p.role, vec![sock]));
                }
            }
            continue;
        }
        let scheme = scheme_of(p.role);
        let (path, file_meta) = if let Some(path) = local.as_pathname() {
            (path.to_path_buf(), std::fs::symlink_metadata(path).ok())
        } else if let Some(name) = local.as_abstract_namespace() {
            let name = String::from_utf8_lossy(name);
            (PathBuf::from(format!("@{name}")), None)
        } else {
            return Err(BindError::new(
                format!("socket activation: {what} is an unnamed socket"),
                None,
            ));
        };
        let listener: UnixListener = std::os::fd::OwnedFd::from(sock).into();
        let endpoint = Endpoint {
            display: format!("{}://unix:{}", scheme.as_str(), path.display()),
            scheme,
            sockets: EndpointSockets::Unix(UnixSocketFile {
                listener,
                path,
                ino: file_meta.as_ref().map_or(0, |m| m.ino()),
                dev: file_meta.as_ref().map_or(0, |m| m.dev()),
                // Decided at shutdown (see `Origin`); never on a failed start.
                remove: false,
            }),
            origin,
        };
        out.push(Pending::Ready(p.role, endpoint));
    }
    let mut tcp: Vec<Option<(SocketAddr, Role, Vec<Socket>)>> = tcp.into_iter().map(Some).collect();
    let (mut app, mut metrics) = (Vec::new(), Vec::new());
    for pending in out {
        let (role, endpoint) = match pending {
            Pending::Ready(role, endpoint) => (role, endpoint),
            Pending::Tcp(i) => {
                let Some((addr, role, group)) = tcp.get_mut(i).and_then(Option::take) else {
                    continue;
                };
                let scheme = scheme_of(role);
                let display = format!("{}://{}", scheme.as_str(), display_ip(&addr));
                let workers = match role {
                    Role::Metrics => 1,
                    Role::App(_) => opts.workers.max(1),
                };
                let sockets = tcp_group(addr, group, workers, opts).map_err(|e| {
                    BindError::new(format!("socket activation: {display}: {e}"), Some(e.kind()))
                })?;
                let endpoint = Endpoint {
                    display,
                    scheme,
                    sockets,
                    origin,
                };
                (role, endpoint)
            }
        };
        match role {
            Role::Metrics => metrics.push(endpoint),
            Role::App(_) => app.push(endpoint),
        }
    }
    Ok((app, metrics))
}

fn scheme_of(role: Role) -> Scheme {
    match role {
        Role::App(s) => s,
        Role::Metrics => Scheme::Http,
    }
}

/// The sockets of one passed TCP address: with `SO_REUSEPORT` on all of them, the group
/// grows to one socket per worker (we bind the others, as the passed ones are bound);
/// without, or where groups do not balance, the one socket is shared by every worker.
fn tcp_group(
    addr: SocketAddr,
    passed: Vec<Socket>,
    workers: usize,
    opts: &BindOptions,
) -> io::Result<EndpointSockets> {
    let mut reuse = sys::REUSEPORT_BALANCES;
    for s in &passed {
        reuse &= s.reuse_port()?;
    }
    if !reuse {
        let mut passed = passed.into_iter();
        let first = passed
            .next()
            .ok_or_else(|| io::Error::other("no socket was passed"))?;
        if passed.next().is_some() {
            return Err(io::Error::other(
                "several sockets for one address need SO_REUSEPORT (systemd: ReusePort=yes)",
            ));
        }
        return Ok(EndpointSockets::SharedTcp(first.into()));
    }
    let only_v6 = match passed.first() {
        Some(s) if addr.is_ipv6() => s.only_v6()?,
        _ => false,
    };
    let mut group: Vec<TcpListener> = passed.into_iter().map(Into::into).collect();
    while group.len() < workers {
        let sock = new_tcp_socket_v6(addr, true, only_v6)?;
        sock.bind(&addr.into())?;
        sock.listen(opts.backlog.min(i32::MAX as u32) as i32)?;
        group.push(sock.into());
    }
    Ok(EndpointSockets::Tcp(vec![group]))
}

/// Parse a socket mode like `0660`, `660` or `0o660`.
pub(crate) fn parse_mode(text: &str) -> Result<u32, String> {
    let digits = text.trim_start_matches("0o");
    let mode = u32::from_str_radix(digits, 8)
        .map_err(|_| format!("invalid unix socket mode '{text}': expected octal such as 0660"))?;
    if mode > 0o7777 {
        return Err(format!(
            "invalid unix socket mode '{text}': larger than 07777"
        ));
    }
    Ok(mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(workers: usize) -> BindOptions {
        BindOptions {
            workers,
            backlog: 128,
            port_sharing: false,
            unix_socket_mode: None,
        }
    }

    /// Accept one connection from `l` without waiting.
    fn accepts(l: &TcpListener) -> bool {
        std::thread::sleep(std::time::Duration::from_millis(20));
        l.accept().is_ok()
    }

    #[test]
    fn where_groups_do_not_balance_the_workers_share_one_socket() {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let group = bind_group_as(any, &opts(3), false).unwrap();
        assert_eq!(group.len(), 3);
        let addr = group[0].local_addr().unwrap();
        // One socket: a connection is there for whichever copy accepts it.
        for l in &group {
            assert_eq!(l.local_addr().unwrap(), addr);
            let _client = std::net::TcpStream::connect(addr).unwrap();
            assert!(accepts(l));
        }
        // Still exclusive: the port is taken.
        let again = bind_group_as(addr, &opts(1), false).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AddrInUse);
    }

    #[test]
    fn balanced_groups_are_one_socket_per_worker() {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let group = bind_group_as(any, &opts(2), true).unwrap();
        let addr = group[0].local_addr().unwrap();
        assert_eq!(group[1].local_addr().unwrap(), addr);
        // Two sockets: the kernel hands each connection to one of them only.
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let taken = group.iter().filter(|l| accepts(l)).count();
        assert_eq!(taken, 1);
    }

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("77777").is_err());
    }
}
