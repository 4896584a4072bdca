//! Host filtering (ASP.NET Core's `AllowedHosts`): a request whose host is not in the
//! list is answered `400`. Entries are host names without ports, compared
//! case-insensitively; `*.example.com` matches every subdomain (not `example.com`
//! itself); `*` matches anything; IPv6 literals are written in brackets. A request
//! without a host (HTTP/1.0) passes, as ASP.NET's `AllowEmptyHosts` default.

/// The host part of a `Host` value (no port; brackets kept for IPv6).
fn without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Whether `host` (the request's, after forwarded headers) is allowed by `allowed`.
pub(super) fn allowed(host: Option<&str>, allowed: &[String]) -> bool {
    let Some(host) = host else {
        return true;
    };
    let host = without_port(host.trim());
    allowed.iter().any(|entry| {
        let entry = entry.trim();
        if entry == "*" {
            return true;
        }
        match entry.strip_prefix("*.") {
            Some(suffix) => {
                host.len() > suffix.len() + 1
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                    && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
            }
            None => host.eq_ignore_ascii_case(entry),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_wildcards_ports_and_ipv6() {
        let a = list(&["a.example", "*.b.example", "[::1]"]);
        assert!(allowed(Some("a.example"), &a));
        assert!(allowed(Some("A.EXAMPLE:8080"), &a));
        assert!(allowed(Some("x.b.example"), &a));
        assert!(allowed(Some("y.x.b.example:443"), &a));
        assert!(
            !allowed(Some("b.example"), &a),
            "the wildcard needs a subdomain"
        );
        assert!(!allowed(Some("evilb.example"), &a));
        assert!(!allowed(Some("c.example"), &a));
        assert!(allowed(Some("[::1]:5000"), &a));
        assert!(allowed(None, &a), "no host (HTTP/1.0)");
        assert!(allowed(Some("anything"), &list(&["*"])));
    }
}
