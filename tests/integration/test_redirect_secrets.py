"""Secrets and redirects (docs/SECURITY.md "Protocols and redirects", "Secrets"):
a journey's own headers go to the first origin only; an https page that
redirects to http is refused (failure protocol); a secret never shows in any
output, including one that a server echoes back in a long body.

Two servers: the first origin redirects /go to the second (another port: another
origin) and to itself; each records the headers it received."""
import base64
import http.server
import json
import os
import shutil
import ssl
import tempfile
import threading
import unittest
import urllib.parse

from support import BinaryTest, run, send_body
from test_run import make_cert

SECRET = "s3cr3t-Key_9f1c2e7a"


def recorder(seen, other=None):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            path = urllib.parse.urlsplit(self.path).path
            if path == "/go" and other:
                return self.reply(302, b"", location=other[0] + "/landed")
            if path == "/self":
                return self.reply(302, b"", location="/landed")
            if path == "/echo":
                # the key back after 195 bytes of text: a message cut at about
                # 200 bytes before masking would show the secret's first bytes
                body = ("x" * 195 + self.headers.get("X-Api-Key", "") + " " +
                        json.dumps(dict(self.headers.items()))).encode()
                return self.reply(200, body, ctype="text/plain")
            self.reply(200, b'{"ok": true}')

        def reply(self, status, body, location=None, ctype="application/json"):
            send_body(self, status, body, ctype, [("Location", location)] if location else ())

        def log_message(self, *args):
            pass

    return Handler


class Redirects(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-redir-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.seen_a, self.seen_b = [], []
        other = []
        self.b = self.serve(recorder(self.seen_b))
        other.append(self.b)
        self.a = self.serve(recorder(self.seen_a, other))

    def serve(self, handler, tls=None):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[1], tls[0])
            server.socket = ctx.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"{scheme}://127.0.0.1:{server.server_address[1]}"

    def journey(self, steps, name="redir"):
        path = os.path.join(self.tmp, name + ".json")
        with open(path, "w") as f:
            json.dump({"name": name, "secrets": ["API_KEY"],
                       "defaults": {"headers": {"X-Api-Key": "{{env.API_KEY}}",
                                                "Authorization": "Bearer {{env.API_KEY}}"}},
                       "steps": steps}, f)
        return path

    def run_all_formats(self, path, *extra, expect=None):
        """Runs once per format, with --report files too; returns the outputs."""
        outputs = []
        for fmt in ("text", "json", "junit"):
            out = os.path.join(self.tmp, "report." + fmt)
            r = run("run", "--rounds", "1", "--format", fmt, "--target", f"t={self.a}",
                    "--report", f"json={out}.json", *extra, path,
                    env={"API_KEY": SECRET, "TWINPROBE_DEBUG": "1"})
            if expect is not None:
                self.assertEqual(r.returncode, expect, r.stdout[-2000:] + r.stderr[-2000:])
            with open(out + ".json") as f:
                outputs += [r.stdout, r.stderr, f.read()]
        return outputs

    def assert_never_shown(self, outputs):
        forms = [SECRET, "x" + SECRET[:3], urllib.parse.quote(SECRET)]
        forms += [base64.b64encode((p + SECRET).encode()).decode()[4:-4] for p in ("", "a", "ab")]
        for text in outputs:
            for form in forms:
                self.assertNotIn(form, text)

    def test_headers_stay_with_the_first_origin(self):
        path = self.journey([{"name": "go", "follow_redirects": True,
                              "request": {"method": "GET", "url": "/go"}}])
        outputs = self.run_all_formats(path, expect=0)
        self.assertTrue(self.seen_b, "the redirect was not followed")
        for _, headers in self.seen_a:
            self.assertEqual(headers.get("x-api-key"), SECRET)
        for _, headers in self.seen_b:
            self.assertNotIn("x-api-key", headers)
            self.assertNotIn("authorization", headers)
            self.assertIn("twinprobe/", headers.get("user-agent", ""))
            self.assertIn("traceparent", headers)
        self.assert_never_shown(outputs)

    def test_same_origin_redirect_keeps_the_headers(self):
        path = self.journey([{"name": "self", "follow_redirects": True,
                              "request": {"method": "GET", "url": "/self"}}])
        self.run_all_formats(path, expect=0)
        landed = [h for p, h in self.seen_a if p == "/landed"]
        self.assertTrue(landed)
        for headers in landed:
            self.assertEqual(headers.get("x-api-key"), SECRET)

    def test_https_to_http_is_refused(self):
        key, cert = make_cert(self.tmp)
        https = self.serve(recorder([], [self.b]), tls=(key, cert))
        path = self.journey([{"name": "down", "follow_redirects": True,
                              "request": {"method": "GET", "url": "/go"}}])
        r = run("run", "--rounds", "1", "--format", "json", "--ca-file", cert,
                "--target", f"t={https}", path, env={"API_KEY": SECRET})
        step = json.loads(r.stdout)["journeys"][0]["steps"][0]
        self.assertEqual(step["failure"], "protocol", step)
        self.assertIn("https to http", step["error"])
        self.assertEqual(self.seen_b, [])

    def test_echoed_secret_is_masked_in_every_output(self):
        path = self.journey([{"name": "echo", "request": {"method": "GET", "url": "/echo"},
                              "expect": [{"body": {"contains": "never there"}},
                                         {"body": {"equals": "nope"}},
                                         {"regex": "x+ (.*)", "equals": "nope"}]}])
        outputs = self.run_all_formats(path, expect=1)
        self.assert_never_shown(outputs)


if __name__ == "__main__":
    unittest.main()
