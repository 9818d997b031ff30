"""twinprobe run against real servers: the demo shop, a closed port, a name that
does not resolve, a stalling server, an endless chunked body, a redirect to
file://, a TLS server with a self-signed certificate. Every failure class is
provoked for real; secrets never reach any output."""
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import http.server
import xml.etree.ElementTree as ET

from support import BINARY, ROOT, BinaryTest, run, start_shop

SHOP_ENV = {"SHOP_USER": "alice", "SHOP_PASSWORD": "wonderland"}


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RunBase(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-run-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def journey(self, name, steps, **extra):
        doc = {"name": name, "steps": steps, **extra}
        path = os.path.join(self.tmp, f"{name}.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        return path

    def run_json(self, *args, env=None, expect_exit=None):
        r = run("run", "--format", "json", *args, env=env)
        self.assertIn(r.returncode, (0, 1) if expect_exit is None else (expect_exit,),
                      r.stderr + r.stdout)
        return json.loads(r.stdout), r

    def step(self, report, name, journey_index=0):
        for s in report["journeys"][journey_index]["steps"]:
            if s["name"] == name:
                return s
        self.fail(f"no step {name}")


class ShopJourneys(RunBase):
    def setUp(self):
        super().setUp()
        self.shop = start_shop(self)

    def test_signin_with_csrf_and_session_cookie(self):
        report, r = self.run_json("--target", f"stable={self.shop}",
                                  os.path.join(ROOT, "journeys", "signin.json"), env=SHOP_ENV,
                                  expect_exit=0)
        j = report["journeys"][0]
        self.assertEqual((j["journey"], j["target"], j["round"], j["ok"]),
                         ("signin", "stable", 1, True))
        page = self.step(report, "login-page")
        self.assertRegex(page["captures"]["csrf"], r"^[A-Za-z0-9_-]{16,}$")
        login = self.step(report, "login")
        self.assertEqual(login["status"], 303)
        account = self.step(report, "account")
        self.assertTrue(account["ok"], account)
        self.assertTrue(all(a["ok"] for a in account["assertions"]))
        self.assertTrue(account["reused"])  # the journey's connection is kept
        for s in j["steps"]:
            t = s["timings_ms"]
            self.assertTrue(all(t[k] >= 0 for k in t), t)
            self.assertGreater(t["total"], 0)
            self.assertEqual(s["http_version"], "1.1")
            self.assertEqual(s["primary_ip"], "127.0.0.1")

    def test_example_journeys_pass(self):
        for name in ("search-cart", "checkout"):
            with self.subTest(journey=name):
                report, r = self.run_json("--target", f"stable={self.shop}",
                                          os.path.join(ROOT, "journeys", f"{name}.json"),
                                          env=SHOP_ENV, expect_exit=0)
                self.assertTrue(report["journeys"][0]["ok"], r.stdout)

    def test_json_capture_feeds_next_request(self):
        report, _ = self.run_json("--target", f"stable={self.shop}",
                                  os.path.join(ROOT, "journeys", "search-cart.json"),
                                  env=SHOP_ENV, expect_exit=0)
        sku = self.step(report, "search")["captures"]["sku"]
        self.assertEqual(sku, "B-200")
        cart = self.step(report, "add-to-cart")
        self.assertTrue(cart["captures"]["cart_id"].startswith("c-"))
        view = self.step(report, "view-cart")
        self.assertTrue(view["ok"], view)

    def test_request_identity_headers(self):
        path = self.journey("echo", [
            {"name": "echo", "request": {"url": "/echo", "query": {"q": "a b&c=d/é"},
                                         "headers": {"X-Step": "1"}},
             "expect": [
                 {"jsonpath": "$.headers['user-agent']", "equals": "twinprobe/0.1.0 (lab)"},
                 {"jsonpath": "$.headers.traceparent",
                  "matches": "^00-[0-9a-f]{32}-[0-9a-f]{16}-01$"},
                 {"jsonpath": "$.query.q", "equals": "a b&c=d/é"},
                 {"jsonpath": "$.headers['x-step']", "equals": "1"}]}])
        report, r = self.run_json("--location", "lab", "--target", f"s={self.shop}", path,
                                  expect_exit=0)
        self.assertTrue(report["journeys"][0]["ok"], r.stdout)

    def test_bodies(self):
        path = self.journey("bodies", [
            {"name": "json", "request": {"method": "POST", "url": "/echo",
                                         "json": {"s": "{{v}}", "n": 1}},
             "expect": [{"jsonpath": "$.json.s", "equals": "q\"uo\\te"},
                        {"jsonpath": "$.headers['content-type']", "equals": "application/json"}]},
            {"name": "form", "request": {"method": "POST", "url": "/echo",
                                         "form": {"a": "x y&z", "b": "{{v}}"}},
             "expect": [{"jsonpath": "$.form.a", "equals": "x y&z"},
                        {"jsonpath": "$.form.b", "equals": "q\"uo\\te"}]},
            {"name": "multipart", "request": {"method": "PUT", "url": "/echo",
                                              "multipart": {"f": "text", "g": {"value": "{{v}}"}}},
             "expect": [{"jsonpath": "$.method", "equals": "PUT"},
                        {"jsonpath": "$.headers['content-type']", "contains": "multipart/form-data"}]},
            {"name": "raw", "request": {"method": "POST", "url": "/echo", "body": "raw {{v}}",
                                        "headers": {"Content-Type": "text/plain"}},
             "expect": [{"jsonpath": "$.body", "equals": "raw q\"uo\\te"}]}],
            variables={"v": "q\"uo\\te"})
        report, r = self.run_json("--target", f"s={self.shop}", path, expect_exit=0)
        self.assertTrue(report["journeys"][0]["ok"], r.stdout)

    def test_failures_http_assertion_capture(self):
        path = self.journey("fails", [
            {"name": "http", "continue_on_failure": True, "request": {"url": "/status/500"}},
            {"name": "assertion", "continue_on_failure": True,
             "request": {"url": "/api/search", "query": {"q": "widget"}},
             "expect": [{"jsonpath": "$.results[0].sku", "equals": "A-101"}]},
            {"name": "capture", "request": {"url": "/api/search"},
             "capture": {"nothing": {"jsonpath": "$.results[99].sku"}}},
            {"name": "skipped", "request": {"url": "/health"}},
            {"name": "cleanup", "always": True, "request": {"url": "/health"}}])
        report, r = self.run_json("--target", f"s={self.shop}", path, expect_exit=1)
        http = self.step(report, "http")
        self.assertEqual((http["failure"], http["status"]), ("http", 500))
        self.assertEqual(http["error"], "status: expected 200-399, got 500")
        a = self.step(report, "assertion")
        self.assertEqual(a["failure"], "assertion")
        self.assertEqual(a["error"], 'jsonpath $.results[0].sku: expected "A-101", got "A-100"')
        self.assertEqual(self.step(report, "capture")["failure"], "capture")
        skipped = self.step(report, "skipped")
        self.assertTrue(skipped["skipped"])
        self.assertEqual(skipped["attempts"], 0)
        cleanup = self.step(report, "cleanup")
        self.assertFalse(cleanup["skipped"])
        self.assertTrue(cleanup["ok"])

    def test_retries_counted(self):
        path = self.journey("flaky", [
            {"name": "flaky", "request": {"url": "/flaky?key={{k1}}&fail=2"},
             "retry": {"count": 3, "on": ["http"], "backoff_ms": 10},
             "expect": [{"status": 200}]},
            {"name": "gives-up", "request": {"url": "/flaky?key={{k2}}&fail=5"},
             "retry": {"count": 1, "on": ["http"], "backoff_ms": 10},
             "expect": [{"status": 200}]}],
            variables={"k1": "{{uuid}}", "k2": "{{uuid}}"})
        report, _ = self.run_json("--target", f"s={self.shop}", path, expect_exit=1)
        self.assertEqual(self.step(report, "flaky")["attempts"], 3)
        self.assertTrue(self.step(report, "flaky")["ok"])
        gives_up = self.step(report, "gives-up")
        self.assertEqual((gives_up["attempts"], gives_up["failure"]), (2, "http"))

    def test_rounds_are_fresh_runs(self):
        # Each round starts with an empty cookie jar and new variables.
        path = self.journey("fresh", [
            {"name": "jar-empty", "request": {"url": "/cookie/get"},
             "expect": [{"jsonpath": "$", "count": 0}]},
            {"name": "set", "request": {"url": "/cookie/set?name=n&value={{id}}"}},
            {"name": "kept", "request": {"url": "/cookie/get"},
             "expect": [{"jsonpath": "$.n", "equals": "{{id}}"}]}],
            variables={"id": "{{uuid}}"})
        report, r = self.run_json("--rounds", "3", "--fail-on", "never", "--target", f"a={self.shop}",
                                  "--target", f"b={self.shop}", path, expect_exit=0)
        self.assertEqual(len(report["journeys"]), 6)
        self.assertEqual(sorted((j["round"], j["target"]) for j in report["journeys"]),
                         [(r_, t) for r_ in (1, 2, 3) for t in ("a", "b")])
        self.assertEqual(len({j["trace_id"] for j in report["journeys"]}), 6)

    def test_text_report_and_exit_status(self):
        ok = self.journey("ok", [{"name": "health", "request": {"url": "/health"}}])
        r = run("run", "--target", f"s={self.shop}", ok)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("health", r.stdout)
        self.assertNotIn("\x1b[", r.stdout)  # not a TTY: no colour
        bad = self.journey("bad", [{"name": "boom", "request": {"url": "/status/503"}}])
        r = run("run", "--target", f"s={self.shop}", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("status: expected 200-399, got 503", r.stdout)

    def test_junit_well_formed(self):
        path = self.journey("junit", [
            {"name": "ok", "request": {"url": "/health"}},
            {"name": "fails <&>", "request": {"url": "/status/500"}},
            {"name": "skipped", "request": {"url": "/health"}}])
        out = os.path.join(self.tmp, "junit.xml")
        r = run("run", "--format", "junit", "--output", out, "--target", f"s={self.shop}", path)
        self.assertEqual(r.returncode, 1, r.stderr)
        root = ET.parse(out).getroot()
        cases = root.findall(".//testcase")
        self.assertEqual(len(cases), 3)
        self.assertEqual(len(root.findall(".//failure")), 1)
        self.assertEqual(len(root.findall(".//skipped")), 1)

    def test_secret_masked_everywhere(self):
        secret = "s3cr3t-Pa55"
        path = self.journey("secret", [
            {"name": "send", "request": {"method": "POST", "url": "/echo?p={{env.SHOP_PASSWORD}}",
                                         "form": {"password": "{{env.SHOP_PASSWORD}}"},
                                         "headers": {"X-Pw": "{{env.SHOP_PASSWORD}}"}},
             "capture": {"echoed": {"jsonpath": "$.form.password"}},
             "expect": [{"jsonpath": "$.form.password", "equals": "wrong"},
                        {"body": {"not_contains": "{{env.SHOP_PASSWORD}}"}}]}],
            secrets=["SHOP_PASSWORD"])
        env = {"SHOP_PASSWORD": secret}
        outputs = []
        for fmt in ("text", "json", "junit"):
            r = run("run", "--format", fmt, "--target", f"s={self.shop}", path, env=env)
            self.assertEqual(r.returncode, 1, r.stderr)
            outputs.append(r.stdout + r.stderr)
        for out in outputs:
            self.assertNotIn(secret, out)
            self.assertIn("***", out)

    def test_missing_env_stops_before_first_request(self):
        r = run("run", "--target", f"s={self.shop}",
                os.path.join(ROOT, "journeys", "signin.json"),
                env={"SHOP_USER": None, "SHOP_PASSWORD": None})
        self.assertEqual(r.returncode, 2)
        self.assertIn("SHOP_USER is not set", r.stderr)
        self.assertEqual(r.stdout, "")


class Timings(RunBase):
    def test_post_server_wait_is_ttfb(self):
        # libcurl 7.88 starts its STARTTRANSFER clock when a body goes out; the
        # server's wait must still land in ttfb, not in download.
        shop = start_shop(self, "--latency", "echo=80")
        path = self.journey("post", [
            {"name": "get", "request": {"url": "/echo"}},
            {"name": "post", "request": {"method": "POST", "url": "/echo", "json": {"a": 1}}}])
        report, _ = self.run_json("--target", f"s={shop}", path, expect_exit=0)
        for s in report["journeys"][0]["steps"]:
            t = s["timings_ms"]
            self.assertGreater(t["ttfb"], 70, s)
            self.assertLess(t["download"], 20, s)


class TransportFailures(RunBase):
    def run_one(self, url, expect_failure, **step):
        path = self.journey("one", [{"name": "one", "request": {"url": url}, **step}])
        report, r = self.run_json("--target", "t=http://127.0.0.1:1", path, expect_exit=1)
        s = report["journeys"][0]["steps"][0]
        self.assertEqual(s["failure"], expect_failure, s)
        self.assertTrue(s["error"].startswith(expect_failure + ":"), s["error"])
        return s

    def test_connect_refused(self):
        self.run_one(f"http://127.0.0.1:{closed_port()}/", "connect")

    def test_dns(self):
        self.run_one("http://no-such-host.invalid/", "dns")

    def test_timeout(self):
        shop = start_shop(self)
        s = self.run_one(f"{shop}/stall?ms=5000", "timeout", timeout_ms=300)
        self.assertLess(s["timings_ms"]["total"], 3000)

    def test_endless_chunked_body_is_cut(self):
        shop = start_shop(self)
        path = self.journey("big", [{"name": "big", "request": {"url": f"{shop}/chunked-forever"}}],
                            defaults={"max_body_bytes": 1048576, "timeout_ms": 20000})
        # this run's own peak (wait4), not that of every child the suite ran before
        with tempfile.TemporaryFile() as out:
            proc = subprocess.Popen([BINARY, "run", "--format", "json", "--target",
                                     "t=http://127.0.0.1:1", path],
                                    stdout=out, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            report = json.loads(out.read())
        self.assertEqual(proc.returncode, 1)
        s = report["journeys"][0]["steps"][0]
        self.assertEqual(s["failure"], "body_too_large", s)
        self.assertLess(usage.ru_maxrss, 200 * 1024)  # KiB: bounded, not growing

    def test_redirect_to_file_is_protocol(self):
        shop = start_shop(self)
        self.run_one(f"{shop}/redirect?to=file:///etc/passwd", "protocol", follow_redirects=True)

    def test_redirect_hop_limit(self):
        shop = start_shop(self)
        self.run_one(f"{shop}/redirect-chain/20", "protocol", follow_redirects=True,
                     max_redirects=5)

    def test_step_url_scheme_refused(self):
        self.run_one("file:///etc/passwd", "protocol")


def make_cert(directory):
    key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return key, cert


class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"tls": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Tls(RunBase):
    def setUp(self):
        super().setUp()
        key, self.cert = make_cert(self.tmp)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, key)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        thread.start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.path = self.journey("tls", [{"name": "hello", "request": {"url": "/"},
                                          "expect": [{"jsonpath": "$.tls", "equals": True}]}])

    def test_self_signed_fails_verification(self):
        report, _ = self.run_json("--target", f"t={self.url}", self.path, expect_exit=1)
        self.assertEqual(report["journeys"][0]["steps"][0]["failure"], "tls")

    def test_ca_file_passes(self):
        report, r = self.run_json("--ca-file", self.cert, "--target", f"t={self.url}", self.path,
                                  expect_exit=0)
        s = report["journeys"][0]["steps"][0]
        self.assertTrue(s["ok"], s)
        self.assertGreater(s["timings_ms"]["tls"], 0)

    def test_insecure_opt_in(self):
        report, _ = self.run_json("--insecure", "--target", f"t={self.url}", self.path,
                                  expect_exit=0)
        self.assertTrue(report["journeys"][0]["ok"])
