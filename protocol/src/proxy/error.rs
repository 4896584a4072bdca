//! Why bytes are not a PROXY protocol header. The connection is closed in every case; the
//! text says which rule was broken, for the server's debug log.

use std::fmt;

/// A header the receiver refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyError {
    /// The bytes start with neither the version 1 prefix (`PROXY `) nor the version 2
    /// signature: the peer sent no header (plain HTTP, TLS, garbage).
    Missing,
    /// Version 1: no CRLF within the 107 bytes a line may take.
    V1TooLong,
    /// Version 1: the line breaks the grammar; the part that did.
    V1Malformed(V1Part),
    /// Version 2: the version nibble is not 2.
    V2Version(u8),
    /// Version 2: a command other than `LOCAL` (0) or `PROXY` (1).
    V2Command(u8),
    /// Version 2: a family and transport byte the specification does not define.
    V2Family(u8),
    /// Version 2: the length is smaller than the addresses of its family.
    V2Truncated {
        /// The family and transport byte.
        family: u8,
        /// The length the header gave.
        len: u16,
    },
    /// Version 2: the header is larger than the receiver allows.
    V2TooLarge {
        /// The header's size, its 16 fixed bytes included.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Version 2: a TLV does not fit in the header.
    V2Tlv,
}

/// The part of a version 1 line that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Part {
    /// The line does not end with CR LF.
    LineEnd,
    /// The protocol is not `TCP4`, `TCP6` or `UNKNOWN`.
    Protocol,
    /// Not exactly four fields after the protocol, or not separated by single spaces.
    Fields,
    /// The source address is not a canonical address of the protocol's family.
    SourceAddress,
    /// The destination address is not a canonical address of the protocol's family.
    DestinationAddress,
    /// The source port is not a decimal number in 0..=65535 without leading zeros.
    SourcePort,
    /// The destination port is not a decimal number in 0..=65535 without leading zeros.
    DestinationPort,
}

impl fmt::Display for V1Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            V1Part::LineEnd => "the line does not end with CRLF",
            V1Part::Protocol => "the protocol is not TCP4, TCP6 or UNKNOWN",
            V1Part::Fields => "not four fields separated by single spaces",
            V1Part::SourceAddress => "bad source address",
            V1Part::DestinationAddress => "bad destination address",
            V1Part::SourcePort => "bad source port",
            V1Part::DestinationPort => "bad destination port",
        })
    }
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Missing => f.write_str("no PROXY protocol header (no v1 or v2 signature)"),
            ProxyError::V1TooLong => f.write_str("PROXY v1: no CRLF within 107 bytes"),
            ProxyError::V1Malformed(part) => write!(f, "PROXY v1: {part}"),
            ProxyError::V2Version(v) => write!(f, "PROXY v2: version {v} is not 2"),
            ProxyError::V2Command(c) => write!(f, "PROXY v2: unknown command {c:#x}"),
            ProxyError::V2Family(b) => write!(f, "PROXY v2: unknown family/transport {b:#04x}"),
            ProxyError::V2Truncated { family, len } => write!(
                f,
                "PROXY v2: length {len} is too short for the addresses of family {family:#04x}"
            ),
            ProxyError::V2TooLarge { size, max } => {
                write!(
                    f,
                    "PROXY v2: a {size}-byte header is over the {max}-byte limit"
                )
            }
            ProxyError::V2Tlv => f.write_str("PROXY v2: a TLV runs past the end of the header"),
        }
    }
}

impl std::error::Error for ProxyError {}
