"""Writing journeys, through the real binary: command-line variables (--variable,
--variables-file, --secret), the built-ins {{target}} and {{location}}, defaults,
basic auth, `matches` patterns with placeholders, validate's warnings and the
did-you-mean messages. The demo shop's /echo sends back what arrived."""
import base64
import json
import os
import shutil
import tempfile

from support import BinaryTest, run, start_shop


class AuthoringBase(BinaryTest):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="tp-author-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def write(self, name, doc):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            if isinstance(doc, str):
                f.write(doc)
            else:
                json.dump(doc, f)
        return path

    def journey(self, name, steps, **extra):
        return self.write(f"{name}.json", {"name": name, "steps": steps, **extra})

    def run_json(self, *args, env=None, exits=(0, 1)):
        r = run("run", "--format", "json", *args, env=env)
        self.assertIn(r.returncode, exits, r.stderr + r.stdout[-3000:])
        return json.loads(r.stdout), r

    @staticmethod
    def steps(report, target=None):
        """Every step result, by name, of the first journey run against target."""
        for j in report["journeys"]:
            if target is None or j["target"] == target:
                return {s["name"]: s for s in j["steps"]}
        raise AssertionError(f"no journey run against {target}")

    @staticmethod
    def assertion_oks(step):
        return [a["ok"] for a in step["assertions"]]


def echo_step(name, headers, expect=(), capture=None, go_on=False, **request):
    """A GET /echo step; go_on: continue_on_failure (the steps after it still run)."""
    step = {"name": name, "request": {"url": "/echo", "headers": headers, **request},
            "expect": list(expect)}
    if capture:
        step["capture"] = capture
    if go_on:
        step["continue_on_failure"] = True
    return step


def header(name):
    return f"$.headers['{name.lower()}']"


