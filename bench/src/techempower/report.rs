//! The markdown report of a TechEmpower-style run: one requests/s table per test type
//! (servers × connection levels, plus each server's best), then every level's details
//! (latency, errors, the server's CPU per request) and the endpoint checks.

use std::fmt::Write;

use super::{Level, Run, Server};
use crate::check::TestType;

/// `1234567.8` → `1,234,568`.
pub fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".to_string();
    }
    let n = v.round().abs() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        let left = (digits.len() - i) % 3;
        if i > 0 && left == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if v < -0.5 {
        out.insert(0, '-');
    }
    out
}

/// Seconds as `5 s` or `0.5 s`.
pub fn secs(s: f64) -> String {
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s} s")
    }
}

/// Microseconds as `850us`, `3.21ms` or `1.20s`.
pub fn latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0}us")
    } else if us < 1_000_000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{:.2}s", us / 1_000_000.0)
    }
}

fn level(run: &Run, server: Server, test: TestType, conns: u32) -> Option<&Level> {
    run.levels
        .iter()
        .find(|l| l.server == server && l.test == test && l.connections == conns)
}

/// Other processes using more than this many cores during a level mark it as noisy.
pub const NOISY_CORES: f64 = 0.25;

/// The table cell of one level: requests/s (with † when other processes took more than
/// [`NOISY_CORES`]), or why there is none.
fn cell(l: Option<&Level>) -> String {
    match l {
        None => "-".to_string(),
        Some(l) if l.error.is_some() => "error".to_string(),
        Some(l) => {
            let noisy = if l.foreign_cores.is_some_and(|c| c > NOISY_CORES) {
                " †"
            } else {
                ""
            };
            match &l.load {
                Some(r) if r.errors() > 0 => format!(
                    "{}{noisy} ({} errors)",
                    thousands(r.requests_per_s),
                    r.errors()
                ),
                Some(r) => format!("{}{noisy}", thousands(r.requests_per_s)),
                None => "-".to_string(),
            }
        }
    }
}

