//! Property tests of the PROXY protocol parser: generated headers of both versions parse
//! to what was written, however the bytes are split across reads, and whatever follows
//! them; arbitrary bytes (plain, behind either signature, or a valid header with a byte
//! changed) never panic, and the outcome never changes once it is decided.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use peregrine_protocol::proxy::{self, Addresses, Command, Header, Limits, Status, Version};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

/// Feed `input` as the engine does: a buffer growing by the pieces between the cut points
/// (modulo its length), parsed after each piece, until the outcome is decided.
fn feed(input: &[u8], cuts: &[usize], limits: &Limits) -> Result<Status, proxy::ProxyError> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut outcome = Ok(Status::Partial);
    for p in points {
        outcome = proxy::parse(&input[..p], limits);
        if outcome != Ok(Status::Partial) {
            break;
        }
    }
    outcome
}

/// Once a prefix decides the outcome, every longer prefix gives the same one.
fn decided_once(input: &[u8], limits: &Limits) -> Result<(), TestCaseError> {
    let mut decided = None;
    for i in 0..=input.len() {
        let outcome = proxy::parse(&input[..i], limits);
        if let Some(d) = &decided {
            prop_assert_eq!(&outcome, d, "prefix {} of {:?}", i, input);
        } else if outcome != Ok(Status::Partial) {
            if let Ok(Status::Complete(n, _)) = &outcome {
                prop_assert!(*n <= i);
            }
            decided = Some(outcome);
        }
    }
    Ok(())
}

fn socket_addr(v6: bool) -> impl Strategy<Value = SocketAddr> {
    let ip = if v6 {
        any::<[u8; 16]>()
            .prop_map(|o| IpAddr::V6(Ipv6Addr::from(o)))
            .boxed()
    } else {
        any::<[u8; 4]>()
            .prop_map(|o| IpAddr::V4(Ipv4Addr::from(o)))
            .boxed()
    };
    (ip, any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port))
}

/// A version 1 line with its expected addresses.
fn v1_header() -> impl Strategy<Value = (Vec<u8>, Option<Addresses>)> {
    let tcp = any::<bool>().prop_flat_map(|v6| {
        (socket_addr(v6), socket_addr(v6)).prop_map(move |(s, d)| {
            let line = format!(
                "PROXY {} {} {} {} {}\r\n",
                if v6 { "TCP6" } else { "TCP4" },
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            );
            let addrs = Addresses::Ip {
                source: s,
                destination: d,
            };
            (line.into_bytes(), Some(addrs))
        })
    });
    let unknown =
        "( [ -~]{0,91})?".prop_map(|rest| (format!("PROXY UNKNOWN{rest}\r\n").into_bytes(), None));
    prop_oneof![4 => tcp, 1 => unknown]
}

/// TLVs (type, length, value) whose values are at most 40 bytes.
fn tlvs() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        (any::<u8>(), prop::collection::vec(any::<u8>(), 0..40)),
        0..4,
    )
    .prop_map(|list| {
        let mut out = Vec::new();
        for (kind, value) in list {
            out.push(kind);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
            out.extend_from_slice(&value);
        }
        out
    })
}

/// A version 2 header (PROXY over TCP, or LOCAL) with its expected header.
fn v2_header() -> impl Strategy<Value = (Vec<u8>, Header)> {
    let proxied = any::<bool>().prop_flat_map(|v6| {
        (socket_addr(v6), socket_addr(v6), tlvs()).prop_map(move |(s, d, tlvs)| {
            let mut block = Vec::new();
            match (s.ip(), d.ip()) {
                (IpAddr::V4(a), IpAddr::V4(b)) => {
                    block.extend_from_slice(&a.octets());
                    block.extend_from_slice(&b.octets());
                }
                (IpAddr::V6(a), IpAddr::V6(b)) => {
                    block.extend_from_slice(&a.octets());
                    block.extend_from_slice(&b.octets());
                }
                _ => unreachable!("one family"),
            }
            block.extend_from_slice(&s.port().to_be_bytes());
            block.extend_from_slice(&d.port().to_be_bytes());
            block.extend_from_slice(&tlvs);
            let header = Header {
                version: Version::V2,
                command: Command::Proxy,
                addresses: Some(Addresses::Ip {
                    source: s,
                    destination: d,
                }),
            };
            (v2_bytes(0x21, if v6 { 0x21 } else { 0x11 }, &block), header)
        })
    });
    let local = prop::collection::vec(any::<u8>(), 0..64).prop_map(|block| {
        let header = Header {
            version: Version::V2,
            command: Command::Local,
            addresses: None,
        };
        (v2_bytes(0x20, 0x00, &block), header)
    });
    prop_oneof![3 => proxied, 1 => local]
}

fn v2_bytes(ver_cmd: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut h = proxy::v2::SIGNATURE.to_vec();
    h.push(ver_cmd);
    h.push(family);
    h.extend_from_slice(&(block.len() as u16).to_be_bytes());
    h.extend_from_slice(block);
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// A version 1 line parses to its addresses, split anywhere, whatever follows it.
    #[test]
    fn v1_split_anywhere(
        (line, addrs) in v1_header(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = line.clone();
        input.extend_from_slice(&tail);
        let expected = Header { version: Version::V1, command: Command::Proxy, addresses: addrs };
        prop_assert_eq!(
            feed(&input, &cuts, &Limits::default()),
            Ok(Status::Complete(line.len(), expected))
        );
    }

    /// A version 2 header parses to what was written, split anywhere, whatever follows.
    #[test]
    fn v2_split_anywhere(
        (bytes, header) in v2_header(),
        tail in prop::collection::vec(any::<u8>(), 0..64),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut input = bytes.clone();
        input.extend_from_slice(&tail);
        prop_assert_eq!(
            feed(&input, &cuts, &Limits::default()),
            Ok(Status::Complete(bytes.len(), header))
        );
    }

    /// Arbitrary bytes, alone or behind either signature: no panic; decided once.
    #[test]
    fn garbage_is_decided_once(
        start in 0u8..3,
        garbage in prop::collection::vec(any::<u8>(), 0..300),
        max in 16usize..600,
    ) {
        let mut input = match start {
            0 => Vec::new(),
            1 => b"PROXY ".to_vec(),
            _ => proxy::v2::SIGNATURE.to_vec(),
        };
        input.extend_from_slice(&garbage);
        decided_once(&input, &Limits { max_v2_size: max })?;
    }

    /// A valid header with one byte changed: no panic; decided once.
    #[test]
    fn mutations_are_decided_once(
        v2 in any::<bool>(),
        (line, _) in v1_header(),
        (bytes, _) in v2_header(),
        at in any::<usize>(),
        value in any::<u8>(),
    ) {
        let mut input = if v2 { bytes } else { line };
        let i = at % input.len();
        input[i] = value;
        decided_once(&input, &Limits::default())?;
    }
}
