#!/bin/sh
# bench/many (not a test): many journeys in flight from one process. N copies of
# bench/journey.json (5 steps, distinct names) x 2 targets (two ports of one
# private nginx), --max-concurrency >= 2N, so one round has 2N journey runs in
# flight at once. Reports peak RSS (wait4 ru_maxrss), wall, CPU, the most
# descriptors and sockets open at once, and steps per second per core
# (steps / (user + sys)). Method and numbers: docs/PERFORMANCE.md, "Many
# journeys at once".
#
# usage: bench/many/run.sh [--journeys N] [--rounds R] [--short S] [--reps K]
#                          [--max-concurrency C] [--format F] [--massif DIR]
#
#   --journeys N         journeys in the probe (default 500; x 2 targets)
#   --rounds R           rounds of the longer timed run (default 3)
#   --short S            rounds of the shorter one (default 1); memory in rounds:
#                        --journeys 1 --short 200 --rounds 2000
#   --reps K             timed runs of each length, alternating (default 3)
#   --max-concurrency C  default 2N: every journey run of a round in flight at once
#   --format F           report format, written to /dev/null (default json)
#   --massif DIR         also run one round under valgrind massif; keep
#                        DIR/massif.out and print what holds the heap at its peak
#                        and while transfers run (massif_sum.py)
#
# Needs build/twinprobe (or $TWINPROBE), nginx, python3; valgrind for --massif.
# nginx is stopped on exit, also on failure or ^C.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
twinprobe=${TWINPROBE:-$root/build/twinprobe}

journeys=500
rounds=3
short=1
reps=3
conc=
format=json
massif=

die() {
    echo "bench/many: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --journeys) journeys=${2:?}; shift 2 ;;
    --rounds) rounds=${2:?}; shift 2 ;;
    --short) short=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --max-concurrency) conc=${2:?}; shift 2 ;;
    --format) format=${2:?}; shift 2 ;;
    --massif) massif=${2:?}; shift 2 ;;
    -h | --help) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
for n in "$journeys" "$rounds" "$short" "$reps" ${conc:+"$conc"}; do
    case $n in '' | *[!0-9]*) die "not a number: '$n'" ;; esac
done
conc=${conc:-$((journeys * 2))}
[ -x "$twinprobe" ] || die "$twinprobe is missing: run make"
command -v nginx >/dev/null || die "nginx is not installed"
[ -z "$massif" ] || command -v valgrind >/dev/null || die "--massif needs valgrind"

BENCH_PASSWORD='s3cret pw' # the journey's secret (see bench/run.sh)
export BENCH_PASSWORD

# ---- a private nginx on two ports, always stopped on exit -------------------
. "$bench/nginx.sh"
port_a=$(free_port)
port_b=$(free_port)
[ "$port_a" != "$port_b" ] || port_b=$(free_port)
nginx_start twinprobe-many "$here/nginx.conf.in" "$bench/www" "$port_a" "$port_b"

# ---- the probe, checked -----------------------------------------------------
python3 "$here/gen.py" "$dir/probe" "http://127.0.0.1:$port_a" "http://127.0.0.1:$port_b" \
    --journeys "$journeys" --max-concurrency "$conc"
probe=$dir/probe/probe.json
steps_per_round=$((journeys * 2 * 5))
run_args="run --probe $probe --no-publish --fail-on never --format $format --output /dev/null"

echo "bench/many: nginx $(nginx -v 2>&1 | sed 's|.*/||') on ports $port_a and $port_b; twinprobe $("$twinprobe" --version 2>&1 | head -n 1)"
echo "bench/many: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1); open files: $(python3 -c 'import resource; print("soft %s, hard %s" % resource.getrlimit(resource.RLIMIT_NOFILE))')"
echo "bench/many: $journeys journeys x 2 targets, --max-concurrency $conc, $steps_per_round steps a round"
"$twinprobe" run --probe "$probe" --no-publish --fail-on never --format json --rounds 1 \
    --output "$dir/check.json" 2>"$dir/check.err" || { tail -5 "$dir/check.err" >&2; die "the check run failed"; }
python3 - "$dir/check.json" "$((journeys * 2))" <<'PY' || die "the check run did not pass"
import json, sys
d = json.load(open(sys.argv[1]))
bad = [(j["journey"], j["target"], s["name"], s["error"]) for j in d["journeys"]
       for s in j["steps"] if not s["ok"]]
if bad or len(d["journeys"]) != int(sys.argv[2]):
    sys.exit("bench/many: %d journey runs, failures: %s" % (len(d["journeys"]), bad[:3]))
PY
# What is in flight at once, from the runner's own state changes (slower: not timed).
# shellcheck disable=SC2086
inflight=$(python3 "$here/watch.py" --in-flight "$twinprobe" $run_args --rounds 1 | sed -n 's/.*in_flight=//p')
echo "bench/many: transfers in flight at once (one round, TWINPROBE_DEBUG): $inflight"
echo "bench/many: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# ---- timed runs, alternating lengths ------------------------------------------
: >"$dir/runs"
i=0
while [ "$i" -lt "$reps" ]; do
    for r in "$short" "$rounds"; do
        # shellcheck disable=SC2086
        t=$(python3 "$here/watch.py" "$twinprobe" $run_args --rounds "$r" 2>>"$dir/runs.err") ||
            die "twinprobe failed at $r rounds: $(tail -3 "$dir/runs.err")"
        echo "rounds=$r $t" | tee -a "$dir/runs"
    done
    i=$((i + 1))
done
echo "bench/many: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$dir/runs" "$steps_per_round" <<'PY'
import statistics, sys
rows = []
for line in open(sys.argv[1]):
    rows.append({k: float(v) for k, v in (f.split("=") for f in line.split())})
per_round = int(sys.argv[2])
print("%6s %4s %7s %7s %7s %8s %6s %8s %12s %10s" % (
    "rounds", "runs", "wall s", "user s", "sys s", "RSS MiB", "fds", "sockets",
    "steps/s/core", "steps/s"))
for r in sorted({row["rounds"] for row in rows}):
    sel = [x for x in rows if x["rounds"] == r]
    steps = per_round * r
    med = lambda k: statistics.median(x[k] for x in sel)
    rate = [steps / (x["user"] + x["sys"]) for x in sel]
    print("%6d %4d %7.2f %7.2f %7.2f %8.1f %6d %8d %12s %10.0f" % (
        r, len(sel), med("wall"), med("user"), med("sys"), med("maxrss_kib") / 1024,
        med("fds"), med("sockets"),
        "%.0f (%.0f-%.0f)" % (statistics.median(rate), min(rate), max(rate)),
        steps / med("wall")))
print("RSS is the median of ru_maxrss; fds and sockets the most open at once (sampled);")
print("steps/s/core is steps / (user + sys), median (min-max) over the runs.")
PY

# ---- where the memory goes ----------------------------------------------------
if [ -n "$massif" ]; then
    mkdir -p "$massif"
    # Every snapshot detailed, stacks deep enough to reach twinprobe's callers.
    # shellcheck disable=SC2086
    valgrind --tool=massif --threshold=0.05 --depth=60 --detailed-freq=1 \
        --massif-out-file="$massif/massif.out" "$twinprobe" $run_args --rounds 1 \
        2>"$massif/valgrind.log" || die "massif run failed (see $massif/valgrind.log)"
    echo "bench/many: massif profile of one round in $massif/massif.out"
    python3 "$here/massif_sum.py" "$massif/massif.out"
fi
