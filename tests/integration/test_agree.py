"""One result, computed once: the Redis entries of a run, its JSON report, its JUnit
report, its text report and its exit status all render the same comparison. Real
binary, a real redis-server and a small counting server started here on loopback.

Also: masking that never corrupts. Whatever a secret's value (a letter, a digit, a
word that is also a key), the JSON report has exactly the keys of a run without it,
the JUnit parses, the Redis entries have exactly the documented fields, and the
value never shows in anything that came from the journey."""
import http.server
import json
import os
import re
import threading
import xml.etree.ElementTree as ET

import test_publish as tp
from support import BinaryTest, run
from test_publish import RUN_FIELDS, STEP_FIELDS, entries

ROUNDS = 4


class Counting(http.server.ThreadingHTTPServer):
    """GET /build: {"v": BUILD, "price": 12.5}. BUILD is constant within a round and
    changes between rounds (the n-th request of the run belongs to round
    n // per_round): a build number or an hourly token. A request with
    X-Canary carries its own build (+1000), and with X-Canary: string, the price
    as a string."""

    daemon_threads = True

    def __init__(self, per_round):
        super().__init__(("127.0.0.1", 0), Handler)
        self.per_round = per_round
        self.count = 0
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with self.server.lock:
            n = self.server.count
            self.server.count += 1
        canary = self.headers.get("X-Canary")
        body = {"v": n // self.server.per_round + (1000 if canary else 0),
                "price": "12.50" if canary == "string" else 12.5,
                "path": self.path}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def walk_keys(v, path="$"):
    """{path: sorted keys} of every object, arrays by index."""
    out = {}
    if isinstance(v, dict):
        out[path] = sorted(v)
        for k, x in v.items():
            out.update(walk_keys(x, f"{path}.{k}"))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out.update(walk_keys(x, f"{path}[{i}]"))
    return out


class Base(BinaryTest):
    """Servers and runs; no tests of its own."""

    setUp = tp.Publish.setUp
    start_redis = tp.Publish.start_redis
    journey = tp.Publish.journey

    def redis(self, port):
        client = tp.Resp(port=port)
        self.addCleanup(client.close)
        return client

    def start_counting(self, per_round):
        server = Counting(per_round)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}"

    def counting_probe(self, port, canary_header, journey):
        base = self.start_counting(per_round=3)  # stable, canary, stable/noise
        path = os.path.join(self.tmp, "probe.json")
        doc = {"location": "lab",
               "targets": [{"name": "stable", "base_url": base},
                           {"name": "canary", "base_url": base,
                            "headers": {"X-Canary": canary_header}}],
               "journeys": [self.journey(journey)], "rounds": ROUNDS,
               "redis": {"url": f"redis://127.0.0.1:{port}/0", "prefix": "twinprobe"},
               "spool_dir": self.spool}
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def run_all(self, probe, env=None, *extra):
        jpath = os.path.join(self.tmp, "report.json")
        xpath = os.path.join(self.tmp, "report.xml")
        r = run("run", "--probe", probe, "--report", f"json={jpath}", "--report",
                f"junit={xpath}", *extra, env=env)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        with open(jpath) as f:
            report = json.load(f)
        junit = ET.parse(xpath).getroot()
        return r, report, junit

    def check_agreement(self, r, report, junit, redis, journey):
        """Every sink says what the comparison says."""
        self.assertEqual(report["exit_status"], r.returncode)
        [cmp] = report["comparisons"]
        steps = entries(redis, f"twinprobe:steps:lab:{journey}")
        runs = entries(redis, "twinprobe:runs:lab")
        self.assertEqual(len(steps), ROUNDS * len(cmp["steps"]))
        for s in cmp["steps"]:
            mine = [e for _, _, e in steps if e["step"] == s["step"] and e["run"] == report["run"]]
            self.assertEqual(len(mine), ROUNDS)
            # rounds with a mismatch in Redis == rounds the report counts for it
            rounds_with = sum(1 for e in mine if e["match"] == "0")
            most = max([m["rounds"] for m in s["mismatches"]], default=0)
            self.assertGreaterEqual(rounds_with, most, s)
            if s["mismatch_count"] == 0:
                self.assertEqual(rounds_with, 0, (s, mine))
                for e in mine:
                    self.assertEqual((e["diffs"], e["diff"]), ("0", ""))
            for e in mine:
                self.assertEqual(e["match"], "1" if e["diffs"] == "0" else "0")
        [(_, names, run_entry)] = [x for x in runs if x[2]["run"] == report["run"]]
        self.assertEqual(names, RUN_FIELDS)
        self.assertEqual(run_entry["verdict"], cmp["verdict"])
        self.assertEqual(int(run_entry["mismatches"]), cmp["mismatches"])
        self.assertEqual(run_entry["reason"], cmp["reason"])
        self.assertEqual(int(run_entry["n"]), cmp["n"])
        # JUnit fails exactly the steps the comparison says fail the run
        suite = [s for s in junit.iter("testsuite") if " vs " in s.get("name")]
        self.assertEqual(len(suite), 1)
        failing = {c.get("name") for c in suite[0].iter("testcase") if c.find("failure") is not None}
        self.assertEqual(failing, {s["step"] for s in cmp["steps"] if s["fails"]})
        self.assertEqual(int(suite[0].get("failures")), len(failing))
        self.assertEqual(r.returncode, 1 if cmp["fails"] or not all(
            j["ok"] for j in report["journeys"]) else 0)
        # the terminal's table is the same run: its delta and verdict per step
        for s in cmp["steps"]:
            row = [line for line in r.stdout.splitlines() if line.startswith(f"  {s['step']} ")]
            self.assertEqual(len(row), 1, r.stdout)
            self.assertIn(s["verdict"], row[0])
            if s["delta_pct"] is not None:  # the JSON keeps 3 decimals, the table 1
                shown = float(re.search(r"([+-][0-9.]+)%", row[0]).group(1))
                self.assertLessEqual(abs(shown - s["delta_pct"]), 0.051, row[0])
        return cmp, steps


