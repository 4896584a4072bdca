//! peregrine-bench: criterion benches of `peregrine-protocol` (in `benches/`), the
//! TechEmpower-style harness (`techempower` binary, `src/techempower/`) and the
//! open-loop latency matrix (`latency` binary, `src/latency/`), plus the process and
//! load-generator plumbing `peregrine-perf` reuses (`harness`, `check`) and the runners'
//! shared options (`cli`).
//!
//! Linux only, like the machines it measures: the harness pins child processes with
//! `sched_setaffinity` (as `taskset` does), reads their CPU time from `/proc` and installs
//! missing tools with `apt-get`.

#[cfg(not(target_os = "linux"))]
compile_error!(
    "peregrine-bench is Linux-only (sched_setaffinity pinning, /proc, apt-get); \
     the server and peregrine-load build on macOS and FreeBSD"
);

pub mod check;
pub mod cli;
pub mod harness;
pub mod latency;
pub mod techempower;
