//! peregrine-load (work in progress).
fn main() {}
