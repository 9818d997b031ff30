#!/bin/sh
# Timing fidelity: the ttfb twinprobe reports beside the raw libcurl loop's
# (rawttfb), against delayd answering after exactly D ms, at 1 and at 500
# journey runs in flight. Runs alternate (raw then twinprobe, then the other
# way round) so that both meet the same machine. See docs/PERFORMANCE.md,
# "Timings you can trust".
set -eu

usage() {
    cat <<EOF
usage: run.sh [--reps N] [--delays "5 50 200"] [--inflight "1 500"] [--steps K]
              [--keep DIR] [--also TWINPROBE2] [--raw-batch K]
  --reps N       repetitions of each (D, in flight) cell per program (default 3)
  --delays LIST  server delays D in ms (default "5 50 200")
  --inflight L   journey runs in flight (default "1 500")
  --steps K      GET /delay/D steps per journey (default 2)
  --keep DIR     keep samples, reports and the summary in DIR
  --raw-batch K  rawttfb collects at most K finished transfers per pass
                 (default: all, as twinprobe's runner does)
  --also PATH    a second twinprobe build (a change under test), run in the same
                 alternation and reported as "twinprobe2"
environment: TWINPROBE (default build/twinprobe from the top directory)
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
TWINPROBE=${TWINPROBE:-$top/build/twinprobe}
reps=3 delays="5 50 200" inflight="1 500" steps=2 keep='' also='' raw_opts=''
while [ $# -gt 0 ]; do
    case $1 in
    --reps) reps=$2; shift 2 ;;
    --delays) delays=$2; shift 2 ;;
    --inflight) inflight=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --also) also=$2; shift 2 ;;
    --raw-batch) raw_opts="--batch $2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
for f in "$TWINPROBE" "$here/delayd" "$here/rawttfb"; do
    [ -x "$f" ] || { echo "run.sh: $f missing (make all; make -C bench/fidelity build)" >&2; exit 2; }
done

# 500 connections from the client, 500 in the server, a few hundred in TIME_WAIT.
# shellcheck disable=SC3045 # dash and bash both have ulimit -n and -H
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 4096 ]; then
    ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/fidelity.XXXXXX")
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/delayd" 0 >"$work/delayd.out" &
server_pid=$!
i=0
while ! grep -q '^port ' "$work/delayd.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt 50 ] || { echo "run.sh: delayd did not start" >&2; exit 1; }
    sleep 0.1
done
port=$(awk '/^port /{print $2}' "$work/delayd.out")
base=http://127.0.0.1:$port

# The journey, once per run in flight (names must differ within a run).
maxn=0
for n in $inflight; do [ "$n" -gt "$maxn" ] && maxn=$n; done
mkdir -p "$work/journeys"
k=1
while [ $k -le "$maxn" ]; do
    {
        printf '{ "name": "delay-%04d", "steps": [' "$k"
        s=1
        while [ $s -le "$steps" ]; do
            [ $s -gt 1 ] && printf ','
            printf '\n  { "name": "s%d", "request": { "method": "GET", "url": "/delay/{{d}}" },' "$s"
            printf ' "expect": [ { "status": 200 } ] }'
            s=$((s + 1))
        done
        printf '\n] }\n'
    } >"$work/journeys/j$k.json"
    k=$((k + 1))
done

# Rounds per run: about 400 samples at 1 in flight (fewer for long D), 2 rounds at 500.
rounds_for() { # N D
    if [ "$1" -eq 1 ]; then
        r=$((2000 / ($2 * steps))); [ $r -lt 15 ] && r=15; [ $r -gt 200 ] && r=200
        echo $r
    else
        echo 2
    fi
}

samples=$work/samples.txt server=$work/server.txt
: >"$samples"; : >"$server"

run_one() { # PROG N D REP
    prog=$1 n=$2 d=$3 rep=$4
    rounds=$(rounds_for "$n" "$d")
    curl -s "$base/stats/reset" >/dev/null
    bin=$TWINPROBE
    [ "$prog" = twinprobe2 ] && bin=$also
    if [ "$prog" = raw ]; then
        # shellcheck disable=SC2086
        "$here/rawttfb" $raw_opts "$base" "/delay/$d" "$n" "$rounds" "$steps" >"$work/one.txt"
    else
        set --
        k=1
        while [ $k -le "$n" ]; do set -- "$@" "$work/journeys/j$k.json"; k=$((k + 1)); done
        "$bin" run --target "fid=$base" --variable "d=$d" --rounds "$rounds" \
            --max-concurrency "$n" --format json --output "$work/report.json" --no-publish \
            --quiet "$@" || { echo "run.sh: twinprobe failed (N=$n D=$d)" >&2; exit 1; }
        python3 "$here/summary.py" extract "$work/report.json" >"$work/one.txt"
        if [ -n "$keep" ]; then cp "$work/report.json" "$work/report-$n-$d-$rep.json"; fi
    fi
    sed "s/^/$prog $n $d $rep /" "$work/one.txt" >>"$samples"
    curl -s "$base/stats" | sed "s/^/$prog $n $d $rep /" >>"$server"
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uptime | sed 's/.*load/load/')"
[ -z "$also" ] || echo "# twinprobe2: $also"
echo "# twinprobe: $TWINPROBE; delayd on port $port; $steps steps per journey;" \
    "rawttfb ${raw_opts:-(all finished transfers per pass)}"
rep=1
while [ "$rep" -le "$reps" ]; do
    for d in $delays; do
        for n in $inflight; do
            if [ $((rep % 2)) -eq 1 ]; then order="raw twinprobe${also:+ twinprobe2}"
            else order="${also:+twinprobe2 }twinprobe raw"; fi
            for prog in $order; do run_one "$prog" "$n" "$d" "$rep"; done
        done
    done
    echo "# repetition $rep done, $(uptime | sed 's/.*load/load/')"
    rep=$((rep + 1))
done
python3 "$here/summary.py" table "$samples" "$server" | tee "$work/summary.md"
if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$work"/samples.txt "$work"/server.txt "$work"/summary.md "$keep"/
    for f in "$work"/report-*.json; do [ ! -e "$f" ] || cp "$f" "$keep"/; done
fi
