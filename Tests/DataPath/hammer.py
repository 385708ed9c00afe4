#!/usr/bin/python3
"""Opens new TCP connections to ADDR:PORT at a steady rate and counts what becomes of them.

    hammer.py ADDR PORT INTERVAL STOPFILE

Every INTERVAL seconds, a new connection: connect, send an HTTP/1.0 request, read the answer to
its end. Until STOPFILE exists. STOPFILE.ready appears once the first connection got its answer
(starting Python in the emulated guest takes seconds: wait for it before changing anything).
Prints one line:
    ok N refused N reset N timeout N other N slow N max_ms N
(refused: RST to the SYN; reset: RST later; timeout: no answer within 3 s; slow: answered, but
only after a second or more, what a dropped SYN costs: the client sends it again after 1 s).
"""
import errno
import os
import socket
import sys
import time

addr, port, interval, stop = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
counts = {"ok": 0, "refused": 0, "reset": 0, "timeout": 0, "other": 0, "slow": 0, "max_ms": 0}
next_at = time.monotonic()
while not os.path.exists(stop):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    started = time.monotonic()
    try:
        s.connect((addr, port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        counts["ok" if data.startswith(b"HTTP/") else "other"] += 1
        if counts["ok"] == 1:
            open(stop + ".ready", "w").close()
        took = time.monotonic() - started
        counts["max_ms"] = max(counts["max_ms"], int(took * 1000))
        if took >= 1.0:
            counts["slow"] += 1
    except ConnectionRefusedError:
        counts["refused"] += 1
    except ConnectionResetError:
        counts["reset"] += 1
    except socket.timeout:
        counts["timeout"] += 1
    except OSError as e:
        counts["refused" if e.errno == errno.ECONNREFUSED else "other"] += 1
    finally:
        s.close()
    next_at += interval
    time.sleep(max(0.0, next_at - time.monotonic()))
print(" ".join("%s %d" % (k, v) for k, v in counts.items()), flush=True)