class CommandLineVariables(AuthoringBase):
    def setUp(self):
        super().setUp()
        self.shop = start_shop(self)

    def test_variable_wins_over_the_journey_and_later_variables_see_it(self):
        path = self.journey(
            "vars",
            [echo_step("e", {"X-Host": "{{host}}", "X-Url": "{{url}}", "X-Keep": "{{keep}}",
                             "X-Opt": "{{opt|fallback}}", "X-Env": "{{env.TP_UNSET_X|d}}"},
                       capture={h: {"jsonpath": header(f"x-{h}")}
                                for h in ("host", "url", "keep", "opt", "env")})],
            variables={"host": "from-file", "url": "https://{{host}}/x", "keep": "kept"})
        report, r = self.run_json("--target", f"stable={self.shop}",
                                  "--variable", "host=first", "--variable", "host=cli",
                                  path, env={"TP_UNSET_X": None}, exits=(0,))
        caps = self.steps(report)["e"]["captures"]
        self.assertEqual(caps, {"host": "cli", "url": "https://cli/x", "keep": "kept",
                                "opt": "fallback", "env": "d"})

    def test_variables_file_then_flags_in_order(self):
        vfile = self.write("vars.env", "# for the shop\n\n  who = from file\r\n"
                                       "other=a=b\nlater=file\n")
        path = self.journey("file", [echo_step(
            "e", {"X-Who": "{{who}}", "X-Other": "{{other}}", "X-Later": "{{later}}"},
            capture={k: {"jsonpath": header(f"x-{k}")} for k in ("who", "other", "later")})])
        report, _ = self.run_json("--target", f"stable={self.shop}", "--variables-file", vfile,
                                  "--variable", "later=flag", path, exits=(0,))
        self.assertEqual(self.steps(report)["e"]["captures"],
                         {"who": "from file", "other": "a=b", "later": "flag"})
        # the other order: the file's line comes later and wins
        report, _ = self.run_json("--target", f"stable={self.shop}", "--variable", "later=flag",
                                  "--variables-file", vfile, path, exits=(0,))
        self.assertEqual(self.steps(report)["e"]["captures"]["later"], "file")

    def test_variables_file_errors_name_file_and_line(self):
        path = self.journey("x", [echo_step("e", {})])
        cases = [("a=1\nnot a pair\n", ":2: expected NAME=VALUE, got \"not a pair\""),
                 ("ok=1\n\n# c\n9lives=1\n", ":4: \"9lives\" is not a variable name"),
                 ("uuid=1\n", ":1: \"uuid\" is a built-in placeholder")]
        for text, message in cases:
            with self.subTest(text=text):
                vfile = self.write("bad.env", text)
                for cmd in (["run", "--target", f"stable={self.shop}"], ["validate"]):
                    r = run(*cmd, "--variables-file", vfile, path)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(f"twinprobe {cmd[0]}: {vfile}{message}", r.stderr)
        r = run("run", "--target", f"stable={self.shop}", "--variables-file",
                os.path.join(self.tmp, "missing.env"), path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("missing.env: cannot open: No such file or directory", r.stderr)
        r = run("run", "--target", f"stable={self.shop}", "--variable", "a.b=1", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--variable: \"a.b\" is not a variable name", r.stderr)
        r = run("run", "--target", f"stable={self.shop}", "--secret", "hunter2-only", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--secret takes NAME=VALUE", r.stderr)
        self.assertNotIn("hunter2-only", r.stderr)

    def test_secret_is_masked_in_text_json_and_junit(self):
        secret = "s3cret-Value-42"
        path = self.journey("sec", [echo_step(
            "e", {"X-Tok": "{{tok}}"},
            expect=[{"jsonpath": header("x-tok"), "equals": "nope"},
                    {"body": {"contains": "{{tok}}"}}],
            capture={"tok_back": {"jsonpath": header("x-tok")}})])
        junit = os.path.join(self.tmp, "report.xml")
        textfile = os.path.join(self.tmp, "report.txt")
        report, r = self.run_json("--target", f"stable={self.shop}", "--secret", f"tok={secret}",
                                  "--report", f"junit={junit}", "--report", f"text={textfile}",
                                  path, exits=(1,))
        step = self.steps(report)["e"]
        self.assertEqual(step["captures"]["tok_back"], "***")
        self.assertEqual(self.assertion_oks(step), [False, True])
        self.assertEqual(step["assertions"][0]["actual"], "***")
        outputs = {"json": r.stdout, "stderr": r.stderr}
        for name, p in (("junit", junit), ("text", textfile)):
            with open(p) as f:
                outputs[name] = f.read()
        for name, out in outputs.items():
            with self.subTest(output=name):
                self.assertNotIn(secret, out)
        self.assertIn("***", outputs["text"])
        # a secret of fewer than 6 characters gets the warning journeys' secrets get
        _, r = self.run_json("--target", f"stable={self.shop}", "--secret", "tok=abc", path)
        self.assertIn("secret tok is shorter than 6 characters", r.stderr)


class Builtins(AuthoringBase):
    def test_target_and_location(self):
        stable, canary = start_shop(self), start_shop(self, variant="canary")
        path = self.journey("where", [echo_step(
            "e", {"X-Where": "{{target}}@{{location}}"},
            capture={"where": {"jsonpath": header("x-where")}},
            expect=[{"jsonpath": header("x-where"), "equals": "{{target}}@{{location}}"}])])
        report, _ = self.run_json("--target", f"stable={stable}", "--target", f"canary={canary}",
                                  "--location", "lab-7", "--fail-on", "never", path)
        got = {j["target"]: j["steps"][0]["captures"]["where"] for j in report["journeys"]}
        self.assertEqual(got, {"stable": "stable@lab-7", "canary": "canary@lab-7"})
        for j in report["journeys"]:
            self.assertTrue(j["steps"][0]["assertions"][0]["ok"], j)
        # without --location: "local"
        report, _ = self.run_json("--target", f"solo={stable}", path, exits=(0,))
        self.assertEqual(self.steps(report)["e"]["captures"]["where"], "solo@local")


class BasicAuth(AuthoringBase):
    def setUp(self):
        super().setUp()
        self.shop = start_shop(self)

    def check_hidden(self, outputs, *values):
        for name, out in outputs.items():
            for value in values:
                with self.subTest(output=name, value=value):
                    self.assertNotIn(value, out)

    def test_step_auth_arrives_and_never_shows(self):
        password = "pw-Literal-9876"
        encoded = base64.b64encode(f"ann:{password}".encode()).decode()
        path = self.journey("auth", [
            echo_step("e", {"Authorization": "Bearer replaced"},
                      auth={"basic": {"user": "{{user}}", "password": password}},
                      expect=[{"jsonpath": "$.headers.authorization",
                               "equals": f"Basic {encoded}"},
                              {"jsonpath": "$.headers.authorization", "equals": "wrong"}],
                      capture={"sent": {"jsonpath": "$.headers.authorization"}}, go_on=True),
            echo_step("no-auth", {}, expect=[{"jsonpath": "$.headers.authorization",
                                              "exists": False}])],
            variables={"user": "ann"})
        outputs = {}
        for fmt in ("text", "json", "junit"):
            r = run("run", "--target", f"stable={self.shop}", "--format", fmt, path)
            self.assertEqual(r.returncode, 1, r.stderr + r.stdout)
            outputs[fmt] = r.stdout + r.stderr
        report = json.loads(outputs["json"])
        steps = self.steps(report)
        # it arrived as RFC 7617 says, replacing the journey's own Authorization header
        self.assertEqual(self.assertion_oks(steps["e"]), [True, False])
        self.assertEqual(steps["e"]["captures"]["sent"], "Basic ***")
        self.assertEqual(steps["e"]["assertions"][1]["actual"], "Basic ***")
        self.assertTrue(steps["no-auth"]["ok"], steps["no-auth"])
        self.check_hidden(outputs, password, encoded)

    def test_probe_target_auth(self):
        password = "tgt-Secret-555"
        encoded = base64.b64encode(f"probe:{password}".encode()).decode()
        path = self.journey("tauth", [
            echo_step("target", {}, expect=[{"jsonpath": "$.headers.authorization",
                                             "equals": f"Basic {encoded}"}]),
            echo_step("step", {}, auth={"basic": {"user": "own", "password": "x"}},
                      expect=[{"jsonpath": "$.headers.authorization",
                               "equals": "Basic b3duOng="}])])
        probe = self.write("probe.json", {
            "location": "lab-1", "journeys": ["tauth.json"],
            "targets": [{"name": "stable", "base_url": self.shop,
                         "auth": {"basic": {"user": "probe", "password": "{{env.TP_PW}}"}}}]})
        r = run("validate", probe)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("run", "--probe", probe, "--format", "json", env={"TP_PW": password})
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        steps = self.steps(json.loads(r.stdout))
        self.assertEqual(self.assertion_oks(steps["target"]), [True])
        self.assertEqual(self.assertion_oks(steps["step"]), [True])
        self.check_hidden({"json": r.stdout, "stderr": r.stderr}, password, encoded)

    def test_auth_problems(self):
        path = self.journey("bad", [{"name": "a", "request": {
            "url": "/echo", "auth": {"basic": {"username": "u", "password": "{{pw}}"}}}}])
        r = run("validate", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn('steps[0].request.auth.basic: unknown key "username" in basic auth '
                      '(did you mean "user"?)', r.stderr)
        self.assertIn('steps[0].request.auth.basic: missing required key "user" in basic auth',
                      r.stderr)


class MatchesWithTemplates(AuthoringBase):
    def test_values_match_as_literal_text(self):
        shop = start_shop(self)
        path = self.journey("m", [
            echo_step("same", {"X-Sku": "{{sku}}"},
                      expect=[{"jsonpath": header("x-sku"), "matches": "^{{sku}}$"},
                              {"jsonpath": header("x-sku"), "matches": "^{{sku}}|never$"}]),
            echo_step("lookalike", {"X-Sku": "aXb(c)*+"},
                      expect=[{"jsonpath": header("x-sku"), "matches": "^{{sku}}$"}], go_on=True),
            echo_step("default", {"X-N": "12345"},
                      expect=[{"jsonpath": header("x-n"), "matches": "^{{digits|[0-9]+}}$"}])])
        report, _ = self.run_json("--target", f"stable={shop}", "--variable", "sku=a.b(c)*+",
                                  path, exits=(1,))
        steps = self.steps(report)
        self.assertEqual(self.assertion_oks(steps["same"]), [True, True])
        self.assertEqual(steps["same"]["assertions"][0]["expected"], r"^a\.b\(c\)\*\+$")
        # '.' and '*' of the value are no wildcards
        self.assertEqual(self.assertion_oks(steps["lookalike"]), [False])
        self.assertEqual(self.assertion_oks(steps["default"]), [True])

    def test_pattern_that_cannot_compile_is_a_load_error(self):
        path = self.journey("m", [echo_step(
            "e", {}, expect=[{"body": {"matches": "({{sku}}"}}])], variables={"sku": "x"})
        r = run("validate", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn('steps[0].expect[0].body.matches: regex does not compile', r.stderr)
        self.assertIn('(with every placeholder as "x")', r.stderr)


def skippable_capture_journey():
    return {"name": "w", "compare": {"noise": "learn"}, "steps": [
        {"name": "page", "request": {"url": "/echo"}},
        {"name": "cart", "request": {"method": "POST", "url": "/echo", "json": {"a": 1}},
         "capture": {"cart_id": {"jsonpath": "$.json.a"}}},
        {"name": "logout", "always": True,
         "request": {"method": "POST", "url": "/echo/{{cart_id}}"}}]}


class Warnings(AuthoringBase):
    def test_validate_lists_warnings_apart_and_exits_0(self):
        path = self.write("w.json", skippable_capture_journey())
        ok = self.journey("fine", [echo_step("e", {})])
        r = run("validate", path, ok)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{path}: ok (journey \"w\", 3 steps)", r.stdout)
        lines = r.stderr.splitlines()
        self.assertEqual(len(lines), 3, r.stderr)
        self.assertTrue(lines[0].startswith(
            f'{path}: steps[2].request.url: warning: an always step uses "cart_id", captured by '
            'steps[1] ("cart"), which an earlier failure skips'), lines[0])
        self.assertTrue(lines[1].startswith(
            f'{path}: compare.noise: warning: "learn" runs the baseline twice in every round'),
            lines[1])
        self.assertIn('steps[1] ("cart") sends POST (and 1 more step)', lines[1])
        self.assertIn('consider "noise": "rounds"', lines[1])
        self.assertEqual(lines[2], "2 warnings in 1 of 2 files")
        # problems and warnings together: counted apart, the problems decide the status
        bad = self.journey("bad", [{"name": "a", "request": {"url": "/{{nope}}"}}])
        r = run("validate", "--quiet", path, bad)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.splitlines()[-1], "1 problem in 1 of 2 files, 2 warnings")

    def test_run_prints_them_once_before_the_first_request(self):
        shop, canary = start_shop(self), start_shop(self, variant="canary")
        path = self.write("w.json", skippable_capture_journey())
        r = run("run", "--target", f"stable={shop}", "--target", f"canary={canary}",
                "--rounds", "2", "--fail-on", "never", path)
        self.assertIn(r.returncode, (0, 1), r.stderr)
        self.assertEqual(r.stderr.count(".json: "), 2, r.stderr)  # the journey's two
        self.assertEqual(r.stderr.count("an always step uses"), 1)

    def test_the_default_silences_it(self):
        doc = skippable_capture_journey()
        doc["steps"][2]["request"]["url"] = "/echo/{{cart_id|none}}"
        del doc["compare"]
        r = run("validate", self.write("w.json", doc))
        self.assertEqual((r.returncode, r.stderr), (0, ""))


class DidYouMean(AuthoringBase):
    def test_messages(self):
        path = self.journey("typos", [
            {"name": "page", "request": {"url": "/login"},
             "capture": {"csrf": {"header": "X-Csrf"}}},
            {"name": "post", "request": {"url": "/login", "method": "POST", "data": "x",
                                         "headers": {"X-Csrf": "{{csfr}}"}},
             "expect": [{"jsonpath": "$.headers.X-Who", "exists": True}]},
            {"name": "where", "request": {"url": "/{{taget}}", "params": {"q": "1"}}}])
        r = run("validate", path)
        self.assertEqual(r.returncode, 2)
        for message in [
            'steps[1].request: unknown key "data" in request (did you mean "body" or "json"?)',
            'steps[1].request.headers.X-Csrf: template uses "csfr", which no variable defines '
            'and no earlier step captures (did you mean "csrf"?)',
            "steps[1].expect[0].jsonpath: JSONPath does not compile at character 12: expected "
            "the end of the query, found '-' (a member name with '-' needs brackets: "
            "$.headers['X-Who'])",
            'steps[2].request.url: template uses "taget", which no variable defines and no '
            'earlier step captures (did you mean "target"?)',
            'steps[2].request: unknown key "params" in request (did you mean "query"?)',
        ]:
            with self.subTest(message=message):
                self.assertIn(f"{path}: {message}\n", r.stderr)

    def test_validate_takes_the_names_run_will_be_given(self):
        path = self.journey("cli", [{"name": "a", "request": {"url": "/{{host}}/{{token}}"}}])
        r = run("validate", path)
        self.assertEqual(r.returncode, 2)
        self.assertIn('template uses "host"', r.stderr)
        vfile = self.write("v.env", "host=x\n")
        r = run("validate", "--variables-file", vfile, "--secret", "token=whatever", path)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
