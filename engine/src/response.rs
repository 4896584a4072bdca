//! The response a handler returns: a status, headers (`http` crate names and values), and
//! a [`Body`]. Headers live inline for the common case (up to two, no allocation);
//! `http::Response` converts both ways for code written against the `http` crate.

use http::{HeaderName, HeaderValue, StatusCode};
use smallvec::SmallVec;

use crate::body::Body;

type HeaderList = SmallVec<[(HeaderName, HeaderValue); 2]>;

/// An HTTP response.
#[derive(Debug, Default)]
pub struct Response {
    status: StatusCode,
    headers: HeaderList,
    body: Body,
}

impl Response {
    /// A 200 response with `body`.
    #[inline]
    pub fn new(body: impl Into<Body>) -> Self {
        Response {
            status: StatusCode::OK,
            headers: HeaderList::new(),
            body: body.into(),
        }
    }

    /// An empty response with `status`.
    #[inline]
    pub fn with_status(status: StatusCode) -> Self {
        Response {
            status,
            headers: HeaderList::new(),
            body: Body::empty(),
        }
    }

    /// The status code.
    #[inline]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Set the status code.
    #[inline]
    pub fn set_status(&mut self, status: StatusCode) {
        self.status = status;
    }

    /// Builder form of [`Response::append_header`].
    #[inline]
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// Add a header line (keeping any others of the same name).
    #[inline]
    pub fn append_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.push((name, value));
    }

    /// Set a header, replacing every line of the same name.
    pub fn insert_header(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value));
    }

    /// The first value of header `name`.
    pub fn header_value(&self, name: &HeaderName) -> Option<&HeaderValue> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The header lines in order.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        self.headers.iter().map(|(n, v)| (n, v))
    }

    /// The body.
    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The body, mutably.
    pub fn body_mut(&mut self) -> &mut Body {
        &mut self.body
    }

    pub(crate) fn into_parts(self) -> (StatusCode, HeaderList, Body) {
        (self.status, self.headers, self.body)
    }

    /// The status, the headers and the body, for writing the response from where it is.
    pub(crate) fn parts_mut(&mut self) -> (StatusCode, &HeaderList, &mut Body) {
        (self.status, &self.headers, &mut self.body)
    }
}

impl<B: Into<Body>> From<http::Response<B>> for Response {
    fn from(r: http::Response<B>) -> Self {
        let (parts, body) = r.into_parts();
        let mut headers = HeaderList::with_capacity(parts.headers.len());
        let mut last: Option<HeaderName> = None;
        for (name, value) in parts.headers {
            // `HeaderMap::into_iter` names only the first value of each header.
            if let Some(n) = name {
                last = Some(n);
            }
            if let Some(n) = &last {
                headers.push((n.clone(), value));
            }
        }
        Response {
            status: parts.status,
            headers,
            body: body.into(),
        }
    }
}

impl From<Response> for http::Response<Body> {
    fn from(r: Response) -> Self {
        let mut out = http::Response::new(r.body);
        *out.status_mut() = r.status;
        for (n, v) in r.headers {
            out.headers_mut().append(n, v);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CONTENT_TYPE, SET_COOKIE};

    #[test]
    fn converts_from_http_keeping_repeated_headers() {
        let r = http::Response::builder()
            .status(201)
            .header(SET_COOKIE, "a=1")
            .header(SET_COOKIE, "b=2")
            .header(CONTENT_TYPE, "text/plain")
            .body("hi")
            .unwrap();
        let r = Response::from(r);
        assert_eq!(r.status(), StatusCode::CREATED);
        let cookies: Vec<_> = r
            .headers()
            .filter(|(n, _)| **n == SET_COOKIE)
            .map(|(_, v)| v.to_str().unwrap().to_string())
            .collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
        assert_eq!(r.body().len(), Some(2));
    }

    #[test]
    fn insert_replaces() {
        let mut r = Response::new("x").header(CONTENT_TYPE, HeaderValue::from_static("a"));
        r.insert_header(CONTENT_TYPE, HeaderValue::from_static("b"));
        assert_eq!(r.headers().count(), 1);
        assert_eq!(r.header_value(&CONTENT_TYPE).unwrap(), "b");
    }
}
