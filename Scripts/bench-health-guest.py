#!/usr/bin/python3
"""The health checker at scale, inside the VM (Scripts/bench-health boots it and runs this).

    bench-health-guest.py --out DIR --ipvsadm BIN --health BIN [--servers N] [--seconds S]
                          [--kills K] [--warmup W] [--checkers ours,keepalived]

A namespace "hbfarm" holds N TCP listeners (10.77.0.2, ports 20000...), each accepting and
closing at once; a namespace "hbdir", the director, holds the table: N/100 NAT services
(10.78.0.X:80, wrr) of up to 100 real servers each. Checkers: ours (its default TCP check,
a SYN), ours-connect (the same with mode=connect), keepalived. Each in turn, alone, checks every
real server every second (interval 1 s, timeout 1 s, three failures to go down, one success to
come back; keepalived: delay_loop 1, connect_timeout 1, retry 2, delay_before_retry 1):
  - after W seconds of warm-up, its CPU time (utime + stime of the daemon, and for keepalived of
    its parent and checker processes) over S seconds, per second; the SYNs the farm received
    meanwhile, per second (a check is one SYN, connected or not: every checker must be checking
    every server every second), and the connections it accepted;
  - its peak RSS (VmHWM; keepalived: the checker process, and parent + checker);
  - detection: K listeners closed one every 0.5 s (their times recorded by the farm), the table
    sampled every 0.1 s (/proc/net/ip_vs); each server's detection time is from its close to the
    first sample with weight 0 (ours) or without it (keepalived removes a failed server);
    then the listeners reopen and every server must be back before the next checker runs.
Writes DIR/health-bench.json and prints a report. Exit status 0 when every phase ran.
"""
import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

FARM = r'''
import ctypes, selectors, socket, struct, sys, time
n, base = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
socks = {}
accepted = 0
syns = 0
# The SYNs (SYN without ACK) that reach this namespace, counted on a packet socket whose kernel
# filter drops everything else: ldb [9]; jeq #6 else drop; ldxb 4*([0]&0xf); ldb [x+13];
# and #0x12; jeq #2 else drop; ret #64; ret #0. The socket is never read and its receive
# buffer is the smallest there is: once a packet or two fill it, the kernel counts each SYN
# that passes the filter as dropped (PACKET_STATISTICS: received = queued + dropped) and
# copies, queues and wakes nothing. The counting runs in the sender's system call when veth
# delivers inline, so it must cost next to nothing: reading every SYN (a copy, a queue and a
# wake-up of this process per SYN) cost the checker about 0.02 CPU-s/s at 1000 SYNs a second.
counter = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
program = [(0x30, 0, 0, 9), (0x15, 0, 5, 6), (0xb1, 0, 0, 0), (0x50, 0, 0, 13), (0x54, 0, 0, 0x12),
           (0x15, 0, 1, 0x02), (0x06, 0, 0, 64), (0x06, 0, 0, 0)]
code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in program))
counter.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)
counter.setsockopt(socket.SOL_SOCKET, 26, struct.pack("HL", len(program), ctypes.addressof(code)))
def count_syns():
    global syns
    received, _ = struct.unpack("II", counter.getsockopt(263, 6, 8))     # SOL_PACKET, PACKET_STATISTICS (resets)
    syns += received
count_syns()
syns = 0
def listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("10.77.0.2", port)); s.listen(64); s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, port); socks[port] = s
for p in range(base, base + n):
    listen(p)
sel.register(sys.stdin, selectors.EVENT_READ, None)
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        if key.data is None:
            line = sys.stdin.readline()
            if not line:
                sys.exit(0)
            cmd, *args = line.split()
            if cmd == "close":
                p = int(args[0]); s = socks.pop(p); sel.unregister(s); s.close()
                print("closed %d %.3f" % (p, time.time()), flush=True)
            elif cmd == "open":
                listen(int(args[0])); print("opened", flush=True)
            elif cmd == "count":
                count_syns()
                print("count %d %d" % (accepted, syns), flush=True)
        else:
            try:
                c, _ = key.fileobj.accept(); c.close(); accepted += 1
            except OSError:
                pass
'''

