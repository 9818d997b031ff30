#!/bin/sh
# The benchmark (not a test): twinprobe's own CPU per journey step against a
# private nginx, beside bench/rawcurl making the same requests on one reused
# libcurl easy handle. Method and numbers: docs/PERFORMANCE.md.
#
# usage: bench/run.sh [--rounds R] [--base-rounds B] [--reps K]
#                     [--cg-rounds A,C] [--no-callgrind] [--profile DIR]
#                     [--skip-engine] [--skip-peers] [--peers PEER-ARGS...]
#
#   --rounds R        journey rounds in a long timed run (default 400; 5 steps each)
#   --base-rounds B   rounds in a short timed run (default 10). CPU per step is
#                     (median CPU at R - median CPU at B) / ((R - B) x 5): start-up
#                     (dynamic linking, OpenSSL and libxml2 initialisation, loading
#                     the journey) cancels out; "incl. start-up" is CPU at R / (R x 5)
#   --reps K          timed runs of each program and length, alternating (default 5)
#   --cg-rounds A,C   callgrind runs at A and C rounds; instructions per step are
#                     (count at C - count at A) / ((C - A) x 5) (default 20,120)
#   --no-callgrind    skip the instruction counts
#   --profile DIR     keep the callgrind profiles of the C-round runs in DIR and
#                     print each program's top functions (inclusive and self)
#   --skip-engine     leave out this CPU-per-step stage
#   --skip-peers      leave out the side-by-side stage (bench/peers/run.sh:
#                     twinprobe, rawcurl, rawcurl-extract, Newman and Step CI
#                     on the same nginx); it runs after this stage
#   --peers ARGS...   everything after --peers goes to bench/peers/run.sh
#                     (see bench/peers/run.sh --help), e.g. --peers --reps 3
#
# Programs: twinprobe (`run ... --format json --output /dev/null`), rawcurl (one
# keep-alive connection for everything), rawcurl-fresh (rawcurl --fresh-per-pass:
# a new connection per journey pass, as twinprobe opens one per journey run).
#
# Needs build/twinprobe (make; or the binary named by $TWINPROBE), bench/rawcurl
# (make -C bench rawcurl), nginx, python3, and valgrind for the instruction
# counts; the side-by-side stage also needs bench/rawcurl-extract, node and
# bench/peers/node_modules (make -C bench rawcurl-extract deps). nginx is
# stopped on exit, also on failure or ^C.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
twinprobe=${TWINPROBE:-$root/build/twinprobe}
rawcurl=$here/rawcurl
journey=$here/journey.json
steps_per_pass=5

rounds=400
base_rounds=10
reps=5
cg_rounds=20,120
callgrind=1
profile=
engine=1
peers=1

die() {
    echo "bench: $*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case $1 in
    --rounds) rounds=${2:?}; shift 2 ;;
    --base-rounds) base_rounds=${2:?}; shift 2 ;;
    --reps) reps=${2:?}; shift 2 ;;
    --cg-rounds) cg_rounds=${2:?}; shift 2 ;;
    --no-callgrind) callgrind=0; shift ;;
    --profile) profile=${2:?}; shift 2 ;;
    --skip-engine) engine=0; shift ;;
    --skip-peers) peers=0; shift ;;
    --peers) shift; break ;;
    -h | --help) sed -n '2,36s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
    esac
done
cg_a=${cg_rounds%,*}
cg_c=${cg_rounds#*,}
for n in "$rounds" "$base_rounds" "$reps" "$cg_a" "$cg_c"; do
    case $n in '' | *[!0-9]*) die "not a number: '$n'" ;; esac
done
[ "$base_rounds" -lt "$rounds" ] || die "--base-rounds must be below --rounds"
[ "$cg_a" -lt "$cg_c" ] || die "--cg-rounds A,C needs A < C"
[ -x "$twinprobe" ] || die "$twinprobe is missing: run make"
[ -x "$rawcurl" ] || die "$rawcurl is missing: run make -C bench rawcurl"
command -v nginx >/dev/null || die "nginx is not installed"
if [ "$callgrind" = 1 ] && ! command -v valgrind >/dev/null; then
    echo "bench: valgrind is not installed: no instruction counts" >&2
    callgrind=0
fi

# The journey's secret: it goes through templates, urlencoding and masking.
BENCH_PASSWORD='s3cret pw'
export BENCH_PASSWORD

