#!/usr/bin/env python3
"""Self-check for the demo shop (tests/shop/shop.py).

Run: python3 tests/shop/test_shop.py   (or python3 -m unittest tests/shop/test_shop.py)
Every test starts its own shop process(es) on a free port and stops them in a
cleanup, so no server is left behind when a test fails.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SHOP = os.path.join(HERE, "shop.py")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class ShopProcess:
    """One running shop; stop() is idempotent and always reaps the process."""

    def __init__(self, *args, env=None, quiet=True):
        self.tmp = tempfile.mkdtemp(prefix="shop-test-")
        self.port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "stderr.log")
        self.returncode = None
        self.final_log = None
        cmd = [sys.executable, SHOP, "--port", "0", "--port-file", self.port_file]
        if quiet:
            cmd.append("--quiet")
        cmd.extend(args)
        full_env = dict(os.environ)
        full_env.pop("SHOP_USER", None)
        full_env.pop("SHOP_PASSWORD", None)
        full_env.update(env or {})
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=log,
                                         env=full_env)
        try:
            self.port = self._wait_port()
        except BaseException:
            self.stop()
            raise

    def _wait_port(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("shop exited with %s: %s" % (self.proc.returncode, self.log()))
            try:
                with open(self.port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    return int(text)
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise RuntimeError("shop did not write its port file: " + self.log())

    def log(self):
        if self.final_log is not None:
            return self.final_log
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.returncode = "killed after SIGTERM timeout"
            else:
                self.returncode = self.proc.returncode
        if self.final_log is None:
            self.final_log = self.log()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return self.returncode

    def client(self):
        return Client(self.port)


class Client:
    """A keep-alive HTTP/1.1 connection with a tiny cookie jar."""

    def __init__(self, port, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        self.cookies = {}

    def close(self):
        self.conn.close()

    def request(self, method, path, body=None, headers=None, cookies=True):
        hdrs = dict(headers or {})
        if cookies and self.cookies:
            hdrs["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            val = rest.split(";")[0]
            if "Max-Age=0" in rest:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = val
        return resp.status, resp.headers, data

    def get_json(self, path, **kw):
        status, headers, data = self.request("GET", path, **kw)
        return status, headers, json.loads(data)

    def post_json(self, path, obj):
        status, headers, data = self.request(
            "POST", path, body=json.dumps(obj), headers={"Content-Type": "application/json"})
        return status, headers, json.loads(data) if data else None

    def sign_in(self, user="alice", password="wonderland"):
        status, _, page = self.request("GET", "/login")
        assert status == 200, status
        csrf = csrf_of(page)
        form = urllib.parse.urlencode({"user": user, "password": password, "csrf": csrf})
        return self.request("POST", "/login", body=form,
                            headers={"Content-Type": "application/x-www-form-urlencoded"})


def csrf_of(page):
    m = re.search(rb'<input type="hidden" name="csrf" value="([^"]+)">', page)
    if not m:
        raise AssertionError("no csrf input in login page")
    return m.group(1).decode()


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def strip_volatile(obj):
    obj = dict(obj)
    obj.pop("server_time", None)
    obj.pop("request_id", None)
    return obj


class ShopTestCase(unittest.TestCase):
    def start(self, *args, **kw):
        shop = ShopProcess(*args, **kw)
        self.addCleanup(shop.stop)
        return shop

    def client(self, shop):
        c = shop.client()
        self.addCleanup(c.close)
        return c


class TestJourney(ShopTestCase):
    def test_full_journey_on_one_keepalive_connection(self):
        shop = self.start()
        c = self.client(shop)

        status, headers, page = c.request("GET", "/login")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertEqual(headers["X-Shop-Variant"], "stable")
        self.assertEqual(int(headers["Content-Length"]), len(page))
        self.assertTrue(page.startswith(b"<!DOCTYPE html>"))
        for needle in (b"<title>", b'<form method="post" action="/login">',
                       b'name="user"', b'name="password"', b"Sign in"):
            self.assertIn(needle, page)
        self.assertRegex(headers["Set-Cookie"], r"^shop_pre=[\w-]+; Path=/; HttpOnly$")
        csrf = csrf_of(page)
        sock = c.conn.sock

        form = urllib.parse.urlencode({"user": "alice", "password": "wonderland", "csrf": csrf})
        status, headers, _ = c.request(
            "POST", "/login", body=form,
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/account")
        self.assertRegex(headers["Set-Cookie"], r"^shop_session=[\w-]+; Path=/; HttpOnly$")
        self.assertIn("shop_session", c.cookies)

        status, headers, page = c.request("GET", headers["Location"])
        self.assertEqual(status, 200)
        self.assertIn(b"Welcome, alice", page)
        self.assertIn(b'<span id="user">alice</span>', page)

        status, headers, found = c.get_json("/api/search?q=WIDGET")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(found["query"], "WIDGET")
        self.assertEqual(found["count"], len(found["results"]))
        self.assertGreaterEqual(found["count"], 2)
        self.assertTrue(all("widget" in r["name"].lower() for r in found["results"]))
        first = found["results"][0]
        self.assertEqual(sorted(first), ["name", "price", "sku", "stock"])
        self.assertIsInstance(first["price"], float)
        self.assertIsInstance(found["server_time"], int)
        self.assertRegex(found["request_id"], r"^[0-9a-f-]{36}$")
        _, _, everything = c.get_json("/api/search")
        self.assertGreaterEqual(everything["count"], 8)

        status, _, cart = c.post_json("/api/cart", {"sku": first["sku"], "qty": 2})
        self.assertEqual(status, 201)
        cart_id = cart["cart"]["id"]
        self.assertRegex(cart_id, r"^c-[0-9a-f]+$")
        self.assertEqual(cart["cart"]["items"],
                         [{"sku": first["sku"], "qty": 2, "price": first["price"]}])
        self.assertAlmostEqual(cart["cart"]["total"], first["price"] * 2)

        status, _, again = c.get_json("/api/cart/" + cart_id)
        self.assertEqual(status, 200)
        self.assertEqual(again["cart"], cart["cart"])

        status, _, order = c.post_json("/api/checkout", {"cart_id": cart_id})
        self.assertEqual(status, 200)
        self.assertRegex(order["order"]["id"], r"^o-[0-9a-f]+$")
        self.assertEqual(order["order"]["cart_id"], cart_id)
        self.assertEqual(order["order"]["total"], cart["cart"]["total"])
        self.assertEqual(order["order"]["status"], "paid")

        status, headers, _ = c.request("POST", "/logout")
        self.assertIn(status, (204, 303))
        self.assertNotIn("shop_session", c.cookies)
        status, headers, _ = c.request("GET", "/account")
        self.assertEqual(status, 302)
        self.assertEqual(headers["Location"], "/login")

        self.assertIs(c.conn.sock, sock, "the connection was not kept alive")

    def test_csrf_and_credentials(self):
        shop = self.start()
        c = self.client(shop)
        form_headers = {"Content-Type": "application/x-www-form-urlencoded"}
        _, _, page = c.request("GET", "/login")
        csrf = csrf_of(page)
        good = urllib.parse.urlencode({"user": "bob", "password": "builder", "csrf": csrf})

        status, headers, body = c.request("POST", "/login", body=good, headers=form_headers,
                                          cookies=False)
        self.assertEqual(status, 403, "no pre-session cookie")
        self.assertIn(b"CSRF check failed", body)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")

        wrong = urllib.parse.urlencode({"user": "bob", "password": "builder", "csrf": "x" + csrf})
        status, _, body = c.request("POST", "/login", body=wrong, headers=form_headers)
        self.assertEqual(status, 403, "wrong csrf")
        self.assertIn(b"CSRF check failed", body)

        bad = urllib.parse.urlencode({"user": "bob", "password": "nope", "csrf": csrf})
        status, _, body = c.request("POST", "/login", body=bad, headers=form_headers)
        self.assertEqual(status, 401)
        self.assertIn(b"Invalid credentials", body)

        status, _, _ = c.request("POST", "/login", body=good, headers=form_headers)
        self.assertEqual(status, 303)
        _, _, page = c.request("GET", "/account")
        self.assertIn(b'<span id="user">bob</span>', page)

        status, _, _ = c.request("POST", "/login", body=good, headers=form_headers)
        self.assertEqual(status, 403, "a login form is good for one sign-in")

    def test_env_user(self):
        shop = self.start(env={"SHOP_USER": "carol", "SHOP_PASSWORD": "s3cret"})
        status, _, _ = self.client(shop).sign_in("carol", "s3cret")
        self.assertEqual(status, 303)
        status, _, _ = self.client(shop).sign_in("dave", "s3cret")
        self.assertEqual(status, 401)
        status, _, _ = self.client(shop).sign_in("alice", "wonderland")
        self.assertEqual(status, 303)

    def test_api_errors(self):
        shop = self.start()
        anon = self.client(shop)
        status, headers, body = anon.post_json("/api/cart", {"sku": "A-100", "qty": 1})
        self.assertEqual(status, 401)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertIn("error", body)
        status, _, _ = anon.post_json("/api/checkout", {"cart_id": "c-1"})
        self.assertEqual(status, 401)
        status, _, _ = anon.get_json("/api/cart/c-doesnotexist")
        self.assertEqual(status, 404)

        c = self.client(shop)
        self.assertEqual(c.sign_in()[0], 303)
        status, _, body = c.post_json("/api/cart", {"sku": "Z-999", "qty": 1})
        self.assertEqual((status, body), (404, {"error": "unknown sku", "status": 404}))
        status, _, _ = c.request("POST", "/api/cart", body="{not json",
                                 headers={"Content-Type": "application/json"})
        self.assertEqual(status, 400)
        status, _, _ = c.post_json("/api/cart", {"sku": "A-100", "qty": "two"})
        self.assertEqual(status, 400)
        status, _, _ = c.post_json("/api/checkout", {"cart_id": "c-nope"})
        self.assertEqual(status, 404)
        status, headers, _ = c.request("DELETE", "/api/search")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers["Allow"])
        status, _, _ = c.request("GET", "/no/such/page")
        self.assertEqual(status, 404)

    def test_canary_without_flags_matches_stable(self):
        bodies = {}
        for variant in ("stable", "canary"):
            shop = self.start("--variant", variant, "--seed", "7")
            c = self.client(shop)
            status, headers, health = c.get_json("/health")
            self.assertEqual(health, {"status": "ok", "variant": variant})
            self.assertEqual(headers["X-Shop-Variant"], variant)
            self.assertEqual(c.sign_in()[0], 303)
            seen = []
            for q in ("", "gadget", "GIZMO", "nothing-matches"):
                seen.append(strip_volatile(c.get_json("/api/search?q=" + q)[2]))
            _, _, cart = c.post_json("/api/cart", {"sku": "B-200", "qty": 1})
            seen.append(strip_volatile(cart))
            _, _, order = c.post_json("/api/checkout", {"cart_id": cart["cart"]["id"]})
            seen.append(strip_volatile(order))
            bodies[variant] = seen
        self.assertEqual(bodies["stable"], bodies["canary"])


class TestInjection(ShopTestCase):
    def test_latency(self):
        shop = self.start("--latency", "search=50", "--latency", "*=30")
        c = self.client(shop)
        self.assertEqual(c.sign_in()[0], 303)
        search = [timed(lambda: c.get_json("/api/search?q=a")) for _ in range(5)]
        account = [timed(lambda: c.request("GET", "/account")) for _ in range(5)]
        self.assertGreaterEqual(statistics.median(search), 0.040)
        self.assertGreaterEqual(statistics.median(account), 0.025, '"*" applies to shop pages')

    def test_latency_sigma(self):
        shop = self.start("--latency", "search=20:0.8", "--seed", "3")
        c = self.client(shop)
        times = [timed(lambda: c.get_json("/api/search")) for _ in range(12)]
        self.assertGreater(max(times) - min(times), 0.005, "sigma > 0 should vary the delay")

    def test_status_fault(self):
        shop = self.start("--fault", "status:search=500", "--fault", "status:login-page=503")
        c = self.client(shop)
        status, headers, body = c.get_json("/api/search?q=widget")
        self.assertEqual(status, 500)
        self.assertEqual(headers["Content-Type"], "application/json")
        self.assertEqual(body["status"], 500)
        self.assertIn("error", body)
        status, _, _ = c.request("GET", "/login")
        self.assertEqual(status, 503)
        status, _, _ = c.get_json("/health")
        self.assertEqual(status, 200)

    def test_field_fault(self):
        shop = self.start("--fault", 'field:search:results.0.price="12.50"',
                          "--fault", "drop:search:server_time",
                          "--fault", "field:search:extra.flag=true")
        _, _, body = self.client(shop).get_json("/api/search?q=blue")
        self.assertEqual(body["results"][0]["price"], "12.50")
        self.assertEqual(body["results"][0]["sku"], "A-100")
        self.assertNotIn("server_time", body)
        self.assertEqual(body["extra"], {"flag": True})
        _, _, body = self.client(shop).get_json("/api/search?q=nothing-matches")
        self.assertEqual(body["results"], [], "a path that does not exist is left alone")

    def test_bad_arguments_exit_2(self):
        for args in (["--latency", "nope=5"], ["--latency", "search=abc"],
                     ["--fault", "status:search=42"], ["--fault", "field:search:x=notjson"],
                     ["--fault", "bogus:search"], ["--variant", "blue"],
                     ["--fault", "title:"], ["--latency", "wiki-nope=5"]):
            r = subprocess.run([sys.executable, SHOP, "--port", "0", "--quiet"] + args,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, timeout=10)
            self.assertEqual(r.returncode, 2, (args, r.stderr))


def form_csrf(page, form_id):
    """The csrf hidden input of the form with id form_id."""
    m = re.search(rb'<form [^>]*id="%s">\s*<input type="hidden" name="csrf" value="([^"]+)">'
                  % form_id.encode(), page)
    if not m:
        raise AssertionError("no csrf input in form %s: %r" % (form_id, page[:2000]))
    return m.group(1).decode()


def wiki_sign_in(c, user="alice", password="wonderland", returnto="Sandbox"):
    status, _, page = c.request("GET", "/wiki/login?returnto=" + returnto)
    assert status == 200, status
    form = urllib.parse.urlencode({"user": user, "password": password, "returnto": returnto,
                                   "csrf": form_csrf(page, "login-form")})
    return c.request("POST", "/wiki/login", body=form, headers=FORM)


def wiki_save(c, name, text):
    _, _, page = c.request("GET", "/wiki/edit/" + name)
    form = urllib.parse.urlencode({"csrf": form_csrf(page, "edit-form"), "text": text})
    return c.request("POST", "/wiki/edit/" + name, body=form, headers=FORM)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class TestWiki(ShopTestCase):
    def test_sign_in_edit_read_sign_out(self):
        shop = self.start()
        c = self.client(shop)

        status, headers, page = c.request("GET", "/wiki/login?returnto=Sandbox")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        self.assertIn(b"<title>Sign in - Twin Wiki</title>", page)
        self.assertIn(b'<input type="hidden" name="returnto" value="Sandbox">', page)
        self.assertRegex(headers["Set-Cookie"],
                         r"^wiki_session=[\w-]+; Path=/wiki; HttpOnly; SameSite=Lax$")
        anon_session = c.cookies["wiki_session"]
        first = form_csrf(page, "login-form")
        _, headers, page = c.request("GET", "/wiki/login?returnto=Sandbox")
        self.assertIsNone(headers["Set-Cookie"], "the session is kept")
        csrf = form_csrf(page, "login-form")
        self.assertNotEqual(csrf, first, "a new token for every form")

        def login(token, password="wonderland"):
            return c.request("POST", "/wiki/login", headers=FORM, body=urllib.parse.urlencode(
                {"user": "alice", "password": password, "csrf": token, "returnto": "Sandbox"}))

        status, _, body = login("x" + csrf)
        self.assertEqual(status, 403)
        self.assertIn(b"CSRF check failed", body)
        status, _, body = login(csrf, "nope")
        self.assertEqual(status, 401)
        self.assertIn(b"Incorrect user name or password.", body)
        status, _, _ = login(csrf)
        self.assertEqual(status, 403, "the form of a failed sign-in is replaced")
        csrf = form_csrf(body, "login-form")
        status, headers, _ = login(csrf)
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/wiki/page/Sandbox")
        self.assertNotEqual(c.cookies["wiki_session"], anon_session, "a new session id")

        status, _, page = c.request("GET", "/wiki/page/Sandbox")
        self.assertEqual(status, 404)
        self.assertIn(b"There is currently no text in this page.", page)

        status, _, page = c.request("GET", "/wiki/edit/Sandbox")
        self.assertEqual(status, 200)
        self.assertIn(b"<title>Editing Sandbox - Twin Wiki</title>", page)
        self.assertIn(b'<textarea name="text" id="wiki-text" rows="12" cols="80"></textarea>',
                      page)
        edit = form_csrf(page, "edit-form")
        logout = form_csrf(page, "logout-form")
        self.assertNotEqual(edit, logout)
        _, _, other = c.request("GET", "/wiki/edit/Other")
        text = "First <line> & more\r\n\r\nSecond paragraph"
        status, _, body = c.request("POST", "/wiki/edit/Other", headers=FORM,
                                    body=urllib.parse.urlencode({"csrf": edit, "text": text}))
        self.assertEqual(status, 403, "the token is per page")
        self.assertIn(b"Edit token invalid", body)
        status, headers, _ = c.request("POST", "/wiki/edit/Sandbox", headers=FORM,
                                       body=urllib.parse.urlencode({"csrf": edit, "text": text}))
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/wiki/page/Sandbox")
        status, _, _ = c.request("POST", "/wiki/edit/Sandbox", headers=FORM,
                                 body=urllib.parse.urlencode({"csrf": edit, "text": "again"}))
        self.assertEqual(status, 403, "a form saves once")
        _, _, page = c.request("GET", "/wiki/edit/Sandbox")
        self.assertIn(b">First &lt;line&gt; &amp; more\n\nSecond paragraph</textarea>", page)

        status, headers, page = c.request("GET", "/wiki/page/Sandbox",
                                          headers={"Host": "wiki.example:8080"})
        self.assertEqual(status, 200)
        self.assertIn(b"<title>Sandbox - Twin Wiki</title>", page)
        self.assertIn(b'<link rel="canonical" href="http://wiki.example:8080/wiki/page/Sandbox">',
                      page)
        self.assertIn(b'<div id="content">\n<p>First &lt;line&gt; &amp; more</p>\n'
                      b'<p>Second paragraph</p>\n</div>', page)
        self.assertIn(b'Revision <span id="revision">1</span>, last edited by '
                      b'<span id="editor">alice</span>', page)
        self.assertIn(b'<span id="wiki-user">alice</span>', page)
        self.assertEqual(form_csrf(page, "logout-form"), logout, "one sign-out token a session")
        nonce = re.search(rb'<meta name="csp-nonce" content="([\w-]+)">', page).group(1)
        self.assertIn(b'<script nonce="%s">' % nonce, page)
        self.assertEqual(headers["Content-Security-Policy"], "script-src 'nonce-%s'" % nonce.decode())
        self.assertRegex(page.decode(), r'<time id="server-time" datetime="\d{4}-\d\d-\d\dT'
                                        r'\d\d:\d\d:\d\d\.\d{3}Z">\d\d:\d\d:\d\d\.\d{3} UTC</time>')
        _, _, again = c.request("GET", "/wiki/page/Sandbox")
        self.assertNotIn(nonce, again, "a nonce per request")

        anon = self.client(shop)
        status, _, page = anon.request("GET", "/wiki/page/Sandbox")
        self.assertEqual(status, 200)
        self.assertIn(b"<p>Second paragraph</p>", page, "pages are shared by every session")
        self.assertIn(b'<a href="/wiki/login">Sign in</a>', page)
        status, headers, _ = anon.request("GET", "/wiki/edit/Sandbox")
        self.assertEqual((status, headers["Location"]), (302, "/wiki/login?returnto=Sandbox"))
        status, _, _ = anon.request("POST", "/wiki/edit/Sandbox", headers=FORM,
                                    body=urllib.parse.urlencode({"csrf": edit, "text": "x"}))
        self.assertEqual(status, 403)

        status, _, _ = c.request("POST", "/wiki/logout", headers=FORM,
                                 body=urllib.parse.urlencode({"csrf": "x" + logout}))
        self.assertEqual(status, 403)
        status, headers, _ = c.request("POST", "/wiki/logout", headers=FORM,
                                       body=urllib.parse.urlencode({"csrf": logout}))
        self.assertEqual((status, headers["Location"]), (303, "/wiki/login"))
        self.assertEqual(headers["Set-Cookie"], "wiki_session=; Path=/wiki; HttpOnly; Max-Age=0")
        self.assertNotIn("wiki_session", c.cookies)
        status, _, _ = c.request("GET", "/wiki/edit/Sandbox")
        self.assertEqual(status, 302)

    def test_revisions_and_start_page(self):
        shop = self.start()
        c = self.client(shop)
        _, _, page = c.request("GET", "/wiki/page/Main_Page")
        self.assertIn(b"<p>Welcome to Twin Wiki.</p>", page)
        self.assertEqual(wiki_sign_in(c)[0], 303)
        for n in (1, 2, 3):
            self.assertEqual(wiki_save(c, "Sandbox", "edit %d" % n)[0], 303)
        _, _, page = c.request("GET", "/wiki/page/Sandbox")
        self.assertIn(b'<span id="revision">3</span>', page)
        self.assertIn(b"<p>edit 3</p>", page)
        self.assertEqual(c.request("GET", "/wiki/page/bad%20name")[0], 400)
        self.assertEqual(c.request("GET", "/wiki/page/" + "x" * 101)[0], 400)
        status, headers, _ = c.request("DELETE", "/wiki/page/Sandbox")
        self.assertEqual((status, headers["Allow"]), (405, "GET, HEAD"))
        status, headers, _ = c.request("GET", "/wiki/logout")
        self.assertEqual((status, headers["Allow"]), (405, "POST"))

    def test_title_fault_and_latency(self):
        shop = self.start("--variant", "canary", "--fault", "title:Twin Wiki (broken)",
                          "--latency", "wiki-page=40")
        c = self.client(shop)
        t0 = time.monotonic()
        _, _, page = c.request("GET", "/wiki/page/Main_Page")
        self.assertGreaterEqual(time.monotonic() - t0, 0.035)
        self.assertIn(b"<title>Twin Wiki (broken)</title>", page)
        self.assertIn(b'<h1 id="page-title">Main_Page</h1>', page, "only the title changes")
        self.assertEqual(wiki_sign_in(c)[0], 303)
        _, _, page = c.request("GET", "/wiki/edit/Main_Page")
        self.assertIn(b"<title>Editing Main_Page - Twin Wiki</title>", page)
        shop = self.start("--fault", "status:wiki-edit=500")
        c = self.client(shop)
        self.assertEqual(wiki_sign_in(c)[0], 303)
        self.assertEqual(wiki_save(c, "Sandbox", "x")[0], 500)

    def test_canary_without_flags_renders_like_stable(self):
        pages = {}
        volatile = re.compile(rb'(content|nonce|value|datetime)="[^"]*"|\d\d:\d\d:\d\d\.\d{3} UTC')
        for variant in ("stable", "canary"):
            c = self.client(self.start("--variant", variant))
            self.assertEqual(wiki_sign_in(c)[0], 303)
            self.assertEqual(wiki_save(c, "Sandbox", "same text")[0], 303)
            _, _, page = c.request("GET", "/wiki/page/Sandbox", headers={"Host": "wiki.test"})
            pages[variant] = volatile.sub(b"", page)
        self.assertEqual(pages["stable"], pages["canary"])


class TestHelpers(ShopTestCase):
    @classmethod
    def setUpClass(cls):
        cls.shop = ShopProcess()
        cls.addClassCleanup(cls.shop.stop)

    def setUp(self):
        self.c = self.client(self.shop)

    def test_echo(self):
        status, _, body = self.c.request(
            "POST", "/echo/sub?q=a%20b&q=c&empty=", body=json.dumps({"k": [1, 2]}),
            headers={"Content-Type": "application/json", "User-Agent": "twinprobe-test/1",
                     "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                     "Cookie": "a=1; b=two"}, cookies=False)
        self.assertEqual(status, 200)
        e = json.loads(body)
        self.assertEqual(e["method"], "POST")
        self.assertEqual(e["path"], "/echo/sub")
        self.assertEqual(e["query"], {"q": ["a b", "c"], "empty": ""})
        self.assertEqual(e["headers"]["user-agent"], "twinprobe-test/1")
        self.assertTrue(e["headers"]["traceparent"].startswith("00-0af7"))
        self.assertEqual(json.loads(e["body"]), {"k": [1, 2]})
        self.assertEqual(e["json"], {"k": [1, 2]})
        self.assertEqual(e["cookies"], {"a": "1", "b": "two"})

        _, _, body = self.c.request("PUT", "/echo", body="x=1&y=%C3%A9",
                                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(json.loads(body)["form"], {"x": "1", "y": "\u00e9"})

        boundary = "XyZ123"
        multipart = ("--{b}\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
                     "--{b}\r\nContent-Disposition: form-data; name=\"up\"; filename=\"a.txt\"\r\n"
                     "Content-Type: text/plain\r\n\r\nhello\r\n--{b}--\r\n").format(b=boundary)
        _, _, body = self.c.request("POST", "/echo", body=multipart, headers={
            "Content-Type": "multipart/form-data; boundary=" + boundary})
        e = json.loads(body)
        self.assertEqual(e["form"], {"field": "value"})
        self.assertEqual(e["files"]["up"]["filename"], "a.txt")
        self.assertEqual(e["files"]["up"]["size"], 5)

    def test_status_and_head(self):
        status, _, body = self.c.request("GET", "/status/418")
        self.assertEqual(status, 418)
        self.assertEqual(json.loads(body)["status"], 418)
        status, headers, body = self.c.request("GET", "/status/204")
        self.assertEqual((status, body), (204, b""))
        status, headers, body = self.c.request("HEAD", "/health")
        self.assertEqual((status, body), (200, b""))
        self.assertEqual(int(headers["Content-Length"]),
                         len(self.c.request("GET", "/health")[2]))

    def test_redirects(self):
        status, headers, _ = self.c.request("GET", "/redirect?to=file:///etc/passwd")
        self.assertEqual(status, 302)
        self.assertEqual(headers["Location"], "file:///etc/passwd")
        status, headers, _ = self.c.request(
            "GET", "/redirect?code=307&to=" + urllib.parse.quote("http://example.invalid/x?y=1"))
        self.assertEqual((status, headers["Location"]), (307, "http://example.invalid/x?y=1"))
        path, hops = "/redirect-chain/3", 0
        while True:
            status, headers, body = self.c.request("GET", path)
            if status != 302:
                break
            path, hops = headers["Location"], hops + 1
        self.assertEqual((status, hops, path), (200, 3, "/redirect-chain/0"))

    def test_stall_does_not_block_others(self):
        result = {}

        def stall():
            c = self.shop.client()
            try:
                result["time"] = timed(lambda: result.setdefault(
                    "status", c.request("GET", "/stall?ms=1500")[0]))
            finally:
                c.close()

        t = threading.Thread(target=stall)
        t.start()
        time.sleep(0.2)
        elapsed = timed(lambda: self.assertEqual(self.c.request("GET", "/health")[0], 200))
        t.join(10)
        self.assertLess(elapsed, 1.0)
        self.assertEqual(result.get("status"), 200)
        self.assertGreaterEqual(result["time"], 1.4)

    def test_stall_times_out_client(self):
        c = Client(self.shop.port, timeout=0.3)
        self.addCleanup(c.close)
        with self.assertRaises(TimeoutError):
            c.request("GET", "/stall")     # default 60 s

    def test_chunked_forever(self):
        for _ in range(2):
            conn = http.client.HTTPConnection("127.0.0.1", self.shop.port, timeout=10)
            try:
                conn.request("GET", "/chunked-forever")
                resp = conn.getresponse()
                self.assertEqual(resp.status, 200)
                self.assertEqual(resp.headers["Transfer-Encoding"], "chunked")
                self.assertIsNone(resp.headers["Content-Length"])
                got = 0
                while got < 300000:
                    got += len(resp.read(65536))
            finally:
                conn.close()
        self.assertEqual(self.c.request("GET", "/health")[0], 200)

    def test_bytes_xml_cookies_flaky(self):
        status, headers, body = self.c.request("GET", "/bytes?n=100000")
        self.assertEqual((status, len(body), int(headers["Content-Length"])), (200, 100000, 100000))
        self.assertEqual(self.c.request("GET", "/bytes?n=0")[2], b"")

        status, headers, body = self.c.request("GET", "/xml")
        self.assertEqual(headers["Content-Type"], "application/xml")
        root = ET.fromstring(body)
        self.assertEqual(root.find("./product[@sku='A-100']/name").text, "Blue Widget")

        status, headers, body = self.c.request("GET", "/cookie/set?name=flavour&value=oat")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Set-Cookie"], "flavour=oat; Path=/")
        self.assertEqual(self.c.get_json("/cookie/get")[2], {"flavour": "oat"})
        self.assertEqual(self.c.request("GET", "/cookie/set?name=a;b&value=1")[0], 400)

        key = "k-%d" % time.monotonic_ns()
        codes = [self.c.request("GET", "/flaky?key=%s&fail=2" % key)[0] for _ in range(4)]
        self.assertEqual(codes, [503, 503, 200, 200])


class TestLifecycle(ShopTestCase):
    def test_sigterm_with_open_connections_exits_0(self):
        shop = ShopProcess(quiet=False)
        self.addCleanup(shop.stop)
        idle = self.client(shop)
        self.assertEqual(idle.request("GET", "/health")[0], 200)
        stalled = socket.create_connection(("127.0.0.1", shop.port), timeout=5)
        self.addCleanup(stalled.close)
        stalled.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
        streaming = socket.create_connection(("127.0.0.1", shop.port), timeout=5)
        self.addCleanup(streaming.close)
        streaming.sendall(b"GET /chunked-forever HTTP/1.1\r\nHost: x\r\n\r\n")
        streaming.recv(1000)
        time.sleep(0.2)
        t0 = time.monotonic()
        self.assertEqual(shop.stop(), 0, shop.log())
        self.assertLess(time.monotonic() - t0, 3.0)
        log = shop.log()
        self.assertIn('"GET /health" 200 health', log)
        self.assertIn("listening on http://127.0.0.1:%d" % shop.port, log)

    def test_sigint_exits_0(self):
        shop = ShopProcess()
        self.addCleanup(shop.stop)
        shop.proc.send_signal(signal.SIGINT)
        self.assertEqual(shop.proc.wait(STOP_TIMEOUT), 0)

    def test_port_file_and_quiet(self):
        shop = self.start()
        with open(shop.port_file) as f:
            self.assertEqual(f.read(), "%d\n" % shop.port)
        self.assertEqual([n for n in os.listdir(shop.tmp) if n.endswith(".tmp")], [])
        self.client(shop).request("GET", "/health")
        self.assertEqual(shop.stop(), 0)


if __name__ == "__main__":
    unittest.main()
