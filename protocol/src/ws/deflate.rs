//! permessage-deflate (RFC 7692): negotiation, and the per-message compressor and
//! decompressor.
//!
//! [`negotiate`] reads the client's `Sec-WebSocket-Extensions` offers, takes the first
//! permessage-deflate offer it can honour under the server's [`DeflateConfig`] and
//! returns the [`DeflateParams`] both sides then use; [`DeflateParams::response_header`]
//! is the value to send back. [`Deflater`] and [`Inflater`] do the work (raw deflate,
//! each message ending with a sync flush whose `00 00 ff ff` tail is not sent).
//!
//! # Memory per connection
//!
//! Both are created on first use. zlib's (and zlib-rs's) figures for a window of `W`
//! bits: the compressor about `4·2^W + 128 KiB` (window, chain table, hash table at
//! memLevel 8, pending buffer) — 256 KiB at `W = 15`, 132 KiB at `W = 9`; the
//! decompressor `2^W` bytes of window plus about 7 KiB of state — 39 KiB at 15.
//! A server bounds its share with [`DeflateConfig::server_max_window_bits`] and
//! [`DeflateConfig::client_max_window_bits`] (the latter only binds clients that offer
//! `client_max_window_bits`; otherwise the decompressor needs the full 32 KiB window).
//! Inflated output is bounded by the decoder's `max_message_size`.
//!
//! flate2 accepts window bits 9 to 15 only: an offer demanding `server_max_window_bits=8`
//! is declined (the server cannot promise it), and a client held to 8 bits is inflated
//! with a 9-bit window (a larger window reads any smaller one's output).

use super::error::DecodeError;
use crate::h1::tokens::{is_tchar, trim_ows};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What the server is willing to agree to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The largest window the server compresses with, 9 to 15 (an offer's
    /// `server_max_window_bits` may lower it). Default 15.
    pub server_max_window_bits: u8,
    /// The largest window asked of a client that offers `client_max_window_bits`, 8 to
    /// 15. Default 15.
    pub client_max_window_bits: u8,
    /// Compress every message on its own (sends `server_no_context_takeover` even when
    /// not asked): worse compression, no history kept between messages. Default false.
    pub server_no_context_takeover: bool,
    /// Ask the client to compress every message on its own (`client_no_context_takeover`).
    /// Default false.
    pub client_no_context_takeover: bool,
    /// zlib compression level, 0 (stored) to 9 (levels above 9 count as 9). Default 6;
    /// 1 trades some ratio for much less CPU on chatty connections.
    pub level: u32,
}

impl Default for DeflateConfig {
    /// Full windows, context takeover both ways, level 6.
    fn default() -> Self {
        DeflateConfig {
            server_max_window_bits: 15,
            client_max_window_bits: 15,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            level: 6,
        }
    }
}

/// The agreed parameters of one connection's permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (so the server may reset its
    /// decompressor).
    pub client_no_context_takeover: bool,
    /// The server's compression window, 9 to 15.
    pub server_max_window_bits: u8,
    /// The client's compression window, 8 to 15.
    pub client_max_window_bits: u8,
    /// Whether the offer held `server_max_window_bits` (then the response states it).
    server_bits_offered: bool,
    /// Whether the offer held `client_max_window_bits` (only then may the response
    /// state it).
    client_bits_offered: bool,
    /// The compression level (from the config; not on the wire).
    pub level: u32,
}

impl DeflateParams {
    /// The same agreement seen from the client: client and server parameters swapped
    /// (a window of 8 bits becomes 9, the smallest flate2 compresses with). For tests and
    /// tools that play the client: a [`Decoder`](super::Decoder) with the mirrored
    /// parameters reads what an [`Encoder`](super::Encoder) with these wrote, and a
    /// [`Deflater`] with them compresses as the client may.
    pub fn mirrored(&self) -> DeflateParams {
        DeflateParams {
            server_no_context_takeover: self.client_no_context_takeover,
            client_no_context_takeover: self.server_no_context_takeover,
            server_max_window_bits: self.client_max_window_bits.max(9),
            client_max_window_bits: self.server_max_window_bits,
            server_bits_offered: self.client_bits_offered,
            client_bits_offered: self.server_bits_offered,
            level: self.level,
        }
    }

