//! One HTTP/2 client connection's protocol state, sans-IO: the frames it sends (into
//! [`Session::out`]) and what the frames it receives mean for its streams ([`Event`]s).
//!
//! - Opening: the preface, SETTINGS (push off, stream windows of [`WINDOW`]) and a
//!   connection WINDOW_UPDATE up to [`WINDOW`], all in the first write.
//! - Requests: [`Session::open`] appends a stream's HEADERS (its block encoded once per
//!   run) and as much of its body as the peer's windows allow; the rest follows as
//!   WINDOW_UPDATEs arrive.
//! - Responses: [`Session::receive`] takes every whole frame out of a read buffer (many
//!   per read, none copied but a header block split over CONTINUATION frames), decodes
//!   each header block (also for streams given up on: the HPACK table depends on it),
//!   keeps the `:status`, and reports each stream's end.
//! - Flow control: the windows are large and given back in bulk, once half of one is
//!   consumed, never per DATA frame.
//! - PING is answered, SETTINGS acknowledged; a GOAWAY with `NO_ERROR` lets the streams
//!   it covers finish and reports the others as unprocessed; anything against the
//!   protocol is a [`ConnError`] (with the GOAWAY code to send).

use super::frame::{self, code, flag, kind, setting, FrameError, Head};
use super::hpack::{self, Decoder};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// The stream and connection window this client advertises: 2^30 - 1 bytes (h2load's
/// `-w 30 -W 30`).
pub const WINDOW: u32 = (1 << 30) - 1;
/// Window consumed before it is given back.
const WINDOW_REFILL: u32 = WINDOW / 2;
/// The default initial window (RFC 9113 §6.9.2).
const DEFAULT_WINDOW: i64 = 65_535;
/// Streams opened before the server's SETTINGS say how many it allows (RFC 9113
/// recommends that a server allow at least 100).
const INITIAL_MAX_STREAMS: u32 = 100;
/// Largest header block accepted across CONTINUATION frames.
const MAX_HEADER_BLOCK: usize = 256 * 1024;
/// The largest stream id.
const MAX_STREAM_ID: u32 = (1 << 31) - 1;

/// What happened to a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Its response is complete, with this status.
    Done {
        /// The lane that sent it.
        lane: usize,
        /// The final status.
        status: u16,
    },
    /// The server reset it with `code`.
    Reset {
        /// The lane that sent it.
        lane: usize,
        /// The RST_STREAM error code.
        code: u32,
    },
    /// Its response broke the protocol; it was reset.
    Malformed {
        /// The lane that sent it.
        lane: usize,
    },
    /// A GOAWAY with `NO_ERROR` says it was not processed (above the last stream).
    Unprocessed {
        /// The lane that sent it.
        lane: usize,
    },
}

/// The connection cannot go on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnError {
    /// The GOAWAY code to send: the server broke the protocol. `None`: the server ended
    /// the connection with an error of its own.
    pub send: Option<u32>,
    /// Why, for the report.
    pub why: String,
}

impl From<FrameError> for ConnError {
    fn from(e: FrameError) -> ConnError {
        ConnError {
            send: Some(e.code),
            why: format!("{} ({})", e.why, frame::code_name(e.code)),
        }
    }
}

/// Hashes stream ids (odd, increasing) to well-spread buckets.
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
        self.0 = self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id >> 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// An open stream.
