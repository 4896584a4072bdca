//! Unit tests of the body decoders.

use super::*;
use crate::h1::error::BadRequest::*;

/// Decode `input` fed in pieces of `step` bytes (the decoder sees only the new bytes
/// plus whatever it left unconsumed). Returns the body, or the error.
fn decode_in_steps(input: &[u8], step: usize, max_trailer: usize) -> Result<Vec<u8>, ParseError> {
    let mut dec = ChunkedDecoder::new(max_trailer);
    let mut body = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        let r = dec.decode(&pending)?;
        assert!(r.data.end <= r.consumed);
        body.extend_from_slice(&pending[r.data.clone()]);
        pending.drain(..r.consumed);
        if r.done {
            assert!(dec.is_done());
            return Ok(body);
        }
        if r.consumed == 0 {
            if fed == input.len() {
                return Err(ParseError::BadRequest(InvalidChunkTerminator)); // truncated
            }
            let next = (fed + step).min(input.len());
            pending.extend_from_slice(&input[fed..next]);
            fed = next;
        }
    }
}

/// Decode in one piece and at every step size, checking all agree.
fn decode(input: &[u8]) -> Result<Vec<u8>, ParseError> {
    let whole = decode_in_steps(input, input.len().max(1), 1024);
    for step in 1..input.len().min(12) {
        assert_eq!(decode_in_steps(input, step, 1024), whole, "step {step}");
    }
    whole
}

fn bad(input: &[u8]) -> BadRequest {
    match decode(input) {
        Err(ParseError::BadRequest(b)) => b,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(input)),
    }
}

#[test]
fn length_decoder() {
    let mut d = LengthDecoder::new(5);
    assert_eq!(
        d.decode(b"abc"),
        Decoded {
            consumed: 3,
            data: 0..3,
            done: false
        }
    );
    assert_eq!(d.remaining(), 2);
    assert_eq!(
        d.decode(b"defgh"),
        Decoded {
            consumed: 2,
            data: 0..2,
            done: true
        }
    );
}

