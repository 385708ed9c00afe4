#!/usr/bin/python3
"""Differential test harness for ipvsadm. Runs INSIDE the test VM, as root.

    harness.py record [FILTER...]   run every case with the oracle (/sbin/ipvsadm), write golden/
    harness.py check  [FILTER...]   run every case with ours, compare with golden/ (+ overrides)
    harness.py live   [FILTER...]   run oracle and ours, each case in its own fresh netns, compare
    harness.py show   [FILTER...]   run ours and print the transcripts (no comparison)

FILTER: a case name, a topic (file name without .cases), or an fnmatch pattern on either
(e.g. 'restore-*'). Several filters are OR-ed.

Environment:
    IPVSADM_UNDER_TEST  our binary (default <repo>/.build/release/ipvsadm)
    IPVSADM_ORACLE      the oracle (default /sbin/ipvsadm)
    DIFFTEST_JOBS       cases run in parallel (default: number of CPUs, at most 4)
    DIFFTEST_CMD_TIMEOUT seconds per ipvsadm/setup command (default 20)
    DIFFTEST_GOLDEN_DIR where `record` writes (default <dir>/golden)

Case and golden formats: see README.md in this directory.
"""

import difflib
import os
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "Tests", "lib"))
import ipvstest  # noqa: E402  (Tests/lib: the case and transcript formats, namespaces, processes)

CASES_DIR = os.path.join(HERE, "cases")
GOLDEN_DIR = os.environ.get("DIFFTEST_GOLDEN_DIR", os.path.join(HERE, "golden"))
OVERRIDE_DIR = os.path.join(HERE, "golden-overrides")
ORACLE = os.environ.get("IPVSADM_ORACLE", "/sbin/ipvsadm")
OURS = os.environ.get("IPVSADM_UNDER_TEST", os.path.join(REPO, ".build", "release", "ipvsadm"))
CMD_TIMEOUT = float(os.environ.get("DIFFTEST_CMD_TIMEOUT", "20"))
CASE_TIMEOUT = 300.0
PROGRESS = os.environ.get("DIFFTEST_PROGRESS", "1") == "1"
JOBS = int(os.environ.get("DIFFTEST_JOBS", str(min(4, os.cpu_count() or 1))))


# ---------------------------------------------------------------------------------------------
# Golden files

def read_golden(topic):
    """{case name: transcript text} of one topic's golden file ({} when there is none)."""
    blocks = ipvstest.read_transcripts(os.path.join(GOLDEN_DIR, topic + ".golden"))
    return {name: t.text for name, t in blocks.items()}


def expected_for(case, golden_cache):
    ov = ipvstest.read_transcripts(os.path.join(OVERRIDE_DIR, case.name + ".golden"))
    if case.name in ov:
        return ov[case.name].text, "override"
    if case.topic not in golden_cache:
        golden_cache[case.topic] = read_golden(case.topic)
    return golden_cache[case.topic].get(case.name), "golden"


# ---------------------------------------------------------------------------------------------
# Running a case in a fresh network namespace

def run_ipvsadm(binary, argv, stdin):
    r = ipvstest.run(["ipvsadm"] + argv, executable=binary, stdin=stdin if stdin is not None else b"",
                     timeout=CMD_TIMEOUT, cwd="/")
    if r.timed_out:
        return r.stdout, r.stderr + b"<harness: TIMEOUT>\n", "timeout"
    if r.error is not None:
        return b"", ("<harness: cannot execute %s: %s>\n" % (binary, r.error)).encode(), "exec-error"
    return r.stdout, r.stderr, ipvstest.status_text(r.returncode)


def run_case_here(case, binary):
    """Runs in the forked child: enters a fresh netns, runs the case there. Returns
    (transcript, problems)."""
    problems = []
    r = ipvstest.enter_fresh_netns(timeout=CMD_TIMEOUT)
    if not r.ok:
        problems.append("netns setup failed: " + (r.stdout.decode(errors="replace") if r.returncode is not None
                                                   else ipvstest.describe_failure(r)))
    out = ["=== " + case.name]
    for st in case.steps:
        out.extend(st.header_lines())
        if st.kind == "%":
            r = ipvstest.run(["sh", "-c", st.text], timeout=CMD_TIMEOUT, cwd=HERE, merge_stderr=True)
            if r.timed_out:
                problems.append("setup command %r timed out" % st.text)
            elif r.error is not None:
                problems.append("setup command %r could not run: %s" % (st.text, r.error))
            elif r.returncode != 0:
                problems.append("setup command %r failed (%d): %s" % (
                    st.text, r.returncode, r.stdout.decode(errors="replace").strip()))
            continue
        so, se, rc = run_ipvsadm(binary, st.argv(), st.stdin)
        out.extend(ipvstest.output_lines(so, se, rc))
    return "\n".join(out) + "\n", problems


def spawn_case(case, binary):
    """Fork a child that runs the case in a netns of its own and writes the result to a file."""
    fd, path = tempfile.mkstemp(prefix="difftest-", dir=TMPDIR)
    os.close(fd)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            transcript, problems = run_case_here(case, binary)
            with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
                f.write("\n".join(problems) + "\n\x00\n" + transcript)
        except BaseException as e:  # noqa
            try:
                with open(path, "w") as f:
                    f.write("harness child error: %r\n\x00\n" % (e,))
            except BaseException:
                pass
            code = 1
        os._exit(code)
    return pid, path


