//! Why the server could not start: [`Error`], with a [`ErrorKind`] an embedder can match
//! and one line of text to show the user.

use std::fmt;
use std::io;

use crate::listen::BindError;
use crate::url::UrlError;

/// Why the server could not start. [`Error::kind`] says what kind of failure it was;
/// the `Display` text is the one line to show the user.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A URL prefix is invalid.
    Url(UrlError),
    /// An address could not be bound.
    Bind(BindError),
    /// The configuration cannot be served (e.g. `https://` without TLS, limits that do
    /// not fit together).
    Config(String),
    /// The io_uring backend was requested but this kernel or host does not allow it.
    Backend(String),
    /// A worker, the signal thread or the admin listener could not start.
    Start(String),
}

/// The kinds of [`Error`], for embedders to match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A URL prefix is invalid ([`UrlError`]).
    InvalidUrl,
    /// An address is taken: a port somebody else holds (`EADDRINUSE`), a unix socket
    /// another process listens on, or a unix socket path that is some other file.
    AddressInUse,
    /// Binding was not permitted (`EACCES` / `EPERM`: a port below 1024, a directory
    /// the process may not write to).
    PermissionDenied,
    /// The address is not one of this host's (`EADDRNOTAVAIL`).
    AddressUnavailable,
    /// The options cannot be served as given: `https://` without TLS, limits that do not
    /// fit together, a malformed unix socket mode.
    InvalidConfig,
    /// io_uring was requested (`BackendChoice::IoUring`) but is unavailable here.
    Backend,
    /// Anything else that stopped the server from starting (including bind failures
    /// of other kinds); the message says what.
    Start,
}

impl Error {
    /// What kind of failure this is. Bind failures are classified by the operating
    /// system's error ([`BindError::io_error_kind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Url(_) => ErrorKind::InvalidUrl,
            Error::Bind(e) => match e.io_error_kind() {
                Some(io::ErrorKind::AddrInUse | io::ErrorKind::AlreadyExists) => {
                    ErrorKind::AddressInUse
                }
                Some(io::ErrorKind::PermissionDenied) => ErrorKind::PermissionDenied,
                Some(io::ErrorKind::AddrNotAvailable) => ErrorKind::AddressUnavailable,
                _ => ErrorKind::Start,
            },
            Error::Config(_) => ErrorKind::InvalidConfig,
            Error::Backend(_) => ErrorKind::Backend,
            Error::Start(_) => ErrorKind::Start,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Url(e) => write!(f, "{e}"),
            Error::Bind(e) => write!(f, "{e}"),
            Error::Config(e) | Error::Backend(e) | Error::Start(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<BindError> for Error {
    fn from(e: BindError) -> Self {
        Error::Bind(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}
