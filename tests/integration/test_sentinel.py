"""Redis Sentinel through the real binary, against real servers started here on
loopback (no persistence): a master, a replica (--replicaof) and three sentinels
with short down-after and failover timeouts. A probe names the sentinels, not a
URL; twinprobe asks them for the master, checks its ROLE, and counts a batch as
delivered only once WAIT confirms a replica. Cases: the master killed between
runs (the next run publishes to the new master); killed in the middle of a run
(after the failover and a flush every entry is on the new master exactly once);
the replica stopped during a run (WAIT fails: the entries stay spooled), the
master killed, the replica resumed and promoted (after a flush, every entry on
it exactly once)."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from support import BINARY, BinaryTest, Server, run, start_shop
import test_publish  # not its Publish class by name: unittest would run its tests here too
from test_publish import BROWSE, Resp, RespError, entries, free_port, ping

MASTER = "tpmaster"
ROUNDS = 2
STEPS = len(BROWSE["steps"])
STEPS_KEY = "twinprobe:steps:lab:browse"
RUNS_KEY = "twinprobe:runs:lab"


def ask(port, *args):
    """One command on a fresh connection; None when the server is not there."""
    try:
        r = Resp(port)
    except OSError:
        return None
    try:
        return r(*args)
    except (OSError, ConnectionError, RespError):
        return None
    finally:
        r.close()


def wait_for(what, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout}s")


class Sentinel(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-sentinel-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.spool = os.path.join(self.tmp, "spool")
        self.servers = {}
        self.master = free_port()
        self.replica = free_port()
        self.start_redis(self.master)
        self.start_redis(self.replica, "--replicaof", "127.0.0.1", str(self.master))
        self.wait_replicated(self.master)
        self.sentinels = [free_port() for _ in range(3)]
        for port in self.sentinels:
            self.start_sentinel(port)
        for port in self.sentinels:  # each knows the replica and the other two
            wait_for(f"sentinel {port} ready", lambda p=port: (
                len(ask(p, "SENTINEL", "replicas", MASTER) or []) == 1 and
                len(ask(p, "SENTINEL", "sentinels", MASTER) or []) == 2))

    # ---- servers

    def start_redis(self, port, *extra):
        # Each server in a directory of its own, emptied first: a replica's full
        # sync writes dump.rdb to its directory (even with --save ""), and a
        # restarted server would load it.
        data = os.path.join(self.tmp, f"redis-{port}")
        shutil.rmtree(data, True)
        os.mkdir(data)
        server = Server(["redis-server", "--save", "", "--appendonly", "no", "--port", str(port),
                         "--bind", "127.0.0.1", "--dir", data, *extra],
                        ready=lambda: ping(port=port))
        self.addCleanup(server.stop)
        self.servers[port] = server

    def start_sentinel(self, port):
        conf = os.path.join(self.tmp, f"sentinel-{port}.conf")
        with open(conf, "w") as f:
            f.write(f"port {port}\nbind 127.0.0.1\ndir {self.tmp}\n"
                    f"sentinel monitor {MASTER} 127.0.0.1 {self.master} 2\n"
                    f"sentinel down-after-milliseconds {MASTER} 1000\n"
                    f"sentinel failover-timeout {MASTER} 5000\n"
                    f"sentinel parallel-syncs {MASTER} 1\n")
        server = Server(["redis-server", conf, "--sentinel"], ready=lambda: ping(port=port))
        self.addCleanup(server.stop)

    def kill(self, port):
        proc = self.servers[port].proc
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def replicated(self, master):
        info = ask(master, "INFO", "replication") or ""
        return "connected_slaves:1" in info and "state=online" in info

    def wait_replicated(self, master, timeout=60.0):
        # a full sync forks and writes an RDB: slow on a loaded machine
        wait_for(f"a replica in sync with {master} ({ask(master, 'INFO', 'replication')})",
                 lambda: self.replicated(master), timeout=timeout)

    def wait_failover(self, new_master):
        """Every sentinel names new_master, and it says it is a master."""
        for port in self.sentinels:
            wait_for(f"sentinel {port} names {new_master}", lambda p=port: (
                ask(p, "SENTINEL", "get-master-addr-by-name", MASTER) ==
                ["127.0.0.1", str(new_master)]), timeout=40)
        wait_for(f"{new_master} is a master",
                 lambda: (ask(new_master, "ROLE") or [""])[0] == "master")

    def rejoin(self, old, new_master):
        """A replica for the new master (so WAIT can be met): a fresh server on a
        port of its own. Restarting the killed master there instead races with the
        sentinels: one that still holds the old view may turn the new master into a
        replica of the old one, and both wait for each other (seen here)."""
        del old  # stays down: no sentinel can point the new master back at it
        port = free_port()
        self.start_redis(port, "--replicaof", "127.0.0.1", str(new_master))
        self.wait_replicated(new_master)

    # ---- files

    def probe(self, shop, **redis):
        journey = os.path.join(self.tmp, "browse.json")
        with open(journey, "w") as f:
            json.dump(BROWSE, f)
        doc = {"location": "lab", "rounds": ROUNDS, "journeys": [journey],
               "targets": [{"name": "stable", "base_url": shop},
                           {"name": "canary", "base_url": shop}],
               "spool_dir": self.spool,
               "redis": dict({"sentinels": [f"127.0.0.1:{p}" for p in self.sentinels],
                              "master": MASTER, "min_replicas": 1,
                              "connect_timeout_ms": 1000, "command_timeout_ms": 3000}, **redis)}
        path = os.path.join(self.tmp, "probe.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    spool_lines = test_publish.Publish.spool_lines  # the spool's records (it needs only self.spool)

    def check_exactly_once(self, port, runs):
        """The master at port holds each run's entries once: ROUNDS x STEPS step
        entries and one runs entry per run, and nothing else."""
        db = Resp(port)
        self.addCleanup(db.close)
        steps = entries(db, STEPS_KEY)
        run_entries = entries(db, RUNS_KEY)
        self.assertEqual(sorted(f["run"] for _, _, f in run_entries), sorted(runs))
        seen = sorted((f["run"], f["round"], f["step"]) for _, _, f in steps)
        want = sorted((r, str(k), s["name"]) for r in runs for k in range(1, ROUNDS + 1)
                      for s in BROWSE["steps"])
        self.assertEqual(seen, want)
        self.assertEqual(db("XLEN", STEPS_KEY), len(runs) * ROUNDS * STEPS)

    def run_probe(self, probe):
        r = run("run", "--probe", probe, "--format", "json")
        self.assertIn(r.returncode, (0, 1), r.stderr)
        return json.loads(r.stdout)["run"], r

    def flush(self, probe):
        r = run("flush", "--probe", probe)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(self.spool_lines(), [])
        return r

    # ---- tests

    def test_master_killed_between_runs(self):
        probe = self.probe(start_shop(self))
        first, r = self.run_probe(probe)
        self.assertEqual(self.spool_lines(), [], r.stderr)
        self.check_exactly_once(self.master, [first])

        self.kill(self.master)
        self.wait_failover(self.replica)
        self.rejoin(self.master, self.replica)
        second, r = self.run_probe(probe)
        self.assertEqual(self.spool_lines(), [], r.stderr)
        self.check_exactly_once(self.replica, [first, second])

    def test_master_killed_during_a_run(self):
        probe = self.probe(start_shop(self, "--latency", "*=700"))
        proc = subprocess.Popen([BINARY, "run", "--probe", probe, "--format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.0)
            self.kill(self.master)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertIn(proc.returncode, (0, 1), err)
        run_id = json.loads(out)["run"]

        self.wait_failover(self.replica)
        self.rejoin(self.master, self.replica)
        self.flush(probe)
        self.check_exactly_once(self.replica, [run_id])
        self.flush(probe)  # twice adds nothing
        self.check_exactly_once(self.replica, [run_id])

    def run_replica_stopped(self, probe, then):
        """A run with the replica stopped: WAIT is not met, so every entry stays
        spooled; then() runs before the replica resumes. Returns the run's ID."""
        replica = self.servers[self.replica].proc
        os.kill(replica.pid, signal.SIGSTOP)
        try:
            run_id, r = self.run_probe(probe)
            self.assertIn("WAIT 1 1500: 0 of 1 replicas confirmed", r.stderr)
            self.assertEqual(len(self.spool_lines()), ROUNDS * STEPS + 3, r.stderr)
            then()
        finally:
            os.kill(replica.pid, signal.SIGCONT)
        return run_id

    def test_replica_stopped_then_promoted(self):
        probe = self.probe(start_shop(self))
        run_id = self.run_replica_stopped(probe, lambda: self.kill(self.master))
        self.wait_failover(self.replica)
        self.rejoin(self.master, self.replica)
        self.flush(probe)
        self.check_exactly_once(self.replica, [run_id])

    def test_replay_of_entries_already_there_waits_for_the_replica(self):
        # A replay that only finds its entries PRESENT writes nothing, so a WAIT
        # would cover no write: twinprobe checks the replicas' offsets (ROLE).
        probe = self.probe(start_shop(self))

        def flush_unconfirmed():
            path = os.path.join(self.spool, "spool.jsonl")
            with open(path) as f:
                kept = [line for line in f if json.loads(line)["type"] != "hset"]
            with open(path, "w") as f:
                f.writelines(kept)
            r = run("flush", "--probe", probe)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertIn("ROLE 1 1500: 0 of 1 replicas confirmed", r.stderr)
            self.assertEqual(len(self.spool_lines()), len(kept))

        run_id = self.run_replica_stopped(probe, flush_unconfirmed)
        r = self.flush(probe)
        self.assertIn("0 kept in the spool", r.stdout)
        self.check_exactly_once(self.master, [run_id])
        wait_for("the replica has every entry", lambda: ask(self.replica, "XLEN", STEPS_KEY) ==
                 ROUNDS * STEPS)
