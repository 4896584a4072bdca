//! The HTTP/2 request every stream sends, checked and built once: method, an absolute
//! URI (its scheme and authority become `:scheme` and `:authority`), the `-H` headers and
//! the body. Each request is a cheap clone of it (the URI's parts are shared bytes; an
//! empty header map allocates nothing).

use crate::request::parse_header;
use crate::url::{Endpoint, Target};
use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_LENGTH};
use http::{HeaderMap, Method, Request, Uri};

/// Headers HTTP/2 forbids in a request (RFC 9113 §8.2.2); `Host` becomes `:authority`.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// One request, ready to clone.
#[derive(Debug, Clone)]
pub struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
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
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| format!("invalid method `{method}`"))?;
        let mut authority = match &target.endpoint {
            Endpoint::Tcp { .. } => target.authority.clone(),
            Endpoint::Unix(_) => "localhost".to_string(),
        };
        let mut map = HeaderMap::new();
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
            let name = HeaderName::from_bytes(lower.as_bytes())
                .map_err(|_| format!("invalid header name in `{h}`"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid header value in `{h}`"))?;
            map.append(name, value);
        }
        if !body.is_empty() && !map.contains_key(CONTENT_LENGTH) {
            map.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        let uri = format!("{}://{authority}{}", target.scheme.name(), target.path);
        let uri: Uri = uri
            .parse()
            .map_err(|e| format!("cannot make an HTTP/2 request target of `{uri}`: {e}"))?;
        Ok(Template {
            method,
            uri,
            headers: map,
            body: Bytes::from(body),
        })
    }

    /// A request to send (its body, if any, is [`Template::body`]).
    #[inline]
    pub fn request(&self) -> Request<()> {
        let mut req = Request::new(());
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.uri.clone();
        if !self.headers.is_empty() {
            *req.headers_mut() = self.headers.clone();
        }
        req
    }

    /// The request body (empty: the request ends with its headers).
    #[inline]
    pub fn body(&self) -> &Bytes {
        &self.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(url: &str, headers: &[&str], body: &[u8]) -> Result<Template, String> {
        let headers: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
        Template::new(&Target::parse(url).unwrap(), "GET", &headers, body.to_vec())
    }

    #[test]
    fn uri_and_headers() {
        let t = template("https://127.0.0.1:8443/plaintext?x=1", &[], b"").unwrap();
        let r = t.request();
        assert_eq!(r.uri().scheme_str(), Some("https"));
        assert_eq!(r.uri().authority().unwrap().as_str(), "127.0.0.1:8443");
        assert_eq!(r.uri().path_and_query().unwrap().as_str(), "/plaintext?x=1");
        assert!(r.headers().is_empty());
        assert!(t.body().is_empty());

        let t = template(
            "http://unix:/tmp/s.sock:/json",
            &["Host: example.com", "Accept: */*"],
            b"abc",
        )
        .unwrap();
        let r = t.request();
        assert_eq!(r.uri().to_string(), "http://example.com/json");
        assert_eq!(r.headers()["accept"], "*/*");
        assert_eq!(r.headers()["content-length"], "3");
        assert!(!r.headers().contains_key("host"));
    }

    #[test]
    fn refuses_connection_headers() {
        for h in ["Connection: close", "Upgrade: x", "TE: gzip", "Bad Name: x"] {
            assert!(template("http://h/", &[h], b"").is_err(), "{h}");
        }
        assert!(template("http://h/", &["TE: trailers"], b"").is_ok());
    }
}
