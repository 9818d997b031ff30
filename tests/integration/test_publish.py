"""Publishing to Redis Streams through the real binary, against real redis-server
processes started here on loopback ports (no persistence) and the demo shop:
entries and fields exactly as docs/redis-schema.md says, a consumer group reading
every entry, Redis away (the spool fills, nothing is lost, flush sends it), a
connection cut in the middle of a pipelined batch (every entry exactly once after
flush, twice flushed adds nothing), torn spool lines quarantined, ACL users and
passwords (a wrong one is a clear error that never shows the password), a UNIX
socket with a db, a TLS Redis reached through a local stunnel client, stream IDs
above an existing top, and the spool's own failures (exit 3, report still out)."""
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from support import BINARY, ROOT, SANITIZER_MARKS, BinaryTest, Server, run, start_shop

STEP_FIELDS = [
    "run", "round", "step", "base", "cand", "base_status", "cand_status", "base_ok", "cand_ok",
    "base_ms", "cand_ms", "delta_ms", "ratio", "base_dns_ms", "base_connect_ms", "base_tls_ms",
    "base_ttfb_ms", "base_download_ms", "cand_dns_ms", "cand_connect_ms", "cand_tls_ms",
    "cand_ttfb_ms", "cand_download_ms", "base_reused", "cand_reused", "match", "diffs", "diff",
    "base_error", "cand_error",
]
RUN_FIELDS = [
    "run", "journey", "base", "cand", "rounds", "verdict", "score", "worst_step", "delta_pct",
    "ci_low_pct", "ci_high_pct", "p", "n", "base_errors", "cand_errors", "mismatches", "reason",
    "version",
]
MS_FIELDS = [f for f in STEP_FIELDS if f.endswith("_ms")]
SECRET = "s3cr3t-Shop-Pa55"
SCHEMA_DOC = os.path.join(ROOT, "docs", "redis-schema.md")

