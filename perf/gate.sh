#!/usr/bin/env bash
# The instruction-count regression gate (run by .ci/run after the tests).
#
# Builds peregrine and peregrine-load in release, then measures instructions per
# request (callgrind) of plaintext and pipelined plaintext on the io_uring backend
# with the workload recorded in perf/baseline.json, and fails when a test exceeds
# its baseline by more than the tolerance (3 %).
#
#   bash perf/gate.sh                          # check
#   bash perf/gate.sh --update --why "..."     # regenerate perf/baseline.json
#
# The baseline changes only in a commit whose message says why.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== perf gate (perf/gate.sh): instructions per request against perf/baseline.json"

if ! command -v valgrind >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "perf/gate.sh: valgrind is missing: apt-get install valgrind (or run as root)" >&2
        exit 1
    fi
    echo "perf/gate.sh: installing valgrind"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
fi

target="${CARGO_TARGET_DIR:-target}"
# The measured binaries in release (the profile the baseline was taken with); the
# tool itself in the dev profile, which the tests already built.
cargo build --release -p peregrine-cli -p peregrine-load
cargo build -p peregrine-perf
exec "$target/debug/peregrine-perf" gate --no-build \
    --server "$target/release/peregrine" --load "$target/release/peregrine-load" "$@"
