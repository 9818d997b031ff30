"""The spool and the Redis connection against an attacker, through the real binary
(docs/SECURITY.md, "Spool and Redis"). The attacker is the unprivileged user
`nobody`: every file of theirs is made by a child process that dropped to that
user. twinprobe runs as root (the victim whose files are worth attacking), except
where it runs as nobody itself.

- spool directories twinprobe must refuse (exit 3, the reason named, nothing read,
  `flush` too): world- or group-writable, owned by nobody (also one nobody made
  first at the configured path);
- files nobody planted while the directory was open to them (it was fixed since,
  the files stayed): spool.jsonl, spool.jsonl.tmp and lock as symbolic links to a
  root-only file, quarantine-<ms>.jsonl links and files for the whole window of
  the run: the root-only file is never truncated nor written;
- forged spool lines (an unrelated key, a crontab-like path, a type that does not
  fit its key, a foreign index member) in the spool of twinprobe running as
  nobody: quarantined with a warning, never sent;
- a fake Redis that answers one byte every 0.5 s forever, and one that announces
  a 4 GB bulk string and streams it: the run ends within its deadline, the
  entries are spooled (and a later flush delivers them), exit status as
  documented, peak memory small, the lock released."""
import fcntl
import json
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest

from support import BINARY, BinaryTest, SANITIZER_MARKS, run, start_shop
from test_publish import BROWSE, Resp, free_port, ping
from support import Server

NOBODY = 65534
TARGET_TEXT = "root only: twinprobe must never write here\n"


def as_nobody():
    """preexec_fn: the child becomes nobody:nogroup with no other groups."""
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def nobody_python(code, *args):
    """Runs python code as nobody (the attacker); fails the test if it fails."""
    subprocess.run(["python3", "-c", code, *args], check=True, preexec_fn=as_nobody,
                   capture_output=True, timeout=120)