    /// The `Sec-WebSocket-Extensions` response value, e.g.
    /// `permessage-deflate; server_no_context_takeover; client_max_window_bits=10`.
    pub fn response_header(&self) -> String {
        let mut s = String::from("permessage-deflate");
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if self.server_bits_offered {
            s.push_str(&format!(
                "; server_max_window_bits={}",
                self.server_max_window_bits
            ));
        }
        if self.client_bits_offered && self.client_max_window_bits < 15 {
            s.push_str(&format!(
                "; client_max_window_bits={}",
                self.client_max_window_bits
            ));
        }
        s
    }
}

/// One parameter of an offer: name, value (quotes removed).
type Param<'a> = (&'a [u8], Option<&'a [u8]>);

/// Parse `token [ "=" ( token | quoted-string ) ]`; `None` when malformed. A quoted value
/// must itself be a token (RFC 6455 §9.1); escapes are not needed for that and refused.
fn param(p: &[u8]) -> Option<Param<'_>> {
    let token = |t: &[u8]| !t.is_empty() && t.iter().all(|&b| is_tchar(b));
    let (name, value) = match p.iter().position(|&b| b == b'=') {
        None => (trim_ows(p), None),
        Some(i) => {
            let v = trim_ows(&p[i + 1..]);
            let v = match v {
                [b'"', inner @ .., b'"'] => inner,
                _ => v,
            };
            (trim_ows(&p[..i]), Some(v))
        }
    };
    (token(name) && value.is_none_or(token)).then_some((name, value))
}

/// A window-bits value: a decimal 8 to 15 without leading zeros.
fn window_bits(v: &[u8]) -> Option<u8> {
    match v {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

/// The parameters of one permessage-deflate offer, if it is valid (RFC 7692 §5: no
/// unknown or repeated parameter, every value in range).
#[derive(Default)]
struct Offer {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    /// `Some(None)`: offered without a value.
    client_max_window_bits: Option<Option<u8>>,
}

fn parse_offer<'a>(params: impl Iterator<Item = &'a [u8]>) -> Option<Offer> {
    let mut o = Offer::default();
    let mut seen = [false; 4];
    for p in params {
        let (name, value) = param(p)?;
        let lower = name.to_ascii_lowercase();
        let i = match (lower.as_slice(), value) {
            (b"server_no_context_takeover", None) => {
                o.server_no_context_takeover = true;
                0
            }
            (b"client_no_context_takeover", None) => {
                o.client_no_context_takeover = true;
                1
            }
            (b"server_max_window_bits", Some(v)) => {
                o.server_max_window_bits = Some(window_bits(v)?);
                2
            }
            (b"client_max_window_bits", v) => {
                o.client_max_window_bits = Some(match v {
                    None => None,
                    Some(v) => Some(window_bits(v)?),
                });
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[i], true) {
            return None;
        }
    }
    Some(o)
}

/// Pick the first permessage-deflate offer in `offers` (the request's
/// `Sec-WebSocket-Extensions` values joined with `,`, as in
/// [`Handshake::extensions`](super::Handshake::extensions)) that the server can accept
/// under `config`. `None`: no offer, or none acceptable — answer without the extension.
/// Other extensions are ignored; malformed offers are declined, never an error.
pub fn negotiate(offers: &[u8], config: &DeflateConfig) -> Option<DeflateParams> {
    let server_cap = config.server_max_window_bits.clamp(9, 15);
    let client_cap = config.client_max_window_bits.clamp(8, 15);
    for ext in offers.split(|&b| b == b',') {
        let mut parts = ext.split(|&b| b == b';');
        let name = trim_ows(parts.next().unwrap_or_default());
        if !name.eq_ignore_ascii_case(b"permessage-deflate") {
            continue;
        }
        let Some(offer) = parse_offer(parts) else {
            continue;
        };
        let server_bits = offer.server_max_window_bits.unwrap_or(15).min(server_cap);
        if server_bits < 9 {
            continue; // server_max_window_bits=8: flate2 cannot compress within it.
        }
        let client_bits = match offer.client_max_window_bits {
            None => 15,
            Some(v) => v.unwrap_or(15).min(client_cap),
        };
        return Some(DeflateParams {
            server_no_context_takeover: offer.server_no_context_takeover
                || config.server_no_context_takeover,
            client_no_context_takeover: offer.client_no_context_takeover
                || config.client_no_context_takeover,
            server_max_window_bits: server_bits,
            client_max_window_bits: client_bits,
            server_bits_offered: offer.server_max_window_bits.is_some(),
            client_bits_offered: offer.client_max_window_bits.is_some(),
            level: config.level.min(9),
        });
    }
    None
}

/// The tail a sync flush ends with, stripped by the sender (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Compresses the server's messages.
#[derive(Debug)]
pub struct Deflater {
    params: DeflateParams,
    inner: Option<Compress>,
}

impl Deflater {
    /// A compressor for the agreed parameters (allocated on the first message).
    pub fn new(params: &DeflateParams) -> Deflater {
        Deflater {
            params: *params,
            inner: None,
        }
    }

    /// Append the compressed form of one whole message to `out` (the sync flush's tail
    /// removed). `false` if compression failed (nothing appended; the compressor is reset):
    /// send the message uncompressed.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if input.is_empty() {
            // An empty stored block (RFC 7692 §7.2.3.6). zlib would emit nothing for a
            // second sync flush in a row, and the compressor's state needs no change.
            out.push(0x00);
            return true;
        }
        let p = self.params;
        let c = self.inner.get_or_insert_with(|| {
            Compress::new_with_window_bits(
                Compression::new(p.level),
                false,
                p.server_max_window_bits,
            )
        });
        let start = out.len();
        let ok = deflate_into(c, input, out);
        if !ok {
            out.truncate(start);
            c.reset();
        } else if p.server_no_context_takeover {
            c.reset();
        }
        ok
    }
}

