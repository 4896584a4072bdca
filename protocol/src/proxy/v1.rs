//! Version 1: one line of text, `PROXY TCP4 <src> <dst> <sport> <dport>\r\n` (or `TCP6`),
//! or `PROXY UNKNOWN` followed by anything up to the CRLF, which the receiver ignores.
//! At most 107 bytes, CRLF included.
//!
//! Strict as the specification asks: single spaces, IPv4 as four decimal numbers without
//! leading zeros, IPv6 in its textual form (as `inet_ntop` writes it, `::ffff:1.2.3.4`
//! included), ports in 0..=65535 without leading zeros, and the addresses of the family
//! the protocol names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::{ProxyError, V1Part};
use super::{Addresses, Command, Header, Status, Version};

/// What every version 1 header starts with.
pub const PREFIX: &[u8] = b"PROXY ";
/// The longest line the specification allows, CRLF included.
pub const MAX_LEN: usize = 107;

/// Parse a version 1 header at the start of `buf`.
pub fn parse(buf: &[u8]) -> Result<Status, ProxyError> {
    let have = buf.len().min(PREFIX.len());
    if buf[..have] != PREFIX[..have] {
        return Err(ProxyError::Missing);
    }
    let window = &buf[..buf.len().min(MAX_LEN)];
    let Some(lf) = memchr::memchr(b'\n', window) else {
        return if buf.len() >= MAX_LEN {
            Err(ProxyError::V1TooLong)
        } else {
            Ok(Status::Partial)
        };
    };
    // The prefix has no LF, so the line is at least the prefix long.
    let line = match buf[PREFIX.len()..lf].strip_suffix(b"\r") {
        Some(line) => line,
        None => return Err(ProxyError::V1Malformed(V1Part::LineEnd)),
    };
    let header = line_header(line).map_err(ProxyError::V1Malformed)?;
    Ok(Status::Complete(lf + 1, header))
}

/// The header a line (after `PROXY `, before CRLF) stands for.
fn line_header(line: &[u8]) -> Result<Header, V1Part> {
    let mut fields = line.split(|&b| b == b' ');
    let protocol = fields.next().unwrap_or_default();
    let v6 = match protocol {
        b"TCP4" => false,
        b"TCP6" => true,
        // Whatever follows UNKNOWN (after a space) is ignored.
        b"UNKNOWN" => {
            return Ok(Header {
                version: Version::V1,
                command: Command::Proxy,
                addresses: None,
            })
        }
        _ => return Err(V1Part::Protocol),
    };
    let mut next = || {
        fields
            .next()
            .filter(|f| !f.is_empty())
            .ok_or(V1Part::Fields)
    };
    let (src, dst, sport, dport) = (next()?, next()?, next()?, next()?);
    if fields.next().is_some() {
        return Err(V1Part::Fields);
    }
    let src = address(src, v6).ok_or(V1Part::SourceAddress)?;
    let dst = address(dst, v6).ok_or(V1Part::DestinationAddress)?;
    let sport = port(sport).ok_or(V1Part::SourcePort)?;
    let dport = port(dport).ok_or(V1Part::DestinationPort)?;
    Ok(Header {
        version: Version::V1,
        command: Command::Proxy,
        addresses: Some(Addresses::Ip {
            source: SocketAddr::new(src, sport),
            destination: SocketAddr::new(dst, dport),
        }),
    })
}

/// An address of the protocol's family.
fn address(text: &[u8], v6: bool) -> Option<IpAddr> {
    if v6 {
        ipv6(text).map(IpAddr::V6)
    } else {
        ipv4(text).map(IpAddr::V4)
    }
}

/// Four decimal numbers in 0..=255 separated by single dots, no leading zeros.
fn ipv4(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split(|&b| b == b'.');
    for octet in &mut octets {
        *octet = u8::try_from(decimal(parts.next()?, 3)?).ok()?;
    }
    parts.next().is_none().then_some(Ipv4Addr::from(octets))
}

/// An IPv6 address in its textual form (RFC 4291 §2.2: hexadecimal groups, one `::`,
/// an IPv4 tail); no zone, no brackets.
fn ipv6(text: &[u8]) -> Option<Ipv6Addr> {
    if !text
        .iter()
        .all(|b| b.is_ascii_hexdigit() || *b == b':' || *b == b'.')
    {
        return None;
    }
    // All ASCII, so valid UTF-8; std's parser takes exactly RFC 4291's forms.
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// A port: 0..=65535, no leading zeros.
fn port(text: &[u8]) -> Option<u16> {
    u16::try_from(decimal(text, 5)?).ok()
}

/// Decimal digits, at most `max_digits`, no leading zero (but `0` itself).
fn decimal(text: &[u8], max_digits: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_digits || (text.len() > 1 && text[0] == b'0') {
        return None;
    }
    text.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_is_strict() {
        assert_eq!(ipv4(b"192.168.0.1"), Some(Ipv4Addr::new(192, 168, 0, 1)));
        assert_eq!(ipv4(b"0.0.0.0"), Some(Ipv4Addr::UNSPECIFIED));
        assert_eq!(ipv4(b"255.255.255.255"), Some(Ipv4Addr::BROADCAST));
        for bad in [
            &b"192.168.0.01"[..],
            b"256.1.1.1",
            b"1.1.1",
            b"1.1.1.1.1",
            b"1..1.1",
            b"1.1.1.1.",
            b"+1.1.1.1",
            b"1.1.1.1000",
            b"",
        ] {
            assert_eq!(ipv4(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ipv6_takes_the_textual_forms() {
        assert_eq!(ipv6(b"::1"), Some(Ipv6Addr::LOCALHOST));
        assert_eq!(
            ipv6(b"2001:DB8:0:0:0:0:0:1"),
            Some(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        );
        assert_eq!(
            ipv6(b"::ffff:10.0.0.1"),
            Some(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped())
        );
        for bad in [
            &b"fe80::1%eth0"[..],
            b"[::1]",
            b"1::2::3",
            b"12345::",
            b"::ffff:10.0.0.01",
            b"1.2.3.4",
            b"",
        ] {
            assert_eq!(ipv6(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ports_have_no_leading_zeros() {
        assert_eq!(port(b"0"), Some(0));
        assert_eq!(port(b"65535"), Some(65535));
        assert_eq!(port(b"65536"), None);
        assert_eq!(port(b"080"), None);
        assert_eq!(port(b"123456"), None);
        assert_eq!(port(b"-1"), None);
        assert_eq!(port(b""), None);
    }
}
