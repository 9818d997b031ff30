#!/usr/bin/env python3
"""Demo shop for twinprobe: a small HTTP/1.1 web shop (CSRF-protected sign-in,
session cookie, search, cart, checkout), a server-rendered wiki (sign-in and edit
forms with CSRF tokens, pages whose HTML carries the Host, a nonce and the server
time), plus helper endpoints for testing an HTTP client's failure handling. Run one as "stable" and one as "canary" with
injected latency and faults, then compare them with twinprobe.

Python 3.11 standard library only. See tests/shop/README.md for the interface.
"""

import argparse
import copy
import datetime
import hmac
import html
import json
import math
import os
import random
import re
import secrets
import select
import signal
import socket
import socketserver
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from email import policy as email_policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Endpoints of the shop itself; "*" in --latency/--fault means all of these.
SHOP_ENDPOINTS = ("login-page", "login", "account", "search", "cart",
                  "cart-get", "checkout", "logout",
                  "wiki-login-page", "wiki-login", "wiki-edit-page", "wiki-edit",
                  "wiki-page", "wiki-logout")
# Helper endpoints; they can be named explicitly in --latency/--fault too.
HELPER_ENDPOINTS = ("health", "echo", "status", "redirect", "redirect-chain",
                    "stall", "chunked-forever", "bytes", "xml", "cookie-set",
                    "cookie-get", "flaky")
ALL_ENDPOINTS = SHOP_ENDPOINTS + HELPER_ENDPOINTS

CATALOGUE = (
    {"sku": "A-100", "name": "Blue Widget", "price": 12.5, "stock": 42},
    {"sku": "A-101", "name": "Red Widget", "price": 13.0, "stock": 17},
    {"sku": "A-102", "name": "Widget Deluxe", "price": 24.99, "stock": 5},
    {"sku": "B-200", "name": "Steel Gadget", "price": 49.0, "stock": 12},
    {"sku": "B-201", "name": "Gadget Mini", "price": 19.95, "stock": 60},
    {"sku": "C-300", "name": "Copper Gizmo", "price": 7.25, "stock": 100},
    {"sku": "C-301", "name": "Gizmo Pro", "price": 89.9, "stock": 3},
    {"sku": "D-400", "name": "Gift Card", "price": 25.0, "stock": 999},
)
CATALOGUE_BY_SKU = {p["sku"]: p for p in CATALOGUE}

USERS = {"alice": "wonderland", "bob": "builder"}

MAX_BODY = 16 * 1024 * 1024          # request bodies larger than this: 413
MAX_WIKI_TEXT = 64 * 1024            # wiki page text larger than this: 413
WIKI_NAME_RE = re.compile(r"^[A-Za-z0-9_.()-]{1,100}$")
WIKI_HOME = "Main_Page"
WIKI_START = {WIKI_HOME: "Welcome to Twin Wiki.\n\nSign in to edit any page."}
MAX_ENTRIES = 50000                  # per in-memory table, oldest evicted
CHUNK = b"\xa5" * (64 * 1024)        # /chunked-forever chunk
NO_BODY_STATUSES = (204, 304)
COOKIE_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
COOKIE_VALUE_RE = re.compile(r"^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$")


