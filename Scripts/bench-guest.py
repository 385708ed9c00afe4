#!/usr/bin/python3
"""The benchmark's guest half: runs INSIDE the test VM (Scripts/bench boots it), as root.

    bench-guest.py --out DIR --ours PATH --floor-binary PATH [--oracle PATH] [--quick]
                   [--shapes LIST]

Each shape gets fresh network namespaces, set up as the differential suite's (ipvstest.Netns:
lo up, a dummy interface holding 10.0.0.0/8, 172.16.0.0/12 and the suite's other ranges). The
host is shared with other VMs whose load comes and goes, so the two binaries always take turns,
in small pieces, rather than one running after the other:

  NxM (N services TCP 10.1.x.y:80, M real servers each in 172.17.0.0+, `-m -w 1`):
    1. -R: each binary restores the rules into an empty table of its own namespace, in up
       to BENCH_R_CHUNKS pieces of whole services (each piece one `ipvsadm -R` process of at
       least BENCH_R_CHUNK_LINES lines), oracle and ours alternating piece by piece; the -R
       time is the sum of the pieces. The tables are counted by ipvsadm-floor (below); the
       first binary's table is flushed (-C, timed): the kernel's service hash table is shared
       by all namespaces, so only one big table exists while listing (the emptied namespace
       is dropped at the end of the shape);
    2. on the second binary's table: `-Ln`, `-Sn`, `-Z`, oracle and ours interleaved (the order
       alternating from round to round), and "the floor" (below) once per round; the first
       round is a warm-up, measured with /usr/bin/time for the peak RSS and kept for the
       output check (oracle vs ours byte for byte; the oracle's -Sn against the rules file);
       its time only counts when the shape has no other round; then the second binary -Cs;
  startup: the empty table: `-Ln`, `-v`, and /bin/true as the cost of starting any process;
  doctor:  (only when named in BENCH_SHAPES) `--doctor` against `-Ln` of the same correct
           2000-service NAT table, ours only (shape_doctor; BENCH_DOCTOR_SERVICES,
           BENCH_DOCTOR_REPEAT);
  connsN:  the connection listing with N connections in the table (connection_shape below;
           not in the default shapes: BENCH_SHAPES=conns50000,conns200000);
  adds:    BENCH_ADDS separate `ipvsadm -a` processes into 50 services, run by `/bin/sh -e`
           scripts, in BENCH_ADDS_CHUNKS scripts per binary, oracle and ours alternating
           (each in its own namespace); the time is the sum of the scripts.

The floor: the requests `-Ln` makes (resolve the family, GET_INFO, dump the services, one
GET_DEST dump per service), issued back to back by our own code in a process of its own:
--floor-binary, ipvsadm-floor (Sources/ipvsadm-floor: our netlink layer, no decoding of real
servers, no output but its counts, "<services> services, <messages> messages"). The same
program counts the tables for the checks (not /proc/net/ip_vs: on this kernel its iterator
strays into other namespaces' services when several namespaces have tables).

Children are started with posix_spawn and reaped with wait4 (ipvstest.spawn_timed: wall time
from spawn to reap, user/sys CPU from its rusage). Peak RSS cannot come from that rusage: a
child made by vfork (or fork) from this Python process inherits Python's RSS high-water mark
at exec, so peak RSS is measured by GNU time (/usr/bin/time -f %M), whose fork starts from a
small process.
Without /usr/bin/time, the wait4 figure is kept and flagged (meta.rss_method).

Results go to DIR/results.json, rewritten after every shape (a timeout keeps what was done).
Environment: BENCH_REPEAT (timed rounds of -Ln/-Sn/-Z on tables of at most 500 services,
default 5, quick 3), BENCH_MID_REPEAT (up to BENCH_MID_SERVICES=2000 services, default 7: a round of these spreads by ±20 %),
BENCH_LARGE_REPEAT (bigger tables, default 2; with 1 the warm-up round is the measurement),
BENCH_Z_REPEAT (extra -Z runs when there is only one round, default 3), BENCH_R_CHUNKS
(at most this many -R pieces, default 8) and BENCH_R_CHUNK_LINES (of at least this many
lines, default 2500), BENCH_ADDS (processes of `adds`, default 200, quick 20), BENCH_ADDS_CHUNKS
(default 4), BENCH_FLOOR (1/0: the timed floor runs), BENCH_SETTLE (seconds of rest between
shapes, default 2), BENCH_CMD_TIMEOUT (s per command, default 1200), BENCH_DEADLINE (s from
start after which no new shape begins; 0: none).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "Tests", "lib"))
sys.path.insert(0, os.path.join(REPO, "Tests", "Features"))
import ipvstest  # noqa: E402  (Tests/lib: namespaces and timed processes, shared with the differential suite)
import tables  # noqa: E402  (Tests/Features: the rules of the shapes, shared with the feature tests)

FULL_SHAPES = ["startup", "adds", "1000x4", "2000x2", "100x100", "8000x2", "16000x1", "4000x10"]
QUICK_SHAPES = ["startup", "adds", "50x4", "100x2", "20x20"]

GNU_TIME = "/usr/bin/time"
VIP_PREFIX = "10.1"                      # services 10.1.0.1, 10.1.0.2, ... (TCP port 80; tables.bulk)
VIP_BASE = (10 << 24) | (1 << 16)        # the same addresses, for the `adds` shape's scripts
ADDS_RS_BASE = (172 << 24) | (24 << 16)  # real servers of the `adds` shape: 172.24.0.1 ...
ADDS_SERVICES = 50


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


ip4 = tables.ip4


def log(msg):
    print(msg, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


# ---------------------------------------------------------------------------------------------
# Timed children

def spawn(argv, stdin_path="/dev/null", stdout_path="/dev/null", stderr_path="/dev/null",
          measure_rss=False):
    """Runs argv (ipvstest.spawn_timed). Returns wall/user/sys in ms, the exit status (negative:
    killed by that signal) and, with measure_rss, the peak RSS in KiB (via GNU time)."""
    rss_file = None
    if measure_rss and HAVE_GNU_TIME:
        rss_file = stderr_path + ".rss"
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, "--"] + list(argv)
    result = ipvstest.spawn_timed(argv, stdin_path, stdout_path, stderr_path, timeout=CMD_TIMEOUT)
    wait4_rss = result.pop("rusage_maxrss_kb")
    if measure_rss:
        result["wrapped"] = rss_file is not None
        if rss_file:
            try:
                with open(rss_file) as f:
                    result["maxrss_kb"] = int(f.read().split()[-1])
            except (OSError, ValueError, IndexError):
                result["maxrss_kb"] = None
        else:
            result["maxrss_kb"] = wait4_rss   # includes this Python's RSS: see the docstring
    return result


def file_sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_text(path, limit=2000):
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def count_lines(path):
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


# ---------------------------------------------------------------------------------------------
# Shapes

def parse_shape(name):
    if name in ("startup", "adds", "doctor"):
        return name, 0, 0
    if re.fullmatch(r"conns\d+", name):
        return "conns", int(name[5:]), 0
    try:
        n, m = name.lower().split("x")
        n, m = int(n), int(m)
        if n < 1 or m < 0 or n > 65000 or n * m > 1000000:
            raise ValueError
        return "table", n, m
    except ValueError:
        raise SystemExit("bench-guest: bad shape %r (want NxM, startup or adds)" % name)


def rules_of(services, dests_per_service, first=0):
    """The -R text of services first..services-1, each followed by its real servers."""
    return tables.bulk(services - first, dests_per_service, first=first, prefix=VIP_PREFIX, scheduler="rr")


def write_rules(path, services, dests_per_service):
    text = rules_of(services, dests_per_service)
    with open(path, "w") as f:
        f.write(text)
    return text.count("\n")


def write_rule_chunks(prefix, services, dests_per_service, chunks):
    """The same rules in `chunks` files of whole services; [(path, lines)]."""
    out = []
    for c in range(chunks):
        lo, hi = services * c // chunks, services * (c + 1) // chunks
        text = rules_of(hi, dests_per_service, lo)
        path = "%s.%d" % (prefix, c)
        with open(path, "w") as f:
            f.write(text)
        out.append((path, text.count("\n")))
    return out


class Bench:
    def __init__(self, args):
        self.args = args
        self.tmp = "/tmp/bench"
        os.makedirs(self.tmp, exist_ok=True)
        # Both binaries run from the same file system (the guest's /tmp), as `ipvsadm`.
        self.binaries = []
        for name, source in (("oracle", args.oracle), ("ours", args.ours)):
            os.makedirs(os.path.join(self.tmp, name), exist_ok=True)
            path = os.path.join(self.tmp, name, "ipvsadm")
            shutil.copyfile(source, path)
            os.chmod(path, 0o755)
            self.binaries.append((name, path))
        self.floor_binary = os.path.join(self.tmp, "ipvsadm-floor")
        shutil.copyfile(args.floor_binary, self.floor_binary)
        os.chmod(self.floor_binary, 0o755)
        self.original_ns = ipvstest.current_netns()
        self.runs = []
        self.floors = []
        self.checks = []
        self.skipped = []
        self.doctor = {}
        self.started = time.time()
        self.meta = {
            "kernel": os.uname().release,
            "guest_cpus": os.cpu_count(),
            "guest_loadavg_start": loadavg(),
            "python": sys.version.split()[0],
            "quick": args.quick,
            "shapes": args.shapes,
            "oracle": {"path": args.oracle, "sha256": file_sha(args.oracle), "bytes": os.path.getsize(args.oracle)},
            "ours": {"path": args.ours, "sha256": file_sha(args.ours), "bytes": os.path.getsize(args.ours)},
            "floor": {"path": args.floor_binary, "sha256": file_sha(args.floor_binary),
                      "bytes": os.path.getsize(args.floor_binary)},
            "rss_method": "GNU time %M" if HAVE_GNU_TIME else "wait4 ru_maxrss (includes the spawning Python's RSS)",
            "repeat": REPEAT, "mid_repeat": MID_REPEAT, "mid_services": MID_SERVICES,
            "large_repeat": LARGE_REPEAT, "z_repeat": Z_REPEAT,
            "adds": ADDS, "adds_chunks": ADDS_CHUNKS, "r_chunks": R_CHUNKS, "r_chunk_lines": R_CHUNK_LINES,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def order(self, k):
        """The two binaries, the oracle first when k is even."""
        return self.binaries if k % 2 == 0 else list(reversed(self.binaries))

    def save(self):
        self.meta["guest_loadavg_end"] = loadavg()
        self.meta["guest_elapsed_s"] = round(time.time() - self.started, 1)
        doc = {"meta": self.meta, "runs": self.runs, "floors": self.floors,
               "checks": self.checks, "skipped": self.skipped}
        if self.doctor:
            doc["doctor"] = self.doctor
        path = os.path.join(self.args.out, "results.json")
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(path + ".tmp", path)

    def run(self, shape, binary, command, argv, rnd, stdin_path="/dev/null", stdout_path=None,
            rss=False, timed=True, extra=None):
        out = stdout_path or os.path.join(self.tmp, "out")
        err = os.path.join(self.tmp, "err")
        r = spawn(argv, stdin_path, out, err, measure_rss=rss)
        r.update({"shape": shape, "binary": binary, "command": command, "round": rnd, "timed": timed})
        if extra:
            r.update(extra)
        if r["status"] != 0:
            r["stderr"] = read_text(err, 500)
            log("  !! %s %s %s: exit %s: %s" % (shape, binary, command, r["status"], r["stderr"].strip()[:200]))
        self.runs.append(r)
        return r

    def floor(self):
        """One run of ipvsadm-floor in the current namespace: its times and status, and the
        table it saw ("services", "dests"; None when it failed or printed something else)."""
        out = os.path.join(self.tmp, "floor.out")
        err = os.path.join(self.tmp, "floor.err")
        r = spawn([self.floor_binary], stdout_path=out, stderr_path=err)
        m = re.fullmatch(r"(\d+) services, (\d+) messages\n", read_text(out))
        if r["status"] == 0 and m:
            # Its messages are the services dump's and the real servers' (one message each).
            r["services"], r["dests"] = int(m.group(1)), int(m.group(2)) - int(m.group(1))
        else:
            r["services"] = r["dests"] = None
            r["stderr"] = (read_text(out, 500) + read_text(err, 500)).strip()
            log("  !! ipvsadm-floor: exit %s: %s" % (r["status"], r["stderr"][:200]))
        return r

    def table_size(self):
        """(services, real servers) of the current namespace, as ipvsadm-floor counts them."""
        r = self.floor()
        return r["services"], r["dests"]

    def check(self, shape, what, ok, **details):
        c = {"shape": shape, "command": what, "ok": bool(ok)}
        c.update(details)
        self.checks.append(c)
        log("  check   %-26s %s" % (what, "ok" if ok else "MISMATCH " + json.dumps(details)[:300]))

    # --- shapes ---

    def shape_startup(self):
        shape = "startup"
        rounds = max(REPEAT, 5) + 1
        for rnd in range(rounds):
            warm = rnd == 0
            for name, path in self.order(rnd):
                self.run(shape, name, "-Ln", [path, "-Ln"], rnd, rss=warm, timed=not warm)
                self.run(shape, name, "-v", [path, "-v"], rnd, rss=warm, timed=not warm)
            self.run(shape, "baseline", "/bin/true", ["/bin/true"], rnd, rss=warm, timed=not warm)
        self.report_pairs(shape, ["-Ln", "-v"])
        base = [r["wall_ms"] for r in self.runs if r["shape"] == shape and r["binary"] == "baseline" and r["timed"]]
        log("  startup /bin/true %9.1f ms (median of %d): the cost of starting any process here"
            % (statistics.median(base), len(base)))

    def two_namespaces(self, first):
        """{binary: Netns}: the namespace main() made for this shape goes to `first`, a new one
        to the other binary. The caller leaves and closes them."""
        spaces = {first: self.shape_ns}
        other = [name for name, _ in self.binaries if name != first][0]
        spaces[other] = ipvstest.Netns(self.original_ns)
        return spaces

    def shape_adds(self):
        shape = "adds"
        command = "%d x -a" % ADDS
        services_rules = os.path.join(self.tmp, "adds-services.rules")
        write_rules(services_rules, ADDS_SERVICES, 0)
        chunks = max(1, min(ADDS_CHUNKS, ADDS))
        spaces = self.two_namespaces("oracle")
        try:
            for name, path in self.binaries:
                spaces[name].enter()
                self.run(shape, name, "setup -R", [path, "-R"], 0, stdin_path=services_rules, timed=False)
            # The processes in `chunks` scripts, the binaries taking turns, so that the host's
            # changing load falls on both alike.
            for c in range(chunks):
                lo, hi = ADDS * c // chunks, ADDS * (c + 1) // chunks
                for name, path in self.order(c):
                    spaces[name].enter()
                    script = os.path.join(self.tmp, "adds-%s-%d.sh" % (name, c))
                    with open(script, "w") as f:
                        for i in range(lo, hi):
                            vip = ip4(VIP_BASE + i % ADDS_SERVICES + 1)
                            rs = ip4(ADDS_RS_BASE + i + 1)
                            f.write("%s -a -t %s:80 -r %s:80 -m -w 1\n" % (path, vip, rs))
                    self.run(shape, name, command, ["/bin/sh", "-e", script], c, rss=True,
                             extra={"processes": hi - lo, "chunk": c, "chunks": chunks})
            for name, _ in self.binaries:
                spaces[name].enter()
                size = self.table_size()
                failed = [r for r in self.runs if r["shape"] == shape and r["binary"] == name and r["status"] != 0]
                self.check(shape, "%s %s table" % (name, command), not failed and size == (ADDS_SERVICES, ADDS),
                           table=size, want=(ADDS_SERVICES, ADDS))
        finally:
            self.shape_ns.enter()
            spaces[[n for n in spaces if spaces[n] is not self.shape_ns][0]].close()
        self.report_pairs(shape, [command])

    # --- doctor (its own shape: BENCH_SHAPES=doctor; not in the default list) ---

    def shape_doctor(self):
        """`ipvsadm --doctor` against one `ipvsadm -Ln` of the same table, ours only, same
        boot and namespace: BENCH_DOCTOR_SERVICES (2000) NAT services of 2 real servers each
        (tables.bulk), made a correct set-up (every VIP an address of dummy0, ip_forward on),
        so the doctor runs every check and prints no finding. Rounds alternate the order; the
        first is a warm-up. The ratio is per round (doctor / -Ln), reported as the median with
        its spread. Kept apart from the oracle comparisons (results.json "doctor")."""
        shape = "doctor"
        services = env_int("BENCH_DOCTOR_SERVICES", 2000)
        rounds = env_int("BENCH_DOCTOR_REPEAT", 9)
        ours = dict(self.binaries)["ours"]
        rules = os.path.join(self.tmp, "doctor.rules")
        write_rules(rules, services, 2)
        batch = os.path.join(self.tmp, "doctor.ip")
        with open(batch, "w") as f:
            for i in range(services):
                f.write("addr add %s/32 dev dummy0\n" % ip4(VIP_BASE + i + 1))
        setup = spawn([shutil.which("ip", path="/usr/sbin:/sbin:/usr/bin:/bin") or "/sbin/ip", "-batch", batch])
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1\n")
        self.run(shape, "ours", "setup -R", [ours, "-R"], 0, stdin_path=rules, timed=False)
        size = self.table_size()
        self.check(shape, "doctor table", setup["status"] == 0 and size == (services, 2 * services), table=size)
        times = {"-Ln": [], "--doctor": []}
        cpu = {"-Ln": [], "--doctor": []}
        ratios = []
        cpu_ratios = []
        statuses = []
        out = os.path.join(self.tmp, "doctor.out")
        for rnd in range(rounds + 1):
            commands = [("-Ln", [ours, "-Ln"]), ("--doctor", [ours, "--doctor"])]
            if rnd % 2:
                commands.reverse()
            got = {}
            used = {}
            for command, argv in commands:
                r = spawn(argv, stdout_path=out)
                got[command] = r["wall_ms"]
                used[command] = r["user_ms"] + r["sys_ms"]
                if command == "--doctor":
                    statuses.append(r["status"])
                    if r["status"] != 0:
                        log("  !! --doctor exit %s: %s" % (r["status"], read_text(out, 400).strip()))
                elif r["status"] != 0:
                    log("  !! -Ln exit %s" % r["status"])
            if rnd == 0:
                continue
            for command in times:
                times[command].append(got[command])
                cpu[command].append(used[command])
            ratios.append(got["--doctor"] / got["-Ln"])
            if used["-Ln"] > 0:
                cpu_ratios.append(used["--doctor"] / used["-Ln"])
        self.check(shape, "--doctor clean (exit 0)", all(status == 0 for status in statuses), statuses=statuses)
        self.run(shape, "ours", "-C", [ours, "-C"], 0, timed=False)
        median = statistics.median(ratios)
        self.doctor = {
            "services": services, "real_servers": 2 * services, "rounds": len(ratios),
            "ln_ms": times["-Ln"], "doctor_ms": times["--doctor"], "ratios": [round(r, 3) for r in ratios],
            "ratio_median": round(median, 3), "ratio_min": round(min(ratios), 3), "ratio_max": round(max(ratios), 3),
            "ln_median_ms": round(statistics.median(times["-Ln"]), 1),
            "doctor_median_ms": round(statistics.median(times["--doctor"]), 1),
            "ln_cpu_ms": cpu["-Ln"], "doctor_cpu_ms": cpu["--doctor"],
            "cpu_ratio_median": round(statistics.median(cpu_ratios), 3) if cpu_ratios else None,
        }
        log("  doctor  %d services: -Ln %.1f ms, --doctor %.1f ms (medians of %d); ratio %.2f (min %.2f, max %.2f)"
            % (services, self.doctor["ln_median_ms"], self.doctor["doctor_median_ms"], len(ratios), median,
               min(ratios), max(ratios)))
        if cpu_ratios:
            log("  doctor  CPU (user+sys): -Ln %.1f ms, --doctor %.1f ms (medians); ratio %.2f (min %.2f, max %.2f)"
                % (statistics.median(cpu["-Ln"]), statistics.median(cpu["--doctor"]), statistics.median(cpu_ratios),
                   min(cpu_ratios), max(cpu_ratios)))
        self.check(shape, "--doctor <= 2x -Ln", median <= 2.0, ratio=round(median, 3))

    def shape_table(self, shape, services, per_service, index):
        rules = os.path.join(self.tmp, "%s.rules" % shape)
        lines = write_rules(rules, services, per_service)
        # 1. -R of the rules into an empty table, for each binary in a namespace of its own, in
        #    `chunks` pieces of whole services, the binaries taking turns (so that the host's
        #    changing load falls on both alike); the first binary's table is then flushed (-C),
        #    the second's stays for the listings.
        first, second = self.order(index)
        spaces = self.two_namespaces(second[0])
        # Pieces of at least BENCH_R_CHUNK_LINES lines, so that the extra process starts stay
        # a small part of the time.
        chunks = max(1, min(R_CHUNKS, services, lines // max(R_CHUNK_LINES, 1)))
        pieces = write_rule_chunks(rules, services, per_service, chunks)
        try:
            for c, (piece, piece_lines) in enumerate(pieces):
                for name, path in self.order(index + c):
                    spaces[name].enter()
                    self.run(shape, name, "-R", [path, "-R"], c, stdin_path=piece, rss=True,
                             extra={"lines": piece_lines, "chunk": c, "chunks": chunks})
            for name, path in (first, second):
                spaces[name].enter()
                size = self.table_size()
                failed = [r for r in self.runs if r["shape"] == shape and r["binary"] == name
                          and r["command"] == "-R" and r["status"] != 0]
                self.check(shape, "%s -R table" % name, not failed and size == (services, services * per_service),
                           table=size, want=(services, services * per_service))
            spaces[first[0]].enter()
            self.run(shape, first[0], "-C", [first[1], "-C"], 0, rss=True)
        finally:
            self.shape_ns.enter()
        for piece, _ in pieces:
            os.unlink(piece)
        try:
            self.listings(shape, services, rules, second)
        finally:
            # Dropped only now, so that its clean-up does not run beside the listings.
            spaces[first[0]].close()

    def listings(self, shape, services, rules, owner):
        # 2. Listings on the second binary's table, interleaved; round 0 is the warm-up (RSS,
        #    outputs kept).
        if services <= MID_SERVICES:
            rounds = 1 + (REPEAT if services <= 500 else MID_REPEAT)
        else:
            rounds = max(LARGE_REPEAT, 1) + (1 if LARGE_REPEAT > 1 else 0)
        saved = {}
        for rnd in range(rounds):
            warm = rnd == 0
            for name, path in self.order(rnd):
                for cmd in ("-Ln", "-Sn", "-Z"):
                    keep = None
                    if warm and cmd != "-Z":
                        keep = os.path.join(self.tmp, "%s-%s%s.out" % (shape, name, cmd))
                        saved[(name, cmd)] = keep
                    self.run(shape, name, cmd, [path, cmd], rnd, stdout_path=keep, rss=warm,
                             timed=not warm or rounds == 1)
                # Our JSON listing against the oracle's text one (the oracle has no JSON): its
                # ratio must stay within 10 % of the text listing's.
                argv = [path, "-Ln", "--json"] if name == "ours" else [path, "-Ln"]
                self.run(shape, name, "-Ln --json", argv, rnd, rss=warm, timed=not warm or rounds == 1)
            if FLOOR and (not warm or rounds == 1):
                f = self.floor()
                f.update({"shape": shape, "round": rnd})
                self.floors.append(f)
        if rounds <= 2:   # -Z is one request: give it a few more runs on large tables
            for rnd in range(rounds, rounds + Z_REPEAT - (rounds - 1)):
                for name, path in self.order(rnd):
                    self.run(shape, name, "-Z", [path, "-Z"], rnd)
        self.check_outputs(shape, saved, rules)
        self.apply_rounds(shape, rules)
        # 3. The binary that built the table flushes it.
        name, path = owner
        self.run(shape, name, "-C", [path, "-C"], 0, rss=True)
        self.report_pairs(shape, ["-R", "-Ln", "-Sn", "-Z", "-C", "-Ln --json", "--apply 16"])

    def apply_rounds(self, shape, rules):
        """Reloading the table with 16 changes: ours `--apply` of the edited file against the
        oracle's `-C` then `-R` of it (one timed job, as a reload is done with ipvsadm), on the
        table the listings used; and ours `--apply` of the unchanged file (no change: about one
        listing, which it is compared with). The table ends as it was."""
        with open(rules) as f:
            lines = f.readlines()
        starts = [i for i, l in enumerate(lines) if l.startswith("-A ")]
        edited = list(lines)
        for k in range(16):
            i = starts[k * len(starts) // 16]
            # The first real server of 16 services spread over the table: weight 1 -> 2 (an
            # edit); a service without one gets another scheduler.
            if i + 1 < len(edited) and edited[i + 1].startswith("-a "):
                edited[i + 1] = edited[i + 1].replace(" -w 1", " -w 2")
            else:
                edited[i] = edited[i].replace(" -s rr", " -s wrr")
        changed = rules + ".16"
        with open(changed, "w") as f:
            f.write("".join(edited))
        paths = dict(self.binaries)
        ours, oracle = paths["ours"], paths["oracle"]
        reload_script = os.path.join(self.tmp, "oracle-reload.sh")
        with open(reload_script, "w") as f:
            f.write("%s -C && exec %s -R < %s\n" % (oracle, oracle, changed))
        _, services, per_service = parse_shape(shape)
        rounds = 2 if services > 2000 else 3
        for rnd in range(rounds):
            self.run(shape, "ours", "--apply 0", [ours, "--apply"], rnd, stdin_path=rules, rss=rnd == 0)
            self.run(shape, "ours", "--apply 16", [ours, "--apply"], rnd, stdin_path=changed, rss=rnd == 0)
            self.run(shape, "ours", "--apply back", [ours, "--apply"], rnd, stdin_path=rules, timed=False)
            self.run(shape, "oracle", "--apply 16", ["/bin/sh", reload_script], rnd, rss=rnd == 0)
            self.run(shape, "oracle", "--apply back", [ours, "--apply"], rnd, stdin_path=rules, timed=False)
        size = self.table_size()
        self.check(shape, "table after the reloads", size == (services, services * per_service), table=size)
        os.unlink(changed)
        fl = [f for f in self.floors if f["shape"] == shape and f["status"] == 0]
        if fl:
            f = min(fl, key=lambda f: f["wall_ms"])
            log("  floor   %-8s %9.1f ms wall (ipvsadm-floor, min of %d; sys %.1f ms, user %.1f ms)"
                % ("-Ln", f["wall_ms"], len(fl), f["sys_ms"], f["user_ms"]))

    def check_outputs(self, shape, saved, rules):
        for cmd in ("-Sn", "-Ln"):
            a, b = saved.get(("oracle", cmd)), saved.get(("ours", cmd))
            if not a or not b:
                continue
            same = file_sha(a) == file_sha(b)
            details = {"bytes_oracle": os.path.getsize(a), "bytes_ours": os.path.getsize(b)}
            if not same:
                diff = ipvstest.run(["diff", "-u", a, b]).stdout
                details["diff_head"] = diff[:2000].decode("utf-8", "replace")
                with open(os.path.join(self.args.out, "mismatch-%s%s.diff" % (shape, cmd)), "wb") as f:
                    f.write(diff[:1 << 20])
            self.check(shape, "%s oracle = ours" % cmd, same, **details)
        a = saved.get(("oracle", "-Sn"))
        if a:
            # Our rules are written in ipvsadm's sort order and -S syntax: -Sn must give them back.
            self.check(shape, "-Sn oracle = the rules", file_sha(a) == file_sha(rules),
                       lines=count_lines(a), want=count_lines(rules))
        for path in saved.values():
            os.unlink(path)

    def report_pairs(self, shape, commands):
        for cmd in commands:
            def pick(binary):
                rs = [r for r in self.runs if r["shape"] == shape and r["binary"] == binary and r["command"] == cmd]
                timed = [r["wall_ms"] for r in rs if r["timed"]]
                rss = [r["maxrss_kb"] for r in rs if r.get("maxrss_kb")]
                agg = sum if any("chunks" in r for r in rs) else statistics.median   # pieces add up
                return (agg(timed) if timed else None, len(timed), max(rss) if rss else 0)

            (o, n, ro), (u, _, ru) = pick("oracle"), pick("ours")
            if o is None or u is None:
                continue
            log("  %-7s %-8s oracle %9.1f ms  ours %9.1f ms  ratio %5.2f  rss %5.1f/%5.1f MB  (n=%d)"
                % (shape, cmd, o, u, u / o if o else float("nan"), ro / 1024, ru / 1024, n))

    def main(self):
        ipvstest.load_ipvs(required=("ip_vs_rr",))
        log("bench: kernel %s, %d CPUs, load %s; shapes %s; peak RSS by %s"
            % (self.meta["kernel"], self.meta["guest_cpus"], " ".join(self.meta["guest_loadavg_start"]),
               " ".join(self.args.shapes), self.meta["rss_method"]))
        for index, name in enumerate(self.args.shapes):
            elapsed = time.time() - self.started
            if DEADLINE and elapsed > DEADLINE:
                log("bench: deadline reached after %.0f s: skipping %s" % (elapsed, name))
                self.skipped.append(name)
                continue
            kind, n, m = parse_shape(name)
            t0 = time.time()
            log("shape %s (guest load %s)" % (name, " ".join(loadavg())))
            ns = self.shape_ns = ipvstest.Netns(self.original_ns)
            try:
                if kind == "startup":
                    self.shape_startup()
                elif kind == "adds":
                    self.shape_adds()
                elif kind == "doctor":
                    self.shape_doctor()
                elif kind == "conns":
                    connection_shape(self, name, n)
                else:
                    self.shape_table(name, n, m, index)
            finally:
                ns.leave()
                ns.close()
            log("  (%s took %.0f s)" % (name, time.time() - t0))
            self.save()
            time.sleep(SETTLE)
        self.save()
        bad = [c for c in self.checks if not c["ok"]]
        failed = [r for r in self.runs if r["status"] != 0]
        log("bench: done in %.0f s; %d checks, %d failed; %d commands failed"
            % (time.time() - self.started, len(self.checks), len(bad), len(failed)))
        return 1 if bad or failed else 0


# ---------------------------------------------------------------------------------------------
# The connection listing (connsN): N UDP connections, made by sending one datagram per
# connection from a raw socket (source 10.50.x.1, ports 1024-61023) to two UDP services
# 10.1.0.1:53 and 10.1.0.2:53 of 4 real servers each (172.17.0.1-4, -m; the dummy interface
# swallows what IPVS forwards), with a UDP timeout of 7200 s so the table holds still. Then,
# the commands taking turns in an order that rotates each round: `cat /proc/net/ip_vs_conn`
# (the floor: the kernel's text and nothing else), the oracle's -Lnc, ours -Lnc, -Lnc --json,
# a filtered listing (--conn-server 172.17.0.1:53, an eighth of the lines) and the summary
# (--conn-summary). Round 0 keeps the outputs for the checks (ours -Lnc is the oracle's, the
# expiry column aside; the filtered listing is the oracle's lines of that real server; the
# summary's counts are those of the oracle's lines); BENCH_CONN_REPEAT (default 5) rounds are
# timed after it, BENCH_CONN_LARGE_REPEAT (default 0) above 100,000 connections (0: round 0 is
# the measurement: the kernel's text of the table costs time quadratic in its size, each read()
# walking the table from its start to its position). Each round: the floor, ours in an order
# that rotates, the oracle last, then a pause of 5 s (the oracle's long walk slows what follows
# it). In a timed round each command runs beside a run of the floor (just before it in odd
# rounds, just after in even ones): the pair's ratio.
# Peak RSS by GNU time in every run. Written to DIR/conns.json (runs and checks) and summarized
# in the log: best of the timed rounds against the best floor (every floor run counts), the
# spread (max-min)/min as the noise, and the median of the paired ratios.

CONN_VIPS = ["10.1.0.1", "10.1.0.2"]
ORACLE_SETTLE = 5
CONN_SERVERS = ["172.17.0.%d" % i for i in range(1, 5)]
CONN_FILTER = "172.17.0.1:53"


def fill_connections(n):
    """Sends n UDP datagrams of distinct (source address, port) to the services."""
    import socket
    import struct
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    vips = [socket.inet_aton(v) for v in CONN_VIPS]
    udp_len = 8 + 4
    for i in range(n):
        src = struct.pack("!I", (10 << 24) | (50 << 16) | ((i // 60000) << 8) | 1)
        dst = vips[i % len(vips)]
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, src, dst)
        sock.sendto(header + struct.pack("!HHHH", 1024 + i % 60000, 53, udp_len, 0) + b"ping",
                    (CONN_VIPS[i % len(vips)], 0))
    sock.close()


def conn_rows(path, expire=False):
    """The rows of a -Lnc listing (after its two header lines), without the expiry column."""
    with open(path) as f:
        lines = f.read().splitlines()[2:]
    return [l.split() if expire else l.split()[:1] + l.split()[2:] for l in lines]


def connection_shape(bench, shape, n):
    oracle = dict(bench.binaries)["oracle"]
    ours = dict(bench.binaries)["ours"]
    rules = "".join("-A -u %s:53 -s rr\n" % v + "".join("-a -u %s:53 -r %s:53 -m\n" % (v, r) for r in CONN_SERVERS)
                    for v in CONN_VIPS)
    rules_path = os.path.join(bench.tmp, "conn-rules")
    with open(rules_path, "w") as f:
        f.write(rules + "--set 0 0 7200\n")
    r = spawn([oracle, "-R"], stdin_path=rules_path)
    if r["status"] != 0:
        raise RuntimeError("the oracle's -R of the connection shape failed")
    t0 = time.time()
    fill_connections(n)
    count_path = os.path.join(bench.tmp, "conn-count")
    spawn(["/bin/cat", "/proc/net/ip_vs_conn"], stdout_path=count_path)
    have = count_lines(count_path) - 1
    log("  %d connections made in %.0f s (%d asked)" % (have, time.time() - t0, n))
    runs, checks = [], []
    commands = [
        ("floor", "cat", ["/bin/cat", "/proc/net/ip_vs_conn"]),
        ("oracle", "-Lnc", [oracle, "-Lnc"]),
        ("ours", "-Lnc", [ours, "-Lnc"]),
        ("ours", "-Lnc --json", [ours, "-Lnc", "--json"]),
        ("ours", "filtered", [ours, "-Lnc", "--conn-server", CONN_FILTER]),
        ("ours", "summary", [ours, "-Lnc", "--conn-summary"]),
    ]
    repeat = env_int("BENCH_CONN_REPEAT", 5) if n <= 100000 else env_int("BENCH_CONN_LARGE_REPEAT", 0)
    outputs = {}
    pairs = {}

    def one(rnd, binary, command, argv, timed, pair=False):
        out = os.path.join(bench.tmp, "conn-%s-%s" % (binary, command.replace(" ", ""))) if rnd == 0 and not pair else "/dev/null"
        err = os.path.join(bench.tmp, "conn-err")
        res = spawn(argv, stdout_path=out, stderr_path=err, measure_rss=True)
        res.update({"shape": shape, "binary": binary, "command": command, "round": rnd, "timed": timed,
                    "pair": pair, "connections": have})
        if res["status"] != 0:
            res["stderr"] = read_text(err, 500)
            log("  !! %s %s %s: exit %s: %s" % (shape, binary, command, res["status"], res["stderr"][:200]))
        runs.append(res)
        if rnd == 0 and not pair:
            outputs[(binary, command)] = out
        log("    round %d %-6s %-12s %9.1f ms  rss %6.1f MB%s" % (rnd, binary, command, res["wall_ms"],
                                                                  (res.get("maxrss_kb") or 0) / 1024,
                                                                  "  (the floor of the pair)" if pair else ""))
        return res

    # In a timed round every command but the floor is paired with a run of the floor just
    # before it (odd rounds) or just after it (even rounds): the host's load comes in phases
    # of seconds to minutes that a best of 3 cannot tell from the effect, and two runs seconds
    # apart share their phase. The pair's ratio is the command's time over that floor's.
    # The oracle's listing (4-7 times the floor, nearly all of it the kernel's walk) was
    # followed by seconds in which listings ran slower (a run of 50,000: ours -Lnc, always
    # right after it, a median of 1.77 times the floor paired with it, ours --json, which does
    # more, 1.04): it runs last in each round, and the next round starts after a pause.
    floor_argv = commands[0][2]
    ours_commands = [c for c in commands if c[0] == "ours"]
    # Every listing on one virtual CPU (the last), and three walks of the table first, none
    # timed: under the emulator a walk costs less where the table's pages were walked just
    # before (the emulated TLB is per virtual CPU), and the first walks after the table was
    # filled are the slowest (in a boot of 8 pairs, cat and the summary unpinned: 1.5-3.5 s and
    # 1.5-4.0 s; pinned: 1.0-2.0 s and 1.1-2.0 s, the first four pairs the slow ones).
    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {max(affinity)})
    for _ in range(3):
        spawn(floor_argv)
    for rnd in range(repeat + 1):
        k = rnd % len(ours_commands)
        timed = rnd > 0 or repeat == 0
        if rnd > 0:
            time.sleep(ORACLE_SETTLE)
        order = [commands[0]] + ours_commands[k:] + ours_commands[:k] + [c for c in commands if c[0] == "oracle"]
        for binary, command, argv in order:
            if not timed or binary == "floor":
                one(rnd, binary, command, argv, timed)
                continue
            if rnd % 2 == 1:
                base = one(rnd, "floor", "cat", floor_argv, timed, pair=True)
                res = one(rnd, binary, command, argv, timed)
            else:
                res = one(rnd, binary, command, argv, timed)
                base = one(rnd, "floor", "cat", floor_argv, timed, pair=True)
            if res["status"] == 0 and base["status"] == 0 and base["wall_ms"] > 0:
                pairs.setdefault((binary, command), []).append(res["wall_ms"] / base["wall_ms"])

    os.sched_setaffinity(0, affinity)

    def check(what, ok, **details):
        checks.append({"shape": shape, "command": what, "ok": bool(ok), **details})
        bench.checks.append(checks[-1])
        log("  check   %-26s %s" % (what, "ok" if ok else "MISMATCH " + json.dumps(details)[:300]))

    theirs = conn_rows(outputs[("oracle", "-Lnc")])
    check("connections listed", len(theirs) == have, oracle=len(theirs), table=have)
    check("ours -Lnc = oracle -Lnc", conn_rows(outputs[("ours", "-Lnc")]) == theirs)
    check("filtered = oracle's lines", conn_rows(outputs[("ours", "filtered")]) == [r for r in theirs if r[4] == CONN_FILTER])
    with open(outputs[("ours", "-Lnc --json")]) as f:
        document = json.load(f)
    check("--json holds them all", len(document["connections"]) == have)
    counted = {}
    for r in theirs:
        key = (r[0], r[3], r[4], r[1])
        counted[key] = counted.get(key, 0) + 1
    summary = {}
    with open(outputs[("ours", "summary")]) as f:
        for line in f.read().splitlines()[2:]:
            w = line.split()
            summary[(w[0], w[1], w[2], w[3])] = int(w[4])
    check("summary = oracle's counts", summary == counted, groups=len(summary))

    results = {"shape": shape, "connections": have, "repeat": repeat, "rows": []}
    floor = None
    for binary, command, _ in commands:
        timed = [x for x in runs if x["binary"] == binary and x["command"] == command and x["timed"] and x["status"] == 0]
        if not timed:
            continue
        walls = [x["wall_ms"] for x in timed]
        best = min(walls)
        row = {"binary": binary, "command": command, "best_ms": best, "max_ms": max(walls),
               "spread": (max(walls) - best) / best if best else 0,
               "cpu_ms": min(x["user_ms"] + x["sys_ms"] for x in timed),
               "user_ms": min(x["user_ms"] for x in timed),
               "runs": len(timed),
               "peak_rss_kb": max((x.get("maxrss_kb") or 0) for x in timed)}
        ratios = sorted(pairs.get((binary, command), []))
        if ratios:
            row["pair_ratios"] = ratios
            row["pair_median"] = ratios[len(ratios) // 2] if len(ratios) % 2 else \
                (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2]) / 2
        if binary == "floor":
            floor = best
        results["rows"].append(row)
    oracle_best = next((r["best_ms"] for r in results["rows"] if r["binary"] == "oracle"), None)
    for row in results["rows"]:
        row["x_floor"] = row["best_ms"] / floor if floor else None
        row["x_oracle"] = row["best_ms"] / oracle_best if oracle_best else None
        log("  %-9s %-7s %-12s best %9.1f ms  spread %4.0f%%  %5.2fx floor  %5.2fx oracle  rss %6.1f MB  user %5.0f ms%s"
            % (shape, row["binary"], row["command"], row["best_ms"], 100 * row["spread"], row["x_floor"] or 0,
               row["x_oracle"] or 0, row["peak_rss_kb"] / 1024, row["user_ms"],
               ("  paired x floor: median %.2f of %s" % (row["pair_median"], " ".join("%.2f" % r for r in row["pair_ratios"])))
               if "pair_median" in row else ""))
    path = os.path.join(bench.args.out, "conns.json")
    previous = []
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
    with open(path, "w") as f:
        json.dump(previous + [{"results": results, "runs": runs, "checks": checks}], f, indent=1)
    # The table goes with the namespace; the oracle flushes the services first.
    spawn([oracle, "-C"])


def main():
    global REPEAT, MID_REPEAT, MID_SERVICES, LARGE_REPEAT, Z_REPEAT, ADDS, ADDS_CHUNKS, R_CHUNKS, R_CHUNK_LINES, FLOOR
    global SETTLE, CMD_TIMEOUT, DEADLINE, HAVE_GNU_TIME
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--shapes", default="")
    p.add_argument("--oracle", default="/sbin/ipvsadm")
    p.add_argument("--ours", required=True)
    p.add_argument("--floor-binary", required=True)
    args = p.parse_args()
    REPEAT = env_int("BENCH_REPEAT", 3 if args.quick else 5)
    MID_REPEAT = env_int("BENCH_MID_REPEAT", 7)
    MID_SERVICES = env_int("BENCH_MID_SERVICES", 2000)
    LARGE_REPEAT = env_int("BENCH_LARGE_REPEAT", 2)
    Z_REPEAT = env_int("BENCH_Z_REPEAT", 3)
    ADDS = env_int("BENCH_ADDS", 20 if args.quick else 200)
    ADDS_CHUNKS = env_int("BENCH_ADDS_CHUNKS", 4)
    R_CHUNKS = env_int("BENCH_R_CHUNKS", 8)
    R_CHUNK_LINES = env_int("BENCH_R_CHUNK_LINES", 2500)
    FLOOR = env_int("BENCH_FLOOR", 1) == 1
    SETTLE = env_int("BENCH_SETTLE", 2)
    CMD_TIMEOUT = env_int("BENCH_CMD_TIMEOUT", 1200)
    DEADLINE = env_int("BENCH_DEADLINE", 0)
    HAVE_GNU_TIME = os.access(GNU_TIME, os.X_OK)
    shapes = [s for s in args.shapes.replace(",", " ").split() if s]
    args.shapes = shapes or (QUICK_SHAPES if args.quick else FULL_SHAPES)
    for s in args.shapes:
        parse_shape(s)
    os.makedirs(args.out, exist_ok=True)
    sys.exit(Bench(args).main())


REPEAT = MID_REPEAT = MID_SERVICES = LARGE_REPEAT = Z_REPEAT = ADDS = ADDS_CHUNKS = R_CHUNKS = R_CHUNK_LINES = 0
SETTLE = CMD_TIMEOUT = DEADLINE = 0
FLOOR = HAVE_GNU_TIME = True

if __name__ == "__main__":
    main()
