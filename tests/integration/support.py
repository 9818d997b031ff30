"""Shared helpers for the integration tests: the binary under test, running it,
and starting/stopping the servers the tests need (always stopped, also on failure)."""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

ROOT = os.environ.get("TWINPROBE_ROOT") or os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("TWINPROBE") or os.path.join(ROOT, "build", "twinprobe")
SHOP = os.path.join(ROOT, "tests", "shop", "shop.py")


def run(*args, env=None, cwd=ROOT, timeout=120, input=None):
    """Runs the binary; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    for k, v in (env or {}).items():
        if v is None:
            full_env.pop(k, None)  # None removes a variable
        else:
            full_env[k] = v
    r = subprocess.run([BINARY, *args], cwd=cwd, env=full_env, capture_output=True,
                       text=True, errors="replace", timeout=timeout, input=input)
    # Under `make asan` a sanitizer report must fail the test even when the exit
    # status happens to be the one expected.
    for mark in SANITIZER_MARKS:
        if mark in r.stderr:
            raise AssertionError(f"sanitizer report from twinprobe {' '.join(args)}:\n"
                                 f"{r.stderr[-6000:]}")
    return r


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def send_body(handler, status, body, ctype, headers=()):
    """A whole HTTP/1.1 answer from a BaseHTTPRequestHandler: status, the
    headers given, Content-Type and Content-Length, body."""
    handler.send_response(status)
    for name, value in headers:
        handler.send_header(name, value)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Server:
    """A child process stopped with SIGTERM (then SIGKILL) at cleanup."""

    def __init__(self, argv, ready, timeout=15.0):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                raise RuntimeError(f"{argv[0]} exited early: {err[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{argv} not ready after {timeout}s")
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=5)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def start_shop(test, *args, variant="stable"):
    """Starts the demo shop on a free port; returns its base URL. Stopped at cleanup."""
    tmp = tempfile.mkdtemp(prefix="tp-shop-")
    port_file = os.path.join(tmp, "port")
    server = Server([sys.executable, SHOP, "--port", "0", "--port-file", port_file,
                     "--variant", variant, "--quiet", *args],
                    ready=lambda: os.path.exists(port_file))
    test.addCleanup(server.stop)
    with open(port_file) as f:
        port = int(f.read().strip())
    return f"http://127.0.0.1:{port}"


class BinaryTest(unittest.TestCase):
    """Base class: skips nothing; fails clearly when the binary is missing."""

    @classmethod
    def setUpClass(cls):
        if not os.access(BINARY, os.X_OK):
            raise RuntimeError(f"binary {BINARY} missing: run make")
