#!/usr/bin/env bash
# Runs every test of the workspace. Installs what the tests need when it is missing
# (curl, nginx, python3, openssl and friends), so it works on a fresh Debian machine.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in curl nginx python3 openssl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "scripts/test.sh: missing ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
        exit 1
    fi
    echo "scripts/test.sh: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# HTTP/2 clients: nghttp and h2load (nghttp2-client), python3's h2 module.
if ! command -v h2load >/dev/null 2>&1 || ! python3 -c 'import h2' >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "scripts/test.sh: installing nghttp2-client and python3-h2"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nghttp2-client python3-h2 >/dev/null
    else
        echo "scripts/test.sh: nghttp2-client or python3's h2 missing; the HTTP/2 tests that need them skip" >&2
    fi
fi

# nginx's stream module (PROXY protocol towards the server, tests/proxy_protocol.rs).
if [ ! -e /usr/lib/nginx/modules/ngx_stream_module.so ] && [ "$(id -u)" -eq 0 ]; then
    echo "scripts/test.sh: installing libnginx-mod-stream"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libnginx-mod-stream >/dev/null || true
fi

cargo test --workspace "$@"
