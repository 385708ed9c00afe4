#!/usr/bin/python3
"""A client at a steady request rate, every request logged with its time and outcome.

    client.py ADDR PORT RATE LOG STOPFILE

RATE new HTTP/1.0 requests per second to ADDR:PORT, each on a new TCP connection and started on
schedule in a thread of its own (a slow or failing request never delays the next one), until
STOPFILE exists. STOPFILE.ready appears once a request got its answer. Each request appends one
line to LOG when it ends:
    START ok BODY MS        (BODY: the answer's first body line, the real server's name)
    START fail REASON MS    (REASON: refused, reset, timeout, status, other)
START is the wall-clock time (time.time(), the clock the other logs of the test use) read in
the request's thread just before its connect (not when the request was scheduled: in a starved
guest a thread can start late, and the SYN leaves then); MS how long it took. A request not answered within 2 s is a timeout.
"""
import os
import socket
import sys
import threading
import time

addr, port, rate, log_path, stop = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
log = open(log_path, "a", buffering=1)
lock = threading.Lock()
ready = False


def one():
    global ready
    start = time.time()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    outcome, detail = "fail", "other"
    try:
        s.connect((addr, port))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/") and b" 200" in head.split(b"\r\n", 1)[0]:
            outcome, detail = "ok", (body.split(b"\n", 1)[0].decode(errors="replace").strip() or "-")
        else:
            detail = "status"
    except ConnectionRefusedError:
        detail = "refused"
    except ConnectionResetError:
        detail = "reset"
    except socket.timeout:
        detail = "timeout"
    except OSError:
        detail = "other"
    finally:
        s.close()
    took = int((time.time() - start) * 1000)
    with lock:
        log.write("%.3f %s %s %d\n" % (start, outcome, detail, took))
        if outcome == "ok" and not ready:
            ready = True
            open(stop + ".ready", "w").close()


period = 1.0 / rate
next_at = time.monotonic()
while not os.path.exists(stop):
    threading.Thread(target=one, daemon=True).start()
    next_at += period
    delay = next_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    else:
        next_at = time.monotonic()    # behind schedule (a stalled guest): no burst to catch up
time.sleep(2.5)    # the last requests end (or time out)
log.close()
