use super::*;

fn nego(offers: &str) -> Option<DeflateParams> {
    negotiate(offers.as_bytes(), &DeflateConfig::default())
}

#[test]
fn plain_offer() {
    let p = nego("permessage-deflate").unwrap();
    assert_eq!(p.response_header(), "permessage-deflate");
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (15, 15)
    );
    assert!(!p.server_no_context_takeover && !p.client_no_context_takeover);
}

#[test]
fn parameters() {
    let p = nego("permessage-deflate; client_max_window_bits; server_no_context_takeover").unwrap();
    assert_eq!(
        p.response_header(),
        "permessage-deflate; server_no_context_takeover"
    );
    let p = nego("Permessage-Deflate; Server_Max_Window_Bits=\"10\"; client_max_window_bits=12; client_no_context_takeover").unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (10, 12)
    );
    assert_eq!(
        p.response_header(),
        "permessage-deflate; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
    );
    // The server's own limits lower the client's window only when the client allows it.
    let config = DeflateConfig {
        server_max_window_bits: 11,
        client_max_window_bits: 9,
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        level: 1,
    };
    let p = negotiate(b"permessage-deflate; client_max_window_bits", &config).unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (11, 9)
    );
    assert_eq!(
        p.response_header(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9"
    );
    let p = negotiate(b"permessage-deflate", &config).unwrap();
    assert_eq!(
        (p.server_max_window_bits, p.client_max_window_bits),
        (11, 15)
    );
    assert_eq!(
        p.response_header(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
}

#[test]
fn first_acceptable_offer_wins() {
    let p = nego("x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8, permessage-deflate; foo=1, permessage-deflate; server_max_window_bits=9").unwrap();
    assert_eq!(
        p.response_header(),
        "permessage-deflate; server_max_window_bits=9"
    );
}

#[test]
fn declined_offers() {
    for offer in [
        "",
        "x-foo",
        "permessage-deflate; unknown",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=\"1 0\"",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate;",
        "permessage-deflate; =1",
    ] {
        assert_eq!(nego(offer), None, "{offer}");
    }
}

fn inflate_all(inf: &mut Inflater, input: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    inf.inflate(input, &mut out, limit)?;
    inf.finish(&mut out, limit)?;
    Ok(out)
}

#[test]
fn rfc7692_examples() {
    let p = nego("permessage-deflate").unwrap();
    let mut inf = Inflater::new(&p);
    // §7.2.3.1: "Hello" in one compressed frame.
    assert_eq!(
        inflate_all(&mut inf, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.2: the same again, referring to the first message (context taken over).
    assert_eq!(
        inflate_all(&mut inf, &[0xf2, 0x00, 0x11, 0x00, 0x00], 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.3: a stored (uncompressed) block.
    let stored = [
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(
        inflate_all(&mut Inflater::new(&p), &stored, 100).unwrap(),
        b"Hello"
    );
    // §7.2.3.4: BFINAL set; the next message starts a new stream.
    let mut inf = Inflater::new(&p);
    let fin = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
    assert_eq!(inflate_all(&mut inf, &fin, 100).unwrap(), b"Hello");
    assert_eq!(inflate_all(&mut inf, &fin, 100).unwrap(), b"Hello");
    // §7.2.3.5: two deflate blocks in one message.
    let two = [
        0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00,
    ];
    assert_eq!(
        inflate_all(&mut Inflater::new(&p), &two, 100).unwrap(),
        b"Hello"
    );

    // Our compressor produces the RFC's bytes for the first two.
    let mut def = Deflater::new(&p);
    let mut out = Vec::new();
    assert!(def.compress(b"Hello", &mut out));
    assert_eq!(out, [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
    out.clear();
    assert!(def.compress(b"Hello", &mut out));
    assert_eq!(out, [0xf2, 0x00, 0x11, 0x00, 0x00]);
}

#[test]
fn round_trips_with_each_context_mode_and_window() {
    let text: Vec<u8> = (0..20_000u32)
        .map(|i| b"abcdefghij klmnop"[(i * i % 17) as usize])
        .collect();
    for offer in [
        "permessage-deflate",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=9; client_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
    ] {
        let p = nego(offer).unwrap();
        // Server → client: our deflater, inflated with the client's view (window 15).
        let mut def = Deflater::new(&p);
        let mut inf = Inflater::new(&p.mirrored());
        for msg in [&text[..], b"", b"Hello", &text[..500]] {
            let mut z = Vec::new();
            assert!(def.compress(msg, &mut z));
            assert_eq!(
                inflate_all(&mut inf, &z, usize::MAX).unwrap(),
                msg,
                "{offer}"
            );
        }
    }
}

#[test]
fn client_reset_context_is_honoured() {
    // A client that takes context over: a later message refers to an earlier one.
    let p = nego("permessage-deflate").unwrap();
    let mut client = Deflater::new(&p);
    let mut inf = Inflater::new(&p);
    for _ in 0..3 {
        let mut z = Vec::new();
        assert!(client.compress(b"Hello Hello Hello", &mut z));
        assert_eq!(
            inflate_all(&mut inf, &z, 100).unwrap(),
            b"Hello Hello Hello"
        );
    }
}

#[test]
fn bomb_stops_at_the_limit() {
    let p = nego("permessage-deflate").unwrap();
    let zeros = vec![0u8; 10 << 20];
    let mut z = Vec::new();
    assert!(Deflater::new(&p).compress(&zeros, &mut z));
    assert!(z.len() < 20_000, "{}", z.len());
    let mut out = Vec::new();
    let r = Inflater::new(&p).inflate(&z, &mut out, 64 * 1024);
    assert_eq!(r, Err(DecodeError::MessageTooBig));
    assert!(out.capacity() <= 64 * 1024 + 1, "{}", out.capacity());
    // Exactly at the limit is fine.
    let mut inf = Inflater::new(&p);
    assert_eq!(
        inflate_all(&mut inf, &z, zeros.len()).map(|v| v.len()),
        Ok(zeros.len())
    );
}

#[test]
fn garbage_is_invalid_data() {
    let p = nego("permessage-deflate").unwrap();
    let mut out = Vec::new();
    let r = Inflater::new(&p).inflate(&[0xff, 0xff, 0xff, 0xff, 0xff], &mut out, 1000);
    assert_eq!(r, Err(DecodeError::InvalidCompressedData));
}