# health and a JSON search; volatile fields ignored, so stable and an unfaulted
# canary compare equal.
BROWSE = {
    "name": "browse",
    "compare": {"ignore": ["$.request_id", "$.server_time", "$.variant"]},
    "steps": [
        {"name": "health", "request": {"url": "/health"}, "expect": [{"status": 200}]},
        {"name": "search", "request": {"url": "/api/search", "query": {"q": "widget"}},
         "expect": [{"status": 200}]},
    ],
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RespError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: enough to check what twinprobe wrote."""

    def __init__(self, port=None, path=None):
        if path:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(10)
            try:
                self.sock.connect(path)
            except OSError:
                self.sock.close()
                raise
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.reader = self.sock.makefile("rb")

    def __call__(self, *args):
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        out = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        self.sock.sendall(out)
        return self.read()

    def read(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.reader.read(n + 2)[:-2].decode()
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"bad reply {line!r}")

    def close(self):
        self.reader.close()
        self.sock.close()


def ping(port=None, path=None):
    try:
        r = Resp(port=port, path=path)
    except OSError:
        return False
    try:
        return r("PING") == "PONG"
    except (OSError, RespError, ConnectionError):
        return True  # up, only protected
    finally:
        r.close()


def entries(r, key):
    """[(id, [names], {name: value})] of a stream, in order."""
    out = []
    for entry_id, flat in r("XRANGE", key, "-", "+"):
        names = flat[0::2]
        out.append((entry_id, names, dict(zip(names, flat[1::2]))))
    return out


def id_tuple(entry_id):
    ms, seq = entry_id.split("-")
    return int(ms), int(seq)


class CutProxy:
    """Forwards one connection to Redis and cuts it: once `replies` bytes went from
    Redis to the client, or `requests` bytes from the client to Redis, both sides
    are closed. It accepts a single connection, so twinprobe's reconnect fails as it
    would against a dead server."""

    def __init__(self, test, upstream, replies=None, requests=None):
        self.upstream = upstream
        self.budget = {"replies": replies, "requests": requests}
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()
        test.addCleanup(self.close)

    def serve(self):
        try:
            client, _ = self.listener.accept()
        except OSError:
            return
        self.listener.close()
        server = socket.create_connection(("127.0.0.1", self.upstream))
        route = {client: (server, "requests"), server: (client, "replies")}
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 10)
                if not ready:
                    return
                for src in ready:
                    dst, name = route[src]
                    data = src.recv(65536)
                    if not data:
                        return
                    left = self.budget[name]
                    if left is not None and len(data) >= left:
                        dst.sendall(data[:left])
                        return
                    if left is not None:
                        self.budget[name] = left - len(data)
                    dst.sendall(data)
        except OSError:
            return
        finally:
            for s in (client, server):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        try:
            self.listener.close()
        except OSError:
            pass
        self.thread.join(5)


class Publish(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-pub-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "spool")

    # ---- servers and files

    def start_redis(self, *extra, port=None, unixsocket=None):
        port = port if port is not None else free_port()
        argv = ["redis-server", "--save", "", "--appendonly", "no", "--port", str(port),
                "--bind", "127.0.0.1", *extra]
        if unixsocket:
            argv += ["--unixsocket", unixsocket, "--unixsocketperm", "700"]
        server = Server(argv, ready=lambda: ping(port=port if port else None, path=unixsocket))
        self.addCleanup(server.stop)
        return port, server

    def journey(self, doc):
        path = os.path.join(self.tmp, doc["name"] + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def probe(self, targets, url, journey=None, rounds=3, name="probe", spool=True, **redis):
        doc = {"location": "lab",
               "targets": [{"name": n, "base_url": u} for n, u in targets],
               "journeys": [journey or self.journey(BROWSE)], "rounds": rounds,
               "redis": dict({"url": url, "prefix": "twinprobe", "maxlen": 100000}, **redis)}
        if spool:
            doc["spool_dir"] = spool if isinstance(spool, str) else self.spool
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def spool_lines(self):
        path = os.path.join(self.spool, "spool.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    def check_no_run_failure(self, r, *allowed):
        self.assertIn(r.returncode, allowed or (0, 1), r.stderr + r.stdout[-2000:])

    # ---- tests

    def test_entries_and_fields_as_documented(self):
        port, _ = self.start_redis()
        stable = start_shop(self)
        canary = start_shop(self, "--fault", 'field:search:results.0.price="12.50"',
                            variant="canary")
        doc = dict(BROWSE, name="browse-secret", secrets=["TP_TEST_SECRET"])
        doc["steps"] = BROWSE["steps"] + [
            {"name": "secret", "request": {"url": "/health"},
             "expect": [{"body": {"contains": "{{env.TP_TEST_SECRET}}"}}]}]
        probe = self.probe([("stable", stable), ("canary", canary)],
                           f"redis://127.0.0.1:{port}/0", journey=self.journey(doc))
        before = int(time.time() * 1000)
        r = run("run", "--probe", probe, "--format", "json", env={"TP_TEST_SECRET": SECRET})
        self.assertEqual(r.returncode, 1, r.stderr)
        # 3 rounds: the one warning that they cannot decide the latency, nothing else
        self.assertEqual([line for line in r.stderr.splitlines()
                          if "cannot decide a comparison" not in line], [])
        report = json.loads(r.stdout)
        version = run("--version").stdout.split()[1]
        db = Resp(port)
        self.addCleanup(db.close)
        key = "twinprobe:steps:lab:browse-secret"

        steps = entries(db, key)
        self.assertEqual(len(steps), 3 * 3)
        last = (0, 0)
        for i, (entry_id, names, f) in enumerate(steps):
            self.assertEqual(names, STEP_FIELDS)
            self.assertRegex(entry_id, r"^\d+-\d+$")
            self.assertGreater(id_tuple(entry_id), last)  # strictly increasing
            last = id_tuple(entry_id)
            self.assertGreaterEqual(last[0], before - 1000)
            self.assertLessEqual(last[0], int(time.time() * 1000))
            self.assertEqual(f["run"], report["run"])
            self.assertEqual(f["round"], str(i // 3 + 1))
            self.assertEqual(f["step"], ["health", "search", "secret"][i % 3])
            self.assertEqual((f["base"], f["cand"]), ("stable", "canary"))
            self.assertEqual((f["base_status"], f["cand_status"]), ("200", "200"))
            for name in MS_FIELDS:
                self.assertRegex(f[name], r"^-?\d+\.\d{3}$", name)
            self.assertRegex(f["ratio"], r"^\d+\.\d{4}$")
            self.assertAlmostEqual(float(f["delta_ms"]),
                                   float(f["cand_ms"]) - float(f["base_ms"]), delta=0.0015)
            for name in ("base_ok", "cand_ok", "base_reused", "cand_reused", "match"):
                self.assertIn(f[name], ("0", "1"))
            self.assertRegex(f["diffs"], r"^\d+$")
            if f["step"] == "health":
                self.assertEqual((f["match"], f["diffs"], f["diff"]), ("1", "0", ""))
                self.assertEqual((f["base_error"], f["cand_error"]), ("", ""))
            elif f["step"] == "search":
                self.assertEqual((f["match"], f["diffs"]), ("0", "1"))
                self.assertEqual(f["diff"], "$['results'][0]['price'] type_changed 12.5 -> \"12.50\"")
                self.assertEqual((f["base_ok"], f["cand_ok"]), ("1", "1"))
            else:
                self.assertEqual((f["base_ok"], f["cand_ok"]), ("0", "0"))
                self.assertIn("***", f["base_error"])
                self.assertIn("***", f["cand_error"])
        # the entries of one round carry that round's start
        for k in range(3):
            self.assertEqual(len({id_tuple(e[0])[0] for e in steps[3 * k:3 * k + 3]}), 1)

        runs = entries(db, "twinprobe:runs:lab")
        self.assertEqual(len(runs), 1)
        entry_id, names, f = runs[0]
        self.assertEqual(names, RUN_FIELDS)
        c = report["comparisons"][0]
        self.assertEqual((f["run"], f["journey"], f["base"], f["cand"], f["rounds"]),
                         (report["run"], "browse-secret", "stable", "canary", "3"))
        self.assertEqual(f["verdict"], c["verdict"])
        self.assertEqual(f["worst_step"], c["worst_step"] or "")
        self.assertEqual(f["n"], str(c["n"]))
        self.assertEqual(f["mismatches"], str(c["mismatches"]))
        self.assertEqual(f["version"], version)
        for name in ("score", "delta_pct", "ci_low_pct", "ci_high_pct", "p"):
            if c[name] is None:
                self.assertEqual(f[name], "", name)
            else:
                self.assertAlmostEqual(float(f[name]), c[name], places=3)
                self.assertNotIn("e", f[name].lower(), name)  # plain decimal
        self.assertEqual(id_tuple(entry_id)[0], report["started_ms"])

        latest = db("HGETALL", "twinprobe:latest:lab:browse-secret")
        self.assertEqual(dict(zip(latest[0::2], latest[1::2])), f)
        self.assertEqual(set(db("SMEMBERS", "twinprobe:index")), {key, "twinprobe:runs:lab"})
        self.assertEqual(set(db("KEYS", "*")), {key, "twinprobe:runs:lab", "twinprobe:index",
                                                "twinprobe:latest:lab:browse-secret"})
        # the secret is nowhere in Redis
        dump = json.dumps([steps, runs, latest])
        self.assertNotIn(SECRET, dump)
        self.assertFalse(os.path.exists(os.path.join(self.spool, "spool.jsonl")) and
                         os.path.getsize(os.path.join(self.spool, "spool.jsonl")))

    def test_docs_and_code_tables_match(self):
        with open(SCHEMA_DOC, encoding="utf-8") as f:
            doc = f.read()
        for name in STEP_FIELDS + RUN_FIELDS:
            self.assertIn(f"`{name}`", doc, f"{name} is not in docs/redis-schema.md")
        for key in ("{prefix}:steps:{location}:{journey}", "{prefix}:runs:{location}",
                    "{prefix}:latest:{location}:{journey}", "{prefix}:index"):
            self.assertIn(key, doc)
        for word in ("XGROUP CREATE", "XREADGROUP", "XACK", "stunnel", "Grafana", "XRANGE"):
            self.assertIn(word, doc)
        with open(os.path.join(ROOT, "src", "streams.c"), encoding="utf-8") as f:
            src = f.read()
        for table, want in (("step_fields", STEP_FIELDS), ("run_fields", RUN_FIELDS)):
            body = re.search(r"static const char \*const " + table + r"\[[A-Z_]+\] = \{(.*?)\};",
                             src, re.S)
            self.assertIsNotNone(body, table)
            self.assertEqual(re.findall(r'"([a-z_]+)"', body.group(1)), want)

    def test_monitoring_one_target(self):
        port, _ = self.start_redis()
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}")
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        db = Resp(port)
        self.addCleanup(db.close)
        steps = entries(db, "twinprobe:steps:lab:browse")
        self.assertEqual(len(steps), 3 * 2)
        for _, names, f in steps:
            self.assertEqual(names, STEP_FIELDS)
            self.assertEqual(f["base"], "stable")
            for name in STEP_FIELDS:
                if name.startswith("cand") or name in ("delta_ms", "ratio", "match", "diffs",
                                                       "diff"):
                    self.assertEqual(f[name], "", name)
            self.assertEqual(f["base_ok"], "1")
        (_, names, f), = entries(db, "twinprobe:runs:lab")
        self.assertEqual(names, RUN_FIELDS)
        self.assertEqual((f["cand"], f["verdict"], f["rounds"], f["n"], f["base_errors"]),
                         ("", "PASS", "3", "3", "0"))

    def test_consumer_group_reads_every_entry(self):
        port, _ = self.start_redis()
        stable, canary = start_shop(self), start_shop(self, variant="canary")
        probe = self.probe([("stable", stable), ("canary", canary)],
                           f"redis://127.0.0.1:{port}", rounds=5)
        r = run("run", "--probe", probe)
        self.check_no_run_failure(r)
        db = Resp(port)
        self.addCleanup(db.close)
        key = "twinprobe:steps:lab:browse"
        all_ids = [e[0] for e in entries(db, key)]
        self.assertEqual(len(all_ids), 10)
        self.assertEqual(db("XGROUP", "CREATE", key, "dash", "0"), "OK")
        got = []
        while True:
            reply = db("XREADGROUP", "GROUP", "dash", "reader-1", "COUNT", "3", "STREAMS", key, ">")
            if not reply:
                break
            batch = reply[0][1]
            got += [entry_id for entry_id, _ in batch]
            self.assertEqual(db("XACK", key, "dash", *[i for i, _ in batch]), len(batch))
        self.assertEqual(got, all_ids)
        self.assertEqual(db("XPENDING", key, "dash")[0], 0)

    def test_redis_down_spools_then_flush_sends_everything(self):
        port = free_port()  # nothing listens there yet
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}/0")
        per_run = 3 * 2 + 1 + 1 + 1  # steps entries, runs entry, latest hash, index
        reports = []
        for _ in range(2):
            r = run("run", "--probe", probe, "--format", "json")
            self.assertEqual(r.returncode, 0, r.stderr)  # as with Redis up
            self.assertIn("Connection refused", r.stderr)
            self.assertIn(f"{per_run} entries spooled in {self.spool}", r.stderr)
            reports.append(json.loads(r.stdout))
        self.assertEqual(os.stat(self.spool).st_mode & 0o777, 0o700)
        self.assertEqual(os.stat(os.path.join(self.spool, "spool.jsonl")).st_mode & 0o777, 0o600)
        lines = self.spool_lines()
        self.assertEqual(len(lines), 2 * per_run)
        for rec in lines:
            self.assertEqual(set(rec), {"key", "id", "type", "maxlen", "fields"})
        ids = [id_tuple(x["id"]) for x in lines if x["key"] == "twinprobe:steps:lab:browse"]
        self.assertEqual(ids, sorted(set(ids)))

        self.start_redis(port=port)
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{2 * per_run} sent", r.stdout)
        db = Resp(port)
        self.addCleanup(db.close)
        steps = entries(db, "twinprobe:steps:lab:browse")
        self.assertEqual([(f["run"], f["round"], f["step"]) for _, _, f in steps],
                         [(rep["run"], str(k), s) for rep in reports for k in (1, 2, 3)
                          for s in ("health", "search")])
        self.assertEqual([e[0] for e in steps], [x["id"] for x in lines
                                                 if x["key"] == "twinprobe:steps:lab:browse"])
        runs = entries(db, "twinprobe:runs:lab")
        self.assertEqual([f["run"] for _, _, f in runs], [rep["run"] for rep in reports])
        latest = db("HGETALL", "twinprobe:latest:lab:browse")
        self.assertEqual(dict(zip(latest[0::2], latest[1::2])), runs[-1][2])
        self.assertEqual(self.spool_lines(), [])
        # flushing twice adds nothing
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0 sent", r.stdout)
        self.assertEqual(db("XLEN", "twinprobe:steps:lab:browse"), 12)
        # the next run publishes behind what came from the spool
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        steps2 = entries(db, "twinprobe:steps:lab:browse")
        self.assertEqual(len(steps2), 18)
        self.assertGreater(id_tuple(steps2[12][0]), id_tuple(steps2[11][0]))

    def test_next_run_replays_the_spool_first(self):
        port = free_port()
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}", rounds=2)
        first = run("run", "--probe", probe, "--format", "json")
        self.assertEqual(first.returncode, 0, first.stderr)
        self.start_redis(port=port)
        second = run("run", "--probe", probe, "--format", "json")
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertEqual(second.stderr, "")
        db = Resp(port)
        self.addCleanup(db.close)
        runs = [f["run"] for _, _, f in entries(db, "twinprobe:steps:lab:browse")]
        a, b = json.loads(first.stdout)["run"], json.loads(second.stdout)["run"]
        self.assertEqual(runs, [a] * 4 + [b] * 4)
        self.assertEqual(self.spool_lines(), [])

    def test_failing_run_with_redis_down_keeps_its_exit_status(self):
        port = free_port()
        stable = start_shop(self, "--fault", "status:search=500")
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}", rounds=1)
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("spooled", r.stderr)
        runs = [x for x in self.spool_lines() if x["key"] == "twinprobe:runs:lab"]
        self.assertEqual(dict(runs[0]["fields"])["verdict"], "FAIL")

    def test_cut_in_the_middle_of_a_batch_then_flush_exactly_once(self):
        for cut in ({"replies": 300}, {"requests": 5000}):
            with self.subTest(cut=cut):
                self.cut_once(cut)

    def cut_once(self, cut):
        shutil.rmtree(self.spool, True)
        port, _ = self.start_redis()
        stable, canary = start_shop(self), start_shop(self, variant="canary")
        rounds = 25
        proxy = CutProxy(self, port, **cut)
        probe = self.probe([("stable", stable), ("canary", canary)],
                           f"redis://127.0.0.1:{proxy.port}", rounds=rounds, name="cut")
        r = run("run", "--probe", probe, "--format", "json")
        self.check_no_run_failure(r)
        self.assertIn("spooled in", r.stderr)
        run_id = json.loads(r.stdout)["run"]
        spooled = self.spool_lines()
        self.assertGreater(len(spooled), 0)
        if "replies" in cut:  # the replies of the first entries came back
            self.assertLess(len(spooled), rounds * 2 + 3)
        direct = self.probe([("stable", stable), ("canary", canary)],
                            f"redis://127.0.0.1:{port}", rounds=rounds, name="direct")
        r = run("flush", "--probe", direct)
        self.assertEqual(r.returncode, 0, r.stderr)
        # Redis ran commands whose replies never came back: they are found, not added
        self.assertRegex(r.stdout, r" [1-9]\d* already there")
        db = Resp(port)
        self.addCleanup(db.close)

        def counts():
            seen = {}
            for _, _, f in entries(db, "twinprobe:steps:lab:browse"):
                k = (f["run"], f["round"], f["step"], f["cand"])
                seen[k] = seen.get(k, 0) + 1
            return seen

        seen = counts()
        want = {(run_id, str(k), s, "canary") for k in range(1, rounds + 1)
                for s in ("health", "search")}
        self.assertEqual(set(seen), want)
        self.assertEqual(set(seen.values()), {1})
        self.assertEqual(db("XLEN", "twinprobe:runs:lab"), 1)
        self.assertEqual(self.spool_lines(), [])
        r = run("flush", "--probe", direct)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(counts(), seen)
        db("FLUSHALL")

    def test_torn_spool_line_is_quarantined(self):
        port = free_port()
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}", rounds=1)
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        n = len(self.spool_lines())
        torn = '{"key":"twinprobe:steps:lab:browse","id":"1-0","ty'
        with open(os.path.join(self.spool, "spool.jsonl"), "a") as f:
            f.write(torn)
        self.start_redis(port=port)
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("is torn (no newline at the end): moved to", r.stderr)
        self.assertIn(f"{n} sent", r.stdout)
        self.assertIn("1 torn line quarantined", r.stdout)
        quarantined = [x for x in os.listdir(self.spool) if x.startswith("quarantine-")]
        self.assertEqual(len(quarantined), 1)
        self.assertRegex(quarantined[0], r"^quarantine-\d+\.jsonl$")
        with open(os.path.join(self.spool, quarantined[0])) as f:
            self.assertEqual(f.read(), torn + "\n")
        db = Resp(port)
        self.addCleanup(db.close)
        self.assertEqual(db("XLEN", "twinprobe:steps:lab:browse"), 2)

    def test_acl_user_and_requirepass(self):
        stable = start_shop(self)
        # an ACL user with only what publishing needs, the default user off
        port, _ = self.start_redis()
        admin = Resp(port)
        self.addCleanup(admin.close)
        self.assertEqual(admin("ACL", "SETUSER", "probe", "on", ">acl-pw-1", "~twinprobe:*",
                               "+xadd", "+xrange", "+xrevrange", "+hset", "+sadd", "+select"),
                         "OK")
        self.assertEqual(admin("ACL", "SETUSER", "default", "off"), "OK")
        probe = self.probe([("stable", stable)], f"redis://probe@127.0.0.1:{port}/2",
                           password_env="TP_TEST_REDIS_PW")
        r = run("run", "--probe", probe, env={"TP_TEST_REDIS_PW": "acl-pw-1"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        db = Resp(port)
        self.addCleanup(db.close)
        self.assertEqual(db("AUTH", "probe", "acl-pw-1"), "OK")
        self.assertEqual(db("SELECT", "2"), "OK")
        self.assertEqual(len(entries(db, "twinprobe:steps:lab:browse")), 6)
        # requirepass: AUTH with the password alone
        port2, _ = self.start_redis("--requirepass", "plain-pw-2")
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port2}",
                           password_env="TP_TEST_REDIS_PW", name="plain")
        r = run("run", "--probe", probe, env={"TP_TEST_REDIS_PW": "plain-pw-2"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        db2 = Resp(port2)
        self.addCleanup(db2.close)
        self.assertEqual(db2("AUTH", "plain-pw-2"), "OK")
        self.assertEqual(db2("XLEN", "twinprobe:steps:lab:browse"), 6)

    def test_wrong_password_is_clear_and_never_shown(self):
        stable = start_shop(self)
        port, _ = self.start_redis("--requirepass", "right-pw-3")
        wrong = "wrong-pw-4-hunter2"
        for url, needle in ((f"redis://127.0.0.1:{port}", "AUTH failed: WRONGPASS"),
                            (f"redis://probe@127.0.0.1:{port}",
                             "AUTH as user probe failed: WRONGPASS")):
            with self.subTest(url=url):
                shutil.rmtree(self.spool, True)
                probe = self.probe([("stable", stable)], url, password_env="TP_TEST_REDIS_PW")
                r = run("run", "--probe", probe, "--format", "json",
                        env={"TP_TEST_REDIS_PW": wrong})
                self.assertEqual(r.returncode, 0, r.stderr)  # spooled: nothing lost
                self.assertIn(needle, r.stderr)
                self.assertIn("spooled in", r.stderr)
                r2 = run("flush", "--probe", probe, env={"TP_TEST_REDIS_PW": wrong})
                self.assertEqual(r2.returncode, 3, r2.stderr)
                self.assertIn(needle, r2.stderr)
                for out in (r.stdout, r.stderr, r2.stdout, r2.stderr):
                    self.assertNotIn(wrong, out)
                    self.assertNotIn("hunter2", out)
                with open(os.path.join(self.spool, "spool.jsonl")) as f:
                    self.assertNotIn(wrong, f.read())
        # the variable unset: said so, spooled
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}",
                           password_env="TP_TEST_REDIS_PW")
        r = run("run", "--probe", probe, env={"TP_TEST_REDIS_PW": None})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("environment variable TP_TEST_REDIS_PW (redis.password_env) is not set",
                      r.stderr)

    def test_unix_socket_with_db(self):
        sock = os.path.join(self.tmp, "redis.sock")
        self.start_redis(port=0, unixsocket=sock)
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"unix://{sock}?db=3")
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        db = Resp(path=sock)
        self.addCleanup(db.close)
        self.assertEqual(db("XLEN", "twinprobe:steps:lab:browse"), 0)  # db 0
        db("SELECT", "3")
        self.assertEqual(db("XLEN", "twinprobe:steps:lab:browse"), 6)

    def test_ids_stay_above_an_existing_top(self):
        # a stream whose last ID lies in the future (a clock that stepped back)
        port, _ = self.start_redis()
        db = Resp(port)
        self.addCleanup(db.close)
        db("XADD", "twinprobe:steps:lab:browse", "99999999999999-5", "old", "1")
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}", rounds=2)
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        ids = [e[0] for e in entries(db, "twinprobe:steps:lab:browse")]
        self.assertEqual(ids, ["99999999999999-%d" % i for i in range(5, 10)])

    def test_no_publish(self):
        port, _ = self.start_redis()
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}")
        r = run("run", "--probe", probe, "--no-publish")
        self.assertEqual(r.returncode, 0, r.stderr)
        db = Resp(port)
        self.addCleanup(db.close)
        self.assertEqual(db("DBSIZE"), 0)
        self.assertFalse(os.path.exists(self.spool))

    def test_tls_through_stunnel(self):
        certs = self.make_certs()
        tls_port, local = free_port(), free_port()
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port", "0",
                         "--bind", "127.0.0.1", "--tls-port", str(tls_port),
                         "--tls-cert-file", certs["crt"], "--tls-key-file", certs["key"],
                         "--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "no"],
                        ready=lambda: self.redis_cli_tls(tls_port, certs, "PING") == "PONG")
        self.addCleanup(server.stop)
        conf = os.path.join(self.tmp, "stunnel.conf")
        with open(conf, "w") as f:
            f.write(f"foreground = yes\npid =\n[redis]\nclient = yes\n"
                    f"accept = 127.0.0.1:{local}\nconnect = 127.0.0.1:{tls_port}\n"
                    f"verifyChain = yes\nCAfile = {certs['ca']}\ncheckIP = 127.0.0.1\n")
        tunnel = Server(["stunnel", conf], ready=lambda: ping(port=local))
        self.addCleanup(tunnel.stop)
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{local}/0")
        r = run("run", "--probe", probe, "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        run_id = json.loads(r.stdout)["run"]
        out = self.redis_cli_tls(tls_port, certs, "--json", "XRANGE",
                                 "twinprobe:steps:lab:browse", "-", "+")
        got = json.loads(out)
        self.assertEqual(len(got), 6)
        for entry_id, flat in got:
            self.assertRegex(entry_id, r"^\d+-\d+$")
            self.assertEqual(flat[0::2], STEP_FIELDS)
            self.assertEqual(dict(zip(flat[0::2], flat[1::2]))["run"], run_id)

    def make_certs(self):
        d = os.path.join(self.tmp, "certs")
        os.mkdir(d)
        p = {k: os.path.join(d, k) for k in ("ca", "ca.key", "crt", "key", "csr", "ext")}
        with open(p["ext"], "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
        for argv in (
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p["ca.key"],
             "-out", p["ca"], "-days", "2", "-subj", "/CN=twinprobe test CA"],
            ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", p["key"], "-out",
             p["csr"], "-subj", "/CN=127.0.0.1"],
            ["openssl", "x509", "-req", "-in", p["csr"], "-CA", p["ca"], "-CAkey", p["ca.key"],
             "-CAcreateserial", "-out", p["crt"], "-days", "2", "-extfile", p["ext"]],
        ):
            subprocess.run(argv, check=True, capture_output=True)
        return p

    def redis_cli_tls(self, port, certs, *args):
        r = subprocess.run(["redis-cli", "--tls", "--cacert", certs["ca"], "-h", "127.0.0.1",
                            "-p", str(port), *args], capture_output=True, text=True, timeout=10)
        return r.stdout.strip()

    def test_unwritable_spool_dir_exits_3_with_the_report(self):
        blocker = os.path.join(self.tmp, "file")
        with open(blocker, "w") as f:
            f.write("not a directory")
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{free_port()}",
                           spool=os.path.join(blocker, "spool"))
        r = run("run", "--probe", probe, "--format", "json")
        self.assertEqual(r.returncode, 3, r.stderr)
        report = json.loads(r.stdout)  # the report still reached stdout
        self.assertEqual(report["exit_status"], 3)
        self.assertEqual(len(report["journeys"]), 3)
        self.assertIn("cannot create the directory", r.stderr)
        self.assertIn("could be neither published", r.stderr)
        out = os.path.join(self.tmp, "report.json")
        r = run("run", "--probe", probe, "--format", "json", "--output", out)
        self.assertEqual(r.returncode, 3, r.stderr)
        with open(out) as f:
            self.assertEqual(json.load(f)["exit_status"], 3)
        # with Redis up the spool is not needed: a warning only
        port, _ = self.start_redis()
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{port}",
                           spool=os.path.join(blocker, "spool"), name="up")
        r = run("run", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(" warn ", r.stderr)  # a log line: time, level, message

    def test_full_disk_exits_3_with_the_report(self):
        stable = start_shop(self)
        probe = self.probe([("stable", stable)], f"redis://127.0.0.1:{free_port()}", rounds=20)

        def small_files():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (3000, 3000))

        r = subprocess.run([BINARY, "run", "--probe", probe, "--format", "json"],
                           capture_output=True, text=True, preexec_fn=small_files, timeout=120)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, r.stderr)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(json.loads(r.stdout)["exit_status"], 3)
        self.assertIn("File too large", r.stderr)

    def test_flush_usage(self):
        r = run("flush")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--probe", r.stderr)
        stable = "http://127.0.0.1:9"
        path = os.path.join(self.tmp, "bare.json")
        with open(path, "w") as f:
            json.dump({"location": "x", "targets": [{"name": "s", "base_url": stable}],
                       "journeys": [self.journey(BROWSE)]}, f)
        r = run("flush", "--probe", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("names no redis", r.stderr)
        r = run("flush", "--probe", self.probe([("s", stable)], f"redis://127.0.0.1:{free_port()}"))
        self.assertEqual(r.returncode, 3)  # nothing to send, but Redis is away
        self.assertIn("Connection refused", r.stderr)


if __name__ == "__main__":
    unittest.main()
