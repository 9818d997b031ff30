#!/bin/sh
# The side-by-side stage of the benchmark (not a test): the 5-step journey of
# bench/journey.json run by twinprobe, by two libcurl loops and by Newman and
# Step CI, against the private nginx bench/run.sh started, in one run. Method
# and numbers: docs/PERFORMANCE.md, "Side by side: rawcurl, Newman, Step CI".
#
# usage: bench/peers/run.sh --base URL [--reps K] [--single-reps S]
#                           [--journeys N] [--mid M] [--save FILE]
#   (normally through bench/run.sh: make bench BENCH_ARGS="--peers --reps 3")
#
#   --base URL         the nginx to run against (bench/run.sh passes it)
#   --single-reps S    processes of each program at one journey each (default 11)
#   --reps K           processes of each program at N journeys, and of the C
#                      programs at M journeys (default 5)
#   --journeys N       journeys in one process (default 1000)
#   --mid M            journeys for the same-work target, C programs (default 300)
#   --save FILE        also keep the raw measurements (one run a line)
#
# Programs (each passes once against nginx before anything is measured):
#   twinprobe        build/twinprobe run --rounds N ... --format json --output /dev/null
#   rawcurl          bench/rawcurl BASE N: the requests only, one keep-alive connection
#   rawcurl-extract  bench/rawcurl-extract --fresh-per-pass --extract BASE N: a new
#                    connection per journey, and the journey's captures and checks
#                    with libxml2 and jansson, as twinprobe does them
#   newman           newman run newman.collection.json -n N, JSON report to /dev/null
#   stepci           one journey: the CLI, stepci run stepci.yml; N journeys: Step CI
#                    has no iteration count, so stepci-loop.js awaits the runner's
#                    run() N times in one process (what --loadtest does per arrival)
# Each measurement is one process under bench/cputime.py (wait4: user + sys CPU,
# wall, peak RSS). Programs alternate within each repetition.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
twinprobe=${TWINPROBE:-$root/build/twinprobe}
journey=$bench/journey.json
newman=$here/node_modules/.bin/newman
stepci=$here/node_modules/.bin/stepci

base=
reps=5
single_reps=11
journeys=1000
mid=300
save=

die() {
    echo "bench/peers: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --base) base=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --single-reps) single_reps=${2:?}; shift 2 ;;
    --journeys) journeys=${2:?}; shift 2 ;;
    --mid) mid=${2:?}; shift 2 ;;
    --save) save=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,31s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$base" ] || die "--base URL is missing (bench/run.sh passes it)"
for n in "$reps" "$single_reps" "$journeys" "$mid"; do
    case $n in '' | *[!0-9]* | 0) die "not a positive number: '$n'" ;; esac
done
[ "$journeys" -gt 1 ] && [ "$mid" -gt 1 ] || die "--journeys and --mid must be above 1"
[ -x "$twinprobe" ] || die "$twinprobe is missing: run make"
for f in "$bench/rawcurl" "$bench/rawcurl-extract"; do
    [ -x "$f" ] || die "$f is missing: run make -C bench rawcurl rawcurl-extract"
done
[ -x "$newman" ] && [ -x "$stepci" ] || die "Newman and Step CI are missing: run make -C bench deps"
command -v node >/dev/null || die "node is not installed (scripts/deps.sh installs it)"

: "${BENCH_PASSWORD:=s3cret pw}"
export BENCH_PASSWORD
# Step CI: no analytics event, and its settings file in a temporary directory.
STEPCI_DISABLE_ANALYTICS=1
export STEPCI_DISABLE_ANALYTICS
dir=$(mktemp -d "${TMPDIR:-/tmp}/twinprobe-peers.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
XDG_CONFIG_HOME=$dir/config
export XDG_CONFIG_HOME

# Runs WRAPPER... (may be nothing) followed by the command line of program NAME
# for JOURNEYS journeys in one process.
with_prog() { # NAME JOURNEYS WRAPPER...
    name=$1
    len=$2
    shift 2
    case $name in
    twinprobe) "$@" "$twinprobe" run --target "b=$base" --rounds "$len" "$journey" \
        --format json --output /dev/null ;;
    rawcurl) "$@" "$bench/rawcurl" "$base" "$len" ;;
    rawcurl-extract) "$@" "$bench/rawcurl-extract" --fresh-per-pass --extract "$base" "$len" ;;
    newman) "$@" "$newman" run "$here/newman.collection.json" --env-var "base=$base" \
        --env-var "password=$BENCH_PASSWORD" -n "$len" \
        --reporters json --reporter-json-export /dev/null ;;
    stepci)
        if [ "$len" = 1 ]; then
            "$@" "$stepci" run "$here/stepci.yml" -e "base=$base" -s "password=$BENCH_PASSWORD"
        else
            "$@" node "$here/stepci-loop.js" "$here/stepci.yml" "$len" "$base"
        fi ;;
    *) die "no program $name" ;;
    esac
}
all="twinprobe rawcurl rawcurl-extract newman stepci"
c_progs="twinprobe rawcurl rawcurl-extract"

# ---- every program must pass before anything is measured --------------------
# (xmldom, Step CI's XPath parser, warns on stderr about the HTML5 pages.)
for p in $all; do
    with_prog "$p" 2 >"$dir/check.out" 2>"$dir/check.err" ||
        { cat "$dir/check.out" "$dir/check.err" >&2; die "$p does not pass against nginx"; }
done

echo
echo "bench/peers: side by side on $base, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "bench/peers: node $(node --version), newman $("$newman" --version)," \
    "stepci $(node -p "require('$here/node_modules/stepci/package.json').version")" \
    "(runner $(node -p "require('$here/node_modules/@stepci/runner/package.json').version"))"
echo "bench/peers: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench/peers: $single_reps x 1 journey per process, $reps x $journeys journeys in one process" \
    "(all programs), $reps x $mid (C programs); alternating"

# Each run appends "PROGRAM JOURNEYS USER SYS WALL MAXRSS_KIB" to $dir/runs.
measure() { # NAME JOURNEYS
    t=$(with_prog "$1" "$2" python3 "$bench/cputime.py" 2>"$dir/err") ||
        { cat "$dir/err" >&2; die "$1 failed at $2 journeys"; }
    echo "$1 $2 $t" >>"$dir/runs"
}
: >"$dir/runs"
i=1
while [ "$i" -le "$single_reps" ]; do
    for p in $all; do measure "$p" 1; done
    i=$((i + 1))
done
i=1
while [ "$i" -le "$reps" ]; do
    for p in $all; do measure "$p" "$journeys"; done
    for p in $c_progs; do measure "$p" "$mid"; done
    i=$((i + 1))
done
echo "bench/peers: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -z "$save" ] || cp "$dir/runs" "$save"

python3 "$here/summary.py" "$dir/runs" "$journeys" "$mid"
