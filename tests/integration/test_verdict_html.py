"""twinprobe verdict --format html against a real redis-server filled with entries
written here: the page is self-contained, escapes the data, and headless Chromium
renders it (a screenshot kept in build/test-artifacts/, no console error, the SVG
charts drawn)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import test_verdict
from support import BinaryTest, Server, run
from test_publish import Resp, free_port, ping

ROOT = os.environ.get("TWINPROBE_ROOT", os.getcwd())
ARTIFACTS = os.path.join(ROOT, "build", "test-artifacts")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]
HOSTILE = "<script>alert('x')</script> & \"q\""


class VerdictHtml(BinaryTest):
    xadd = test_verdict.Verdict.xadd
    fill = test_verdict.Verdict.fill

    setUp = test_verdict.Verdict.setUp  # a private redis-server, self.redis, self.url

    def page(self):
        """Two locations, the candidate 50 % slower behind us-east on search, a
        step whose name and mismatch need escaping; the HTML page's path."""
        t0 = 1764150000000
        self.fill("eu-west", "shop", t0, 60, 1.0)
        self.fill("us-east", "shop", t0, 60, 1.5)
        self.fill("eu-west", "shop", t0 + 70000, 30, 1.0, step="cart<&>")
        self.xadd("eu-west", "shop", t0 + 150000, 0, 40, 41, step="cart<&>", match="0",
                  diffs="1", diff="$['note'] value_changed \"a\" -> " + HOSTILE)
        out = os.path.join(self.tmp, "verdict.html")
        r = run("verdict", "--redis", self.url, "--since", str(t0), "--until",
                str(t0 + 200000), "--format", "html", "-o", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        return out

    def test_page_is_self_contained_and_escaped(self):
        with open(self.page(), encoding="utf-8") as f:
            html = f.read()
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertNotIn("<script", html)
        self.assertIn("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;", html)
        self.assertIn("cart&lt;&amp;&gt;", html)
        self.assertNotIn("cart<&>", html)
        # nothing fetched: no src, href, url(), @import; the only URL is the SVG namespace
        self.assertIsNone(re.search(r"\b(src|href)\s*=|url\(|@import", html))
        self.assertEqual(set(re.findall(r"https?://[^\s\"']+", html)),
                         {"http://www.w3.org/2000/svg"})
        for text in ("eu-west", "us-east", "HIGH +50.0%", "combined", "Mismatches", "<svg",
                     "<polyline", "baseline", "candidate", "margin"):
            self.assertIn(text, html)

    def chromium(self, *args):
        exe = shutil.which("chromium")
        if not exe:
            self.fail("chromium is not installed: `make deps` installs it")
        profile = tempfile.mkdtemp(prefix="tp-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        return subprocess.run([exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=120)

    def test_chromium_renders_the_page(self):
        url = "file://" + self.page()
        os.makedirs(ARTIFACTS, exist_ok=True)
        shot = os.path.join(ARTIFACTS, "verdict.png")
        if os.path.exists(shot):
            os.remove(shot)
        r = self.chromium(f"--screenshot={shot}", "--window-size=1280,2000", url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(os.path.getsize(shot), 10000, r.stderr)
        with open(shot, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        r = self.chromium("--enable-logging=stderr", "--v=0", "--dump-dom", url)
        self.assertEqual(r.returncode, 0, r.stderr)
        console = [l for l in r.stderr.splitlines() if "CONSOLE" in l]
        self.assertEqual(console, [], r.stderr)
        dom = r.stdout
        self.assertGreaterEqual(dom.count("<svg"), 3)  # search at both locations, cart
        self.assertGreaterEqual(dom.count("<circle"), 2 * 60)
        points = re.findall(r'<polyline[^>]*points="([^"]*)"', dom)
        self.assertGreaterEqual(len(points), 6)
        for p in points:
            self.assertGreater(len(p.split()), 1, p)


if __name__ == "__main__":
    unittest.main()
