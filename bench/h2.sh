#!/usr/bin/env bash
# HTTP/2 side by side: peregrine, hyper (bench/peers/peer-hyper --h2) and nginx (`http2`),
# each with one server thread pinned to CPU 0, driven by h2load (and peregrine-load --h2)
# on CPU 1 over h2c and TLS: requests/s and the server's CPU-µs per request (its user +
# system time from /proc, divided by the requests), and the client's own CPU-µs per
# request (/usr/bin/time), to compare peregrine-load with h2load.
#
#   bash bench/h2.sh [--requests N] [--conns C] [--streams M] [--path /plaintext]
#
# Needs: h2load (nghttp2-client), nginx, openssl, and release builds:
#   cargo build --release -p peregrine-cli -p peregrine-load
#   (cd bench/peers && cargo build --release -p peer-hyper)
# Set PEER_HYPER=/path/to/peer-hyper if it was built elsewhere. One run each: these
# machines are noisy, so compare within one run, not across runs.
set -euo pipefail
cd "$(dirname "$0")/.."

requests=500000 conns=16 streams=100 path=/plaintext
while [ $# -gt 0 ]; do
    case "$1" in
        --requests) requests=$2; shift 2 ;;
        --conns) conns=$2; shift 2 ;;
        --streams) streams=$2; shift 2 ;;
        --path) path=$2; shift 2 ;;
        *) echo "bench/h2.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

target="${CARGO_TARGET_DIR:-target}"
peregrine="$target/release/peregrine"
load="$target/release/peregrine-load"
hyper="${PEER_HYPER:-bench/peers/target/release/peer-hyper}"
for bin in "$peregrine" "$load" "$hyper"; do
    [ -x "$bin" ] || { echo "bench/h2.sh: $bin is missing (see the header)" >&2; exit 1; }
done
for tool in h2load nginx openssl taskset /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/h2.sh: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d /tmp/peregrine-h2bench.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench/h2.sh: nothing listens on $1" >&2
    exit 1
}
# CPU ticks (user + system) of a process and its threads.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

printf '%-10s %-5s %-14s %12s %12s %12s %8s\n' server proto client "req/s" "CPU-µs/req" "client-µs/req" failed
row() { # name proto client pid url cmd...
    local name=$1 proto=$2 client=$3 pid=$4 url=$5
    shift 5
    local before after out rps failed
    before=$(ticks "$pid")
    out=$(/usr/bin/time -f 'CLIENTCPU %U %S' "$@" 2>&1)
    after=$(ticks "$pid")
    local client_us
    client_us=$(awk -v n="$requests" '/^CLIENTCPU/ {printf "%.2f", ($2 + $3) * 1e6 / n}' <<<"$out")
    if [ "$client" = h2load ]; then
        rps=$(sed -n 's/.*finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out")
        failed=$(sed -n 's/^requests: .* \([0-9]*\) failed.*/\1/p' <<<"$out")
    else
        rps=$(sed -n 's/^ *Requests .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out" | head -1)
        failed=$(sed -n 's/^ *Errors *\(.*\)$/\1/p' <<<"$out" | head -1)
        [ "$failed" = none ] && failed=0
    fi
    local us
    us=$(awk -v t=$((after - before)) -v hz="$hz" -v n="$requests" 'BEGIN{printf "%.2f", t / hz * 1e6 / n}')
    printf '%-10s %-5s %-14s %12s %12s %12s %8s\n' "$name" "$proto" "$client" "${rps:-?}" "$us" "${client_us:-?}" "${failed:-?}"
    [ -n "$rps" ] || echo "$out" | tail -5 >&2
}

run_server() { # name h2c_port tls_port cmd... ; sets server_pid
    local name=$1
    shift
    taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
}

measure() { # name pid h2c_port tls_port
    local name=$1 pid=$2 h2c=$3 tls=$4
    wait_port "$h2c"
    wait_port "$tls"
    # Warm up, then one measured run per protocol and client.
    taskset -c 1 h2load -n 20000 -c "$conns" -m "$streams" "http://127.0.0.1:$h2c$path" >/dev/null 2>&1
    row "$name" h2c h2load "$pid" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "http://127.0.0.1:$h2c$path"
    row "$name" tls h2load "$pid" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "https://127.0.0.1:$tls$path"
    row "$name" h2c peregrine-load "$pid" "" taskset -c 1 "$load" --h2 -t 1 --no-pin -n "$requests" -c "$conns" -m "$streams" "http://127.0.0.1:$h2c$path"
    row "$name" tls peregrine-load "$pid" "" taskset -c 1 "$load" --h2 -k -t 1 --no-pin -n "$requests" -c "$conns" -m "$streams" "https://127.0.0.1:$tls$path"
}

# peregrine: one port for h2c (beside HTTP/1.1), one for TLS.
p1=$(port) p2=$(port)
run_server peregrine "$peregrine" --urls "http://127.0.0.1:$p1;https://127.0.0.1:$p2" \
    --cert "$work/cert.pem" --key "$work/key.pem" --threads 1 --no-pin --log-level warn
measure peregrine "$server_pid" "$p1" "$p2"
kill "$server_pid"

# hyper: two processes (its h2c and TLS modes are separate listeners).
p1=$(port) p2=$(port)
run_server hyper-h2c "$hyper" --h2 --listen "127.0.0.1:$p1" --threads 1
hyper_h2c=$server_pid
run_server hyper-tls "$hyper" --h2 --cert "$work/cert.pem" --key "$work/key.pem" --listen "127.0.0.1:$p2" --threads 1
hyper_tls=$server_pid
wait_port "$p1"; wait_port "$p2"
taskset -c 1 h2load -n 20000 -c "$conns" -m "$streams" "http://127.0.0.1:$p1$path" >/dev/null 2>&1
row hyper h2c h2load "$hyper_h2c" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "http://127.0.0.1:$p1$path"
row hyper tls h2load "$hyper_tls" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "https://127.0.0.1:$p2$path"
kill "$hyper_h2c" "$hyper_tls"

# nginx: one worker, http2 on both listeners.
p1=$(port) p2=$(port)
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $work/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx;
    keepalive_requests 100000000;
    http2_max_concurrent_streams $streams;
    server { listen 127.0.0.1:$p1 http2; location / { return 200 "Hello, World!"; } }
    server {
        listen 127.0.0.1:$p2 ssl http2;
        ssl_certificate $work/cert.pem;
        ssl_certificate_key $work/key.pem;
        location / { return 200 "Hello, World!"; }
    }
}
EOF
run_server nginx nginx -c "$work/nginx.conf" -e "$work/nginx/error.log"
wait_port "$p1"; wait_port "$p2"
taskset -c 1 h2load -n 20000 -c "$conns" -m "$streams" "http://127.0.0.1:$p1$path" >/dev/null 2>&1
row nginx h2c h2load "$server_pid" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "http://127.0.0.1:$p1$path"
row nginx tls h2load "$server_pid" "" taskset -c 1 h2load -n "$requests" -c "$conns" -m "$streams" "https://127.0.0.1:$p2$path"
