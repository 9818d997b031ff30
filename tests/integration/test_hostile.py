"""Bounded work per response (STYLE.md rule 14, docs/SECURITY.md "What a hostile
server can cost"): a small HTTP server serves bodies made to be expensive, and
each journey that reads them ends quickly, either finding what it finds or failing
with the class too_expensive.

- compare.ignore ["$[*].ts"] over two 80,000-item JSON arrays whose ts differ
  (and noise learning over the same): the diff is linear in the body;
- (a+)+$ over 21 KB of "aaa...a!" runs, as a regex source and as `matches`:
  PCRE2's match limit counts per start position, twinprobe's budget across all;
- search(@, '(a+)+$') in a JSONPath filter over the same text as a JSON string;
- count(//d//d) over 70 KB of <d> nested 250 deep, 40 times: refused before
  libxml2's quadratic duplicate checks;
- `validate` of an XPath of 200,000 nested parentheses: a validation error, not a
  stack overflow."""
import http.server
import json
import os
import random
import shutil
import socketserver
import tempfile
import threading
import time
import unittest

from support import BinaryTest, run, send_body

LIMIT_S = 15.0  # loose: well under a second of CPU each, but a sanitizer build is several
#                times slower; the unbounded cases took 5-60 s before


def bodies():
    rng = random.Random(7)
    items = [json.dumps([{"id": i, "ts": rng.random()} for i in range(80000)]).encode()
             for _ in range(3)]
    return {
        "/items": ("application/json", items),
        "/evil": ("text/plain", [(("a" * 18 + "!") * 1100).encode()]),
        "/evil.json": ("application/json", [json.dumps([("a" * 18 + "!") * 1100]).encode()]),
        "/nested": ("text/html",
                    [("<html><body>" + ("<d>" * 250 + "</d>" * 250) * 40 +
                      "</body></html>").encode()]),
    }


class HostileServer:
    def __init__(self):
        table = bodies()
        counts = {}

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                ctype, variants = table.get(self.path, ("text/plain", [b"ok"]))
                n = counts.get(self.path, 0)
                counts[self.path] = n + 1
                send_body(self, 200, variants[n % len(variants)], ctype)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Hostile(BinaryTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = HostileServer()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-hostile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def journey(self, name, doc):
        doc = dict({"name": name}, **doc)
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def run_json(self, path, *targets, rounds=1):
        args = ["run", "--format", "json", "--rounds", str(rounds)]
        for i, t in enumerate(targets):
            args += ["--target", f"t{i}={t}"]
        t0 = time.monotonic()
        r = run(*args, path, timeout=120)
        took = time.monotonic() - t0
        self.assertLess(took, LIMIT_S, f"took {took:.1f} s\n{r.stderr[-2000:]}")
        return json.loads(r.stdout), r

    def steps(self, report):
        return [s for j in report["journeys"] for s in j["steps"]]

    def test_ignore_over_80k_items_is_linear(self):
        for compare in ({"ignore": ["$[*].ts"]}, {}):  # ignored; learned as noise
            with self.subTest(compare=compare):
                path = self.journey("items", {
                    "compare": compare,
                    "steps": [{"name": "items", "request": {"method": "GET", "url": "/items"}}]})
                report, r = self.run_json(path, self.server.url, self.server.url, rounds=2)
                for s in self.steps(report):
                    self.assertTrue(s["ok"], s)

    def test_catastrophic_regex_is_too_expensive(self):
        cases = [  # (path, step keys): a regex source, `matches`, a capture, JSONPath search()
            ("/evil", {"expect": [{"regex": "(a+)+$", "exists": True}]}),
            ("/evil", {"expect": [{"body": {"matches": "(a+)+$"}}]}),
            ("/evil", {"capture": {"x": {"regex": "(a+)+$"}}}),
            ("/evil.json", {"expect": [{"jsonpath": "$[?search(@, '(a+)+$')]", "count": 0}]}),
        ]
        for url, keys in cases:
            with self.subTest(keys=keys):
                step = dict({"name": "evil", "request": {"method": "GET", "url": url}}, **keys)
                report, r = self.run_json(self.journey("evil", {"steps": [step]}),
                                          self.server.url)
                self.assertEqual(self.steps(report)[0]["failure"], "too_expensive")
                self.assertEqual(r.returncode, 1)

    def test_deep_markup_xpath_is_too_expensive(self):
        path = self.journey("nested", {"steps": [{
            "name": "nested", "request": {"method": "GET", "url": "/nested"},
            "expect": [{"xpath": "count(//d//d)", "gt": 0}]}]})
        report, r = self.run_json(path, self.server.url, self.server.url)
        for s in self.steps(report):
            self.assertEqual(s["failure"], "too_expensive", s)

    def test_deeply_nested_xpath_is_a_validation_error(self):
        path = self.journey("parens", {"steps": [{
            "name": "s", "request": {"method": "GET", "url": "/"},
            "expect": [{"xpath": "(" * 200000 + "1" + ")" * 200000, "equals": 1}]}]})
        t0 = time.monotonic()
        r = run("validate", path)
        self.assertLess(time.monotonic() - t0, LIMIT_S)
        self.assertEqual(r.returncode, 2, r.stderr[-2000:])
        self.assertIn("nested too deeply", r.stdout + r.stderr)

    def test_journey_text_is_never_executed(self):
        """Journey files are data: shell syntax in a URL, a header, a body and a
        capture's pattern goes to the server as bytes, and no command runs."""
        marker = os.path.join(self.tmp, "executed")
        cmd = f"$(touch {marker})`touch {marker}`;touch {marker}"
        path = self.journey("data", {"steps": [{
            "name": "s",
            "request": {"method": "POST", "url": "/?q=" + cmd, "headers": {"X-Cmd": cmd},
                        "body": cmd},
            "capture": {"c": {"regex": "(?C1)x"}}}]})
        run("validate", path)
        run("run", "--rounds", "1", "--target", f"t={self.server.url}", path)
        self.assertFalse(os.path.exists(marker))


if __name__ == "__main__":
    unittest.main()
