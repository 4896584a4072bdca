//! Why the decoder failed the connection, and the close code that says so.

use super::close;
use std::fmt;

/// A rule a client's frames broke. The connection is failed (RFC 6455 §7.1.7): send a
/// Close frame with [`close_code`](DecodeError::close_code), then close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// A client frame without a mask (§5.1). 1002.
    Unmasked,
    /// RSV2 or RSV3 set, or RSV1 set where no permessage-deflate allows it (§5.2,
    /// RFC 7692 §6). 1002.
    ReservedBits,
    /// An opcode RFC 6455 reserves (3–7, 0xB–0xF). 1002.
    UnknownOpcode(u8),
    /// A 64-bit payload length with its most significant bit set (§5.2). 1002.
    LengthOverflow,
    /// A control frame longer than 125 bytes (§5.5). 1002.
    ControlTooLong,
    /// A control frame without FIN (§5.5). 1002.
    FragmentedControl,
    /// A continuation frame with no message to continue (§5.4). 1002.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open (§5.4). 1002.
    ExpectedContinuation,
    /// A Close frame with a one-byte payload (§5.5.1). 1002.
    CloseLength,
    /// A Close frame with a code that may not be sent (§7.4, see [`close::is_valid`]). 1002.
    InvalidCloseCode(u16),
    /// A text message or close reason that is not UTF-8 (§8.1). 1007.
    InvalidUtf8,
    /// A compressed message that does not inflate (RFC 7692 §6.2). 1007.
    InvalidCompressedData,
    /// A message (after inflation) larger than the decoder's `max_message_size`. 1009.
    MessageTooBig,
}

impl DecodeError {
    /// The status code to put in the Close frame sent in answer.
    pub fn close_code(self) -> u16 {
        match self {
            DecodeError::InvalidUtf8 | DecodeError::InvalidCompressedData => close::INVALID_PAYLOAD,
            DecodeError::MessageTooBig => close::MESSAGE_TOO_BIG,
            _ => close::PROTOCOL_ERROR,
        }
    }

    /// A short reason for the Close frame (ASCII, well under the 123 bytes allowed).
    pub fn reason(self) -> &'static str {
        match self {
            DecodeError::Unmasked => "unmasked frame",
            DecodeError::ReservedBits => "reserved bits set",
            DecodeError::UnknownOpcode(_) => "unknown opcode",
            DecodeError::LengthOverflow => "invalid payload length",
            DecodeError::ControlTooLong => "control frame too long",
            DecodeError::FragmentedControl => "fragmented control frame",
            DecodeError::UnexpectedContinuation => "continuation without a message",
            DecodeError::ExpectedContinuation => "expected a continuation frame",
            DecodeError::CloseLength => "close payload of one byte",
            DecodeError::InvalidCloseCode(_) => "invalid close code",
            DecodeError::InvalidUtf8 => "invalid UTF-8",
            DecodeError::InvalidCompressedData => "invalid compressed data",
            DecodeError::MessageTooBig => "message too big",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::UnknownOpcode(op) => write!(f, "unknown opcode {op:#x}"),
            DecodeError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }
    }
}

impl std::error::Error for DecodeError {}
