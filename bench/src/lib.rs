//! peregrine-bench: criterion benches of `peregrine-protocol` (in `benches/`) and the
//! TechEmpower-style harness (`techempower` binary, `src/techempower/`), plus the
//! process and load-generator plumbing `peregrine-perf` reuses (`harness`, `check`).

pub mod check;
pub mod harness;
pub mod techempower;