class Agree(Base):
    def test_noise_between_rounds_agrees(self):
        # The case: a field constant within a round, new each round, and the
        # canary's own: learned as noise once, so no sink reports a mismatch.
        port, _ = self.start_redis()
        redis = self.redis(port)
        journey = {"name": "build", "compare": {"noise": "learn"},
                   "steps": [{"name": "get", "request": {"url": "/build"}},
                             {"name": "again", "request": {"url": "/build?x=1"}}]}
        probe = self.counting_probe(port, "1", journey)
        r, report, junit = self.run_all(probe)
        cmp, steps = self.check_agreement(r, report, junit, redis, "build")
        for s in cmp["steps"]:
            self.assertEqual(s["mismatch_count"], 0, s)
        self.assertEqual({e["match"] for _, _, e in steps}, {"1"})

    def test_mismatch_agrees(self):
        port, _ = self.start_redis()
        redis = self.redis(port)
        journey = {"name": "price", "compare": {"noise": "learn"},
                   "steps": [{"name": "get", "request": {"url": "/build"}}]}
        probe = self.counting_probe(port, "string", journey)
        r, report, junit = self.run_all(probe)
        self.assertEqual(r.returncode, 1)
        cmp, steps = self.check_agreement(r, report, junit, redis, "price")
        [s] = cmp["steps"]
        self.assertEqual([(m["path"], m["kind"], m["rounds"]) for m in s["mismatches"]],
                         [("$['price']", "type_changed", ROUNDS)])
        for _, _, e in steps:
            self.assertEqual((e["match"], e["diffs"]), ("0", "1"))
            self.assertEqual(e["diff"], "$['price'] type_changed 12.5 -> \"12.50\"")
        self.assertIn("exit 1: 1 mismatch in 1 step (see above; compare.ignore or --fail-on "
                      "never)", r.stdout)
        # the latency is INCONCLUSIVE too, but that is not why this run fails
        self.assertNotIn("INCONCLUSIVE or NODATA under", r.stdout)

    def test_inconclusive_exit_and_junit_agree(self):
        # Two rounds cannot be significant: INCONCLUSIVE, exit 0, no JUnit failure;
        # with --fail-on inconclusive, exit 1 and a failure.
        port, _ = self.start_redis()
        redis = self.redis(port)
        journey = {"name": "few", "compare": {"noise": "learn"},
                   "steps": [{"name": "get", "request": {"url": "/build"}}]}
        probe = self.counting_probe(port, "1", journey)
        r, report, junit = self.run_all(probe, None, "--rounds", "2")
        [s] = report["comparisons"][0]["steps"]
        self.assertEqual(s["verdict"], "INCONCLUSIVE")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertEqual(junit.get("failures"), "0")
        r, report, junit = self.run_all(probe, None, "--rounds", "2", "--fail-on",
                                        "inconclusive")
        self.assertEqual(r.returncode, 1)
        self.assertEqual(junit.get("failures"), "1")
        self.assertIn("exit 1: 1 step INCONCLUSIVE or NODATA under --fail-on inconclusive",
                      r.stdout)
        self.assertTrue(report["comparisons"][0]["steps"][0]["fails"])



