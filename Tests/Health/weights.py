#!/usr/bin/python3
"""Samples the weights of every real server in this network namespace's IPVS table.

    weights.py LOG STOPFILE [INTERVAL]

Reads /proc/net/ip_vs (the kernel's table, what `ipvsadm -Ln` lists, without starting a
process per sample) every INTERVAL seconds (default 0.1) until STOPFILE exists, and appends a
line to LOG for each change:
    TIME ADDR:PORT WEIGHT     (WEIGHT "-": the real server is in no service)
TIME is the wall-clock time of the sample (time.time()). The first sample logs every real
server. STOPFILE.ready appears after it. A real server in several services is logged once,
with its highest weight.
"""
import os
import sys
import time

log_path, stop = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.1
log = open(log_path, "a", buffering=1)


def text(hexaddr):
    a, p = hexaddr.split(":")
    if len(a) == 8:
        return "%d.%d.%d.%d:%d" % (int(a[0:2], 16), int(a[2:4], 16), int(a[4:6], 16), int(a[6:8], 16), int(p, 16))
    groups = ":".join(a[i:i + 4] for i in range(0, 32, 4))
    return "[%s]:%d" % (groups, int(p, 16))


def sample():
    weights = {}
    with open("/proc/net/ip_vs") as f:
        for line in f:
            if line.startswith("  ->") and not line.startswith("  -> RemoteAddress"):
                fields = line.split()
                key, w = text(fields[1]), int(fields[3])
                weights[key] = max(w, weights.get(key, w))
    return weights


last = {}
first = True
next_at = time.monotonic()
while not os.path.exists(stop):
    now = time.time()
    cur = sample()
    out = []
    for key, w in cur.items():
        if last.get(key) != w:
            out.append("%.3f %s %d\n" % (now, key, w))
    for key in last:
        if key not in cur:
            out.append("%.3f %s -\n" % (now, key))
    if out:
        log.write("".join(out))
    last = cur
    if first:
        first = False
        open(stop + ".ready", "w").close()
    next_at += interval
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.monotonic()
log.close()
