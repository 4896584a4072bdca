//! Byte classes shared by the parsers: token characters (RFC 9110 §5.6.2) as a lookup
//! table, and scanners that find the first byte of a class many bytes per step: sixteen
//! with SSE2 on x86_64 ([`super::sse2`]), eight with word-at-a-time arithmetic (SWAR)
//! elsewhere and for short input.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use super::sse2::{self, Block};

/// `tchar` (RFC 9110 §5.6.2): the characters of a method, a header name, a transfer
/// coding or a chunk-extension name.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Whether `b` is a `tchar`.
#[inline(always)]
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[b as usize]
}

/// The length of the run of `tchar`s that starts `s`, four bytes per step while they
/// last.
///
/// (Classifying sixteen bytes at once for letters, digits and `-` first took fewer
/// instructions but more time: measured 5 to 10 % slower on whole heads, the vector
/// result arriving later than the table's answer for names this short.)
#[inline(always)]
pub(crate) fn token_len(s: &[u8]) -> usize {
    let mut n = 0;
    while let Some(&[a, b, c, d]) = s.get(n..n + 4) {
        if !(is_tchar(a) & is_tchar(b) & is_tchar(c) & is_tchar(d)) {
            break;
        }
        n += 4;
    }
    while s.get(n).is_some_and(|&b| is_tchar(b)) {
        n += 1;
    }
    n
}

