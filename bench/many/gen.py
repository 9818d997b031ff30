#!/usr/bin/env python3
"""Writes a probe for bench/many into DIR: N copies of bench/journey.json (its 5 steps)
named bench-shop-001 ... and a probe.json that lists them all against two targets.

usage: gen.py DIR BASE_A BASE_B [--journeys N] [--rounds R] [--max-concurrency C]

One round then starts N x 2 journey runs; with C >= 2N every one of them has a
transfer in flight at once (the targets of a step start together, runner.c)."""
import argparse
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("base_a")
    ap.add_argument("base_b")
    ap.add_argument("--journeys", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--max-concurrency", type=int, default=1000)
    a = ap.parse_args()
    with open(os.path.join(HERE, "..", "journey.json")) as f:
        journey = json.load(f)
    os.makedirs(a.dir, exist_ok=True)
    names = []
    width = len(str(a.journeys))
    for i in range(1, a.journeys + 1):
        journey["name"] = "bench-shop-%0*d" % (width, i)
        name = journey["name"] + ".json"
        with open(os.path.join(a.dir, name), "w") as f:
            json.dump(journey, f, indent=1)
        names.append(name)
    probe = {
        "location": "bench-many",
        "targets": [{"name": "a", "base_url": a.base_a}, {"name": "b", "base_url": a.base_b}],
        "baseline": "a",
        "journeys": names,
        "rounds": a.rounds,
        "max_concurrency": a.max_concurrency,
    }
    with open(os.path.join(a.dir, "probe.json"), "w") as f:
        json.dump(probe, f, indent=1)


if __name__ == "__main__":
    main()
