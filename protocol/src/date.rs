//! IMF-fixdate (RFC 9110 §5.6.7) formatting for the cached `Date` header.
//! The engine re-renders it once a second per worker; this is only the formatter.

/// Length of an IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

/// Format `unix_secs` (seconds since 1970-01-01T00:00:00Z) as an IMF-fixdate.
pub fn format_http_date(unix_secs: u64) -> [u8; DATE_LEN] {
    let _ = unix_secs;
    todo!("implemented in the protocol work")
}
