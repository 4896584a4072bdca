//! Answering one parsed request: the `Request` built over the head's bytes, the
//! handler called (its panic caught), the response written, and what the request's
//! body needs afterwards (drained or the connection closed).

use http::{Method, StatusCode};
use peregrine_protocol::h1::parse::{RequestHead, TargetForm};
use peregrine_protocol::h1::target::{is_plain_path_in, normalize_path};
use peregrine_protocol::h1::{BodyFraming, Version};

use super::encode::ReqMeta;
use super::exchange::Writing;
use super::{panic, Conn, End, Persist, DRAIN_TIMEOUT};
use crate::handler::Handler;
use crate::metrics::bump;
use crate::registry::Phase;
use crate::request::{PathRepr, Request, RequestBody};
use crate::transport::Transport;

impl<H: Handler, T: Transport> Conn<H, T> {
    /// Answer one request whose head is `head_len` bytes at the start of the read buffer.
    /// `Some(end)` when the connection must end.
    pub(super) async fn dispatch(&mut self, head_len: usize) -> Option<End> {
        self.shard.registry.set_phase(self.id, Phase::Busy);
        self.fresh = false;
        bump(&self.shard.counters.requests, 1);
        self.served = self.served.saturating_add(1);
        self.turn += 1;
        let head_bytes = self.io.as_mut()?.rbuf.split_to(head_len).freeze();
        let exchange = self.exchange().clone();
        let h = &mut self.head;
        let method = match method_of(h.method.of(&head_bytes)) {
            Ok(m) => m,
            Err(_) => {
                self.reject(400, None);
                return Some(End::Reject);
            }
        };
        let path = match path_of(h, &head_bytes) {
            Ok(p) => p,
            Err(()) => {
                tracing::debug!("bad request: invalid path");
                self.reject(400, None);
                return Some(End::Reject);
            }
        };
        let meta = ReqMeta {
            version: h.version,
            is_head: method == Method::HEAD,
        };
        self.persist = if h.keep_alive && !self.shard.shutdown.is_fired() {
            Persist::KeepAlive
        } else {
            Persist::Close
        };
        let has_body = !matches!(h.framing, BodyFraming::Empty | BodyFraming::Length(0));
        let upgradable = h.upgrade
            && h.version == Version::Http11
            && matches!(h.framing, BodyFraming::Empty | BodyFraming::Length(0));
        exchange.start_body(h.framing, h.expect_continue);
        let req = Request {
            method,
            version: match h.version {
                Version::Http10 => http::Version::HTTP_10,
                Version::Http11 => http::Version::HTTP_11,
            },
            target: h.target,
            path,
            query: h.query,
            headers: std::mem::replace(&mut h.headers, exchange.take_spare_headers()),
            host: h.host,
            body: RequestBody::new(has_body.then(|| exchange.clone() as _)),
            conn: self.info.clone(),
            head: head_bytes,
            io: exchange.clone(),
            spare_headers: exchange.spare_headers().clone(),
            upgradable,
        };

        // The handler needs the connection's I/O only to read a body or to upgrade;
        // without either (most requests) it stays here: lending moves it in and out
        // (measured: -122 instructions per request).
        let lend = has_body || upgradable;
        if lend {
            exchange.lend(self.io.take()?);
        }
        let mut handled = None;
        let ran = panic::CatchUnwind::new(self.shard.handler.call(req), &mut handled).await;
        if lend {
            let Some(io) = exchange.reclaim() else {
                return Some(if exchange.writing() == Writing::Upgraded {
                    End::Upgraded
                } else {
                    End::Abort
                });
            };
            self.io = Some(io);
        }
        if let Some(status) = exchange.rejected() {
            // The body broke a limit or the framing: that answer replaces the handler's.
            self.reject(status, None);
            return Some(End::Reject);
        }
        // The response stays in `handled` and is written from there: a response is
        // about 200 bytes, and each move of it is a `memcpy` (measured: -66
        // instructions per request).
        let response = match (ran, &mut handled) {
            (Ok(()), Some(r)) => r,
            _ => {
                tracing::error!("the handler panicked; answering 500");
                bump(&self.shard.counters.panics, 1);
                self.shard.counters.error(500);
                self.persist = Persist::Close;
                handled.insert(crate::Response::with_status(
                    StatusCode::INTERNAL_SERVER_ERROR,
                ))
            }
        };
        if let Err(end) = self.write_response(response, meta).await {
            return Some(end);
        }
        // `handled` is dropped in place at the end (`drop(handled)` would move it first).
        self.after_response().await
    }

    /// After a response: settle the request body and decide whether to go on.
    async fn after_response(&mut self) -> Option<End> {
        if self.exchange().continue_pending() {
            // A streamed response ended without asking for the announced body.
            return Some(End::Close);
        }
        if !self.exchange().body_done() && !self.exchange().drainable() {
            // The declared rest is over the body limit: not worth reading.
            return Some(End::Close);
        }
        let keep_alive = self.persist == Persist::KeepAlive;
        if keep_alive && !self.exchange().body_done() {
            // The client may be waiting for this response before it sends the rest.
            if self.flush().await.is_err() {
                return Some(End::Abort);
            }
        }
        if keep_alive && !self.exchange().body_done() && !Box::pin(self.drain_body()).await {
            // The unread body could not be drained: send the response, then close.
            return Some(if self.io.is_some() {
                End::Close
            } else {
                End::Abort
            });
        }
        if !keep_alive {
            return Some(End::Close);
        }
        if self.wbuf.len() >= self.shard.http.max_response_buffer_size
            && self.flush().await.is_err()
        {
            return Some(End::Abort);
        }
        None
    }

    /// Read and discard the rest of the request body (bounded in time).
    async fn drain_body(&mut self) -> bool {
        let Some(io) = self.io.take() else {
            return false;
        };
        self.exchange().lend(io);
        self.exchange().start_draining();
        let exchange = self.exchange().clone();
        let drained = monoio::time::timeout(DRAIN_TIMEOUT, async move {
            while let Some(chunk) = exchange.next_chunk().await {
                if chunk.is_err() {
                    return false;
                }
            }
            true
        })
        .await;
        self.io = self.exchange().reclaim();
        matches!(drained, Ok(true)) && self.io.is_some()
    }
}

/// The method: the common ones without a call into `http` (measured: -30 instructions
/// per GET), the rest through `Method::from_bytes`.
#[inline(always)]
fn method_of(token: &[u8]) -> Result<Method, http::method::InvalidMethod> {
    match token {
        b"GET" => Ok(Method::GET),
        b"POST" => Ok(Method::POST),
        b"HEAD" => Ok(Method::HEAD),
        _ => Method::from_bytes(token),
    }
}

/// The path the handler sees: a view of the raw path when it is already normal.
#[inline(always)]
fn path_of(h: &RequestHead, head: &[u8]) -> Result<PathRepr, ()> {
    match h.target_form {
        TargetForm::Asterisk | TargetForm::Authority => return Ok(PathRepr::Raw(h.target)),
        TargetForm::Origin | TargetForm::Absolute => {}
    }
    let raw = h.path.of(head);
    if raw.is_empty() {
        return Ok(PathRepr::Owned("/".to_string()));
    }
    // Only a '%' or a dot segment ("/." ...) can change the path.
    if is_plain_path_in(head, h.path.start as usize, raw.len()) {
        return Ok(PathRepr::Raw(h.path));
    }
    normalize_path(raw).map(PathRepr::Owned).map_err(|_| ())
}
