use super::*;

const KEY: &[u8] = b"dGhlIHNhbXBsZSBub25jZQ==";

fn h1(headers: &[(&str, &str)]) -> UpgradeRequest {
    let mut r = UpgradeRequest::new();
    for (n, v) in headers {
        r.header(n.as_bytes(), v.as_bytes());
    }
    r
}

fn good() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Host", "server.example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
}

#[test]
fn rfc_accept_key() {
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn accepts_the_rfc_request() {
    let hs = h1(&good()).check_h1(b"GET").unwrap();
    assert_eq!(hs.accept.as_deref(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(hs.protocols.is_empty());
    assert!(hs.extensions.is_empty());
}

#[test]
fn token_lists_case_insensitive() {
    let mut hs = good();
    hs[1] = ("upgrade", "h2c, WebSocket");
    hs[2] = ("CONNECTION", "keep-alive, UPGRADE");
    assert!(h1(&hs).check_h1(b"GET").is_ok());
    // Split over two header lines.
    let mut hs = good();
    hs[2] = ("Connection", "keep-alive");
    hs.push(("Connection", "upgrade"));
    assert!(h1(&hs).check_h1(b"GET").is_ok());
    // Not a substring match.
    let mut hs = good();
    hs[2] = ("Connection", "upgraded");
    assert_eq!(h1(&hs).check_h1(b"GET"), Err(HandshakeError::NotUpgrade));
}

#[test]
fn refusals() {
    let without = |name: &str| -> Vec<(&'static str, &'static str)> {
        good().into_iter().filter(|(n, _)| *n != name).collect()
    };
    let with = |name: &'static str, value: &'static str| {
        let mut v = without(name);
        v.push((name, value));
        v
    };
    assert_eq!(h1(&good()).check_h1(b"POST"), Err(HandshakeError::Method));
    assert_eq!(
        h1(&without("Upgrade")).check_h1(b"GET"),
        Err(HandshakeError::NotUpgrade)
    );
    assert_eq!(
        h1(&without("Connection")).check_h1(b"GET"),
        Err(HandshakeError::NotUpgrade)
    );
    assert_eq!(
        h1(&without("Sec-WebSocket-Key")).check_h1(b"GET"),
        Err(HandshakeError::BadKey)
    );
    for key in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",     // no padding
        "dGhlIHNhbXBsZSBub25jZQ=",    // short padding
        "dGhlIHNhbXBsZSBub25jZR==",   // non-canonical trailing bits
        "dGhlIHNhbXBsZSBub25jZSE=",   // 17 bytes
        "dGhlIHNhbXBsZSBub25j",       // 15 bytes
        "dGhlIHNhbXBsZSBub25jZQ==AA", // too long
        "dGhlIHNhbXBsZSBub25jZ!==",
    ] {
        assert_eq!(
            h1(&with("Sec-WebSocket-Key", key)).check_h1(b"GET"),
            Err(HandshakeError::BadKey),
            "{key}"
        );
    }
    let mut twice = good();
    twice.push(("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(h1(&twice).check_h1(b"GET"), Err(HandshakeError::BadKey));
    let e = h1(&with("Sec-WebSocket-Version", "8"))
        .check_h1(b"GET")
        .unwrap_err();
    assert_eq!(
        (e, e.status(), e.headers()),
        (
            HandshakeError::UnsupportedVersion,
            426,
            &[("Sec-WebSocket-Version", "13")][..]
        )
    );
    let e = h1(&without("Sec-WebSocket-Version"))
        .check_h1(b"GET")
        .unwrap_err();
    assert_eq!((e, e.status()), (HandshakeError::MissingVersion, 400));
    assert_eq!(
        h1(&with("Sec-WebSocket-Protocol", "chat, a b")).check_h1(b"GET"),
        Err(HandshakeError::BadProtocol)
    );
}

#[test]
fn subprotocols_and_extensions() {
    let mut hs = good();
    hs.push(("Sec-WebSocket-Protocol", "chat, , superchat"));
    hs.push(("sec-websocket-protocol", "v2.json"));
    hs.push((
        "Sec-WebSocket-Extensions",
        "permessage-deflate; client_max_window_bits",
    ));
    hs.push(("Sec-WebSocket-Extensions", "x-foo"));
    let r = h1(&hs).check_h1(b"GET").unwrap();
    assert_eq!(r.protocols, ["chat", "superchat", "v2.json"]);
    assert_eq!(
        r.extensions,
        b"permessage-deflate; client_max_window_bits,x-foo"
    );
}

#[test]
fn http2_extended_connect() {
    let mut r = UpgradeRequest::new();
    r.header(b"sec-websocket-version", b"13");
    r.header(b"sec-websocket-protocol", b"chat");
    let hs = r.clone().check_h2(b"CONNECT", Some(b"websocket")).unwrap();
    assert_eq!(hs.accept, None);
    assert_eq!(hs.protocols, ["chat"]);
    assert!(r.clone().check_h2(b"CONNECT", Some(b"WebSocket")).is_ok());
    assert_eq!(
        r.clone().check_h2(b"GET", Some(b"websocket")),
        Err(HandshakeError::Method)
    );
    assert_eq!(
        r.clone().check_h2(b"CONNECT", None),
        Err(HandshakeError::NotUpgrade)
    );
    assert_eq!(
        r.check_h2(b"CONNECT", Some(b"h2")),
        Err(HandshakeError::NotUpgrade)
    );
    let mut r = UpgradeRequest::new();
    r.header(b"sec-websocket-version", b"12");
    assert_eq!(
        r.check_h2(b"CONNECT", Some(b"websocket")),
        Err(HandshakeError::UnsupportedVersion)
    );
}
