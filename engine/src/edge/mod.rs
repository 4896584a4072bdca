//! What a request learns from the proxy in front of the server (nginx over a unix
//! socket, a load balancer): forwarded headers ([`forwarded`]), then host filtering
//! ([`hosts`]). Off unless configured; when on, the workers run the application's
//! handler behind [`handler::Edged`], which applies it once per request, before the
//! handler, for HTTP/1.1 and HTTP/2 alike.
//!
//! Believed forwarded headers change what the handler sees: `conn_info()`'s remote
//! address and scheme, and `host()`. The originals are kept as `X-Original-For`,
//! `X-Original-Proto` and `X-Original-Host` (ASP.NET's names), and the entries taken
//! are removed from the forwarded headers (what is left names the hops not believed).

pub mod cidr;
mod forwarded;
pub(crate) mod handler;
mod hosts;

use std::net::IpAddr;
use std::rc::Rc;

use bytes::{BufMut, BytesMut};
use peregrine_protocol::h1::{HeaderSpan, Span};

use crate::request::Request;
use crate::transport::Addr;
use cidr::Cidr;

/// The configured edge behaviour (shared by the workers).
#[derive(Debug, Clone)]
pub(crate) struct Edge {
    /// Forwarded headers: the known proxies and the forward limit.
    pub forwarded: Option<(Vec<Cidr>, usize)>,
    /// Allowed hosts; empty: any.
    pub allowed_hosts: Vec<String>,
}

impl Edge {
    /// The edge for `o`, `None` when nothing is configured (the common case costs one
    /// branch per request).
    pub fn from_options(o: &crate::Options) -> Option<Edge> {
        let forwarded = o.forwarded_headers.then(|| {
            let known = if o.known_proxies.is_empty() {
                Cidr::loopback()
            } else {
                o.known_proxies.clone()
            };
            (known, o.forward_limit.unwrap_or(usize::MAX))
        });
        let allowed_hosts: Vec<String> = o
            .allowed_hosts
            .iter()
            .filter(|h| h.trim() != "*")
            .cloned()
            .collect();
        (forwarded.is_some() || !allowed_hosts.is_empty()).then_some(Edge {
            forwarded,
            allowed_hosts,
        })
    }
}

/// Apply the edge to `req`; `Err(400)` when its host is not allowed.
pub(crate) fn apply(req: &mut Request, edge: &Edge) -> Result<(), u16> {
    if let Some((known, limit)) = &edge.forwarded {
        forward(req, known, *limit);
    }
    if !edge.allowed_hosts.is_empty() && !hosts::allowed(req.host(), &edge.allowed_hosts) {
        tracing::debug!(host = ?req.host(), "host not allowed");
        return Err(400);
    }
    Ok(())
}

fn header_values<'a>(req: &'a Request, name: &str) -> Vec<&'a str> {
    req.headers()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .filter_map(|(_, v)| std::str::from_utf8(v).ok())
        .collect()
}

/// Believe what the trusted hops say, and rewrite the request to show it.
fn forward(req: &mut Request, known: &[Cidr], limit: usize) {
    let is_known = |ip: IpAddr| known.iter().any(|c| c.contains(ip));
    let peer_trusted = match &req.conn.remote_addr {
        Addr::Ip(sa) => is_known(sa.ip()),
        Addr::Unix(_) | Addr::Memory(_) => true,
    };
    if !peer_trusted {
        return;
    }
    let rfc = header_values(req, "forwarded");
    let (hops, consumed_names): (_, &[&str]) = if rfc.is_empty() {
        (
            forwarded::x_forwarded(
                &header_values(req, "x-forwarded-for"),
                &header_values(req, "x-forwarded-proto"),
                &header_values(req, "x-forwarded-host"),
            ),
            &["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"],
        )
    } else {
        (forwarded::rfc7239(&rfc), &["forwarded"])
    };
    let settled = forwarded::settle(&hops, peer_trusted, is_known, limit);
    if settled.applied == 0 {
        return;
    }
    rewrite(req, &hops, consumed_names, &settled);
}

/// Rebuild the head with the originals kept, the forwarded headers trimmed to the hops
/// not believed, and the settled host; then the connection info.
fn rewrite(
    req: &mut Request,
    hops: &[forwarded::Hop],
    consumed_names: &[&str],
    settled: &forwarded::Settled,
) {
    let old = req.head.clone();
    let mut head = BytesMut::with_capacity(old.len() + 256);
    head.put_slice(&old);
    let push = |head: &mut BytesMut, bytes: &[u8]| {
        let start = head.len() as u32;
        head.put_slice(bytes);
        Span {
            start,
            end: head.len() as u32,
        }
    };
    let mut headers: Vec<HeaderSpan> = req
        .headers
        .iter()
        .copied()
        .filter(|h| {
            let name = h.name.of(&old);
            !consumed_names
                .iter()
                .any(|c| name.eq_ignore_ascii_case(c.as_bytes()))
        })
        .collect();
    // What the hops not believed said stays, as one line per header.
    let left = &hops[..hops.len() - settled.applied];
    if !left.is_empty() {
        let joined = |f: &dyn Fn(&forwarded::Hop) -> Option<String>| -> Option<String> {
            let parts: Vec<String> = left.iter().filter_map(f).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        };
        let lines: Vec<(&str, Option<String>)> = if consumed_names == ["forwarded"] {
            vec![(
                "forwarded",
                joined(&|h| h.client.as_ref().map(|c| format!("for=\"{c}\""))),
            )]
        } else {
            vec![
                ("x-forwarded-for", joined(&|h| h.client.clone())),
                ("x-forwarded-proto", joined(&|h| h.proto.clone())),
                ("x-forwarded-host", joined(&|h| h.host.clone())),
            ]
        };
        for (name, value) in lines {
            if let Some(v) = value {
                let name = push(&mut head, name.as_bytes());
                let value = push(&mut head, v.as_bytes());
                headers.push(HeaderSpan { name, value });
            }
        }
    }
    let conn = &req.conn;
    let originals = [
        ("x-original-for", Some(conn.remote_addr.to_string())),
        ("x-original-proto", Some(conn.scheme.to_string())),
        (
            "x-original-host",
            req.host
                .map(|h| String::from_utf8_lossy(h.of(&old)).into_owned()),
        ),
    ];
    for (name, value) in originals {
        if let Some(v) = value {
            let name = push(&mut head, name.as_bytes());
            let value = push(&mut head, v.as_bytes());
            headers.push(HeaderSpan { name, value });
        }
    }
    if let Some(host) = &settled.host {
        let span = push(&mut head, host.as_bytes());
        req.host = Some(span);
        if let Some(h) = headers
            .iter_mut()
            .find(|h| h.name.of(&head).eq_ignore_ascii_case(b"host"))
        {
            h.value = span;
        }
    }
    let mut info = (*req.conn).clone();
    if let Some(remote) = settled.remote {
        info.remote_addr = Addr::Ip(remote);
    }
    if let Some(scheme) = settled.scheme {
        info.scheme = scheme;
    }
    req.conn = Rc::new(info);
    req.headers = headers;
    req.head = head.freeze();
}
