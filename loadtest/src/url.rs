//! Target URL parsing: `http[s]://host[:port]/path` and `http[s]://unix:/path.sock:/path`.
//!
//! The scheme is kept as a [`Scheme`]: `http` is cleartext, `https` TLS over the same
//! endpoint (port 443 by default); `ws` and `wss` are the same two with
//! [`Target::websocket`] set (the `--ws` mode); anything else is a clear error.

use std::fmt;
use std::path::PathBuf;

/// The URL scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Cleartext HTTP/1.1.
    Http,
    /// HTTP/1.1 over TLS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn name(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when the URL names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A TCP host (name or address literal, without brackets) and port.
    Tcp {
        /// Host name or IP literal.
        host: String,
        /// Port number.
        port: u16,
    },
    /// A unix-domain stream socket.
    Unix(PathBuf),
}

/// A parsed target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// The endpoint to connect to.
    pub endpoint: Endpoint,
    /// The `Host` header value to send.
    pub authority: String,
    /// The request target (path and query), always starting with `/`.
    pub path: String,
    /// The URL's scheme was `ws` or `wss` (WebSocket; `scheme` says whether TLS).
    pub websocket: bool,
}

/// Why a URL was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError(pub String);

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn err(url: &str, why: &str) -> UrlError {
    UrlError(format!("invalid URL `{url}`: {why}"))
}

impl Target {
    /// Parse a target URL.
    pub fn parse(url: &str) -> Result<Target, UrlError> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            err(
                url,
                "expected http[s]://host:port/path or http[s]://unix:/socket:/path",
            )
        })?;
        let (scheme, websocket) = match scheme.to_ascii_lowercase().as_str() {
            "http" => (Scheme::Http, false),
            "https" => (Scheme::Https, false),
            "ws" => (Scheme::Http, true),
            "wss" => (Scheme::Https, true),
            other => return Err(err(url, &format!("unsupported scheme `{other}`"))),
        };
        if rest.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err(err(url, "contains whitespace or control characters"));
        }
        // A fragment is never sent.
        let rest = rest.split('#').next().unwrap_or_default();

        if let Some(unix) = rest.strip_prefix("unix:") {
            let (sock, path) = match unix.find(':') {
                Some(i) => (&unix[..i], &unix[i + 1..]),
                None => (unix, "/"),
            };
            if sock.is_empty() {
                return Err(err(url, "empty unix socket path"));
            }
            let path = normalize_path(url, path)?;
            return Ok(Target {
                scheme,
                endpoint: Endpoint::Unix(PathBuf::from(sock)),
                authority: "localhost".to_string(),
                path,
                websocket,
            });
        }

        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(err(url, "missing host"));
        }
        if authority.contains('@') {
            return Err(err(url, "user information is not supported"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let end = v6
                .find(']')
                .ok_or_else(|| err(url, "unterminated IPv6 literal"))?;
            let host = &v6[..end];
            let after = &v6[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(err(url, "garbage after IPv6 literal")),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(err(url, "missing host"));
        }
        if !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
        {
            return Err(err(url, "invalid character in host"));
        }
        let port = match port {
            None => scheme.default_port(),
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| err(url, &format!("invalid port `{p}`")))?,
        };
        let path = normalize_path(url, path)?;
        Ok(Target {
            scheme,
            endpoint: Endpoint::Tcp {
                host: host.to_string(),
                port,
            },
            authority: authority.to_string(),
            path,
            websocket,
        })
    }
}

