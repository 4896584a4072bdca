//! The SVG bar chart of one test type: requests/s grouped by connection level, one bar
//! per server (plotters' SVG backend), each bar labelled with its value.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::thousands;
use super::Run;
use crate::check::TestType;

/// The series colours (matplotlib's first six), shared with the latency plots.
pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x8c, 0x56, 0x4b),
];

/// Room for the legend, right of the plot.
pub(crate) const LEGEND_WIDTH: u32 = 130;

/// A plotters error as ours.
pub(crate) fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the chart: {e:?}")
}

/// `612345` → `612k`, `1234567` → `1.23M`.
pub fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// The chart of `test` as an SVG document.
pub fn svg(run: &Run, test: TestType) -> Result<String, String> {
    let levels = match test {
        TestType::Plaintext => &run.plaintext_connections,
        TestType::Json => &run.json_connections,
    };
    let servers = &run.servers;
    let value = |s, c| {
        run.levels
            .iter()
            .find(|l| l.server == s && l.test == test && l.connections == c && l.error.is_none())
            .and_then(|l| l.requests_per_s())
    };
    let max = levels
        .iter()
        .flat_map(|&c| servers.iter().filter_map(move |&s| value(s, c)))
        .fold(0.0f64, f64::max);
    let y_max = if max > 0.0 { max * 1.15 } else { 1.0 };
    let n = levels.len().max(1);
    let title = match test {
        TestType::Plaintext => format!(
            "plaintext, pipeline {}: requests/s by connections",
            run.environment.pipeline
        ),
        TestType::Json => "json: requests/s by connections".to_string(),
    };
    let width =
        (160 + LEGEND_WIDTH + 50 * n as u32 * (servers.len() as u32).clamp(2, 5)).clamp(700, 1300);
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, 440)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(14)
            .margin_right(LEGEND_WIDTH as i32 + 10)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc("requests/s")
            .y_label_formatter(&|v| short(*v))
            .draw()
            .map_err(err)?;
        let group = 0.8;
        let bar = group / servers.len().max(1) as f64;
        let value_style = TextStyle::from(("sans-serif", 11).into_font())
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        for (si, &server) in servers.iter().enumerate() {
            let color = PALETTE[si % PALETTE.len()];
            let bars: Vec<(f64, f64)> = levels
                .iter()
                .enumerate()
                .filter_map(|(li, &c)| Some((li as f64 + 0.1 + si as f64 * bar, value(server, c)?)))
                .collect();
            chart
                .draw_series(
                    bars.iter().map(|&(x, v)| {
                        Rectangle::new([(x, 0.0), (x + bar * 0.92, v)], color.filled())
                    }),
                )
                .map_err(err)?;
            // The legend, right of the plot.
            let lx = width as i32 - LEGEND_WIDTH as i32;
            let ly = 60 + 22 * si as i32;
            root.draw(&Rectangle::new(
                [(lx, ly - 6), (lx + 14, ly + 6)],
                color.filled(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                server.name(),
                (lx + 20, ly),
                TextStyle::from(("sans-serif", 13).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
            for &(x, v) in &bars {
                let (px, py) = chart.backend_coord(&(x + bar * 0.46, v));
                root.draw(&Text::new(short(v), (px, py - 2), value_style.clone()))
                    .map_err(err)?;
            }
        }
        let label_style =
            TextStyle::from(("sans-serif", 14).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        for (li, c) in levels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(li as f64 + 0.5, 0.0));
            root.draw(&Text::new(c.to_string(), (px, py + 6), label_style.clone()))
                .map_err(err)?;
        }
        let (px, py) = chart.backend_coord(&(n as f64 / 2.0, 0.0));
        root.draw(&Text::new("connections", (px, py + 26), label_style))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// A one-line text summary of the best of each server (for the terminal).
pub fn summary(run: &Run, test: TestType) -> String {
    run.servers
        .iter()
        .map(|&s| match super::report::best(run, s, test) {
            Some((v, c)) => format!("{} {} (c={c})", s.name(), thousands(v)),
            None => format!("{} -", s.name()),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::techempower::report::tests::sample_run;

    #[test]
    fn short_numbers() {
        assert_eq!(short(612_345.0), "612k");
        assert_eq!(short(1_234_567.0), "1.23M");
        assert_eq!(short(12.0), "12");
    }

    #[test]
    fn draws_one_bar_per_measured_level() {
        let run = sample_run();
        let svg = svg(&run, TestType::Plaintext).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        for label in [
            "650k",
            "600k",
            "150k",
            "256",
            "1024",
            "connections",
            "peregrine",
            "nginx",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        let empty = Run {
            levels: vec![],
            ..run
        };
        assert!(svg_ok(&empty));
        assert!(
            summary(&sample_run(), TestType::Plaintext).starts_with("peregrine 650,123 (c=1024)")
        );
    }

    fn svg_ok(run: &Run) -> bool {
        svg(run, TestType::Json).is_ok_and(|s| s.contains("</svg>"))
    }
}
