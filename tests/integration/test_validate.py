"""twinprobe validate, declaratively: each cases/validate/NAME.json is validated and
its stderr and exit status compared with NAME.expected (the exact lines, then
`exit N`). Hostile inputs too big to commit are made at run time."""
import glob
import os
import tempfile

from support import ROOT, BinaryTest, run

CASES = os.path.join(ROOT, "tests", "integration", "cases", "validate")


class ValidateCases(BinaryTest):
    def test_cases(self):
        expected_files = sorted(glob.glob(os.path.join(CASES, "*.expected")))
        self.assertGreater(len(expected_files), 5)
        for exp in expected_files:
            name = os.path.basename(exp)[:-len(".expected")]
            with self.subTest(case=name):
                with open(exp) as f:
                    want = f.read()
                r = run("validate", "--quiet", f"{name}.json", cwd=CASES)
                got = r.stderr + f"exit {r.returncode}\n"
                self.assertEqual(got, want)

    def test_examples_are_valid(self):
        files = sorted(glob.glob(os.path.join(ROOT, "journeys", "*.json")) +
                       glob.glob(os.path.join(ROOT, "probes", "*.json")))
        self.assertGreaterEqual(len(files), 6)
        r = run("validate", *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        # No problems; warnings at most (journeys that learn noise with POST steps),
        # each a warning line, then the summary that counts them.
        lines = r.stderr.splitlines()
        for line in lines[:-1]:
            self.assertIn(": warning: ", line)
        if lines:
            self.assertRegex(lines[-1], rf"^{len(lines) - 1} warnings? in \d+ of {len(files)} files$")
        for f in files:
            self.assertIn(f"{f}: ok", r.stdout)

    def test_every_file_reported(self):
        r = run("validate", "typo-predicate.json", "empty.json", "missing.json", "ok.json",
                cwd=CASES)
        self.assertEqual(r.returncode, 2)
        self.assertIn("typo-predicate.json: steps[2].expect[1]: unknown predicate", r.stderr)
        self.assertIn("empty.json: file is empty", r.stderr)
        self.assertIn("missing.json: cannot open: No such file or directory", r.stderr)
        self.assertIn("ok.json: ok", r.stdout)
        self.assertIn("3 problems in 3 of 4 files", r.stderr)


class HostileInputs(BinaryTest):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def check(self, path, fragment):
        r = run("validate", path, timeout=30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(path, r.stderr)
        self.assertIn(fragment, r.stderr)
        self.assertEqual(r.stderr.count("\n"), 2, r.stderr)  # the problem and the summary

    def test_fifty_megabytes(self):
        path = self.write("big.json", b"{\"name\": \"" + b"x" * (50 << 20) + b"\"}")
        self.check(path, "over the 4194304-byte limit")

    def test_nested_ten_thousand_levels(self):
        path = self.write("deep.json", b"[" * 10000 + b"]" * 10000)
        self.check(path, "JSON nested too deeply")

    def test_nested_objects(self):
        path = self.write("deep2.json", b"{\"a\":" * 10000 + b"1" + b"}" * 10000)
        self.check(path, "JSON nested too deeply")

    def test_random_bytes(self):
        path = self.write("random.json", bytes(range(256)) * 64)
        self.check(path, "not a JSON text")

    def test_directory(self):
        self.check(self.dir.name, "is a directory")

    def test_invalid_utf8(self):
        path = self.write("utf8.json", b"{\"name\": \"caf\xe9\", \"steps\": []}")
        self.check(path, "not a JSON text")