class ShortSecrets(Base):
    """A secret that is a letter, a digit or a word that is also a key."""

    JOURNEY = {"name": "book-step", "secrets": ["TP_SHORT"],
               "steps": [{"name": "look-ms", "request": {"url": "/build?q=ok-{{env.TP_SHORT}}"},
                          "capture": {"path": {"jsonpath": "$.path"}},
                          "expect": [{"jsonpath": "$.path", "contains": "{{env.TP_SHORT}}"}]},
                         {"name": "step-ok", "request": {"url": "/build"},
                          "expect": [{"jsonpath": "$.price", "equals": 13}]}]}

    def one(self, value):
        port, _ = self.start_redis()
        redis = self.redis(port)
        probe = self.counting_probe(port, "string", self.JOURNEY)
        r, report, junit = self.run_all(probe, {"TP_SHORT": value})
        spool_free = not os.path.exists(os.path.join(self.spool, "spool.jsonl")) or \
            os.path.getsize(os.path.join(self.spool, "spool.jsonl")) == 0
        self.assertTrue(spool_free)
        steps = entries(redis, "twinprobe:steps:lab:" + report["journeys"][0]["journey"])
        runs = entries(redis, "twinprobe:runs:lab")
        return r, report, junit, steps, runs

    def test_short_secrets_never_corrupt(self):
        _, plain, _, _, _ = self.one("zzzzzzzz-not-in-anything")
        shape = walk_keys(plain)
        for value in ("b", "1", "ms", "ok", "step", "s"):
            with self.subTest(secret=value):
                r, report, junit, steps, runs = self.one(value)
                self.assertEqual(walk_keys(report), shape)
                self.assertEqual(report["tool"], "twinprobe")
                self.assertRegex(report["run"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-")
                self.assertIn(f"secret TP_SHORT is shorter than 6 characters", r.stderr)
                self.assertEqual(r.stderr.count("shorter than"), 1)
                self.assertNotIn(f"={value}\n", r.stderr)
                self.assertEqual(junit.tag, "testsuites")
                for _, names, _ in steps:
                    self.assertEqual(names, STEP_FIELDS)
                for _, names, _ in runs:
                    self.assertEqual(names, RUN_FIELDS)
                # what came from the journey, the target or the responses never shows it
                data = []
                for j in report["journeys"]:
                    data += [j["journey"], j["target"]]
                    for s in j["steps"]:
                        data += [s["name"], s["error"] or ""]
                        data += [json.dumps(v) for v in s["captures"].values()]
                        for a in s["assertions"]:
                            data += [a["source"].partition(" ")[2], json.dumps(a["expected"]),
                                     json.dumps(a["actual"])]
                for c in report["comparisons"]:
                    data += [c["journey"], c["base"], c["cand"], c["worst_step"] or ""]
                    for s in c["steps"]:
                        data.append(s["step"])
                        for m in s["mismatches"]:
                            data += [m["path"], m["base"] or "", m["cand"] or ""]
                for _, _, e in steps:
                    data += [e["step"], e["base"], e["cand"], e["base_error"], e["cand_error"]]
                for case in junit.iter("testcase"):
                    data += [case.get("name"), case.get("classname").replace(".compare.", ".")]
                for suite in junit.iter("testsuite"):  # "J @ T #ROUND", "J: C vs B"
                    data.append(re.sub(r" #[0-9]+$", "", suite.get("name")).replace(" vs ", " "))
                for text in data:
                    self.assertNotIn(value, text)
