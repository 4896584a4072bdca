//! Host syntax (RFC 9110 §7.2, RFC 3986 §3.2.2): `uri-host [ ":" port ]` where uri-host
//! is a reg-name (which covers IPv4 literals) or a bracketed IPv6 literal. Used for the
//! Host header, the authority of an absolute-form target and authority-form targets.
//! The port, when a colon is present, must be one or more digits.

use crate::h1::tokens::hex_val;
use memchr::memchr;
use std::net::Ipv6Addr;

/// `uri-host [ ":" port ]`, host non-empty.
pub(super) fn is_valid_host(v: &[u8]) -> bool {
    split(v).is_some()
}

/// `uri-host ":" port` (authority-form, RFC 9112 §3.2.3).
pub(super) fn is_valid_authority_form(v: &[u8]) -> bool {
    matches!(split(v), Some(true))
}

/// Validate `v`; `Some(has_port)` when valid.
fn split(v: &[u8]) -> Option<bool> {
    let host_len = if v.first() == Some(&b'[') {
        let close = memchr(b']', v)?;
        if !is_ipv6_literal(v.get(1..close)?) {
            return None;
        }
        close + 1
    } else {
        let len = memchr(b':', v).unwrap_or(v.len());
        if len == 0 || !is_reg_name(v.get(..len)?) {
            return None;
        }
        len
    };
    match v.get(host_len..)? {
        [] => Some(false),
        [b':', port @ ..] if !port.is_empty() && port.iter().all(u8::is_ascii_digit) => Some(true),
        _ => None,
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`.
fn is_reg_name(h: &[u8]) -> bool {
    let mut i = 0;
    while let Some(&b) = h.get(i) {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            b'%' => {
                let hex = h.get(i + 1..i + 3);
                if !hex.is_some_and(|x| x.iter().all(|&d| hex_val(d).is_some())) {
                    return false;
                }
                i += 2;
            }
            _ => return false,
        }
        i += 1;
    }
    true
}

/// The inside of `[...]`: an IPv6 address (IPvFuture is not accepted).
fn is_ipv6_literal(inner: &[u8]) -> bool {
    inner.len() <= 45 && std::str::from_utf8(inner).is_ok_and(|s| s.parse::<Ipv6Addr>().is_ok())
}
