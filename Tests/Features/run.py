#!/usr/bin/python3
"""Feature tests in the VM, as root, in one boot (Scripts/feature-test): what ipvsadm 1.31 does
not do, judged by the oracle (/sbin/ipvsadm) on the real kernel.

    run.py [GROUP...]      groups: faults apply shared atomic save netns load kernel health sysctl conns (default: all, in order)

- faults: the ip_vs module absent and not loadable, modprobe's environment, no CAP_NET_ADMIN,
  output that cannot be written, a reader that closes the pipe early (runs first: the module
  must not be loaded yet);
- apply: random pairs of tables A -> B: after `--apply` of B on A the oracle's listings equal
  those of B loaded by the oracle in a fresh namespace; the `--dry-run` plan run through the
  oracle's -R on a copy of A gives the same; B on B plans nothing; the plan has no more lines
  than entries that differ;
- shared: a table shared with another agent (issue 19): `--apply --scope`/`--owner` of B then C
  on the agent's A leaves A's entries, counters and connections as they were and makes the
  scope equal C as the oracle loads it; inputs without services are refused; two `--apply` at
  once take turns on the table's lock; another writer's change between apply and verification
  is reported (status 3);
- atomic: a bad line in the middle of a large file, one per kind of refusal: status non-zero
  and the table byte-identical to before;
- save: random tables with every option, timeouts and sync daemons: `-S --complete`, then -R
  in a fresh namespace, gives the same table in every listing;
- netns: --netns from the root namespace against tables in two other namespaces, judged by the
  oracle run with `ip netns exec`; a namespace that does not exist;
- load: two -R of disjoint tables at once into one namespace; a 100,000-line -R within 3x the
  oracle's peak memory (the oracle's for 10,000 lines: its peak grows with the input);
- kernel: the package's KernelTests (the netlink backend on the real kernel), when
  KERNEL_TESTS names the test binary;
- health: rules files with --check (issue 20): our --apply gives the table the oracle's -R
  gives of the file without them; -S --checks-from keeps every check and reads back; a server
  the health checker's state file holds out keeps its weight across --apply, and is saved at
  its declared weight;
- sysctl: --sysctl (issue 22): every knob of this kernel listed with sysctl -n's value, in the
  initial and in a child namespace and with --netns; the child's untouched knobs equal the
  catalog's defaults; values in range set, out of range refused with nothing changed; the
  kernel's refusal (a read-only mount) is its message.
- conns: -Lc's views on real connections (UDP datagrams and TCP SYNs from a raw socket to two
  services): each filter, alone and combined, lists the oracle's -Lnc lines that match it (text
  and --json), and --conn-summary's counts are those of the oracle's lines.

Environment: IPVSADM_UNDER_TEST (ours), FEATURE_PAIRS (random pairs, default 16),
FEATURE_SEED. Prints PASS/FAIL per check and ends with "N passed, N failed".
"""

import os
import random
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "Tests", "lib"))
sys.path.insert(0, HERE)
import ipvstest as t  # noqa: E402
import tables  # noqa: E402

OURS = os.environ.get("IPVSADM_UNDER_TEST", os.path.join(REPO, ".build", "release", "ipvsadm"))
ORACLE = "/sbin/ipvsadm"
PAIRS = int(os.environ.get("FEATURE_PAIRS", "16"))
SEED = int(os.environ.get("FEATURE_SEED", str(int(time.time()))))
WORK = tempfile.mkdtemp(prefix="features-")

tally = t.Tally()
check = tally.check


def ipvsadm(binary, *args, stdin=None, timeout=300, env=None):
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return t.run([binary] + list(args), stdin=data, timeout=timeout, env=env)


def text(r):
    return r.stdout.decode(errors="replace")


def transcript(r):
    return "status %s\nstdout:\n%sstderr:\n%s" % (r.returncode, text(r), r.stderr.decode(errors="replace"))


HOME = t.current_netns()


class Fresh:
    """A fresh, set-up network namespace, entered for the `with` block."""

    def __enter__(self):
        self.ns = t.Netns(HOME)
        return self

    def enter(self):
        self.ns.enter()

    def __exit__(self, *exc):
        self.ns.leave()
        self.ns.close()


LISTINGS = [["-Sn"], ["-Ln"], ["-Ln", "--thresholds"], ["-Ln", "--tun-info"], ["-Ln", "--persistent-conn"]]
# What the oracle shows of every field --apply sets: -Sn has all but the thresholds.
APPLY_LISTINGS = [["-Sn"], ["-Ln", "--thresholds"]]


def oracle_view(listings=LISTINGS):
    """What the oracle shows of the current namespace's table."""
    return "".join("$ %s\n%s" % (" ".join(a), transcript(ipvsadm(ORACLE, *a))) for a in listings)


def load_with_oracle(rules):
    r = ipvsadm(ORACLE, "-R", stdin=rules)
    return r.ok and not r.stderr, transcript(r)


# ---------------------------------------------------------------------------------------------
# faults (first: the module must not be loaded yet)