#[derive(Debug)]
struct Stream {
    lane: usize,
    /// The final status, once its response head came.
    status: Option<u16>,
    /// Its send window.
    send_window: i64,
    /// Request body bytes sent.
    sent: usize,
    /// The request is complete (END_STREAM sent).
    sent_all: bool,
    /// Received DATA not yet given back.
    unacked: u32,
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    decoder: Decoder,
    streams: HashMap<u32, Stream, BuildHasherDefault<IdHasher>>,
    next_id: u32,
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS.
    peer_max_streams: u32,
    /// The server's initial stream window.
    peer_window: i64,
    /// The server's SETTINGS_MAX_FRAME_SIZE: our frames' limit.
    max_frame: usize,
    /// Connection send window.
    send_window: i64,
    /// Received DATA not yet given back (connection).
    unacked: u32,
    /// The server's SETTINGS came (its preface).
    got_settings: bool,
    /// The last stream id of a GOAWAY received.
    goaway: Option<u32>,
    /// A header block continued: its stream and END_STREAM.
    continuing: Option<(u32, bool)>,
    block: Vec<u8>,
    /// Streams whose request body waits for window.
    waiting_bodies: Vec<u32>,
    /// Frames to send.
    pub out: Vec<u8>,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    /// A new connection; its preface and settings are in [`Session::out`].
    pub fn new() -> Session {
        let mut out = Vec::with_capacity(16 * 1024);
        out.extend_from_slice(frame::PREFACE);
        frame::put_settings(
            &mut out,
            &[
                (setting::ENABLE_PUSH, 0),
                (setting::INITIAL_WINDOW_SIZE, WINDOW),
            ],
        );
        frame::put_window_update(&mut out, 0, WINDOW - DEFAULT_WINDOW as u32);
        Session {
            decoder: Decoder::default(),
            streams: HashMap::default(),
            next_id: 1,
            peer_max_streams: INITIAL_MAX_STREAMS,
            peer_window: DEFAULT_WINDOW,
            max_frame: frame::DEFAULT_MAX_FRAME,
            send_window: DEFAULT_WINDOW,
            unacked: 0,
            got_settings: false,
            goaway: None,
            continuing: None,
            block: Vec::new(),
            waiting_bodies: Vec::new(),
            out,
        }
    }

    /// Whether a new stream may be opened now.
    #[inline]
    pub fn can_open(&self) -> bool {
        self.goaway.is_none()
            && (self.streams.len() as u32) < self.peer_max_streams
            && self.next_id <= MAX_STREAM_ID
    }

    /// A GOAWAY came: no new stream.
    #[inline]
    pub fn going_away(&self) -> bool {
        self.goaway.is_some()
    }

    /// Whether the server's preface (its SETTINGS) came.
    pub fn got_settings(&self) -> bool {
        self.got_settings
    }

    /// Open a stream for `lane`: its HEADERS (`block`) and `body` are queued. Its id.
    pub fn open(&mut self, lane: usize, block: &[u8], body: &[u8]) -> u32 {
        let id = self.next_id;
        self.next_id += 2;
        frame::put_headers(&mut self.out, id, block, body.is_empty(), self.max_frame);
        let mut s = Stream {
            lane,
            status: None,
            send_window: self.peer_window,
            sent: 0,
            sent_all: body.is_empty(),
            unacked: 0,
        };
        if !s.sent_all {
            send_body(
                &mut self.out,
                &mut self.send_window,
                self.max_frame,
                id,
                &mut s,
                body,
            );
            if !s.sent_all {
                self.waiting_bodies.push(id);
            }
        }
        self.streams.insert(id, s);
        id
    }

    /// Give up on stream `id` (a timeout): it is reset with `CANCEL`.
    pub fn cancel(&mut self, id: u32) {
        if self.streams.remove(&id).is_some() {
            frame::put_rst_stream(&mut self.out, id, code::CANCEL);
        }
    }

    /// Queue a GOAWAY with `code` (0: graceful, nothing more will be opened).
    pub fn goodbye(&mut self, code: u32) {
        frame::put_goaway(&mut self.out, 0, code);
    }

