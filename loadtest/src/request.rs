//! Rendering the request once: method, target, headers and body as wire bytes, which
//! every connection then reuses (repeated `pipeline` times for a pipelined batch).
//! [`parse_header`] checks a `-H` header (HTTP/2 uses it too).

/// Split and check a `Name: value` header: the name a token, the value free of control
/// characters (surrounding blanks trimmed).
pub fn parse_header(h: &str) -> Result<(&str, &str), String> {
    let (name, value) = h
        .split_once(':')
        .ok_or_else(|| format!("invalid header `{h}`: expected `Name: value`"))?;
    let value = value.trim_matches([' ', '\t']);
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(format!("invalid header name in `{h}`"));
    }
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(format!("invalid header value in `{h}`"));
    }
    Ok((name, value))
}

/// Build the bytes of one request.
///
/// `Host` is set from the URL unless given in `headers`; `Content-Length` is added for a
/// body unless given; `Connection: close` is added when `keep_alive` is false.
pub fn render(
    method: &str,
    path: &str,
    authority: &str,
    headers: &[String],
    body: &[u8],
    keep_alive: bool,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(128 + body.len());
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");

    let mut has_host = false;
    let mut has_length = false;
    let mut lines = Vec::with_capacity(headers.len());
    for h in headers {
        let (name, value) = parse_header(h)?;
        if name.eq_ignore_ascii_case("host") {
            has_host = true;
        }
        if name.eq_ignore_ascii_case("content-length") {
            has_length = true;
        }
        if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err("Transfer-Encoding request headers are not supported; \
                        the body is sent with Content-Length"
                .into());
        }
        lines.push((name, value));
    }
    if !has_host {
        out.extend_from_slice(b"Host: ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in lines {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() && !has_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_get() {
        let r = render("GET", "/plaintext", "127.0.0.1:8080", &[], b"", true).unwrap();
        assert_eq!(
            r,
            b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"
        );
    }

    #[test]
    fn headers_body_and_close() {
        let h = vec![
            "Accept:  text/plain ".to_string(),
            "host: other".to_string(),
        ];
        let r = render("POST", "/echo", "h:1", &h, b"abc", false).unwrap();
        assert_eq!(
            r,
            &b"POST /echo HTTP/1.1\r\nAccept: text/plain\r\nhost: other\r\n\
               Content-Length: 3\r\nConnection: close\r\n\r\nabc"[..]
        );
    }

    #[test]
    fn bad_headers() {
        for h in [
            "NoColon",
            ": v",
            "Bad Name: v",
            "X: a\u{1}b",
            "Transfer-Encoding: chunked",
        ] {
            assert!(
                render("GET", "/", "h", &[h.to_string()], b"", true).is_err(),
                "{h}"
            );
        }
    }
}
