//! Byte classes sixteen at a time with SSE2: a [`Block`] of sixteen bytes answers "which
//! of them are in this class" as a bit mask (bit k for byte k), and [`scan`] finds the
//! first byte a class flags.
//!
//! The protocol crate's one `unsafe`: the vector load and the intrinsics. SSE2 is part
//! of the x86_64 baseline and this module is built only where
//! `cfg(target_feature = "sse2")` holds, so the intrinsics' one requirement (the CPU has
//! the feature) is a compile-time fact. Measured to matter: with the SWAR scanners
//! instead, whole request heads took 10 to 15 % more time.

use std::arch::x86_64::{
    __m128i, _mm_cmpeq_epi8, _mm_cmplt_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8,
    _mm_or_si128, _mm_set1_epi8, _mm_sub_epi8,
};

/// Sixteen bytes in a vector register.
#[derive(Clone, Copy)]
pub(crate) struct Block(__m128i);

impl Block {
    /// The sixteen bytes of `buf` from `start`, if it holds that many.
    #[inline(always)]
    pub(crate) fn at(buf: &[u8], start: usize) -> Option<Block> {
        let bytes = buf.get(start..start.checked_add(16)?)?;
        <&[u8; 16]>::try_from(bytes).ok().map(Block::load)
    }

    /// These sixteen bytes.
    #[inline(always)]
    pub(crate) fn load(bytes: &[u8; 16]) -> Block {
        // SAFETY: `bytes` is 16 readable bytes and `loadu` has no alignment
        // requirement; SSE2 is enabled (see the module doc).
        Block(unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) })
    }

    /// Bit k set where byte k equals `b`.
    #[inline(always)]
    pub(crate) fn eq(self, b: u8) -> u32 {
        // SAFETY: register-only SSE2 operations (SSE2 is enabled: see the module doc).
        unsafe { _mm_movemask_epi8(_mm_cmpeq_epi8(self.0, _mm_set1_epi8(b as i8))) as u32 }
    }

    /// Bit k set where byte k is below `n` (unsigned; `n >= 1`).
    #[inline(always)]
    pub(crate) fn below(self, n: u8) -> u32 {
        let x = self.0;
        // SAFETY: register-only SSE2 operations (SSE2 is enabled: see the module doc).
        unsafe {
            let floor = _mm_min_epu8(x, _mm_set1_epi8(n.wrapping_sub(1) as i8));
            _mm_movemask_epi8(_mm_cmpeq_epi8(floor, x)) as u32
        }
    }

    /// Bit k set where byte k is an ASCII letter or digit or `-`: the bytes of
    /// almost every method and header name.
    #[inline(always)]
    pub(crate) fn alnum_dash(self) -> u32 {
        let x = self.0;
        // SAFETY: register-only SSE2 operations (SSE2 is enabled: see the module doc).
        unsafe {
            // Setting 0x20 maps exactly the letters onto a..z; then a range check
            // each for letters and digits as "offset from the start <= width".
            let letter = _mm_sub_epi8(_mm_or_si128(x, _mm_set1_epi8(0x20)), _mm_set1_epi8(0x61));
            let letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(25)), letter);
            let dash = _mm_cmpeq_epi8(x, _mm_set1_epi8(0x2d));
            _mm_movemask_epi8(_mm_or_si128(letter, dash)) as u32 | self.digit()
        }
    }

    /// Bit k set where byte k is an ASCII digit.
    #[inline(always)]
    pub(crate) fn digit(self) -> u32 {
        // SAFETY: register-only SSE2 operations (SSE2 is enabled: see the module doc).
        unsafe {
            let digit = _mm_sub_epi8(self.0, _mm_set1_epi8(0x30));
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit)) as u32
        }
    }

    /// Bit k set where byte k is below `n` (`n <= 0x80`) or is `0x80` or above.
    #[inline(always)]
    pub(crate) fn below_or_high(self, n: u8) -> u32 {
        // SAFETY: register-only SSE2 operations (SSE2 is enabled: see the module doc).
        unsafe { _mm_movemask_epi8(_mm_cmplt_epi8(self.0, _mm_set1_epi8(n as i8))) as u32 }
    }
}

/// The first byte of `buf[i..]` that `hit` flags, or `buf.len()`; `buf.len() >= 16`.
#[inline(always)]
pub(crate) fn scan(buf: &[u8], mut i: usize, hit: impl Fn(Block) -> u32) -> usize {
    while let Some(block) = buf.get(i..i + 16) {
        let Ok(block) = <&[u8; 16]>::try_from(block) else {
            break;
        };
        let m = hit(Block::load(block));
        if m != 0 {
            return i + m.trailing_zeros() as usize;
        }
        i += 16;
    }
    if i >= buf.len() {
        return buf.len();
    }
    // The last, partial block: read the final sixteen bytes and ignore the ones
    // before `i`, which were already scanned.
    let last = buf.len() - 16;
    let Some(Ok(block)) = buf.get(last..).map(<&[u8; 16]>::try_from) else {
        return buf.len();
    };
    let m = hit(Block::load(block)) >> (i - last);
    if m != 0 {
        return i + m.trailing_zeros() as usize;
    }
    buf.len()
}
