#!/usr/bin/env python3
"""Sums a massif profile's heap by what holds it, for a few snapshots: the peak,
and the largest one while transfers run (before the report is built).

usage: massif_sum.py MASSIF_OUT

Each allocation is charged to the first function on its stack (from the malloc
call outwards) that names a holder below; what matches none is "other".
Allocations massif grouped below its --threshold have no stack: "below threshold"."""
import re
import sys

# (holder, function names), most specific first.
HOLDERS = [
    ("libcurl easy handles (curl_easy_init, one per journey run)", ("curl_easy_init",)),
    ("libcurl in transfers (a receive buffer per transfer in flight, connections)",
     ("curl_multi_perform",)),
    ("JSON report: json_dumps text buffer", ("json_dumps",)),
    ("JSON report: document tree", ("tp_report_json",)),
    ("text report", ("tp_report_text",)),
    ("comparison (tp_compare_run)", ("tp_compare_run",)),
    ("journeys and probe, loaded", ("tp_journey_load_with", "tp_load_probe_file", "load_journeys")),
    ("kept responses (body, headers) per step", ("tp_http_transfer_finish",)),
    ("step evaluations (assertions, captures) per step", ("tp_step_evaluate",)),
    ("masking of step results", ("tp_step_result_mask",)),
    ("journey runs (results, variables)", ("jrun_init",)),
    ("requests being built", ("start_attempt",)),
    ("runner, other", ("tp_runner_run",)),
]


def parse(path):
    snaps = []
    cur = None
    stack = []  # (node, remaining children)
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("snapshot="):
                cur = {"n": int(line.split("=")[1]), "tree": None}
                snaps.append(cur)
                stack = []
            elif cur is not None and line.startswith("mem_heap_B="):
                cur["heap"] = int(line.split("=")[1])
            elif cur is not None and line.startswith("mem_heap_extra_B="):
                cur["extra"] = int(line.split("=")[1])
            elif cur is not None and re.match(r"^\s*n\d+:", line):
                m = re.match(r"^\s*n(\d+): (\d+) (.*)$", line)
                node = {"bytes": int(m.group(2)), "what": m.group(3), "kids": []}
                if stack:
                    stack[-1][0]["kids"].append(node)
                    stack[-1][1] -= 1
                else:
                    cur["tree"] = node
                while stack and stack[-1][1] == 0:
                    stack.pop()
                if int(m.group(1)) > 0:
                    stack.append([node, int(m.group(1))])
    return snaps


def charge(node, sums):
    what = node["what"]
    for name, funcs in HOLDERS:
        if any(re.search(r"\b%s\b" % f, what) for f in funcs):
            sums[name] = sums.get(name, 0) + node["bytes"]
            return
    if not node["kids"]:
        key = "below threshold" if "below massif's threshold" in what else "other"
        sums[key] = sums.get(key, 0) + node["bytes"]
        return
    rest = node["bytes"] - sum(k["bytes"] for k in node["kids"])
    if rest:
        sums["other"] = sums.get("other", 0) + rest
    for k in node["kids"]:
        charge(k, sums)


def show(title, snap):
    sums = {}
    for k in snap["tree"]["kids"]:
        charge(k, sums)
    print("%s: snapshot %d, heap %.1f MiB (+ %.1f MiB malloc overhead)" % (
        title, snap["n"], snap["heap"] / 2**20, snap.get("extra", 0) / 2**20))
    for name, b in sorted(sums.items(), key=lambda kv: -kv[1]):
        if b >= 2**20 / 10:
            print("  %7.1f MiB  %s" % (b / 2**20, name))


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    detailed = [s for s in parse(sys.argv[1]) if s["tree"] and s["tree"]["kids"]]
    peak = max(detailed, key=lambda s: s["heap"])
    show("peak", peak)

    def in_report(s):
        text = repr(s["tree"])
        return "tp_report_" in text or "tp_compare_run" in text
    running = [s for s in detailed if not in_report(s) and "tp_runner_run" in repr(s["tree"])]
    if running:
        show("largest while transfers run", max(running, key=lambda s: s["heap"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
