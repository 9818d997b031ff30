#!/usr/bin/env python3
"""Runs a command and reports what it held at its peak, as one line of key=value:

  user sys wall   CPU seconds of the child (os.wait4) and wall seconds
  maxrss_kib      the child's peak resident set (ru_maxrss)
  fds sockets     the most descriptors / sockets open at once (sampled from
                  /proc/PID/fd every --every ms: a lower bound)
  threads         the most threads at once (libcurl's resolver starts one per name lookup)
  in_flight       with --in-flight: the most transfers in flight at once, exactly,
                  from the runner's state changes (TWINPROBE_DEBUG=1 on stderr;
                  this slows the run, so time without it)

usage: watch.py [--in-flight] [--every MS] COMMAND [ARG...]

The command's standard output goes to /dev/null; its standard error is passed
through (without --in-flight). The exit status is the command's."""
import os
import sys
import threading
import time


def sample(pid, peak, stop, every):
    fd_dir = "/proc/%d/fd" % pid
    while not stop.is_set():
        try:
            names = os.listdir(fd_dir)
            socks = 0
            for n in names:
                try:
                    if os.readlink(os.path.join(fd_dir, n)).startswith("socket:"):
                        socks += 1
                except OSError:
                    pass
            with open("/proc/%d/status" % pid) as f:
                threads = next((int(l.split()[1]) for l in f if l.startswith("Threads:")), 0)
        except (OSError, StopIteration):
            names, socks, threads = [], 0, 0
        peak["fds"] = max(peak["fds"], len(names))
        peak["sockets"] = max(peak["sockets"], socks)
        peak["threads"] = max(peak["threads"], threads)
        stop.wait(every)


def count_in_flight(stream, peak):
    now = 0
    for line in stream:
        if b"-> in-flight" in line:
            now += 1
            peak["in_flight"] = max(peak["in_flight"], now)
        elif b": in-flight ->" in line:
            now -= 1


def main():
    args = sys.argv[1:]
    in_flight = False
    every = 0.005
    while args and args[0].startswith("--"):
        if args[0] == "--in-flight":
            in_flight = True
            args = args[1:]
        elif args[0] == "--every" and len(args) > 1:
            every = float(args[1]) / 1000
            args = args[2:]
        else:
            break
    if not args:
        sys.stderr.write(__doc__)
        return 2
    env = dict(os.environ)
    rfd = wfd = None
    if in_flight:
        env["TWINPROBE_DEBUG"] = "1"
        rfd, wfd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            if wfd is not None:
                os.dup2(wfd, 2)
                os.close(rfd)
            os.execvpe(args[0], args, env)
        except OSError as e:
            sys.stderr.write("watch.py: %s: %s\n" % (args[0], e.strerror))
        os._exit(127)
    peak = {"fds": 0, "sockets": 0, "threads": 0, "in_flight": 0}
    stop = threading.Event()
    sampler = threading.Thread(target=sample, args=(pid, peak, stop, every), daemon=True)
    sampler.start()
    reader = None
    if in_flight:
        os.close(wfd)
        reader = threading.Thread(target=count_in_flight, args=(os.fdopen(rfd, "rb"), peak),
                                  daemon=True)
        reader.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - start
    stop.set()
    sampler.join()
    if reader:
        reader.join()
    fields = ["user=%.3f" % ru.ru_utime, "sys=%.3f" % ru.ru_stime, "wall=%.3f" % wall,
              "maxrss_kib=%d" % ru.ru_maxrss, "fds=%d" % peak["fds"],
              "sockets=%d" % peak["sockets"], "threads=%d" % peak["threads"]]
    if in_flight:
        fields.append("in_flight=%d" % peak["in_flight"])
    print(" ".join(fields))
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
