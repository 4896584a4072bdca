//! The instruction-count regression gate: `perf/baseline.json` holds instructions per
//! request of plaintext and pipelined plaintext (io_uring backend) for a fixed workload;
//! the gate measures the same workload and fails when a test costs more than the
//! tolerance (3 %) above its baseline. The baseline changes only in a commit that says
//! why (`bash perf/gate.sh --update --why "…"`).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::callgrind::Report;
use crate::table::{num, percent, Table};
use crate::workload::{Test, Workload};

/// What the gate measures when there is no baseline yet: small enough for CI (about a
/// minute on two cores, most of it valgrind starting).
pub fn gate_workload() -> Workload {
    Workload {
        requests: 10_000,
        connections: 16,
        pipeline_depth: 16,
        warmup_requests_per_connection: 50,
        repeat: 3,
        server_threads: 1,
    }
}

/// The tests the gate watches.
pub const GATE_TESTS: [Test; 2] = [Test::Plaintext, Test::PlaintextPipelined];

/// `perf/baseline.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub about: String,
    pub commit: Option<String>,
    pub date: String,
    /// Why this baseline was (re)generated.
    pub why: Option<String>,
    pub rustc: Option<String>,
    pub valgrind: Option<String>,
    pub backend: String,
    pub tolerance_percent: f64,
    pub workload: Workload,
    /// Test name → instructions per request.
    pub instructions_per_request: BTreeMap<String, f64>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = fs::read_to_string(path)
            .map_err(|e| format!("cannot read the baseline {}: {e}", path.display()))?;
        let b: Baseline = serde_json::from_str(&text)
            .map_err(|e| format!("the baseline {} is not valid: {e}", path.display()))?;
        if b.instructions_per_request.is_empty() {
            return Err(format!("the baseline {} has no figures", path.display()));
        }
        for name in b.instructions_per_request.keys() {
            Test::parse(name).map_err(|e| format!("baseline {}: {e}", path.display()))?;
        }
        b.workload.validate()?;
        Ok(b)
    }

    /// The tests it holds.
    pub fn tests(&self) -> Vec<Test> {
        self.instructions_per_request
            .keys()
            .filter_map(|k| Test::parse(k).ok())
            .collect()
    }

    /// A baseline from a measurement.
    pub fn from_report(
        report: &Report,
        backend: &str,
        tolerance_percent: f64,
        why: Option<String>,
        rustc: Option<String>,
    ) -> Baseline {
        Baseline {
            about:
                "Instructions per request (callgrind Ir, server only) of target/release/peregrine \
                    for this workload. perf/gate.sh (in .ci/run) fails when a test exceeds its \
                    figure by more than tolerance_percent. Regenerate with `bash perf/gate.sh \
                    --update --why \"...\"` and commit it with a message that says why."
                    .to_string(),
            commit: report.commit.clone(),
            date: report.date.clone(),
            why,
            rustc,
            valgrind: report.valgrind.clone(),
            backend: backend.to_string(),
            tolerance_percent,
            workload: report.workload.clone(),
            instructions_per_request: report
                .results
                .iter()
                .filter(|m| m.backend == backend)
                .map(|m| {
                    (
                        m.test.name().to_string(),
                        (m.per_request * 10.0).round() / 10.0,
                    )
                })
                .collect(),
        }
    }
}

/// One test's comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub test: String,
    pub baseline: f64,
    pub measured: Option<f64>,
    pub change_percent: Option<f64>,
    pub ok: bool,
}

/// Compares a measurement with the baseline, test by test.
pub fn compare(baseline: &Baseline, report: &Report) -> Vec<Verdict> {
    baseline
        .instructions_per_request
        .iter()
        .map(|(name, &base)| {
            let measured = Test::parse(name)
                .ok()
                .and_then(|t| report.get(&baseline.backend, t))
                .map(|m| m.per_request);
            let change = measured.map(|m| (m - base) / base * 100.0);
            Verdict {
                test: name.clone(),
                baseline: base,
                measured,
                change_percent: change,
                ok: change.is_some_and(|c| c <= baseline.tolerance_percent),
            }
        })
        .collect()
}