/// Whether `b` may appear in a field value: HTAB, SP, VCHAR or obs-text (anything but
/// the other control characters and DEL).
#[inline(always)]
pub(crate) fn is_field_vchar(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// The value of a hex digit, or `None`.
#[inline(always)]
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` that is `< n` (`n <= 0x80`). The lowest flagged byte
/// is always a true hit (borrows only travel upwards from a hit), which is all the
/// scanners below need.
#[inline(always)]
fn below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * n as u64) & !x & HI
}

/// High bit set in each byte of `x` equal to `b` (lowest flag exact, as above).
#[inline(always)]
fn equal(x: u64, b: u8) -> u64 {
    let y = x ^ (LO * b as u64);
    y.wrapping_sub(LO) & !y & HI
}

/// Index of the first byte of `buf[i..]` that `hit` flags, or `buf.len()`.
///
/// On x86_64 `sse` classifies sixteen bytes per step with SSE2 (part of the x86_64
/// baseline, so always there), the last step re-reading an overlapping block rather
/// than finishing byte by byte; elsewhere (and for a buffer shorter than a block)
/// `mask` classifies eight bytes per step (SWAR) and `slow` finishes byte by byte.
#[inline(always)]
fn scan(
    buf: &[u8],
    i: usize,
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))] sse: impl Fn(Block) -> u32,
    mask: impl Fn(u64) -> u64,
    slow: impl Fn(u8) -> bool,
) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if buf.len() >= 16 {
        return sse2::scan(buf, i, sse);
    }
    scan_words(buf, i, mask, slow)
}

/// [`scan`] eight bytes at a time (SWAR), then byte by byte.
#[inline(always)]
fn scan_words(
    buf: &[u8],
    mut i: usize,
    mask: impl Fn(u64) -> u64,
    slow: impl Fn(u8) -> bool,
) -> usize {
    // Two words per step: independent, so they overlap in the pipeline.
    while let Some(block) = buf.get(i..i + 16) {
        let Ok(block) = <[u8; 16]>::try_from(block) else {
            break;
        };
        let bits = u128::from_le_bytes(block);
        let lo = mask(bits as u64);
        let hi = mask((bits >> 64) as u64);
        if lo | hi != 0 {
            let at = if lo != 0 {
                lo.trailing_zeros()
            } else {
                64 + hi.trailing_zeros()
            };
            return i + (at / 8) as usize;
        }
        i += 16;
    }
    while let Some(word) = buf.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            break;
        };
        let m = mask(u64::from_le_bytes(word));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = buf.get(i) {
        if slow(b) {
            return i;
        }
        i += 1;
    }
    buf.len()
}

/// Index of the first control character (`< 0x20`, HTAB included) or DEL in `buf[i..]`,
/// or `buf.len()`. Header values end at the first such byte (CR or LF normally).
#[inline]
pub(crate) fn find_ctl(buf: &[u8], i: usize) -> usize {
    scan(
        buf,
        i,
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        |b| b.below(0x20) | b.eq(0x7f),
        ctl_word,
        ctl_byte,
    )
}

/// SWAR mask of [`find_ctl`]'s bytes.
#[inline(always)]
fn ctl_word(w: u64) -> u64 {
    below(w, 0x20) | equal(w, 0x7f)
}

/// Whether `b` is one of [`find_ctl`]'s bytes.
#[inline(always)]
fn ctl_byte(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// Index of the first byte in `buf[i..]` that is not a VCHAR, or is `%` or `?` (or
/// `buf.len()`): the events while scanning a request target.
#[inline]
pub(crate) fn find_target_event(buf: &[u8], i: usize) -> usize {
    scan(
        buf,
        i,
        #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
        |b| b.below_or_high(0x21) | b.eq(0x7f) | b.eq(b'%') | b.eq(b'?'),
        target_word,
        target_byte,
    )
}

/// SWAR mask of [`find_target_event`]'s bytes.
#[inline(always)]
fn target_word(w: u64) -> u64 {
    below(w, 0x21) | equal(w, 0x7f) | (w & HI) | equal(w, b'%') | equal(w, b'?')
}

/// Whether `b` is one of [`find_target_event`]'s bytes.
#[inline(always)]
fn target_byte(b: u8) -> bool {
    !(0x21..0x7f).contains(&b) || b == b'%' || b == b'?'
}

/// ASCII case-insensitive equality of `s` with `lower`, a literal made only of
/// lowercase letters, digits and `-`, a word at a time. Exact for field names and
/// values that passed validation: setting bit 0x20 maps only `A-Z` onto `a-z`, and the
/// other bytes it could map onto a digit or `-` are control characters, which a
/// validated name or value cannot hold.
#[inline]
pub(crate) fn eq_lower(s: &[u8], lower: &[u8]) -> bool {
    debug_assert!(lower
        .iter()
        .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    if s.len() != lower.len() {
        return false;
    }
    let word = |b: &[u8], at: usize| {
        b.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    if s.len() >= 8 {
        let mut i = 0;
        while i + 8 < s.len() {
            if word(s, i) | (LO * 0x20) != word(lower, i) {
                return false;
            }
            i += 8;
        }
        // The last word, overlapping the previous one.
        let last = s.len() - 8;
        return word(s, last) | (LO * 0x20) == word(lower, last);
    }
    s.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
}

/// Trim leading and trailing SP / HTAB.
#[inline]
pub(crate) fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The non-empty elements of a comma-separated list (`#element`, RFC 9110 §5.6.1), each
/// trimmed of OWS. Empty elements are skipped as the RFC requires.
#[inline]
pub(crate) fn elements(list: &[u8]) -> impl Iterator<Item = &[u8]> {
    list.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|item| !item.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_table() {
        for b in 0..=255u8 {
            let expected = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#x}");
        }
    }

    /// Every scanner against its byte-at-a-time definition, hits at every position.
    #[test]
    fn scanners_match_naive() {
        type Scanner = fn(&[u8], usize) -> usize;
        type Hit = fn(u8) -> bool;
        // The SWAR scanners, which x86_64 uses only for buffers under 16 bytes.
        let ctl_words: Scanner = |buf, i| scan_words(buf, i, ctl_word, ctl_byte);
        let target_words: Scanner = |buf, i| scan_words(buf, i, target_word, target_byte);
        let scanners: [(Scanner, Hit); 4] = [
            (find_ctl, |b| b < 0x20 || b == 0x7f),
            (ctl_words, |b| b < 0x20 || b == 0x7f),
            (find_target_event, |b| {
                !(0x21..0x7f).contains(&b) || b == b'%' || b == b'?'
            }),
            (target_words, |b| {
                !(0x21..0x7f).contains(&b) || b == b'%' || b == b'?'
            }),
        ];
        for (scanner, hit) in scanners {
            each_placement(70, b"a", |v| {
                let len = v.len();
                for from in [0, 3] {
                    let naive = (from..len).find(|&i| hit(v[i])).unwrap_or(len);
                    assert_eq!(scanner(v, from.min(len)), naive.max(from.min(len)));
                }
            });
        }
    }

    /// Calls `check` with every run of `filler` (repeated) shorter than `max_len`, with
    /// every byte value at every position in it.
    fn each_placement(max_len: usize, filler: &[u8], mut check: impl FnMut(&[u8])) {
        for len in 0..max_len {
            for pos in 0..=len {
                for bad in 0..=255u8 {
                    let mut v: Vec<u8> = filler.iter().cycle().take(len).copied().collect();
                    if pos < len {
                        v[pos] = bad;
                    }
                    check(&v);
                }
            }
        }
    }

    /// The token scanner against its byte-at-a-time definition: every byte value at
    /// every position, in runs shorter and longer than the vector step.
    #[test]
    fn token_len_matches_naive() {
        // Plain letters, and a name of mixed tchars.
        for filler in [&b"a"[..], b"Ab-9_.~!Zz"] {
            each_placement(40, filler, |v| {
                let naive = v.iter().position(|&b| !is_tchar(b)).unwrap_or(v.len());
                assert_eq!(token_len(v), naive, "{v:?}");
            });
        }
    }

    #[test]
    fn eq_lower_matches_eq_ignore_ascii_case() {
        let lits: [&[u8]; 8] = [
            b"host",
            b"close",
            b"expect",
            b"upgrade",
            b"keep-alive",
            b"100-continue",
            b"content-length",
            b"transfer-encoding",
        ];
        for lit in lits {
            assert!(eq_lower(lit, lit));
            assert!(eq_lower(&lit.to_ascii_uppercase(), lit));
            assert!(!eq_lower(&lit[1..], lit));
            for i in 0..lit.len() {
                for b in (0x20..=0xffu8).filter(|&b| b != 0x7f).chain([b'\t']) {
                    let mut v = lit.to_vec();
                    v[i] = b;
                    assert_eq!(eq_lower(&v, lit), v.eq_ignore_ascii_case(lit), "{v:?}");
                }
            }
        }
    }

    #[test]
    fn list_elements() {
        let out: Vec<&[u8]> = elements(b" a ,, b\t,c,  ,").collect();
        assert_eq!(out, vec![&b"a"[..], b"b", b"c"]);
        assert_eq!(trim_ows(b" \t x y\t "), b"x y");
        assert_eq!(trim_ows(b"   "), b"");
    }
}