# ---- a private nginx, always stopped on exit -------------------------------
. "$here/nginx.sh"
port=$(free_port)
nginx_start twinprobe-bench "$here/nginx.conf.in" "$here/www" "$port"
base=http://127.0.0.1:$port

# The side-by-side stage, on the same nginx; the remaining arguments are its own.
peers_stage() {
    TWINPROBE=$twinprobe "$here/peers/run.sh" --base "$base" "$@"
}
if [ "$engine" = 0 ]; then
    [ "$peers" = 0 ] || peers_stage "$@"
    exit 0
fi

# Runs WRAPPER... (may be nothing) followed by the command line of program NAME
# for ROUNDS journey passes.
with_prog() { # NAME ROUNDS WRAPPER...
    name=$1
    len=$2
    shift 2
    case $name in
    twinprobe) "$@" "$twinprobe" run --target "b=$base" --rounds "$len" "$journey" \
        --format json --output /dev/null ;;
    rawcurl) "$@" "$rawcurl" "$base" "$len" ;;
    rawcurl-fresh) "$@" "$rawcurl" --fresh-per-pass "$base" "$len" ;;
    *) die "no program $name" ;;
    esac
}

# ---- both programs must pass before anything is measured -------------------
"$twinprobe" validate -q "$journey" || die "bench/journey.json does not validate"
"$twinprobe" run --target "b=$base" --rounds 1 "$journey" >"$dir/check.txt" ||
    { cat "$dir/check.txt" >&2; die "the journey does not pass against nginx"; }
"$rawcurl" "$base" 1 >/dev/null || die "rawcurl does not pass against nginx"

echo "bench: nginx $(nginx -v 2>&1 | sed 's|.*/||') on $base; twinprobe $("$twinprobe" --version 2>&1 | head -n 1)"
echo "bench: machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1), $(uname -r)"
echo "bench: $reps runs of each program at $rounds and at $base_rounds rounds (x $steps_per_pass steps), alternating"

# ---- CPU time (user + sys of the child), alternating ------------------------
# Each run appends "PROGRAM ROUNDS USER SYS WALL" to $dir/cpu.
measure() { # NAME ROUNDS
    t=$(with_prog "$1" "$2" python3 "$here/cputime.py") || die "$1 failed at $2 rounds"
    echo "$1 $2 $t" >>"$dir/cpu"
}
: >"$dir/cpu"
for p in twinprobe rawcurl rawcurl-fresh; do
    with_prog "$p" "$base_rounds" >/dev/null # warm-up, not measured
done
i=1
while [ "$i" -le "$reps" ]; do
    for n in "$rounds" "$base_rounds"; do
        for p in twinprobe rawcurl rawcurl-fresh; do
            measure "$p" "$n"
        done
    done
    i=$((i + 1))
done

