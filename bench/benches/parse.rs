//! Criterion benches of peregrine-protocol: request-head parsing (against httparse on
//! the same inputs, one group per input), response-head writing, chunked decoding (also
//! against httparse's chunk-size parser walking the same body) and encoding, and date
//! formatting. Every group reports throughput in bytes.
//!
//! `cargo bench -p peregrine-bench -- --warm-up-time 1 --measurement-time 2`

use bytes::BytesMut;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peregrine_protocol::date::format_http_date;
use peregrine_protocol::h1::decode::ChunkedDecoder;
use peregrine_protocol::h1::encode::{
    write_chunk, write_content_length, write_header, write_status_line, LAST_CHUNK,
};
use peregrine_protocol::h1::parse::{RequestHead, RequestParser};
use peregrine_protocol::h1::target::normalize_path;
use peregrine_protocol::h1::{Status, Version};

/// The TechEmpower plaintext request.
const TECHEMPOWER: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: server\r\n\
Accept: text/plain,text/html;q=0.9,application/xhtml+xml;q=0.9,application/xml;q=0.8,*/*;q=0.7\r\n\
Connection: keep-alive\r\n\
\r\n";

/// What a desktop browser sends for a page: ten headers, a query, a cookie.
const BROWSER: &[u8] = b"GET /articles/2024/parsing-http?page=2&sort=new HTTP/1.1\r\n\
Host: www.example.org\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n\
Sec-Fetch-Mode: navigate\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en;q=0.9,fr;q=0.8\r\n\
Cookie: session=5f2b8c1e9a7d4e3f0a1b; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\
\r\n";

/// A request with 50 headers (plus Host).
fn many_headers() -> Vec<u8> {
    let mut r = b"POST /api/v2/items HTTP/1.1\r\nHost: api.example.net\r\n".to_vec();
    for i in 0..50 {
        r.extend_from_slice(
            format!("X-Custom-Header-{i:02}: value-{i:02}-0123456789abcdef\r\n").as_bytes(),
        );
    }
    r.extend_from_slice(b"\r\n");
    r
}

/// Parse every request in `buf` with peregrine; returns the count.
fn peregrine_all(parser: &mut RequestParser, head: &mut RequestHead, buf: &[u8]) -> usize {
    let mut off = 0;
    let mut n = 0;
    while off < buf.len() {
        match parser.parse(&buf[off..], head) {
            Ok(Status::Complete(len)) => {
                off += len;
                n += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    n
}

/// Parse every request in `buf` with httparse; returns the count. The header array is
/// reused across calls, as peregrine reuses its header vector.
fn httparse_all<'b>(headers: &mut [httparse::Header<'b>; 64], buf: &'b [u8]) -> usize {
    let mut off = 0;
    let mut n = 0;
    while off < buf.len() {
        let mut req = httparse::Request::new(&mut headers[..]);
        match req.parse(&buf[off..]) {
            Ok(httparse::Status::Complete(len)) => {
                off += len;
                n += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    n
}

fn request_parsing(c: &mut Criterion) {
    let pipeline = TECHEMPOWER.repeat(16);
    let many = many_headers();
    let inputs: [(&str, &[u8]); 4] = [
        ("techempower", TECHEMPOWER),
        ("browser", BROWSER),
        ("pipeline16", &pipeline),
        ("headers50", &many),
    ];
    for (name, input) in inputs {
        let mut group = c.benchmark_group(format!("parse/{name}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut parser = RequestParser::default();
        let mut head = RequestHead::default();
        group.bench_function("peregrine", |b| {
            b.iter(|| peregrine_all(&mut parser, &mut head, black_box(input)))
        });
        let mut headers = [httparse::EMPTY_HEADER; 64];
        group.bench_function("httparse", |b| {
            b.iter(|| httparse_all(&mut headers, black_box(input)))
        });
        group.finish();
    }

    // A head arriving in two reads: the second call only scans the new bytes.
    let mut group = c.benchmark_group("parse/browser_split");
    group.throughput(Throughput::Bytes(BROWSER.len() as u64));
    let mut parser = RequestParser::default();
    let mut head = RequestHead::default();
    group.bench_function("peregrine", |b| {
        b.iter(|| {
            let half = BROWSER.len() / 2;
            let r = parser.parse(black_box(&BROWSER[..half]), &mut head);
            assert_eq!(r, Ok(Status::Partial));
            parser.parse(black_box(BROWSER), &mut head)
        })
    });
    group.finish();
}

fn path_normalisation(c: &mut Criterion) {
    let mut group = c.benchmark_group("normalize_path");
    for path in [&b"/plaintext"[..], b"/a/b/../c/%2e/d%20e/f%2Fg"] {
        group.throughput(Throughput::Bytes(path.len() as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(String::from_utf8_lossy(path)),
            path,
            |b, path| b.iter(|| normalize_path(black_box(path))),
        );
    }
    group.finish();
}

fn response_head(c: &mut Criterion) {
    let date = format_http_date(1_700_000_000);
    let mut dst = BytesMut::with_capacity(4096);
    let write = |dst: &mut BytesMut| {
        write_status_line(dst, Version::Http11, 200);
        write_header(dst, b"Server", b"peregrine");
        write_header(dst, b"Date", &date);
        write_header(dst, b"Content-Type", b"text/plain");
        write_content_length(dst, 13);
        dst.extend_from_slice(b"\r\n");
    };
    write(&mut dst);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(dst.len() as u64));
    group.bench_function("response_head", |b| {
        b.iter(|| {
            dst.clear();
            write(&mut dst);
            black_box(dst.len())
        })
    });
    group.bench_function("status_line_uncommon", |b| {
        b.iter(|| {
            dst.clear();
            write_status_line(&mut dst, Version::Http11, black_box(418));
            black_box(dst.len())
        })
    });
    group.finish();
}

fn chunked(c: &mut Criterion) {
    let body: Vec<u8> = (0..16 * 1024).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("chunked");
    group.throughput(Throughput::Bytes(body.len() as u64));
    for chunk in [64usize, 1024, 16 * 1024] {
        let mut encoded = BytesMut::new();
        for piece in body.chunks(chunk) {
            write_chunk(&mut encoded, piece);
        }
        encoded.extend_from_slice(LAST_CHUNK);
        let mut dst = BytesMut::with_capacity(encoded.len());
        group.bench_function(BenchmarkId::new("encode", chunk), |b| {
            b.iter(|| {
                dst.clear();
                for piece in black_box(&body).chunks(chunk) {
                    write_chunk(&mut dst, piece);
                }
                dst.extend_from_slice(LAST_CHUNK);
                black_box(dst.len())
            })
        });
        group.bench_function(BenchmarkId::new("decode_httparse", chunk), |b| {
            b.iter(|| httparse_chunked(black_box(&encoded[..])))
        });
        group.bench_function(BenchmarkId::new("decode", chunk), |b| {
            b.iter(|| {
                let mut dec = ChunkedDecoder::new(0);
                let input = black_box(&encoded[..]);
                let mut off = 0;
                let mut total = 0;
                loop {
                    let r = dec.decode(&input[off..]).expect("valid");
                    total += r.data.len();
                    off += r.consumed;
                    if r.done {
                        break total;
                    }
                }
            })
        });
    }
    group.finish();
}

/// Walks a chunked body with httparse's chunk-size parser (the framing only: sizes,
/// extensions, CRLFs; the data is skipped, as peregrine's decoder returns ranges).
fn httparse_chunked(input: &[u8]) -> usize {
    let mut off = 0;
    let mut total = 0;
    loop {
        match httparse::parse_chunk_size(&input[off..]) {
            Ok(httparse::Status::Complete((used, size))) => {
                off += used;
                if size == 0 {
                    // The final CRLF (no trailers here).
                    assert_eq!(&input[off..off + 2], b"\r\n");
                    return total;
                }
                let size = size as usize;
                total += size;
                off += size;
                assert_eq!(&input[off..off + 2], b"\r\n");
                off += 2;
            }
            other => panic!("{other:?}"),
        }
    }
}

fn date(c: &mut Criterion) {
    let mut group = c.benchmark_group("date");
    group.throughput(Throughput::Bytes(format_http_date(0).len() as u64));
    group.bench_function("format_http_date", |b| {
        b.iter(|| format_http_date(black_box(1_700_000_000)))
    });
    group.finish();
}

criterion_group!(
    benches,
    request_parsing,
    path_normalisation,
    response_head,
    chunked,
    date
);
criterion_main!(benches);
