//! Host syntax (RFC 9110 §7.2, RFC 3986 §3.2.2): `uri-host [ ":" port ]` where uri-host
//! is a reg-name (which covers IPv4 literals) or a bracketed IPv6 literal. Used for the
//! Host header, the authority of an absolute-form target and authority-form targets.
//! The port, when a colon is present, must be one or more digits.

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
use crate::h1::sse2::Block;
use crate::h1::tokens::hex_val;
use memchr::memchr;
use std::net::Ipv6Addr;

/// `uri-host [ ":" port ]`, host non-empty.
#[inline]
pub(super) fn is_valid_host(v: &[u8]) -> bool {
    split(v).is_some()
}

/// [`is_valid_host`] of `value`, which starts at `start` in `buf`: the common shape is
/// recognised sixteen bytes at once when `buf` holds that many from `start`.
#[inline]
pub(super) fn is_valid_host_in(buf: &[u8], start: usize, value: &[u8]) -> bool {
    is_plain_host(buf, start, value.len()) || is_valid_host(value)
}

/// Whether the `len` bytes at `start` in `buf` are a host of the common shape, letters,
/// digits, `.` and `-` with an optional `:port` of one or more digits, decided sixteen
/// bytes at once: a shape every byte of which the full Host syntax accepts. `false`
/// says only "not of that shape, or not decided here" (an IPv6 literal,
/// percent-encoding, other sub-delims, an invalid host, too few bytes in `buf`, no
/// SSE2): the full check decides those.
#[inline(always)]
fn is_plain_host(buf: &[u8], start: usize, len: usize) -> bool {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let (1..=16, Some(block)) = (len, Block::at(buf, start)) {
        let all = u32::MAX >> (32 - len);
        let colon = block.eq(b':') & all;
        // The name runs to the first colon (or the end), the port from after it.
        let name_len = if colon == 0 {
            len
        } else {
            colon.trailing_zeros() as usize
        };
        let name = all >> (len - name_len);
        let port = all & !(name | (name + 1));
        let plain = block.alnum_dash() | block.eq(b'.');
        return name_len > 0
            && plain & name == name
            && (colon == 0 || (port != 0 && block.digit() & port == port));
    }
    let _ = (buf, start, len);
    false
}

/// `uri-host ":" port` (authority-form, RFC 9112 §3.2.3).
pub(super) fn is_valid_authority_form(v: &[u8]) -> bool {
    matches!(split(v), Some(true))
}

/// Validate `v`; `Some(has_port)` when valid.
#[inline]
fn split(v: &[u8]) -> Option<bool> {
    let host_len = if v.first() == Some(&b'[') {
        let close = memchr(b']', v)?;
        if !is_ipv6_literal(v.get(1..close)?) {
            return None;
        }
        close + 1
    } else {
        reg_name_len(v)?
    };
    match v.get(host_len..)? {
        [] => Some(false),
        [b':', port @ ..] if !port.is_empty() && port.iter().all(u8::is_ascii_digit) => Some(true),
        _ => None,
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`, non-empty, at the start of
/// `h`: its length (it ends at the end of `h` or at a `:`), `None` if invalid.
#[inline]
fn reg_name_len(h: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        let rest = h.get(i..).unwrap_or_default();
        i += rest
            .iter()
            .position(|&b| !REG_NAME[b as usize])
            .unwrap_or(rest.len());
        let Some(&b) = h.get(i) else {
            break;
        };
        if b == b'%' && h.get(i + 1..i + 3)?.iter().all(|&d| hex_val(d).is_some()) {
            i += 3;
        } else if b == b':' {
            break;
        } else {
            return None;
        }
    }
    (i > 0).then_some(i)
}

/// unreserved and sub-delims (RFC 3986 §2.2, §2.3).
static REG_NAME: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        b += 1;
    }
    t
};

/// The inside of `[...]`: an IPv6 address (IPvFuture is not accepted).
fn is_ipv6_literal(inner: &[u8]) -> bool {
    inner.len() <= 45 && std::str::from_utf8(inner).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h1::testing::strings_over;

    /// The sixteen-byte check never accepts what the full syntax rejects, and accepts
    /// every host of its shape: all strings of up to four bytes over an alphabet of the
    /// interesting bytes, then each of them padded out to the block's edge.
    #[test]
    fn plain_hosts_agree_with_the_full_syntax() {
        let strings = strings_over(b"a9.-:[]%_ \r", 4);
        let plain_shape = |v: &[u8]| {
            let (name, port) = match v.iter().position(|&b| b == b':') {
                Some(c) => (&v[..c], Some(&v[c + 1..])),
                None => (v, None),
            };
            !name.is_empty()
                && name
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
                && port.is_none_or(|p| !p.is_empty() && p.iter().all(u8::is_ascii_digit))
        };
        for s in &strings {
            for pad in [0, 16usize.saturating_sub(s.len() + 4)] {
                let v: Vec<u8> = std::iter::repeat_n(b'h', pad)
                    .chain(s.iter().copied())
                    .collect();
                if v.len() > 16 {
                    continue;
                }
                let mut window = [b'\r'; 16];
                window[..v.len()].copy_from_slice(&v);
                let plain = is_plain_host(&window, 0, v.len());
                if plain {
                    assert!(is_valid_host(&v), "{:?}", String::from_utf8_lossy(&v));
                }
                if cfg!(target_arch = "x86_64") {
                    assert_eq!(plain, plain_shape(&v), "{:?}", String::from_utf8_lossy(&v));
                }
            }
        }
    }
}