/// Compress `input` with a sync flush into `out`, then strip the tail.
fn deflate_into(c: &mut Compress, mut input: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    out.reserve(input.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(256));
        }
        let before = c.total_in();
        if c.compress_vec(input, out, FlushCompress::Sync).is_err() {
            return false;
        }
        let used = (c.total_in() - before) as usize;
        input = input.get(used..).unwrap_or_default();
        // Done when all input is taken and the flush did not run out of room.
        if input.is_empty() && out.len() < out.capacity() {
            break;
        }
    }
    if out[start..].ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
        true
    } else {
        false
    }
}

/// Decompresses the client's messages, bounded.
#[derive(Debug)]
pub struct Inflater {
    params: DeflateParams,
    inner: Option<Decompress>,
    /// The message's deflate stream ended (a final block): what follows is ignored and
    /// the next message starts a new stream.
    ended: bool,
}

impl Inflater {
    /// A decompressor for the agreed parameters (allocated on the first message).
    pub fn new(params: &DeflateParams) -> Inflater {
        Inflater {
            params: *params,
            inner: None,
            ended: false,
        }
    }

    /// Inflate the next piece of a compressed message's payload, appending to `out`.
    /// `out` never holds more than `limit + 1` bytes: past `limit`,
    /// [`DecodeError::MessageTooBig`] (a deflate bomb stops there).
    pub fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), DecodeError> {
        if self.ended {
            return Ok(());
        }
        let bits = self.params.client_max_window_bits.max(9);
        let d = self
            .inner
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let cap = limit.saturating_add(1);
        let mut input = input;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return Err(DecodeError::MessageTooBig);
                }
                let want = out.len().max(input.len()).max(4096);
                out.reserve_exact(want.min(cap - out.len()));
            }
            let (before_in, before_out) = (d.total_in(), d.total_out());
            let status = d.decompress_vec(input, out, FlushDecompress::None);
            // Output past the limit wins over an error found later in the same call: with
            // the input in smaller pieces the limit would have been hit first.
            if out.len() > limit {
                return Err(DecodeError::MessageTooBig);
            }
            let status = status.map_err(|_| DecodeError::InvalidCompressedData)?;
            let used = (d.total_in() - before_in) as usize;
            input = input.get(used..).unwrap_or_default();
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            let progress = used > 0 || d.total_out() > before_out;
            let room = out.len() < out.capacity();
            if room && (input.is_empty() || !progress) {
                // All taken (or zlib wants nothing more from this input: it cannot get
                // stuck with room to write, so no progress with input left is bad data).
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(DecodeError::InvalidCompressedData)
                };
            }
        }
    }

    /// The message's last frame has been inflated: add the stripped tail, and start the
    /// next message afresh if the client does not take context over.
    pub fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), DecodeError> {
        self.inflate(&TAIL, out, limit)?;
        if self.params.client_no_context_takeover || self.ended {
            if let Some(d) = &mut self.inner {
                d.reset(false);
            }
            self.ended = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
