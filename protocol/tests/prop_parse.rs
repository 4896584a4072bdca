//! Property tests of the request-head parser: split input parses like whole input,
//! serialize-then-parse round trips, and arbitrary bytes never panic.

use peregrine_protocol::h1::parse::{Limits, RequestHead, RequestParser, TargetForm};
use peregrine_protocol::h1::{BodyFraming, ParseError, Status, Version};
use proptest::prelude::*;

/// Outcome of parsing: `Some((head, consumed))` when complete, `None` when partial.
type Outcome = Result<Option<(RequestHead, usize)>, ParseError>;

fn parse_whole(input: &[u8], limits: Limits) -> Outcome {
    let mut head = RequestHead::default();
    match RequestParser::new(limits).parse(input, &mut head)? {
        Status::Complete(n) => Ok(Some((head, n))),
        Status::Partial => Ok(None),
    }
}

/// Feed `input` growing through the cut points (taken modulo its length), calling the
/// parser with the whole buffer so far after each piece, as the engine does.
fn parse_split(input: &[u8], cuts: &[usize], limits: Limits) -> Outcome {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut parser = RequestParser::new(limits);
    let mut head = RequestHead::default();
    for p in points {
        if let Status::Complete(n) = parser.parse(&input[..p], &mut head)? {
            return Ok(Some((head, n)));
        }
    }
    Ok(None)
}

/// A request to serialize, with what the parser must make of it.
#[derive(Debug, Clone)]
struct Req {
    leading: Vec<&'static str>,
    method: String,
    path: String,
    query: Option<String>,
    version: Version,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// Per line (request line, each header, final empty line): CRLF or bare LF.
    crlf: Vec<bool>,
    framing: BodyFraming,
    keep_alive: bool,
    host: Option<Vec<u8>>,
}

impl Req {
    fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }

    fn serialize(&self) -> Vec<u8> {
        let eol = |i: usize| -> &[u8] {
            if self.crlf.get(i).copied().unwrap_or(true) {
                b"\r\n"
            } else {
                b"\n"
            }
        };
        let mut out = Vec::new();
        for l in &self.leading {
            out.extend_from_slice(l.as_bytes());
        }
        out.extend_from_slice(
            format!(
                "{} {} {}",
                self.method,
                self.target(),
                self.version.as_str()
            )
            .as_bytes(),
        );
        out.extend_from_slice(eol(0));
        for (i, (name, value)) in self.headers.iter().enumerate() {
            out.extend_from_slice(name);
            out.extend_from_slice(b":");
            if i % 2 == 0 {
                out.extend_from_slice(b" ");
            }
            out.extend_from_slice(value);
            if i % 3 == 1 {
                out.extend_from_slice(b" \t");
            }
            out.extend_from_slice(eol(i + 1));
        }
        out.extend_from_slice(eol(self.headers.len() + 1));
        out
    }
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_string()),
        Just("POST".to_string()),
        Just("PUT".to_string()),
        "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}"
            .prop_filter("CONNECT needs authority-form", |m| m != "CONNECT"
                && m != "OPTIONS"),
    ]
}

fn header_value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![
            8 => 0x21u8..=0x7e,
            1 => 0x80u8..=0xff,
            1 => Just(b' '),
            1 => Just(b'\t'),
        ],
        0..40,
    )
    .prop_map(|mut v| {
        while matches!(v.last(), Some(b' ' | b'\t')) {
            v.pop();
        }
        while matches!(v.first(), Some(b' ' | b'\t')) {
            v.remove(0);
        }
        v
    })
}

fn other_header() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    ("X-[A-Za-z0-9!#$%&'*+.^_`|~-]{0,16}", header_value())
        .prop_map(|(name, value)| (name.into_bytes(), value))
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    None,
    Length(u64),
    Chunked,
}

fn request() -> impl Strategy<Value = Req> {
    (
        prop::collection::vec(prop_oneof![Just("\r\n"), Just("\n")], 0..3),
        method(),
        "(/[A-Za-z0-9._~!$&'()*+,;=:@-]{0,12}){1,5}",
        prop::option::of(
            "[A-Za-z0-9=&/?:@._~%-]{0,20}".prop_filter("no %00", |q| !q.contains("%00")),
        ),
        prop_oneof![Just(Version::Http11), Just(Version::Http10)],
        prop::option::of("[a-z0-9][a-z0-9.-]{0,15}(:[0-9]{1,5})?"),
        prop::collection::vec(other_header(), 0..12),
        prop_oneof![
            Just(Framing::None),
            any::<u64>().prop_map(Framing::Length),
            Just(Framing::Chunked)
        ],
        prop_oneof![
            Just(None),
            Just(Some("close")),
            Just(Some("keep-alive")),
            Just(Some("Keep-Alive, foo")),
            Just(Some("x, Close"))
        ],
        prop::collection::vec(any::<bool>(), 20),
        any::<prop::sample::Index>(),
    )
        .prop_map(
            |(
                leading,
                method,
                path,
                query,
                version,
                host,
                mut headers,
                framing,
                conn,
                crlf,
                at,
            )| {
                let host = match (version, host) {
                    (Version::Http11, None) => Some("localhost".to_string()),
                    (_, h) => h,
                };
                let mut specials: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
                if let Some(h) = &host {
                    specials.push((b"Host".to_vec(), h.clone().into_bytes()));
                }
                let framing = match (framing, version) {
                    (Framing::Length(n), _) => {
                        specials.push((b"content-length".to_vec(), n.to_string().into_bytes()));
                        BodyFraming::Length(n)
                    }
                    (Framing::Chunked, Version::Http11) => {
                        specials.push((b"Transfer-Encoding".to_vec(), b"gzip, Chunked".to_vec()));
                        BodyFraming::Chunked
                    }
                    _ => BodyFraming::Empty,
                };
                if let Some(c) = conn {
                    specials.push((b"Connection".to_vec(), c.as_bytes().to_vec()));
                }
                let close = conn.is_some_and(|c| c.to_ascii_lowercase().contains("close"));
                let ka_token = conn.is_some_and(|c| c.to_ascii_lowercase().contains("keep-alive"));
                let keep_alive = !close && (version == Version::Http11 || ka_token);
                for (i, s) in specials.into_iter().enumerate() {
                    let pos = (at.index(headers.len() + 1) + i) % (headers.len() + 1);
                    headers.insert(pos, s);
                }
                Req {
                    leading,
                    method,
                    path,
                    query,
                    version,
                    headers,
                    crlf,
                    framing,
                    keep_alive,
                    host: host.map(String::into_bytes),
                }
            },
        )
}

