#!/bin/sh
# make demo: start the demo shop twice (stable, and a canary with a slowed search
# and a changed JSON field), validate the example journeys and probes, then show
# what twinprobe does with them, and publish a run to a private redis-server.
# Every server started here is stopped on exit, also when something fails.
set -eu
BIN=${1:-build/twinprobe}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d /tmp/twinprobe-demo.XXXXXX)
PIDS=""

cleanup() {
    for pid in $PIDS; do kill "$pid" 2>/dev/null || true; done
    for pid in $PIDS; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_shop NAME ARGS...: starts a shop on a free port, sets $PORT.
start_shop() {
    name=$1
    shift
    python3 "$ROOT/tests/shop/shop.py" --port 0 --port-file "$TMP/$name.port" --quiet "$@" &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$TMP/$name.port" ]; do
        i=$((i + 1))
        if [ $i -gt 300 ]; then echo "demo: the $name shop did not start" >&2; exit 1; fi
        sleep 0.05
    done
    PORT=$(cat "$TMP/$name.port")
}

echo "== 1. The demo shop: stable, and a canary whose search is 30% slower and whose first"
echo "      search result's price became a string (both shops: lognormal latency per endpoint)"
start_shop stable --variant stable --latency 'search=40:0.1' --latency 'login=15:0.1'
STABLE="http://127.0.0.1:$PORT"
start_shop canary --variant canary --latency 'search=52:0.1' --latency 'login=15:0.1' \
    --fault 'field:search:results.0.price="12.50"'
CANARY="http://127.0.0.1:$PORT"
echo "stable: $STABLE"
echo "canary: $CANARY"

echo
echo "== 2. Validate the example journeys and probe files"
"$BIN" validate "$ROOT"/journeys/*.json "$ROOT"/probes/*.json

echo
echo "== 3. What validate catches: a journey with a typo"
cat > "$TMP/typo.json" <<'JSON'
{ "name": "typo",
  "steps": [ { "name": "search", "request": { "url": "/api/search?q={{term}}" },
               "expect": [ { "status": 200 }, { "jsonpath": "$.results[0].sku", "eqauls": "A-100" },
                           { "xpath": "//a[", "exists": true } ] } ] }
JSON
if "$BIN" validate "$TMP/typo.json"; then
    echo "demo: validate accepted a broken journey" >&2
    exit 1
fi

echo
echo "== 4. Stable against canary, 12 rounds: step k starts on both at the same instant;"
echo "      what differs between the baseline's own rounds (ids, times) is learned as noise"
export SHOP_USER=alice SHOP_PASSWORD=wonderland
echo "      (one run: the table below and the JSON report in step 5 are the same run, --report)"
set +e
"$BIN" run --location demo --rounds 12 --target "stable=$STABLE" --target "canary=$CANARY" \
    --report "json=$TMP/report.json" "$ROOT"/journeys/checkout.json
status=$?
set -e
case $status in
    0 | 1) ;;
    *) echo "demo: twinprobe run failed with exit status $status" >&2; exit 1 ;;
esac

echo
echo "== 5. What the JSON report of that same run says (the keys dashboards and CI read)"
python3 - "$TMP/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for c in report["comparisons"]:
    print(f'{c["journey"]}: {c["cand"]} vs {c["base"]}: {c["verdict"]}, score {c["score"]}')
    for s in c["steps"]:
        line = f'  {s["step"]:12} {s["verdict"]:12} delta {s["delta_pct"]}% CI [{s["ci_low_pct"]}, {s["ci_high_pct"]}]'
        print(line)
        for m in s["mismatches"]:
            print(f'      {m["kind"]} at {m["path"]}: {m["base"]} -> {m["cand"]}')
for c in report["comparisons"]:
    for s in c["steps"]:
        if s["noise"]["paths"]:
            print(f'noise learned for {s["step"]} from {s["noise"]["from"]} baseline runs: {", ".join(s["noise"]["paths"])}')
PY

echo
echo "== 6. Publish to Redis Streams: a private redis-server on a free port, and a probe file"
echo "      naming it (the same targets, journey and rounds as above)"
RPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --save '' --appendonly no --port "$RPORT" --bind 127.0.0.1 --logfile "$TMP/redis.log" &
RPID=$!
PIDS="$PIDS $RPID"
i=0
until [ "$(redis-cli -p "$RPORT" PING 2>/dev/null)" = PONG ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then echo "demo: redis-server did not start" >&2; exit 1; fi
    sleep 0.05
done
cat > "$TMP/probe.json" <<JSON
{ "location": "demo",
  "targets": [ { "name": "stable", "base_url": "$STABLE" },
               { "name": "canary", "base_url": "$CANARY" } ],
  "journeys": ["$ROOT/journeys/checkout.json"],
  "rounds": 12,
  "redis": { "url": "redis://127.0.0.1:$RPORT/0", "prefix": "twinprobe", "maxlen": 10000 },
  "spool_dir": "$TMP/spool" }
JSON
echo "redis: 127.0.0.1:$RPORT (stopped at the end)"
set +e
"$BIN" run --probe "$TMP/probe.json" --format json --output "$TMP/published.json"
pstatus=$?
set -e
case $pstatus in
    0 | 1) ;;
    *) echo "demo: publishing run failed with exit status $pstatus" >&2; exit 1 ;;
esac
echo
echo "\$ redis-cli -p $RPORT SMEMBERS twinprobe:index"
redis-cli -p "$RPORT" SMEMBERS twinprobe:index
echo
echo "\$ redis-cli -p $RPORT XRANGE twinprobe:steps:demo:checkout - + COUNT 1    (the first entry: its ID, then field and value)"
redis-cli -p "$RPORT" XRANGE twinprobe:steps:demo:checkout - + COUNT 1
echo
echo "\$ redis-cli -p $RPORT --json XRANGE twinprobe:steps:demo:checkout - +    (every entry, one line each, a few fields)"
redis-cli -p "$RPORT" --json XRANGE twinprobe:steps:demo:checkout - + > "$TMP/steps.json"
python3 - "$TMP/steps.json" <<'PY'
import json, sys
for entry_id, flat in json.load(open(sys.argv[1])):
    f = dict(zip(flat[0::2], flat[1::2]))
    print(f"{entry_id:18} round {f['round']:>2} {f['step']:12} {f['base']} {f['base_ms']:>8} ms"
          f"  {f['cand']} {f['cand_ms']:>8} ms  match {f['match']} {f['diff']}")
PY
echo
echo "\$ redis-cli -p $RPORT XRANGE twinprobe:runs:demo - +"
redis-cli -p "$RPORT" XRANGE twinprobe:runs:demo - +
echo
echo "\$ redis-cli -p $RPORT HGETALL twinprobe:latest:demo:checkout"
redis-cli -p "$RPORT" HGETALL twinprobe:latest:demo:checkout
entries=$(redis-cli -p "$RPORT" XLEN twinprobe:steps:demo:checkout)
if [ "$entries" -eq 0 ]; then
    echo "demo: nothing was published" >&2
    exit 1
fi
redis-cli -p "$RPORT" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill "$RPID" 2>/dev/null || true
wait "$RPID" 2>/dev/null || true
echo "redis-server stopped; $entries step entries were published (schema: docs/redis-schema.md)"

echo
echo "twinprobe run exited $status: 1 = the canary is worse (a HIGH step, a mismatch); the demo caught it."