    /// Take every whole frame at the start of `buf`, appending what they mean to
    /// `events` (`body` is the request body, for the bodies still waiting for window).
    /// The bytes taken; the rest is an incomplete frame.
    pub fn receive(
        &mut self,
        buf: &[u8],
        body: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<usize, ConnError> {
        let mut at = 0;
        let mut windows_grew = false;
        while let Some((head, payload)) = frame::next(&buf[at..], frame::DEFAULT_MAX_FRAME)? {
            at += frame::HEAD_LEN + head.len;
            if !self.got_settings && head.kind != kind::SETTINGS {
                return Err(
                    FrameError::protocol("the server's first frame is not SETTINGS").into(),
                );
            }
            if let Some((stream, _)) = self.continuing {
                if head.kind != kind::CONTINUATION || head.stream != stream {
                    return Err(FrameError::protocol("a header block is not continued").into());
                }
            }
            match head.kind {
                kind::DATA => self.data(&head, payload, events)?,
                kind::HEADERS => {
                    if head.stream == 0 {
                        return Err(FrameError::protocol("HEADERS on stream 0").into());
                    }
                    let fragment = frame::header_fragment(&head, payload)?;
                    let end_stream = head.has(flag::END_STREAM);
                    if head.has(flag::END_HEADERS) {
                        self.head(head.stream, fragment, end_stream, events)?;
                    } else {
                        self.block.clear();
                        self.block.extend_from_slice(fragment);
                        self.continuing = Some((head.stream, end_stream));
                    }
                }
                kind::CONTINUATION => {
                    let Some((stream, end_stream)) = self.continuing else {
                        return Err(FrameError::protocol("CONTINUATION without HEADERS").into());
                    };
                    if self.block.len() + payload.len() > MAX_HEADER_BLOCK {
                        return Err(FrameError::protocol("a header block over 256 KiB").into());
                    }
                    self.block.extend_from_slice(payload);
                    if head.has(flag::END_HEADERS) {
                        self.continuing = None;
                        let block = std::mem::take(&mut self.block);
                        let res = self.head(stream, &block, end_stream, events);
                        self.block = block;
                        res?;
                    }
                }
                kind::RST_STREAM => {
                    if head.len != 4 {
                        return Err(FrameError::size("RST_STREAM not 4 bytes long").into());
                    }
                    if head.stream == 0 {
                        return Err(FrameError::protocol("RST_STREAM on stream 0").into());
                    }
                    if let Some(s) = self.streams.remove(&head.stream) {
                        let code = frame::be32(payload);
                        events.push(Event::Reset { lane: s.lane, code });
                    }
                }
                kind::SETTINGS => {
                    self.settings(&head, payload)?;
                    windows_grew = true;
                }
                kind::PING => {
                    if head.len != 8 {
                        return Err(FrameError::size("PING not 8 bytes long").into());
                    }
                    if head.stream != 0 {
                        return Err(FrameError::protocol("PING on a stream").into());
                    }
                    if !head.has(flag::ACK) {
                        frame::put_ping_ack(&mut self.out, payload);
                    }
                }
                kind::GOAWAY => self.goaway(&head, payload, events)?,
                kind::WINDOW_UPDATE => {
                    self.window_update(&head, payload)?;
                    windows_grew = true;
                }
                kind::PUSH_PROMISE => {
                    return Err(FrameError::protocol("PUSH_PROMISE, but push is disabled").into())
                }
                // PRIORITY and unknown types are ignored (RFC 9113 §4.1, §5.5).
                _ => {}
            }
        }
        if windows_grew && !self.waiting_bodies.is_empty() {
            self.resume_bodies(body);
        }
        Ok(at)
    }

    fn data(
        &mut self,
        head: &Head,
        payload: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<(), ConnError> {
        if head.stream == 0 {
            return Err(FrameError::protocol("DATA on stream 0").into());
        }
        frame::unpad(head, payload)?;
        // The whole payload counts against the windows, padding included.
        let len = head.len as u32;
        self.unacked += len;
        if self.unacked >= WINDOW_REFILL {
            frame::put_window_update(&mut self.out, 0, self.unacked);
            self.unacked = 0;
        }
        let end = head.has(flag::END_STREAM);
        let Some(s) = self.streams.get_mut(&head.stream) else {
            return Ok(());
        };
        let Some(status) = s.status else {
            let lane = s.lane;
            self.reset(head.stream, code::PROTOCOL_ERROR);
            events.push(Event::Malformed { lane });
            return Ok(());
        };
        if end {
            let lane = s.lane;
            self.finish(head.stream);
            events.push(Event::Done { lane, status });
        } else {
            s.unacked += len;
            if s.unacked >= WINDOW_REFILL {
                frame::put_window_update(&mut self.out, head.stream, s.unacked);
                s.unacked = 0;
            }
        }
        Ok(())
    }

    /// A complete header block for `stream`.
    fn head(
        &mut self,
        stream: u32,
        block: &[u8],
        end_stream: bool,
        events: &mut Vec<Event>,
    ) -> Result<(), ConnError> {
        let mut status: Option<u16> = None;
        let mut bad = false;
        self.decoder
            .decode(block, |name, value| {
                if name == b":status" {
                    status = parse_status(value);
                    bad |= status.is_none();
                }
            })
            .map_err(|e: hpack::Error| ConnError {
                send: Some(code::COMPRESSION_ERROR),
                why: format!("{e} (COMPRESSION_ERROR)"),
            })?;
        let Some(s) = self.streams.get_mut(&stream) else {
            return Ok(());
        };
        let lane = s.lane;
        let done = match (s.status, status) {
            // The response head; 1xx heads are informational, another follows.
            (None, Some(st)) if !bad && !(100..200).contains(&st) => {
                s.status = Some(st);
                end_stream.then_some(st)
            }
            (None, Some(st)) if !bad && !end_stream && st != 101 => None,
            // Trailers end the stream.
            (Some(st), None) if end_stream => Some(st),
            _ => {
                self.reset(stream, code::PROTOCOL_ERROR);
                events.push(Event::Malformed { lane });
                return Ok(());
            }
        };
        if let Some(status) = done {
            self.finish(stream);
            events.push(Event::Done { lane, status });
        }
        Ok(())
    }

    /// The server's SETTINGS (or their acknowledgement).
    fn settings(&mut self, head: &Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(FrameError::protocol("SETTINGS on a stream").into());
        }
        if head.has(flag::ACK) {
            if head.len != 0 {
                return Err(FrameError::size("a SETTINGS acknowledgement with a payload").into());
            }
            return Ok(());
        }
        let values = payload.chunks_exact(6);
        if !values.remainder().is_empty() {
            return Err(FrameError::size("SETTINGS not a multiple of 6 bytes").into());
        }
        for s in values {
            let id = u16::from_be_bytes([s[0], s[1]]);
            let v = frame::be32(&s[2..]);
            match id {
                setting::INITIAL_WINDOW_SIZE => {
                    if i64::from(v) > frame::MAX_WINDOW {
                        return Err(ConnError::from(FrameError {
                            code: code::FLOW_CONTROL_ERROR,
                            why: "SETTINGS_INITIAL_WINDOW_SIZE over 2^31 - 1".into(),
                        }));
                    }
                    let delta = i64::from(v) - self.peer_window;
                    self.peer_window = i64::from(v);
                    for s in self.streams.values_mut() {
                        s.send_window += delta;
                    }
                }
                setting::MAX_FRAME_SIZE => {
                    if !(frame::DEFAULT_MAX_FRAME..=(1 << 24) - 1).contains(&(v as usize)) {
                        return Err(
                            FrameError::protocol("SETTINGS_MAX_FRAME_SIZE out of range").into()
                        );
                    }
                    self.max_frame = v as usize;
                }
                setting::MAX_CONCURRENT_STREAMS => self.peer_max_streams = v,
                _ => {}
            }
        }
        self.got_settings = true;
        frame::put_settings_ack(&mut self.out);
        Ok(())
    }

    fn goaway(
        &mut self,
        head: &Head,
        payload: &[u8],
        events: &mut Vec<Event>,
    ) -> Result<(), ConnError> {
        if head.stream != 0 {
            return Err(FrameError::protocol("GOAWAY on a stream").into());
        }
        if head.len < 8 {
            return Err(FrameError::size("GOAWAY shorter than 8 bytes").into());
        }
        let last = frame::be32(payload) & 0x7fff_ffff;
        let error = frame::be32(&payload[4..]);
        self.goaway = Some(last);
        if error != code::NO_ERROR {
            let debug = String::from_utf8_lossy(&payload[8..]);
            let debug = if debug.is_empty() {
                String::new()
            } else {
                format!(": {debug}")
            };
            return Err(ConnError {
                send: None,
                why: format!(
                    "the server sent GOAWAY with {}{debug}",
                    frame::code_name(error)
                ),
            });
        }
        let mut above: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| id > last)
            .collect();
        above.sort_unstable();
        for id in above {
            if let Some(s) = self.streams.remove(&id) {
                events.push(Event::Unprocessed { lane: s.lane });
            }
        }
        Ok(())
    }