HZ = os.sysconf("SC_CLK_TCK")


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def netns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *cmd]


def cpu_seconds(pids, field=None):
    """utime + stime of the processes, in seconds (field 11: utime only, 12: stime only)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12]) if field is None else int(fields[field])     # utime, stime (fields 14, 15)
        except OSError:
            pass
    return total / HZ


def minor_faults(pids):
    """Minor page faults of the processes so far (/proc/PID/stat field 10)."""
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                total += int(f.read().rsplit(")", 1)[1].split()[7])
        except OSError:
            pass
    return total


def run_seconds(pids):
    """Time on a CPU of the processes' threads, in seconds, as the scheduler measures it at each
    switch (/proc/PID/task/TID/schedstat, nanoseconds; the work the kernel does inline for them
    is in it): not sampled at the tick like utime and stime, so a process woken by timers in
    step with the tick is neither over- nor under-charged."""
    total = 0
    for pid in pids:
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
        except OSError:
            pass
    return total / 1e9


def pids_where(name, test):
    """The pids whose /proc/PID/NAME text passes TEST (processes that end meanwhile are skipped)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/%s" % (d, name)) as f:
                    if test(f.read()):
                        out.append(int(d))
            except OSError:
                pass
    return out


def napi_threads(device):
    """The pids of the kernel threads that receive for DEVICE under threaded NAPI (napi/DEVICE-ID)."""
    return pids_where("comm", lambda text: text.strip().startswith("napi/%s-" % device))


def hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid):
    return pids_where("stat", lambda text: int(text.rsplit(")", 1)[1].split()[1]) == pid)


def table_weights():
    """{ "10.77.0.2:PORT": weight } of the director's table, read in its namespace."""
    out = subprocess.run(netns("hbdir", "cat", "/proc/net/ip_vs"), capture_output=True, text=True).stdout
    w = {}
    for line in out.splitlines():
        if line.startswith("  ->") and "RemoteAddress" not in line:
            f = line.split()
            port = int(f[1].split(":")[1], 16)
            w[port] = int(f[3])
    return w