class Hardening(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-hard-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        os.chmod(self.tmp, 0o755)  # nobody may reach what is put in it for them
        self.spool = os.path.join(self.tmp, "spool")
        # the file the attacks aim at: root's, 0600
        self.target = os.path.join(self.tmp, "root-only")
        with open(self.target, "w") as f:
            f.write(TARGET_TEXT)
        os.chmod(self.target, 0o600)
        self.target_stat = os.stat(self.target)

    def assert_target_intact(self):
        with open(self.target) as f:
            self.assertEqual(f.read(), TARGET_TEXT)
        st = os.stat(self.target)
        self.assertEqual((st.st_size, st.st_mtime_ns, st.st_mode, st.st_uid),
                         (self.target_stat.st_size, self.target_stat.st_mtime_ns,
                          self.target_stat.st_mode, 0))

    def start_redis(self, port=None):
        port = port or free_port()
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port", str(port),
                         "--bind", "127.0.0.1"], ready=lambda: ping(port=port))
        self.addCleanup(server.stop)
        db = Resp(port)
        self.addCleanup(db.close)
        return port, db

    def probe(self, url, spool=None, rounds=2, name="probe", **redis):
        stable = start_shop(self)
        journey = os.path.join(self.tmp, "browse.json")
        with open(journey, "w") as f:
            json.dump(BROWSE, f)
        doc = {"location": "lab", "targets": [{"name": "stable", "base_url": stable}],
               "journeys": [journey], "rounds": rounds, "spool_dir": spool or self.spool,
               "redis": dict({"url": url, "prefix": "twinprobe"}, **redis)}
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        os.chmod(journey, 0o644)
        os.chmod(path, 0o644)
        return path

    def forged_record(self, key="twinprobe:runs:lab", run_id="forged-by-nobody"):
        return json.dumps({"key": key, "id": "1-1", "type": "xadd", "maxlen": 0,
                           "fields": [["run", run_id]]}) + "\n"

    # ---- spool directories that are refused

    def check_refused(self, spool, why, port, db):
        """run and flush with spool: exit 3, the directory and why named, nothing read."""
        before = sorted(os.listdir(spool))
        probe = self.probe(f"redis://127.0.0.1:{port}", spool=spool)
        r = run("run", "--probe", probe, "--format", "json")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(json.loads(r.stdout)["exit_status"], 3)  # the report is still out
        self.assertIn(f"spool {spool}: refused: {why}", r.stderr)
        self.assertIn("nothing was read from it", r.stderr)
        self.assertGreater(db("XLEN", "twinprobe:steps:lab:browse"), 0)  # the run's own went out
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn(f" error spool {spool}: refused: {why}", r.stderr)
        self.assertEqual(sorted(os.listdir(spool)), before)  # no lock, no spool written
        # the records nobody left there were never sent
        runs = db("XRANGE", "twinprobe:runs:lab", "-", "+")
        self.assertNotIn("forged-by-nobody", json.dumps(runs))
        self.assert_target_intact()

    def test_world_or_group_writable_spool_dir_is_refused(self):
        port, db = self.start_redis()
        for mode, why in ((0o777, "the directory is writable by group and others (mode 0777"),
                          (0o1777, "the directory is writable by group and others (mode 1777"),
                          (0o770, "the directory is writable by its group (mode 0770")):
            with self.subTest(mode=oct(mode)):
                spool = os.path.join(self.tmp, "open-%o" % mode)
                os.mkdir(spool)
                os.chmod(spool, mode)
                if mode & 0o002:  # nobody plants a record and a link to root's file
                    nobody_python(
                        "import os, sys; d, t, rec = sys.argv[1:]\n"
                        "open(os.path.join(d, 'spool.jsonl'), 'w').write(rec)\n"
                        "os.symlink(t, os.path.join(d, 'lock'))\n",
                        spool, self.target, self.forged_record())
                self.check_refused(spool, why, port, db)

    def test_spool_dir_owned_by_another_user_is_refused(self):
        port, db = self.start_redis()
        # nobody gets to the configured path first, in a sticky shared directory
        shared = os.path.join(self.tmp, "shared")
        os.mkdir(shared)
        os.chmod(shared, 0o1777)
        spool = os.path.join(shared, "twinprobe-spool")
        nobody_python("import os, sys; d, t, rec = sys.argv[1:]\n"
                      "os.mkdir(d, 0o700)\n"
                      "open(os.path.join(d, 'spool.jsonl'), 'w').write(rec)\n"
                      "os.symlink(t, os.path.join(d, 'spool.jsonl.tmp'))\n",
                      spool, self.target, self.forged_record())
        self.assertEqual(os.stat(spool).st_uid, NOBODY)
        self.check_refused(spool, f"the directory is owned by uid {NOBODY}, not by uid 0", port, db)

    def test_created_spool_dir_is_0700_whatever_the_umask(self):
        probe = self.probe(f"redis://127.0.0.1:{free_port()}",
                           spool=os.path.join(self.tmp, "new", "spool"))
        r = subprocess.run([BINARY, "run", "--probe", probe], capture_output=True, text=True,
                           preexec_fn=lambda: os.umask(0), timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("spooled in", r.stderr)
        for d in ("new", "new/spool"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.tmp, d)).st_mode), 0o700, d)
        for f in ("spool.jsonl", "lock"):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.tmp, "new", "spool", f))
                                          .st_mode), 0o600, f)

    # ---- files planted in the spool directory

    def plant(self, code, *args):
        """nobody plants files while the spool directory is open to them; then the
        directory is fixed (root's, 0700) and the files stay."""
        os.makedirs(self.spool, exist_ok=True)
        os.chmod(self.spool, 0o777)
        try:
            nobody_python(code, self.spool, self.target, *args)
        finally:
            os.chmod(self.spool, 0o700)
        self.assertEqual(os.stat(self.spool).st_uid, 0)

    def test_symlinked_spool_files_are_refused(self):
        for name in ("spool.jsonl", "spool.jsonl.tmp", "lock"):
            with self.subTest(name=name):
                shutil.rmtree(self.spool, True)
                self.plant("import os, sys; d, t, n = sys.argv[1:]\n"
                           "os.symlink(t, os.path.join(d, n))\n", name)
                # Redis away: without the check, the run would spool into the link
                probe = self.probe(f"redis://127.0.0.1:{free_port()}")
                r = run("run", "--probe", probe)
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertIn(f"spool {self.spool}: refused: {name} is a symbolic link", r.stderr)
                r = run("flush", "--probe", probe)
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertIn(f"refused: {name} is a symbolic link", r.stderr)
                self.assertTrue(os.path.islink(os.path.join(self.spool, name)))
                self.assert_target_intact()

    def test_premade_quarantine_files_are_never_followed_nor_truncated(self):
        port, db = self.start_redis()
        probe = self.probe(f"redis://127.0.0.1:{port}")
        os.makedirs(self.spool)
        os.chmod(self.spool, 0o700)
        record = {"key": "twinprobe:steps:lab:browse", "id": "1-1", "type": "xadd",
                  "maxlen": 0, "fields": [["run", "spooled"]]}
        with open(os.path.join(self.spool, "spool.jsonl"), "w") as f:
            f.write(json.dumps(record) + "\n" + '{"key":"twinprobe:steps:lab:browse","ty')
        os.chmod(os.path.join(self.spool, "spool.jsonl"), 0o600)
        # every quarantine name of the next 30 s: a link to root's file, or nobody's file
        now = int(time.time() * 1000)
        self.plant("import os, sys; d, t, lo = sys.argv[1:]\n"
                   "for ms in range(int(lo), int(lo) + 30000):\n"
                   "    p = os.path.join(d, 'quarantine-%d.jsonl' % ms)\n"
                   "    if ms % 2: os.symlink(t, p)\n"
                   "    else: open(p, 'w').write('nobody was here\\n')\n", str(now - 100))
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 sent", r.stdout)
        self.assertIn("1 torn line quarantined", r.stdout)
        self.assert_target_intact()
        made = []
        for name in os.listdir(self.spool):
            path = os.path.join(self.spool, name)
            if not name.startswith("quarantine-") or os.path.islink(path):
                continue
            with open(path) as f:
                text = f.read()
            if text != "nobody was here\n":
                made.append((name, text, os.stat(path)))
        self.assertEqual(len(made), 1, made)
        name, text, st = made[0]
        self.assertRegex(name, r"^quarantine-\d+-1\.jsonl$")
        self.assertEqual(text, '{"key":"twinprobe:steps:lab:browse","ty\n')
        self.assertEqual((stat.S_IMODE(st.st_mode), st.st_uid), (0o600, 0))
        self.assertIn(f"moved to {self.spool}/{name}", r.stderr)
        self.assertEqual(db("XLEN", "twinprobe:steps:lab:browse"), 1)

    # ---- forged spool lines

    def test_forged_spool_lines_are_quarantined_never_sent(self):
        port, db = self.start_redis()
        cron = os.path.join(self.tmp, "cron.d", "twinprobe")
        os.mkdir(os.path.dirname(cron))
        with open(cron, "w") as f:
            f.write(TARGET_TEXT)
        crontab = "\n\n* * * * * root sh -c 'touch /tmp/twinprobe-pwned'\n\n"
        forged = [
            {"key": "victim:sessions", "id": "1-1", "type": "xadd", "maxlen": 0,
             "fields": [["token", "forged-by-nobody"]]},
            {"key": cron, "id": "", "type": "hset", "maxlen": 0, "fields": [["x", crontab]]},
            {"key": "twinprobe:steps:lab:browse", "id": "", "type": "hset", "maxlen": 0,
             "fields": [["run", "forged-by-nobody"]]},
            {"key": "twinprobe:index", "id": "", "type": "sadd", "maxlen": 0,
             "fields": [["member", "victim:sessions"]]},
            {"key": "twinprobe:runs:elsewhere", "id": "1-1", "type": "xadd", "maxlen": 0,
             "fields": [["run", "forged-by-nobody"]]},
        ]
        # twinprobe runs as nobody, with its spool in a directory of nobody's
        home = os.path.join(self.tmp, "nobody")
        os.mkdir(home, 0o755)
        os.chown(home, NOBODY, NOBODY)
        self.spool = os.path.join(home, "spool")
        for command in ("flush", "run"):
            with self.subTest(command=command):
                shutil.rmtree(self.spool, True)
                # its first run, Redis away, makes its spool
                away = self.probe(f"redis://127.0.0.1:{free_port()}", name="away")
                r = subprocess.run([BINARY, "run", "--probe", away], capture_output=True,
                                   text=True, preexec_fn=as_nobody, timeout=120)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(os.stat(self.spool).st_uid, NOBODY)
                # the forged lines, among the real ones
                nobody_python("import sys; open(sys.argv[1], 'a').write(sys.argv[2])",
                              os.path.join(self.spool, "spool.jsonl"),
                              "".join(json.dumps(x) + "\n" for x in forged))
                probe = self.probe(f"redis://127.0.0.1:{port}")
                r = subprocess.run([BINARY, command, "--probe", probe], capture_output=True,
                                   text=True, preexec_fn=as_nobody, timeout=120)
                for mark in SANITIZER_MARKS:
                    self.assertNotIn(mark, r.stderr)
                self.assertEqual(r.returncode, 0, r.stderr)
                for x in forged:
                    self.assertIn(f'"{x["key"]}"', r.stderr)
                self.assertEqual(r.stderr.count("never sent"), len(forged), r.stderr)
                if command == "flush":
                    self.assertIn("5 records for keys outside this probe quarantined", r.stdout)
                keys = set(db("KEYS", "*"))
                self.assertEqual(keys, {"twinprobe:steps:lab:browse", "twinprobe:runs:lab",
                                        "twinprobe:latest:lab:browse", "twinprobe:index"})
                self.assertEqual(set(db("SMEMBERS", "twinprobe:index")),
                                 {"twinprobe:steps:lab:browse", "twinprobe:runs:lab"})
                self.assertNotIn("forged-by-nobody",
                                 json.dumps(db("XRANGE", "twinprobe:steps:lab:browse", "-", "+")))
                quarantined = ""
                for name in os.listdir(self.spool):
                    if name.startswith("quarantine-"):
                        with open(os.path.join(self.spool, name)) as f:
                            quarantined += f.read()
                self.assertEqual([json.loads(x) for x in quarantined.splitlines()], forged)
                with open(cron) as f:
                    self.assertEqual(f.read(), TARGET_TEXT)
                self.assertFalse(os.path.exists("/tmp/twinprobe-pwned"))
                db("FLUSHALL")


