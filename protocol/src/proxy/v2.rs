//! Version 2: the binary header. Sixteen fixed bytes (the 12-byte [`SIGNATURE`], the
//! version and command, the family and transport, the length of what follows), then the
//! addresses of the family, then TLVs (type, 16-bit length, value) up to the length.
//!
//! Checked as soon as each byte arrives: the signature, version 2, the `LOCAL` or `PROXY`
//! command, one of the seven family/transport bytes the specification defines, and the
//! length against the family and the receiver's limit. TLVs must tile the rest of the
//! header exactly; their contents are skipped. A `LOCAL` header's block is discarded
//! unread, as the specification says; so are the addresses of `UNSPEC` and of the
//! datagram transports, for which the receiver falls back to the real endpoints.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use super::error::ProxyError;
use super::{Addresses, Command, Header, Limits, Status, Version};

/// What every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";
/// The fixed part: signature, version/command, family/transport, length.
pub const FIXED_LEN: usize = 16;

/// Byte 13's command nibble: made by the proxy itself.
const LOCAL: u8 = 0x0;
/// Byte 13's command nibble: relayed for a client.
const PROXY: u8 = 0x1;

/// Byte 14 values: family (high nibble) and transport (low nibble).
const UNSPEC: u8 = 0x00;
const TCP4: u8 = 0x11;
const UDP4: u8 = 0x12;
const TCP6: u8 = 0x21;
const UDP6: u8 = 0x22;
const UNIX_STREAM: u8 = 0x31;
const UNIX_DGRAM: u8 = 0x32;

/// Size of a unix socket path field (`sun_path`).
const UNIX_PATH: usize = 108;

/// Parse a version 2 header at the start of `buf`.
pub fn parse(buf: &[u8], limits: &Limits) -> Result<Status, ProxyError> {
    let have = buf.len().min(SIGNATURE.len());
    if buf[..have] != SIGNATURE[..have] {
        return Err(ProxyError::Missing);
    }
    let Some(&ver_cmd) = buf.get(12) else {
        return Ok(Status::Partial);
    };
    if ver_cmd >> 4 != 2 {
        return Err(ProxyError::V2Version(ver_cmd >> 4));
    }
    let command = match ver_cmd & 0x0f {
        LOCAL => Command::Local,
        PROXY => Command::Proxy,
        other => return Err(ProxyError::V2Command(other)),
    };
    let Some(&family) = buf.get(13) else {
        return Ok(Status::Partial);
    };
    let addresses_len = match family {
        UNSPEC => 0,
        TCP4 | UDP4 => 12,
        TCP6 | UDP6 => 36,
        UNIX_STREAM | UNIX_DGRAM => 2 * UNIX_PATH,
        other => return Err(ProxyError::V2Family(other)),
    };
    let Some(len) = buf.get(14..16) else {
        return Ok(Status::Partial);
    };
    let len = u16::from_be_bytes([len[0], len[1]]);
    let size = FIXED_LEN + usize::from(len);
    if size > limits.max_v2_size {
        return Err(ProxyError::V2TooLarge {
            size,
            max: limits.max_v2_size,
        });
    }
    if command == Command::Proxy && usize::from(len) < addresses_len {
        return Err(ProxyError::V2Truncated { family, len });
    }
    let Some(block) = buf.get(FIXED_LEN..size) else {
        return Ok(Status::Partial);
    };
    let addresses = match command {
        Command::Local => None,
        Command::Proxy => {
            let (addrs, tlvs) = block.split_at(addresses_len);
            check_tlvs(tlvs)?;
            decode(family, addrs)
        }
    };
    Ok(Status::Complete(
        size,
        Header {
            version: Version::V2,
            command,
            addresses,
        },
    ))
}

/// The endpoints of a stream family; `None` for `UNSPEC` and the datagram transports.
fn decode(family: u8, a: &[u8]) -> Option<Addresses> {
    let port = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    match family {
        TCP4 => {
            let ip = |i: usize| Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]);
            Some(Addresses::Ip {
                source: SocketAddr::new(ip(0).into(), port(8)),
                destination: SocketAddr::new(ip(4).into(), port(10)),
            })
        }
        TCP6 => {
            let ip = |i: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[i..i + 16]);
                Ipv6Addr::from(octets)
            };
            Some(Addresses::Ip {
                source: SocketAddr::new(ip(0).into(), port(32)),
                destination: SocketAddr::new(ip(16).into(), port(34)),
            })
        }
        UNIX_STREAM => {
            let path = |field: &[u8]| {
                let end = memchr::memchr(0, field).unwrap_or(field.len());
                field[..end].to_vec()
            };
            Some(Addresses::Unix {
                source: path(&a[..UNIX_PATH]),
                destination: path(&a[UNIX_PATH..]),
            })
        }
        _ => None,
    }
}

/// TLVs (type, 16-bit big-endian length, value) must fill `tlvs` exactly.
fn check_tlvs(mut tlvs: &[u8]) -> Result<(), ProxyError> {
    while !tlvs.is_empty() {
        let &[_, hi, lo, ..] = tlvs else {
            return Err(ProxyError::V2Tlv);
        };
        let end = 3 + usize::from(u16::from_be_bytes([hi, lo]));
        tlvs = tlvs.get(end..).ok_or(ProxyError::V2Tlv)?;
    }
    Ok(())
}
