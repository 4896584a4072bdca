//! The markdown report of a latency run: each repeat's maxima and offered rates, a
//! table per (repeat, connections, rate) — achieved requests/s, p50, p99, p99.9, max,
//! errors and timeouts, the machine's other load — and the comparison of each
//! Peregrine backend with the best of hyper and nginx against the bar (p99 and max no
//! worse than [`BAR`] × theirs, in every cell of every repeat).

use std::fmt::Write;

use super::{Entry, Run, Sample};
pub use crate::techempower::report::{latency, pinning, secs, thousands, NOISY_CORES};

/// Peregrine's p99 and max may be at most this many times the best reference's.
pub const BAR: f64 = 1.2;

/// `0.5` → `50 %`.
pub fn percent(level: f64) -> String {
    format!("{} %", (level * 100.0).round())
}

/// `0.5` → `50pct` (file names).
pub fn percent_tag(level: f64) -> String {
    format!("{}pct", (level * 100.0).round())
}

/// Other load in cores, `-` when unknown.
pub fn cores(c: Option<f64>) -> String {
    c.map(|c| format!("{c:.2}")).unwrap_or_else(|| "-".into())
}

/// Whether other processes used more than [`NOISY_CORES`] during the run.
pub fn busy(foreign_cores: Option<f64>) -> bool {
    foreign_cores.is_some_and(|c| c > NOISY_CORES)
}

/// The sample of one cell.
pub fn sample(
    run: &Run,
    repeat: u32,
    entry: Entry,
    connections: u32,
    level: f64,
) -> Option<&Sample> {
    run.samples.iter().find(|s| {
        s.repeat == repeat && s.entry == entry && s.connections == connections && s.level == level
    })
}

/// One Peregrine backend against the best reference in one cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    pub repeat: u32,
    pub connections: u32,
    pub level: f64,
    pub entry: Entry,
    /// Peregrine's p99 over the lowest p99 of hyper and nginx.
    pub p99_ratio: Option<f64>,
    /// Peregrine's max over the lowest max of hyper and nginx.
    pub max_ratio: Option<f64>,
    /// Within the bar (both ratios at most [`BAR`], Peregrine without errors).
    pub pass: bool,
    /// Why it fails or what to keep in mind (errors, a busy machine, no reference).
    pub notes: Vec<String>,
}

/// `value / best`, `None` without a best.
pub fn ratio(value: f64, best: Option<f64>) -> Option<f64> {
    best.filter(|b| *b > 0.0).map(|b| value / b)
}

/// Every sample held to the bar (Peregrine's, the control's) against the best of the
/// references (hyper, nginx) measured in the same cell.
pub fn comparisons(run: &Run) -> Vec<Comparison> {
    let mut out = Vec::new();
    for s in run.samples.iter().filter(|s| s.entry.held_to_bar()) {
        let references: Vec<&Sample> = run
            .samples
            .iter()
            .filter(|r| {
                r.entry.is_reference()
                    && r.repeat == s.repeat
                    && r.connections == s.connections
                    && r.level == s.level
            })
            .collect();
        let measured: Vec<_> = references.iter().filter_map(|r| r.measured()).collect();
        let best = |f: fn(&crate::harness::LoadResult) -> f64| {
            measured.iter().map(|l| f(l)).min_by(f64::total_cmp)
        };
        let mut c = Comparison {
            repeat: s.repeat,
            connections: s.connections,
            level: s.level,
            entry: s.entry,
            p99_ratio: None,
            max_ratio: None,
            pass: false,
            notes: Vec::new(),
        };
        match s.measured() {
            None => c.notes.push("not measured".into()),
            Some(l) => {
                c.p99_ratio = ratio(l.p99_us, best(|l| l.p99_us));
                c.max_ratio = ratio(l.max_us, best(|l| l.max_us));
                if measured.is_empty() {
                    c.notes.push("no reference measured".into());
                }
                if l.errors() > 0 {
                    c.notes.push(format!("{} errors", l.errors()));
                }
                for (name, r) in [("p99", c.p99_ratio), ("max", c.max_ratio)] {
                    if r.is_some_and(|r| r > BAR) {
                        c.notes.push(format!("{name} above {BAR}×"));
                    }
                }
                c.pass = l.errors() == 0
                    && [c.p99_ratio, c.max_ratio]
                        .iter()
                        .all(|r| r.is_some_and(|r| r <= BAR));
            }
        }
        let noisy = std::iter::once(s)
            .chain(references.iter().copied())
            .filter(|x| busy(x.foreign_cores))
            .map(|x| x.entry.name())
            .collect::<Vec<_>>();
        if !noisy.is_empty() {
            c.notes
                .push(format!("machine busy during {} †", noisy.join(", ")));
        }
        out.push(c);
    }
    out
}

