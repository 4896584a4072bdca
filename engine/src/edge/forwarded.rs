//! Forwarded headers (ASP.NET Core's `ForwardedHeadersMiddleware`, and RFC 7239's
//! `Forwarded`): what the proxies in front of the server say about the client.
//!
//! The hops are read from the right (the proxy nearest the server wrote the last
//! entry). An entry is believed only while the address it came from is a known proxy
//! (the connection's peer first: a loopback address or a unix-socket peer by default),
//! and at most `forward_limit` entries are taken (ASP.NET's `ForwardLimit`, default 1).
//! The first entry that does not parse stops the walk. `Forwarded` is used when
//! present; otherwise `X-Forwarded-For`, `-Proto` and `-Host` (aligned from the right).

use std::net::{IpAddr, SocketAddr};

/// What one hop claims.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Hop {
    pub client: Option<String>,
    pub proto: Option<String>,
    pub host: Option<String>,
}

/// What the walk settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Settled {
    /// Entries believed (from the right).
    pub applied: usize,
    pub remote: Option<SocketAddr>,
    pub scheme: Option<&'static str>,
    pub host: Option<String>,
}

/// The items of comma-separated header values, in order.
fn items<'a>(values: &'a [&'a str]) -> impl Iterator<Item = &'a str> + 'a {
    values.iter().flat_map(|v| v.split(',')).map(str::trim)
}

/// Hops from `X-Forwarded-For`/`-Proto`/`-Host` values: the lists are aligned from the
/// right (a proxy that adds only `For` leaves the others short).
pub(super) fn x_forwarded(xff: &[&str], proto: &[&str], host: &[&str]) -> Vec<Hop> {
    let fors: Vec<&str> = items(xff).collect();
    let protos: Vec<&str> = items(proto).collect();
    let hosts: Vec<&str> = items(host).collect();
    let n = fors.len();
    (0..n)
        .map(|i| {
            let from_right = n - i;
            let pick = |list: &[&str]| {
                list.len()
                    .checked_sub(from_right)
                    .map(|j| list[j].to_owned())
                    .filter(|s| !s.is_empty())
            };
            Hop {
                client: Some(fors[i].to_owned()).filter(|s| !s.is_empty()),
                proto: pick(&protos),
                host: pick(&hosts),
            }
        })
        .collect()
}

/// Hops from RFC 7239 `Forwarded` values: `for=...;proto=...;host=..., ...`.
pub(super) fn rfc7239(values: &[&str]) -> Vec<Hop> {
    items(values)
        .filter(|e| !e.is_empty())
        .map(|element| {
            let mut hop = Hop::default();
            for pair in element.split(';') {
                let Some((k, v)) = pair.split_once('=') else {
                    continue;
                };
                let v = v.trim().trim_matches('"').to_owned();
                match k.trim().to_ascii_lowercase().as_str() {
                    "for" => hop.client = Some(v),
                    "proto" => hop.proto = Some(v),
                    "host" => hop.host = Some(v),
                    _ => {}
                }
            }
            hop
        })
        .collect()
}

/// A node (`192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`, `2001:db8::1`).
pub(super) fn node(s: &str) -> Option<SocketAddr> {
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa);
    }
    let bare = s.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, 0))
}

/// A host as a request may carry it: a name or an address, with an optional port.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}

/// Walk `hops` from the right while the sender is trusted.
pub(super) fn settle(
    hops: &[Hop],
    peer_trusted: bool,
    known: impl Fn(IpAddr) -> bool,
    limit: usize,
) -> Settled {
    let mut out = Settled::default();
    let mut trusted = peer_trusted;
    for hop in hops.iter().rev() {
        if !trusted || out.applied == limit {
            break;
        }
        let Some(client) = hop.client.as_deref().and_then(node) else {
            break;
        };
        let scheme = match hop.proto.as_deref() {
            None => None,
            Some(p) if p.eq_ignore_ascii_case("https") => Some("https"),
            Some(p) if p.eq_ignore_ascii_case("http") => Some("http"),
            Some(_) => break,
        };
        if hop.host.as_deref().is_some_and(|h| !valid_host(h)) {
            break;
        }
        out.applied += 1;
        out.remote = Some(client);
        if scheme.is_some() {
            out.scheme = scheme;
        }
        if let Some(h) = &hop.host {
            out.host = Some(h.clone());
        }
        trusted = known(client.ip());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(ip: IpAddr) -> bool {
        ip.is_loopback()
    }

    #[test]
    fn one_hop_from_a_trusted_peer() {
        let hops = x_forwarded(&["203.0.113.7"], &["https"], &["shop.example"]);
        let s = settle(&hops, true, loopback, 1);
        assert_eq!(s.applied, 1);
        assert_eq!(s.remote, Some("203.0.113.7:0".parse().expect("sa")));
        assert_eq!(s.scheme, Some("https"));
        assert_eq!(s.host.as_deref(), Some("shop.example"));
    }

    #[test]
    fn an_untrusted_peer_is_not_believed() {
        let hops = x_forwarded(&["203.0.113.7"], &["https"], &[]);
        assert_eq!(settle(&hops, false, loopback, 1), Settled::default());
    }

    #[test]
    fn the_limit_and_the_chain_of_trust() {
        // client, then a proxy at 127.0.0.2, then our peer.
        let hops = x_forwarded(&["198.51.100.1, 127.0.0.2"], &[], &[]);
        let one = settle(&hops, true, loopback, 1);
        assert_eq!(
            (one.applied, one.remote),
            (1, Some("127.0.0.2:0".parse().expect("sa")))
        );
        let two = settle(&hops, true, loopback, 2);
        assert_eq!(
            (two.applied, two.remote),
            (2, Some("198.51.100.1:0".parse().expect("sa")))
        );
        // A hop from an unknown address stops the walk.
        let hops = x_forwarded(&["198.51.100.1, 203.0.113.9"], &[], &[]);
        let s = settle(&hops, true, loopback, 5);
        assert_eq!(
            (s.applied, s.remote),
            (1, Some("203.0.113.9:0".parse().expect("sa")))
        );
    }

    #[test]
    fn short_proto_lists_align_from_the_right() {
        let hops = x_forwarded(&["198.51.100.1, 127.0.0.2"], &["https"], &[]);
        assert_eq!(hops[0].proto, None);
        assert_eq!(hops[1].proto.as_deref(), Some("https"));
    }

    #[test]
    fn rfc7239_elements() {
        let hops = rfc7239(&[
            r#"for=192.0.2.43;proto=http, For="[2001:db8:cafe::17]:4711";proto=https;host=a.example"#,
        ]);
        assert_eq!(hops.len(), 2);
        let s = settle(&hops, true, loopback, 1);
        assert_eq!(
            s.remote,
            Some("[2001:db8:cafe::17]:4711".parse().expect("sa"))
        );
        assert_eq!(s.scheme, Some("https"));
        assert_eq!(s.host.as_deref(), Some("a.example"));
    }

    #[test]
    fn garbage_stops_the_walk() {
        for (xff, proto, host) in [
            ("unknown", "", ""),
            ("_hidden", "", ""),
            ("203.0.113.7", "gopher", ""),
            ("203.0.113.7", "", "bad host/x"),
        ] {
            let hops = x_forwarded(&[xff], &[proto], &[host]);
            assert_eq!(
                settle(&hops, true, loopback, 1).applied,
                0,
                "{xff} {proto} {host}"
            );
        }
    }
}
