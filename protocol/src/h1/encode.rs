//! Response encoding: status line, header lines, Content-Length, chunked framing.
//! Appends to a caller-owned [`BytesMut`]; never allocates beyond growing it.

use super::Version;
use bytes::BytesMut;

/// The terminating chunk plus the empty trailer section.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// The canonical reason phrase for `status` (RFC 9110 §15), or `""` if unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        511 => "Network Authentication Required",
        _ => "",
    }
}

/// The whole `HTTP/1.1 {code} {reason}\r\n` line for the most common statuses.
fn precomputed_status_line(status: u16) -> Option<&'static [u8]> {
    macro_rules! line {
        ($code:literal, $reason:literal) => {
            Some(concat!("HTTP/1.1 ", $code, " ", $reason, "\r\n").as_bytes())
        };
    }
    match status {
        100 => line!("100", "Continue"),
        101 => line!("101", "Switching Protocols"),
        200 => line!("200", "OK"),
        201 => line!("201", "Created"),
        204 => line!("204", "No Content"),
        206 => line!("206", "Partial Content"),
        301 => line!("301", "Moved Permanently"),
        302 => line!("302", "Found"),
        304 => line!("304", "Not Modified"),
        400 => line!("400", "Bad Request"),
        401 => line!("401", "Unauthorized"),
        403 => line!("403", "Forbidden"),
        404 => line!("404", "Not Found"),
        405 => line!("405", "Method Not Allowed"),
        408 => line!("408", "Request Timeout"),
        413 => line!("413", "Content Too Large"),
        414 => line!("414", "URI Too Long"),
        415 => line!("415", "Unsupported Media Type"),
        426 => line!("426", "Upgrade Required"),
        431 => line!("431", "Request Header Fields Too Large"),
        500 => line!("500", "Internal Server Error"),
        501 => line!("501", "Not Implemented"),
        502 => line!("502", "Bad Gateway"),
        503 => line!("503", "Service Unavailable"),
        505 => line!("505", "HTTP Version Not Supported"),
        _ => None,
    }
}

/// Append `HTTP/1.1 200 OK\r\n` (the status line; the version is always `HTTP/1.1`
/// for HTTP/1.x servers per RFC 9110 §6.2, `version` is accepted for clients that
/// need `HTTP/1.0`). Common statuses use precomputed lines.
///
/// `Version::Http10` writes `HTTP/1.0`. An unknown status gets an empty reason phrase
/// (`HTTP/1.1 599 \r\n`, the space is required by RFC 9112 §4).
pub fn write_status_line(dst: &mut BytesMut, version: Version, status: u16) {
    let version = version.as_str().as_bytes();
    if let Some(line) = precomputed_status_line(status) {
        if version == b"HTTP/1.1" {
            dst.extend_from_slice(line);
        } else {
            dst.reserve(line.len());
            dst.extend_from_slice(version);
            dst.extend_from_slice(line.get(version.len()..).unwrap_or_default());
        }
        return;
    }
    let reason = reason_phrase(status).as_bytes();
    let mut code = itoa::Buffer::new();
    let code = code.format(status).as_bytes();
    dst.reserve(version.len() + code.len() + reason.len() + 4);
    dst.extend_from_slice(version);
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(code);
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(reason);
    dst.extend_from_slice(b"\r\n");
}

/// Append `name: value\r\n`.
pub fn write_header(dst: &mut BytesMut, name: &[u8], value: &[u8]) {
    dst.reserve(name.len() + value.len() + 4);
    dst.extend_from_slice(name);
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value);
    dst.extend_from_slice(b"\r\n");
}

/// Append `Content-Length: n\r\n`.
pub fn write_content_length(dst: &mut BytesMut, len: u64) {
    let mut n = itoa::Buffer::new();
    let n = n.format(len).as_bytes();
    dst.reserve(18 + n.len());
    dst.extend_from_slice(b"Content-Length: ");
    dst.extend_from_slice(n);
    dst.extend_from_slice(b"\r\n");
}

/// Append a chunk-size line (`{len:x}\r\n`) for a data chunk of `len` bytes (`len > 0`).
pub fn write_chunk_header(dst: &mut BytesMut, len: usize) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut line = [0u8; 2 * std::mem::size_of::<usize>() + 2];
    let mut i = line.len() - 2;
    let mut n = len;
    loop {
        i -= 1;
        line[i] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    let crlf = line.len() - 2;
    line[crlf..].copy_from_slice(b"\r\n");
    dst.extend_from_slice(&line[i..]);
}

/// Append one whole chunk: size line, data, CRLF. Empty `data` appends nothing.
pub fn write_chunk(dst: &mut BytesMut, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    dst.reserve(data.len() + 2 * std::mem::size_of::<usize>() + 4);
    write_chunk_header(dst, data.len());
    dst.extend_from_slice(data);
    dst.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(version: Version, code: u16) -> Vec<u8> {
        let mut b = BytesMut::new();
        write_status_line(&mut b, version, code);
        b.to_vec()
    }

    #[test]
    fn precomputed_lines_match_the_general_path() {
        for code in 100..1000 {
            let expected = format!("HTTP/1.1 {code} {}\r\n", reason_phrase(code));
            assert_eq!(status(Version::Http11, code), expected.as_bytes(), "{code}");
            let expected = format!("HTTP/1.0 {code} {}\r\n", reason_phrase(code));
            assert_eq!(status(Version::Http10, code), expected.as_bytes(), "{code}");
        }
    }

    #[test]
    fn status_lines() {
        assert_eq!(status(Version::Http11, 200), b"HTTP/1.1 200 OK\r\n");
        assert_eq!(status(Version::Http11, 418), b"HTTP/1.1 418 \r\n");
        assert_eq!(status(Version::Http11, 599), b"HTTP/1.1 599 \r\n");
        assert_eq!(status(Version::Http10, 404), b"HTTP/1.0 404 Not Found\r\n");
        assert_eq!(
            status(Version::Http11, 431),
            &b"HTTP/1.1 431 Request Header Fields Too Large\r\n"[..]
        );
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(413), "Content Too Large");
        assert_eq!(reason_phrase(422), "Unprocessable Content");
        assert_eq!(reason_phrase(308), "Permanent Redirect");
        assert_eq!(reason_phrase(299), "");
    }

    #[test]
    fn headers_and_lengths() {
        let mut b = BytesMut::new();
        write_header(&mut b, b"Server", b"peregrine");
        write_content_length(&mut b, 0);
        write_content_length(&mut b, u64::MAX);
        assert_eq!(
            &b[..],
            b"Server: peregrine\r\nContent-Length: 0\r\nContent-Length: 18446744073709551615\r\n"
        );
    }

    #[test]
    fn chunks() {
        let mut b = BytesMut::new();
        write_chunk_header(&mut b, 1);
        write_chunk_header(&mut b, 0xabc);
        write_chunk_header(&mut b, usize::MAX);
        assert_eq!(&b[..], b"1\r\nabc\r\nffffffffffffffff\r\n");
        let mut b = BytesMut::new();
        write_chunk(&mut b, b"");
        write_chunk(&mut b, b"hello world, 17 b");
        b.extend_from_slice(LAST_CHUNK);
        assert_eq!(&b[..], b"11\r\nhello world, 17 b\r\n0\r\n\r\n");
    }
}
