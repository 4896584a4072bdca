#!/usr/bin/env bash
# WebSocket echo side by side: peregrine (the sample app's /ws) and hyper + tokio-tungstenite
# (bench/peers/peer-hyper-ws), each with one server thread pinned to CPU 0, driven by
# peregrine-load --ws pinned to CPU 1: 64-byte and 16 KiB binary messages, each connection
# sending one message and waiting for its echo before the next. Prints messages/s, the
# server's CPU-µs per message (its user + system time from /proc/<pid>/stat, over the
# measured run, divided by the messages), the client's own CPU-µs per message, and the
# cores the rest of the machine kept busy during the run ("other", from /proc/stat).
# No compression: peregrine-load offers no extension (and tungstenite has none).
#
#   bash bench/ws.sh [--conns C] [--small N] [--large N] [--inflight K]
#
# Needs release builds:
#   cargo build --release -p peregrine-cli -p peregrine-load
#   (cd bench/peers && cargo build --release -p peer-hyper-ws)
# With CARGO_TARGET_DIR set, the binaries are looked for there (both builds); set
# PEER_HYPER_WS=/path/to/peer-hyper-ws to name the peer directly. One run each: these
# machines are noisy, so compare within one run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

conns=16 small=200000 large=50000 inflight=1
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) conns=$2; shift 2 ;;
        --small) small=$2; shift 2 ;;
        --large) large=$2; shift 2 ;;
        --inflight) inflight=$2; shift 2 ;;
        *) echo "bench/ws.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
peregrine="$target/release/peregrine"
load="$target/release/peregrine-load"
peer_default="bench/peers/target/release/peer-hyper-ws"
[ -n "${CARGO_TARGET_DIR:-}" ] && peer_default="$CARGO_TARGET_DIR/release/peer-hyper-ws"
hyper="${PEER_HYPER_WS:-$peer_default}"
for bin in "$peregrine" "$load" "$hyper"; do
    [ -x "$bin" ] || { echo "bench/ws.sh: $bin is missing (see the header)" >&2; exit 1; }
done
for tool in taskset python3; do
    command -v "$tool" >/dev/null || { echo "bench/ws.sh: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/peregrine-wsbench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/ws.sh: nothing listens on $1" >&2
    exit 1
}
# CPU ticks (user + system) of a process and its threads.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Busy ticks (everything but idle and iowait) of the whole machine.
busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

printf '%-10s %8s %8s %12s %14s %14s %8s %7s %7s\n' \
    server size messages "msg/s" "server µs/msg" "client µs/msg" failed closes other
row() { # name pid url size messages
    local name=$1 pid=$2 url=$3 size=$4 n=$5
    local before after out json busy0 busy1 t0 t1
    json="$work/run.json"
    before=$(ticks "$pid")
    busy0=$(busy)
    t0=$(date +%s.%N)
    out=$(taskset -c 1 "$load" --ws -t 1 --no-pin -c "$conns" -n "$n" --ws-size "$size" \
        --ws-inflight "$inflight" --no-progress --json "$json" "$url" 2>&1) || true
    after=$(ticks "$pid")
    busy1=$(busy)
    t1=$(date +%s.%N)
    if [ ! -s "$json" ]; then
        echo "$out" | tail -5 >&2
        printf '%-10s %8s %8s %12s\n' "$name" "$size" "$n" "failed"
        return
    fi
    python3 - "$json" "$name" "$size" "$n" $((after - before)) "$hz" \
        $((busy1 - busy0)) "$t0" "$t1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, size, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
ticks, hz, busy = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
wall = float(sys.argv[9]) - float(sys.argv[8])
server_us = ticks / hz * 1e6 / n
client_us = r.get("cpu_per_request_us") or 0.0
client_s = r.get("cpu_s") or 0.0
# Cores the rest of the machine kept busy meanwhile: a figure above ~0.25 means the run
# shared its cores with other work and its msg/s is not to be trusted.
other = max(0.0, (busy - ticks) / hz - client_s) / wall if wall > 0 else 0.0
print(f"{name:<10} {size:>8} {n:>8} {r['requests_per_s']:>12.0f} {server_us:>14.2f} "
      f"{client_us:>14.2f} {r['errors']['failed_requests']:>8} "
      f"{r['websocket']['clean_closes']:>7} {other:>7.2f}")
PY
    rm -f "$json"
}

measure() { # name pid port
    local name=$1 pid=$2 p=$3
    wait_port "$p"
    local url="ws://127.0.0.1:$p/ws"
    # Warm up (connections, allocator), then one measured run per message size.
    taskset -c 1 "$load" --ws -t 1 --no-pin -c "$conns" -n 20000 --no-progress "$url" >/dev/null 2>&1 || true
    row "$name" "$pid" "$url" 64 "$small"
    row "$name" "$pid" "$url" 16384 "$large"
}

p=$(port)
taskset -c 0 "$peregrine" --urls "http://127.0.0.1:$p" --threads 1 --no-pin --log-level warn \
    --websocket-keep-alive-interval off >"$work/peregrine.log" 2>&1 &
pids+=($!)
measure peregrine "$!" "$p"
kill "${pids[-1]}"

p=$(port)
taskset -c 0 "$hyper" --listen "127.0.0.1:$p" --threads 1 >"$work/hyper.log" 2>&1 &
pids+=($!)
measure hyper-ws "$!" "$p"
