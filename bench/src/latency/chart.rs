//! The SVG latency plot of one (connections, rate) cell: every server's latency by
//! percentile, the x axis in "nines" (`-log10(1 - p)`: 50 %, 90 %, 99 %, 99.9 %, … as
//! HdrHistogram and wrk2 plots draw it, like `peregrine-load --plot`), the y axis in
//! milliseconds; one colour per server, the first repeat drawn solid and the others
//! faint behind it.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::{percent, thousands};
use super::Run;
use crate::techempower::chart::{err, LEGEND_WIDTH, PALETTE};

/// One line of the plot: the entry's index (its colour), the repeat, the points
/// (nines, milliseconds).
type Curve = (usize, u32, Vec<(f64, f64)>);

/// The x axis ends here (99.9999 %): beyond it a run of seconds has no samples.
const MAX_NINES: f64 = 6.0;

/// `-log10(1 - p/100)`: 0 at 0 %, 1 at 90 %, 2 at 99 %, …, capped at [`MAX_NINES`].
pub fn nines(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(10f64.powf(-MAX_NINES));
    -rest.log10()
}

/// The label of an x position: `0%`, `90%`, `99.9%`.
pub fn nines_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let s = format!("{p:.4}");
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// The plot of `connections` at `level` as an SVG document.
pub fn svg(run: &Run, connections: u32, level: f64) -> Result<String, String> {
    let curves: Vec<Curve> = run
        .samples
        .iter()
        .filter(|s| s.connections == connections && s.level == level && s.error.is_none())
        .filter_map(|s| {
            let i = run.entries.iter().position(|e| *e == s.entry)?;
            let points = s
                .distribution
                .iter()
                .map(|&(p, us)| (nines(p), us / 1000.0))
                .collect();
            Some((i, s.repeat, points))
        })
        .collect();
    // At least 99.9 %; a hair of rounding (99.9 % is 3.0000000000000004) adds no nine.
    let x_max = (curves
        .iter()
        .flat_map(|c| c.2.iter().map(|p| p.0))
        .fold(3.0f64, f64::max)
        - 1e-9)
        .ceil()
        .min(MAX_NINES);
    let y_max = curves
        .iter()
        .flat_map(|c| c.2.iter().map(|p| p.1))
        .fold(0.01f64, f64::max)
        * 1.1;
    // The first repeat measured, drawn solid; its rate in the title.
    let lowest = curves.iter().map(|c| c.1).min().unwrap_or(1);
    let rate = run
        .rates
        .iter()
        .find(|r| r.repeat == lowest)
        .and_then(|r| r.rates.get(run.levels.iter().position(|l| *l == level)?))
        .map(|r| format!(", {} req/s", thousands(*r)))
        .unwrap_or_default();
    let title = format!(
        "{connections} connections, {} of the lowest maximum{rate}: latency by percentile",
        percent(level)
    );
    let width = 960u32;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, 480)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(14)
            .margin_right(LEGEND_WIDTH as i32 + 40)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .x_labels(x_max as usize + 1)
            .x_label_formatter(&|x| nines_label(*x))
            .draw()
            .map_err(err)?;
        // Later repeats first, faint, so the first repeat's lines stay on top.
        let mut order: Vec<&Curve> = curves.iter().collect();
        order.sort_by_key(|c| std::cmp::Reverse(c.1));
        for (i, repeat, points) in order {
            let color = PALETTE[i % PALETTE.len()];
            let style = if *repeat == lowest {
                color.stroke_width(2)
            } else {
                color.mix(0.3).stroke_width(1)
            };
            chart
                .draw_series(LineSeries::new(points.iter().copied(), style))
                .map_err(err)?;
        }
        let text =
            TextStyle::from(("sans-serif", 13).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
        for (i, entry) in run.entries.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let lx = width as i32 - LEGEND_WIDTH as i32 - 30;
            let ly = 60 + 22 * i as i32;
            root.draw(&PathElement::new(
                [(lx, ly), (lx + 18, ly)],
                color.stroke_width(2),
            ))
            .map_err(err)?;
            root.draw(&Text::new(entry.name(), (lx + 24, ly), text.clone()))
                .map_err(err)?;
        }
        if run.repeats > 1 {
            let ly = 60 + 22 * run.entries.len() as i32 + 8;
            let lx = width as i32 - LEGEND_WIDTH as i32 - 30;
            root.draw(&Text::new(
                format!("faint: repeats {}–{}", lowest + 1, run.repeats),
                (lx, ly),
                TextStyle::from(("sans-serif", 11).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The file name of a cell's plot: `latency-c1000-50pct.svg`.
pub fn file_name(connections: u32, level: f64) -> String {
    format!(
        "latency-c{connections}-{}.svg",
        super::report::percent_tag(level)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::latency::report::tests::sample_run;

    #[test]
    fn nines_axis() {
        assert_eq!(nines(0.0), 0.0);
        assert!((nines(90.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0), MAX_NINES);
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(4.0), "99.99%");
        assert_eq!(file_name(10_000, 0.8), "latency-c10000-80pct.svg");
    }

    #[test]
    fn draws_a_curve_per_server() {
        let mut run = sample_run();
        // Curves: polylines of more than two points (ticks and legend marks have two).
        let lines = |svg: &str| {
            svg.split("<polyline")
                .skip(1)
                .filter(|p| {
                    p.split("points=\"")
                        .nth(1)
                        .is_some_and(|p| p.matches(',').count() > 2)
                })
                .count()
        };
        let svg = svg(&run, 1000, 0.5).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80]);
        assert!(svg.trim_end().ends_with("</svg>"));
        assert_eq!(lines(&svg), 4, "one line per server");
        for label in [
            "1000 connections, 50 % of the lowest maximum, 50,000 req/s",
            "peregrine-io-uring",
            "peregrine-epoll",
            "hyper",
            "nginx",
            "99.9%",
            "latency (ms)",
        ] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert!(!svg.contains("faint"));
        // A second repeat is drawn faint behind the first.
        let mut second = run.samples.clone();
        for s in &mut second {
            s.repeat = 2;
        }
        run.samples.extend(second);
        run.repeats = 2;
        let svg = super::svg(&run, 1000, 0.5).unwrap();
        assert_eq!(lines(&svg), 8);
        assert!(svg.contains("opacity=\"0.3\""));
        assert!(svg.contains("faint: repeats 2–2"));
        // 99.9 % is the last point: the axis ends there.
        assert!(svg.contains("\n99.9%\n") && !svg.contains("\n99.99%\n"));
        // A cell without samples still draws.
        assert!(super::svg(&run, 5, 0.5).is_ok_and(|s| s.contains("</svg>")));
    }
}
