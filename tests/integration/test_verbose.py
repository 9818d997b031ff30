"""twinprobe run -v / -vv against the demo shop and a hostile server: every
transfer on stderr as a block (request lines "> ", response lines "< "), secrets
masked, bodies cut at 512 bytes with -v and whole with -vv, bodies that are not
text as a byte count, control characters escaped; nothing extra by default."""
import json
import os
import socket
import socketserver
import tempfile
import threading
import urllib.request

from support import BinaryTest, run, start_shop

SECRET = "wonderland"
ENV = {"SHOP_USER": "alice", "SHOP_PASSWORD": SECRET}

# Signs in (the password in a form body), then sends the password in a header and
# a query to /echo, which writes every header back into its JSON body.
JOURNEY = {
    "name": "verbose",
    "variables": {"user": "{{env.SHOP_USER}}"},
    "secrets": ["SHOP_PASSWORD"],
    "steps": [
        {"name": "login-page", "request": {"url": "/login"},
         "capture": {"csrf": {"xpath": "string(//input[@name='csrf']/@value)"}}},
        {"name": "login",
         "request": {"method": "POST", "url": "/login",
                     "form": {"user": "{{user}}", "password": "{{env.SHOP_PASSWORD}}",
                              "csrf": "{{csrf}}"}},
         "expect": [{"status": 303}]},
        {"name": "echo",
         "request": {"method": "POST", "url": "/echo",
                     "query": {"key": "{{env.SHOP_PASSWORD}}"},
                     "headers": {"X-Api-Key": "{{env.SHOP_PASSWORD}}"},
                     "json": {"password": "{{env.SHOP_PASSWORD}}"}},
         "expect": [{"status": 200}]},
        {"name": "bytes", "request": {"url": "/bytes?n=3000"}},
    ],
}


