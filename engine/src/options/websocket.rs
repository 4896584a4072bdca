//! WebSocket options (ASP.NET Core's `WebSocketOptions`, with its defaults): allowed
//! origins, the largest message, the keep-alive ping interval, and whether
//! permessage-deflate is offered.

use std::time::Duration;

/// How accepted WebSockets behave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketOptions {
    /// `Origin` values allowed to open a WebSocket (`scheme://host[:port]`, compared
    /// case-insensitively); empty (the default) allows any. Another origin → `403`.
    pub allowed_origins: Vec<String>,
    /// Largest message (after decompression); larger → close 1009. Default 1 MiB.
    pub max_message_size: usize,
    /// Ping a socket that has been quiet this long, and close one that does not answer
    /// within another interval; `None` never. Default 120 s (ASP.NET's).
    pub keep_alive_interval: Option<Duration>,
    /// Accept permessage-deflate when the client offers it (default on).
    pub compression: bool,
}

impl Default for WebSocketOptions {
    fn default() -> Self {
        WebSocketOptions {
            allowed_origins: Vec::new(),
            max_message_size: 1024 * 1024,
            keep_alive_interval: Some(Duration::from_secs(120)),
            compression: true,
        }
    }
}

impl WebSocketOptions {
    /// Whether a WebSocket from `origin` (the request's `Origin` header; `None` when
    /// absent) may be accepted.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.allowed_origins.is_empty() {
            return true;
        }
        match origin {
            // Clients that send no Origin are not browsers; the rule is for browsers.
            None => true,
            Some(o) => self
                .allowed_origins
                .iter()
                .any(|a| a == "*" || a.trim_end_matches('/').eq_ignore_ascii_case(o)),
        }
    }

    /// Check the values (a message limit of 0 could accept nothing).
    pub fn validate(&self) -> Result<(), String> {
        if self.max_message_size == 0 {
            return Err("Maximum WebSocket message size must be greater than 0.".into());
        }
        if self.keep_alive_interval.is_some_and(|d| d.is_zero()) {
            return Err("WebSocket keep-alive interval must be greater than 0 (or off).".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let mut o = WebSocketOptions::default();
        assert!(o.origin_allowed(Some("https://evil.example")));
        o.allowed_origins = vec![
            "https://app.example".into(),
            "http://localhost:8080/".into(),
        ];
        assert!(o.origin_allowed(Some("https://APP.example")));
        assert!(o.origin_allowed(Some("http://localhost:8080")));
        assert!(!o.origin_allowed(Some("https://evil.example")));
        assert!(o.origin_allowed(None));
    }
}
