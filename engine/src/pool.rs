//! The per-worker buffer pool. Connections take a read buffer when bytes arrive and give it
//! back when no request is in progress, so idle keep-alive connections hold no buffer.
//! The pool shrinks: once a second, buffers that sat unused for the whole second are freed.

use bytes::BytesMut;

/// A worker's pool of read/write buffers (not `Send`: one per worker).
#[derive(Debug)]
pub struct BufPool {
    free: Vec<BytesMut>,
    buf_size: usize,
    max_free: usize,
    /// Lowest length of `free` since the last trim: that many buffers were never needed.
    low_water: usize,
    hits: u64,
    misses: u64,
}

impl BufPool {
    /// A pool of `buf_size`-byte buffers keeping at most `max_free` idle ones.
    pub fn new(buf_size: usize, max_free: usize) -> Self {
        BufPool {
            free: Vec::new(),
            buf_size,
            max_free,
            low_water: 0,
            hits: 0,
            misses: 0,
        }
    }

    /// Take a buffer (empty, with at least `buf_size` capacity).
    #[inline]
    pub fn take(&mut self) -> BytesMut {
        match self.free.pop() {
            Some(b) => {
                self.hits += 1;
                self.low_water = self.low_water.min(self.free.len());
                b
            }
            None => {
                self.misses += 1;
                self.low_water = 0;
                BytesMut::with_capacity(self.buf_size)
            }
        }
    }

    /// Give a buffer back. Buffers that grew large or lost their capacity are dropped.
    #[inline]
    pub fn give(&mut self, mut buf: BytesMut) {
        buf.clear();
        // Heads split off the front moved the buffer's start; when nothing else holds
        // the allocation, `reserve` moves the start back and the whole capacity returns.
        buf.reserve(self.buf_size);
        let cap = buf.capacity();
        if cap >= self.buf_size && cap <= self.buf_size * 4 && self.free.len() < self.max_free {
            self.free.push(buf);
        }
    }

    /// Free the buffers that were not needed since the last call.
    pub fn trim(&mut self) {
        let unused = self.low_water.min(self.free.len());
        let keep = self.free.len() - unused.div_ceil(2).max(unused.min(1));
        self.free.truncate(keep);
        self.free.shrink_to(self.free.len().max(16));
        self.low_water = self.free.len();
    }

    /// Free every idle buffer (the worker has no connection left).
    pub fn clear(&mut self) {
        self.free = Vec::new();
        self.low_water = 0;
    }

    /// Idle buffers held.
    pub fn idle(&self) -> usize {
        self.free.len()
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_and_shrinks() {
        let mut pool = BufPool::new(1024, 8);
        let a = pool.take();
        let b = pool.take();
        pool.give(a);
        pool.give(b);
        assert_eq!(pool.idle(), 2);
        let c = pool.take();
        assert_eq!(pool.stats(), (1, 2));
        pool.give(c);
        // Nothing was taken below 1 idle since the miss reset the low-water mark to 0.
        pool.trim();
        assert_eq!(pool.idle(), 2);
        // A whole interval without use: half of the idle buffers go.
        pool.trim();
        assert_eq!(pool.idle(), 1);
        pool.trim();
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn drops_oversized() {
        let mut pool = BufPool::new(1024, 8);
        pool.give(BytesMut::with_capacity(1 << 20));
        assert_eq!(pool.idle(), 0);
    }

    #[test]
    fn reclaims_capacity_after_split() {
        let mut pool = BufPool::new(1024, 8);
        let mut buf = pool.take();
        buf.extend_from_slice(&[b'x'; 300]);
        let head = buf.split_to(100).freeze();
        drop(head);
        pool.give(buf);
        let again = pool.take();
        assert!(again.capacity() >= 1024);
        assert_eq!(pool.stats(), (1, 1));
    }
}
