"""Report files: --report FORMAT=FILE (repeatable) beside --format/--output, all of
one run; report files are created 0600 and never written through a symlink; a
bad --report is a usage error."""
import json
import os
import stat
import xml.etree.ElementTree as ET

from support import run, start_shop
from test_run import RunBase


class ReportFiles(RunBase):
    def setUp(self):
        super().setUp()
        self.shop = start_shop(self)
        self.path = self.journey("health", [
            {"name": "health", "request": {"url": "/health"}, "expect": [{"status": 200}]}])

    def test_several_reports_of_one_run(self):
        j, x, t = (os.path.join(self.tmp, n) for n in ("r.json", "r.xml", "r.txt"))
        r = run("run", "--target", f"s={self.shop}", "--report", f"json={j}",
                "--report", f"junit={x}", "--report", f"text={t}", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.load(open(j))
        # the terminal report is there too, and every file is the same run
        self.assertIn("health", r.stdout)
        self.assertEqual(open(t).read(), r.stdout)
        props = {p.get("name"): p.get("value") for p in ET.parse(x).getroot().iter("property")}
        self.assertEqual(props["run"], report["run"])
        for f in (j, x, t):
            self.assertEqual(stat.S_IMODE(os.stat(f).st_mode), 0o600, f)

    def test_json_output_still_works_with_reports(self):
        out, x = os.path.join(self.tmp, "out.json"), os.path.join(self.tmp, "j.xml")
        r = run("run", "--target", f"s={self.shop}", "--format", "json", "--output", out,
                "--report", f"junit={x}", self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(json.load(open(out))["tool"], "twinprobe")
        self.assertEqual(ET.parse(x).getroot().tag, "testsuites")

    def test_symlink_never_followed(self):
        victim = os.path.join(self.tmp, "victim")
        with open(victim, "w") as f:
            f.write("keep me\n")
        link = os.path.join(self.tmp, "link.json")
        os.symlink(victim, link)
        for args in (("--output", link), ("--report", f"json={link}")):
            r = run("run", "--target", f"s={self.shop}", *args, self.path)
            self.assertEqual(r.returncode, 3, r.stderr)
            self.assertIn("cannot write the report to", r.stderr)
            self.assertEqual(open(victim).read(), "keep me\n")

    def test_bad_report_flag(self):
        for bad in ("json", "xml=out", "json=", "=x"):
            r = run("run", "--target", f"s={self.shop}", "--report", bad, self.path)
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--report takes FORMAT=FILE", r.stderr)
