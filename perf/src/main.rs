//! peregrine-perf (work in progress).
fn main() {}