/// The best requests/s of a server in a test type, and at how many connections.
pub fn best(run: &Run, server: Server, test: TestType) -> Option<(f64, u32)> {
    run.levels
        .iter()
        .filter(|l| l.server == server && l.test == test && l.error.is_none())
        .filter_map(|l| Some((l.requests_per_s()?, l.connections)))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// The requests/s table of one test type.
pub fn table(run: &Run, test: TestType) -> String {
    let levels = match test {
        TestType::Plaintext => &run.plaintext_connections,
        TestType::Json => &run.json_connections,
    };
    let mut s = String::from("| server |");
    for c in levels {
        let _ = write!(s, " {c} |");
    }
    s.push_str(" best |\n|---|");
    for _ in levels {
        s.push_str("---:|");
    }
    s.push_str("---:|\n");
    for &server in &run.servers {
        let _ = write!(s, "| {} |", server.name());
        for &c in levels {
            let _ = write!(s, " {} |", cell(level(run, server, test, c)));
        }
        match best(run, server, test) {
            Some((v, c)) => {
                let _ = writeln!(s, " **{}** (c={c}) |", thousands(v));
            }
            None => s.push_str(" - |\n"),
        }
    }
    s
}

/// `pinned to cpu 0,2`, or `not pinned`.
pub fn pinning(cpus: &Option<Vec<usize>>) -> String {
    match cpus {
        Some(c) => format!(
            "pinned to cpu {}",
            c.iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(",")
        ),
        None => "not pinned".to_string(),
    }
}

/// The whole markdown report; `charts` are the SVG file names per test type.
pub fn markdown(run: &Run, charts: &[(TestType, String)]) -> String {
    let e = &run.environment;
    let mut s = String::new();
    let _ = writeln!(s, "# TechEmpower-style run, {}\n", e.date);
    let _ = writeln!(
        s,
        "Commit `{}` on {} CPUs ({}), Linux {}. Each server runs {} thread(s), {}; \
         peregrine-load runs {} thread(s), {}. Per connection level: {} warm-up, then \
         {} measured (TechEmpower runs 15 s). Plaintext is pipelined {} deep.{}\n",
        e.commit
            .as_deref()
            .map(|c| &c[..c.len().min(12)])
            .unwrap_or("?"),
        e.cpus,
        e.cpu_model.as_deref().unwrap_or("unknown model"),
        e.kernel.as_deref().unwrap_or("?"),
        e.server_threads,
        pinning(&e.server_cpus),
        e.load_threads,
        pinning(&e.load_cpus),
        secs(e.warmup_s),
        secs(e.duration_s),
        e.pipeline,
        e.peregrine_backend
            .as_deref()
            .map(|b| format!(" Peregrine backend: {b}."))
            .unwrap_or_default()
    );
    for &test in &run.tests {
        let title = match test {
            TestType::Plaintext => format!("plaintext (pipeline {})", e.pipeline),
            TestType::Json => "json".to_string(),
        };
        let _ = writeln!(s, "## {title}: requests/s by connections\n");
        s.push_str(&table(run, test));
        if let Some((_, file)) = charts.iter().find(|(t, _)| *t == test) {
            let _ = writeln!(s, "\n![{title}]({file})");
        }
        s.push('\n');
    }
    s.push_str("## Details\n\n");
    s.push_str(
        "| server | test | connections | requests/s | p50 | p99 | max | errors | server CPU/req | load CPU/req | other load |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for l in &run.levels {
        let _ = write!(
            s,
            "| {} | {} | {} |",
            l.server.name(),
            l.test.name(),
            l.connections
        );
        match (&l.load, &l.error) {
            (_, Some(err)) => {
                let first = err.lines().next().unwrap_or("");
                let _ = writeln!(s, " error: {} | | | | | | | |", first.replace('|', "/"));
            }
            (Some(r), None) => {
                let _ = writeln!(
                    s,
                    " {} | {} | {} | {} | {} | {} | {} | {} |",
                    thousands(r.requests_per_s),
                    latency(r.p50_us),
                    latency(r.p99_us),
                    latency(r.max_us),
                    r.errors(),
                    l.server_cpu_us_per_request
                        .map(|c| format!("{c:.2}us"))
                        .unwrap_or_else(|| "-".into()),
                    if r.responses > 0 {
                        format!("{:.2}us", r.cpu_s * 1e6 / r.responses as f64)
                    } else {
                        "-".into()
                    },
                    l.foreign_cores
                        .map(|c| format!("{c:.2}"))
                        .unwrap_or_else(|| "-".into())
                );
            }
            (None, None) => s.push_str(" - | | | | | | | |\n"),
        }
    }
    s.push_str(
        "\n## Endpoint checks\n\n| server | test | result | Server header |\n|---|---|---|---|\n",
    );
    for c in &run.checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            c.server.name(),
            c.test.name(),
            if c.problems.is_empty() {
                "ok".to_string()
            } else {
                c.problems.join("; ").replace('|', "/")
            },
            c.server_header.as_deref().unwrap_or("-")
        );
    }
    s.push_str("\nServers:\n\n");
    for &server in &run.servers {
        let _ = writeln!(s, "- **{}**: {}", server.name(), server.description());
    }
    s.push_str(
        "\nOn a machine this small the load generator shares the work: when its CPU per \
         request is close to 1/(requests/s) it was saturated, and the server's CPU per \
         request is the steadier figure to compare. *Other load* is the CPU (in cores) \
         that other processes of the machine used during the measured run; † marks \
         levels where it exceeded 0.25 cores: run them again before comparing.\n",
    );
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::{Environment, Level, Run, Server};
    use super::*;
    use crate::harness::LoadResult;

    pub(crate) fn sample_run() -> Run {
        let load = |rps: f64, errors: u64| LoadResult {
            requests: 1000,
            responses: 1000,
            requests_per_s: rps,
            elapsed_s: 5.0,
            p50_us: 800.0,
            p99_us: 3200.0,
            p99_9_us: 6400.0,
            max_us: 12_000.0,
            status_2xx: 1000 - errors,
            failed_requests: 0,
            timeouts: 0,
            non_2xx: errors,
            connections_opened: 256,
            cpu_s: 0.002,
        };
        let lvl = |server, test, connections, rps: Option<f64>| Level {
            server,
            test,
            connections,
            pipeline: if test == TestType::Plaintext { 16 } else { 1 },
            load: rps.map(|r| load(r, if r < 1000.0 { 3 } else { 0 })),
            server_cpu_us_per_request: rps.map(|_| 1.5),
            foreign_cores: rps.map(|_| 0.05),
            error: rps.is_none().then(|| "boom | bang".to_string()),
        };
        Run {
            environment: Environment {
                date: "2024-01-01T00:00:00Z".into(),
                commit: Some("0123456789abcdef".into()),
                cpus: 2,
                cpu_model: None,
                kernel: Some("6.1".into()),
                server_cpus: Some(vec![0]),
                load_cpus: Some(vec![1]),
                server_threads: 1,
                load_threads: 1,
                duration_s: 5.0,
                warmup_s: 1.0,
                pipeline: 16,
                peregrine_backend: None,
            },
            servers: vec![Server::Peregrine, Server::Nginx],
            tests: vec![TestType::Plaintext, TestType::Json],
            plaintext_connections: vec![256, 1024],
            json_connections: vec![16],
            checks: vec![],
            levels: vec![
                lvl(Server::Peregrine, TestType::Plaintext, 256, Some(600_000.4)),
                lvl(
                    Server::Peregrine,
                    TestType::Plaintext,
                    1024,
                    Some(650_123.0),
                ),
                lvl(Server::Peregrine, TestType::Json, 16, Some(90_000.0)),
                lvl(Server::Nginx, TestType::Plaintext, 256, Some(150_000.0)),
                lvl(Server::Nginx, TestType::Plaintext, 1024, None),
                lvl(Server::Nginx, TestType::Json, 16, Some(500.0)),
            ],
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.6), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(thousands(f64::NAN), "-");
        assert_eq!(secs(5.0), "5 s");
        assert_eq!(secs(0.5), "0.5 s");
        assert_eq!(latency(850.0), "850us");
        assert_eq!(latency(3210.0), "3.21ms");
        assert_eq!(latency(1_200_000.0), "1.20s");
    }

    #[test]
    fn tables() {
        let run = sample_run();
        let t = table(&run, TestType::Plaintext);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "| server | 256 | 1024 | best |");
        assert_eq!(lines[1], "|---|---:|---:|---:|");
        assert_eq!(
            lines[2],
            "| peregrine | 600,000 | 650,123 | **650,123** (c=1024) |"
        );
        assert_eq!(
            lines[3],
            "| nginx | 150,000 | error | **150,000** (c=256) |"
        );
        let mut noisy = run.clone();
        noisy.levels[0].foreign_cores = Some(0.6);
        assert!(table(&noisy, TestType::Plaintext).contains("| 600,000 † |"));
        let j = table(&run, TestType::Json);
        assert!(j.contains("| nginx | 500 (3 errors) |"), "{j}");
        let md = markdown(&run, &[(TestType::Json, "json.svg".into())]);
        assert!(md.contains("![json](json.svg)"));
        assert!(md.contains("error: boom / bang"));
        assert!(md.contains("Commit `0123456789ab`"));
        // Every table row has as many cells as its header.
        for block in md.split("\n\n").filter(|b| b.starts_with("| ")) {
            let cols = block.lines().next().unwrap().matches('|').count();
            for line in block.lines() {
                assert_eq!(line.matches('|').count(), cols, "{line}");
            }
        }
    }
}
