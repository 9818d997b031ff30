#!/usr/bin/env python3
"""Summarises bench/peers/run.sh's measurements as Markdown tables.

usage: summary.py RUNS JOURNEYS MID

RUNS has one process a line: "PROGRAM JOURNEYS USER SYS WALL MAXRSS_KIB"
(bench/cputime.py's fields after the program and its journey count). Figures
are medians over the repetitions; "spread" is the lowest and highest value.
Ratios are of medians; "paired" ratios are taken within each repetition (the
programs ran one after another) and their range is shown.
"""
import statistics
import sys

PROGRAMS = ["twinprobe", "rawcurl", "rawcurl-extract", "newman", "stepci"]
FLOOR, SAME = "rawcurl", "rawcurl-extract"


def load(path):
    runs = {}
    for line in open(path):
        f = line.split()
        if len(f) != 6:
            continue
        prog, n = f[0], int(f[1])
        runs.setdefault((prog, n), []).append(
            {"cpu": float(f[2]) + float(f[3]), "wall": float(f[4]), "rss": int(f[5]) / 1024.0})
    return runs


def med(rs, key):
    return statistics.median(r[key] for r in rs)


def spread(rs, key, scale=1.0, fmt="%.3f"):
    vals = [r[key] * scale for r in rs]
    return (fmt + "–" + fmt) % (min(vals), max(vals))


def paired(runs, a, b, n, fmt="%.2f"):
    """Range of CPU(a) / CPU(b) over the repetitions at n journeys."""
    ra, rb = runs.get((a, n), []), runs.get((b, n), [])
    xs = [x["cpu"] / y["cpu"] for x, y in zip(ra, rb) if y["cpu"] > 0]
    return (fmt + "–" + fmt) % (min(xs), max(xs)) if xs else "n/a"


def table(runs, n, progs, single):
    reps = len(runs.get(("twinprobe", n), []))
    print()
    if n == 1:
        print("One journey per process (%d processes of each, median; spread = lowest–highest)" % reps)
    else:
        print("%d journeys in one process (%d processes of each, median; spread = lowest–highest)" % (n, reps))
    print()
    head = ["program", "wall s", "CPU s (user+sys)", "CPU spread s", "peak RSS MiB"]
    if n > 1:
        head += ["CPU ms/journey", "excl. start-up ms/journey"]
    head += ["CPU × rawcurl", "CPU × rawcurl-extract"]
    print("| " + " | ".join(head) + " |")
    print("|" + " --- |" * len(head))
    cpu = {p: med(runs[(p, n)], "cpu") for p in progs if (p, n) in runs}
    for p in progs:
        rs = runs.get((p, n))
        if not rs:
            continue
        row = [p, "%.3f" % med(rs, "wall"), "%.4f" % cpu[p], spread(rs, "cpu", fmt="%.4f"),
               "%.1f" % med(rs, "rss")]
        if n > 1:
            row.append("%.3f" % (cpu[p] * 1e3 / n))
            if (p, 1) in single:
                row.append("%.3f" % ((cpu[p] - med(single[(p, 1)], "cpu")) * 1e3 / (n - 1)))
            else:
                row.append("n/a")
        row += ["%.2f" % (cpu[p] / cpu[FLOOR]), "%.2f" % (cpu[p] / cpu[SAME])]
        print("| " + " | ".join(row) + " |")
    return cpu


def main():
    if len(sys.argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    runs = load(sys.argv[1])
    n, m = int(sys.argv[2]), int(sys.argv[3])
    single = {k: v for k, v in runs.items() if k[1] == 1}
    c1 = table(runs, 1, PROGRAMS, single)
    cn = table(runs, n, PROGRAMS, single)
    cm = table(runs, m, ["twinprobe", "rawcurl", "rawcurl-extract"], single)

    print()
    print("Targets (CPU = user + sys; paired = within each repetition, lowest–highest)")
    print()
    for peer in ("newman", "stepci"):
        print("- %s / twinprobe CPU: %.1f× at %d journeys in one process (paired %s), "
              "%.1f× at one journey per process (paired %s); target ≥ 100×: %s" % (
                  peer, cn[peer] / cn["twinprobe"], n, paired(runs, peer, "twinprobe", n, "%.1f"),
                  c1[peer] / c1["twinprobe"], paired(runs, peer, "twinprobe", 1, "%.1f"),
                  "met" if cn[peer] / cn["twinprobe"] >= 100 else "NOT met"))
    incl = cm["twinprobe"] / cm[SAME]
    excl = (cm["twinprobe"] - c1["twinprobe"]) / (cm[SAME] - c1[SAME])
    print("- twinprobe / rawcurl-extract CPU per journey at %d journeys: %.2f× incl. start-up "
          "(paired %s), %.2f× without start-up (CPU at %d − CPU at 1); target ≤ 1.3×: %s" % (
              m, incl, paired(runs, "twinprobe", SAME, m), excl, m,
              "met" if incl <= 1.3 else "NOT met"))
    print("- twinprobe / rawcurl CPU per journey at %d journeys: %.2f× incl. start-up (paired %s)" % (
        m, cm["twinprobe"] / cm[FLOOR], paired(runs, "twinprobe", FLOOR, m)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
