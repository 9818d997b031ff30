#!/bin/sh
# Installs the Debian 12 packages twinprobe needs to build, test, demo and
# benchmark, whichever are missing. As root it runs apt-get; otherwise it
# prints the command.
set -eu
packages="make gcc pkg-config libcurl4-openssl-dev libjansson-dev libxml2-dev
libhiredis-dev libpcre2-dev libcmocka-dev redis-server redis-tools python3 clang
libfuzzer-14-dev nginx stunnel4 openssl ca-certificates chromium valgrind"
# Node.js and npm, for the benchmark's pinned Newman and Step CI (make deps then
# runs bench/Makefile's deps: npm ci into bench/peers). Debian's packages only
# when no npm is on the PATH.
if ! command -v npm >/dev/null 2>&1; then
    packages="$packages nodejs npm"
fi
missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
        *" installed") ;;
        *) missing="$missing $p" ;;
    esac
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages:$missing" >&2
    echo "deps: run as root: apt-get update && $cmd" >&2
    exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
