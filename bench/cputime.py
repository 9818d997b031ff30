#!/usr/bin/env python3
"""Runs a command and prints the CPU time it used, how long it took and its
peak memory: "USER SYS WALL MAXRSS", times in seconds, MAXRSS in KiB.

usage: cputime.py COMMAND [ARG...]

The times are the child's own (os.wait4), so this interpreter's start-up is
not counted; they have microsecond resolution (/usr/bin/time -f "%U %S" has
10 ms). MAXRSS is wait4's ru_maxrss: the peak resident set of the command,
or of the largest of its descendants that it waited for. The command's
standard output goes to /dev/null; its standard error is passed through. The
exit status is the command's.
"""
import os
import sys
import time


def main():
    if len(sys.argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.execvp(sys.argv[1], sys.argv[1:])
        except OSError as e:
            sys.stderr.write("cputime.py: %s: %s\n" % (sys.argv[1], e.strerror))
        os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - start
    print("%.6f %.6f %.6f %d" % (ru.ru_utime, ru.ru_stime, wall, ru.ru_maxrss))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
