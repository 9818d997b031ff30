#!/usr/bin/env python3
"""Reads and summarises the samples of bench/fidelity/run.sh.

  summary.py extract REPORT.json   one "STEP TTFB_MS REUSED" line per step of a
                                   twinprobe JSON report (rawttfb's format)
  summary.py table SAMPLES SERVER  the tables of docs/PERFORMANCE.md from the
                                   samples file ("PROG N D REP STEP TTFB REUSED")
                                   and the server's lateness file
"""
import json
import sys
from collections import defaultdict

# Bins of ttfb - D in ms for the coarse histogram.
BINS = [(-1e9, 0.25), (0.25, 0.5), (0.5, 1), (1, 2), (2, 5), (5, 10), (10, 1e9)]
PROGS = ("raw", "twinprobe", "twinprobe2")
BIN_NAMES = ["<0.25", "0.25-0.5", "0.5-1", "1-2", "2-5", "5-10", ">=10"]


def extract(path):
    with open(path) as f:
        report = json.load(f)
    bad = 0
    for j in report["journeys"]:
        for k, s in enumerate(j["steps"]):
            t = s.get("timings_ms")
            if not s.get("ok") or t is None:
                bad += 1
                continue
            print(k + 1, "%.3f" % t["ttfb"], 1 if s.get("reused") else 0)
    if bad:
        print("summary.py: %d steps failed" % bad, file=sys.stderr)
        sys.exit(1)


def pct(v, p):
    """Type-7 percentile of a sorted list."""
    if not v:
        return float("nan")
    h = (len(v) - 1) * p
    lo = int(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


def table(samples_path, server_path):
    data = defaultdict(list)      # (prog, n, d) -> ttfbs
    reused = defaultdict(lambda: [0, 0])
    per_rep = defaultdict(list)   # (prog, n, d, rep) -> ttfbs
    with open(samples_path) as f:
        for line in f:
            prog, n, d, rep, step, ttfb, ru = line.split()
            key = (prog, int(n), int(d))
            data[key].append(float(ttfb))
            per_rep[key + (int(rep),)].append(float(ttfb))
            reused[key][0] += int(ru)
            reused[key][1] += 1
    cells = sorted({(n, d) for _, n, d in data})

    print("ttfb in ms, all steps of all repetitions pooled:")
    print()
    print("| in flight | D | program | n | p10 | p50 | p90 | p99 | max | reused |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for n, d in cells:
        for prog in PROGS:
            v = sorted(data.get((prog, n, d), []))
            if not v:
                continue
            r = reused[(prog, n, d)]
            print("| %d | %d | %s | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %d %% |" % (
                n, d, prog, len(v), pct(v, .1), pct(v, .5), pct(v, .9), pct(v, .99), v[-1],
                round(100 * r[0] / r[1])))
    print()
    print("Median difference twinprobe - raw (ms): pooled, and per repetition (raw and")
    print("twinprobe run back to back, alternating which goes first):")
    print()
    print("| in flight | D | program | pooled | per repetition | within 0.5 ms? |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, d in cells:
        b = sorted(data.get(("raw", n, d), []))
        for prog in PROGS[1:]:
            a = sorted(data.get((prog, n, d), []))
            if not a or not b:
                continue
            diff = pct(a, .5) - pct(b, .5)
            reps = sorted({k[3] for k in per_rep if k[1:3] == (n, d)})
            each = []
            for rep in reps:
                x = sorted(per_rep.get((prog, n, d, rep), []))
                y = sorted(per_rep.get(("raw", n, d, rep), []))
                if x and y:
                    each.append("%+.3f" % (pct(x, .5) - pct(y, .5)))
            print("| %d | %d | %s | %+.3f | %s | %s |" % (n, d, prog, diff, " ".join(each),
                                                         "yes" if abs(diff) <= 0.5 else "**no**"))
    print()
    print("Histogram of ttfb - D (ms), share of requests:")
    print()
    print("| in flight | D | program | " + " | ".join(BIN_NAMES) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in BINS) + " |")
    for n, d in cells:
        for prog in PROGS:
            v = data.get((prog, n, d), [])
            if not v:
                continue
            counts = [0] * len(BINS)
            for t in v:
                for i, (lo, hi) in enumerate(BINS):
                    if lo <= t - d < hi:
                        counts[i] += 1
                        break
            print("| %d | %d | %s | " % (n, d, prog) +
                  " | ".join("%.1f %%" % (100.0 * c / len(v)) for c in counts) + " |")
    if server_path:
        print()
        print("delayd's own lateness (µs, pooled medians of the runs' p50 / p99 / max):")
        print()
        print("| in flight | D | program | late p50 | late p99 | late max | read lag p50 |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        srv = defaultdict(list)
        with open(server_path) as f:
            for line in f:
                w = line.split()
                if len(w) < 5:
                    continue
                prog, n, d, rep, what = w[:5]
                fields = dict(x.split("=") for x in w[5:] if "=" in x)
                srv[(int(n), int(d), prog, what)].append(fields)
        for n, d in cells:
            for prog in PROGS:
                late = srv.get((n, d, prog, "late"), [])
                lag = srv.get((n, d, prog, "read_lag"), [])
                if not late:
                    continue

                def med(rows, key):
                    v = sorted(float(r[key]) for r in rows if key in r)
                    return pct(v, .5) if v else float("nan")
                print("| %d | %d | %s | %.0f | %.0f | %.0f | %.0f |" % (
                    n, d, prog, med(late, "p50"), med(late, "p99"), med(late, "max"),
                    med(lag, "p50")))


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "extract":
        extract(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "table":
        table(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
