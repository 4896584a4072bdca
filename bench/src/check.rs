//! Endpoint checks before any load, as TechEmpower verifies an implementation: a tiny
//! blocking HTTP/1.1 client over `TcpStream` (Content-Length and chunked bodies) and
//! the rules of the plaintext and json test types — status 200, the Content-Type, the
//! exact body, `Server` and a current `Date` — plus 16 pipelined requests answered in
//! order.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::harness::days_from_civil;

/// The plaintext body.
pub const PLAINTEXT_BODY: &str = "Hello, World!";

/// One parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Names lowercased, values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Reads responses one after another from a stream.
pub struct ResponseReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> ResponseReader<R> {
    pub fn new(inner: R) -> Self {
        ResponseReader {
            inner,
            buf: Vec::new(),
        }
    }

    fn fill(&mut self) -> Result<(), String> {
        let mut chunk = [0u8; 8192];
        loop {
            return match self.inner.read(&mut chunk) {
                Ok(0) => Err("connection closed before a whole response".to_string()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    Ok(())
                }
                // A signal arrived during the read (seen once in CI-like runs): read again.
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(format!("read failed: {e}")),
            };
        }
    }

    /// Reads until `need` bytes are buffered.
    fn fill_to(&mut self, need: usize) -> Result<(), String> {
        while self.buf.len() < need {
            self.fill()?;
        }
        Ok(())
    }

    fn find(&mut self, from: usize, pat: &[u8]) -> Result<usize, String> {
        loop {
            if let Some(i) = self.buf[from.min(self.buf.len())..]
                .windows(pat.len())
                .position(|w| w == pat)
            {
                return Ok(from + i);
            }
            if self.buf.len() > 1 << 20 {
                return Err("response head larger than 1 MiB".to_string());
            }
            self.fill()?;
        }
    }

    /// The next response (its body framed by Content-Length or chunked encoding).
    pub fn read_response(&mut self) -> Result<Response, String> {
        let end = self.find(0, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let (status, headers) = parse_head(&head)?;
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map(|(_, v)| {
                v.parse::<usize>()
                    .map_err(|_| format!("bad Content-Length `{v}`"))
            })
            .transpose()?;
        let chunked = headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
        let body = if chunked {
            self.read_chunked()?
        } else if let Some(len) = length {
            self.fill_to(len)?;
            self.buf.drain(..len).collect()
        } else if status == 204 || status == 304 || status < 200 {
            Vec::new()
        } else {
            return Err("response has neither Content-Length nor chunked encoding".to_string());
        };
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let eol = self.find(0, b"\r\n")?;
            let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
            let size_text = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_text, 16)
                .map_err(|_| format!("bad chunk size line `{line}`"))?;
            self.buf.drain(..eol + 2);
            if size == 0 {
                // Trailers, then an empty line.
                loop {
                    let eol = self.find(0, b"\r\n")?;
                    self.buf.drain(..eol + 2);
                    if eol == 0 {
                        return Ok(body);
                    }
                }
            }
            self.fill_to(size + 2)?;
            body.extend_from_slice(&self.buf[..size]);
            if &self.buf[size..size + 2] != b"\r\n" {
                return Err("chunk data not followed by CRLF".to_string());
            }
            self.buf.drain(..size + 2);
        }
    }
}

/// Parses a status line and header fields.
pub fn parse_head(head: &str) -> Result<(u16, Vec<(String, String)>), String> {
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x status line: `{status_line}`"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| format!("bad status line `{status_line}`"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line `{line}`"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok((status, headers))
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into seconds since the epoch.
pub fn parse_http_date(s: &str) -> Option<i64> {
    if s.len() != 29 || s.get(3..5) != Some(", ") || !s.ends_with(" GMT") {
        return None;
    }
    let day: u32 = s.get(5..7)?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = s.get(8..11)?;
    let month = MONTHS.iter().position(|m| *m == name)? as u32 + 1;
    let year: i64 = s.get(12..16)?.parse().ok()?;
    let h: i64 = s.get(17..19)?.parse().ok()?;
    let m: i64 = s.get(20..22)?.parse().ok()?;
    let sec: i64 = s.get(23..25)?.parse().ok()?;
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + h * 3600 + m * 60 + sec)
}

/// The TechEmpower test types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TestType {
    Plaintext,
    Json,
}

impl TestType {
    pub fn name(self) -> &'static str {
        match self {
            TestType::Plaintext => "plaintext",
            TestType::Json => "json",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            TestType::Plaintext => "/plaintext",
            TestType::Json => "/json",
        }
    }

    pub fn parse(s: &str) -> Result<TestType, String> {
        match s.trim() {
            "plaintext" => Ok(TestType::Plaintext),
            "json" => Ok(TestType::Json),
            other => Err(format!("unknown test type `{other}` (plaintext or json)")),
        }
    }
}

