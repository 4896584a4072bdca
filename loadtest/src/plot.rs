//! The `--plot` SVG: the latency-by-percentile curve (x axis in "nines", as HdrHistogram
//! plots draw it) above the throughput and error rate per second.

use crate::report::Report;
use plotters::prelude::*;

/// Render the report's charts as an SVG document.
pub fn svg(report: &Report) -> Result<String, String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 800)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(420);
        latency_chart(&top, report)?;
        throughput_chart(&bottom, report)?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("cannot draw the plot: {e:?}")
}

/// `-log10(1 - p)`: 0 at p=0, 1 at 90 %, 2 at 99 %, …
fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-6);
    -rest.log10()
}

fn latency_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
) -> Result<(), String> {
    let points: Vec<(f64, f64)> = report
        .latency_distribution
        .iter()
        .map(|p| (nines(p.percentile), p.latency_us / 1000.0))
        .collect();
    let x_max = points
        .iter()
        .map(|p| p.0)
        .fold(2.0f64, f64::max)
        .ceil()
        .min(6.0);
    let y_max = points.iter().map(|p| p.1).fold(0.001f64, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!("Latency by percentile — {}", report.setup.target),
            ("sans-serif", 18),
        )
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels((x_max as usize) + 1)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            let s = format!("{p:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            format!("{s}%")
        })
        .draw()
        .map_err(err)?;
    chart
        .draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
        .map_err(err)?;
    Ok(())
}

fn throughput_chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    report: &Report,
) -> Result<(), String> {
    let n = report.timeline.len().max(1);
    let y_max = report
        .timeline
        .iter()
        .map(|t| t.responses.max(t.errors))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let mut chart = ChartBuilder::on(area)
        .caption("Throughput over time", ("sans-serif", 18))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("second")
        .y_desc("per second")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .draw()
        .map_err(err)?;
    let responses = report
        .timeline
        .iter()
        .map(|t| (t.second as f64 + 0.5, t.responses as f64));
    chart
        .draw_series(LineSeries::new(responses, BLUE.stroke_width(2)))
        .map_err(err)?
        .label("responses/s")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    let errors = report
        .timeline
        .iter()
        .map(|t| (t.second as f64 + 0.5, t.errors as f64));
    chart
        .draw_series(LineSeries::new(errors, RED.stroke_width(2)))
        .map_err(err)?
        .label("errors/s")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Report, Setup};
    use crate::stats::Stats;

    #[test]
    fn svg_is_well_formed() {
        let mut s = Stats::new();
        for i in 0..500u64 {
            s.record_response(200, 10_000 + i * 100, (i / 100) as usize);
        }
        let setup = Setup {
            target: "http://h/<&>".into(),
            scheme: "http",
            protocol: "http/1.1",
            tls_verify: None,
            method: "GET".into(),
            backend: "epoll",
            threads: 1,
            connections: 1,
            pipeline: 1,
            streams: 1,
            mode: "closed",
            duration_s: Some(5.0),
            requests: None,
            warmup_s: 0.0,
            rate: None,
            timeout_s: 1.0,
            websocket: None,
        };
        let r = Report::new(setup, &s, 5.0, None);
        let svg = svg(&r).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..50]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("Latency by percentile"));
        assert!(svg.contains("&lt;&amp;&gt;"), "target text is escaped");
        assert!(svg.contains("polyline"));
        // An empty run still draws.
        let empty = Report::new(r.setup.clone(), &Stats::new(), 1.0, None);
        assert!(svg_ok(&empty));
    }

    fn svg_ok(r: &Report) -> bool {
        svg(r).is_ok_and(|s| s.contains("</svg>"))
    }
}
