#!/usr/bin/env python3
"""Cost of a cursor commit through a mounted shlogfs (docs/PERFORMANCE.md,
"Cursor commits"): read one message from MNT/TOPIC/0/cursors/NAME, time the
fsync() that commits it, N times; print p50, p99, p99.9 and the mean.

    cursor_commit.py MNT [N]      (MNT: a mounted shlogfs; makes topic
                                   bench-cursor with N+1 messages)
A run by hand, not a test: it measures, it asserts nothing.
"""
import os
import sys
import time

mnt = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
topic = os.path.join(mnt, "bench-cursor")
if not os.path.isdir(topic):
    os.mkdir(topic)
with open(os.path.join(topic, "0", "log"), "a") as f:
    for i in range(n + 1):
        f.write("message %06d\n" % i)
cur = os.path.join(topic, "0", "cursors", "c")
os.close(os.open(cur, os.O_WRONLY | os.O_CREAT))
fd = os.open(cur, os.O_RDONLY)
msg = len("message 000000\n")
times = []
for i in range(n):
    if len(os.read(fd, msg)) != msg:
        sys.exit("short read at %d" % i)
    t0 = time.perf_counter_ns()
    os.fsync(fd)
    times.append(time.perf_counter_ns() - t0)
os.close(fd)
times.sort()


def pct(p):
    return times[min(len(times) - 1, int(len(times) * p))] / 1000.0


print("commits %d: p50 %.0f us, p99 %.0f us, p99.9 %.0f us, mean %.0f us"
      % (n, pct(0.5), pct(0.99), pct(0.999), sum(times) / len(times) / 1000.0))
