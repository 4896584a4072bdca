//! PROXY protocol headers as a proxy writes them, for the tests: the version 1 line and
//! the version 2 binary header (IPv4, IPv6, unix, LOCAL), plus TLVs.

use std::net::{IpAddr, SocketAddr};

/// The version 2 signature.
pub const SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";

/// `PROXY TCP4|TCP6 src dst sport dport\r\n`.
pub fn v1(source: SocketAddr, destination: SocketAddr) -> Vec<u8> {
    let family = if source.is_ipv4() { "TCP4" } else { "TCP6" };
    format!(
        "PROXY {family} {} {} {} {}\r\n",
        source.ip(),
        destination.ip(),
        source.port(),
        destination.port()
    )
    .into_bytes()
}

/// A version 2 header: command (0 LOCAL, 1 PROXY), family byte, and its block.
pub fn v2_raw(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut h = SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(
        &u16::try_from(block.len())
            .expect("a short block")
            .to_be_bytes(),
    );
    h.extend_from_slice(block);
    h
}

/// A version 2 PROXY header over TCP from `source` to `destination`, with `tlvs` after the
/// addresses.
pub fn v2(source: SocketAddr, destination: SocketAddr, tlvs: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    let family = match (source.ip(), destination.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            block.extend_from_slice(&s.octets());
            block.extend_from_slice(&d.octets());
            0x11
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            block.extend_from_slice(&s.octets());
            block.extend_from_slice(&d.octets());
            0x21
        }
        _ => panic!("one family for both addresses"),
    };
    block.extend_from_slice(&source.port().to_be_bytes());
    block.extend_from_slice(&destination.port().to_be_bytes());
    block.extend_from_slice(tlvs);
    v2_raw(1, family, &block)
}

/// A version 2 PROXY header over a unix stream socket.
pub fn v2_unix(source: &str, destination: &str) -> Vec<u8> {
    let mut block = vec![0u8; 216];
    block[..source.len()].copy_from_slice(source.as_bytes());
    block[108..108 + destination.len()].copy_from_slice(destination.as_bytes());
    v2_raw(1, 0x31, &block)
}

/// A version 2 LOCAL header (a health check from the proxy itself).
pub fn v2_local() -> Vec<u8> {
    v2_raw(0, 0x00, &[])
}

/// One TLV.
pub fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
    let mut t = vec![kind];
    t.extend_from_slice(
        &u16::try_from(value.len())
            .expect("a short value")
            .to_be_bytes(),
    );
    t.extend_from_slice(value);
    t
}