def blocks(stderr):
    """The trace blocks of stderr: lists of lines, each block from its "* journey" line."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("* journey "):
            out.append([line])
        elif out:
            out[-1].append(line)
    return out


def block_of(stderr, step):
    for b in blocks(stderr):
        if f", step " in b[0] and b[0].split(", attempt")[0].endswith(" " + step):
            return b
    raise AssertionError(f"no block for step {step} in:\n{stderr}")


class HostileHandler(socketserver.BaseRequestHandler):
    """Answers every request with escape sequences in the status line, a header
    and the body (ESC, BEL, a C1 CSI, a bare CR)."""

    def handle(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(4096)
            if not chunk:
                return
            data += chunk
        body = b"line one\x1b]0;owned\x07\r\nclear\x1b[2J here \xc2\x9b31m\rback\n"
        self.request.sendall(
            b"HTTP/1.1 200 OK\x1b[31m\r\n"
            b"Content-Type: text/plain\r\n"
            b"X-Evil: \x1b[1mbold\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body)


class Verbose(BinaryTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.journey = os.path.join(cls.tmp.name, "verbose.json")
        with open(cls.journey, "w") as f:
            json.dump(JOURNEY, f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_journey(self, *flags, journey=None, targets=None):
        if targets is None:
            targets = [f"s={start_shop(self)}"]
        args = ["run", *flags]
        for t in targets:
            args += ["--target", t]
        r = run(*args, journey or self.journey, env=ENV)
        self.assertNotIn(SECRET, r.stderr)
        self.assertNotIn(SECRET, r.stdout)
        return r

    def test_default_prints_nothing_extra(self):
        r = self.run_journey()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr, "")
        quiet = r.stdout
        r = self.run_journey("-v")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        # the report is the same with and without -v (timings aside)
        strip = lambda text: [line.split("  total")[0] for line in text.splitlines()]
        self.assertEqual(strip(r.stdout), strip(quiet))

    def test_v_shows_requests_and_responses(self):
        base = start_shop(self)
        r = self.run_journey("-v", targets=[f"s={base}"])
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        bs = blocks(r.stderr)
        self.assertEqual(len(bs), 4, r.stderr)
        self.assertEqual(bs[0][0], "* journey verbose, target s, round 1, step 1 login-page, "
                                   "attempt 1")
        page = bs[0]
        self.assertEqual(page[1], f"> GET {base}/login")
        self.assertIn(f"> Host: {base[len('http://'):]}", page)
        self.assertIn("> User-Agent: twinprobe/0.1.0 (local)", page)
        self.assertTrue(any(line.startswith("> traceparent: 00-") for line in page))
        self.assertIn("< HTTP/1.1 200 OK", page)
        self.assertIn("< Content-Type: text/html; charset=utf-8", page)
        self.assertTrue(any(line.startswith("< Set-Cookie: shop_pre=") for line in page))
        self.assertIn("< <!DOCTYPE html>", page)
        self.assertEqual(page[-1], f"< [first 512 of {self.login_page_len(base)} bytes; "
                                   "-vv shows whole bodies]")
        login = block_of(r.stderr, "login")
        self.assertEqual(login[1], f"> POST {base}/login")
        self.assertIn("> Content-Type: application/x-www-form-urlencoded", login)
        self.assertTrue(any(line.startswith("> Cookie: shop_pre=") for line in login))
        form = [line for line in login if line.startswith("> user=")]
        self.assertEqual(len(form), 1, login)
        self.assertRegex(form[0], r"^> user=alice&password=\*\*\*&csrf=[\w-]+$")
        self.assertIn("< HTTP/1.1 303 See Other", login)
        self.assertIn("< Location: /account", login)
        binary = block_of(r.stderr, "bytes")
        self.assertIn("< Content-Type: application/octet-stream", binary)
        self.assertEqual(binary[-1], "< [3000 bytes, not text]")

    @staticmethod
    def login_page_len(base):
        with urllib.request.urlopen(base + "/login") as resp:
            return len(resp.read())

    def test_secret_in_header_query_and_body_is_masked(self):
        r = self.run_journey("-v")
        echo = block_of(r.stderr, "echo")
        self.assertRegex(echo[1], r"^> POST http://127\.0\.0\.1:\d+/echo\?key=\*\*\*$")
        self.assertIn("> X-Api-Key: ***", echo)
        self.assertIn('> {"password":"***"}', echo)
        # the response body writes the header back: masked there too
        body = [line for line in echo if line.startswith('< {"method"')]
        self.assertEqual(len(body), 1, echo)
        self.assertIn('"x-api-key":"***"', body[0])

    def test_vv_shows_whole_bodies(self):
        r = self.run_journey("-vv")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        page = block_of(r.stderr, "login-page")
        self.assertEqual(page[-1], "< </html>")
        self.assertNotIn("[first", r.stderr)
        echo = block_of(r.stderr, "echo")
        body = [line for line in echo if line.startswith('< {"method"')]
        self.assertTrue(body[0].endswith("}"), body)
        # -vvv is -vv
        self.assertEqual(len(blocks(self.run_journey("-vvv").stderr)), 4)

    def test_blocks_name_target_round_and_noise_run(self):
        journey = os.path.join(self.tmp.name, "two.json")
        with open(journey, "w") as f:
            json.dump({"name": "two", "compare": {"noise": "learn"},
                       "steps": [{"name": "health", "request": {"url": "/health"}}]}, f)
        r = self.run_journey("--verbose", "--rounds", "2", journey=journey,
                             targets=[f"stable={start_shop(self)}",
                                      f"canary={start_shop(self, variant='canary')}"])
        heads = sorted(b[0] for b in blocks(r.stderr))
        expected = sorted(f"* journey two, target {t}, round {n}, step 1 health, attempt 1"
                          for t in ("stable", "canary", "stable/noise") for n in (1, 2))
        self.assertEqual(heads, expected, r.stderr)
        for b in blocks(r.stderr):
            self.assertIn('< {"status":"ok","variant":"%s"}'
                          % ("canary" if "canary" in b[0] else "stable"), b)

    def test_failure_and_retry_blocks(self):
        journey = os.path.join(self.tmp.name, "down.json")
        with open(journey, "w") as f:
            json.dump({"name": "down", "steps": [
                {"name": "refused", "retry": {"count": 1, "on": ["connect"], "backoff_ms": 1},
                 "request": {"url": "http://127.0.0.1:9/x"}}]}, f)
        r = run("run", "-v", "--target", "s=http://127.0.0.1:9", journey)
        self.assertEqual(r.returncode, 1)
        bs = blocks(r.stderr)
        self.assertEqual([b[0][-9:] for b in bs], ["attempt 1", "attempt 2"])
        for b in bs:
            self.assertEqual(b[1], "> GET http://127.0.0.1:9/x")
            self.assertIn("> User-Agent: twinprobe/0.1.0 (local)", b)  # as set: none went out
            self.assertFalse(any(line.startswith("< ") for line in b))
            self.assertTrue(b[-1].startswith("* failure: connect: "), b)

    def test_control_characters_are_escaped(self):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HostileHandler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        journey = os.path.join(self.tmp.name, "hostile.json")
        with open(journey, "w") as f:
            json.dump({"name": "hostile", "steps": [{"name": "evil", "request": {"url": "/"}}]},
                      f)
        r = run("run", "-v", "--target", "s=http://127.0.0.1:%d" % server.server_address[1],
                journey)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        for bad in ("\x1b", "\x07", "\r", "\u009b"):
            self.assertNotIn(bad, r.stderr)
        b = block_of(r.stderr, "evil")
        self.assertIn("< HTTP/1.1 200 OK\\x1b[31m", b)
        self.assertIn("< X-Evil: \\x1b[1mbold", b)
        self.assertIn("< line one\\x1b]0;owned\\x07", b)
        self.assertIn("< clear\\x1b[2J here \\xc2\\x9b31m\\x0dback", b)


if __name__ == "__main__":
    import unittest
    unittest.main()
