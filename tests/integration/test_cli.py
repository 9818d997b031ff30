"""The command line: --help, --version, per-command help, usage errors (exit 2 with
a one-line hint), and the option tables against the man page."""
import os
import re

from support import ROOT, BinaryTest, run


class Cli(BinaryTest):
    def test_help(self):
        r = run("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: twinprobe", r.stdout)
        self.assertIn("validate", r.stdout)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^twinprobe \d+\.\d+\.\d+\n$")

    def test_no_arguments(self):
        r = run()
        self.assertEqual(r.returncode, 2)
        self.assertIn("usage:", r.stderr)

    def test_unknown_command(self):
        r = run("valdiate", "x.json")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "twinprobe: unknown command 'valdiate' (did you mean "
                                   "'validate'?)\nTry 'twinprobe --help'.\n")

    def test_unknown_option(self):
        for args in (["--bogus"], ["validate", "--bogus", "x"], ["validate", "-z", "x"]):
            with self.subTest(args=args):
                r = run(*args)
                self.assertEqual(r.returncode, 2)
                self.assertIn("unknown option", r.stderr)
                self.assertIn("Try 'twinprobe", r.stderr)
                self.assertEqual(r.stdout, "")

    def test_command_help(self):
        r = run("validate", "--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: twinprobe validate [OPTIONS] FILE...", r.stdout)

    def test_validate_needs_files(self):
        r = run("validate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("name at least one", r.stderr)

    def test_man_page_documents_every_option(self):
        with open(os.path.join(ROOT, "docs", "twinprobe.1")) as f:
            man = f.read().replace("\\-", "-")
        commands = re.findall(r"^  (\w+) ", run("--help").stdout, re.M)
        self.assertTrue(commands)
        for cmd in commands:
            self.assertRegex(man, rf"(?m)^\.SS twinprobe {cmd}\b")
            help_text = run(cmd, "--help").stdout
            for opt in re.findall(r"--([a-z][a-z-]*)", help_text):
                with self.subTest(command=cmd, option=opt):
                    self.assertTrue(f"--{opt}" in man, f"--{opt} missing from docs/twinprobe.1")
