"""Many journeys in flight from one process and the descriptor limit (src/fdlimit.c):
`run` raises RLIMIT_NOFILE from its soft to its hard limit before the first request,
and a --max-concurrency that cannot fit even at the hard limit stops the run with
exit 2 and the numbers before anything is sent. The limits are lowered for the
child only (preexec_fn). No timed assertions: what is in flight at once is counted
from the runner's state changes (TWINPROBE_DEBUG)."""
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import tempfile

from support import BINARY, ROOT, SANITIZER_MARKS, BinaryTest, start_shop

JOURNEYS = 100  # x 2 targets: 200 journey runs, all in flight in the first step


def journey(i):
    return {
        "name": "many-%03d" % i,
        "steps": [
            {"name": "search", "request": {"method": "GET", "url": "/api/search?q=lamp"},
             "expect": [{"status": 200}]},
            {"name": "again", "request": {"method": "GET", "url": "/api/search?q=mug"},
             "expect": [{"status": 200}]},
        ],
    }


def limits(soft, hard):
    """preexec_fn: the child's RLIMIT_NOFILE lowered to (soft, hard)."""
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return apply


class ManyInFlight(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-many-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.names = []
        for i in range(JOURNEYS):
            name = "many-%03d.json" % i
            with open(os.path.join(self.tmp, name), "w") as f:
                json.dump(journey(i), f)
            self.names.append(name)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 1024:
            self.skipTest(f"the hard limit on open files is {hard}; these tests need 1024")

    def probe(self, base, max_concurrency):
        doc = {"location": "lab",
               "targets": [{"name": "stable", "base_url": base},
                           {"name": "canary", "base_url": base}],
               "journeys": self.names, "rounds": 1, "max_concurrency": max_concurrency}
        path = os.path.join(self.tmp, "probe.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def run_limited(self, soft, hard, *args):
        env = dict(os.environ, TWINPROBE_DEBUG="1")
        r = subprocess.run([BINARY, "run", "--no-publish", *args], cwd=ROOT, env=env,
                           capture_output=True, text=True, errors="replace", timeout=300,
                           preexec_fn=limits(soft, hard))
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, r.stderr)
        return r

    def test_a_concurrency_that_cannot_fit_stops_before_anything_is_sent(self):
        # A listener that never accepts: a connection attempt would wait in its backlog.
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen(512)
        base = "http://127.0.0.1:%d" % listener.getsockname()[1]
        r = self.run_limited(64, 128, "--probe", self.probe(base, 200), "--format", "json")
        self.assertEqual(r.returncode, 2, r.stderr[-3000:])
        self.assertEqual(r.stdout, "")
        # 32 + 200 connections + 200 in flight; 32 + 5C + C <= 128 for C <= 16
        self.assertRegex(r.stderr, re.escape(
            "error --max-concurrency 200 (200 journey runs a round) needs about 432 file "
            "descriptors; the limit is 128 (ulimit -n; hard limit 128): use "
            "--max-concurrency 16 or less, or raise the hard limit (ulimit -Hn, "
            "LimitNOFILE= in a systemd unit)"))
        self.assertNotIn("in-flight", r.stderr)  # no transfer was started
        listener.setblocking(False)
        with self.assertRaises(BlockingIOError):
            listener.accept()  # nothing connected

    def test_the_flag_is_checked_like_the_probe_key(self):
        base = "http://127.0.0.1:9"  # never reached
        r = self.run_limited(64, 128, "--probe", self.probe(base, 1), "--max-concurrency",
                             "150")
        self.assertEqual(r.returncode, 2, r.stderr[-3000:])
        self.assertIn("error --max-concurrency 150 (200 journey runs a round) needs about 382 file "
                      "descriptors; the limit is 128 ", r.stderr)

    def test_a_low_soft_limit_is_raised_to_the_hard_one(self):
        # 200 sockets would not fit in a soft limit of 64: the run passes only
        # because the limit was raised to 1024 (the need is 432).
        base = start_shop(self)
        r = self.run_limited(64, 1024, "--probe", self.probe(base, 200), "--format", "json",
                             "--fail-on", "never")
        report = json.loads(r.stdout)
        self.assertEqual(len(report["journeys"]), 2 * JOURNEYS)
        failed = [(j["journey"], j["target"], s["error"]) for j in report["journeys"]
                  for s in j["steps"] if not s["ok"]]
        self.assertEqual(failed[:3], [])
        self.assertEqual(r.returncode, 0, r.stderr[-3000:])
        now = peak = 0
        for line in r.stderr.splitlines():
            if line.endswith("-> in-flight"):
                now += 1
                peak = max(peak, now)
            elif ": in-flight ->" in line:
                now -= 1
        self.assertEqual(peak, 2 * JOURNEYS)  # every journey run's first step at once