def fault_tests():
    loaded = os.path.exists("/proc/net/ip_vs")
    check("faults: ip_vs is not loaded at the start of the boot", not loaded)
    if not loaded:
        # The module cannot be loaded: the kernel's own module loader (the generic-netlink
        # family look-up asks it) and /sbin/modprobe (-> kmod, in a private mount namespace)
        # are /bin/false. Ours and the oracle must say the same.
        helper = "/proc/sys/kernel/modprobe"
        saved_helper = open(helper).read().strip()
        with open(helper, "w") as f:
            f.write("/bin/false\n")
        try:
            kmod = os.path.realpath("/sbin/modprobe")
            script = "mount --bind /bin/false %s && exec %%s -Ln" % kmod
            outs = [t.run(["unshare", "-m", "sh", "-c", script % b], timeout=60) for b in (OURS, ORACLE)]
            check("faults: module absent and not loadable: ours says what the oracle says",
                  transcript(outs[0]) == transcript(outs[1]) and outs[0].returncode == 2
                  and not os.path.exists("/proc/net/ip_vs"),
                  "ours:\n%s\noracle:\n%s" % (transcript(outs[0]), transcript(outs[1])))
            # modprobe runs with a fixed environment, never the caller's.
            spy = os.path.join(WORK, "modprobe-spy")
            envfile = os.path.join(WORK, "modprobe-env")
            with open(spy, "w") as f:
                f.write("#!/bin/sh\nenv > %s\nexit 1\n" % envfile)
            os.chmod(spy, 0o755)
            env = dict(t.CHILD_ENV, MODPROBE_OPTIONS="-C /nonexistent")
            t.run(["unshare", "-m", "sh", "-c", "mount --bind %s %s && exec %s -Ln" % (spy, kmod, OURS)],
                  timeout=60, env=env)
            seen = open(envfile).read() if os.path.exists(envfile) else None
            names = sorted(l.split("=", 1)[0] for l in (seen or "").splitlines() if "=" in l)
            check("faults: modprobe runs with a fixed environment (no MODPROBE_OPTIONS)",
                  seen is not None and "MODPROBE_OPTIONS" not in seen and set(names) <= {"PATH", "PWD", "SHLVL", "_"},
                  seen or "modprobe was not run")
        finally:
            with open(helper, "w") as f:
                f.write(saved_helper + "\n")
    t.load_ipvs(optional=("ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "ip_vs_mh"))

    with Fresh():
        ipvsadm(ORACLE, "-A", "-t", "10.0.0.1:80")
        for how, wrap in (("an unprivileged user", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]),
                          ("root without CAP_NET_ADMIN", ["capsh", "--drop=cap_net_admin", "--"])):
            for args in (["-Ln"], ["-A", "-t", "10.0.0.2:80"], ["--apply"]):
                if wrap[0] == "capsh":
                    cmd = lambda b: wrap + ["-c", " ".join([b] + args)]
                else:
                    cmd = lambda b: wrap + [b] + args
                ours = t.run(cmd(OURS), stdin=b"", timeout=60)
                oracle = t.run(cmd(ORACLE), stdin=b"", timeout=60)
                if args == ["--apply"]:
                    # The oracle has no --apply: ours must refuse with the start-up message too.
                    same = ours.returncode == 2 and ours.stderr.startswith(b"Can't initialize ipvs: Permission denied")
                else:
                    same = transcript(ours) == transcript(oracle)
                check("faults: %s, %s: as the oracle" % (how, " ".join(args)), same,
                      "ours:\n%s\noracle:\n%s" % (transcript(ours), transcript(oracle)))
        check("faults: the table is unchanged after the refusals",
              text(ipvsadm(ORACLE, "-Sn")) == "-A -t 10.0.0.1:80 -s wlc\n")

        # Output that cannot be written: a failure with a message, and no output left half.
        r = t.run(["sh", "-c", "%s -Sn > /dev/full" % OURS], timeout=60)
        check("faults: -Sn > /dev/full fails with a message",
              r.returncode == 1 and r.stderr == b"Can't write standard output: No space left on device\n",
              transcript(r))
        r = t.run(["sh", "-c", "%s -Sn >&-" % OURS], timeout=60)
        check("faults: -Sn with stdout closed fails with a message",
              r.returncode == 1 and r.stderr == b"Can't write standard output: Bad file descriptor\n", transcript(r))
        # A reader that stops early: quiet, as the oracle.
        ipvsadm(ORACLE, "-R", stdin=tables.bulk(2000, 1))
        for binary, name in ((OURS, "ours"), (ORACLE, "oracle")):
            r = t.run(["sh", "-c", "%s -Ln | head -c 10 >/dev/null; echo ${PIPESTATUS:-}" % binary], timeout=120)
            check("faults: %s -Ln | head: ends quietly" % name, r.ok and r.stderr == b"", transcript(r))


# ---------------------------------------------------------------------------------------------
# apply

def entries(save):
    """{key: line} of a -Sn text: services by their options, real servers by service and -r."""
    result = {}
    for line in save.splitlines():
        words = line.split(" ")
        if words[0] == "-A":
            result[" ".join(words[:words.index("-s")])] = line
        elif words[0] == "-a":
            r = words.index("-r")
            result[" ".join(words[:r + 2])] = line
    return result


def apply_pair(index, a_text, b_text):
    name = "apply: pair %d" % index
    with Fresh() as want:
        ok, out = load_with_oracle(b_text)
        if not ok:
            check(name + ": B loads with the oracle", False, out + b_text)
            return
        wanted = oracle_view(APPLY_LISTINGS)
    with Fresh() as ns:
        ok, out = load_with_oracle(a_text)
        if not ok:
            check(name + ": A loads with the oracle", False, out + a_text)
            return
        before = oracle_view(APPLY_LISTINGS)
        ours_before = text(ipvsadm(OURS, "-Sn"))
        # An empty B is meant here (the refusal of an empty input is the shared group's).
        plan = ipvsadm(OURS, "--apply", "--dry-run", "--allow-empty", stdin=b_text)
        unchanged = oracle_view(APPLY_LISTINGS) == before
        applied = ipvsadm(OURS, "--apply", "--allow-empty", stdin=b_text)
        got = oracle_view(APPLY_LISTINGS)
        ours_after = text(ipvsadm(OURS, "-Sn"))
        again = ipvsadm(OURS, "--apply", "--dry-run", "--allow-empty", stdin=b_text)
    with Fresh():
        load_with_oracle(a_text)
        replay = ipvsadm(ORACLE, "-R", stdin=plan.stdout)
        replayed = oracle_view(APPLY_LISTINGS)
    old, new = entries(ours_before), entries(ours_after)
    differing = len([k for k in set(old) | set(new) if old.get(k) != new.get(k)])
    lines = text(plan).splitlines()
    problems = []
    if not (plan.ok and not plan.stderr):
        problems.append("dry run failed:\n" + transcript(plan))
    if not unchanged:
        problems.append("the dry run changed the table")
    if not (applied.ok and not applied.stderr):
        problems.append("apply failed:\n" + transcript(applied))
    if got != wanted:
        problems.append("after --apply the oracle shows:\n%s\nB loaded by the oracle shows:\n%s" % (got, wanted))
    if not (replay.ok and not replay.stderr) or replayed != wanted:
        problems.append("the plan through the oracle's -R gives:\n%s\n%s" % (transcript(replay), replayed))
    if again.stdout or not again.ok:
        problems.append("B on B plans:\n" + transcript(again))
    if len(lines) > differing:
        problems.append("the plan has %d lines for %d differing entries" % (len(lines), differing))
    check(name + " (%d plan lines, %d differing entries)" % (len(lines), differing), not problems,
          "\n".join(problems) + "\nA:\n" + a_text + "B:\n" + b_text + "plan:\n" + text(plan))


def apply_tests():
    rnd = random.Random(SEED)
    print("apply: seed %d, %d pairs" % (SEED, PAIRS), flush=True)
    for i in range(PAIRS):
        a = tables.table(rnd)
        b = tables.mutate(rnd, a) if rnd.random() < 0.8 else tables.table(rnd)
        apply_pair(i, tables.text(a), tables.text(b))


# ---------------------------------------------------------------------------------------------
# shared: scope, owner, empty input, lock, verification (issue 19; Docs/Applying.md)

# Ours: what `ours()` moves a table to. The other agent's tables (tables.table) stay in 10.1/16,
# 2001:db8::/64 and fwmarks 1-8.
OUR_SCOPE = ["--scope", "172.16.0.0/16", "--scope", "2001:db8:5::/48", "--scope", "fwmark:100-199"]
# The other agent's service with traffic: one UDP datagram makes a connection and counters.
BUSY = "-A -u 10.1.9.9:53 -s rr\n-a -u 10.1.9.9:53 -r 10.2.9.9:53 -m -w 1\n"


def ours(rules):
    """The same table on our addresses: services moved into OUR_SCOPE (real servers stay)."""
    import re
    out = []
    for line in rules.splitlines():
        line = re.sub(r"^(-[Aa] (?:-t|-u|--sctp-service) )10\.1\.", r"\g<1>172.16.", line)
        line = re.sub(r"^(-[Aa] (?:-t|-u) )\[2001:db8::", r"\g<1>[2001:db8:5::", line)
        line = re.sub(r"^(-[Aa] -f )(\d+)", lambda m: m.group(1) + str(100 + int(m.group(2))), line)
        out.append(line + "\n")
    return "".join(out)


def service_spec(line):
    """The options naming the service of a -A or -a line, as words."""
    words = line.split()
    end = next((i for i, w in enumerate(words) if w in ("-s", "-r", "-p", "-M", "-b", "-o")), len(words))
    return words[1:end]


def in_our_scope(line):
    spec = " ".join(service_spec(line))
    if spec.startswith("-f "):
        return 100 <= int(spec.split()[1]) <= 199
    return " 172.16." in " " + spec.split(" ", 1)[1] or "[2001:db8:5::" in spec


def services_of(save):
    return [service_spec(l) for l in save.splitlines() if l.startswith("-A ")]


def service_views(specs, *options):
    """The oracle's listing of each service alone (counters with --stats --exact)."""
    return "".join("$ -Ln %s %s\n%s" % (" ".join(options), " ".join(spec),
                                         transcript(ipvsadm(ORACLE, "-Ln", *options, *spec))) for spec in specs)


def connections(vip):
    """The oracle's connections to `vip`, without the expiry countdown."""
    rows = [l.split() for l in text(ipvsadm(ORACLE, "-Lnc")).splitlines()[2:]]
    return sorted(" ".join(r[:1] + r[2:]) for r in rows if len(r) >= 4 and vip in " ".join(r))


def send_udp(address, port):
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"ping", (address, port))