class FakeRedis:
    """A hostile Redis on loopback. "drip": to every connection, one byte every
    0.5 s, forever (a status line that never ends). "huge": to every command, a
    4 GB bulk string announced, then its bytes as fast as the client takes them."""

    def __init__(self, test, kind):
        self.kind = kind
        self.stop = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.sent = 0
        threading.Thread(target=self.accept, daemon=True).start()
        test.addCleanup(self.close)

    def accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        try:
            if self.kind == "drip":
                while not self.stop.wait(0.5):
                    conn.sendall(b"+")
                    self.sent += 1
            else:
                conn.recv(65536)
                conn.sendall(b"$4294967296\r\n")
                block = b"x" * 65536
                while not self.stop.is_set() and self.sent < 4 << 30:
                    conn.sendall(block)
                    self.sent += len(block)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self):
        self.stop.set()
        self.listener.close()


class RedisBounds(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-bounds-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "spool")

    def probe(self, port, name="probe", **redis):
        stable = start_shop(self)
        journey = os.path.join(self.tmp, "browse.json")
        with open(journey, "w") as f:
            json.dump(BROWSE, f)
        doc = {"location": "lab", "targets": [{"name": "stable", "base_url": stable}],
               "journeys": [journey], "rounds": 2, "spool_dir": self.spool,
               "redis": dict({"url": f"redis://127.0.0.1:{port}"}, **redis)}
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def timed_run(self, *args, env=None):
        """Runs the binary; returns (exit status, stdout, stderr, seconds, peak RSS in MiB)."""
        out, err = (open(os.path.join(self.tmp, n), "w+") for n in ("out", "err"))
        t0 = time.monotonic()
        proc = subprocess.Popen([BINARY, *args], stdout=out, stderr=err,
                                env=dict(os.environ, **(env or {})))
        deadline = t0 + 60
        while True:  # never hang the suite: a bug here is a failure, not a stall
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                self.fail(f"twinprobe {' '.join(args)} still running after 60 s")
            time.sleep(0.05)
        seconds = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text_out, text_err = out.read(), err.read()
        out.close()
        err.close()
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, text_err)
        return proc.returncode, text_out, text_err, seconds, usage.ru_maxrss / 1024

    def assert_lock_released(self):
        with open(os.path.join(self.spool, "lock"), "r+") as f:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises when still held
            fcntl.lockf(f, fcntl.LOCK_UN)

    def spooled(self):
        with open(os.path.join(self.spool, "spool.jsonl")) as f:
            return [json.loads(line) for line in f]

    def flush_to_real_redis(self, probe_name):
        """The spooled entries are whole: a real Redis takes every one."""
        port = free_port()
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port", str(port),
                         "--bind", "127.0.0.1"], ready=lambda: ping(port=port))
        self.addCleanup(server.stop)
        n = len(self.spooled())
        r = run("flush", "--probe", self.probe(port, name=probe_name))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{n} sent", r.stdout)

    def test_dripping_redis_ends_at_the_batch_deadline(self):
        fake = FakeRedis(self, "drip")
        probe = self.probe(fake.port)  # command_timeout_ms 5000: a 10 s batch
        status, out, err, seconds, rss = self.timed_run("run", "--probe", probe)
        self.assertEqual(status, 0, err)  # as with Redis up: the entries are spooled
        self.assertIn("XREVRANGE: no complete reply within 10000 ms (the batch deadline)", err)
        self.assertIn(f"7 entries spooled in {self.spool}", err)
        self.assertGreater(seconds, 9.5)
        self.assertLess(seconds, 15)
        self.assertGreater(fake.sent, 10)  # it kept dripping all along
        self.assertLess(rss, 100)
        self.assert_lock_released()
        self.flush_to_real_redis("real")

    def test_dripping_redis_in_the_replay_and_at_auth(self):
        # a spool to replay first (Redis away), then the dripping server takes the replay
        probe = self.probe(free_port(), name="away")
        self.assertEqual(run("run", "--probe", probe).returncode, 0)
        fake = FakeRedis(self, "drip")
        probe = self.probe(fake.port, name="drip", command_timeout_ms=1000)
        status, _, err, seconds, rss = self.timed_run("run", "--probe", probe)
        self.assertEqual(status, 0, err)
        self.assertIn("publishing: no complete reply within 2000 ms (the batch deadline)", err)
        self.assertLess(seconds, 6)
        self.assertLess(rss, 100)
        self.assertEqual(len(self.spooled()), 14)  # the old entries, the new behind them
        self.assert_lock_released()
        # AUTH stalls: the command deadline
        probe = self.probe(fake.port, name="auth", command_timeout_ms=1000,
                           password_env="TP_TEST_PW")
        status, _, err, seconds, _ = self.timed_run("flush", "--probe", probe,
                                                    env={"TP_TEST_PW": "pw-5-never-shown"})
        self.assertEqual(status, 3, err)
        self.assertIn("AUTH: no complete reply within 1000 ms (the command deadline)", err)
        self.assertNotIn("pw-5-never-shown", err)
        self.assertLess(seconds, 4)
        self.assertEqual(len(self.spooled()), 14)
        self.flush_to_real_redis("real")

    def test_redis_announcing_4gb_is_refused_at_the_header(self):
        fake = FakeRedis(self, "huge")
        probe = self.probe(fake.port)
        status, _, err, seconds, rss = self.timed_run("run", "--probe", probe)
        self.assertEqual(status, 0, err)
        self.assertIn("refused a reply announcing a bulk string over the 16 MiB limit", err)
        self.assertIn(f"7 entries spooled in {self.spool}", err)
        self.assertLess(seconds, 10)
        self.assertLess(rss, 100)
        self.assertLess(fake.sent, 64 << 20)  # it was not read on
        self.assert_lock_released()
        self.flush_to_real_redis("real")


if __name__ == "__main__":
    unittest.main()
