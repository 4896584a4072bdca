//! The HTTP/2 request every stream sends, checked and HPACK-encoded once per run: method,
//! `:scheme`, `:path` and `:authority` (from the URL, or `-H Host`), the `-H` headers
//! and the body (with its `content-length`). The block uses static-table indices and
//! literals without indexing only (see [`super::hpack::encode`]), so it is the same on
//! every connection and only the stream id changes from one request to the next.

use super::hpack::encode::field;
use crate::request::parse_header;
use crate::url::{Endpoint, Target};

/// Headers HTTP/2 forbids in a request (RFC 9113 §8.2.2); `Host` becomes `:authority`.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// A token character (RFC 9110 §5.6.2): what a method or a field name is made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes a field value may hold: visible ASCII and beyond, space and tab.
fn is_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// One request, encoded.
#[derive(Debug, Clone)]
pub struct Template {
    block: Vec<u8>,
    body: Vec<u8>,
}

impl Template {
    /// The request for `target` with `method`, the `-H` `headers` and `body`; a message
    /// for the user when something cannot be sent over HTTP/2.
    pub fn new(
        target: &Target,
        method: &str,
        headers: &[String],
        body: Vec<u8>,
    ) -> Result<Template, String> {
        if method.is_empty() || !method.bytes().all(is_tchar) {
            return Err(format!("invalid method `{method}`"));
        }
        let mut authority = match &target.endpoint {
            Endpoint::Tcp { .. } => target.authority.clone(),
            Endpoint::Unix(_) => "localhost".to_string(),
        };
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut content_length = false;
        for h in headers {
            let (name, value) = parse_header(h)?;
            if name.eq_ignore_ascii_case("host") {
                authority = value.to_string();
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if CONNECTION_SPECIFIC.contains(&lower.as_str())
                || (lower == "te" && !value.eq_ignore_ascii_case("trailers"))
            {
                return Err(format!(
                    "header `{name}` cannot be sent over HTTP/2 (connection-specific)"
                ));
            }
            if lower.is_empty() || !lower.bytes().all(is_tchar) {
                return Err(format!("invalid header name in `{h}`"));
            }
            if !is_value(value) {
                return Err(format!("invalid header value in `{h}`"));
            }
            content_length |= lower == "content-length";
            fields.push((lower, value.to_string()));
        }
        if !body.is_empty() && !content_length {
            fields.push(("content-length".into(), body.len().to_string()));
        }
        if authority.is_empty()
            || !authority
                .bytes()
                .all(|b| b.is_ascii_graphic() && !b"/?#@".contains(&b))
            || !target.path.starts_with('/')
            || !is_value(&target.path)
        {
            return Err(format!(
                "cannot make an HTTP/2 request target of `{}://{authority}{}`",
                target.scheme.name(),
                target.path
            ));
        }
        let mut block = Vec::new();
        field(&mut block, b":method", method.as_bytes());
        field(&mut block, b":scheme", target.scheme.name().as_bytes());
        field(&mut block, b":path", target.path.as_bytes());
        field(&mut block, b":authority", authority.as_bytes());
        for (n, v) in &fields {
            field(&mut block, n.as_bytes(), v.as_bytes());
        }
        Ok(Template { block, body })
    }

    /// The request's header block (HPACK).
    #[inline]
    pub fn block(&self) -> &[u8] {
        &self.block
    }

    /// The request body (empty: the request ends with its headers).
    #[inline]
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::super::hpack::Decoder;
    use super::*;

    fn template(url: &str, headers: &[&str], body: &[u8]) -> Result<Template, String> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        Template::new(&Target::parse(url).unwrap(), "GET", &headers, body.to_vec())
    }

    fn fields(t: &Template) -> Vec<(String, String)> {
        let mut out = Vec::new();
        Decoder::default()
            .decode(t.block(), |n, v| {
                out.push((
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                ))
            })
            .unwrap();
        out
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn pseudo_headers_and_headers() {
        let t = template("https://127.0.0.1:8443/plaintext?x=1", &[], b"").unwrap();
        assert_eq!(
            fields(&t),
            pairs(&[
                (":method", "GET"),
                (":scheme", "https"),
                (":path", "/plaintext?x=1"),
                (":authority", "127.0.0.1:8443"),
            ])
        );
        assert!(t.body().is_empty());
        // GET, https: static indices.
        assert_eq!(&t.block()[..2], &[0x82, 0x87]);

        let t = template(
            "http://unix:/tmp/s.sock:/json",
            &["Host: example.com", "Accept: */*"],
            b"abc",
        )
        .unwrap();
        assert_eq!(
            fields(&t),
            pairs(&[
                (":method", "GET"),
                (":scheme", "http"),
                (":path", "/json"),
                (":authority", "example.com"),
                ("accept", "*/*"),
                ("content-length", "3"),
            ])
        );
        assert_eq!(t.body(), b"abc");
    }

    #[test]
    fn refuses_connection_headers() {
        for h in ["Connection: close", "Upgrade: x", "TE: gzip", "Bad Name: x"] {
            assert!(template("http://h/", &[h], b"").is_err(), "{h}");
        }
        assert!(template("http://h/", &["TE: trailers"], b"").is_ok());
        let t = Target::parse("http://h/").unwrap();
        assert!(Template::new(&t, "G T", &[], Vec::new()).is_err());
    }
}
