"""journeys/wiki-edit.json against the demo shop's server-rendered wiki: it
validates, passes against one shop round after round (the page state is shared),
and a stable and a canary reached under one Host name through connect_to render
the same canonical link. Once noise is learned from the baseline's own rounds
(`"noise": "rounds"`), the comparison must leave every token, nonce and time out,
and still catch a changed <title>."""
import json
import os
import re
import tempfile
import unittest
import urllib.request

from support import ROOT, BinaryTest, run, start_shop

JOURNEY = os.path.join(ROOT, "journeys", "wiki-edit.json")
ENV = {"SHOP_USER": "alice", "SHOP_PASSWORD": "wonderland"}
HOST = "wiki.test"


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def probe_file(tmp, stable, canary, same_host=True, rounds=4):
    """A probe file comparing two shops; with same_host both are reached as
    http://wiki.test through connect_to, else each under its own address."""
    if same_host:
        targets = [{"name": name, "base_url": f"http://{HOST}",
                    "connect_to": f"{HOST}:80:127.0.0.1:{port_of(url)}"}
                   for name, url in (("stable", stable), ("canary", canary))]
    else:
        targets = [{"name": "stable", "base_url": stable}, {"name": "canary", "base_url": canary}]
    path = os.path.join(tmp, "probe.json")
    with open(path, "w") as f:
        json.dump({"location": "test", "targets": targets, "baseline": "stable",
                   "journeys": [JOURNEY], "rounds": rounds}, f)
    return path


def read_back(report):
    """The comparison of step read-back in a JSON report."""
    steps = report["comparisons"][0]["steps"]
    return next(s for s in steps if s["step"] == "read-back")


