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

cargo test --workspace "$@"
