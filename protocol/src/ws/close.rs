//! Close status codes (RFC 6455 §7.4 and the IANA "WebSocket Close Code Number" registry).

/// 1000: normal closure.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutdown, page left).
pub const GOING_AWAY: u16 = 1001;
/// 1002: protocol error.
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a kind of data the endpoint cannot accept.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1007: data inconsistent with the message type (text that is not UTF-8).
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: policy violation.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1011: an unexpected condition on the server.
pub const INTERNAL_ERROR: u16 = 1011;
/// 1012: the service is restarting.
pub const SERVICE_RESTART: u16 = 1012;
/// 1013: try again later.
pub const TRY_AGAIN_LATER: u16 = 1013;

/// Whether `code` may appear in a Close frame received from a peer.
///
/// Valid: the codes defined for use on the wire — 1000–1003 and 1007–1011 (RFC 6455),
/// 1012–1014 (registered with IANA since: service restart, try again later, bad
/// gateway) — the IANA-registered range 3000–3999 and the private range 4000–4999.
/// Invalid: below 1000, 1004 (reserved), 1005 and 1006 (never sent), 1015 (TLS failure,
/// never sent), 1016–2999 (unassigned, reserved for future RFCs) and 5000 and above.
pub fn is_valid(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
        ] {
            assert!(is_valid(code), "{code}");
        }
        for code in [3000, 3999, 4000, 4999] {
            assert!(is_valid(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid(code), "{code}");
        }
    }
}