#[test]
fn simple_body() {
    assert_eq!(decode(b"5\r\nhello\r\n0\r\n\r\n").unwrap(), b"hello");
    assert_eq!(
        decode(b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n").unwrap(),
        b"hello world"
    );
    assert_eq!(decode(b"0\r\n\r\n").unwrap(), b"");
    assert_eq!(
        decode(b"A\r\n0123456789\r\n0\r\n\r\n").unwrap(),
        b"0123456789"
    );
    assert_eq!(
        decode(b"a\r\n0123456789\r\n000\r\n\r\n").unwrap(),
        b"0123456789"
    );
    assert_eq!(decode(b"0005\r\nhello\r\n0\r\n\r\n").unwrap(), b"hello");
}

#[test]
fn one_call_returns_data_and_done() {
    let mut d = ChunkedDecoder::new(0);
    let input = b"5\r\nhello\r\n0\r\n\r\nNEXT";
    let r = d.decode(input).unwrap();
    assert_eq!(&input[r.data.clone()], b"hello");
    assert!(r.done);
    assert_eq!(r.consumed, input.len() - 4);
    // Finished: nothing more is consumed.
    let r = d.decode(b"NEXT").unwrap();
    assert_eq!((r.consumed, r.done), (0, true));
}

#[test]
fn at_most_one_data_run_per_call() {
    let mut d = ChunkedDecoder::new(0);
    let input = b"1\r\na\r\n1\r\nb\r\n0\r\n\r\n";
    let r = d.decode(input).unwrap();
    assert_eq!(&input[r.data.clone()], b"a");
    assert!(!r.done);
    let rest = &input[r.consumed..];
    assert_eq!(rest, b"b\r\n0\r\n\r\n");
    let r = d.decode(rest).unwrap();
    assert_eq!(&rest[r.data.clone()], b"b");
    assert!(r.done);
}

#[test]
fn bare_lf_line_endings() {
    assert_eq!(decode(b"5\nhello\n0\n\n").unwrap(), b"hello");
    assert_eq!(decode(b"5;a=b\nhello\r\n0\n\r\n").unwrap(), b"hello");
}

#[test]
fn chunk_size_errors() {
    assert_eq!(bad(b"\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"x\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"-5\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"+5\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"0x5\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"5g\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b" 5\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"5\rhello\r\n0\r\n\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"10000000000000000\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"ffffffffffffffff0\r\n"), InvalidChunkSize);
    let zeros = format!("{}5\r\nhello\r\n0\r\n\r\n", "0".repeat(40));
    assert_eq!(bad(zeros.as_bytes()), InvalidChunkSize);
    // The largest size is fine (the data just never arrives).
    let mut d = ChunkedDecoder::new(0);
    let r = d.decode(b"ffffffffffffffff\r\nab").unwrap();
    assert_eq!(r.data, 18..20);
}

#[test]
fn chunk_extensions() {
    for ext in [
        ";a",
        ";a=b",
        ";a=b;c",
        ";a=b;c=d",
        " ;a",
        "\t; a",
        "; a = b ;c",
        ";a=\"quoted\"",
        ";a=\"with \\\"escape\\\" and ; = \t\"",
        ";a=\"obs-text \u{e9}\"",
        ";a=\"\"",
        ";a=\"x\" ;b=y",
        ";!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~",
    ] {
        let input = format!("5{ext}\r\nhello\r\n0{ext}\r\n\r\n");
        assert_eq!(decode(input.as_bytes()).unwrap(), b"hello", "{ext:?}");
    }
}

#[test]
fn bad_chunk_extensions() {
    for ext in [
        &b";"[..],
        b";=b",
        b";a=",
        b";a=b=c",
        b"; ",
        b";a ",
        b";a= ",
        b";a=b ",
        b" ",
        b";a b",
        b";a=\"unterminated",
        b";a=\"bad\x01\"",
        b";a=\"bad\\\x00\"",
        b";a=\"x\"y",
        b";a=b\x00",
        b";a=b\x7f",
        b";a\rb",
        b";a=b\rx",
        b";a=\"\n\"",
        b";a=(b)",
        b";a,b",
    ] {
        let mut input = b"5".to_vec();
        input.extend_from_slice(ext);
        input.extend_from_slice(b"\r\nhello\r\n0\r\n\r\n");
        assert_eq!(
            bad(&input),
            InvalidChunkExtension,
            "{:?}",
            String::from_utf8_lossy(ext)
        );
    }
}

/// CVE-2025-55315 style: a bare LF inside an extension must not end the size line
/// (a lenient parser would read a second, smuggled request out of the "data").
#[test]
fn bare_lf_inside_extension_is_rejected() {
    assert_eq!(bad(b"2;\nxx\r\n0\r\n\r\n"), InvalidChunkExtension);
    assert_eq!(bad(b"2;a=\"b\nxx\r\n0\r\n\r\n"), InvalidChunkExtension);
    assert_eq!(bad(b"1;a=b \nX\r\n0\r\n\r\n"), InvalidChunkExtension);
}

#[test]
fn extension_length_is_capped() {
    let at_cap = format!(
        "5;{}\r\nhello\r\n0\r\n\r\n",
        "a".repeat(MAX_CHUNK_EXTENSION - 1)
    );
    assert_eq!(decode(at_cap.as_bytes()).unwrap(), b"hello");
    let over = format!(
        "5;{}\r\nhello\r\n0\r\n\r\n",
        "a".repeat(MAX_CHUNK_EXTENSION)
    );
    assert_eq!(
        decode_in_steps(over.as_bytes(), 7, 0),
        Err(InvalidChunkExtension.into())
    );
    // The cap is per line: many lines each below it are fine.
    let mut many = String::new();
    for _ in 0..3 {
        many.push_str(&format!("1;{}\r\nx\r\n", "a".repeat(3000)));
    }
    many.push_str("0\r\n\r\n");
    assert_eq!(decode_in_steps(many.as_bytes(), 100, 0).unwrap(), b"xxx");
}

#[test]
fn chunk_terminator() {
    assert_eq!(bad(b"5\r\nhelloX\r\n0\r\n\r\n"), InvalidChunkTerminator);
    assert_eq!(bad(b"5\r\nhello\rX0\r\n\r\n"), InvalidChunkTerminator);
    assert_eq!(bad(b"5\r\nhello\r\r\n0\r\n\r\n"), InvalidChunkTerminator);
    assert_eq!(bad(b"3\r\nhello\r\n0\r\n\r\n"), InvalidChunkTerminator);
}

#[test]
fn trailers() {
    assert_eq!(
        decode(b"5\r\nhello\r\n0\r\nX-Sum: abc\r\nY:\r\nZ: a\tb \xff\r\n\r\n").unwrap(),
        b"hello"
    );
    assert_eq!(decode(b"0\nX: y\n\n").unwrap(), b"");
    for t in [
        &b" X: y\r\n"[..],
        b"\tX: y\r\n",
        b"X : y\r\n",
        b": y\r\n",
        b"X\r\n",
        b"X: a\x00b\r\n",
        b"X: a\x7f\r\n",
        b"X: a\rb\r\n",
        b"X(: y\r\n",
        b"\rX: y\r\n",
    ] {
        let mut input = b"0\r\n".to_vec();
        input.extend_from_slice(t);
        input.extend_from_slice(b"\r\n");
        assert_eq!(
            bad(&input),
            InvalidTrailers,
            "{:?}",
            String::from_utf8_lossy(t)
        );
    }
    assert_eq!(bad(b"0\r\n\rX"), InvalidTrailers);
}

#[test]
fn trailer_limit() {
    // "X: 12345\r\n" is 10 bytes; the final empty line is not counted.
    let input = b"0\r\nX: 12345\r\n\r\n";
    assert!(decode_in_steps(input, 3, 10).is_ok());
    assert_eq!(decode_in_steps(input, 3, 9), Err(InvalidTrailers.into()));
    assert!(decode_in_steps(b"0\r\n\r\n", 1, 0).is_ok());
}

#[test]
fn large_chunk_in_pieces() {
    let data = vec![b'z'; 100_000];
    let mut input = format!("{:x}\r\n", data.len()).into_bytes();
    input.extend_from_slice(&data);
    input.extend_from_slice(b"\r\n0\r\n\r\n");
    for step in [1, 7, 4096, 65536, input.len()] {
        assert_eq!(decode_in_steps(&input, step, 0).unwrap(), data);
    }
}

/// Found by proptest: an error right after data in the same call used to drop the data
/// (split input delivered it first). Now the data comes first, the error next call.
#[test]
fn error_after_data_is_deferred() {
    let mut d = ChunkedDecoder::new(0);
    let input = b"1\r\nZX";
    let r = d.decode(input).unwrap();
    assert_eq!(&input[r.data.clone()], b"Z");
    assert_eq!(r.consumed, 4);
    assert!(!r.done);
    assert_eq!(d.decode(b"X"), Err(InvalidChunkTerminator.into()));
    assert_eq!(decode(b"9\n000000000X"), Err(InvalidChunkTerminator.into()));
}

/// The whole-size-line fast path (up to 16 digits, CRLF) and the byte-at-a-time path
/// (anything else, or split input) agree.
#[test]
fn size_line_fast_and_slow_paths_agree() {
    for size in [
        "a",
        "A",
        "000000000000000a",
        "0000000000000000a",
        "00000000000000000000000a",
    ] {
        let input = format!("{size}\r\n0123456789\r\n0\r\n\r\n");
        assert_eq!(decode(input.as_bytes()).unwrap(), b"0123456789", "{size}");
    }
    assert_eq!(
        decode(b"a\n0123456789\r\n0\r\n\r\n").unwrap(),
        b"0123456789"
    );
    assert_eq!(bad(b"ffffffffffffffff0\r\n"), InvalidChunkSize);
    assert_eq!(bad(b"5\r\r\nhello\r\n0\r\n\r\n"), InvalidChunkSize);
}
