//! Binding listen sockets for the parsed URL prefixes, all of them before any worker
//! starts, so that a failure leaves nothing bound.
//!
//! - A TCP address is bound once per worker with `SO_REUSEPORT`: the kernel shards
//!   accepted connections across workers. Before that, an exclusive probe bind checks the
//!   port is free (unless port sharing is on), so a taken port is an error, not a
//!   silent join of somebody else's group.
//! - A unix socket is one listening socket that every worker accepts from. A stale file
//!   (nothing listening) is replaced; a live socket or a non-socket file is refused.
//! - `localhost` binds 127.0.0.1 and [::1]; a missing loopback family is a warning.
//! - `*`, `+` and host names bind `[::]` dual-stack, falling back to `0.0.0.0`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, Socket, Type};

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
}

/// The sockets of an endpoint.
#[derive(Debug)]
pub enum EndpointSockets {
    /// One `SO_REUSEPORT` group per local address (two for localhost); each group has one
    /// socket per worker.
    Tcp(Vec<Vec<TcpListener>>),
    /// One unix listener shared by all workers; the file is removed on drop.
    Unix(UnixSocketFile),
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
}

impl Drop for UnixSocketFile {
    fn drop(&mut self) {
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
            })
        }
        ListenTarget::Localhost(port) => bind_localhost(s, *port, opts).map(|groups| Endpoint {
            display: format!("{s}://localhost:{port}"),
            scheme,
            sockets: EndpointSockets::Tcp(groups),
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
/// real port shared by the group).
fn bind_group(addr: SocketAddr, opts: &BindOptions) -> io::Result<Vec<TcpListener>> {
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
    let mut group = Vec::with_capacity(opts.workers);
    for _ in 0..opts.workers.max(1) {
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
    Ok(group)
}

fn new_tcp_socket(addr: SocketAddr, reuse_port: bool) -> io::Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let SocketAddr::V6(v6) = addr {
        // [::] is dual-stack (Kestrel: "IPv6Any binds to both IPv6 and IPv4").
        sock.set_only_v6(!v6.ip().is_unspecified())?;
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

    #[test]
    fn modes() {
        assert_eq!(parse_mode("0660"), Ok(0o660));
        assert_eq!(parse_mode("660"), Ok(0o660));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("0999").is_err());
        assert!(parse_mode("77777").is_err());
    }
}
