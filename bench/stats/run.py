#!/usr/bin/env python3
"""Statistical quality of twinprobe's latency verdict, end to end (a benchmark, not a test).

Runs build/twinprobe against the demo shop (tests/shop/shop.py) with lognormal latency
(median 100 ms, sigma 0.15, independent per request) on every step of
bench/stats/journey.json (4 steps, one shop endpoint each):

  A/A  N runs: baseline and candidate shops configured alike;
  A/B  N runs: the candidate's SLOW step (default "search") EFFECT (1.25) times slower.

Every run is `twinprobe run --format json --rounds 20 --fail-on never` with default
margins. From each JSON report it takes the per-step verdicts
(comparisons[0].steps[k].verdict) and the per-round, per-step total ms of both sides
(journeys[i].steps[k].timings_ms.total), and applies to the same samples

  median ratio  candidate median / baseline median > 1.1 fails;
  Kayenta       MannWhitneyClassifier as the NetflixACAJudge calls it (tolerance 0.25,
                confLevel 0.98): HIGH when the lower end of the Mann-Whitney interval of
                the shift candidate - baseline (normal approximation with continuity
                correction, computed by bench/stats/mwu through tp_stats_mwu_hl) exceeds
                0.25 x |HL estimate|, and mean(candidate) / mean(baseline) >= 1.0;
  variant       the same interval against 0.25 x the baseline median (another reading of
                "tolerance"; not what Kayenta's code does).

A step counts as flagged when twinprobe calls it HIGH or CRITICAL, or the rule fails it.
Prints one table: A/A false-alarm rate (steps flagged / steps), A/B detection rate on the
slowed step, A/B false alarms on the other steps, each with a Wilson 95 % interval.

Four shops run: a baseline and a candidate for A/A, another pair for A/B, so every shop
serves the same load whatever the mix of runs in flight. Every shop has its own --seed,
so the two sides' latency draws are independent. The shops are stopped at the end, also
on failure or ^C.

usage: bench/stats/run.py [--runs N] [--jobs J] [--rounds R] [--slow-step NAME]
                          [--effect E] [--median MS] [--sigma S] [--save FILE]
                          [--twinprobe PATH] [--mwu PATH]
Needs `make` (build/twinprobe) and `make -C bench/stats` (bench/stats/mwu).
"""

import argparse
import concurrent.futures
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
JOURNEY = os.path.join(HERE, "journey.json")
SHOP = os.path.join(TOP, "tests", "shop", "shop.py")
FLAGGED = ("HIGH", "CRITICAL")


class Abort(Exception):
    pass


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=100, help="runs of each of A/A and A/B (default 100)")
    p.add_argument("--jobs", type=int, default=8, help="twinprobe runs at once (default 8)")
    p.add_argument("--rounds", type=int, default=20, help="rounds per run (default 20)")
    p.add_argument("--slow-step", default="search", help="the step slowed in A/B (default search)")
    p.add_argument("--effect", type=float, default=1.25, help="A/B slow-down factor (default 1.25)")
    p.add_argument("--median", type=float, default=100.0, help="latency median, ms (default 100)")
    p.add_argument("--sigma", type=float, default=0.15, help="lognormal sigma (default 0.15)")
    p.add_argument("--seed", type=int, default=1000, help="shop seeds are SEED+1..SEED+4")
    p.add_argument("--save", help="write every run's verdicts and samples to FILE (JSON)")
    p.add_argument("--twinprobe", default=os.path.join(TOP, "build", "twinprobe"))
    p.add_argument("--mwu", default=os.path.join(HERE, "mwu"))
    a = p.parse_args()
    if a.runs < 1 or a.jobs < 1 or a.rounds < 1:
        p.error("--runs, --jobs and --rounds must be at least 1")
    for path in (a.twinprobe, a.mwu):
        if not os.access(path, os.X_OK):
            p.error("%s is missing: run `make` and `make -C bench/stats`" % path)
    return a


def journey_steps():
    with open(JOURNEY) as f:
        j = json.load(f)
    # Step name -> the shop endpoint it calls (the names are chosen to match).
    return [s["name"] for s in j["steps"]]


# ---------------------------------------------------------------- shops