/// The verdict: every comparison of a Peregrine entry passes, and there is one per
/// Peregrine entry, repeat and cell (the control's are not part of it).
pub fn verdict(run: &Run, comparisons: &[Comparison]) -> bool {
    let expected = run.entries.iter().filter(|e| e.is_peregrine()).count()
        * run.repeats as usize
        * run.connections.len()
        * run.levels.len();
    let ours: Vec<&Comparison> = comparisons
        .iter()
        .filter(|c| c.entry.is_peregrine())
        .collect();
    expected > 0 && ours.len() == expected && ours.iter().all(|c| c.pass)
}

/// How the control (nginx against hyper and nginx) fared under the same bar, as a
/// sentence; `None` when it did not run. A bar that a copy of its own reference fails
/// measures the machine's noise as much as the server.
pub fn control_summary(comparisons: &[Comparison]) -> Option<String> {
    let control: Vec<&Comparison> = comparisons
        .iter()
        .filter(|c| c.entry == Entry::NginxControl)
        .collect();
    if control.is_empty() {
        return None;
    }
    let failed = control.iter().filter(|c| !c.pass).count();
    let ours = comparisons.iter().filter(|c| c.entry.is_peregrine());
    let (ours_failed, ours_total) =
        ours.fold((0, 0), |(f, t), c| (f + usize::from(!c.pass), t + 1));
    Some(format!(
        "**Control:** nginx run a second time and held to the same bar (against hyper and \
         the first nginx) fails {failed} of {} cells; Peregrine fails {ours_failed} of \
         {ours_total}. Failures at the control's rate are this machine's run-to-run noise, \
         not a difference between servers.",
        control.len()
    ))
}

fn ratio_cell(r: Option<f64>) -> String {
    match r {
        Some(r) if r > BAR => format!("**{r:.2}**"),
        Some(r) => format!("{r:.2}"),
        None => "-".into(),
    }
}

/// The table of one cell (repeat, connections, level): a row per server.
pub fn cell_table(run: &Run, repeat: u32, connections: u32, level: f64) -> String {
    let mut s = String::from(
        "| server | achieved req/s | p50 | p99 | p99.9 | max | errors / timeouts | other load |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &entry in &run.entries {
        let _ = write!(s, "| {} |", entry.name());
        match sample(run, repeat, entry, connections, level) {
            None => s.push_str(" - | | | | | | |\n"),
            Some(x) => match (&x.load, &x.error) {
                (_, Some(e)) => {
                    let first = e.lines().next().unwrap_or("").replace('|', "/");
                    let _ = writeln!(s, " error: {first} | | | | | | |");
                }
                (Some(l), None) => {
                    let missed = if x.rate_reached == Some(false) {
                        " ‡"
                    } else {
                        ""
                    };
                    let noisy = if busy(x.foreign_cores) { " †" } else { "" };
                    let _ = writeln!(
                        s,
                        " {}{missed} | {} | {} | {} | {} | {} / {} | {}{noisy} |",
                        thousands(l.requests_per_s),
                        latency(l.p50_us),
                        latency(l.p99_us),
                        latency(l.p99_9_us),
                        latency(l.max_us),
                        l.errors(),
                        l.timeouts,
                        cores(x.foreign_cores)
                    );
                }
                (None, None) => s.push_str(" - | | | | | | |\n"),
            },
        }
    }
    s
}

