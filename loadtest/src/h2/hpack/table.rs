//! HPACK's indexing tables (RFC 7541 §2.3 and §4): the static table of Appendix A and a
//! decoder's dynamic table, addressed together (1..=61 static, 62.. dynamic, newest
//! first).

use std::collections::VecDeque;

/// The static table (RFC 7541 Appendix A); index `i` is `STATIC[i - 1]`.
pub const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The static index of the first entry named `name`, if any.
pub fn static_name(name: &[u8]) -> Option<usize> {
    STATIC.iter().position(|(n, _)| *n == name).map(|i| i + 1)
}

/// Overhead counted per entry on top of its name and value (RFC 7541 §4.1).
const ENTRY_OVERHEAD: usize = 32;

/// One dynamic entry: name and value in one allocation.
#[derive(Debug)]
struct Entry {
    bytes: Box<[u8]>,
    name_len: usize,
}

impl Entry {
    fn size(&self) -> usize {
        self.bytes.len() + ENTRY_OVERHEAD
    }
}

/// A decoder's dynamic table.
#[derive(Debug)]
pub struct Dynamic {
    /// Newest first.
    entries: VecDeque<Entry>,
    /// Sum of the entries' sizes.
    size: usize,
    /// Current maximum size (set by the encoder's size updates).
    max: usize,
}

impl Dynamic {
    /// An empty table of at most `max` bytes.
    pub fn new(max: usize) -> Dynamic {
        Dynamic {
            entries: VecDeque::new(),
            size: 0,
            max,
        }
    }

    /// Entry `index` of the combined address space (1-based), as (name, value).
    #[inline]
    pub fn get(&self, index: usize) -> Option<(&[u8], &[u8])> {
        if index == 0 {
            return None;
        }
        if let Some(&(n, v)) = STATIC.get(index - 1) {
            return Some((n, v));
        }
        let e = self.entries.get(index - 1 - STATIC.len())?;
        Some(e.bytes.split_at(e.name_len))
    }

    /// Add `name: value` as the newest entry, evicting the oldest as needed (an entry
    /// larger than the table empties it and is not added).
    pub fn insert(&mut self, name: &[u8], value: &[u8]) {
        let mut bytes = Vec::with_capacity(name.len() + value.len());
        bytes.extend_from_slice(name);
        bytes.extend_from_slice(value);
        let entry = Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: name.len(),
        };
        let size = entry.size();
        self.evict_to(self.max.saturating_sub(size));
        if size <= self.max {
            self.size += size;
            self.entries.push_front(entry);
        }
    }

    /// Set the maximum size (a dynamic table size update), evicting as needed.
    pub fn set_max(&mut self, max: usize) {
        self.max = max;
        self.evict_to(max);
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            match self.entries.pop_back() {
                Some(e) => self.size -= e.size(),
                None => break,
            }
        }
    }

    /// Current size in bytes (RFC 7541 §4.1).
    #[cfg(test)]
    pub fn size(&self) -> usize {
        self.size
    }

    /// Number of entries.
    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.entries.len()
    }
}