class HttpError(Exception):
    """Ends request handling with a JSON error response."""

    def __init__(self, status, message, close=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


class Resp:
    """A response: JSON (obj, field faults apply), bytes, or a stream callable."""

    __slots__ = ("status", "headers", "obj", "body", "ctype", "stream")

    def __init__(self, status, headers=None, obj=None, body=None, ctype=None,
                 stream=None):
        self.status = status
        self.headers = list(headers or ())
        self.obj = obj
        self.body = body
        self.ctype = ctype
        self.stream = stream


def json_resp(status, obj, headers=None):
    return Resp(status, headers, obj=obj)


def html_resp(status, text, headers=None):
    return Resp(status, headers, body=text.encode("utf-8"),
                ctype="text/html; charset=utf-8")


def error_json(status, message, **extra):
    obj = {"error": message, "status": status}
    obj.update(extra)
    return json_resp(status, obj)


class Req:
    """What a handler sees of a request."""

    __slots__ = ("method", "target", "path", "raw_query", "query_pairs",
                 "query", "headers", "body", "cookies", "handler")

    def first(self, name, default=None):
        """The first value of query parameter name."""
        value = self.query.get(name, default)
        return value[0] if isinstance(value, list) else value

    def int_param(self, name, default, lo, hi):
        raw = self.first(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise HttpError(400, "%s must be an integer" % name) from None
        if not lo <= value <= hi:
            raise HttpError(400, "%s must be in [%d, %d]" % (name, lo, hi))
        return value

    def json_body(self):
        try:
            obj = json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise HttpError(400, "invalid JSON body") from None
        if not isinstance(obj, dict):
            raise HttpError(400, "JSON body must be an object")
        return obj


def parse_cookies(header_values):
    cookies = {}
    for value in header_values:
        for part in value.split(";"):
            name, sep, val = part.strip().partition("=")
            name = name.strip()
            if not sep or not name:
                continue
            val = val.strip()
            if len(val) >= 2 and val[0] == val[-1] == '"':
                val = val[1:-1]
            cookies.setdefault(name, val)
    return cookies


def query_dict(pairs):
    """name -> value; a name given several times maps to the list of values."""
    out = {}
    for name, value in pairs:
        if name in out:
            if isinstance(out[name], list):
                out[name].append(value)
            else:
                out[name] = [out[name], value]
        else:
            out[name] = value
    return out


# --------------------------------------------------------------------------
# Faults and latency

def parse_latency(spec):
    """ENDPOINT=MEDIAN_MS[:SIGMA] -> (endpoint, median, sigma)."""
    endpoint, sep, rest = spec.partition("=")
    if not sep:
        raise ValueError("expected ENDPOINT=MEDIAN_MS[:SIGMA]: %r" % spec)
    check_endpoint(endpoint)
    median_s, _, sigma_s = rest.partition(":")
    try:
        median = float(median_s)
        sigma = float(sigma_s) if sigma_s else 0.0
    except ValueError:
        raise ValueError("bad number in latency %r" % spec) from None
    if not (math.isfinite(median) and math.isfinite(sigma)) or median < 0 or sigma < 0:
        raise ValueError("latency median and sigma must be >= 0: %r" % spec)
    return endpoint, median, sigma


def check_endpoint(name):
    if name != "*" and name not in ALL_ENDPOINTS:
        raise ValueError("unknown endpoint %r (known: *, %s)"
                         % (name, ", ".join(ALL_ENDPOINTS)))


def parse_fault(spec):
    """status:EP=CODE[:PROB] | field:EP:PATH=JSON | drop:EP:PATH | title:TEXT."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        raise ValueError("bad fault %r" % spec)
    if kind == "title":
        if not rest:
            raise ValueError("expected title:TEXT: %r" % spec)
        return ("title", "wiki-page", rest)
    if kind == "status":
        endpoint, sep, code_s = rest.partition("=")
        if not sep:
            raise ValueError("expected status:ENDPOINT=CODE[:PROB]: %r" % spec)
        check_endpoint(endpoint)
        code_s, _, prob_s = code_s.partition(":")
        try:
            code = int(code_s)
            prob = float(prob_s) if prob_s else 1.0
        except ValueError:
            raise ValueError("bad number in fault %r" % spec) from None
        if not 200 <= code <= 599:
            raise ValueError("status code must be 200..599: %r" % spec)
        if not 0.0 <= prob <= 1.0:
            raise ValueError("probability must be in [0, 1]: %r" % spec)
        return ("status", endpoint, code, prob)
    if kind in ("field", "drop"):
        endpoint, sep, rest = rest.partition(":")
        if not sep:
            raise ValueError("expected %s:ENDPOINT:PATH...: %r" % (kind, spec))
        check_endpoint(endpoint)
        if kind == "field":
            path, sep, value_s = rest.partition("=")
            if not sep:
                raise ValueError("expected field:ENDPOINT:PATH=JSONVALUE: %r" % spec)
            try:
                value = json.loads(value_s)
            except ValueError:
                raise ValueError("value is not JSON in %r (quote strings: "
                                 "field:search:results.0.price='\"12.50\"')" % spec) from None
        else:
            path, value = rest, None
        if not path:
            raise ValueError("empty path in %r" % spec)
        return (kind, endpoint, path.split("."), value)
    raise ValueError("unknown fault kind %r (status, field, drop, title)" % kind)


def apply_field(obj, parts, value, drop):
    """Sets (or deletes) obj[parts...]; missing dict levels are created for a
    set, an out-of-range index or a scalar on the way makes it a no-op."""
    cur = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(cur, dict):
            if last:
                if drop:
                    cur.pop(part, None)
                else:
                    cur[part] = copy.deepcopy(value)
                return
            if part not in cur:
                if drop:
                    return
                cur[part] = {}
            cur = cur[part]
        elif isinstance(cur, list):
            try:
                idx = int(part)
            except ValueError:
                return
            if not -len(cur) <= idx < len(cur):
                return
            if last:
                if drop:
                    del cur[idx]
                else:
                    cur[idx] = copy.deepcopy(value)
                return
            cur = cur[idx]
        else:
            return


# --------------------------------------------------------------------------
# Application state

class Shop:
    def __init__(self, args):
        self.variant = args.variant
        self.quiet = args.quiet
        self.seed = args.seed
        self.lock = threading.Lock()
        self.rng_lock = threading.Lock()
        # Separate streams so latency draws never shift the ids.
        self.latency_rng = random.Random("latency:%d" % args.seed)
        self.fault_rng = random.Random("fault:%d" % args.seed)
        self.id_rng = random.Random("ids:%d" % args.seed)
        self.latency = {}
        for endpoint, median, sigma in args.latency:
            self.latency[endpoint] = (median, sigma)
        self.status_faults = {}
        self.field_faults = {}
        self.wiki_title = None   # --fault title:TEXT
        for fault in args.fault:
            kind, endpoint = fault[0], fault[1]
            if kind == "title":
                self.wiki_title = fault[2]
            elif kind == "status":
                self.status_faults[endpoint] = (fault[2], fault[3])
            else:
                self.field_faults.setdefault(endpoint, []).append(
                    (fault[2], fault[3], kind == "drop"))
        self.pre_sessions = {}   # shop_pre -> csrf
        self.sessions = {}       # shop_session -> user
        self.carts = {}          # id -> {"id", "owner", "items", "order"}
        self.flaky = {}          # key -> count
        self.wiki_sessions = {}  # wiki_session -> {"user", "login_csrf", "edit_csrf", "logout_csrf"}
        self.wiki_pages = {name: {"text": text, "rev": 1, "editor": "Twin Wiki"}
                           for name, text in WIKI_START.items()}
        self.extra_user = os.environ.get("SHOP_USER") or None
        self.extra_password = os.environ.get("SHOP_PASSWORD") or None

    # -- faults / latency --------------------------------------------------
    def _lookup(self, table, endpoint):
        if endpoint in table:
            return table[endpoint]
        if endpoint in SHOP_ENDPOINTS:
            return table.get("*")
        return None

    def delay_seconds(self, endpoint):
        spec = self._lookup(self.latency, endpoint)
        if not spec:
            return 0.0
        median, sigma = spec
        if sigma > 0:
            with self.rng_lock:
                z = self.latency_rng.gauss(0.0, 1.0)
            return median * math.exp(sigma * z) / 1000.0
        return median / 1000.0

    def status_fault(self, endpoint):
        spec = self._lookup(self.status_faults, endpoint)
        if not spec:
            return None
        code, prob = spec
        if prob < 1.0:
            with self.rng_lock:
                if self.fault_rng.random() >= prob:
                    return None
        return code

    def field_faults_for(self, endpoint):
        faults = list(self.field_faults.get(endpoint, ()))
        if endpoint in SHOP_ENDPOINTS:
            faults = self.field_faults.get("*", []) + faults
        return faults

    # -- state helpers -----------------------------------------------------
    @staticmethod
    def _bounded_put(table, key, value):
        table[key] = value
        while len(table) > MAX_ENTRIES:
            del table[next(iter(table))]

    def new_id(self, prefix):
        with self.rng_lock:
            return "%s-%012x" % (prefix, self.id_rng.getrandbits(48))

    def check_password(self, user, password):
        if not user:
            return False
        expected = USERS.get(user)
        if expected is not None and hmac.compare_digest(expected, password):
            return True
        if self.extra_password is not None and hmac.compare_digest(
                self.extra_password, password):
            return self.extra_user is None or user == self.extra_user
        return False

    def session_user(self, req):
        token = req.cookies.get("shop_session")
        if not token:
            return None
        with self.lock:
            return self.sessions.get(token)


# --------------------------------------------------------------------------
# Shop pages and API

# The user, password and submit fields of both sign-in forms (shop and wiki).
SIGN_IN_FIELDS = """<label for="user">User</label>
<input type="text" id="user" name="user" autocomplete="username">
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password">
<button type="submit">Sign in</button>"""


def login_form(csrf, message=""):
    notice = ('\n<p class="error" role="alert">%s</p>' % html.escape(message)
              if message else "")
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in - Twin Shop</title>
</head>
<body>
<h1>Sign in</h1>%s
<form method="post" action="/login">
<input type="hidden" name="csrf" value="%s">
%s
</form>
</body>
</html>
""" % (notice, html.escape(csrf), SIGN_IN_FIELDS)


def simple_page(title, body):
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s - Twin Shop</title>
</head>
<body>
%s
</body>
</html>
""" % (html.escape(title), body)


def h_login_page(shop, req):
    pre = secrets.token_urlsafe(24)
    csrf = secrets.token_urlsafe(24)
    with shop.lock:
        shop._bounded_put(shop.pre_sessions, pre, csrf)
    return html_resp(200, login_form(csrf), [
        ("Set-Cookie", "shop_pre=%s; Path=/; HttpOnly" % pre),
        ("Cache-Control", "no-store"),
    ])


def h_login(shop, req):
    try:
        form = dict(urllib.parse.parse_qsl(req.body.decode("utf-8"),
                                           keep_blank_values=True))
    except UnicodeDecodeError:
        form = {}
    pre = req.cookies.get("shop_pre", "")
    sent_csrf = form.get("csrf", "")
    with shop.lock:
        csrf = shop.pre_sessions.get(pre) if pre else None
    if csrf is None or not sent_csrf or not hmac.compare_digest(csrf, sent_csrf):
        return html_resp(403, simple_page(
            "Forbidden", '<h1>CSRF check failed</h1>\n'
            '<p>Your sign-in form expired. <a href="/login">Try again</a>.</p>'))
    user = form.get("user", "")
    if not shop.check_password(user, form.get("password", "")):
        return html_resp(401, login_form(csrf, "Invalid credentials"))
    token = secrets.token_urlsafe(32)
    with shop.lock:
        shop.pre_sessions.pop(pre, None)   # one sign-in per login form
        shop._bounded_put(shop.sessions, token, user)
    return html_resp(303, simple_page("See Other", '<a href="/account">/account</a>'), [
        ("Location", "/account"),
        ("Set-Cookie", "shop_session=%s; Path=/; HttpOnly" % token),
    ])


def h_account(shop, req):
    user = shop.session_user(req)
    if user is None:
        return html_resp(302, simple_page("Found", '<a href="/login">/login</a>'),
                         [("Location", "/login")])
    u = html.escape(user)
    return html_resp(200, simple_page("Account", """<h1>Welcome, %s</h1>
<p>Signed in as <span id="user">%s</span>.</p>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>""" % (u, u)),
                     [("Cache-Control", "no-store")])


def h_logout(shop, req):
    token = req.cookies.get("shop_session")
    if token:
        with shop.lock:
            shop.sessions.pop(token, None)
    return html_resp(303, simple_page("See Other", '<a href="/login">/login</a>'), [
        ("Location", "/login"),
        ("Set-Cookie", "shop_session=; Path=/; HttpOnly; Max-Age=0"),
    ])


def h_search(shop, req):
    q = req.first("q", "")
    needle = q.casefold()
    results = [dict(p) for p in CATALOGUE if needle in p["name"].casefold()]
    return json_resp(200, {
        "query": q,
        "results": results,
        "count": len(results),
        "server_time": int(time.time() * 1000),
        "request_id": str(uuid.uuid4()),
    })


def cart_view(cart):
    items = [dict(i) for i in cart["items"]]
    total = round(sum(i["price"] * i["qty"] for i in items), 2)
    return {"id": cart["id"], "items": items, "total": total}


def require_user(shop, req):
    user = shop.session_user(req)
    if user is None:
        raise HttpError(401, "login required")
    return user


def h_cart(shop, req):
    user = require_user(shop, req)
    data = req.json_body()
    sku, qty = data.get("sku"), data.get("qty", 1)
    if not isinstance(sku, str) or not sku:
        raise HttpError(400, "sku must be a non-empty string")
    if isinstance(qty, bool) or not isinstance(qty, int) or not 1 <= qty <= 1000:
        raise HttpError(400, "qty must be an integer in [1, 1000]")
    product = CATALOGUE_BY_SKU.get(sku)
    if product is None:
        raise HttpError(404, "unknown sku")
    cart_id = data.get("cart_id")
    with shop.lock:
        if cart_id is not None:           # optional: add to an existing cart
            cart = shop.carts.get(cart_id) if isinstance(cart_id, str) else None
            if cart is None or cart["owner"] != user:
                raise HttpError(404, "unknown cart")
            if cart["order"] is not None:
                raise HttpError(409, "cart already checked out")
            status = 200
        else:
            cart = {"id": None, "owner": user, "items": [], "order": None}
            status = 201
        have = sum(i["qty"] for i in cart["items"] if i["sku"] == sku)
        if have + qty > product["stock"]:
            raise HttpError(409, "insufficient stock")
        for item in cart["items"]:
            if item["sku"] == sku:
                item["qty"] += qty
                break
        else:
            cart["items"].append({"sku": sku, "qty": qty, "price": product["price"]})
        if cart["id"] is None:
            cart["id"] = shop.new_id("c")
            shop._bounded_put(shop.carts, cart["id"], cart)
        view = cart_view(cart)
    return json_resp(status, {"cart": view, "request_id": str(uuid.uuid4())})


def h_cart_get(shop, req, cart_id):
    with shop.lock:
        cart = shop.carts.get(cart_id)
        view = cart_view(cart) if cart else None
    if view is None:
        raise HttpError(404, "unknown cart")
    return json_resp(200, {"cart": view, "request_id": str(uuid.uuid4())})


def h_checkout(shop, req):
    user = require_user(shop, req)
    data = req.json_body()
    cart_id = data.get("cart_id")
    if not isinstance(cart_id, str) or not cart_id:
        raise HttpError(400, "cart_id must be a non-empty string")
    with shop.lock:
        cart = shop.carts.get(cart_id)
        if cart is None or cart["owner"] != user:
            raise HttpError(404, "unknown cart")
        if cart["order"] is None:   # a repeated checkout returns the same order
            cart["order"] = {"id": shop.new_id("o"), "cart_id": cart_id,
                             "total": cart_view(cart)["total"], "status": "paid"}
        order = dict(cart["order"])
    return json_resp(200, {"order": order, "request_id": str(uuid.uuid4())})


# --------------------------------------------------------------------------
# Wiki: server-rendered pages like a PHP wiki's. Every form carries its own CSRF
# token; a page's HTML holds the Host it was asked for, a nonce and the time.

WIKI_SESSION_COOKIE = "wiki_session"
MAX_EDIT_TOKENS = 100    # per session: edit forms open at once


def wiki_html(title, body, head=""):
    return """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>%s</title>%s
</head>
<body>
%s
</body>
</html>
""" % (html.escape(title), head, body)


def wiki_error(status, heading, message, headers=None):
    return html_resp(status, wiki_html("%s - Twin Wiki" % heading, "<h1>%s</h1>\n<p>%s</p>"
                                       % (html.escape(heading), message)), headers)


def wiki_see_other(location, headers=()):
    link = html.escape(location)
    return html_resp(303, wiki_html("See Other - Twin Wiki", '<a href="%s">%s</a>' % (link, link)),
                     [("Location", location)] + list(headers))


def wiki_name(name):
    if not WIKI_NAME_RE.match(name):
        raise HttpError(400, "bad page name (letters, digits and _.()- only, at most 100)")
    return name


def wiki_form(req):
    try:
        return dict(urllib.parse.parse_qsl(req.body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise HttpError(400, "form is not UTF-8") from None


def token_ok(expected, sent):
    return bool(expected) and bool(sent) and hmac.compare_digest(expected, sent)


def session_cookie(sid):
    if sid is None:
        return ("Set-Cookie", "%s=; Path=/wiki; HttpOnly; Max-Age=0" % WIKI_SESSION_COOKIE)
    return ("Set-Cookie", "%s=%s; Path=/wiki; HttpOnly; SameSite=Lax" % (WIKI_SESSION_COOKIE, sid))


def wiki_session(shop, req):
    """(id, session) of the request's wiki session cookie, or (None, None)."""
    sid = req.cookies.get(WIKI_SESSION_COOKIE)
    with shop.lock:
        sess = shop.wiki_sessions.get(sid) if sid else None
    return (sid, sess) if sess is not None else (None, None)


def wiki_new_session(shop, user=None):
    sid = secrets.token_urlsafe(24)
    sess = {"user": user, "login_csrf": None, "edit_csrf": {},
            "logout_csrf": secrets.token_urlsafe(24)}
    with shop.lock:
        shop._bounded_put(shop.wiki_sessions, sid, sess)
    return sid, sess


def signed_in(sess):
    return sess is not None and sess["user"] is not None


def wiki_returnto(value):
    return value if isinstance(value, str) and WIKI_NAME_RE.match(value) else WIKI_HOME


def wiki_user_bar(sess):
    if not signed_in(sess):
        return '<div id="user-bar"><a href="/wiki/login">Sign in</a></div>'
    return ('<div id="user-bar">Signed in as <span id="wiki-user">%s</span>\n'
            '<form method="post" action="/wiki/logout" id="logout-form">'
            '<input type="hidden" name="csrf" value="%s">'
            '<button type="submit">Sign out</button></form>\n</div>'
            % (html.escape(sess["user"]), html.escape(sess["logout_csrf"])))


def wiki_login_form(csrf, returnto, message=""):
    notice = ('<p class="error" role="alert">%s</p>\n' % html.escape(message)
              if message else "")
    return wiki_html("Sign in - Twin Wiki", """<h1>Sign in</h1>
%s<form method="post" action="/wiki/login" id="login-form">
<input type="hidden" name="csrf" value="%s">
<input type="hidden" name="returnto" value="%s">
%s
</form>""" % (notice, html.escape(csrf), html.escape(returnto), SIGN_IN_FIELDS))


def h_wiki_login_page(shop, req):
    returnto = wiki_returnto(req.first("returnto", WIKI_HOME))
    headers = [("Cache-Control", "no-store")]
    sid, sess = wiki_session(shop, req)
    if sess is None:
        sid, sess = wiki_new_session(shop)
        headers.append(session_cookie(sid))
    token = secrets.token_urlsafe(24)       # a new token for every form
    with shop.lock:
        sess["login_csrf"] = token
    return html_resp(200, wiki_login_form(token, returnto), headers)


def h_wiki_login(shop, req):
    form = wiki_form(req)
    sid, sess = wiki_session(shop, req)
    with shop.lock:
        expected = sess["login_csrf"] if sess else None
    if not token_ok(expected, form.get("csrf", "")):
        return wiki_error(403, "Session expired", 'The sign-in form has expired (CSRF check '
                          'failed). <a href="/wiki/login">Sign in again</a>.')
    returnto = wiki_returnto(form.get("returnto", WIKI_HOME))
    user = form.get("user", "")
    if not shop.check_password(user, form.get("password", "")):
        token = secrets.token_urlsafe(24)
        with shop.lock:
            sess["login_csrf"] = token
        return html_resp(401, wiki_login_form(token, returnto, "Incorrect user name or password."),
                         [("Cache-Control", "no-store")])
    with shop.lock:                          # a new session id on sign-in
        shop.wiki_sessions.pop(sid, None)
    new_sid, _ = wiki_new_session(shop, user)
    return wiki_see_other("/wiki/page/" + returnto, [session_cookie(new_sid)])


def h_wiki_edit_page(shop, req, name):
    name = wiki_name(name)
    _, sess = wiki_session(shop, req)
    if not signed_in(sess):
        location = "/wiki/login?returnto=" + name
        return html_resp(302, wiki_html("Found - Twin Wiki", '<a href="%s">%s</a>'
                                        % (html.escape(location), html.escape(location))),
                         [("Location", location)])
    token = secrets.token_urlsafe(24)       # per page, new for every form
    with shop.lock:
        tokens = sess["edit_csrf"]
        tokens.pop(name, None)
        tokens[name] = token
        while len(tokens) > MAX_EDIT_TOKENS:
            del tokens[next(iter(tokens))]
        page = shop.wiki_pages.get(name)
        text = page["text"] if page else ""
    n = html.escape(name)
    return html_resp(200, wiki_html("Editing %s - Twin Wiki" % name, """%s
<h1>Editing <span id="page-name">%s</span></h1>
<form method="post" action="/wiki/edit/%s" id="edit-form">
<input type="hidden" name="csrf" value="%s">
<textarea name="text" id="wiki-text" rows="12" cols="80">%s</textarea>
<label for="summary">Summary</label>
<input type="text" id="summary" name="summary">
<button type="submit">Save page</button>
</form>""" % (wiki_user_bar(sess), n, n, html.escape(token), html.escape(text))),
                     [("Cache-Control", "no-store")])


def h_wiki_edit(shop, req, name):
    name = wiki_name(name)
    form = wiki_form(req)
    _, sess = wiki_session(shop, req)
    if not signed_in(sess):
        return wiki_error(403, "Not signed in",
                          '<a href="/wiki/login?returnto=%s">Sign in</a> to edit.' % name)
    with shop.lock:
        expected = sess["edit_csrf"].get(name)
    if not token_ok(expected, form.get("csrf", "")):
        return wiki_error(403, "Edit token invalid", 'The edit form has expired (CSRF check '
                          'failed). <a href="/wiki/edit/%s">Edit again</a>.' % name)
    text = form.get("text")
    if text is None:
        raise HttpError(400, "missing text")
    text = text.replace("\r\n", "\n")
    if len(text.encode("utf-8")) > MAX_WIKI_TEXT:
        raise HttpError(413, "text over %d bytes" % MAX_WIKI_TEXT)
    with shop.lock:
        sess["edit_csrf"].pop(name, None)    # a form saves once
        page = shop.wiki_pages.get(name)
        rev = (page["rev"] if page else 0) + 1
        shop._bounded_put(shop.wiki_pages, name, {"text": text, "rev": rev,
                                                   "editor": sess["user"]})
    return wiki_see_other("/wiki/page/" + name)


def h_wiki_page(shop, req, name):
    name = wiki_name(name)
    _, sess = wiki_session(shop, req)
    with shop.lock:
        page = dict(shop.wiki_pages[name]) if name in shop.wiki_pages else None
    host = req.headers.get("Host") or "%s:%d" % req.handler.server.server_address[:2]
    nonce = secrets.token_urlsafe(16)
    now = datetime.datetime.now(datetime.timezone.utc)
    title = shop.wiki_title if shop.wiki_title is not None else "%s - Twin Wiki" % name
    n = html.escape(name)
    head = ('\n<link rel="canonical" href="http://%s/wiki/page/%s">'
            '\n<meta name="csp-nonce" content="%s">'
            '\n<script nonce="%s">document.documentElement.className = "js";</script>'
            % (html.escape(host), n, nonce, nonce))
    if page is None:
        status = 404
        content = ('<p class="missing">There is currently no text in this page. '
                   '<a href="/wiki/edit/%s">Create it</a>.</p>' % n)
        info = ""
    else:
        status = 200
        paragraphs = [p for p in re.split(r"\n\s*\n", page["text"].strip()) if p]
        content = "\n".join("<p>%s</p>" % html.escape(p) for p in paragraphs)
        info = ('\n<p id="page-info">Revision <span id="revision">%d</span>, last edited by '
                '<span id="editor">%s</span>.</p>' % (page["rev"], html.escape(page["editor"])))
    body = """%s
<h1 id="page-title">%s</h1>
<div id="content">
%s
</div>%s
<p id="served">Served at <time id="server-time" datetime="%s">%s UTC</time>.
<a href="/wiki/edit/%s">Edit this page</a></p>""" % (
        wiki_user_bar(sess), n, content, info,
        now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        now.strftime("%H:%M:%S.") + "%03d" % (now.microsecond // 1000), n)
    return html_resp(status, wiki_html(title, body, head), [
        ("Cache-Control", "private, no-cache"),
        ("Content-Security-Policy", "script-src 'nonce-%s'" % nonce),
    ])


def h_wiki_logout(shop, req):
    form = wiki_form(req)
    sid, sess = wiki_session(shop, req)
    if not signed_in(sess):
        return wiki_see_other("/wiki/login", [session_cookie(None)])
    if not token_ok(sess["logout_csrf"], form.get("csrf", "")):
        return wiki_error(403, "Sign-out token invalid", "Use the Sign out button of a page.")
    with shop.lock:
        shop.wiki_sessions.pop(sid, None)
    return wiki_see_other("/wiki/login", [session_cookie(None)])


# --------------------------------------------------------------------------
# Helper endpoints

def h_health(shop, req):
    return json_resp(200, {"status": "ok", "variant": shop.variant})


def parse_multipart(ctype, body):
    msg = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1", "replace") + b"\r\n\r\n" + body)
    fields, files = [], {}
    if not msg.is_multipart():
        return fields, files
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name is None:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = {"filename": filename,
                           "content_type": part.get_content_type(),
                           "size": len(payload),
                           "content": payload.decode("utf-8", "replace")}
        else:
            fields.append((name, payload.decode("utf-8", "replace")))
    return fields, files


def h_echo(shop, req):
    ctype = req.headers.get("Content-Type", "")
    mime = ctype.split(";")[0].strip().lower()
    form, files, parsed = None, None, None
    if mime == "application/x-www-form-urlencoded":
        form = query_dict(urllib.parse.parse_qsl(
            req.body.decode("utf-8", "replace"), keep_blank_values=True))
    elif mime.startswith("multipart/"):
        try:
            fields, files = parse_multipart(ctype, req.body)
            form = query_dict(fields)
        except Exception:    # malformed multipart: report the raw body only
            form, files = None, None
    if req.body and ("json" in mime or not mime):
        try:
            parsed = json.loads(req.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
    headers = {}
    for name, value in req.headers.items():
        key = name.lower()
        headers[key] = headers[key] + ", " + value if key in headers else value
    return json_resp(200, {
        "method": req.method,
        "path": req.path,
        "query": query_dict(req.query_pairs),
        "raw_query": req.raw_query,
        "http_version": req.handler.request_version,
        "headers": headers,
        "body": req.body.decode("utf-8", "replace"),
        "body_length": len(req.body),
        "json": parsed,
        "form": form,
        "files": files,
        "cookies": req.cookies,
    })


def h_status(shop, req, code_s):
    code = int(code_s)
    if not 200 <= code <= 599:
        raise HttpError(400, "status must be in [200, 599]")
    return json_resp(code, {"status": code})


def h_redirect(shop, req):
    to = req.first("to")
    if not isinstance(to, str) or not to:
        raise HttpError(400, "missing to=URL")
    if any(ord(c) < 0x20 or ord(c) == 0x7f for c in to):
        raise HttpError(400, "control characters in to=URL")
    code = req.int_param("code", 302, 300, 399)
    return json_resp(code, {"redirect": to, "status": code}, [("Location", to)])


def h_redirect_chain(shop, req, n_s):
    n = int(n_s)
    if n > 100000:
        raise HttpError(400, "chain too long")
    if n == 0:
        return json_resp(200, {"chain": 0, "done": True})
    to = "/redirect-chain/%d" % (n - 1)
    return json_resp(302, {"chain": n, "redirect": to}, [("Location", to)])


def wait_or_disconnect(handler, seconds):
    """Sleeps; returns False early if the client hangs up."""
    deadline = time.monotonic() + seconds
    sock = handler.connection
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], min(left, 1.0))
        except (OSError, ValueError):
            return False
        if readable:
            try:
                peek = sock.recv(1, socket.MSG_PEEK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return False
            if not peek:
                return False
            time.sleep(max(0.0, deadline - time.monotonic()))  # pipelined data
            return True


def h_stall(shop, req):
    ms = req.int_param("ms", 60000, 0, 24 * 3600 * 1000)
    if not wait_or_disconnect(req.handler, ms / 1000.0):
        req.handler.close_connection = True
        raise ConnectionAbortedError("client went away during /stall")
    return json_resp(200, {"stalled_ms": ms})


def h_chunked_forever(shop, req):
    def stream(handler, head_only):
        handler.send_header("Content-Type", "application/octet-stream")
        chunked = handler.request_version != "HTTP/1.0"
        if chunked:
            handler.send_header("Transfer-Encoding", "chunked")
        else:
            handler.send_header("Connection", "close")
        handler.end_headers()
        if head_only:
            return
        handler.close_connection = True
        frame = (b"%x\r\n" % len(CHUNK)) + CHUNK + b"\r\n" if chunked else CHUNK
        while True:
            handler.wfile.write(frame)
    return Resp(200, stream=stream)


def h_bytes(shop, req):
    n = req.int_param("n", 1024, 0, 1 << 30)
    pattern = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n" * 1024

    def stream(handler, head_only):
        handler.send_header("Content-Type", "application/octet-stream")
        handler.send_header("Content-Length", str(n))
        handler.end_headers()
        if head_only:
            return
        left = n
        while left > 0:
            piece = pattern[:left]
            handler.wfile.write(piece)
            left -= len(piece)
    return Resp(200, stream=stream)


def h_xml(shop, req):
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             '<catalog shop="twin-shop" currency="EUR">']
    for p in CATALOGUE:
        lines.append('  <product sku="%s" stock="%d"><name>%s</name>'
                     '<price>%.2f</price></product>'
                     % (p["sku"], p["stock"], html.escape(p["name"]), p["price"]))
    lines.append("</catalog>\n")
    return Resp(200, body="\n".join(lines).encode("utf-8"), ctype="application/xml")


def h_cookie_set(shop, req):
    name, value = req.first("name"), req.first("value", "")
    if not isinstance(name, str) or not COOKIE_NAME_RE.match(name):
        raise HttpError(400, "name must be a cookie token")
    if not isinstance(value, str) or not COOKIE_VALUE_RE.match(value):
        raise HttpError(400, "value has characters not allowed in a cookie")
    return json_resp(200, {"set": {name: value}},
                     [("Set-Cookie", "%s=%s; Path=/" % (name, value))])


def h_cookie_get(shop, req):
    return json_resp(200, dict(req.cookies))


def h_flaky(shop, req):
    key = req.first("key", "default")
    fail = req.int_param("fail", 1, 0, 1 << 30)
    retry_after = req.int_param("retry_after", None, 0, 3600)
    with shop.lock:
        attempt = shop.flaky.get(key, 0) + 1
        shop._bounded_put(shop.flaky, key, attempt)
    if attempt <= fail:
        headers = [("Retry-After", str(retry_after))] if retry_after is not None else []
        return json_resp(503, {"error": "flaky", "key": key, "attempt": attempt,
                               "fail": fail}, headers)
    return json_resp(200, {"key": key, "attempt": attempt, "fail": fail})


# --------------------------------------------------------------------------
# Routing

GET = ("GET",)
POST = ("POST",)
ANY = None
ROUTES = (
    # (path regex, endpoint, methods, handler)
    (re.compile(r"^/login$"), "login-page", GET, h_login_page),
    (re.compile(r"^/login$"), "login", POST, h_login),
    (re.compile(r"^/account$"), "account", GET, h_account),
    (re.compile(r"^/api/search$"), "search", GET, h_search),
    (re.compile(r"^/api/cart$"), "cart", POST, h_cart),
    (re.compile(r"^/api/cart/([^/]+)$"), "cart-get", GET, h_cart_get),
    (re.compile(r"^/api/checkout$"), "checkout", POST, h_checkout),
    (re.compile(r"^/logout$"), "logout", POST, h_logout),
    (re.compile(r"^/wiki/login$"), "wiki-login-page", GET, h_wiki_login_page),
    (re.compile(r"^/wiki/login$"), "wiki-login", POST, h_wiki_login),
    (re.compile(r"^/wiki/edit/([^/]+)$"), "wiki-edit-page", GET, h_wiki_edit_page),
    (re.compile(r"^/wiki/edit/([^/]+)$"), "wiki-edit", POST, h_wiki_edit),
    (re.compile(r"^/wiki/page/([^/]+)$"), "wiki-page", GET, h_wiki_page),
    (re.compile(r"^/wiki/logout$"), "wiki-logout", POST, h_wiki_logout),
    (re.compile(r"^/health$"), "health", GET, h_health),
    (re.compile(r"^/echo(?:/.*)?$"), "echo", ANY, h_echo),
    (re.compile(r"^/status/([0-9]{1,3})$"), "status", ANY, h_status),
    (re.compile(r"^/redirect$"), "redirect", ANY, h_redirect),
    (re.compile(r"^/redirect-chain/([0-9]{1,9})$"), "redirect-chain", ANY, h_redirect_chain),
    (re.compile(r"^/stall$"), "stall", GET, h_stall),
    (re.compile(r"^/chunked-forever$"), "chunked-forever", GET, h_chunked_forever),
    (re.compile(r"^/bytes$"), "bytes", GET, h_bytes),
    (re.compile(r"^/xml$"), "xml", GET, h_xml),
    (re.compile(r"^/cookie/set$"), "cookie-set", GET, h_cookie_set),
    (re.compile(r"^/cookie/get$"), "cookie-get", GET, h_cookie_get),
    (re.compile(r"^/flaky$"), "flaky", GET, h_flaky),
)


def route(method, path):
    """-> (endpoint, handler, groups) or raises HttpError 404/405."""
    match_method = "GET" if method == "HEAD" else method
    allowed = []
    for regex, endpoint, methods, fn in ROUTES:
        m = regex.match(path)
        if not m:
            continue
        if methods is None or match_method in methods:
            return endpoint, fn, [urllib.parse.unquote(g) for g in m.groups()]
        allowed.extend(methods)
    if allowed:
        if "GET" in allowed:
            allowed.append("HEAD")
        err = HttpError(405, "method not allowed")
        err.allow = ", ".join(sorted(set(allowed)))
        raise err
    raise HttpError(404, "not found")


# --------------------------------------------------------------------------
# HTTP plumbing

class ShopHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle's
        # algorithm and the client's delayed ACK add ~40 ms to every keep-alive reply.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server_version = "twinprobe-shop/1.0"
    sys_version = ""
    timeout = 120   # idle keep-alive connections and stuck writes

    def version_string(self):
        return self.server_version

    def log_request(self, code="-", size="-"):
        pass    # one line per request is written by _dispatch

    def log_message(self, fmt, *args):
        if not self.server.shop.quiet:
            sys.stderr.write("shop[%s] %s %s\n" % (self.server.shop.variant,
                                                  self.address_string(), fmt % args))

    def send_response(self, code, message=None):
        self._status = code
        super().send_response(code, message)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise HttpError(400, "bad Content-Length", close=True) from None
        if n < 0:
            raise HttpError(400, "bad Content-Length", close=True)
        if n > MAX_BODY:
            raise HttpError(413, "request body too large", close=True)
        body = self.rfile.read(n)
        if len(body) != n:
            raise HttpError(400, "truncated request body", close=True)
        return body

    def _read_chunked(self):
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                raise HttpError(400, "bad chunk size", close=True) from None
            if size == 0:
                while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
                    pass    # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                raise HttpError(413, "request body too large", close=True)
            data = self.rfile.read(size)
            if len(data) != size:
                raise HttpError(400, "truncated chunk", close=True)
            parts.append(data)
            self.rfile.readline(8)

    def _dispatch(self):
        shop = self.server.shop
        started = time.monotonic()
        self._status = None
        self._headers_sent = False
        endpoint = "-"
        try:
            split = urllib.parse.urlsplit(self.path)
            try:
                body = self._read_body()
            except HttpError:
                self.close_connection = True
                raise
            req = Req()
            req.method = self.command
            req.target = self.path
            req.path = split.path or "/"
            req.raw_query = split.query
            req.query_pairs = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
            req.query = query_dict(req.query_pairs)
            req.headers = self.headers
            req.body = body
            req.cookies = parse_cookies(self.headers.get_all("Cookie") or [])
            req.handler = self
            endpoint, fn, groups = route(self.command, req.path)
            delay = shop.delay_seconds(endpoint)
            if delay > 0:
                time.sleep(delay)
            code = shop.status_fault(endpoint)
            if code is not None:
                resp = error_json(code, "injected fault", endpoint=endpoint)
            else:
                resp = fn(shop, req, *groups)
            if resp.obj is not None:
                for parts, value, drop in shop.field_faults_for(endpoint):
                    apply_field(resp.obj, parts, value, drop)
            self._send(resp)
        except HttpError as e:
            if not self._headers_sent:
                resp = error_json(e.status, e.message)
                if getattr(e, "allow", None):
                    resp.headers.append(("Allow", e.allow))
                if e.close:
                    resp.headers.append(("Connection", "close"))
                try:
                    self._send(resp)
                except OSError:
                    self.close_connection = True
            else:
                self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True    # client went away: not an error
        except Exception:
            self.close_connection = True
            sys.stderr.write("shop[%s] error handling %s %s:\n%s"
                             % (shop.variant, self.command, self.path,
                                traceback.format_exc()))
            if not self._headers_sent:
                try:
                    self._send(error_json(500, "internal error"))
                except OSError:
                    pass
        finally:
            if not shop.quiet:
                sys.stderr.write('shop[%s] %s "%s %s" %s %s %.1fms\n' % (
                    shop.variant, self.client_address[0], self.command, self.path,
                    self._status if self._status is not None else "-", endpoint,
                    (time.monotonic() - started) * 1000.0))

    def _send(self, resp):
        head_only = self.command == "HEAD"
        self.send_response(resp.status)
        self._headers_sent = True
        self.send_header("X-Shop-Variant", self.server.shop.variant)
        for name, value in resp.headers:
            self.send_header(name, value)
        if resp.stream is not None:
            resp.stream(self, head_only)
            return
        if resp.status in NO_BODY_STATUSES:
            self.end_headers()
            return
        if resp.obj is not None:
            body = json.dumps(resp.obj, separators=(",", ":")).encode("utf-8")
            ctype = "application/json"
        else:
            body = resp.body or b""
            ctype = resp.ctype or "application/octet-stream"
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head_only and body:
            self.wfile.write(body)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch


class ShopServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256

    def __init__(self, address, shop):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.shop = shop
        super().__init__(address, ShopHandler)

    def server_bind(self):
        # HTTPServer.server_bind does a reverse DNS lookup; skip it.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        if not self.shop.quiet:
            super().handle_error(request, client_address)


def write_port_file(path, port):
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def arg_type(parser_fn):
    def conv(text):
        try:
            return parser_fn(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    conv.__name__ = parser_fn.__name__
    return conv


def build_parser():
    p = argparse.ArgumentParser(
        description="twinprobe demo shop (stable/canary) with latency and fault injection")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    p.add_argument("--port-file", help="write the bound port here (atomically) once listening")
    p.add_argument("--variant", choices=("stable", "canary"), default="stable")
    p.add_argument("--seed", type=int, default=0,
                   help="seeds latency draws, probabilistic faults and cart/order ids")
    p.add_argument("--latency", action="append", default=[], type=arg_type(parse_latency),
                   metavar="ENDPOINT=MEDIAN_MS[:SIGMA]")
    p.add_argument("--fault", action="append", default=[], type=arg_type(parse_fault),
                   metavar="SPEC",
                   help="status:ENDPOINT=CODE[:PROB] | field:ENDPOINT:PATH=JSON | "
                        "drop:ENDPOINT:PATH | title:TEXT (the wiki pages' <title>)")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    if not 0 <= args.port <= 65535:
        build_parser().error("--port must be in [0, 65535]")
    shop = Shop(args)
    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        server = ShopServer((args.host, args.port), shop)
    except OSError as e:
        sys.stderr.write("shop: cannot listen on %s:%d: %s\n" % (args.host, args.port, e))
        return 1
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="shop-accept", daemon=True)
    thread.start()
    if args.port_file:
        write_port_file(args.port_file, port)
    if not args.quiet:
        sys.stderr.write("shop[%s] listening on http://%s:%d\n" % (args.variant, args.host, port))
    while not stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if not args.quiet:
        sys.stderr.write("shop[%s] stopped\n" % args.variant)
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