/// A valid request, a valid request with a byte changed / inserted / removed, or noise.
fn mangled_input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        request().prop_map(|r| r.serialize()),
        (request(), any::<prop::sample::Index>(), any::<u8>(), 0..3u8).prop_map(
            |(r, at, byte, op)| {
                let mut v = r.serialize();
                let i = at.index(v.len());
                match op {
                    0 => v[i] = byte,
                    1 => v.insert(i, byte),
                    _ => {
                        v.remove(i);
                    }
                }
                v
            }
        ),
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(
            prop_oneof![
                Just(b'\r'),
                Just(b'\n'),
                Just(b' '),
                Just(b':'),
                Just(b'/'),
                Just(b'G'),
                Just(b'H'),
                Just(0x16),
                Just(0x03),
                any::<u8>()
            ],
            0..200
        ),
    ]
}

/// 512 cases by default; set `PROPTEST_CASES` for a longer run.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    /// Any valid request parses the same in one piece and split at arbitrary points.
    #[test]
    fn split_equals_whole(req in request(), cuts in prop::collection::vec(any::<usize>(), 0..12)) {
        let input = req.serialize();
        let whole = parse_whole(&input, Limits::default());
        prop_assert!(matches!(whole, Ok(Some(_))), "{:?} for {:?}", whole, String::from_utf8_lossy(&input));
        prop_assert_eq!(parse_split(&input, &cuts, Limits::default()), whole);
    }

    /// Serialize, parse, and get back what was serialized.
    #[test]
    fn round_trip(req in request(), body in prop::collection::vec(any::<u8>(), 0..20)) {
        let mut input = req.serialize();
        let head_len = input.len();
        input.extend_from_slice(&body);
        let (head, n) = parse_whole(&input, Limits::default()).unwrap().unwrap();
        prop_assert_eq!(n, head_len);
        prop_assert_eq!(head.head_len, head_len);
        prop_assert_eq!(head.method.of(&input), req.method.as_bytes());
        let target = req.target();
        prop_assert_eq!(head.target.of(&input), target.as_bytes());
        prop_assert_eq!(head.target_form, TargetForm::Origin);
        prop_assert_eq!(head.path.of(&input), req.path.as_bytes());
        prop_assert_eq!(head.query.map(|q| q.of(&input).to_vec()), req.query.clone().map(String::into_bytes));
        prop_assert_eq!(head.version, req.version);
        prop_assert_eq!(head.headers.len(), req.headers.len());
        for (h, (name, value)) in head.headers.iter().zip(&req.headers) {
            prop_assert_eq!(h.name.of(&input), &name[..]);
            prop_assert_eq!(h.value.of(&input), &value[..]);
        }
        prop_assert_eq!(head.host.map(|h| h.of(&input).to_vec()), req.host.clone());
        prop_assert_eq!(head.framing, req.framing);
        prop_assert_eq!(head.keep_alive, req.keep_alive);
    }

    /// Arbitrary bytes, arbitrarily split: no panic, and the same outcome either way.
    #[test]
    fn arbitrary_bytes(input in mangled_input(), cuts in prop::collection::vec(any::<usize>(), 0..8)) {
        let whole = parse_whole(&input, Limits::default());
        prop_assert_eq!(parse_split(&input, &cuts, Limits::default()), whole.clone());
        if let Ok(Some((head, n))) = &whole {
            prop_assert!(*n <= input.len());
            prop_assert_eq!(head.head_len, *n);
            for h in &head.headers {
                prop_assert!(h.value.end as usize <= *n);
            }
        }
    }

    /// Tight limits: limit errors on partial input agree with whole input.
    #[test]
    fn arbitrary_bytes_small_limits(
        input in mangled_input(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        line in 0usize..40,
        total in 0usize..80,
        count in 0usize..6,
    ) {
        let limits = Limits { max_request_line: line, max_headers_total: total, max_header_count: count };
        let whole = parse_whole(&input, limits);
        prop_assert_eq!(parse_split(&input, &cuts, limits), whole);
    }
}
