//! The WebSocket flags of the `peregrine` binary (ASP.NET Core's `WebSocketOptions`):
//! allowed origins, the largest message, the keep-alive ping interval.

use peregrine::Options;

use crate::cli::parse_duration;

/// Apply the values given (each from the highest layer that gives it) to `o`.
pub fn apply(
    o: &mut Options,
    origins: Option<String>,
    max_message: Option<String>,
    keep_alive: Option<String>,
) -> Result<(), String> {
    let ws = &mut o.websocket;
    if let Some(list) = origins {
        ws.allowed_origins = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(bad) = ws
            .allowed_origins
            .iter()
            .find(|o| *o != "*" && !o.contains("://"))
        {
            return Err(format!(
                "--websocket-allowed-origins: '{bad}' is not an origin (scheme://host[:port])"
            ));
        }
    }
    if let Some(n) = max_message {
        ws.max_message_size = n
            .trim()
            .parse()
            .map_err(|_| format!("--max-websocket-message-size: '{n}' is not a number of bytes"))?;
    }
    if let Some(d) = keep_alive {
        ws.keep_alive_interval = if d.eq_ignore_ascii_case("off") || d.trim() == "0" {
            None
        } else {
            Some(parse_duration(&d).map_err(|e| format!("--websocket-keep-alive-interval: {e}"))?)
        };
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
            Some("https://a.example, http://b.example:8080".into()),
            Some("2048".into()),
            Some("off".into()),
        )
        .expect("applies");
        assert_eq!(o.websocket.allowed_origins.len(), 2);
        assert_eq!(o.websocket.max_message_size, 2048);
        assert_eq!(o.websocket.keep_alive_interval, None);
        let e = apply(&mut o, Some("a.example".into()), None, None).expect_err("refused");
        assert!(e.contains("--websocket-allowed-origins"), "{e}");
        let e = apply(&mut o, None, Some("big".into()), None).expect_err("refused");
        assert!(e.contains("--max-websocket-message-size"), "{e}");
    }
}