    fn window_update(&mut self, head: &Head, payload: &[u8]) -> Result<(), ConnError> {
        if head.len != 4 {
            return Err(FrameError::size("WINDOW_UPDATE not 4 bytes long").into());
        }
        let inc = i64::from(frame::be32(payload) & 0x7fff_ffff);
        if inc == 0 {
            return Err(FrameError::protocol("a WINDOW_UPDATE of 0").into());
        }
        let window = if head.stream == 0 {
            &mut self.send_window
        } else {
            match self.streams.get_mut(&head.stream) {
                Some(s) => &mut s.send_window,
                None => return Ok(()),
            }
        };
        *window += inc;
        if *window > frame::MAX_WINDOW {
            return Err(ConnError::from(FrameError {
                code: code::FLOW_CONTROL_ERROR,
                why: "a window over 2^31 - 1".into(),
            }));
        }
        Ok(())
    }

    /// Send what the windows now allow of the bodies waiting.
    fn resume_bodies(&mut self, body: &[u8]) {
        let mut waiting = std::mem::take(&mut self.waiting_bodies);
        waiting.retain(|&id| {
            let Some(s) = self.streams.get_mut(&id) else {
                return false;
            };
            send_body(
                &mut self.out,
                &mut self.send_window,
                self.max_frame,
                id,
                s,
                body,
            );
            !s.sent_all
        });
        self.waiting_bodies = waiting;
    }

