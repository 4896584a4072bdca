//! HTTP/2 options: which protocols the listeners speak (Kestrel's `HttpProtocols`) and
//! Kestrel's `Http2Limits` with their defaults and ranges.

use std::time::Duration;

/// Which HTTP versions the listeners speak (Kestrel's `HttpProtocols`).
///
/// | | TLS (ALPN) | cleartext |
/// |---|---|---|
/// | `Http1` | `http/1.1` | HTTP/1.x; an HTTP/2 preface gets GOAWAY(HTTP_1_1_REQUIRED) |
/// | `Http2` | `h2` only | HTTP/2 with prior knowledge; HTTP/1.x gets `400` |
/// | `Http1AndHttp2` | `h2`, `http/1.1` | both on one port, told apart by the HTTP/2 preface |
///
/// Kestrel serves only HTTP/1.x on cleartext `Http1AndHttp2` endpoints; Peregrine also
/// detects prior-knowledge h2c there (dotnet/aspnetcore#56984).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocols {
    /// HTTP/1.0 and HTTP/1.1 only.
    Http1,
    /// HTTP/2 only.
    Http2,
    /// Both (the default).
    #[default]
    Http1AndHttp2,
}

impl Protocols {
    /// Whether HTTP/1.x is served.
    pub fn http1(self) -> bool {
        self != Protocols::Http2
    }

    /// Whether HTTP/2 is served.
    pub fn http2(self) -> bool {
        self != Protocols::Http1
    }
}

impl std::str::FromStr for Protocols {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "http1" => Ok(Protocols::Http1),
            "http2" => Ok(Protocols::Http2),
            "http1andhttp2" => Ok(Protocols::Http1AndHttp2),
            other => Err(format!(
                "unknown protocols '{other}': expected http1, http2 or http1AndHttp2"
            )),
        }
    }
}

impl std::fmt::Display for Protocols {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocols::Http1 => "http1",
            Protocols::Http2 => "http2",
            Protocols::Http1AndHttp2 => "http1AndHttp2",
        })
    }
}

/// Kestrel's `Http2Limits`, with its defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2Limits {
    /// Concurrent streams a client may open (SETTINGS_MAX_CONCURRENT_STREAMS); one
    /// more is refused with RST_STREAM(REFUSED_STREAM). Default 100.
    pub max_streams_per_connection: u32,
    /// HPACK dynamic table size for decoding requests (SETTINGS_HEADER_TABLE_SIZE).
    /// Default 4096.
    pub header_table_size: u32,
    /// Largest frame payload accepted (SETTINGS_MAX_FRAME_SIZE), 2^14 ..= 2^24-1;
    /// larger → GOAWAY(FRAME_SIZE_ERROR). Default 16,384.
    pub max_frame_size: u32,
    /// Largest single request header field (name + value); larger → `431` on the
    /// stream. Default 32,768.
    pub max_request_header_field_size: u32,
    /// Connection receive window (sent as WINDOW_UPDATE on stream 0), 65,535 ..=
    /// 2^31-1. Default 1 MiB.
    pub initial_connection_window_size: u32,
    /// Stream receive window (SETTINGS_INITIAL_WINDOW_SIZE), 65,535 ..= 2^31-1.
    /// Default 768 KiB.
    pub initial_stream_window_size: u32,
    /// Send a PING after this long without traffic; `None` (default) never.
    pub keep_alive_ping_delay: Option<Duration>,
    /// No answer to that PING within this long → GOAWAY(INTERNAL_ERROR) and close.
    /// Default 20 s.
    pub keep_alive_ping_timeout: Duration,
}

impl Default for Http2Limits {
    fn default() -> Self {
        Http2Limits {
            max_streams_per_connection: 100,
            header_table_size: 4096,
            max_frame_size: 16_384,
            max_request_header_field_size: 32_768,
            initial_connection_window_size: 1024 * 1024,
            initial_stream_window_size: 768 * 1024,
            keep_alive_ping_delay: None,
            keep_alive_ping_timeout: Duration::from_secs(20),
        }
    }
}

/// Largest flow-control window (RFC 9113 §6.9.1).
const MAX_WINDOW: u32 = (1 << 31) - 1;

impl Http2Limits {
    /// Check every value against its range (Kestrel's setters throw on the same).
    pub fn validate(&self) -> Result<(), String> {
        if self.max_streams_per_connection == 0 {
            return Err("HTTP/2 max streams per connection must be greater than 0.".into());
        }
        if !(16_384..=16_777_215).contains(&self.max_frame_size) {
            return Err(format!(
                "HTTP/2 max frame size ({}) must be between 16384 and 16777215.",
                self.max_frame_size
            ));
        }
        if self.max_request_header_field_size == 0 {
            return Err("HTTP/2 max request header field size must be greater than 0.".into());
        }
        for (name, v) in [
            (
                "initial connection window size",
                self.initial_connection_window_size,
            ),
            (
                "initial stream window size",
                self.initial_stream_window_size,
            ),
        ] {
            if !(65_535..=MAX_WINDOW).contains(&v) {
                return Err(format!(
                    "HTTP/2 {name} ({v}) must be between 65535 and {MAX_WINDOW}."
                ));
            }
        }
        if self
            .keep_alive_ping_delay
            .is_some_and(|d| d < Duration::from_secs(1))
        {
            return Err("HTTP/2 keep-alive ping delay must be at least 1 second.".into());
        }
        if self.keep_alive_ping_timeout < Duration::from_secs(1) {
            return Err("HTTP/2 keep-alive ping timeout must be at least 1 second.".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_kestrels_and_valid() {
        let l = Http2Limits::default();
        assert_eq!(l.max_streams_per_connection, 100);
        assert_eq!(l.initial_stream_window_size, 786_432);
        assert_eq!(l.initial_connection_window_size, 1_048_576);
        l.validate().expect("valid");
    }

    #[test]
    fn ranges_are_enforced() {
        let d = Http2Limits::default();
        let bad = [
            Http2Limits {
                max_streams_per_connection: 0,
                ..d
            },
            Http2Limits {
                max_frame_size: 16_383,
                ..d
            },
            Http2Limits {
                max_frame_size: 1 << 24,
                ..d
            },
            Http2Limits {
                initial_stream_window_size: 65_534,
                ..d
            },
            Http2Limits {
                initial_connection_window_size: 1 << 31,
                ..d
            },
            Http2Limits {
                keep_alive_ping_delay: Some(Duration::from_millis(500)),
                ..d
            },
        ];
        for l in bad {
            assert!(l.validate().is_err(), "{l:?}");
        }
    }

    #[test]
    fn protocols_parse_case_insensitively() {
        assert_eq!("http1AndHttp2".parse(), Ok(Protocols::Http1AndHttp2));
        assert_eq!("HTTP2".parse(), Ok(Protocols::Http2));
        assert_eq!("http1".parse(), Ok(Protocols::Http1));
        assert!("h3".parse::<Protocols>().is_err());
    }
}