/// Checks one response against the rules of `test`; returns every violation.
pub fn check_response(test: TestType, r: &Response, now: i64) -> Vec<String> {
    let mut problems = Vec::new();
    if r.status != 200 {
        problems.push(format!("status {} (expected 200)", r.status));
    }
    let (ctype, body_ok) = match test {
        TestType::Plaintext => ("text/plain", r.body == PLAINTEXT_BODY.as_bytes()),
        TestType::Json => (
            "application/json",
            serde_json::from_slice::<serde_json::Value>(&r.body).ok()
                == Some(serde_json::json!({"message": "Hello, World!"})),
        ),
    };
    match r.header("content-type") {
        Some(v) if v.to_ascii_lowercase().starts_with(ctype) => {}
        Some(v) => problems.push(format!("Content-Type `{v}` (expected {ctype})")),
        None => problems.push("no Content-Type".to_string()),
    }
    if !body_ok {
        problems.push(format!(
            "body `{}` is not the {} body",
            String::from_utf8_lossy(&r.body[..r.body.len().min(80)]),
            test.name()
        ));
    }
    if r.header("server").is_none() {
        problems.push("no Server header".to_string());
    }
    match r.header("date") {
        None => problems.push("no Date header".to_string()),
        Some(d) => match parse_http_date(d) {
            None => problems.push(format!("Date `{d}` is not an IMF-fixdate")),
            Some(t) if (t - now).abs() > 5 => {
                problems.push(format!("Date `{d}` is {} s off", t - now))
            }
            Some(_) => {}
        },
    }
    if let Some(len) = r.header("content-length") {
        if len.parse::<usize>().ok() != Some(r.body.len()) {
            problems.push(format!(
                "Content-Length {len} but {} body bytes",
                r.body.len()
            ));
        }
    }
    problems
}

/// The request TechEmpower's wrk sends for `test`.
pub fn request(test: TestType) -> String {
    let mut r = format!("GET {} HTTP/1.1\r\n", test.path());
    for h in crate::harness::techempower_headers(test == TestType::Json) {
        r.push_str(&h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r
}

/// Checks `test` on the server at `addr`: one request, then 16 pipelined on the same
/// connection. Returns the first response (for the report) or every problem found.
pub fn check_endpoint(addr: SocketAddr, test: TestType) -> Result<Response, Vec<String>> {
    let fail = |e: String| vec![e];
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| fail(e.to_string()))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let req = request(test);
    stream
        .write_all(req.as_bytes())
        .map_err(|e| fail(format!("write: {e}")))?;
    let mut reader = ResponseReader::new(stream.try_clone().map_err(|e| fail(e.to_string()))?);
    let first = reader.read_response().map_err(fail)?;
    let now = now_secs();
    let mut problems = check_response(test, &first, now);
    if problems.is_empty() {
        stream
            .write_all(req.repeat(16).as_bytes())
            .map_err(|e| fail(format!("pipelined write: {e}")))?;
        for i in 0..16 {
            match reader.read_response() {
                Ok(r) => {
                    let p = check_response(test, &r, now_secs());
                    if !p.is_empty() {
                        problems.extend(p.into_iter().map(|p| format!("pipelined #{i}: {p}")));
                        break;
                    }
                }
                Err(e) => {
                    problems.push(format!("pipelined #{i}: {e}"));
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(first)
    } else {
        Err(problems)
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(bytes: &[u8]) -> ResponseReader<&[u8]> {
        ResponseReader::new(bytes)
    }

    #[test]
    fn reads_length_and_chunked_responses() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nServer: x\r\n\r\nHello, World!\
HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n8;ext=1\r\n, World!\r\n0\r\nX: y\r\n\r\n\
HTTP/1.1 204 No Content\r\n\r\n";
        let mut r = reader(input);
        let a = r.read_response().unwrap();
        assert_eq!((a.status, a.body.as_slice()), (200, &b"Hello, World!"[..]));
        assert_eq!(a.header("SERVER"), Some("x"));
        let b = r.read_response().unwrap();
        assert_eq!(b.body, b"Hello, World!");
        assert_eq!(r.read_response().unwrap().status, 204);
        assert!(r.read_response().unwrap_err().contains("closed"));
    }

    #[test]
    fn rejects_garbage() {
        assert!(reader(b"SSH-2.0\r\n\r\n").read_response().is_err());
        assert!(reader(b"HTTP/1.1 abc\r\n\r\n").read_response().is_err());
        assert!(reader(b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")
            .read_response()
            .is_err());
        assert!(reader(b"HTTP/1.1 200 OK\r\n\r\nbody")
            .read_response()
            .is_err());
        assert!(
            reader(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .read_response()
                .is_err()
        );
    }

    #[test]
    fn http_dates() {
        assert_eq!(
            parse_http_date("Tue, 14 Nov 2023 22:13:20 GMT"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_http_date("Tue, 14 Nov 2023 22:13:20 UTC"), None);
        assert_eq!(parse_http_date("Tue, 14 Foo 2023 22:13:20 GMT"), None);
        assert_eq!(parse_http_date("2023-11-14"), None);
    }

    fn response(ctype: &str, body: &str) -> Response {
        Response {
            status: 200,
            headers: vec![
                ("content-type".into(), ctype.into()),
                ("server".into(), "x".into()),
                ("date".into(), "Tue, 14 Nov 2023 22:13:20 GMT".into()),
                ("content-length".into(), body.len().to_string()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn techempower_rules() {
        let now = 1_700_000_001;
        let ok = response("text/plain", "Hello, World!");
        assert!(check_response(TestType::Plaintext, &ok, now).is_empty());
        let json = response("application/json", r#"{ "message" : "Hello, World!" }"#);
        assert!(check_response(TestType::Json, &json, now).is_empty());
        assert_eq!(check_response(TestType::Json, &ok, now).len(), 2);
        let late = check_response(TestType::Plaintext, &ok, now + 60);
        assert!(late[0].contains("-61 s off"), "{late:?}");
        let mut bare = ok.clone();
        bare.headers.retain(|(n, _)| n == "content-type");
        bare.status = 500;
        let p = check_response(TestType::Plaintext, &bare, now);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(request(TestType::Json).contains("Accept: application/json,"));
    }
}