    /// The response of `stream` is complete: forget it (and stop its request body if
    /// the server answered before taking all of it).
    fn finish(&mut self, stream: u32) {
        if let Some(s) = self.streams.remove(&stream) {
            if !s.sent_all {
                frame::put_rst_stream(&mut self.out, stream, code::CANCEL);
            }
        }
    }

    fn reset(&mut self, stream: u32, code: u32) {
        self.streams.remove(&stream);
        frame::put_rst_stream(&mut self.out, stream, code);
    }
}

/// Send as much of `body` on stream `id` as the windows allow.
fn send_body(
    out: &mut Vec<u8>,
    conn_window: &mut i64,
    max_frame: usize,
    id: u32,
    s: &mut Stream,
    body: &[u8],
) {
    while !s.sent_all {
        let left = body.len() - s.sent;
        let room = (*conn_window).min(s.send_window).max(0) as usize;
        let n = left.min(room).min(max_frame);
        if n == 0 && left > 0 {
            return;
        }
        let end = n == left;
        frame::put_data(out, id, &body[s.sent..s.sent + n], end);
        s.sent += n;
        s.send_window -= n as i64;
        *conn_window -= n as i64;
        s.sent_all = end;
    }
}

/// A `:status` value: three digits.
fn parse_status(v: &[u8]) -> Option<u16> {
    match v {
        [a, b, c] if v.iter().all(u8::is_ascii_digit) => {
            Some(u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0'))
        }
        _ => None,
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
