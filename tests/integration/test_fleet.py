"""Fleet operations through the real binary ("Fleet operations", points 1-5): one run
per probe (spool_dir/run.lock; flush takes it too), --jitter and jitter_s,
--max-runtime and max_runtime_s (completed rounds judged, the cut one left out),
SIGTERM/SIGINT (the same, then exit 128 + signal; a second SIGINT at once), and the
log lines on stderr (UTC time, level, masked message; --quiet). Journeys are made
slow with the demo shop's --latency."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from support import BINARY, ROOT, BinaryTest, Server, run, start_shop
from test_publish import Resp, free_port, ping

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (info|warn|error) \S.*$")

# Two steps of 300 ms each against a shop started with search=300.
SLOW = {
    "name": "slow",
    "compare": {"ignore": ["$.request_id", "$.server_time"]},
    "steps": [
        {"name": "first", "request": {"method": "GET", "url": "/api/search?q=lamp"},
         "expect": [{"status": 200}]},
        {"name": "second", "request": {"method": "GET", "url": "/api/search?q=mug"},
         "expect": [{"status": 200}]},
    ],
}


class Fleet(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-fleet-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "spool")
        with open(os.path.join(self.tmp, "slow.json"), "w") as f:
            json.dump(SLOW, f)

    def shop(self, latency_ms=300):
        return start_shop(self, "--latency", f"search={latency_ms}")

    def probe(self, base, rounds=20, name="probe", spool=True, redis=None, targets=2, **keys):
        """Two targets (one shop) by default; one for runs too short to compare."""
        redis_keys = keys.pop("redis_keys", {})
        doc = {"location": "lab",
               "targets": [{"name": n, "base_url": base} for n in ("stable", "canary")[:targets]],
               "journeys": ["slow.json"], "rounds": rounds}
        doc.update(keys)
        if spool:
            doc["spool_dir"] = self.spool
        if redis:
            doc["redis"] = {"url": redis, "prefix": "twinprobe"}
            doc["redis"].update(redis_keys)
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def start(self, *args):
        """The binary in the background (its own pipes); stopped at cleanup."""
        p = subprocess.Popen([BINARY, *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)

        def stop():
            if p.poll() is None:
                p.kill()
            p.communicate()
        self.addCleanup(stop)
        return p

    def wait_lock(self, pid, timeout=10):
        """Waits until the run lock names pid (the run has started)."""
        path = os.path.join(self.spool, "run.lock")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(path):
                with open(path) as f:
                    if f.read().startswith(f"{pid} "):
                        return path
            time.sleep(0.02)
        self.fail("the run never took its lock")

    def start_redis(self):
        port = free_port()
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port",
                         str(port), "--bind", "127.0.0.1"], ready=lambda: ping(port=port))
        self.addCleanup(server.stop)
        return port

    def log_lines(self, stderr):
        lines = stderr.splitlines()
        for line in lines:
            self.assertRegex(line, LOG_LINE)
        return lines

    # ---- 1. one run per probe

    def test_overlapping_run_and_flush_exit_0_naming_the_holder(self):
        probe = self.probe(self.shop(), redis=f"redis://127.0.0.1:{free_port()}")
        first = self.start("run", "--probe", probe, "--format", "json")  # spools at the end
        lock = self.wait_lock(first.pid)
        self.assertEqual(os.stat(lock).st_mode & 0o777, 0o600)
        t0 = time.monotonic()
        r = run("run", "--probe", probe, timeout=10)
        self.assertLess(time.monotonic() - t0, 3)
        self.assertEqual((r.returncode, r.stdout), (0, ""), r.stderr)
        [line] = self.log_lines(r.stderr)
        self.assertRegex(line, rf" info probe {re.escape(probe)} is already running "
                               rf"\(pid {first.pid} since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\dZ\); "
                               r"this run exits$")
        # flush takes the same lock: it does not wait, it exits 0 naming the run
        r = run("flush", "--probe", probe, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr)
        [line] = self.log_lines(r.stderr)
        self.assertIn(f" info probe {probe} is running (pid {first.pid} since ", line)
        first.send_signal(signal.SIGTERM)
        out, _ = first.communicate(timeout=10)
        self.assertEqual(first.returncode, 128 + signal.SIGTERM)
        # released at exit: the next run runs
        r = run("run", "--probe", probe, "--rounds", "1", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertIn("2 journeys, 2 passed", r.stdout)

    def test_without_spool_dir_or_with_no_publish_there_is_no_lock(self):
        base = self.shop()
        for probe, flags in ((self.probe(base, rounds=4, spool=False, targets=1), ()),
                             (self.probe(base, rounds=4, targets=1, name="np"),
                              ("--no-publish",))):
            first = self.start("run", "--probe", probe, *flags)
            time.sleep(0.3)
            r = run("run", "--probe", probe, "--rounds", "1", *flags, timeout=30)
            self.assertEqual((r.returncode, r.stderr), (0, ""))
            self.assertIn("1 journey, 1 passed", r.stdout)
            out, err = first.communicate(timeout=30)
            self.assertEqual((first.returncode, err), (0, ""))
            self.assertIn("4 journeys, 4 passed", out)
            self.assertFalse(os.path.exists(self.spool))  # --no-publish touches nothing there

    # ---- 2. jitter

    def jitter_run(self, *args):
        base = self.shop(latency_ms=0)
        t0 = time.monotonic()
        r = run("run", "--target", f"stable={base}", *args, os.path.join(self.tmp, "slow.json"),
                timeout=30)
        took = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        return r, took

    def test_jitter_waits_between_0_and_the_bound_and_says_so(self):
        delays = []
        for _ in range(3):
            r, took = self.jitter_run("--jitter", "1")
            [line] = self.log_lines(r.stderr)
            m = re.search(r" info jitter: waiting (\d+\.\d{3}) s \(at most 1 s\) before the "
                          r"first request$", line)
            self.assertTrue(m, line)
            delay = float(m.group(1))
            self.assertTrue(0 <= delay <= 1, delay)
            self.assertGreaterEqual(took, delay)
            self.assertLess(took, 1.5 + 1)  # the delay, plus the run itself
            delays.append(delay)
        self.assertGreater(len(set(delays)), 1, delays)  # random, not fixed
        r, _ = self.jitter_run("--jitter", "0")
        self.assertEqual(r.stderr, "")

    def test_jitter_s_in_the_probe(self):
        probe = self.probe(self.shop(latency_ms=0), rounds=1, spool=False, targets=1, jitter_s=1)
        r = run("run", "--probe", probe, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        self.assertRegex(r.stderr, r" info jitter: waiting \d\.\d{3} s \(at most 1 s\)")
        r = run("run", "--probe", probe, "--jitter", "0", timeout=30)  # the flag wins
        self.assertEqual(r.stderr, "")

    # ---- 3. max runtime

    def check_stopped(self, report, why, completed_max):
        completed = report["rounds_completed"]
        self.assertEqual(report["rounds_planned"], 20)
        self.assertEqual(report["stopped"], why)
        self.assertTrue(1 <= completed <= completed_max, completed)
        # only the completed rounds are reported and compared
        self.assertEqual(len(report["journeys"]), 2 * completed)
        self.assertEqual({j["round"] for j in report["journeys"]}, set(range(1, completed + 1)))
        self.assertTrue(all(j["ok"] for j in report["journeys"]))
        [cmp] = report["comparisons"]
        self.assertEqual(cmp["rounds"], completed)
        return completed

    def test_max_runtime_judges_and_publishes_the_completed_rounds(self):
        port = self.start_redis()
        probe = self.probe(self.shop(), redis=f"redis://127.0.0.1:{port}")
        t0 = time.monotonic()
        r = run("run", "--probe", probe, "--max-runtime", "2", "--format", "json", timeout=30)
        took = time.monotonic() - t0
        self.assertTrue(1.9 < took < 3.5, took)
        self.assertEqual(r.returncode, 0, r.stderr)
        report = json.loads(r.stdout)
        self.assertEqual(report["exit_status"], 0)
        completed = self.check_stopped(report, "max_runtime", 3)  # 600 ms a round
        [line] = self.log_lines(r.stderr)
        self.assertRegex(line, rf" warn stopped \(max_runtime\) after {completed} of 20 rounds; "
                               rf"\d+ transfers? in flight cut \(timeout\); rounds "
                               rf"{completed + 1}-20 not run$")
        db = Resp(port=port)
        try:
            self.assertEqual(db("XLEN", "twinprobe:steps:lab:slow"), 2 * completed)
            self.assertEqual(db("XLEN", "twinprobe:runs:lab"), 1)
        finally:
            db.close()

    def test_max_runtime_s_in_the_probe_and_the_text_report(self):
        probe = self.probe(self.shop(), spool=False, max_runtime_s=1)
        r = run("run", "--probe", probe, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"^stopped \(max_runtime\): (\d) of 20 rounds completed and judged; "
                      r"rounds (\d)-20 not run$", r.stdout, re.M)
        self.assertTrue(m, r.stdout)
        self.assertEqual(int(m.group(2)), int(m.group(1)) + 1)

    # ---- 4. signals

    def test_sigterm_stops_judges_publishes_and_exits_143(self):
        port = self.start_redis()
        probe = self.probe(self.shop(), redis=f"redis://127.0.0.1:{port}")
        p = self.start("run", "--probe", probe, "--format", "json")
        self.wait_lock(p.pid)
        time.sleep(1.5)  # two rounds or so
        t0 = time.monotonic()
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=10)
        self.assertLess(time.monotonic() - t0, 2)
        self.assertEqual(p.returncode, 143, err)
        report = json.loads(out)
        self.assertEqual(report["exit_status"], 143)
        completed = self.check_stopped(report, "signal", 4)
        self.assertIn(" warn stopped (signal) after ", err)
        db = Resp(port=port)
        try:  # the whole batch of the completed rounds, nothing of the cut one
            self.assertEqual(db("XLEN", "twinprobe:steps:lab:slow"), 2 * completed)
            self.assertEqual(db("XLEN", "twinprobe:runs:lab"), 1)
        finally:
            db.close()

    def test_sigint_with_redis_down_spools_the_whole_batch_and_exits_130(self):
        probe = self.probe(self.shop(), redis=f"redis://127.0.0.1:{free_port()}")
        p = self.start("run", "--probe", probe, "--format", "json")
        self.wait_lock(p.pid)
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        completed = self.check_stopped(json.loads(out), "signal", 3)
        with open(os.path.join(self.spool, "spool.jsonl")) as f:
            records = [json.loads(line) for line in f]
        steps = [e for e in records if e["key"] == "twinprobe:steps:lab:slow"]
        self.assertEqual(len(steps), 2 * completed)
        self.assertEqual(len([e for e in records if e["key"] == "twinprobe:runs:lab"]), 1)
        self.assertRegex(err, r"Z warn .*spooled")

    def test_a_second_sigint_exits_at_once_never_halfway_through_a_batch(self):
        # A Redis that accepts and never answers: publishing takes its 1 s timeout,
        # and a second SIGINT during it waits until the batch is spooled whole.
        mute = socket.socket()
        mute.bind(("127.0.0.1", 0))
        mute.listen(8)
        self.addCleanup(mute.close)
        probe = self.probe(self.shop(), redis=f"redis://127.0.0.1:{mute.getsockname()[1]}",
                           redis_keys={"connect_timeout_ms": 1000, "command_timeout_ms": 1000})
        p = self.start("run", "--probe", probe, "--format", "json")
        self.wait_lock(p.pid)
        time.sleep(0.8)
        p.send_signal(signal.SIGINT)
        time.sleep(0.3)  # now publishing
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=10)
        self.assertEqual(p.returncode, 130, err)
        self.assertEqual(out, "")  # gone before the report
        with open(os.path.join(self.spool, "spool.jsonl")) as f:
            records = [json.loads(line) for line in f]  # no torn line
        self.assertEqual(len([e for e in records if e["key"] == "twinprobe:runs:lab"]), 1)
        steps = [e for e in records if e["key"] == "twinprobe:steps:lab:slow"]
        self.assertGreaterEqual(len(steps), 2)
        self.assertEqual(len(steps) % 2, 0)  # whole rounds

    # ---- 5. the log

    def test_log_lines_are_masked_and_quiet_keeps_errors_only(self):
        secret = "hunter2-fleet-secret"
        self.spool = os.path.join(self.tmp, f"spool-{secret}")
        probe = self.probe(self.shop(latency_ms=0), rounds=1, targets=1,
                           redis=f"redis://127.0.0.1:{free_port()}")
        r = run("run", "--probe", probe, "--secret", f"pw={secret}", timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        [line] = self.log_lines(r.stderr)
        self.assertRegex(line, r"Z warn .*entries spooled in .*spool-\*\*\* \(sent by the next "
                               r"run or twinprobe flush\)$")
        self.assertNotIn(secret, r.stderr + r.stdout)
        r = run("run", "--probe", probe, "--quiet", timeout=30)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        # flush: Redis still away is an error, shown under --quiet too
        r = run("flush", "--probe", probe, "--quiet", timeout=30)
        self.assertEqual(r.returncode, 3)
        [line] = self.log_lines(r.stderr)
        self.assertIn(" error ", line)