def noise_from_rounds():
    """True once the loader knows "noise": "rounds" (noise learned from the
    baseline's own rounds, no extra requests)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "j.json")
        with open(path, "w") as f:
            json.dump({"name": "j", "compare": {"noise": "rounds"},
                       "steps": [{"name": "s", "request": {"url": "/"}}]}, f)
        try:
            return run("validate", path).returncode == 0
        except OSError:
            return False  # no binary: WikiJourney says so


class WikiJourney(BinaryTest):
    def test_validates(self):
        r = run("validate", JOURNEY)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('ok (journey "wiki-edit", 6 steps)', r.stdout)

    def test_passes_against_one_shop(self):
        base = start_shop(self)
        r = run("run", "--rounds", "3", "--format", "json", "--target", f"s={base}", JOURNEY,
                env=ENV)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual([j["ok"] for j in report["journeys"]], [True] * 3)
        for j in report["journeys"]:
            self.assertEqual([s["ok"] for s in j["steps"]], [True] * 6)
            self.assertNotIn("wonderland", json.dumps(j))
        # every round edited the one shared page
        with urllib.request.urlopen(base + "/wiki/page/Sandbox") as resp:
            page = resp.read().decode()
        self.assertIn('<span id="revision">3</span>', page)
        self.assertIn('<span id="editor">alice</span>', page)
        texts = [j["steps"][4]["assertions"][1]["expected"] for j in report["journeys"]]
        self.assertEqual(len(set(texts)), 3, "each round writes its own text")
        self.assertIn(f"<p>{texts[-1]}</p>", page)

    def test_connect_to_gives_both_the_same_host(self):
        stable, canary = start_shop(self), start_shop(self, variant="canary")
        with tempfile.TemporaryDirectory() as tmp:
            r = run("run", "-v", "--rounds", "2", "--format", "json", "--probe",
                    probe_file(tmp, stable, canary), env=ENV)
        report = json.loads(r.stdout)
        self.assertEqual(sorted((j["target"], j["round"], j["ok"]) for j in report["journeys"]),
                         [("canary", 1, True), ("canary", 2, True),
                          ("stable", 1, True), ("stable", 2, True)], r.stderr)
        blocks = re.split(r"(?m)^(?=\* journey )", r.stderr)
        pages = [b for b in blocks if b.startswith("* journey ") and
                 ", step 5 read-back," in b.splitlines()[0]]
        self.assertEqual(len(pages), 4, r.stderr)
        for b in pages:
            target = re.match(r"\* journey wiki-edit, target (\w+),", b).group(1)
            self.assertIn(f"> GET http://{HOST}/wiki/page/Sandbox\n> Host: {HOST}\n", b)
            self.assertIn(f"< X-Shop-Variant: {target}\n", b)
            self.assertIn(f'< <link rel="canonical" href="http://{HOST}/wiki/page/Sandbox">', b)
        self.assertNotIn("wonderland", r.stderr)


class WikiComparison(BinaryTest):
    """The behaviour docs/comparing-server-rendered-apps.md describes."""

    def compare(self, *canary_flags, same_host=True):
        stable, canary = start_shop(self), start_shop(self, *canary_flags, variant="canary")
        with tempfile.TemporaryDirectory() as tmp:
            r = run("run", "--format", "json", "--fail-on", "never", "--probe",
                    probe_file(tmp, stable, canary, same_host), env=ENV)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        report = json.loads(r.stdout)
        self.assertTrue(all(j["ok"] for j in report["journeys"]), r.stdout)
        return report, canary

    def test_tokens_nonce_and_time_are_learned(self):
        report, _ = self.compare()
        for step in report["comparisons"][0]["steps"]:
            self.assertEqual(step["mismatches"], [], step["step"])

    def test_changed_title_is_caught(self):
        report, _ = self.compare("--fault", "title:Twin Wiki (broken)")
        step = read_back(report)
        self.assertEqual(step["verdict"], "CRITICAL")
        self.assertTrue(any("Twin Wiki (broken)" in (m["cand"] or "")
                            for m in step["mismatches"]), step["mismatches"])

    def test_different_hosts_differ_in_the_canonical_link(self):
        report, canary = self.compare(same_host=False)
        self.assertTrue(any(canary[len("http://"):] in (m["cand"] or "")
                            for m in read_back(report)["mismatches"]), read_back(report))


class DefaultSettings(BinaryTest):
    """The issue's "done means": the stateful sign-in / edit / read-back journey,
    two identical instances under one Host name, 8 rounds, default settings."""

    def run_wiki(self, *canary_flags):
        stable, canary = start_shop(self), start_shop(self, *canary_flags, variant="canary")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "report.json")
            r = run("run", "--probe", probe_file(tmp, stable, canary, rounds=8),
                    "--report", f"json={out}", env=ENV)
            with open(out) as f:
                return r, json.load(f)

    def test_identical_instances_pass_and_noise_is_listed(self):
        r, report = self.run_wiki()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        steps = report["comparisons"][0]["steps"]
        for s in steps:
            self.assertEqual(s["mismatches"], [], s["step"])
        # what was hidden can be audited: the tokens, the nonce, the time
        learned = {p for s in steps for p in s["noise"]["paths"]}
        self.assertTrue(any("csrf" in p for p in learned), learned)
        self.assertTrue(any("nonce" in p for p in learned), learned)
        self.assertTrue(any("server-time" in p for p in learned), learned)
        self.assertTrue(all(s["noise"]["from"] == 8 for s in steps if s["noise"]["paths"]))
        self.assertRegex(r.stdout, r"noise: \d+ paths? learned from 8 baseline runs")
        self.assertIn("exit 0: every journey run passed", r.stdout)

    def test_changed_title_is_reported_with_path_and_values(self):
        r, report = self.run_wiki("--fault", "title:Sandbox - Broken Wiki")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        mm = read_back(report)["mismatches"]
        self.assertIn(("/html/head/title/text()", '"Sandbox - Twin Wiki"',
                       '"Sandbox - Broken Wiki"'),
                      [(m["path"], m["base"], m["cand"]) for m in mm], mm)
        self.assertIn("mismatch node_changed at /html/head/title/text()", r.stdout)
        self.assertRegex(r.stdout, r"exit 1: \d+ mismatch(es)? in 1 step \(see above; "
                                   r"compare.ignore or --fail-on never\)")


if __name__ == "__main__":
    unittest.main()