def state_env(**extra):
    env = dict(t.CHILD_ENV)
    env["IPVSADM_STATE_DIR"] = os.path.join(WORK, "state")
    env.update(extra)
    return env


def scoped_round(index, rnd, how):
    """A (theirs, with traffic) + B then C (ours) through `--apply` with `how`, judged by the oracle."""
    a_table = tables.table(rnd)
    b_table = tables.table(rnd)
    a = BUSY + tables.text(a_table)
    # B and C have services (an empty input is refused: tested below).
    b = ours(tables.text(b_table) or "-A -t 10.1.0.2:80 -s rr\n")
    c = ours(tables.text(tables.mutate(rnd, b_table)) or "-A -t 10.1.0.1:80 -s rr\n")
    name = "shared: %s round %d: B then C" % (" ".join(how), index)
    with Fresh():
        ok, out = load_with_oracle(c)
        c_specs = services_of(text(ipvsadm(ORACLE, "-Sn")))
        want_save = text(ipvsadm(ORACLE, "-Sn"))
        want_views = service_views(c_specs, "--thresholds")
    with Fresh():
        ok_a, out_a = load_with_oracle(a)
        send_udp("10.1.9.9", 53)
        # The kernel folds its per-CPU counters into what -L --stats shows every 2 s.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b" 1 " not in ipvsadm(ORACLE, "-Ln", "--stats", "--exact", "-u",
                                                                        "10.1.9.9:53").stdout:
            time.sleep(0.5)
        save = text(ipvsadm(ORACLE, "-Sn"))
        a_specs = services_of(save)
        theirs_before = [l for l in save.splitlines() if not in_our_scope(l)]
        stats_before = service_views(a_specs, "--stats", "--exact") + service_views(a_specs, "--thresholds")
        conns_before = connections("10.1.9.9")
        env = state_env()
        applied = [ipvsadm(OURS, "--apply", *how, stdin=rules, env=env) for rules in (b, c)]
        save = text(ipvsadm(ORACLE, "-Sn"))
        theirs_after = [l for l in save.splitlines() if not in_our_scope(l)]
        stats_after = service_views(a_specs, "--stats", "--exact") + service_views(a_specs, "--thresholds")
        conns_after = connections("10.1.9.9")
        ours_after = "".join(l + "\n" for l in save.splitlines() if in_our_scope(l))
        got_views = service_views(services_of(ours_after), "--thresholds")
    problems = []
    if not ok or not ok_a:
        problems.append("the oracle did not load A or C:\n" + out + out_a)
    for r in applied:
        if not (r.ok and not r.stderr):
            problems.append("--apply failed:\n" + transcript(r))
    if theirs_after != theirs_before:
        problems.append("A's entries changed:\nbefore:\n%s\nafter:\n%s" % ("\n".join(theirs_before), "\n".join(theirs_after)))
    if stats_after != stats_before:
        problems.append("A's counters or thresholds changed:\nbefore:\n%s\nafter:\n%s" % (stats_before, stats_after))
    if conns_after != conns_before or not conns_before:
        problems.append("A's connections: before %s, after %s" % (conns_before, conns_after))
    if ours_after != want_save or got_views != want_views:
        problems.append("the scope after C:\n%s%s\nC loaded by the oracle:\n%s%s" % (ours_after, got_views, want_save, want_views))
    check(name + " (A %d services, C %d)" % (len(a_specs), len(c_specs)), not problems,
          "\n".join(problems) + "\nA:\n" + a + "B:\n" + b + "C:\n" + c)


