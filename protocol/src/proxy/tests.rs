//! Headers of both versions: valid ones, every refusal, and every split of the input
//! (the engine feeds the parser whatever each read brought).

use std::net::SocketAddr;

use super::error::V1Part;
use super::*;

fn limits() -> Limits {
    Limits::default()
}

fn sa(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

fn ip(source: &str, destination: &str) -> Option<Addresses> {
    Some(Addresses::Ip {
        source: sa(source),
        destination: sa(destination),
    })
}

/// Parse `input` whole, and check that every proper prefix of the header is `Partial`
/// and that bytes after it change nothing.
fn parse_all(input: &[u8]) -> Result<Status, ProxyError> {
    let whole = parse(input, &limits());
    let decided_at = match &whole {
        Ok(Status::Complete(n, _)) => *n,
        _ => (0..=input.len())
            .find(|&i| parse(&input[..i], &limits()) != Ok(Status::Partial))
            .unwrap_or(input.len()),
    };
    for i in 0..decided_at {
        assert_eq!(
            parse(&input[..i], &limits()),
            Ok(Status::Partial),
            "prefix {i}"
        );
    }
    let mut longer = input.to_vec();
    longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    if whole != Ok(Status::Partial) {
        assert_eq!(parse(&longer, &limits()), whole, "with bytes behind it");
    }
    whole
}

fn complete(input: &[u8]) -> (usize, Header) {
    match parse_all(input) {
        Ok(Status::Complete(n, h)) => (n, h),
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

fn v1_addresses(line: &[u8]) -> Option<Addresses> {
    let (n, h) = complete(line);
    assert_eq!(n, line.len());
    assert_eq!((h.version, h.command), (Version::V1, Command::Proxy));
    h.addresses
}

#[test]
fn v1_tcp4_tcp6_unknown() {
    assert_eq!(
        v1_addresses(b"PROXY TCP4 192.168.0.1 10.0.0.2 56324 443\r\n"),
        ip("192.168.0.1:56324", "10.0.0.2:443")
    );
    assert_eq!(
        v1_addresses(b"PROXY TCP6 2001:db8::1 ::1 0 65535\r\n"),
        ip("[2001:db8::1]:0", "[::1]:65535")
    );
    assert_eq!(v1_addresses(b"PROXY UNKNOWN\r\n"), None);
    assert_eq!(
        v1_addresses(b"PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n"),
        None
    );
}

#[test]
fn v1_longest_line_is_accepted_and_one_more_byte_is_not() {
    let v6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    let line = format!("PROXY TCP6 {v6} {v6} 65535 65535\r\n");
    assert_eq!(line.len(), v1::MAX_LEN - 3);
    assert!(v1_addresses(line.as_bytes()).is_some());
    let unknown = format!("PROXY UNKNOWN {v6} {v6} 65535 65535\r\n");
    assert_eq!(unknown.len(), v1::MAX_LEN);
    assert_eq!(v1_addresses(unknown.as_bytes()), None);
    let long = format!("PROXY UNKNOWN {v6} {v6} 65535 655355\r\n");
    assert_eq!(parse_all(long.as_bytes()), Err(ProxyError::V1TooLong));
    // Decided at 107 bytes, however many more are to come.
    assert_eq!(parse(&[b'P'; 1][..], &limits()), Ok(Status::Partial));
    let mut endless = b"PROXY UNKNOWN ".to_vec();
    endless.resize(v1::MAX_LEN, b'x');
    assert_eq!(parse(&endless, &limits()), Err(ProxyError::V1TooLong));
    assert_eq!(
        parse(&endless[..v1::MAX_LEN - 1], &limits()),
        Ok(Status::Partial)
    );
}

#[test]
fn v1_refusals_name_the_part() {
    let cases: &[(&[u8], V1Part)] = &[
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", V1Part::LineEnd),
        (b"PROXY \r\n", V1Part::Protocol),
        (b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", V1Part::Protocol),
        (b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", V1Part::Protocol),
        (b"PROXY UNKNOWNX\r\n", V1Part::Protocol),
        (b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", V1Part::Fields),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", V1Part::Fields),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", V1Part::Fields),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", V1Part::Fields),
        (b"PROXY TCP4\r\n", V1Part::Fields),
        (b"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", V1Part::Fields),
        (
            b"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
            V1Part::SourceAddress,
        ),
        (b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", V1Part::SourceAddress),
        (b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", V1Part::SourceAddress),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
            V1Part::DestinationAddress,
        ),
        (b"PROXY TCP6 ::1 ::1%lo 1 2\r\n", V1Part::DestinationAddress),
        (b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", V1Part::SourcePort),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
            V1Part::DestinationPort,
        ),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
            V1Part::DestinationPort,
        ),
    ];
    for (line, part) in cases {
        assert_eq!(
            parse_all(line),
            Err(ProxyError::V1Malformed(*part)),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn no_header_is_told_at_once() {
    for input in [
        &b"GET / HTTP/1.1\r\n"[..],
        b"POST / HTTP/1.1\r\n",
        b"PRI * HTTP/2.0\r\n",
        b"\x16\x03\x01\x02\x00",
        b"PROXY\r\n",
        b"\r\n\r\n\0\r\nQUIT\r",
        b"\r\n\r\n\x01",
    ] {
        assert_eq!(parse_all(input), Err(ProxyError::Missing), "{input:?}");
    }
    assert_eq!(parse(b"G", &limits()), Err(ProxyError::Missing));
    assert_eq!(parse(b"PO", &limits()), Err(ProxyError::Missing));
}

/// A version 2 header: command nibble, family byte, the block after the length.
fn v2(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
    let mut h = v2::SIGNATURE.to_vec();
    h.push(0x20 | command);
    h.push(family);
    h.extend_from_slice(&u16::try_from(block.len()).expect("block").to_be_bytes());
    h.extend_from_slice(block);
    h
}

fn inet4_block() -> Vec<u8> {
    let mut b = vec![203, 0, 113, 7, 10, 0, 0, 1];
    b.extend_from_slice(&51000u16.to_be_bytes());
    b.extend_from_slice(&8443u16.to_be_bytes());
    b
}

fn inet6_block() -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        &"2001:db8::7"
            .parse::<std::net::Ipv6Addr>()
            .expect("v6")
            .octets(),
    );
    b.extend_from_slice(&std::net::Ipv6Addr::LOCALHOST.octets());
    b.extend_from_slice(&1234u16.to_be_bytes());
    b.extend_from_slice(&443u16.to_be_bytes());
    b
}

#[test]
fn v2_proxy_inet_inet6_unix() {
    let h = v2(1, 0x11, &inet4_block());
    let (n, header) = complete(&h);
    assert_eq!(n, 28);
    assert_eq!(header.version, Version::V2);
    assert_eq!(header.command, Command::Proxy);
    assert_eq!(header.addresses, ip("203.0.113.7:51000", "10.0.0.1:8443"));

    let h = v2(1, 0x21, &inet6_block());
    let (n, header) = complete(&h);
    assert_eq!(n, 52);
    assert_eq!(header.addresses, ip("[2001:db8::7]:1234", "[::1]:443"));

    let mut block = vec![0u8; 216];
    block[..9].copy_from_slice(b"/tmp/a.s\0");
    block[108..108 + 6].copy_from_slice(b"/run/b");
    let (n, header) = complete(&v2(1, 0x31, &block));
    assert_eq!(n, 232);
    assert_eq!(
        header.addresses,
        Some(Addresses::Unix {
            source: b"/tmp/a.s".to_vec(),
            destination: b"/run/b".to_vec(),
        })
    );
}

#[test]
fn v2_local_unspec_and_datagrams_keep_the_real_endpoints() {
    let (n, header) = complete(&v2(0, 0x00, &[]));
    assert_eq!(
        (n, header.command, header.addresses),
        (16, Command::Local, None)
    );
    // LOCAL discards its block, whatever it holds.
    let (n, header) = complete(&v2(0, 0x11, &[1, 2, 3]));
    assert_eq!(
        (n, header.command, header.addresses),
        (19, Command::Local, None)
    );
    let (_, header) = complete(&v2(1, 0x00, &[]));
    assert_eq!((header.command, header.addresses), (Command::Proxy, None));
    let (_, header) = complete(&v2(1, 0x12, &inet4_block()));
    assert_eq!(header.addresses, None);
    let (_, header) = complete(&v2(1, 0x22, &inet6_block()));
    assert_eq!(header.addresses, None);
    let (_, header) = complete(&v2(1, 0x32, &[0; 216]));
    assert_eq!(header.addresses, None);
}

#[test]
fn v2_tlvs_are_skipped_but_must_fit() {
    let mut block = inet4_block();
    block.extend_from_slice(&[0x01, 0, 2, b'h', b'2']); // ALPN
    block.extend_from_slice(&[0x04, 0, 0]); // NOOP, empty
    block.extend_from_slice(&[0xEA, 0, 3, 1, 2, 3]); // AWS
    let h = v2(1, 0x11, &block);
    let (n, header) = complete(&h);
    assert_eq!(n, h.len());
    assert_eq!(header.addresses, ip("203.0.113.7:51000", "10.0.0.1:8443"));

    let mut short = inet4_block();
    short.extend_from_slice(&[0x01, 0, 5, b'h', b'2']);
    assert_eq!(parse_all(&v2(1, 0x11, &short)), Err(ProxyError::V2Tlv));
    let mut stub = inet4_block();
    stub.extend_from_slice(&[0x01, 0]);
    assert_eq!(parse_all(&v2(1, 0x11, &stub)), Err(ProxyError::V2Tlv));
}

#[test]
fn v2_refusals() {
    let mut bad_version = v2(1, 0x11, &inet4_block());
    bad_version[12] = 0x11;
    assert_eq!(parse_all(&bad_version), Err(ProxyError::V2Version(1)));
    assert_eq!(
        parse_all(&v2(2, 0x11, &inet4_block())),
        Err(ProxyError::V2Command(2))
    );
    for family in [0x01, 0x10, 0x13, 0x41, 0xff] {
        assert_eq!(
            parse_all(&v2(1, family, &inet4_block())),
            Err(ProxyError::V2Family(family))
        );
    }
    assert_eq!(
        parse_all(&v2(1, 0x21, &inet4_block())),
        Err(ProxyError::V2Truncated {
            family: 0x21,
            len: 12
        })
    );
    // The length alone decides an oversized header: nothing more is waited for.
    let mut huge = v2::SIGNATURE.to_vec();
    huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
    assert_eq!(
        parse_all(&huge),
        Err(ProxyError::V2TooLarge {
            size: 65551,
            max: 4096
        })
    );
    let tight = Limits { max_v2_size: 28 };
    let h = v2(1, 0x11, &inet4_block());
    assert!(matches!(parse(&h, &tight), Ok(Status::Complete(28, _))));
    let mut longer = inet4_block();
    longer.extend_from_slice(&[4, 0, 0]);
    assert_eq!(
        parse(&v2(1, 0x11, &longer), &tight),
        Err(ProxyError::V2TooLarge { size: 31, max: 28 })
    );
}

#[test]
fn errors_say_what_was_wrong() {
    let text = ProxyError::V1Malformed(V1Part::SourcePort).to_string();
    assert_eq!(text, "PROXY v1: bad source port");
    assert!(ProxyError::Missing
        .to_string()
        .contains("no PROXY protocol header"));
    assert!(ProxyError::V2TooLarge { size: 9, max: 8 }
        .to_string()
        .contains("9-byte"));
}
