"""twinprobe verdict against a real redis-server: (a) filled by real `twinprobe run
--probe` processes in three locations against the demo shop (a canary 25 % slower
behind one location: REGIONAL, the pooled evidence of all three staying under the
margin; slow everywhere: HIGH; no change: PASS), (b) filled with
entries written here (bad entries skipped with a warning, empty windows, --since and
--until, --journey/--location, the JSON document, exit statuses)."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from support import BINARY, BinaryTest, Server, run, start_shop
from test_publish import Resp, free_port, ping

LOCATIONS = ("ap-south", "eu-west", "us-east")

JOURNEY = {
    "name": "browse",
    "defaults": {"timeout_ms": 5000},
    "compare": {"ignore": ["$.server_time", "$..request_id"]},
    "steps": [
        {"name": "login-page", "request": {"url": "/login"}, "expect": [{"status": 200}]},
        {"name": "search", "request": {"url": "/api/search", "query": {"q": "gadget"}},
         "expect": [{"status": 200}]},
    ],
}

STEP_FIELDS = ("run", "round", "step", "base", "cand", "base_status", "cand_status", "base_ok",
               "cand_ok", "base_ms", "cand_ms", "delta_ms", "ratio", "match", "diffs", "diff",
               "base_error", "cand_error")


class Verdict(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-verdict-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.port = free_port()
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port",
                         str(self.port), "--bind", "127.0.0.1"],
                        ready=lambda: ping(port=self.port))
        self.addCleanup(server.stop)
        self.redis = Resp(port=self.port)
        self.addCleanup(self.redis.close)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def verdict(self, *args, **kw):
        return run("verdict", "--redis", self.url, *args, **kw)

    def verdict_json(self, *args):
        r = self.verdict("--format", "json", *args)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return r, json.loads(r.stdout)

    # ---- (a) real runs --------------------------------------------------------------

    def run_locations(self, slow, rounds=40):
        """One `twinprobe run --probe` per location, in parallel; the canary is
        slower on search behind the locations in slow (+25 %)."""
        jpath = os.path.join(self.tmp, "browse.json")
        with open(jpath, "w") as f:
            json.dump(JOURNEY, f)
        lat = ["--latency", "login-page=30:0.05", "--latency", "search=60:0.05"]
        stable = start_shop(self, *lat, "--seed", "1")
        canary = start_shop(self, *lat, "--seed", "2", variant="stable")
        slow_canary = start_shop(self, "--latency", "login-page=30:0.05", "--latency",
                                 "search=75:0.05", "--seed", "3", variant="stable")
        procs = []
        for loc in LOCATIONS:
            probe = {"location": loc,
                     "targets": [{"name": "stable", "base_url": stable},
                                 {"name": "canary",
                                  "base_url": slow_canary if loc in slow else canary}],
                     "baseline": "stable", "journeys": [jpath], "rounds": rounds,
                     "redis": {"url": self.url, "prefix": "twinprobe"},
                     "spool_dir": os.path.join(self.tmp, "spool-" + loc)}
            ppath = os.path.join(self.tmp, loc + ".json")
            with open(ppath, "w") as f:
                json.dump(probe, f)
            procs.append(subprocess.Popen([BINARY, "run", "--probe", ppath, "--format", "json"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertIn(p.returncode, (0, 1), err)

    def search(self, doc):
        (journey,) = doc["journeys"]
        self.assertEqual(journey["journey"], "browse")
        steps = {s["step"]: s for s in journey["steps"]}
        self.assertEqual(set(steps), {"login-page", "search"})
        return journey, steps["search"]

    def test_slow_behind_one_location_is_regional(self):
        self.run_locations(slow={"us-east"})
        r, doc = self.verdict_json()
        self.assertEqual(r.returncode, 1, r.stderr)
        journey, search = self.search(doc)
        self.assertEqual(search["locations"]["us-east"]["verdict"], "HIGH")
        for loc in ("eu-west", "ap-south"):
            self.assertEqual(search["locations"][loc]["verdict"], "PASS", search)
        self.assertEqual(search["verdict"], "REGIONAL")
        self.assertIn("us-east", search["reason"])
        self.assertEqual(journey["verdict"], "REGIONAL")
        cell = search["locations"]["us-east"]
        self.assertEqual((cell["runs"], cell["rounds"], cell["errors"]), (1, 40, 0))
        self.assertGreater(cell["cand_median_ms"], cell["base_median_ms"])
        self.assertLess(cell["ci_low_pct"], cell["delta_pct"])
        self.assertLess(cell["delta_pct"], cell["ci_high_pct"])
        # the text table: one column per location, the combined verdict last
        t = self.verdict(env={"NO_COLOR": "1"})
        self.assertEqual(t.returncode, 1)
        self.assertNotIn("\033[", t.stdout)
        line = next(l for l in t.stdout.splitlines() if l.strip().startswith("search"))
        self.assertRegex(line, r"PASS [+-]\d.*PASS [+-]\d.*HIGH \+\d.*REGIONAL")
        self.assertIn("browse  REGIONAL", t.stdout)

    def test_slow_everywhere_is_high(self):
        self.run_locations(slow=set(LOCATIONS))
        r, doc = self.verdict_json()
        self.assertEqual(r.returncode, 1, r.stderr)
        journey, search = self.search(doc)
        self.assertEqual(search["verdict"], "HIGH")
        self.assertEqual(journey["verdict"], "HIGH")
        for loc in LOCATIONS:
            self.assertEqual(search["locations"][loc]["verdict"], "HIGH")

    def test_no_change_passes(self):
        self.run_locations(slow=set())
        r, doc = self.verdict_json()
        self.assertEqual(r.returncode, 0, r.stdout)
        journey, search = self.search(doc)
        self.assertEqual(journey["verdict"], "PASS")
        self.assertEqual(journey["score"], 100)
        self.assertEqual(search["verdict"], "PASS")

    # ---- (b) entries written here ---------------------------------------------------

    def xadd(self, location, journey, ms, seq, base, cand, step="search", run_id="r1",
             cand_ok="1", **over):
        fields = {f: "" for f in STEP_FIELDS}
        fields.update(run=run_id, round="1", step=step, base="stable", cand="canary",
                      base_status="200", cand_status="200", base_ok="1", cand_ok=cand_ok,
                      base_ms=f"{base:.3f}", cand_ms=f"{cand:.3f}", match="1", diffs="0")
        fields.update(over)
        key = f"twinprobe:steps:{location}:{journey}"
        args = ["XADD", key, f"{ms}-{seq}"]
        for k, v in fields.items():
            args += [k, v]
        self.redis(*args)
        self.redis("SADD", "twinprobe:index", key)
        return key

    def fill(self, location, journey, t0, n, factor, step="search"):
        """n pairs from t0 (one per second), the candidate factor times the baseline,
        with a deterministic spread of about 5 %."""
        for i in range(n):
            base = 40.0 * (1 + 0.05 * ((i * 7) % 11 - 5) / 5)
            cand = 40.0 * factor * (1 + 0.05 * ((i * 5) % 13 - 6) / 6)
            self.xadd(location, journey, t0 + 1000 * i, 0, base, cand, step=step,
                      run_id=f"r{i // 12}")

    def test_bad_entries_are_skipped_with_a_warning(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 30, 1.0)
        key = self.xadd("eu", "shop", t0 + 100000, 0, 40, 41, base_ms="soon")
        self.redis("XADD", key, f"{t0 + 100001}-0", "hello", "world")
        r, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 200000))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"skipping {key} {t0 + 100000}-0: bad base_ms", r.stderr)
        self.assertIn(f"skipping {key} {t0 + 100001}-0: no field", r.stderr)
        (journey,) = doc["journeys"]
        self.assertEqual(journey["verdict"], "PASS")
        cell = journey["steps"][0]["locations"]["eu"]
        self.assertEqual((cell["rounds"], cell["runs"]), (30, 3))

    def test_empty_window_is_nodata(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 30, 1.5)
        r, doc = self.verdict_json("--since", str(t0 - 7200000), "--until", str(t0 - 1))
        self.assertEqual(r.returncode, 0)
        self.assertEqual(doc, {"since_ms": t0 - 7200000, "until_ms": t0 - 1, "journeys": []})
        t = self.verdict("--since", str(t0 - 7200000), "--until", str(t0 - 1))
        self.assertIn("NODATA", t.stdout)
        r = self.verdict("--since", str(t0 - 7200000), "--until", str(t0 - 1), "--fail-on",
                         "inconclusive")
        self.assertEqual(r.returncode, 1)
        # nothing published at all: no index
        r = run("verdict", "--redis", self.url, "--prefix", "other")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_since_and_until_select_the_window(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 40, 1.0)           # t0 .. t0+39s: no change
        self.fill("eu", "shop", t0 + 100000, 40, 1.5)  # +100s .. +139s: 50 % slower
        _, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 39000))
        self.assertEqual(doc["journeys"][0]["verdict"], "PASS")
        self.assertEqual(doc["journeys"][0]["steps"][0]["locations"]["eu"]["rounds"], 40)
        r, doc = self.verdict_json("--since", "2025-11-26T09:41:40Z", "--until",
                                   str(t0 + 200000))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(doc["journeys"][0]["verdict"], "HIGH")
        self.assertEqual(doc["journeys"][0]["steps"][0]["locations"]["eu"]["rounds"], 40)
        # a duration back from now: these entries are a year old
        _, doc = self.verdict_json("--since", "30m")
        self.assertEqual(doc["journeys"], [])

    def test_pages_and_filters(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 600, 1.0)  # more than two XRANGE pages
        self.fill("us", "shop", t0, 30, 1.5)
        self.fill("us", "wiki", t0, 30, 1.5)
        r, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 10 ** 7))
        self.assertEqual(r.returncode, 1)
        shop = next(j for j in doc["journeys"] if j["journey"] == "shop")
        self.assertEqual(shop["steps"][0]["locations"]["eu"]["rounds"], 600)
        self.assertEqual(shop["steps"][0]["verdict"], "REGIONAL")
        r, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 10 ** 7),
                                   "--location", "eu", "--journey", "shop")
        self.assertEqual(r.returncode, 0)
        self.assertEqual([j["journey"] for j in doc["journeys"]], ["shop"])
        self.assertEqual(list(doc["journeys"][0]["steps"][0]["locations"]), ["eu"])

    def test_json_document_keys(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 3, 1.0)
        _, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 10000))
        self.assertEqual(list(doc), ["since_ms", "until_ms", "journeys"])
        (journey,) = doc["journeys"]
        self.assertEqual(list(journey), ["journey", "verdict", "score", "steps"])
        (step,) = journey["steps"]
        self.assertEqual(list(step), ["step", "verdict", "delta_pct", "ci_low_pct",
                                      "ci_high_pct", "reason", "locations"])
        self.assertEqual(list(step["locations"]["eu"]),
                         ["verdict", "delta_pct", "ci_low_pct", "ci_high_pct", "runs", "rounds",
                          "errors", "mismatches", "base_median_ms", "cand_median_ms"])
        self.assertEqual(step["verdict"], "INCONCLUSIVE")
        self.assertIn("eu: at least 3 more rounds", step["reason"])
        self.assertIsNone(journey["score"])

    def test_exit_statuses(self):
        self.assertEqual(run("verdict").returncode, 2)
        self.assertEqual(run("verdict", "--redis", self.url, "--format", "xml").returncode, 2)
        self.assertEqual(self.verdict("--since", "yesterday").returncode, 2)
        self.assertEqual(self.verdict("--fail-on", "never").returncode, 2)
        r = run("verdict", "--redis", f"redis://127.0.0.1:{free_port()}/0")
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot connect", r.stderr)
        t0 = 1764150000000
        for i in range(8):  # the candidate fails every round: HIGH
            self.xadd("eu", "shop", t0 + i, 0, 40, 0, cand_ok="0")
        r, doc = self.verdict_json("--since", str(t0), "--until", str(t0 + 100))
        self.assertEqual(r.returncode, 1)
        self.assertEqual(doc["journeys"][0]["steps"][0]["locations"]["eu"]["errors"], 8)
        self.assertIn(doc["journeys"][0]["verdict"], ("HIGH", "CRITICAL", "REGIONAL"))

    def test_publish_and_exec_on(self):
        t0 = 1764150000000
        self.fill("eu", "shop", t0, 30, 0.97)
        self.fill("us", "shop", t0, 30, 1.25)  # the pooled evidence stays below the margin
        out = os.path.join(self.tmp, "stdin.json")
        window = ("--since", str(t0), "--until", str(t0 + 100000))
        r = self.verdict(*window, "--publish", "--exec-on", "REGIONAL,CRITICAL",
                         f"cat > {out}; exit 4")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("exited with status 4", r.stderr)
        with open(out) as f:
            self.assertEqual(json.load(f)["journeys"][0]["verdict"], "REGIONAL")
        entries = self.redis("XRANGE", "twinprobe:verdicts", "-", "+")
        self.assertEqual(len(entries), 1)
        fields = dict(zip(entries[0][1][::2], entries[0][1][1::2]))
        fields = {k.decode() if isinstance(k, bytes) else k: v.decode() if isinstance(v, bytes)
                  else v for k, v in fields.items()}
        self.assertEqual(fields["journey"], "shop")
        self.assertEqual(fields["verdict"], "REGIONAL")
        self.assertEqual(fields["regional"], "us")
        self.assertEqual(fields["locations"], "eu=PASS,us=HIGH")
        self.assertEqual(fields["since_ms"], str(t0))
        index = self.redis("SMEMBERS", "twinprobe:index")
        self.assertIn(b"twinprobe:verdicts" if isinstance(index[0], bytes)
                      else "twinprobe:verdicts", index)
        # not a listed verdict: CMD does not run
        os.unlink(out)
        r = self.verdict(*window, "--exec-on", "PASS", f"cat > {out}")
        self.assertEqual(r.returncode, 1)
        self.assertFalse(os.path.exists(out))
        self.assertEqual(self.verdict("--exec-on", "SLOW", "true").returncode, 2)
        self.assertEqual(self.verdict("--exec-on", "HIGH").returncode, 2)


if __name__ == "__main__":
    unittest.main()