class Shops:
    """The four shops; stop() ends every one that was started."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.procs = {}
        self.cmds = {}
        self.urls = {}

    def start(self, name, variant, seed, latency):
        port_file = os.path.join(self.tmp, name + ".port")
        cmd = [sys.executable, SHOP, "--port", "0", "--port-file", port_file, "--quiet",
               "--variant", variant, "--seed", str(seed)]
        for endpoint, (med, sigma) in latency.items():
            cmd += ["--latency", "%s=%g:%g" % (endpoint, med, sigma)]
        # Own process group: a ^C in the terminal reaches us, and we stop the shop.
        self.procs[name] = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        self.cmds[name] = cmd
        return port_file

    def wait(self, name, port_file, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise Abort("shop %s exited with status %d" % (name, self.procs[name].returncode))
            try:
                with open(port_file) as f:
                    port = int(f.read().strip())
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        else:
            raise Abort("shop %s did not start within %g s" % (name, timeout))
        url = "http://127.0.0.1:%d" % port
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            health = json.load(r)
        if health.get("status") != "ok":
            raise Abort("shop %s: /health says %r" % (name, health))
        self.urls[name] = url

    def stop(self):
        for name, proc in self.procs.items():
            if proc.poll() is None:
                proc.terminate()
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ---------------------------------------------------------------- runs

class Runner:
    def __init__(self, args, steps):
        self.args = args
        self.steps = steps
        self.lock = threading.Lock()
        self.live = set()
        self.stopping = False

    def run(self, kind, index, base_url, cand_url):
        cmd = [self.args.twinprobe, "run", "--format", "json", "--rounds", str(self.args.rounds),
               "--fail-on", "never", "--no-publish",
               "--target", "stable=" + base_url, "--target", "canary=" + cand_url, JOURNEY]
        with self.lock:
            if self.stopping:
                raise Abort("stopped")
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
            self.live.add(proc)
        try:
            out, err = proc.communicate()
        finally:
            with self.lock:
                self.live.discard(proc)
        if self.stopping:
            raise Abort("stopped")
        if proc.returncode != 0:
            raise Abort("%s run %d: twinprobe exited %d: %s"
                        % (kind, index, proc.returncode, err.decode(errors="replace")[-2000:]))
        return extract(json.loads(out), self.steps, kind, index)

    def stop(self):
        with self.lock:
            self.stopping = True
            for proc in self.live:
                if proc.poll() is None:
                    proc.terminate()


def extract(report, steps, kind, index):
    """Verdicts and samples of one report: {"verdicts": [..], "base": [[ms]*R]*K, ...}."""
    comps = report["comparisons"]
    if len(comps) != 1 or comps[0]["base"] != "stable" or comps[0]["cand"] != "canary":
        raise Abort("%s run %d: unexpected comparisons %r" % (kind, index, comps))
    cs = comps[0]["steps"]
    if [s["step"] for s in cs] != steps:
        raise Abort("%s run %d: steps %r, journey has %r" % (kind, index, [s["step"] for s in cs], steps))
    rounds = comps[0]["rounds"]
    side = {"stable": [[None] * rounds for _ in steps], "canary": [[None] * rounds for _ in steps]}
    failures = 0
    for j in report["journeys"]:
        t, r = j["target"], j["round"] - 1
        for k, st in enumerate(j["steps"]):
            if st["ok"] and not st["skipped"]:
                ms = float(st["timings_ms"]["total"])
            else:
                ms = math.inf   # as twinprobe: a failure is worse than any time
                failures += 1
            side[t][k][r] = ms
    for t in side:
        for k in range(len(steps)):
            if any(v is None for v in side[t][k]):
                raise Abort("%s run %d: %s step %s lacks rounds" % (kind, index, t, steps[k]))
    return {
        "kind": kind, "index": index,
        "verdicts": [s["verdict"] for s in cs],
        "twinprobe": [{key: s.get(key) for key in ("p", "p_adj", "delta_pct", "ci_low_pct",
                                                     "ci_high_pct", "base_median_ms",
                                                     "cand_median_ms", "method")} for s in cs],
        "base": side["stable"], "cand": side["canary"], "failures": failures,
    }


# ---------------------------------------------------------------- rules

def median_ratio_flags(runs):
    for run in runs:
        run["median_ratio"] = [statistics.median(c) / statistics.median(b)
                               for b, c in zip(run["base"], run["cand"])]
        run["median_flag"] = [r > 1.1 for r in run["median_ratio"]]


def kayenta_flags(runs, mwu):
    """One mwu process for every step of every run: x = candidate, y = baseline."""
    lines, keys = [], []
    for i, run in enumerate(runs):
        for k, (b, c) in enumerate(zip(run["base"], run["cand"])):
            vals = " ".join(repr(v) if math.isfinite(v) else "inf" for v in c + b)
            lines.append("%d %d %s\n" % (len(c), len(b), vals))
            keys.append((i, k))
    res = subprocess.run([mwu, "--conf", "0.98", "--method", "normal"], input="".join(lines),
                         capture_output=True, text=True, check=True)
    answers = res.stdout.splitlines()
    if len(answers) != len(lines):
        raise Abort("mwu answered %d lines for %d problems: %s" % (len(answers), len(lines), res.stderr))
    for run in runs:
        run["kayenta"] = [None] * len(run["base"])
        run["kayenta_flag"] = [False] * len(run["base"])
        run["variant_flag"] = [False] * len(run["base"])
    for (i, k), ans in zip(keys, answers):
        f = ans.split()
        if f[3] == "error":
            raise Abort("mwu: %s" % ans)
        est, low, high = float(f[0]), float(f[1]), float(f[2])
        run = runs[i]
        b, c = run["base"][k], run["cand"][k]
        ratio = statistics.fmean(c) / statistics.fmean(b)
        # MannWhitneyClassifier.classify: identical data, or one value only, is Pass.
        same = sorted(b) == sorted(c) or len(set(b) | set(c)) == 1
        run["kayenta"][k] = {"estimate": est, "low": low, "high": high, "mean_ratio": ratio}
        run["kayenta_flag"][k] = (not same) and low > 0.25 * abs(est) and ratio >= 1.0
        run["variant_flag"][k] = (not same) and low > 0.25 * abs(statistics.median(b)) and ratio >= 1.0


# ---------------------------------------------------------------- report

def wilson(k, n, z=1.959963984540054):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def rate(k, n):
    lo, hi = wilson(k, n)
    return "%.1f %% (%d/%d; %.1f-%.1f)" % (100.0 * k / n, k, n, 100 * lo, 100 * hi)


def table(aa, ab, slow):
    rules = [
        ("twinprobe (HIGH or CRITICAL, default margins)",
         lambda run, k: run["verdicts"][k] in FLAGGED),
        ("median ratio > 1.1", lambda run, k: run["median_flag"][k]),
        ("Kayenta (MW interval vs 0.25 x abs(HL estimate), 0.98)",
         lambda run, k: run["kayenta_flag"][k]),
        ("variant: MW interval vs 0.25 x baseline median",
         lambda run, k: run["variant_flag"][k]),
    ]
    out = ["| rule | A/A false alarms (steps flagged / steps) | A/B detection (slowed step) "
           "| A/B false alarms (other steps) |", "| --- | --- | --- | --- |"]
    for name, flag in rules:
        aa_k = sum(flag(run, k) for run in aa for k in range(len(run["base"])))
        aa_n = sum(len(run["base"]) for run in aa)
        hit = sum(flag(run, slow) for run in ab)
        oth = sum(flag(run, k) for run in ab for k in range(len(run["base"])) if k != slow)
        oth_n = sum(len(run["base"]) - 1 for run in ab)
        out.append("| %s | %s | %s | %s |" % (name, rate(aa_k, aa_n), rate(hit, len(ab)),
                                              rate(oth, oth_n)))
    return "\n".join(out)


def distribution(runs, ks):
    d = {}
    for run in runs:
        for k in ks:
            d[run["verdicts"][k]] = d.get(run["verdicts"][k], 0) + 1
    return ", ".join("%s %d" % (v, n) for v, n in sorted(d.items(), key=lambda x: -x[1]))


def observed(runs, k, side):
    vals = [v for run in runs for v in run[side][k] if math.isfinite(v)]
    return statistics.median(vals)


def check_medians(runs):
    """Our samples are the ones twinprobe judged: its medians must match ours."""
    bad = 0
    for run in runs:
        for k, tp in enumerate(run["twinprobe"]):
            for side, key in (("base", "base_median_ms"), ("cand", "cand_median_ms")):
                fin = [v for v in run[side][k] if math.isfinite(v)]
                if fin and tp[key] is not None and abs(statistics.median(fin) - tp[key]) > 0.002:
                    bad += 1
    return bad


# ---------------------------------------------------------------- main

def main():
    args = parse_args()
    steps = journey_steps()
    if args.slow_step not in steps:
        sys.exit("run.py: --slow-step %r is not a step of %s" % (args.slow_step, JOURNEY))
    slow = steps.index(args.slow_step)
    same = {s: (args.median, args.sigma) for s in steps}
    slowed = dict(same)
    slowed[args.slow_step] = (args.median * args.effect, args.sigma)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    tmp = tempfile.mkdtemp(prefix="twinprobe-stats-")
    shops = Shops(tmp)
    runner = Runner(args, steps)
    t0 = time.monotonic()
    try:
        specs = [("base-aa", "stable", same), ("cand-aa", "canary", same),
                 ("base-ab", "stable", same), ("cand-ab", "canary", slowed)]
        files = {}
        for i, (name, variant, lat) in enumerate(specs):
            files[name] = shops.start(name, variant, args.seed + 1 + i, lat)
        for name, _, _ in specs:
            shops.wait(name, files[name])
        for name, _, _ in specs:
            print("shop %-7s %s  %s" % (name, shops.urls[name],
                                        " ".join(shops.cmds[name][2:])), file=sys.stderr)

        jobs = []
        for i in range(args.runs):   # interleaved, so both see the same conditions
            jobs.append(("A/A", i, shops.urls["base-aa"], shops.urls["cand-aa"]))
            jobs.append(("A/B", i, shops.urls["base-ab"], shops.urls["cand-ab"]))
        results, futs = [], []
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
        try:
            futs = [pool.submit(runner.run, *job) for job in jobs]
            for n, fut in enumerate(concurrent.futures.as_completed(futs), 1):
                results.append(fut.result())
                if n % 10 == 0 or n == len(futs):
                    print("%d/%d runs done (%.0f s)" % (n, len(futs), time.monotonic() - t0),
                          file=sys.stderr)
        except BaseException:
            runner.stop()
            for f in futs:
                f.cancel()
            raise
        finally:
            pool.shutdown(wait=True)
    except KeyboardInterrupt:
        print("run.py: interrupted; shops stopped", file=sys.stderr)
        shops.stop()
        return 130
    except Abort as e:
        print("run.py: %s" % e, file=sys.stderr)
        shops.stop()
        return 1
    finally:
        shops.stop()
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)
    elapsed = time.monotonic() - t0

    results.sort(key=lambda r: (r["kind"], r["index"]))
    aa = [r for r in results if r["kind"] == "A/A"]
    ab = [r for r in results if r["kind"] == "A/B"]
    median_ratio_flags(results)
    kayenta_flags(results, args.mwu)

    print("End to end: %d A/A + %d A/B runs of `twinprobe run --rounds %d` (%d steps), "
          "%d at once, %.0f s" % (len(aa), len(ab), args.rounds, len(steps), args.jobs, elapsed))
    print("latency lognormal(median %g ms, sigma %g) per request; A/B: step %r x %g\n"
          % (args.median, args.sigma, args.slow_step, args.effect))
    print(table(aa, ab, slow))
    print()
    others = [k for k in range(len(steps)) if k != slow]
    print("twinprobe verdicts, A/A steps: " + distribution(aa, range(len(steps))))
    print("twinprobe verdicts, A/B slowed step: " + distribution(ab, [slow]))
    print("twinprobe verdicts, A/B other steps: " + distribution(ab, others))
    print("observed medians (ms, all rounds): A/A base %s / cand %s; A/B slowed step base "
          "%.1f, cand %.1f (ratio %.3f)" % (
              "/".join("%.1f" % observed(aa, k, "base") for k in range(len(steps))),
              "/".join("%.1f" % observed(aa, k, "cand") for k in range(len(steps))),
              observed(ab, slow, "base"), observed(ab, slow, "cand"),
              observed(ab, slow, "cand") / observed(ab, slow, "base")))
    fails = sum(r["failures"] for r in results)
    print("failed or skipped steps: %d; step medians in the reports that differ from the samples: %d"
          % (fails, check_medians(results)))
    if args.save:
        with open(args.save, "w") as f:
            json.dump({"args": vars(args), "steps": steps, "runs": results}, f, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