/// Each server's maximum in each repeat, and what fraction of it every offered rate is.
pub fn maxima_table(run: &Run) -> String {
    let mut s = String::from("| repeat | server | maximum req/s |");
    for &l in &run.levels {
        let _ = write!(s, " {} rate, of its max |", percent(l));
    }
    s.push_str(" errors | other load |\n|---:|---|---:|");
    for _ in &run.levels {
        s.push_str("---:|");
    }
    s.push_str("---:|---:|\n");
    for m in &run.maxima {
        let _ = write!(s, "| {} | {} |", m.repeat, m.entry.name());
        let rates = run.rates.iter().find(|r| r.repeat == m.repeat);
        match (m.requests_per_s(), &m.error) {
            (_, Some(e)) => {
                let first = e.lines().next().unwrap_or("").replace('|', "/");
                let _ = write!(s, " error: {first} |");
                for _ in &run.levels {
                    s.push_str(" - |");
                }
                s.push_str(" - | - |\n");
            }
            (Some(max), None) => {
                let _ = write!(s, " {} |", thousands(max));
                for i in 0..run.levels.len() {
                    match rates.and_then(|r| r.rates.get(i)) {
                        Some(rate) => {
                            let _ =
                                write!(s, " {} ({:.0} %) |", thousands(*rate), rate / max * 100.0);
                        }
                        None => s.push_str(" - |"),
                    }
                }
                let errors = m.load.as_ref().map_or(0, |l| l.errors());
                let noisy = if busy(m.foreign_cores) { " †" } else { "" };
                let _ = writeln!(s, " {errors} | {}{noisy} |", cores(m.foreign_cores));
            }
            (None, None) => {
                s.push_str(" - |");
                for _ in &run.levels {
                    s.push_str(" - |");
                }
                s.push_str(" - | - |\n");
            }
        }
    }
    s
}

/// The comparisons as a table, one row per (repeat, connections, rate, backend).
pub fn summary_table(run: &Run, comparisons: &[Comparison]) -> String {
    let mut s = String::from(
        "| repeat | connections | rate | held to the bar | p99 ratio | max ratio | verdict | notes |\n\
         |---:|---:|---|---|---:|---:|---|---|\n",
    );
    for c in comparisons {
        let rate = run
            .rates
            .iter()
            .find(|r| r.repeat == c.repeat)
            .and_then(|r| r.rates.get(run.levels.iter().position(|l| *l == c.level)?))
            .map(|r| format!("{} ({})", percent(c.level), thousands(*r)))
            .unwrap_or_else(|| percent(c.level));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            c.repeat,
            c.connections,
            rate,
            match c.entry {
                Entry::NginxControl => "nginx (control)",
                e => e.name().trim_start_matches("peregrine-"),
            },
            ratio_cell(c.p99_ratio),
            ratio_cell(c.max_ratio),
            if c.pass { "pass" } else { "FAIL" },
            c.notes.join("; ").replace('|', "/")
        );
    }
    s
}