def read_result(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        data = f.read()
    os.unlink(path)
    if "\n\x00\n" not in data:
        return None, ["no result (child crashed?)"]
    probs, transcript = data.split("\n\x00\n", 1)
    problems = [p for p in probs.split("\n") if p]
    return (transcript if transcript else None), problems


def run_many(jobs_list):
    """jobs_list: [(key, case, binary)] -> {key: (transcript, problems)}; JOBS at a time."""
    results = {}
    pending = list(jobs_list)
    total = len(pending)
    t0 = time.monotonic()
    running = {}  # pid -> (key, path, start)
    while pending or running:
        while pending and len(running) < JOBS:
            key, case, binary = pending.pop(0)
            pid, path = spawn_case(case, binary)
            running[pid] = (key, path, time.monotonic())
        # reap; kill children over CASE_TIMEOUT
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid = 0
        if pid == 0:
            now = time.monotonic()
            for p, (key, path, start) in list(running.items()):
                if now - start > CASE_TIMEOUT:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.005)
            continue
        if pid not in running:
            continue
        key, path, start = running.pop(pid)
        t, probs = read_result(path)
        results[key] = (t, probs)
        if PROGRESS and (len(results) % 50 == 0 or len(results) == total):
            print("harness: %d/%d runs done (%.0fs)" % (len(results), total, time.monotonic() - t0),
                  file=sys.stderr, flush=True)
    return results


# ---------------------------------------------------------------------------------------------

def setup_vm_environment():
    """Private mount namespace with our hosts/resolv.conf; IPVS module loaded."""
    global TMPDIR
    ipvstest.private_mounts([(os.path.join(HERE, "hosts"), "/etc/hosts"),
                             (os.path.join(HERE, "resolv.conf"), "/etc/resolv.conf")])
    # Preload the schedulers/PE so that the first case using one does not pay for modprobe.
    ipvstest.load_ipvs(optional=("ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh",
                                 "ip_vs_sed", "ip_vs_nq", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_fo", "ip_vs_ovf",
                                 "ip_vs_mh", "ip_vs_pe_sip"))
    TMPDIR = tempfile.mkdtemp(prefix="difftest-")


TMPDIR = None


def write_golden_topic(topic, cases_of_topic, results, merge):
    old = read_golden(topic) if merge else {}
    blocks = []
    for c in cases_of_topic:
        if c.name in results:
            blocks.append(results[c.name])
        elif c.name in old:
            blocks.append(old[c.name])
    ipvstest.write_golden(os.path.join(GOLDEN_DIR, topic + ".golden"), blocks)


def diff_text(expected, actual, a_name, b_name):
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                        a_name, b_name, n=3))


def main(argv):
    if len(argv) < 2 or argv[1] not in ("record", "check", "live", "show"):
        print(__doc__, file=sys.stderr)
        return 2
    mode = argv[1]
    filters = argv[2:]
    all_cases = ipvstest.load_cases(CASES_DIR)
    cases = ipvstest.select(all_cases, filters)
    if not cases:
        print("no cases match %s" % filters, file=sys.stderr)
        return 2
    for b in ([ORACLE] if mode == "record" else [OURS] if mode in ("check", "show") else [ORACLE, OURS]):
        if not os.access(b, os.X_OK):
            print("harness: %s is not an executable file" % b, file=sys.stderr)
            return 2
    setup_vm_environment()
    t0 = time.monotonic()

    if mode == "record":
        res = run_many([(c.name, c, ORACLE) for c in cases])
        bad = 0
        texts = {}
        for c in cases:
            t, probs = res.get(c.name, (None, ["no result"]))
            for p in probs:
                print("WARNING %s: %s" % (c.name, p), file=sys.stderr)
            if t is None:
                bad += 1
                continue
            if probs:
                bad += 1
            texts[c.name] = t
        os.makedirs(GOLDEN_DIR, exist_ok=True)
        topics = sorted(set(c.topic for c in cases))
        for topic in topics:
            tc = [c for c in all_cases if c.topic == topic]
            write_golden_topic(topic, tc, texts, merge=bool(filters))
        print("recorded %d cases (%d topics) in %.1fs, %d with problems" % (
            len(texts), len(topics), time.monotonic() - t0, bad))
        return 1 if bad else 0

    if mode == "show":
        res = run_many([(c.name, c, OURS) for c in cases])
        for c in cases:
            t, probs = res[c.name]
            sys.stdout.write(t or "")
            for p in probs:
                print("WARNING %s: %s" % (c.name, p))
        return 0

    # Failures only: a PASS line per case would bury them.
    tally = ipvstest.Tally()
    if mode == "check":
        res = run_many([(c.name, c, OURS) for c in cases])
        cache = {}
        for c in cases:
            exp, src = expected_for(c, cache)
            t, probs = res[c.name]
            if exp is None:
                tally.fails("%s: no golden transcript (run `Scripts/difftest record`)" % c.name)
                continue
            if t == exp and not probs:
                tally.passes()
                continue
            tally.fails("%s (%s:%d)" % (c.name, os.path.relpath(c.path, REPO), c.lineno))
            for p in probs:
                print("  problem: " + p)
            if t is not None and t != exp:
                sys.stdout.write(diff_text(exp, t, "expected (%s)" % src, "ours"))
    else:  # live
        jobs = []
        for c in cases:
            jobs.append(((c.name, "oracle"), c, ORACLE))
            jobs.append(((c.name, "ours"), c, OURS))
        res = run_many(jobs)
        for c in cases:
            to, po = res[(c.name, "oracle")]
            tu, pu = res[(c.name, "ours")]
            if to is not None and to == tu and not po and not pu:
                tally.passes()
                continue
            tally.fails("%s (%s:%d)" % (c.name, os.path.relpath(c.path, REPO), c.lineno))
            for p in po:
                print("  problem (oracle): " + p)
            for p in pu:
                print("  problem (ours): " + p)
            if to != tu:
                sys.stdout.write(diff_text(to or "", tu or "", "oracle", "ours"))
    print("time: %.1fs" % (time.monotonic() - t0), file=sys.stderr)
    return tally.summary()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
