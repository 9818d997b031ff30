#!/usr/bin/env python3
"""Runs every test: the cmocka unit binaries, then the integration tests (Python
unittest modules in tests/integration and tests/shop that drive the real binary
against real servers). Prints one closing line `N passed, N failed`; exits 1 when
anything failed or nothing ran."""
import argparse
import os
import re
import subprocess
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_unit(build):
    """Each binary in BUILD/tests; counts from cmocka's summary lines."""
    passed = failed = 0
    bindir = os.path.join(build, "tests")
    names = sorted(n for n in os.listdir(bindir) if n.startswith("test_") and not n.endswith(".d")) \
        if os.path.isdir(bindir) else []
    for name in names:
        path = os.path.join(bindir, name)
        proc = subprocess.run([path], cwd=ROOT, capture_output=True, text=True, errors="replace")
        out = proc.stdout + proc.stderr
        ok = re.search(r"\[  PASSED  \] (\d+) test", out)
        bad = re.search(r"\[  FAILED  \] (\d+) test", out)
        p = int(ok.group(1)) if ok else 0
        f = int(bad.group(1)) if bad else 0
        if proc.returncode != 0 and f == 0:
            f = 1  # crashed, or a sanitizer stopped it: count it, show it
        passed += p
        failed += f
        print(f"unit {name}: {p} passed, {f} failed")
        if f:
            sys.stdout.write(out[-20000:])
    return passed, failed


class CountingResult(unittest.TextTestResult):
    pass


def run_integration(build):
    os.environ["TWINPROBE"] = os.path.abspath(os.path.join(build, "twinprobe"))
    os.environ["TWINPROBE_ROOT"] = ROOT
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for d in ("tests/shop", "tests/integration"):
        full = os.path.join(ROOT, d)
        if os.path.isdir(full):
            suite.addTests(loader.discover(full, pattern="test_*.py", top_level_dir=full))
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=1, resultclass=CountingResult)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    return passed, failed, skipped


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    args = ap.parse_args()
    build = os.path.join(ROOT, args.build)
    # Sanitizer builds: a report exits with its own status, never one a test expects.
    os.environ.setdefault("ASAN_OPTIONS", "exitcode=86:detect_leaks=1")
    os.environ.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1:exitcode=87")
    up, uf = run_unit(build)
    ip, if_, skipped = run_integration(build)
    passed, failed = up + ip, uf + if_
    print(f"unit: {up} passed, {uf} failed; integration: {ip} passed, {if_} failed, {skipped} skipped")
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
