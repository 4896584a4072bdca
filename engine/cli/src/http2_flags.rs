//! The HTTP/2 flags of the `peregrine` binary (`--protocols` and Kestrel's
//! `Http2Limits` as `--http2-*`), turned into `Options`. `cli.rs` takes each value from
//! whichever layer gives it (command line, environment, file) as text; the ranges are
//! checked by `Http2Limits::validate`.

use peregrine::{Options, Protocols};

use crate::cli::parse_duration;

/// Each HTTP/2 option as text, from the highest layer that gives it.
#[derive(Debug, Default)]
pub struct Http2Text {
    pub protocols: Option<String>,
    pub max_streams: Option<String>,
    pub header_table_size: Option<String>,
    pub max_frame_size: Option<String>,
    pub max_field_size: Option<String>,
    pub connection_window: Option<String>,
    pub stream_window: Option<String>,
    pub ping_delay: Option<String>,
    pub ping_timeout: Option<String>,
}

/// Apply the given values to `o`.
pub fn apply(o: &mut Options, t: Http2Text) -> Result<(), String> {
    if let Some(p) = t.protocols {
        o.protocols = p
            .parse::<Protocols>()
            .map_err(|e| format!("--protocols: {e}"))?;
    }
    let l = &mut o.http2;
    number(
        "http2-max-streams-per-connection",
        t.max_streams,
        &mut l.max_streams_per_connection,
    )?;
    number(
        "http2-header-table-size",
        t.header_table_size,
        &mut l.header_table_size,
    )?;
    number(
        "http2-max-frame-size",
        t.max_frame_size,
        &mut l.max_frame_size,
    )?;
    number(
        "http2-max-request-header-field-size",
        t.max_field_size,
        &mut l.max_request_header_field_size,
    )?;
    number(
        "http2-initial-connection-window-size",
        t.connection_window,
        &mut l.initial_connection_window_size,
    )?;
    number(
        "http2-initial-stream-window-size",
        t.stream_window,
        &mut l.initial_stream_window_size,
    )?;
    if let Some(d) = t.ping_delay {
        l.keep_alive_ping_delay = if d.eq_ignore_ascii_case("off") {
            None
        } else {
            Some(parse_duration(&d).map_err(|e| format!("--http2-keep-alive-ping-delay: {e}"))?)
        };
    }
    if let Some(d) = t.ping_timeout {
        l.keep_alive_ping_timeout =
            parse_duration(&d).map_err(|e| format!("--http2-keep-alive-ping-timeout: {e}"))?;
    }
    Ok(())
}

fn number(name: &str, text: Option<String>, into: &mut u32) -> Result<(), String> {
    if let Some(t) = text {
        *into = t
            .trim()
            .parse::<u32>()
            .map_err(|_| format!("--{name}: '{t}' is not a whole number"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_land_in_the_limits() {
        let mut o = Options::default();
        apply(
            &mut o,
            Http2Text {
                protocols: Some("http2".into()),
                max_streams: Some("7".into()),
                ping_delay: Some("3s".into()),
                ..Default::default()
            },
        )
        .expect("applies");
        assert_eq!(o.protocols, Protocols::Http2);
        assert_eq!(o.http2.max_streams_per_connection, 7);
        assert_eq!(
            o.http2.keep_alive_ping_delay,
            Some(std::time::Duration::from_secs(3))
        );
    }

    #[test]
    fn bad_values_say_which_flag() {
        let mut o = Options::default();
        let e = apply(
            &mut o,
            Http2Text {
                max_frame_size: Some("big".into()),
                ..Default::default()
            },
        )
        .expect_err("refused");
        assert!(e.contains("--http2-max-frame-size"), "{e}");
        let e = apply(
            &mut o,
            Http2Text {
                protocols: Some("h3".into()),
                ..Default::default()
            },
        )
        .expect_err("refused");
        assert!(e.contains("--protocols"), "{e}");
    }
}
