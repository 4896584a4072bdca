//! Byte classes shared by the parsers: token characters (RFC 9110 §5.6.2) as a lookup
//! table, and word-at-a-time (SWAR) scanners that find the first byte of a class eight
//! bytes per step without `unsafe` or per-byte branches.

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

/// Index of the first byte of `buf[i..]` whose 8-byte word flags a hit, scanning with
/// `mask` eight bytes at a time, then finishing with `slow` byte by byte. Returns
/// `buf.len()` when nothing matches.
#[inline(always)]
fn scan(buf: &[u8], mut i: usize, mask: impl Fn(u64) -> u64, slow: impl Fn(u8) -> bool) -> usize {
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
        |w| below(w, 0x20) | equal(w, 0x7f),
        |b| b < 0x20 || b == 0x7f,
    )
}

/// Index of the first byte in `buf[i..]` that is not a VCHAR (`0x21..=0x7e`), or
/// `buf.len()`. A request target ends at the first such byte (SP normally).
#[inline]
pub(crate) fn find_non_vchar(buf: &[u8], i: usize) -> usize {
    scan(
        buf,
        i,
        |w| below(w, 0x21) | equal(w, 0x7f) | (w & HI),
        |b| !(0x21..0x7f).contains(&b),
    )
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

    #[test]
    fn find_ctl_matches_naive() {
        for len in 0..40 {
            for pos in 0..=len {
                for &bad in &[0u8, b'\t', b'\r', b'\n', 0x1f, 0x7f] {
                    let mut v = vec![b'a'; len];
                    v.iter_mut()
                        .skip(len / 3)
                        .step_by(3)
                        .for_each(|b| *b = 0x80);
                    if pos < len {
                        v[pos] = bad;
                    }
                    let naive = v.iter().position(|&b| b < 0x20 || b == 0x7f).unwrap_or(len);
                    assert_eq!(find_ctl(&v, 0), naive, "len {len} pos {pos} bad {bad:#x}");
                }
            }
        }
    }

    #[test]
    fn find_non_vchar_matches_naive() {
        for len in 0..40 {
            for pos in 0..=len {
                for &bad in &[0u8, b' ', b'\t', 0x7f, 0x80, 0xff] {
                    let mut v = vec![b'~'; len];
                    if pos < len {
                        v[pos] = bad;
                    }
                    let naive = v
                        .iter()
                        .position(|&b| !(0x21..0x7f).contains(&b))
                        .unwrap_or(len);
                    assert_eq!(find_non_vchar(&v, 0), naive);
                    if len > 2 {
                        let expect = if naive >= 2 { naive } else { len };
                        assert_eq!(find_non_vchar(&v, 2), expect);
                    }
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