/// The whole markdown report; `charts` are the SVG file names per (connections, level).
pub fn markdown(run: &Run, charts: &[((u32, f64), String)]) -> String {
    let e = &run.environment;
    let mut s = String::new();
    let _ = writeln!(s, "# Open-loop latency, {}\n", e.date);
    let _ = writeln!(
        s,
        "Commit `{}` on {} CPUs ({}), Linux {}. Every server runs one thread, {}; \
         `peregrine-load -t 1`, {}, sends TechEmpower's plaintext request, one at a time \
         per connection. Each repeat measures every server's maximum (closed loop, {} \
         connections, {} warm-up + {}), then offers every server the same rates — {} of \
         the lowest maximum — open loop (`--rate`: latency counted from each request's \
         scheduled time, so coordinated omission is corrected) at {} connections: {} \
         warm-up (connections opened, not measured) + {} measured, timeout {}. Each run \
         starts its server afresh.\n",
        e.commit
            .as_deref()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("?"),
        e.machine.cpus,
        e.machine.cpu_model.as_deref().unwrap_or("unknown model"),
        e.machine.kernel.as_deref().unwrap_or("?"),
        pinning(&e.server_cpus),
        pinning(&e.load_cpus),
        e.max_connections,
        secs(e.warmup_s),
        secs(e.max_duration_s),
        run.levels
            .iter()
            .map(|l| percent(*l))
            .collect::<Vec<_>>()
            .join(" and "),
        run.connections
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(" and "),
        secs(e.warmup_s),
        secs(e.duration_s),
        secs(e.timeout_s),
    );
    let _ = writeln!(
        s,
        "Listen backlog: peregrine `--backlog {b}`, nginx `backlog={b}`, hyper 4096 (fixed \
         in peer-hyper); the kernel caps each at `net.core.somaxconn` = {}. Open-files \
         limit of the servers and the generator: {}.\n",
        e.somaxconn.map_or("?".into(), |v| v.to_string()),
        e.open_files,
        b = e.backlog.map_or("default".into(), |b| b.to_string()),
    );
    let comparisons = comparisons(run);
    let pass = verdict(run, &comparisons);
    let _ = writeln!(
        s,
        "**Verdict: {}** — the bar: Peregrine's p99 and max on every backend no worse \
         than {BAR}× the best of hyper and nginx, in every cell of every repeat.\n",
        if pass { "pass" } else { "not met" }
    );
    if let Some(control) = control_summary(&comparisons) {
        let _ = writeln!(s, "{control}\n");
    }
    s.push_str("## Maxima and offered rates\n\n");
    s.push_str(&maxima_table(run));
    s.push_str("\n## Peregrine (and the control) against the best of hyper and nginx\n\n");
    s.push_str(&summary_table(run, &comparisons));
    s.push_str(
        "\nA ratio is the figure of the server held to the bar over the lowest of hyper's \
         and nginx's (the first nginx: the control is not a reference) in the same cell; \
         above the bar in **bold**.\n",
    );
    for &connections in &run.connections {
        for &level in &run.levels {
            let _ = writeln!(
                s,
                "\n## {connections} connections, {} of the lowest maximum\n",
                percent(level)
            );
            if let Some((_, file)) = charts.iter().find(|(k, _)| *k == (connections, level)) {
                let _ = writeln!(s, "![latency by percentile]({file})\n");
            }
            for r in 1..=run.repeats {
                let rate = run
                    .rates
                    .iter()
                    .find(|x| x.repeat == r)
                    .and_then(|x| x.rates.get(run.levels.iter().position(|l| *l == level)?));
                let _ = writeln!(
                    s,
                    "Repeat {r}: {} req/s offered\n",
                    rate.map_or("no rate".into(), |r| thousands(*r))
                );
                s.push_str(&cell_table(run, r, connections, level));
                s.push('\n');
            }
        }
    }
    let _ = writeln!(
        s,
        "Columns: *achieved req/s* — responses and failures per second over the measured \
         part (‡: below 90 % of the offered rate, the generator or the server could not \
         keep up, and the latencies understate); *p50 … max* — latency from each \
         request's scheduled send time to its whole response; *errors / timeouts* — \
         requests that failed or got a non-2xx answer, and of them those not answered \
         within the timeout; *other load* — CPU (in cores) other processes of the machine \
         used during the measured part; † marks runs above {NOISY_CORES} cores: repeat \
         them before believing a difference."
    );
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{Environment, Maximum, Rates};
    use super::*;
    use crate::harness::{LoadResult, Machine};

    pub(crate) fn load(rps: f64, p99_us: f64, max_us: f64, errors: u64) -> LoadResult {
        LoadResult {
            requests: 1000,
            responses: 1000,
            requests_per_s: rps,
            elapsed_s: 10.0,
            p50_us: p99_us / 4.0,
            p99_us,
            p99_9_us: p99_us * 2.0,
            max_us,
            status_2xx: 1000 - errors,
            failed_requests: 0,
            timeouts: 0,
            non_2xx: errors,
            connections_opened: 1000,
            cpu_s: 1.0,
        }
    }

    /// One repeat, 1000 connections, 50 %: peregrine-io-uring within the bar, epoll
    /// 1.5× hyper's max.
    pub(crate) fn sample_run() -> Run {
        let s = |entry, p99: f64, max: f64, foreign: f64| Sample {
            repeat: 1,
            entry,
            connections: 1000,
            level: 0.5,
            rate: 50_000.0,
            load: Some(load(49_990.0, p99, max, 0)),
            distribution: vec![(0.0, 80.0), (50.0, p99 / 4.0), (99.0, p99), (99.9, max)],
            rate_reached: Some(true),
            server_cpu_us_per_request: Some(9.0),
            foreign_cores: Some(foreign),
            error: None,
        };
        let max = |entry, rps: f64| Maximum {
            repeat: 1,
            entry,
            connections: 1000,
            load: Some(load(rps, 5000.0, 9000.0, 0)),
            foreign_cores: Some(0.1),
            error: None,
        };
        Run {
            environment: Environment {
                date: "2024-01-01T00:00:00Z".into(),
                commit: Some("0123456789abcdef".into()),
                machine: Machine {
                    cpus: 2,
                    cpu_model: None,
                    kernel: Some("6.1".into()),
                },
                server_cpus: Some(vec![0]),
                load_cpus: Some(vec![1]),
                duration_s: 10.0,
                warmup_s: 2.0,
                max_duration_s: 5.0,
                max_connections: 1000,
                timeout_s: 10.0,
                backlog: Some(65535),
                somaxconn: Some(4096),
                open_files: 20000,
            },
            entries: super::super::ENTRIES.to_vec(),
            repeats: 1,
            connections: vec![1000],
            levels: vec![0.5],
            maxima: vec![
                max(Entry::PeregrineIoUring, 120_000.0),
                max(Entry::PeregrineEpoll, 110_000.0),
                max(Entry::Hyper, 100_000.0),
                Maximum {
                    error: Some("boom | bang\nmore".into()),
                    ..max(Entry::Nginx, 0.0)
                },
            ],
            rates: vec![Rates {
                repeat: 1,
                lowest_max: 100_000.0,
                rates: vec![50_000.0],
            }],
            samples: vec![
                s(Entry::PeregrineIoUring, 1100.0, 5000.0, 0.1),
                s(Entry::PeregrineEpoll, 900.0, 7500.0, 0.1),
                s(Entry::Hyper, 1000.0, 5000.0, 0.6),
                s(Entry::Nginx, 2000.0, 4000.0, 0.0),
            ],
        }
    }

    #[test]
    fn formats() {
        assert_eq!(percent(0.5), "50 %");
        assert_eq!(percent(0.8), "80 %");
        assert_eq!(percent_tag(0.8), "80pct");
        assert_eq!(cores(Some(0.256)), "0.26");
        assert_eq!(cores(None), "-");
        assert!(busy(Some(0.3)) && !busy(Some(0.2)) && !busy(None));
        assert_eq!(ratio(3.0, Some(2.0)), Some(1.5));
        assert_eq!(ratio(3.0, Some(0.0)), None);
        assert_eq!(ratio(3.0, None), None);
    }

    #[test]
    fn ratios_against_the_best_reference() {
        let run = sample_run();
        let c = comparisons(&run);
        assert_eq!(c.len(), 2);
        // p99: best is hyper's 1000 us; max: best is nginx's 4000 us.
        assert_eq!(c[0].entry, Entry::PeregrineIoUring);
        assert_eq!(c[0].p99_ratio, Some(1.1));
        assert_eq!(c[0].max_ratio, Some(1.25));
        assert!(!c[0].pass);
        assert_eq!(c[1].p99_ratio, Some(0.9));
        assert_eq!(c[1].max_ratio, Some(1.875));
        assert!(c[1].notes.iter().any(|n| n == "max above 1.2×"));
        assert!(c[1].notes.iter().any(|n| n.contains("busy during hyper †")));
        assert!(!verdict(&run, &c));

        let mut good = run.clone();
        good.samples[0].load = Some(load(49_990.0, 1000.0, 4800.0, 0));
        good.samples[1].load = Some(load(49_990.0, 1200.0, 4000.0, 0));
        let c = comparisons(&good);
        assert!(c.iter().all(|c| c.pass), "{c:?}");
        assert!(verdict(&good, &c));

        // Errors fail a cell whatever the ratios; a missing cell fails the verdict.
        let mut errors = good.clone();
        errors.samples[0].load = Some(load(49_990.0, 500.0, 500.0, 3));
        let c = comparisons(&errors);
        assert!(!c[0].pass && c[0].notes.contains(&"3 errors".to_string()));
        let mut missing = good.clone();
        missing.samples.remove(1);
        assert!(!verdict(&missing, &comparisons(&missing)));
        // Without a reference there is no ratio, so no pass.
        let mut alone = good.clone();
        alone.samples.retain(|s| s.entry.is_peregrine());
        let c = comparisons(&alone);
        assert!(c.iter().all(|c| !c.pass && c.p99_ratio.is_none()));
        assert!(c[0].notes.contains(&"no reference measured".to_string()));
    }

    /// The control is compared as Peregrine is, against the references only (never
    /// against itself), and stays out of the verdict.
    #[test]
    fn the_control_is_judged_but_not_in_the_verdict() {
        let mut run = sample_run();
        run.samples[0].load = Some(load(49_990.0, 1000.0, 4800.0, 0));
        run.samples[1].load = Some(load(49_990.0, 1200.0, 4000.0, 0));
        assert!(control_summary(&comparisons(&run)).is_none());
        // The control: nginx again, with a p99 1.5× hyper's.
        let mut control = run.samples[3].clone();
        control.entry = Entry::NginxControl;
        control.load = Some(load(49_990.0, 1500.0, 4000.0, 0));
        run.samples.push(control);
        let c = comparisons(&run);
        assert_eq!(c.len(), 3);
        let control = c.iter().find(|c| c.entry == Entry::NginxControl).unwrap();
        assert_eq!(control.p99_ratio, Some(1.5));
        assert!(!control.pass);
        // A control faster than every reference is not its own best reference.
        let mut fast = run.clone();
        fast.samples[4].load = Some(load(49_990.0, 10.0, 20.0, 0));
        let c2 = comparisons(&fast);
        let fc = c2.iter().find(|c| c.entry == Entry::NginxControl).unwrap();
        assert_eq!(fc.p99_ratio, Some(0.01));
        assert!(
            verdict(&run, &c),
            "the control's failure is not Peregrine's"
        );
        let line = control_summary(&c).unwrap();
        assert!(
            line.contains("fails 1 of 1 cells; Peregrine fails 0 of 2"),
            "{line}"
        );
        let sm = summary_table(&run, &c);
        assert!(
            sm.contains("| nginx (control) | **1.50** | 1.00 | FAIL |"),
            "{sm}"
        );
        let md = markdown(&run, &[]);
        assert!(
            md.contains("**Verdict: pass**") && md.contains("**Control:**"),
            "{md}"
        );
    }

    #[test]
    fn tables() {
        let run = sample_run();
        let t = cell_table(&run, 1, 1000, 0.5);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0],
            "| server | achieved req/s | p50 | p99 | p99.9 | max | errors / timeouts | other load |"
        );
        assert_eq!(
            lines[2],
            "| peregrine-io-uring | 49,990 | 275us | 1.10ms | 2.20ms | 5.00ms | 0 / 0 | 0.10 |"
        );
        assert_eq!(
            lines[4],
            "| hyper | 49,990 | 250us | 1.00ms | 2.00ms | 5.00ms | 0 / 0 | 0.60 † |"
        );
        let mut missed = run.clone();
        missed.samples[3].rate_reached = Some(false);
        missed.samples[2].error = Some("the server exited".into());
        let t = cell_table(&missed, 1, 1000, 0.5);
        assert!(t.contains("| nginx | 49,990 ‡ |"), "{t}");
        assert!(t.contains("| hyper | error: the server exited |"), "{t}");

        let m = maxima_table(&run);
        assert!(
            m.contains("| 1 | peregrine-epoll | 110,000 | 50,000 (45 %) | 0 | 0.10 |"),
            "{m}"
        );
        assert!(
            m.contains("| 1 | nginx | error: boom / bang | - | - | - |"),
            "{m}"
        );

        let c = comparisons(&run);
        let sm = summary_table(&run, &c);
        assert!(
            sm.contains("| 1 | 1000 | 50 % (50,000) | io-uring | 1.10 | **1.25** | FAIL |"),
            "{sm}"
        );

        let md = markdown(&run, &[((1000, 0.5), "c1000-50pct.svg".into())]);
        assert!(md.contains("**Verdict: not met**"));
        assert!(md.contains("![latency by percentile](c1000-50pct.svg)"));
        assert!(md.contains("`--backlog 65535`") && md.contains("somaxconn` = 4096"));
        assert!(md.contains("Repeat 1: 50,000 req/s offered"));
        // Every table row has as many cells as its header.
        for block in md.split("\n\n").filter(|b| b.starts_with("| ")) {
            let cols = block.lines().next().unwrap().matches('|').count();
            for line in block.lines() {
                assert_eq!(line.matches('|').count(), cols, "{line}");
            }
        }
    }
}
