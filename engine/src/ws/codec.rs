//! The engine's side of the sans-IO codec (`peregrine_protocol::ws`): one connection's
//! decoder and encoder, with permessage-deflate when agreed, and the mapping between
//! the codec's messages and the handler's [`Message`].

use bytes::BytesMut;
use peregrine_protocol::ws::{decoder, deflate, Decoder, DeflateConfig, DeflateParams, Encoder};

use super::{CloseFrame, Message, WebSocketError};
use crate::options::WebSocketOptions;

/// What a client frame decoded to.
pub(super) enum Frame {
    Text(String),
    Binary(bytes::Bytes),
    Ping(bytes::Bytes),
    Pong,
    Close(Option<CloseFrame>),
}

/// One connection's codec.
pub(super) struct Codec {
    decoder: Decoder,
    encoder: Encoder,
    compress: bool,
}

impl Codec {
    /// A codec for the options, with permessage-deflate when `offers` (the client's
    /// `Sec-WebSocket-Extensions`) holds an acceptable offer and compression is on;
    /// the `Sec-WebSocket-Extensions` answer when it does.
    pub fn negotiate(offers: &[u8], options: &WebSocketOptions) -> (Codec, Option<String>) {
        let params: Option<DeflateParams> = if options.compression && !offers.is_empty() {
            deflate::negotiate(offers, &DeflateConfig::default())
        } else {
            None
        };
        let mut decoder = Decoder::new(options.max_message_size);
        let mut encoder = Encoder::new();
        let answer = params.map(|p| {
            decoder = std::mem::replace(&mut decoder, Decoder::new(1)).with_deflate(&p);
            encoder = std::mem::take(&mut encoder).with_deflate(&p);
            p.response_header()
        });
        (
            Codec {
                decoder,
                encoder,
                compress: answer.is_some(),
            },
            answer,
        )
    }

    /// The next frame in `buf`, `Ok(None)` when more bytes are needed; `Err(code)`: the
    /// client broke the protocol, close with `code`.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, u16> {
        match self.decoder.decode(buf) {
            Ok(None) => Ok(None),
            Ok(Some(m)) => Ok(Some(match m {
                decoder::Message::Text(t) => {
                    // Validated by the decoder; converting again cannot fail, and costs
                    // no copy when the buffer is not shared.
                    Frame::Text(String::from_utf8(Vec::from(t)).map_err(|_| 1007u16)?)
                }
                decoder::Message::Binary(b) => Frame::Binary(b),
                decoder::Message::Ping(p) => Frame::Ping(p),
                decoder::Message::Pong(_) => Frame::Pong,
                decoder::Message::Close(c) => Frame::Close(c.map(|(code, reason)| CloseFrame {
                    code,
                    reason: String::from_utf8_lossy(&reason).into_owned(),
                })),
            })),
            Err(e) => {
                tracing::debug!(error = ?e, "WebSocket protocol error from the client");
                Err(e.close_code())
            }
        }
    }

    /// Encode `message` into `dst`.
    pub fn encode(&mut self, message: &Message, dst: &mut BytesMut) -> Result<(), WebSocketError> {
        match message {
            Message::Text(t) => self.encoder.text(dst, t, self.compress),
            Message::Binary(b) => self.encoder.binary(dst, b, self.compress),
            Message::Ping(p) | Message::Pong(p) if p.len() > 125 => {
                return Err(WebSocketError::InvalidMessage(
                    "a ping or pong carries at most 125 bytes",
                ))
            }
            Message::Ping(p) => self.encoder.ping(dst, p),
            Message::Pong(p) => self.encoder.pong(dst, p),
        }
        Ok(())
    }

    pub fn encode_pong(&mut self, payload: &[u8], dst: &mut BytesMut) {
        self.encoder.pong(dst, payload);
    }

    pub fn encode_ping(&mut self, dst: &mut BytesMut) {
        self.encoder.ping(dst, b"peregrine");
    }

    pub fn encode_close(&mut self, close: Option<(u16, &str)>, dst: &mut BytesMut) {
        self.encoder.close(dst, close);
    }
}
