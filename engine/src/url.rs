//! URL prefixes: parsing `--urls` values by Kestrel's rules (`BindingAddress.Parse` and
//! `AddressBinder.ParseAddress`) into what to bind.
//!
//! `http://127.0.0.1:0`, `http://[::1]:5000`, `http://localhost:5000`, `http://*:80`,
//! `http://+:80`, `http://example.com:80` (binds everything), `http://unix:/run/app.sock`.
//! Entries are separated by `;` and are not trimmed (as in Kestrel).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// The scheme of a URL prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `http://`
    Http,
    /// `https://`
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// What a URL prefix asks to listen on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenTarget {
    /// An IP literal: exactly that address (`[::]` is dual-stack, `0.0.0.0` IPv4 only).
    Ip(SocketAddr),
    /// `localhost` (or `*.localhost`): both 127.0.0.1 and [::1].
    Localhost(u16),
    /// `*`, `+` or a host name: every address (`[::]` dual-stack, else `0.0.0.0`).
    Any {
        /// The port.
        port: u16,
        /// The host name given, when it was a real name rather than `*` / `+`.
        host_name: Option<String>,
    },
    /// `unix:/absolute/path.sock`
    Unix(PathBuf),
}

/// One parsed URL prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// What to bind.
    pub target: ListenTarget,
    /// The text the prefix was parsed from.
    pub original: String,
}

/// Why a URL prefix was refused. The `Display` text is the one line shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlError {
    /// No `://`, or no host.
    InvalidUrl(String),
    /// A scheme other than `http` / `https`.
    UnrecognizedScheme(String),
    /// A port that is not a number from 0 to 65535.
    InvalidPort(String, String),
    /// A path after the authority (a path base).
    PathBase(String),
    /// A unix socket path that is not absolute.
    RelativeUnixPath(String),
    /// Port 0 together with `localhost`.
    DynamicPortOnLocalhost(String),
    /// `--urls` held no prefix at all.
    Empty,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::InvalidUrl(u) => write!(f, "Invalid url: '{u}'"),
            UrlError::UnrecognizedScheme(u) => write!(
                f,
                "Unrecognized scheme in server address '{u}'. Only 'http://' and 'https://' are supported."
            ),
            UrlError::InvalidPort(u, p) => write!(
                f,
                "Invalid port: '{p}' in '{u}', only numbers from 0 to 65535 are allowed."
            ),
            UrlError::PathBase(u) => write!(
                f,
                "A path base is not supported in a URL prefix: '{u}'. Bind the bare address and route paths in the application."
            ),
            UrlError::RelativeUnixPath(u) => {
                write!(f, "Invalid url, unix socket path must be absolute: '{u}'")
            }
            UrlError::DynamicPortOnLocalhost(u) => write!(
                f,
                "Dynamic port binding is not supported when binding to localhost ('{u}'). You must either bind to 127.0.0.1:0 or [::1]:0, or both."
            ),
            UrlError::Empty => write!(f, "No URL prefix was given to listen on."),
        }
    }
}

impl std::error::Error for UrlError {}

/// Parse a `;`-separated list of URL prefixes. Empty entries are skipped; entries are
/// not trimmed, so `"a; b"` is an error for `" b"` (Kestrel's behaviour).
pub fn parse_urls(list: &str) -> Result<Vec<BindAddress>, UrlError> {
    let addrs = list
        .split(';')
        .filter(|s| !s.is_empty())
        .map(parse_url)
        .collect::<Result<Vec<_>, _>>()?;
    if addrs.is_empty() {
        return Err(UrlError::Empty);
    }
    Ok(addrs)
}

/// Parse one URL prefix.
pub fn parse_url(url: &str) -> Result<BindAddress, UrlError> {
    let invalid = || UrlError::InvalidUrl(url.to_string());
    let (scheme_text, rest) = url.split_once("://").ok_or_else(invalid)?;
    let scheme = if scheme_text.eq_ignore_ascii_case("http") {
        Scheme::Http
    } else if scheme_text.eq_ignore_ascii_case("https") {
        Scheme::Https
    } else {
        return Err(UrlError::UnrecognizedScheme(url.to_string()));
    };
    let target = if let Some(path) = strip_prefix_ignore_case(rest, "unix:") {
        parse_unix(url, path)?
    } else {
        parse_host_port(url, scheme, rest)?
    };
    Ok(BindAddress {
        scheme,
        target,
        original: url.to_string(),
    })
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// `unix:/path.sock[:/pathbase]`: the socket path runs to the next `:`.
fn parse_unix(url: &str, path_and_rest: &str) -> Result<ListenTarget, UrlError> {
    let (path, path_base) = match path_and_rest.find(':') {
        Some(i) => (&path_and_rest[..i], &path_and_rest[i + 1..]),
        None => (path_and_rest, ""),
    };
    if !path_base.is_empty() && path_base != "/" {
        return Err(UrlError::PathBase(url.to_string()));
    }
    if path.is_empty() {
        return Err(UrlError::InvalidUrl(url.to_string()));
    }
    if !path.starts_with('/') {
        return Err(UrlError::RelativeUnixPath(url.to_string()));
    }
    Ok(ListenTarget::Unix(PathBuf::from(path)))
}

fn parse_host_port(url: &str, scheme: Scheme, rest: &str) -> Result<ListenTarget, UrlError> {
    let invalid = || UrlError::InvalidUrl(url.to_string());
    // Split off a path: the first '/' after the authority.
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if !path.is_empty() && path != "/" {
        return Err(UrlError::PathBase(url.to_string()));
    }
    let (host, port_text) = if let Some(v6) = authority.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(invalid)?;
        let host = &authority[..end + 2];
        let after = &v6[end + 1..];
        match after.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if after.is_empty() => (host, None),
            None => return Err(invalid()),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(invalid());
    }
    let port = match port_text {
        None => match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        },
        Some(p) => parse_port(p).ok_or_else(|| UrlError::InvalidPort(url.to_string(), p.into()))?,
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if host.starts_with('[') != ip.is_ipv6() {
            return Err(invalid());
        }
        return Ok(ListenTarget::Ip(SocketAddr::new(ip, port)));
    }
    if host.starts_with('[') {
        return Err(invalid());
    }
    let lower = host.to_ascii_lowercase();
    if lower == "localhost" || lower.ends_with(".localhost") {
        if port == 0 {
            return Err(UrlError::DynamicPortOnLocalhost(url.to_string()));
        }
        return Ok(ListenTarget::Localhost(port));
    }
    let host_name = (host != "*" && host != "+").then(|| host.to_string());
    Ok(ListenTarget::Any { port, host_name })
}

fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str) -> ListenTarget {
        parse_url(url).unwrap().target
    }

    #[test]
    fn ip_literals() {
        assert_eq!(
            target("http://127.0.0.1:0"),
            ListenTarget::Ip("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(
            target("http://[::1]:5000"),
            ListenTarget::Ip("[::1]:5000".parse().unwrap())
        );
        assert_eq!(
            target("http://[::]:80"),
            ListenTarget::Ip("[::]:80".parse().unwrap())
        );
        assert_eq!(
            target("http://0.0.0.0"),
            ListenTarget::Ip("0.0.0.0:80".parse().unwrap())
        );
        assert_eq!(
            target("http://10.0.0.1:8080/"),
            ListenTarget::Ip("10.0.0.1:8080".parse().unwrap())
        );
    }

    #[test]
    fn default_ports() {
        assert_eq!(target("http://localhost"), ListenTarget::Localhost(80));
        assert_eq!(
            parse_url("https://127.0.0.1").unwrap().target,
            ListenTarget::Ip("127.0.0.1:443".parse().unwrap())
        );
    }

    #[test]
    fn localhost_and_any() {
        assert_eq!(
            target("http://LOCALHOST:5000"),
            ListenTarget::Localhost(5000)
        );
        assert_eq!(
            target("http://app.localhost:5000"),
            ListenTarget::Localhost(5000)
        );
        assert_eq!(
            target("http://*:80"),
            ListenTarget::Any {
                port: 80,
                host_name: None
            }
        );
        assert_eq!(
            target("http://+:81"),
            ListenTarget::Any {
                port: 81,
                host_name: None
            }
        );
        assert_eq!(
            target("http://example.com:82"),
            ListenTarget::Any {
                port: 82,
                host_name: Some("example.com".into())
            }
        );
    }

    #[test]
    fn unix() {
        assert_eq!(
            target("http://unix:/run/app.sock"),
            ListenTarget::Unix("/run/app.sock".into())
        );
        assert!(matches!(
            parse_url("http://unix:run/app.sock"),
            Err(UrlError::RelativeUnixPath(_))
        ));
        assert!(matches!(
            parse_url("http://unix:/run/app.sock:/api"),
            Err(UrlError::PathBase(_))
        ));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            parse_url("127.0.0.1:80"),
            Err(UrlError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url("ftp://127.0.0.1:80"),
            Err(UrlError::UnrecognizedScheme(_))
        ));
        assert!(matches!(
            parse_url("http://127.0.0.1:80/app"),
            Err(UrlError::PathBase(_))
        ));
        assert!(matches!(
            parse_url("http://127.0.0.1:abc"),
            Err(UrlError::InvalidPort(..))
        ));
        assert!(matches!(
            parse_url("http://127.0.0.1:70000"),
            Err(UrlError::InvalidPort(..))
        ));
        assert!(matches!(
            parse_url("http://localhost:0"),
            Err(UrlError::DynamicPortOnLocalhost(_))
        ));
        assert!(matches!(
            parse_url("http://:80"),
            Err(UrlError::InvalidUrl(_))
        ));
        assert!(matches!(
            parse_url("http://[::1:80"),
            Err(UrlError::InvalidUrl(_))
        ));
    }

    #[test]
    fn lists_split_on_semicolon_without_trimming() {
        assert_eq!(
            parse_urls("http://127.0.0.1:1;http://[::1]:2;")
                .unwrap()
                .len(),
            2
        );
        assert!(matches!(
            parse_urls("http://127.0.0.1:1; http://[::1]:2"),
            Err(UrlError::UnrecognizedScheme(_))
        ));
        assert_eq!(parse_urls(""), Err(UrlError::Empty));
    }
}