awk -v R="$rounds" -v B="$base_rounds" -v spp="$steps_per_pass" '
function median(a, n,    i, j, t) {
    for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{ k = ++n[$1, $2]; cpu[$1, $2, k] = $3 + $4; usr[$1, $2, k] = $3; sys[$1, $2, k] = $4; wall[$1, $2, k] = $5 }
END {
    split("twinprobe rawcurl rawcurl-fresh", names, " ")
    printf "\nCPU time (user + sys), median of %d runs; per step = (CPU at %d rounds - CPU at %d rounds) / %d steps\n", n["twinprobe", R], R, B, (R - B) * spp
    printf "%-14s %9s %9s %11s %11s %14s %16s %13s\n", "program", "user s", "sys s", "CPU s @" R, "CPU s @" B, "CPU us/step", "incl. start-up", "wall ms/step"
    for (p = 1; p <= 3; p++) {
        m = names[p]
        for (r = 1; r <= 2; r++) {
            len = r == 1 ? R : B
            for (k = 1; k <= n[m, len]; k++) { a[k] = cpu[m, len, k]; u[k] = usr[m, len, k]; s[k] = sys[m, len, k]; w[k] = wall[m, len, k] }
            med[m, len] = median(a, n[m, len])
            if (r == 1) { mu = median(u, n[m, len]); ms = median(s, n[m, len]); mw = median(w, n[m, len]) }
        }
        per[m] = (med[m, R] - med[m, B]) * 1e6 / ((R - B) * spp)
        incl[m] = med[m, R] * 1e6 / (R * spp)
        printf "%-14s %9.3f %9.3f %11.3f %11.3f %14.1f %16.1f %13.3f\n", m, mu, ms, med[m, R], med[m, B], per[m], incl[m], mw * 1e3 / (R * spp)
    }
    for (q = 2; q <= 3; q++) {
        m = names[q]; lo = 1e9; hi = 0
        for (k = 1; k <= n[m, R]; k++) {
            x = cpu["twinprobe", R, k] / cpu[m, R, k]
            if (x < lo) lo = x
            if (x > hi) hi = x
        }
        printf "ratio twinprobe / %-14s %5.2f per step, %5.2f incl. start-up (runs side by side at %d rounds: %.2f to %.2f)\n", m ":", per["twinprobe"] / per[m], incl["twinprobe"] / incl[m], R, lo, hi
    }
    printf "target (at most 1.30 x rawcurl per step): %s\n", per["twinprobe"] / per["rawcurl"] <= 1.3 ? "met" : "NOT met"
}' "$dir/cpu"

# ---- instructions per step (callgrind) --------------------------------------
collected() { # OUTFILE NAME ROUNDS: the instructions callgrind counted ("Collected : N")
    with_prog "$2" "$3" valgrind --tool=callgrind --callgrind-out-file="$1" \
        >/dev/null 2>"$dir/cg.err" ||
        { cat "$dir/cg.err" >&2; die "$2 failed under callgrind"; }
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/cg.err" | tail -n 1
}
if [ "$callgrind" = 1 ]; then
    out_c=/dev/null
    [ -z "$profile" ] || mkdir -p "$profile"
    : >"$dir/ir"
    for p in twinprobe rawcurl rawcurl-fresh; do
        [ -z "$profile" ] || out_c=$profile/callgrind.$p
        echo "$p $(collected /dev/null "$p" "$cg_a") $(collected "$out_c" "$p" "$cg_c")" >>"$dir/ir"
    done
    awk -v A="$cg_a" -v C="$cg_c" -v spp="$steps_per_pass" '
    { ia[$1] = $2; ic[$1] = $3; order[++n] = $1 }
    END {
        printf "\ninstructions (callgrind); per step = (count at %d rounds - count at %d rounds) / %d steps\n", C, A, (C - A) * spp
        printf "%-14s %15s %15s %14s %16s\n", "program", "at " A " rounds", "at " C " rounds", "per step", "incl. start-up"
        for (i = 1; i <= n; i++) {
            m = order[i]; per[m] = (ic[m] - ia[m]) / ((C - A) * spp)
            printf "%-14s %15d %15d %14.0f %16.0f\n", m, ia[m], ic[m], per[m], ic[m] / (C * spp)
        }
        printf "ratio twinprobe / rawcurl:       %5.2f per step, %5.2f incl. start-up\n", per["twinprobe"] / per["rawcurl"], ic["twinprobe"] / ic["rawcurl"]
        printf "ratio twinprobe / rawcurl-fresh: %5.2f per step, %5.2f incl. start-up\n", per["twinprobe"] / per["rawcurl-fresh"], ic["twinprobe"] / ic["rawcurl-fresh"]
    }' "$dir/ir"
    if [ -n "$profile" ]; then
        for p in twinprobe rawcurl; do
            for mode in yes no; do
                echo
                echo "== $p at $cg_c rounds: top functions, $([ $mode = yes ] && echo inclusive || echo self) ($profile/callgrind.$p)"
                callgrind_annotate --inclusive=$mode "$profile/callgrind.$p" 2>/dev/null |
                    sed -n '/Ir *file:function/,/^-- /p' | grep -v '^--\|^ *$\|file:function' | head -n 30
            done
        done
    fi
fi
# ---- twinprobe validate on the examples (wall, beside --version) ------------
python3 - "$twinprobe" "$root" <<'EOF'
import glob, os, statistics, subprocess, sys, time
binary, root = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(os.path.join(root, "journeys", "*.json")) +
               glob.glob(os.path.join(root, "probes", "*.json")))
def wall(cmd, n=21):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        if subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode:
            sys.exit("bench: %s failed" % " ".join(cmd))
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3, min(ts) * 1e3, max(ts) * 1e3
v = wall([binary, "validate", "-q"] + files)
r = wall([binary, "--version"])
print("\ntwinprobe validate, %d example files (journeys/, probes/), 21 runs: median %.1f ms "
      "(%.1f-%.1f); twinprobe --version: %.1f ms (%.1f-%.1f). Target: under 10 ms." % ((len(files),) + v + r))
EOF

[ "$peers" = 0 ] || peers_stage "$@"
