//! The flags for running behind a proxy: `--forwarded-headers`, `--known-proxies`,
//! `--forward-limit` (ASP.NET Core's `ForwardedHeadersOptions`) and `--allowed-hosts`
//! (its `AllowedHosts`).

use peregrine::{Cidr, Options};

/// Apply the values given (each from the highest layer that gives it) to `o`.
pub fn apply(
    o: &mut Options,
    forwarded: Option<bool>,
    known: Option<String>,
    limit: Option<String>,
    hosts: Option<String>,
) -> Result<(), String> {
    if let Some(on) = forwarded {
        o.forwarded_headers = on;
    }
    if let Some(list) = known {
        o.known_proxies = list
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.parse::<Cidr>()
                    .map_err(|e| format!("--known-proxies: {e}"))
            })
            .collect::<Result<_, _>>()?;
    }
    if let Some(n) = limit {
        o.forward_limit = if n.trim().eq_ignore_ascii_case("unlimited") {
            None
        } else {
            match n.trim().parse::<usize>() {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    return Err(format!(
                        "--forward-limit: '{n}' is not a number greater than 0 or 'unlimited'"
                    ))
                }
            }
        };
    }
    if let Some(list) = hosts {
        o.allowed_hosts = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = o
            .allowed_hosts
            .iter()
            .find(|h| h.contains(['/', ' ']) || (h.contains(':') && !h.starts_with('[')))
        {
            return Err(format!(
                "--allowed-hosts: '{bad}' is not a host name (no scheme or port; IPv6 in brackets)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_and_bad_ones_say_which_flag() {
        let mut o = Options::default();
        apply(
            &mut o,
            Some(true),
            Some("10.0.0.0/8, 192.0.2.1".into()),
            Some("2".into()),
            Some("a.example, *.b.example".into()),
        )
        .expect("applies");
        assert!(o.forwarded_headers);
        assert_eq!(o.known_proxies.len(), 2);
        assert_eq!(o.forward_limit, Some(2));
        assert_eq!(o.allowed_hosts, ["a.example", "*.b.example"]);
        for (k, l, h, flag) in [
            (Some("10.0.0.0/40"), None, None, "--known-proxies"),
            (None, Some("0"), None, "--forward-limit"),
            (None, None, Some("https://a.example"), "--allowed-hosts"),
        ] {
            let e = apply(
                &mut o,
                None,
                k.map(str::to_owned),
                l.map(str::to_owned),
                h.map(str::to_owned),
            )
            .expect_err("refused");
            assert!(e.contains(flag), "{e}");
        }
    }
}