def shared_tests():
    rnd = random.Random(SEED + 19)
    rounds = max(2, PAIRS // 4)
    print("shared: seed %d, %d rounds per form" % (SEED + 19, rounds), flush=True)
    for i in range(rounds):
        scoped_round(i, rnd, OUR_SCOPE)
    for i in range(rounds):
        # The record carries B's services into C's apply: those C drops are deleted.
        owner = ["--owner", "fleet-%d" % i]
        scoped_round(i, rnd, owner)

    # Never an accidental flush: empty, comments only, truncated (its -A lines gone; or cut
    # after the --set line of a complete save).
    full = tables.bulk(6, 2, prefix="10.5")
    truncated = "".join(l + "\n" for l in full.splitlines() if not l.startswith("-A"))
    for label, rules in (("an empty file", ""), ("comments only", "# rules\n#\n\n"),
                         ("a file without its -A lines", truncated), ("a complete save cut after --set", "--set 900 120 300\n")):
        with Fresh():
            load_with_oracle(full)
            before = oracle_view(APPLY_LISTINGS)
            results = [ipvsadm(OURS, "--apply", *extra, stdin=rules) for extra in ([], ["--dry-run"], OUR_SCOPE)]
            after = oracle_view(APPLY_LISTINGS)
        says_why = all(r.returncode in (2, 255) and (b"no -A line" in r.stderr or r.stderr.startswith(b"line "))
                       for r in results)
        check("shared: --apply of %s is refused, saying why, and changes nothing" % label,
              after == before and says_why, "\n".join(transcript(r) for r in results))

    # One writer at a time: the first holds the lock (a test hook keeps it 8 s between apply and
    # verification); the second, started once the lock is held, waits, then applies; a third
    # that will not wait fails with status 4.
    import fcntl
    import subprocess

    def lock_held(path):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except OSError:
            return True
        finally:
            os.close(fd)

    first, second = tables.bulk(5, 2, prefix="10.5"), tables.bulk(4, 3, prefix="10.6")
    with Fresh():
        inode = os.stat("/proc/self/ns/net").st_ino
        paths = []
        for i, rules in enumerate((first, second)):
            paths.append(os.path.join(WORK, "concurrent.%d" % i))
            with open(paths[-1], "w") as f:
                f.write(rules)
        lock = "/run/ipvsadm/lock-%d" % inode
        start = time.monotonic()
        one = subprocess.Popen([OURS, "--apply"], stdin=open(paths[0]), stderr=subprocess.PIPE,
                               env=state_env(IPVSADM_TEST_AFTER_APPLY="sleep 8"))
        while not lock_held(lock) and time.monotonic() - start < 30:
            time.sleep(0.05)
        two = subprocess.Popen([OURS, "--apply"], stdin=open(paths[1]), stderr=subprocess.PIPE, env=state_env())
        three = ipvsadm(OURS, "--apply", "--lock-wait", "0", stdin=second)
        restore = ipvsadm(OURS, "-R", "--lock-wait", "0", stdin="-A -t 10.9.9.9:80\n")
        err_one, err_two = one.communicate(timeout=60)[1], two.communicate(timeout=60)[1]
        waited = time.monotonic() - start
        end = text(ipvsadm(ORACLE, "-Sn"))
        lock_exists = os.path.exists(lock)
    with Fresh():
        load_with_oracle(second)
        want = text(ipvsadm(ORACLE, "-Sn"))
    message = ("ipvsadm: another --apply or -R is changing this table (lock /run/ipvsadm/lock-%d held for 0 s)\n"
               % inode).encode()
    check("shared: two --apply at once: the second waits, both succeed in turn, the end table is the second's",
          one.returncode == 0 and two.returncode == 0 and not err_one and not err_two and end == want and waited >= 8
          and lock_exists,
          "statuses %s %s, %.1f s\n%s%s\nend:\n%s\nwant:\n%s" % (one.returncode, two.returncode, waited, err_one.decode(),
                                                                err_two.decode(), end, want))
    check("shared: --apply and -R with --lock-wait 0 while the lock is held: status 4, a clear message",
          three.returncode == 4 and three.stderr == message and restore.returncode == 4 and restore.stderr == message,
          transcript(three) + transcript(restore))

    # Another writer between apply and verification (the test-only hook): reported, status 3,
    # as the plan that undoes it; a dry run then shows the same plan. A change outside the
    # scope is not.
    rules = ours(tables.bulk(3, 2, prefix="10.1"))
    with Fresh():
        load_with_oracle(BUSY)
        hook = "%s -e -t 172.16.0.1:80 -r 172.17.0.1:80 -m -w 7 && %s -A -t 10.1.7.7:80" % (ORACLE, ORACLE)
        r = ipvsadm(OURS, "--apply", *OUR_SCOPE, stdin=rules, env=state_env(IPVSADM_TEST_AFTER_APPLY=hook))
        plan = ipvsadm(OURS, "--apply", "--dry-run", *OUR_SCOPE, stdin=rules)
        outside = ipvsadm(OURS, "--apply", *OUR_SCOPE, stdin=rules,
                          env=state_env(IPVSADM_TEST_AFTER_APPLY="%s -A -t 10.1.7.8:80" % ORACLE))
    undo = "-e -t 172.16.0.1:80 -r 172.17.0.1:80 -m -w 1\n"
    check("shared: a writer between apply and verification is reported with status 3 and the plan that undoes it",
          r.returncode == 3 and text(r) == ""
          and r.stderr.decode() == "ipvsadm: the table changed while it was applied; to undo the change:\n" + undo,
          transcript(r))
    check("shared: --dry-run on the changed table shows the drift as the plan", plan.ok and text(plan) == undo,
          transcript(plan))
    check("shared: a change outside the scope meanwhile is not drift", outside.ok and not outside.stderr,
          transcript(outside))


# ---------------------------------------------------------------------------------------------
# atomic

def atomic_tests():
    base = tables.bulk(500, 2)
    edited = tables.bulk(500, 2).replace("-s wlc", "-s rr", 100) + tables.bulk(20, 1, first=600)
    lines = edited.splitlines(True)
    middle = len(lines) // 2
    kinds = [
        ("a scheduler module that does not exist (kernel ENOENT)", ["-A -t 10.9.0.1:80 -s nosuchsched\n"]),
        ("a real server address that is not unicast (kernel EINVAL)",
         ["-A -t 10.9.0.2:80\n", "-a -t 10.9.0.2:80 -r 224.1.2.3:80 -m\n"]),
        ("a lower threshold above the upper one (ERANGE)", ["-A -t 10.9.0.3:80\n", "-a -t 10.9.0.3:80 -r 10.2.0.1:80 -m -x 5 -y 10\n"]),
        ("a sync daemon on an interface that does not exist (kernel ENODEV)",
         ["--start-daemon master --mcast-interface nosuchif0\n"]),
    ]
    for kind, bad in kinds:
        head = ["--set 900 120 300\n"] if bad[0].startswith("--start-daemon") else []
        file = "".join(head + lines[:middle] + bad + lines[middle:])
        with Fresh():
            ipvsadm(ORACLE, "-R", stdin=base)
            before = oracle_view(LISTINGS + [["-Ln", "--daemon"], ["-Ln", "--timeout"]])
            r = ipvsadm(OURS, "--apply", stdin=file)
            after = oracle_view(LISTINGS + [["-Ln", "--daemon"], ["-Ln", "--timeout"]])
        check("atomic: %s in the middle of %d lines: refused, the table as it was" % (kind, len(lines)),
              r.returncode not in (0, None) and r.stderr and before == after,
              transcript(r) + ("" if before == after else "\nthe table changed"))


# ---------------------------------------------------------------------------------------------
# save

DAEMON_VIEWS = [["-Ln", "--timeout"], ["-Ln", "--daemon"]]


def save_tests():
    rnd = random.Random(SEED + 1)
    for i in range(max(8, PAIRS // 2)):
        rules = tables.text(tables.table(rnd, services=10, servers=5, cross_family=False))
        head = []
        if rnd.random() < 0.7:
            head.append("--set %d %d %d" % (rnd.choice([900, 1800, 7200]), rnd.choice([60, 120]), rnd.choice([60, 300])))
        for state in ("master", "backup"):
            if rnd.random() < 0.4:
                d = "--start-daemon %s --mcast-interface dummy0 --syncid %d" % (state, rnd.randrange(256))
                if rnd.random() < 0.5:
                    d += " --sync-maxlen %d --mcast-port %d --mcast-ttl %d" % (
                        rnd.randrange(1000, 1473), rnd.randrange(1024, 65535), rnd.randrange(1, 5))
                if rnd.random() < 0.3:
                    d += " --mcast-group 239.1.%d.%d" % (rnd.randrange(256), rnd.randrange(1, 255))
                head.append(d)
        with Fresh():
            t.run(["ip", "link", "set", "dummy0", "multicast", "on"])
            ok, out = load_with_oracle("".join(l + "\n" for l in head) + rules)
            original = oracle_view(LISTINGS + DAEMON_VIEWS)
            saved = ipvsadm(OURS, "-Sn", "--complete")
        with Fresh():
            t.run(["ip", "link", "set", "dummy0", "multicast", "on"])
            restored = ipvsadm(OURS, "-R", stdin=saved.stdout)
            copy = oracle_view(LISTINGS + DAEMON_VIEWS)
        check("save: table %d (%d lines): -S --complete, -R in a fresh namespace, every listing the same"
              % (i, len(rules.splitlines()) + len(head)),
              ok and saved.ok and restored.ok and not restored.stderr and original == copy,
              "load: %s\nsaved:\n%s\nrestore:\n%s\noriginal:\n%s\ncopy:\n%s"
              % (out, transcript(saved), transcript(restored), original, copy))


# ---------------------------------------------------------------------------------------------
# health (issue 20): --check in rules files, -S --checks-from, --apply and the checker's state

SERVICE_CHECKS = ["tcp,interval=2,fall=3", "http,path=/health%20x,status=200-299|301", "none",
                  "misc,command=/bin/true%20x,timeout=1", "tcp,threshold=0.3,sorry=10.9.9.9:80",
                  "https,host=www.example.org,verify=yes,delay_loop=6,nb_get_retry=2"]
SERVER_CHECKS = ["tcp,port=22", "none", "http,path=/", "misc,command=/bin/check,shell=yes"]


def with_checks(rnd, rules):
    """`rules` with --check words on some of its -A and -a lines."""
    lines = []
    for line in rules.splitlines():
        if line.startswith("-A ") and rnd.random() < 0.6:
            line += " --check " + rnd.choice(SERVICE_CHECKS)
        elif line.startswith("-a ") and rnd.random() < 0.3:
            line += " --check " + rnd.choice(SERVER_CHECKS)
        lines.append(line)
    return "".join(l + "\n" for l in lines)


def without_checks(rules):
    return "".join(re.sub(r" --check \S+", "", l) + "\n" for l in rules.splitlines())


def check_words(rules):
    return sorted(re.findall(r" --check (\S+)", rules))


def namespace_inode():
    return os.stat("/proc/thread-self/ns/net").st_ino


def health_tests():
    rnd = random.Random(SEED + 20)
    for i in range(max(4, PAIRS // 4)):
        rules = tables.text(tables.table(rnd, services=6, servers=4, cross_family=False))
        checked = with_checks(rnd, rules)
        path = os.path.join(WORK, "checked-%d.rules" % i)
        with open(path, "w") as f:
            f.write(checked)
        with Fresh():
            ok, out = load_with_oracle(without_checks(checked))
            expected = oracle_view(APPLY_LISTINGS)
        with Fresh():
            applied = ipvsadm(OURS, "--apply", "--allow-empty", stdin=checked)
            got = oracle_view(APPLY_LISTINGS)
            saved = ipvsadm(OURS, "-Sn", "--checks-from", path)
            plain = ipvsadm(OURS, "-Sn")
        check("health: table %d: --apply of a file with --check gives the oracle's -R of it without them" % i,
              ok and applied.ok and not applied.stderr and got == expected,
              "oracle load: %s\napply: %s\nexpected:\n%s\ngot:\n%s" % (out, transcript(applied), expected, got))
        save_path = os.path.join(WORK, "saved-%d.rules" % i)
        with open(save_path, "w") as f:
            f.write(text(saved))
        with Fresh():
            again = ipvsadm(OURS, "--apply", "--allow-empty", stdin=text(saved))
            copy = oracle_view(APPLY_LISTINGS)
            resaved = ipvsadm(OURS, "-Sn", "--checks-from", save_path)
        check("health: table %d: -S --checks-from keeps every check, -S without it is plain, and the save "
              "applies back to the same table and saves the same" % i,
              saved.ok and check_words(text(saved)) == check_words(checked)
              and without_checks(text(saved)) == text(plain) and again.ok and copy == expected
              and text(resaved) == text(saved),
              "file:\n%s\nsaved: %s\nplain: %s\napply back: %s\nresaved: %s"
              % (checked, transcript(saved), transcript(plain), transcript(again), transcript(resaved)))

    # A server the checker holds out keeps its weight across --apply; -S --checks-from saves the
    # declared one.
    kernel = ("-A -t 10.1.7.1:80 -s rr\n-a -t 10.1.7.1:80 -r 10.2.0.1:80 -m -w 3\n"
              "-a -t 10.1.7.1:80 -r 10.2.0.2:80 -m -w 0\n-a -t 10.1.7.1:80 -r 10.2.0.3:80 -m -w 1\n")
    rules = ("-A -t 10.1.7.1:80 -s rr --check tcp,interval=1\n-a -t 10.1.7.1:80 -r 10.2.0.1:80 -m -w 3\n"
             "-a -t 10.1.7.1:80 -r 10.2.0.2:80 -m -w 2\n-a -t 10.1.7.1:80 -r 10.2.0.3:80 -m -w 4\n")
    path = os.path.join(WORK, "held.rules")
    with open(path, "w") as f:
        f.write(rules)
    run_dir = os.path.join(WORK, "run")
    os.makedirs(run_dir, exist_ok=True)
    env = dict(t.CHILD_ENV)
    env["IPVSADM_RUN_DIR"] = run_dir
    with Fresh():
        ok, out = load_with_oracle(kernel)
        now = time.time()
        with open(os.path.join(run_dir, "health-%d" % namespace_inode()), "w") as f:
            f.write("ipvsadm-health 1\tpid=1\theartbeat=%.3f\trules=%s\n" % (now, path)
                    + "server\tservice=TCP%%2010.1.7.1:80\tserver=10.2.0.1:80\tstate=up\tdeclared=3\tweight=3\tsince=%.3f\n" % now
                    + "server\tservice=TCP%%2010.1.7.1:80\tserver=10.2.0.2:80\tstate=down\tdeclared=2\tweight=0\tsince=%.3f"
                      "\tchecked=%.3f\tok=0\tduration=1.000\tmessage=connection%%20refused\tcheck=tcp\n" % (now, now))
        plan = ipvsadm(OURS, "--apply", "--dry-run", stdin=rules, env=env)
        applied = ipvsadm(OURS, "--apply", stdin=rules, env=env)
        view = text(ipvsadm(ORACLE, "-Sn"))
        saved = text(ipvsadm(OURS, "-Sn", "--checks-from", path, env=env))
        listing = ipvsadm(OURS, "-Ln", "--health", env=env)
    note = "ipvsadm: --apply: -t 10.1.7.1:80 -r 10.2.0.2:80 is held out by ipvsadm-health (down): " \
           "it keeps weight 0 (the kernel's), not the file's 2\n"
    check("health: --apply keeps the weight of a server the checker holds out, and the plan says so",
          ok and plan.ok and text(plan) == "-e -t 10.1.7.1:80 -r 10.2.0.3:80 -m -w 4\n"
          and plan.stderr.decode() == note and applied.ok and applied.stderr.decode() == note
          and "-r 10.2.0.2:80 -m -w 0\n" in view and "-r 10.2.0.3:80 -m -w 4\n" in view,
          "load: %s\nplan: %s\napply: %s\n-Sn:\n%s" % (out, transcript(plan), transcript(applied), view))
    check("health: -S --checks-from writes the declared weight and the checks; -Ln --health shows the state",
          saved == rules and listing.ok
          and re.search(r"10\.2\.0\.2:80 .* down +\d+s +failed: connection refused\n", text(listing)) is not None,
          "saved:\n%s\nlisting: %s" % (saved, transcript(listing)))


# ---------------------------------------------------------------------------------------------
# load

def load_tests():
    a = tables.bulk(1500, 2, prefix="10.5")
    b = tables.bulk(1500, 2, prefix="10.6")
    with Fresh():
        procs = []
        for rules in (a, b):
            path = os.path.join(WORK, "rules.%d" % len(procs))
            with open(path, "w") as f:
                f.write(rules)
            procs.append(os.spawnv(os.P_NOWAIT, "/bin/sh", ["sh", "-c", "exec %s -R < %s" % (OURS, path)]))
        statuses = [os.waitpid(p, 0)[1] for p in procs]
        saved = text(ipvsadm(ORACLE, "-Sn"))
        want = sorted(entries(a + b).values())
        got = sorted(entries(saved).values())
    check("load: two -R of 1500x2 at once into one namespace: nothing lost",
          statuses == [0, 0] and got == want, "statuses %s; %d entries, want %d" % (statuses, len(got), len(want)))

    # Memory: ours streams -R. The oracle's peak grows with its input (about 150 bytes a line
    # here), so comparing ours at 100,000 lines with the oracle at 10,000 is the stricter test,
    # and saves the oracle's minute of the longer file.
    rss = {}
    for binary, name, services in ((OURS, "ours", 20000), (ORACLE, "oracle", 2000)):
        rules = tables.bulk(services, 4, prefix="10.7")
        path = os.path.join(WORK, "big.%s.rules" % name)
        with open(path, "w") as f:
            f.write(rules)
        with Fresh():
            r = t.run(["/usr/bin/time", "-f", "%M", "sh", "-c", "exec %s -R < %s" % (binary, path)], timeout=1800)
            count = len(text(ipvsadm(ORACLE, "-Sn")).splitlines())
        kb = r.stderr.decode().strip().splitlines()[-1] if r.stderr else "?"
        rss[name] = int(kb) if kb.isdigit() else None
        check("load: %s -R of %d lines loads them all" % (name, len(rules.splitlines())),
              r.ok and count == len(rules.splitlines()), "status %s, %d lines saved" % (r.returncode, count))
    check("load: ours' peak RSS for 100,000 lines of -R within 3x the oracle's for 10,000 (%s KB / %s KB)"
          % (rss.get("ours"), rss.get("oracle")),
          rss.get("ours") and rss.get("oracle") and rss["ours"] <= 3 * rss["oracle"], str(rss))


# ---------------------------------------------------------------------------------------------
# netns: --netns from the root namespace, judged by the oracle run with `ip netns exec`

def netns_tests():
    names = ["ipvsadm-test-a", "ipvsadm-test-b"]
    for name in names:
        t.run(["ip", "netns", "del", name])
        r = t.run(["ip", "netns", "add", name])
        if not r.ok:
            check("netns: ip netns add %s" % name, False, transcript(r))
            return
        t.run(["ip", "netns", "exec", name, "ip", "-batch", t.NETNS_BATCH])
    def oracle(name, *args, stdin=None):
        return ipvsadm("ip", "netns", "exec", name, ORACLE, *args, stdin=stdin)
    try:
        root_before = text(ipvsadm(ORACLE, "-Sn"))
        oracle(names[0], "-R", stdin=tables.bulk(5, 2, prefix="10.5"))
        oracle(names[1], "-R", stdin=tables.bulk(3, 1, prefix="10.6") + "--set 1800 60 300\n")
        for name in names:
            for args in (["-Ln"], ["-Sn"], ["-Ln", "--stats"], ["-L", "--timeout"], ["-Lnc"]):
                ours = ipvsadm(OURS, "--netns", name, *args)
                check("netns: ours --netns %s %s equals the oracle in that namespace" % (name, " ".join(args)),
                      transcript(ours) == transcript(oracle(name, *args)), transcript(ours))
        ours = ipvsadm(OURS, "-Ln", "--netns", names[0], "--json")
        check("netns: --netns after the command, with --json",
              ours.ok and text(ours).count('"scheduler"') == 5, transcript(ours))
        # A path: a process in namespace b.
        holder = __import__("subprocess").Popen(["ip", "netns", "exec", names[1], "sleep", "60"])
        time.sleep(0.5)
        path = "/proc/%d/ns/net" % holder.pid
        ours = ipvsadm(OURS, "--netns", path, "-Sn")
        check("netns: --netns /proc/PID/ns/net", transcript(ours) == transcript(oracle(names[1], "-Sn")), transcript(ours))
        holder.kill()
        holder.wait()
        # Changes land in the named namespace only: -A, -R, --apply.
        ipvsadm(OURS, "--netns", names[0], "-A", "-t", "10.9.9.9:80")
        ipvsadm(OURS, "-R", "--netns", names[0], stdin="-A -t 10.9.9.8:80\n")
        wanted = tables.bulk(4, 2, prefix="10.5")
        applied = ipvsadm(OURS, "--netns", names[0], "--apply", stdin=wanted)
        with Fresh():
            ipvsadm(ORACLE, "-R", stdin=wanted)
            want = text(ipvsadm(ORACLE, "-Sn"))
        check("netns: -A, -R and --apply with --netns change that namespace and no other",
              applied.ok and text(oracle(names[0], "-Sn")) == want and text(ipvsadm(ORACLE, "-Sn")) == root_before
              and text(oracle(names[1], "-Sn")).count("-A") == 3, transcript(applied))
        # A namespace that does not exist: a message naming it, status 2, nothing changed.
        b_before = text(oracle(names[1], "-Sn"))
        for args in (["--netns", "nosuch", "-C"], ["-C", "--netns", "nosuch"], ["--netns", "/nonexistent/ns", "-C"]):
            r = ipvsadm(OURS, *args)
            missing = args[args.index("--netns") + 1]
            check("netns: %s: a clear message, status 2" % " ".join(args),
                  r.returncode == 2 and r.stderr == ("Can't enter network namespace %s: No such file or directory\n"
                                                     % missing).encode(), transcript(r))
        check("netns: nothing changed anywhere after the failures",
              text(ipvsadm(ORACLE, "-Sn")) == root_before and text(oracle(names[1], "-Sn")) == b_before
              and text(oracle(names[0], "-Sn")) == want)
        r = ipvsadm(OURS, "-R", stdin="-A -t 10.9.9.7:80 --netns %s\n" % names[1])
        check("netns: --netns in -R input is refused", r.returncode == 2
              and r.stderr == b"--netns is not allowed in -R or --apply input\n", transcript(r))
    finally:
        for name in names:
            t.run(["ip", "netns", "del", name])


# ---------------------------------------------------------------------------------------------
# sysctl: --sysctl (issue 22) judged by the kernel: sysctl -n and /proc/sys/net/ipv4/vs

VS = "/proc/sys/net/ipv4/vs"


def kernel_sysctls(*prefix):
    """Every knob of this namespace (or the one `prefix`, `ip netns exec NAME`, runs in) and its
    value as `sysctl -n` prints it, in one run of sysctl (one value a line)."""
    names = sorted(os.listdir(VS)) if not prefix else \
        text(t.run(list(prefix) + ["ls", VS])).split()
    values = text(t.run(list(prefix) + ["sysctl", "-n"] + ["net.ipv4.vs." + n for n in names])).split("\n")
    return dict(zip(names, values)) if len(values) == len(names) + 1 else {"(sysctl -n failed)": values}


def sysctl_view(where, *netns):
    """ours --sysctl, text and JSON, in this namespace (or --netns): every knob with sysctl -n's value."""
    import json
    kernel = kernel_sysctls()
    r = ipvsadm(OURS, *netns, "--sysctl", "--json")
    doc = json.loads(text(r)) if r.ok else {"sysctls": []}
    ours = {e["name"]: e for e in doc["sysctls"]}
    check("sysctl: %s: --json lists every knob of this kernel (%d) with sysctl -n's value" % (where, len(kernel)),
          r.ok and sorted(ours) == sorted(kernel) and all(ours[n]["value"] == v for n, v in kernel.items()),
          "%s\nkernel %r" % (transcript(r), kernel))
    import jsonschema
    with open(os.path.join(REPO, "Docs", "ipvsadm.schema.json")) as f:
        errors = list(jsonschema.Draft202012Validator(json.load(f)).iter_errors(doc))
    check("sysctl: %s: the JSON is valid against Docs/ipvsadm.schema.json" % where, r.ok and not errors,
          "\n".join(str(e.message) for e in errors[:5]))
    check("sysctl: %s: writable as the kernel says (access W_OK)" % where,
          all(ours.get(n, {}).get("writable") == os.access(os.path.join(VS, n), os.W_OK) for n in kernel))
    r = ipvsadm(OURS, *netns, "--sysctl")
    rows = {l.split()[0]: l for l in text(r).splitlines()[1:] if l and not l.startswith(" ")}
    check("sysctl: %s: the text view has a row per knob with its value" % where,
          r.ok and sorted(rows) == sorted(kernel)
          and all(rows[n][26:].startswith(v.replace("\t", " ") + " ") for n, v in kernel.items()), transcript(r))
    return kernel, ours, text(r)


def sysctl_tests():
    t.load_ipvs(optional=("ip_vs_lblc", "ip_vs_lblcr"))
    kernel, ours, _ = sysctl_view("initial namespace")
    unknown = sorted(n for n, e in ours.items() if not e["known"])
    check("sysctl: every knob of this kernel is in ipvsadm's catalog", not unknown, "unknown: %s" % unknown)
    name = "ipvsadm-test-sysctl"
    t.run(["ip", "netns", "del", name])
    t.run(["ip", "netns", "add", name])
    try:
        with Fresh():
            child, ours, view = sysctl_view("child namespace")
            wrong = {n: (v, ours[n]["default"]) for n, v in child.items()
                     if n in ours and ours[n].get("default") is not None and ours[n]["default"] != v}
            check("sysctl: child namespace: an untouched knob has the catalog's default (%d with one)"
                  % sum(1 for e in ours.values() if e.get("default") is not None), not wrong, repr(wrong))
            globals_ = [n for n, e in ours.items() if e.get("global")]
            check("sysctl: child namespace: the global knobs (%s) are read-only, and the view says so"
                  % (", ".join(globals_) or "none on this kernel"),
                  all(not ours[n]["writable"] for n in globals_) and view.count("read-only here") == len(globals_))
            # Setting: in range, out of range; in this namespace only.
            before = kernel_sysctls()
            r = ipvsadm(OURS, "--sysctl", "drop_entry=3", "sync_threshold=5 60", "net.ipv4.vs.conntrack=1")
            after = kernel_sysctls()
            check("sysctl: set in range: sysctl -n gives the new values, ours printed them read back",
                  r.ok and after["drop_entry"] == "3" and after["sync_threshold"] == "5\t60" and after["conntrack"] == "1"
                  and text(r) == "net.ipv4.vs.drop_entry = 3\nnet.ipv4.vs.sync_threshold = 5 60\nnet.ipv4.vs.conntrack = 1\n"
                  and {n: v for n, v in after.items() if n not in ("drop_entry", "sync_threshold", "conntrack")}
                  == {n: v for n, v in before.items() if n not in ("drop_entry", "sync_threshold", "conntrack")},
                  transcript(r))
            for words, shown in ((["amemthresh=2048", "drop_entry=4"], "(0 to 3)"),
                                 (["sync_threshold=60 5"], "(T P"), (["sync_ports=3"], "power of 2"),
                                 (["snat_reroute=x"], "(0 or 1)"), (["no_such_knob=1"], "unknown IPVS sysctl")):
                r = ipvsadm(OURS, "--sysctl", *words)
                check("sysctl: %s is refused (%s), status 2, and changes nothing" % (" ".join(words), shown),
                      r.returncode == 2 and shown in r.stderr.decode() and kernel_sysctls() == after, transcript(r))
            # The kernel's own refusal: the knobs mounted read-only (EROFS), nothing changed.
            script = "mount --bind -o ro %s %s && exec %s --sysctl drop_entry=1" % (VS, VS, OURS)
            r = t.run(["unshare", "-m", "sh", "-c", script])
            check("sysctl: a write the kernel refuses is its message (read-only mount), status 1, nothing changed",
                  r.returncode == 1 and r.stderr == (b"ipvsadm: can't set net.ipv4.vs.drop_entry to `1': "
                                                     b"Read-only file system (read-only here)\n")
                  and kernel_sysctls() == after, transcript(r))
        # --netns: that namespace's knobs, and a change there leaves the caller's alone.
        home = kernel_sysctls()
        wanted = kernel_sysctls("ip", "netns", "exec", name)
        r = ipvsadm(OURS, "--netns", name, "--sysctl", "--json")
        import json
        theirs = {e["name"]: e["value"] for e in json.loads(text(r))["sysctls"]} if r.ok else {}
        check("sysctl: --netns NAME --sysctl --json gives that namespace's values (ip netns exec sysctl -n)",
              r.ok and theirs == wanted, transcript(r) + repr(wanted))
        other = "0" if home["expire_nodest_conn"] != "0" else "1"
        r = ipvsadm(OURS, "--netns", name, "--sysctl", "expire_nodest_conn=" + other)
        there = t.run(["ip", "netns", "exec", name, "sysctl", "-n", "net.ipv4.vs.expire_nodest_conn"])
        check("sysctl: --netns NAME --sysctl NAME=VALUE changes that namespace only",
              r.ok and text(there).strip() == other and kernel_sysctls() == home, transcript(r))
    finally:
        t.run(["ip", "netns", "del", name])


# ---------------------------------------------------------------------------------------------
# kernel: the netlink backend's own tests (KernelTests in the package's test binary), here so
# that they share this boot

def kernel_tests():
    binary = os.environ.get("KERNEL_TESTS")
    if not binary:
        print("SKIP kernel: KERNEL_TESTS not set", flush=True)
        return
    script = ("ip link set lo up && ip link add d0 type dummy && ip link set d0 up && "
              "ip addr add 10.0.0.254/8 dev d0 && ip -6 addr add 2001:db8::fe/64 dev d0 nodad && "
              "exec %s --testing-library swift-testing --filter KernelTests" % binary)
    r = t.run(["unshare", "-n", "sh", "-c", script], timeout=900, merge_stderr=True)
    out = text(r)
    ran = [l for l in out.splitlines() if "Test run with" in l]
    for line in out.splitlines():
        if line.startswith("✘ Test ") and " recorded an issue" in line:
            print("    " + line, flush=True)
    tests = [w for w in (ran[-1].split() if ran else []) if w.isdigit()]
    check("kernel: the netlink backend's KernelTests (%s tests)" % (tests[0] if tests else "?"),
          r.ok and ran and "passed" in ran[-1], out[-3000:])


# ---------------------------------------------------------------------------------------------
# conns: the connection views (--conn-service, --conn-server, --conn-state, --conn-client,
# --conn-summary), judged by the oracle's -Lnc of the same table

def raw_packets(count, proto, vip, port, first_client):
    """`count` packets from a raw socket to vip:port, each from its own client address and port
    (UDP datagrams, or TCP SYNs with a correct checksum): one connection each."""
    import socket
    import struct
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    dst = socket.inet_aton(vip)

    def checksum(data):
        data += b"\0" * (len(data) % 2)
        total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
        while total >> 16:
            total = (total & 0xffff) + (total >> 16)
        return ~total & 0xffff

    for i in range(count):
        src = struct.pack("!I", first_client + i // 7)
        sport = 20000 + i
        if proto == "udp":
            body = struct.pack("!HHHH", sport, port, 12, 0) + b"ping"
        else:
            header = struct.pack("!HHIIBBHHH", sport, port, i, 0, 5 << 4, 0x02, 65535, 0, 0)
            pseudo = src + dst + struct.pack("!BBH", 0, 6, len(header))
            body = header[:16] + struct.pack("!H", checksum(pseudo + header)) + header[18:]
        packet = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64,
                             17 if proto == "udp" else 6, 0, src, dst) + body
        sock.sendto(packet, (vip, 0))
    sock.close()


def conn_tests():
    with Fresh():
        rules = ("-A -t 10.1.0.1:80 -s rr\n" + "".join("-a -t 10.1.0.1:80 -r 172.17.0.%d:8080 -m\n" % i for i in (1, 2, 3))
                 + "-A -u 10.1.0.2:53 -s rr\n" + "".join("-a -u 10.1.0.2:53 -r 172.17.0.%d:53 -m\n" % i for i in (1, 4))
                 + "--set 0 0 600\n")
        ok, why = load_with_oracle(rules)
        check("conns: the oracle loads the services", ok, why)
        raw_packets(150, "tcp", "10.1.0.1", 80, (10 << 24) | (50 << 16) | 1)
        raw_packets(120, "udp", "10.1.0.2", 53, (10 << 24) | (60 << 16) | 1)
        raw_packets(40, "udp", "10.1.0.2", 53, (10 << 24) | (50 << 16) | 200)

        def rows(r):
            """-Lnc's rows without the expiry (it counts down between two listings)."""
            return [l.split()[:1] + l.split()[2:] for l in text(r).splitlines()[2:]]

        theirs = rows(ipvsadm(ORACLE, "-Lnc"))
        states = {r[1] for r in theirs}
        check("conns: the table has connections in two states or more (%d, %s)" % (len(theirs), sorted(states)),
              len(theirs) >= 300 and len(states) >= 2)

        def client_in(prefix, length):
            def match(row):
                address = row[2].rsplit(":", 1)[0]
                value = int.from_bytes(bytes(int(x) for x in address.split(".")), "big")
                base = int.from_bytes(bytes(int(x) for x in prefix.split(".")), "big")
                mask = (0xffffffff << (32 - length)) & 0xffffffff
                return value & mask == base & mask
            return match

        tcp_state = next(iter(sorted(states - {"UDP"})), "SYN_RECV")
        cases = [
            (["--conn-service", "10.1.0.2:53"], lambda r: r[3] == "10.1.0.2:53"),
            (["--conn-service", "10.1.0.1"], lambda r: r[3].startswith("10.1.0.1:")),
            (["--conn-server", "172.17.0.1:53"], lambda r: r[4] == "172.17.0.1:53"),
            (["--conn-server", "172.17.0.1"], lambda r: r[4].startswith("172.17.0.1:")),
            (["--conn-state", tcp_state.lower()], lambda r: r[1] == tcp_state),
            (["--conn-state", "UDP"], lambda r: r[1] == "UDP"),
            (["--conn-client", "10.50.0.0/16"], client_in("10.50.0.0", 16)),
            (["--conn-client", "10.50.0.3"], client_in("10.50.0.3", 32)),
            (["--conn-client", "10.50.0.0/29"], client_in("10.50.0.0", 29)),
            (["--conn-client", "10.50.0.0/16", "--conn-state", "UDP", "--conn-server", "172.17.0.4"],
             lambda r: client_in("10.50.0.0", 16)(r) and r[1] == "UDP" and r[4].startswith("172.17.0.4:")),
        ]
        for options, match in cases:
            ours = ipvsadm(OURS, "-Lnc", *options)
            want = [r for r in theirs if match(r)]
            check("conns: -Lnc %s lists the oracle's lines that match (%d of %d)"
                  % (" ".join(options), len(want), len(theirs)),
                  ours.ok and not ours.stderr and rows(ours) == want and 0 < len(want) < len(theirs), transcript(ours))
            document = ipvsadm(OURS, "-Lc", "--json", *options)
            try:
                listed = __import__("json").loads(text(document))["connections"]
            except (ValueError, KeyError):
                listed = None
            check("conns: -Lc --json %s holds the same connections" % " ".join(options),
                  listed is not None and len(listed) == len(want)
                  and sorted("%s:%d" % (c["destination"]["address"], c["destination"]["port"]) for c in listed)
                  == sorted(r[4] for r in want), transcript(document)[:2000])

        counted = {}
        for r in theirs:
            key = (r[0], r[3], r[4], r[1])
            counted[key] = counted.get(key, 0) + 1
        summary = ipvsadm(OURS, "-Lnc", "--conn-summary")
        groups = {}
        for line in text(summary).splitlines()[2:]:
            w = line.split()
            groups[(w[0], w[1], w[2], w[3])] = int(w[4])
        check("conns: --conn-summary counts the oracle's lines (%d groups)" % len(counted),
              summary.ok and groups == counted
              and text(summary).startswith("IPVS connection summary: %d connections in %d groups\n"
                                           % (len(theirs), len(counted))), transcript(summary))
        document = ipvsadm(OURS, "-Lc", "--json", "--conn-summary", "--conn-service", "10.1.0.2:53")
        try:
            summary = __import__("json").loads(text(document))["connection_summary"]
            got = {(g["protocol"].upper(), "%s:%d" % (g["virtual"]["address"], g["virtual"]["port"]),
                    "%s:%d" % (g["destination"]["address"], g["destination"]["port"]), g["state"]): g["connections"]
                   for g in summary["groups"]}
        except (ValueError, KeyError, TypeError):
            summary, got = None, None
        import json
        import jsonschema
        validator = jsonschema.Draft202012Validator(json.load(open(os.path.join(REPO, "Docs", "ipvsadm.schema.json"))))
        for options in (["--conn-summary"], ["--conn-state", "UDP"]):
            r = ipvsadm(OURS, "-Lc", "--json", *options)
            try:
                errors = [e.message for e in validator.iter_errors(json.loads(text(r)))]
            except ValueError as e:
                errors = [str(e)]
            check("conns: -Lc --json %s validates against the schema" % " ".join(options), not errors, "\n".join(errors[:5]))
        check("conns: --json --conn-summary of one service counts the oracle's lines",
              got == {k: v for k, v in counted.items() if k[1] == "10.1.0.2:53"}
              and summary["connections"] == sum(v for k, v in counted.items() if k[1] == "10.1.0.2:53"),
              transcript(document)[:2000])
        ipvsadm(ORACLE, "-C")


GROUPS = {"faults": fault_tests, "apply": apply_tests, "shared": shared_tests, "atomic": atomic_tests, "save": save_tests,
          "netns": netns_tests, "load": load_tests, "kernel": kernel_tests, "health": health_tests,
          "sysctl": sysctl_tests,
          "conns": conn_tests}


def main(argv):
    names = argv[1:] or list(GROUPS)
    if "faults" not in names:
        t.load_ipvs(optional=("ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "ip_vs_mh"))
    for name in names:
        start = time.monotonic()
        try:
            GROUPS[name]()
        except Exception as e:  # a broken test is a failure, and the others still run
            import traceback
            check("%s: the group ran to its end" % name, False, traceback.format_exc())
            os.setns(HOME, os.CLONE_NEWNET) if hasattr(os, "setns") else t.libc.setns(HOME, t.CLONE_NEWNET)
        print("== %s: %.0f s" % (name, time.monotonic() - start), flush=True)
    return tally.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
