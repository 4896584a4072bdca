#!/usr/bin/env bash
# The open-loop latency matrix of issue 15 (see bench/README.md, "Latency under load"):
# peregrine on io_uring and on epoll, hyper and nginx, at 50 % and 80 % of the lowest
# maximum throughput, 1,000 and 10,000 connections, three repeats.
#
#   bash bench/latency.sh [--repeat 3] [--connections 1000,10000] [--duration 10s] ...
#
# Builds the `latency` runner, which builds peregrine, peregrine-load and peer-hyper in
# release (unless --no-build) and installs nginx when missing, then runs it with these
# arguments. Output: bench/out/latency-<UTC time>/. Honours CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cargo build --quiet -p peregrine-bench --bin latency
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
exec "$target/debug/latency" "$@"
