#!/usr/bin/python3
"""A web server that flaps: it stops and starts listening every PERIOD seconds, on cue.

    flap.py PORT NAME PERIOD COUNT GOFILE LOG

Listens on PORT (all addresses), answering every GET with NAME. Once GOFILE exists it closes
its listening socket (connections are then refused), reopens it PERIOD seconds later, and so on:
COUNT changes in all (an even COUNT ends listening), each logged to LOG as "TIME down|up"
(wall-clock time). It then serves until killed. LOG.ready appears once it listens.
A process of its own does this in a fraction of a millisecond, where stopping and starting a
web server takes seconds under emulation.
"""
import os
import selectors
import socket
import sys
import time

port, name, period, count, go, log_path = (int(sys.argv[1]), sys.argv[2], float(sys.argv[3]),
                                            int(sys.argv[4]), sys.argv[5], sys.argv[6])
sel = selectors.DefaultSelector()
log = open(log_path, "a", buffering=1)
answer = ("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\n"
          % (len(name) + 1, name)).encode()


def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(64)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
    return s


listener = listen()
open(log_path + ".ready", "w").close()
changes, next_change = 0, None
while True:
    now = time.monotonic()
    if next_change is None and changes < count and os.path.exists(go):
        next_change = now
    if next_change is not None and now >= next_change and changes < count:
        if listener is not None:
            sel.unregister(listener); listener.close(); listener = None
            log.write("%.3f down\n" % time.time())
        else:
            listener = listen()
            log.write("%.3f up\n" % time.time())
        changes += 1
        next_change += period
    timeout = 0.05 if next_change is None else max(0.0, min(0.05, next_change - time.monotonic()))
    for key, _ in sel.select(timeout):
        try:
            c, _ = key.fileobj.accept()
        except OSError:
            continue
        try:
            c.settimeout(1)
            c.recv(4096)
            c.sendall(answer)
        except OSError:
            pass
        finally:
            c.close()
