"""Parsed bodies do not pile up over the rounds: the runner drops a step's parsed
JSON, DOM and cookie-jar copy once the step is judged, and the comparison parses a
body again a round at a time. A 6.6 MB JSON body (a parsed copy takes ~190 MB),
two targets: the peak RSS of 4 rounds stays close to that of 1 round (before:
199 MB for 1 round, 757 MB for 4). Judging as you go, the raw bodies do not pile
up either: a round is compared once the next has completed and then reduced, so
at most two rounds of bodies are held, whatever the number of rounds."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading

from support import BINARY, SANITIZER_MARKS, BinaryTest

BODY = json.dumps({"items": [{"id": i, "name": f"item{i}", "price": i * 1.5, "tags": ["a", "b"]}
                             for i in range(90000)]}).encode()


class Big(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass


class ParsedBodies(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-mem-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 5)
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self.journey = os.path.join(self.tmp, "big.json")
        with open(self.journey, "w") as f:
            json.dump({"name": "big", "steps": [
                {"name": "get", "request": {"url": "/big.json"},
                 "expect": [{"jsonpath": "$.items[0].id", "equals": 0}]}]}, f)

    def peak_kib(self, rounds):
        """Peak RSS of one run (wait4 on this child alone), in KiB. Under ASan,
        freed memory is not held in quarantine (it would count as kept)."""
        err_path = os.path.join(self.tmp, "err")
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=0").lstrip(":")
        with open(os.devnull, "w") as out, open(err_path, "w") as err:
            proc = subprocess.Popen([BINARY, "run", "--rounds", str(rounds), "--target",
                                     f"a={self.url}", "--target", f"b={self.url}",
                                     self.journey], stdout=out, stderr=err, env=env)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here
        with open(err_path) as f:
            stderr = f.read()
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, stderr)
        self.assertIn(proc.returncode, (0, 1), stderr)
        return usage.ru_maxrss

    def test_rounds_do_not_multiply_memory(self):
        one, four = self.peak_kib(1), self.peak_kib(4)
        # 3 more rounds keep 6 more raw bodies (40 MB) and, at compare time, at most
        # two parsed bodies at once; all four rounds parsed at once would be ~3.8x
        self.assertLess(four, one * 1.6, f"1 round: {one} KiB, 4 rounds: {four} KiB")

    def test_bodies_do_not_pile_up(self):
        two, eight = self.peak_kib(2), self.peak_kib(8)
        # keeping every raw body would add 12 bodies (80 MB) to the 2-round peak
        self.assertLess(eight, two * 1.25, f"2 rounds: {two} KiB, 8 rounds: {eight} KiB")