class Farm:
    def __init__(self, n, base):
        self.p = subprocess.Popen(netns("hbfarm", sys.executable, "-c", FARM, str(n), str(base)),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def ask(self, line):
        self.p.stdin.write(line + "\n"); self.p.stdin.flush()
        return self.p.stdout.readline().split()

    def count(self):
        """(connections accepted, SYNs received) so far."""
        words = self.ask("count")
        return int(words[1]), int(words[2])


def wait_for(pred, timeout, step=0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def profile(out, name, seconds, pids):
    """perf record -a -g for SECONDS, then text reports of it in OUT (see --perf)."""
    data = "/tmp/bench-health-perf.data"
    subprocess.run(["perf", "record", "-a", "-g", "-e", "cpu-clock", "-F", "1000", "-o", data, "--", "sleep", str(seconds)],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    comms = ",".join(sorted({open("/proc/%d/comm" % q).read().strip() for q in pids if os.path.exists("/proc/%d/comm" % q)}))
    # The checker's reports in percent of its own samples.
    mine = ["--comm", comms, "--percentage", "relative", "--sort", "sym"]
    reports = (("self", ["--no-children", "--percent-limit", "0.5", "-g", "none"] + mine),
               ("children", ["--children", "--percent-limit", "1", "-g", "none"] + mine),
               # Who calls each symbol of 2 % or more.
               ("callers", ["--no-children", "--percent-limit", "2", "-g", "caller,1,callee,function,percent"] + mine),
               ("comm", ["--no-children", "--sort", "comm", "-g", "none"]))
    for kind, args in reports:
        with open(os.path.join(out, "perf-%s-%s.txt" % (name, kind)), "w") as f:
            subprocess.run(["perf", "report", "-i", data, "--stdio"] + args, stdout=f, stderr=subprocess.STDOUT)


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    i = int(k)
    return xs[i] if i + 1 >= len(xs) else xs[i] + (xs[i + 1] - xs[i]) * (k - i)


def log(msg):
    print("bench-health: " + msg, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--ipvsadm", required=True)
    ap.add_argument("--health", required=True)
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--checkers", default="ours,ours-connect,keepalived")
    # ours-base: another build of ipvsadm-health with ours' rules (a change measured against its
    # parent in the same boot).
    ap.add_argument("--health-base")
    # Where the time goes: `perf record -a -g` (cpu-clock) over the first SECONDS of each
    # checker's measurement; reports in DIR/perf-<checker>-<napi>-*.txt (the checker's own
    # samples by symbol, self and with children, the callers of its top symbols, and every
    # process's share).
    ap.add_argument("--perf", type=float, default=0)
    # inline: veth hands a packet to the peer's stack in the sender's system call, so a
    # checker is also charged with the farm's TCP work for its checks (and the farm with the
    # director's for the replies). threaded: each side's receive work runs in its own NAPI
    # kernel thread (GRO on, /sys/class/net/DEV/threaded), as a NIC's interrupt takes it off
    # the checker on a real director: a checker pays for its own system calls, and the
    # director's receive thread (napi/dir0-N, which works for the checker alone) is measured
    # apart: the two together are what the checks cost the director.
    ap.add_argument("--napi", choices=("inline", "threaded"), default="inline")
    a = ap.parse_args()
    resource.setrlimit(resource.RLIMIT_NOFILE, (65536, 65536))   # both checkers inherit it
    base, n = 20000, a.servers
    # Rules file, run directory and logs in the guest's own /tmp: the daemon refuses a rules
    # file it cannot prove root's (the results directory is the host's, shared over 9p).
    work = "/tmp/bench-health"
    shutil.rmtree(work, ignore_errors=True)     # a second run in the same boot starts afresh
    # The state file where systemd's unit has it, on a tmpfs (/run), not on the guest's
    # overlay /tmp: a write every 5 s of about 180 KiB.
    os.makedirs(work, exist_ok=True)
    run = "/run/bench-health"
    shutil.rmtree(run, ignore_errors=True)
    os.makedirs(run, exist_ok=True)

    sh("modprobe", "ip_vs")
    for ns in ("hbdir", "hbfarm"):
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # Two names, so that the two NAPI threads (napi/dir0-N, napi/farm0-N) can be told apart.
    sh("ip", "-n", "hbdir", "link", "add", "dir0", "type", "veth", "peer", "name", "farm0", "netns", "hbfarm")
    sh("ip", "-n", "hbdir", "addr", "add", "10.77.0.1/16", "dev", "dir0")
    sh("ip", "-n", "hbfarm", "addr", "add", "10.77.0.2/16", "dev", "farm0")
    sh("ip", "-n", "hbdir", "link", "set", "dir0", "up")
    sh("ip", "-n", "hbfarm", "link", "set", "farm0", "up")
    if a.napi == "threaded":
        # veth hands a packet to the peer's NAPI (its ring and kernel thread) only when the
        # peer has GRO on and the packet may be aggregated: with TSO on the sending end, a TCP
        # packet may not, and goes through the sender's backlog, inline in its system call (so
        # before 2026-12-08 "threaded" moved almost nothing: the receive threads' time read 0).
        for ns, dev in (("hbdir", "dir0"), ("hbfarm", "farm0")):
            sh(*netns(ns, "ethtool", "-K", dev, "gro", "on", "tso", "off"))
            sh(*netns(ns, "sh", "-c", "echo 1 > /sys/class/net/%s/threaded" % dev))
    # A check connects to a new port every millisecond: the director's ephemeral ports and
    # TIME_WAIT sockets must not run out during a run.
    subprocess.run(netns("hbdir", "sysctl", "-qw", "net.ipv4.ip_local_port_range=10000 65000", "net.ipv4.tcp_tw_reuse=1"))
    farm = Farm(n, base)
    ports = list(range(base, base + n))
    services = [ports[i:i + 100] for i in range(0, n, 100)]

    rules = {}
    for checker, mode in (("ours", ""), ("ours-base", ""), ("ours-connect", ",mode=connect")):
        rules[checker] = os.path.join(work, checker + ".rules")
        with open(rules[checker], "w") as f:
            for i, group in enumerate(services):
                vip = "10.78.0.%d:80" % (i + 1)
                f.write("-A -t %s -s wrr --check tcp,interval=1,timeout=1,fall=3,rise=1,retry_interval=1%s\n" % (vip, mode))
                for p in group:
                    f.write("-a -t %s -r 10.77.0.2:%d -m -w 1\n" % (vip, p))
        os.chmod(rules[checker], 0o600)
    with open(os.path.join(work, "keepalived.conf"), "w") as f:
        f.write("global_defs {\n    router_id bench\n}\n")
        for i, group in enumerate(services):
            f.write("virtual_server 10.78.0.%d 80 {\n    delay_loop 1\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n" % (i + 1))
            for p in group:
                f.write("    real_server 10.77.0.2 %d {\n        weight 1\n        TCP_CHECK {\n"
                        "            connect_timeout 1\n            retry 2\n            delay_before_retry 1\n"
                        "        }\n    }\n" % p)
            f.write("}\n")
    # The servers to kill: spread over the services (the threshold holds none of them in).
    step = max(1, n // a.kills)
    victims = [ports[(i * step + step // 2) % n] for i in range(a.kills)]

    env = dict(os.environ, IPVSADM_RUN_DIR=run)
    results = {"servers": n, "services": len(services), "seconds": a.seconds, "kills": a.kills,
               "warmup": a.warmup, "kernel": os.uname().release, "napi": a.napi, "checkers": {}}
    ok = True
    for checker in a.checkers.split(","):
        log("%s: %d servers in %d services" % (checker, n, len(services)))
        subprocess.run(netns("hbdir", a.ipvsadm, "-C"), check=True)
        for fn in os.listdir(run):
            os.unlink(os.path.join(run, fn))
        errlog = open(os.path.join(work, checker + ".log"), "w")
        if checker in rules:
            with open(rules[checker]) as f:
                subprocess.run(netns("hbdir", a.ipvsadm, "--apply"), stdin=f, env=env, check=True)
            binary = a.health_base if checker == "ours-base" else a.health
            p = subprocess.Popen(netns("hbdir", binary, "--rules", rules[checker]), env=env, stderr=errlog, stdout=errlog)
        else:
            p = subprocess.Popen(netns("hbdir", "keepalived", "--dont-fork", "--check", "--log-console",
                                       "--use-file=" + os.path.join(work, "keepalived.conf"),
                                       "--pid=" + os.path.join(run, "k.pid"),
                                       "--checkers_pid=" + os.path.join(run, "kc.pid"),
                                       "--vrrp_pid=" + os.path.join(run, "kv.pid")),
                                 stderr=errlog, stdout=errlog)
        if not wait_for(lambda: len([w for w in table_weights().values() if w == 1]) == n, 60):
            log("%s: the table never had all %d servers at weight 1" % (checker, n)); ok = False
        time.sleep(a.warmup)
        if p.poll() is not None:
            log("%s exited (status %s)" % (checker, p.returncode)); ok = False; continue
        pids = [p.pid] + children(p.pid)
        rx = napi_threads("dir0")
        u0, x0, n0, f0 = cpu_seconds(pids, 11), run_seconds(pids), cpu_seconds(rx), minor_faults(pids)
        c0, (a0, s0), t0 = cpu_seconds(pids), farm.count(), time.monotonic()
        if a.perf > 0:
            profile(a.out, "%s-%s" % (checker, a.napi), min(a.perf, a.seconds), pids)
            time.sleep(max(0, a.seconds - (time.monotonic() - t0)))
        else:
            time.sleep(a.seconds)
        pids = [p.pid] + children(p.pid)
        c1, (a1, s1), t1 = cpu_seconds(pids), farm.count(), time.monotonic()
        u1, x1, n1, f1 = cpu_seconds(pids, 11), run_seconds(pids), cpu_seconds(rx), minor_faults(pids)
        r = {"cpu_per_s": (c1 - c0) / (t1 - t0), "checks_per_s": (s1 - s0) / (t1 - t0),
             "run_per_s": (x1 - x0) / (t1 - t0), "minflt_per_s": (f1 - f0) / (t1 - t0),
             # threaded NAPI: the director's receive thread, which works for this checker alone
             # (its replies, and what the director's kernel answers to them).
             "director_rx_per_s": (n1 - n0) / (t1 - t0) if rx else None,
             "accepted_per_s": (a1 - a0) / (t1 - t0), "user_per_s": (u1 - u0) / (t1 - t0),
             "pids": pids, "hwm_kib": {str(q): hwm_kib(q) for q in pids}}
        r["hwm_total_kib"] = sum(r["hwm_kib"].values())
        # Detection.
        wlog = os.path.join(work, checker + ".weights")
        stop = os.path.join(work, checker + ".stop")
        poller = subprocess.Popen(netns("hbdir", sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                              "..", "Tests", "Health", "weights.py"), wlog, stop, "0.1"))
        wait_for(lambda: os.path.exists(stop + ".ready"), 30, 0.1)
        closed = {}
        for v in victims:
            closed[v] = float(farm.ask("close %d" % v)[2])
            time.sleep(0.5)
        wait_for(lambda: all(table_weights().get(v, 0) == 0 for v in victims), 20)
        time.sleep(0.5)
        open(stop, "w").close(); poller.wait()
        gone = {}
        with open(wlog) as f:
            for line in f:
                t, key, w = line.split()
                port = int(key.rsplit(":", 1)[1])
                if port in closed and port not in gone and float(t) >= closed[port] and (w == "-" or w == "0"):
                    gone[port] = float(t)
        det = [gone[v] - closed[v] for v in victims if v in gone]
        r["detect"] = {"n": len(det), "missed": len(victims) - len(det), "min": min(det) if det else None,
                       "median": pct(det, 0.5), "p90": pct(det, 0.9), "max": max(det) if det else None,
                       "all": [round(x, 2) for x in det]}
        if len(det) != len(victims):
            ok = False
        for v in victims:
            farm.ask("open %d" % v)
        back = wait_for(lambda: all(table_weights().get(v) == 1 for v in victims), 20)
        r["back"] = back
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill(); p.wait()
        r["exit_status"] = p.returncode
        results["checkers"][checker] = r
        d = r["detect"]
        log("%s: CPU %.3f s/s (user %.3f, scheduler %.3f, director's receive thread %s), %.1f minor faults/s, %.0f SYNs/s, %.0f connections/s accepted, peak RSS %s KiB (total %d), detection min/median/p90/max %s s (%d missed), back %s"
            % (checker, r["cpu_per_s"], r["user_per_s"], r["run_per_s"],
               "-" if r["director_rx_per_s"] is None else "%.3f" % r["director_rx_per_s"], r["minflt_per_s"], r["checks_per_s"], r["accepted_per_s"], r["hwm_kib"], r["hwm_total_kib"],
               "/".join("-" if d[k] is None else "%.2f" % d[k] for k in ("min", "median", "p90", "max")), d["missed"], back))
    farm.p.stdin.close(); farm.p.wait()
    for fn in os.listdir(work):
        if fn.endswith((".log", ".weights")):
            with open(os.path.join(work, fn), "rb") as src, open(os.path.join(a.out, fn), "wb") as dst:
                dst.write(src.read()[-200000:])     # the end of each log
    with open(os.path.join(a.out, "health-bench.json"), "w") as f:
        json.dump(results, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
