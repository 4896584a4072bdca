//! The per-worker cached `Date` value, re-rendered once a second by the worker's ticker.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use peregrine_protocol::date::{format_http_date, DATE_LEN};

/// A worker's current `Date` header value.
#[derive(Debug)]
pub struct DateCache {
    value: Cell<[u8; DATE_LEN]>,
}

impl DateCache {
    /// A cache holding the current time.
    pub fn new() -> Self {
        let cache = DateCache {
            value: Cell::new([b' '; DATE_LEN]),
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
        self.value.set(format_http_date(secs));
    }

    /// The current value, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[inline]
    pub fn get(&self) -> [u8; DATE_LEN] {
        self.value.get()
    }
}

impl Default for DateCache {
    fn default() -> Self {
        Self::new()
    }
}
