//! The per-worker cached `Date` header, re-rendered once a second by the worker's ticker,
//! together with the `Server` line that follows it on every response (one copy instead
//! of six small ones per response).

use std::cell::{Cell, Ref, RefCell};
use std::time::{SystemTime, UNIX_EPOCH};

use peregrine_protocol::date::{format_http_date, DATE_LEN};

/// A worker's current `Date` value and its rendered header lines.
#[derive(Debug)]
pub struct DateCache {
    value: Cell<[u8; DATE_LEN]>,
    /// `Date: …\r\n` followed by `Server: …\r\n` when a Server header is configured.
    lines: RefCell<Vec<u8>>,
    server: Option<Vec<u8>>,
}

impl DateCache {
    /// A cache holding the current time; `server` is the Server header value, if any.
    pub fn new(server: Option<&[u8]>) -> Self {
        let cache = DateCache {
            value: Cell::new([b' '; DATE_LEN]),
            lines: RefCell::new(Vec::with_capacity(64)),
            server: server.map(<[u8]>::to_vec),
        };
        cache.refresh();
        cache
    }

    /// Re-render from the system clock.
    pub fn refresh(&self) {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let date = format_http_date(secs);
        self.value.set(date);
        let mut lines = self.lines.borrow_mut();
        lines.clear();
        lines.extend_from_slice(b"Date: ");
        lines.extend_from_slice(&date);
        lines.extend_from_slice(b"\r\n");
        if let Some(server) = &self.server {
            lines.extend_from_slice(b"Server: ");
            lines.extend_from_slice(server);
            lines.extend_from_slice(b"\r\n");
        }
    }

    /// The current value, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[inline]
    pub fn get(&self) -> [u8; DATE_LEN] {
        self.value.get()
    }

    /// `Date: …\r\nServer: …\r\n`, ready to copy into a response head.
    #[inline]
    pub fn lines(&self) -> Ref<'_, Vec<u8>> {
        self.lines.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_date_and_server_lines() {
        let c = DateCache::new(Some(b"peregrine"));
        let lines = c.lines().clone();
        let text = String::from_utf8(lines).unwrap();
        assert!(text.starts_with("Date: "));
        assert!(text.ends_with(" GMT\r\nServer: peregrine\r\n"));
        assert_eq!(text.len(), 6 + DATE_LEN + 2 + 19);
        let none = DateCache::new(None);
        assert_eq!(none.lines().len(), 6 + DATE_LEN + 2);
    }
}