/// The verdicts as a table.
pub fn table(verdicts: &[Verdict], tolerance: f64) -> String {
    let mut t = Table::new(["test", "baseline", "now", "change", "verdict"]);
    for v in verdicts {
        t.row([
            v.test.clone(),
            num(v.baseline),
            v.measured.map(num).unwrap_or_else(|| "-".into()),
            v.change_percent.map(percent).unwrap_or_else(|| "-".into()),
            if v.ok {
                "ok".to_string()
            } else if v.measured.is_none() {
                "NOT MEASURED".to_string()
            } else {
                format!("REGRESSION (> +{tolerance}%)")
            },
        ]);
    }
    t.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callgrind::Measurement;
    use std::path::PathBuf;

    fn report(plain: u64, piped: u64) -> Report {
        Report {
            tool: "instructions",
            date: "2024-01-01T00:00:00Z".into(),
            commit: Some("abc".into()),
            valgrind: Some("valgrind-3.19.0".into()),
            server: PathBuf::from("peregrine"),
            workload: gate_workload(),
            results: vec![
                Measurement::new("io-uring", Test::Plaintext, 10_000, vec![plain * 10_000]),
                Measurement::new(
                    "io-uring",
                    Test::PlaintextPipelined,
                    10_000,
                    vec![piped * 10_000],
                ),
                Measurement::new("epoll", Test::Plaintext, 10_000, vec![1]),
            ],
        }
    }

    #[test]
    fn baseline_round_trip() {
        let b = Baseline::from_report(
            &report(7000, 3900),
            "io-uring",
            3.0,
            Some("first".into()),
            None,
        );
        assert_eq!(b.instructions_per_request.len(), 2);
        assert_eq!(b.instructions_per_request["plaintext"], 7000.0);
        assert_eq!(b.tests(), vec![Test::Plaintext, Test::PlaintextPipelined]);
        let dir = std::env::temp_dir().join(format!("perf-baseline-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("baseline.json");
        fs::write(&path, serde_json::to_string_pretty(&b).unwrap()).unwrap();
        assert_eq!(Baseline::load(&path).unwrap(), b);
        fs::write(&path, "{}").unwrap();
        assert!(Baseline::load(&path).unwrap_err().contains("not valid"));
        let mut empty = b.clone();
        empty.instructions_per_request.clear();
        fs::write(&path, serde_json::to_string(&empty).unwrap()).unwrap();
        assert!(Baseline::load(&path).unwrap_err().contains("no figures"));
        let mut odd = b.clone();
        odd.instructions_per_request.insert("fortunes".into(), 1.0);
        fs::write(&path, serde_json::to_string(&odd).unwrap()).unwrap();
        assert!(Baseline::load(&path).unwrap_err().contains("fortunes"));
        assert!(Baseline::load(&dir.join("missing.json"))
            .unwrap_err()
            .contains("cannot read"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn gate_verdicts() {
        let b = Baseline::from_report(&report(7000, 4000), "io-uring", 3.0, None, None);
        // +2.9 % passes, +3.1 % fails.
        let v = compare(&b, &report(7203, 4124));
        assert!(v[0].ok, "{v:?}");
        assert!(!v[1].ok, "{v:?}");
        assert!((v[1].change_percent.unwrap() - 3.1).abs() < 1e-9);
        // Cheaper is fine.
        assert!(compare(&b, &report(5000, 2000)).iter().all(|v| v.ok));
        let text = table(&v, 3.0);
        assert!(text.contains("REGRESSION (> +3%)"), "{text}");
        assert!(text.contains("+2.9%"), "{text}");
        // A test the run did not measure fails.
        let mut missing = report(7000, 4000);
        missing
            .results
            .retain(|m| m.test != Test::PlaintextPipelined);
        let v = compare(&b, &missing);
        assert!(!v[1].ok && v[1].measured.is_none());
        assert!(table(&v, 3.0).contains("NOT MEASURED"));
    }
}