fn normalize_path(url: &str, path: &str) -> Result<String, UrlError> {
    if path.is_empty() {
        Ok("/".to_string())
    } else if path.starts_with('/') {
        Ok(path.to_string())
    } else if path.starts_with('?') {
        Ok(format!("/{path}"))
    } else {
        Err(err(url, "the path must start with `/`"))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (self.websocket, self.scheme) {
            (true, Scheme::Http) => "ws",
            (true, Scheme::Https) => "wss",
            (false, s) => s.name(),
        };
        match &self.endpoint {
            Endpoint::Tcp { .. } => write!(f, "{scheme}://{}{}", self.authority, self.path),
            Endpoint::Unix(p) => write!(f, "{scheme}://unix:{}:{}", p.display(), self.path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(url: &str) -> (String, u16, String, String) {
        let t = Target::parse(url).unwrap();
        match t.endpoint {
            Endpoint::Tcp { host, port } => (host, port, t.authority, t.path),
            Endpoint::Unix(_) => panic!("expected tcp"),
        }
    }

    #[test]
    fn tcp_forms() {
        assert_eq!(
            tcp("http://127.0.0.1:8080/plaintext"),
            (
                "127.0.0.1".into(),
                8080,
                "127.0.0.1:8080".into(),
                "/plaintext".into()
            )
        );
        assert_eq!(
            tcp("http://localhost"),
            ("localhost".into(), 80, "localhost".into(), "/".into())
        );
        assert_eq!(tcp("HTTP://h:1?x=1").3, "/?x=1");
        assert_eq!(tcp("http://h:1/a?b#frag").3, "/a?b");
        let (host, port, auth, _) = tcp("http://[::1]:9000/");
        assert_eq!(
            (host.as_str(), port, auth.as_str()),
            ("::1", 9000, "[::1]:9000")
        );
    }

    #[test]
    fn unix_forms() {
        let t = Target::parse("http://unix:/tmp/s.sock:/json").unwrap();
        assert_eq!(t.endpoint, Endpoint::Unix("/tmp/s.sock".into()));
        assert_eq!(t.path, "/json");
        assert_eq!(t.authority, "localhost");
        assert_eq!(t.to_string(), "http://unix:/tmp/s.sock:/json");
        let t = Target::parse("http://unix:/tmp/s.sock").unwrap();
        assert_eq!(t.path, "/");
    }

    #[test]
    fn https_forms() {
        let t = Target::parse("https://example.com/x").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: "example.com".into(),
                port: 443
            }
        );
        assert_eq!(t.authority, "example.com");
        assert_eq!(t.to_string(), "https://example.com/x");
        let t = Target::parse("HTTPS://127.0.0.1:8443").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.to_string(), "https://127.0.0.1:8443/");
        assert_eq!(tcp("http://h/").1, 80);
        let t = Target::parse("https://unix:/tmp/s.sock:/json").unwrap();
        assert_eq!(t.scheme, Scheme::Https);
        assert_eq!(t.endpoint, Endpoint::Unix("/tmp/s.sock".into()));
        assert_eq!(t.to_string(), "https://unix:/tmp/s.sock:/json");
    }

    #[test]
    fn websocket_forms() {
        let t = Target::parse("ws://127.0.0.1:8080/ws?x=1").unwrap();
        assert_eq!((t.scheme, t.websocket), (Scheme::Http, true));
        assert_eq!(t.path, "/ws?x=1");
        assert_eq!(t.to_string(), "ws://127.0.0.1:8080/ws?x=1");
        let t = Target::parse("WSS://h/ws").unwrap();
        assert_eq!((t.scheme, t.websocket), (Scheme::Https, true));
        assert_eq!(
            t.endpoint,
            Endpoint::Tcp {
                host: "h".into(),
                port: 443
            }
        );
        assert_eq!(t.to_string(), "wss://h/ws");
        let t = Target::parse("ws://unix:/tmp/s.sock:/ws").unwrap();
        assert_eq!(t.to_string(), "ws://unix:/tmp/s.sock:/ws");
        assert!(!Target::parse("http://h/").unwrap().websocket);
    }

    #[test]
    fn rejects() {
        for bad in [
            "127.0.0.1:8080",
            "ftp://h/",
            "http://",
            "http:///x",
            "http://h:0/",
            "http://h:99999/",
            "http://h:x/",
            "http://u@h/",
            "http://h x/",
            "http://[::1/",
            "http://unix::/x",
            "http://unix:/s:x",
            "https://",
            "https://h:0/",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
