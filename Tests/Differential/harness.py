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

import ctypes
import difflib
import fnmatch
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CASES_DIR = os.path.join(HERE, "cases")
GOLDEN_DIR = os.environ.get("DIFFTEST_GOLDEN_DIR", os.path.join(HERE, "golden"))
OVERRIDE_DIR = os.path.join(HERE, "golden-overrides")
NETNS_BATCH = os.path.join(HERE, "netns.batch")
ORACLE = os.environ.get("IPVSADM_ORACLE", "/sbin/ipvsadm")
OURS = os.environ.get("IPVSADM_UNDER_TEST", os.path.join(REPO, ".build", "release", "ipvsadm"))
CMD_TIMEOUT = float(os.environ.get("DIFFTEST_CMD_TIMEOUT", "20"))
CASE_TIMEOUT = 300.0
PROGRESS = os.environ.get("DIFFTEST_PROGRESS", "1") == "1"
JOBS = int(os.environ.get("DIFFTEST_JOBS", str(min(4, os.cpu_count() or 1))))

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

libc = ctypes.CDLL(None, use_errno=True)


class CaseFormatError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Case files

class Step:
    """One line of a case: kind '$' (ipvsadm run), '%' (setup shell command)."""

    def __init__(self, kind, text, lineno):
        self.kind = kind
        self.text = text          # text after "$ " / "% "
        self.lineno = lineno
        self.stdin_lines = []     # raw case lines ("< ..." / "<~ ...") for '$'
        self.stdin = None         # bytes, or None when no "<" lines

    def argv(self):
        return shlex.split(self.text)


class Case:
    def __init__(self, name, topic, path, lineno):
        self.name = name
        self.topic = topic
        self.path = path
        self.lineno = lineno
        self.steps = []

    def header_lines(self, step):
        """The lines copied from the case into a transcript for one step."""
        out = [step.kind + (" " + step.text if step.text else "")]
        out.extend(step.stdin_lines)
        return out


def decode_escapes(s):
    """C-like escapes for '<~' lines: \\n \\r \\t \\\\ \\0 \\xHH."""
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\" or i + 1 == len(s):
            out.append(c)
            i += 1
            continue
        n = s[i + 1]
        if n == "x" and i + 4 <= len(s):
            out.append(chr(int(s[i + 2:i + 4], 16)))
            i += 4
            continue
        out.append({"n": "\n", "r": "\r", "t": "\t", "\\": "\\", "0": "\0"}.get(n, "\\" + n))
        i += 2
    return "".join(out)


def parse_case_file(path):
    topic = os.path.basename(path)[:-len(".cases")]
    cases = []
    cur = None
    last_dollar = None
    with open(path, encoding="utf-8", newline="\n") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw[:-1] if raw.endswith("\n") else raw
            where = "%s:%d" % (path, lineno)
            if line.startswith("#") or line.strip() == "":
                continue
            if line.startswith("=== "):
                name = line[4:].strip()
                if not name or any(ch not in "abcdefghijklmnopqrstuvwxyz0123456789-" for ch in name):
                    raise CaseFormatError("%s: bad case name %r" % (where, name))
                cur = Case(name, topic, path, lineno)
                cases.append(cur)
                last_dollar = None
                continue
            if cur is None:
                raise CaseFormatError("%s: line outside a case" % where)
            if line == "$" or line.startswith("$ "):
                st = Step("$", line[2:], lineno)
                try:
                    st.argv()
                except ValueError as e:
                    raise CaseFormatError("%s: bad quoting: %s" % (where, e))
                cur.steps.append(st)
                last_dollar = st
            elif line.startswith("% "):
                cur.steps.append(Step("%", line[2:], lineno))
                last_dollar = None
            elif line == "<" or line.startswith("< ") or line.startswith("<~ "):
                if last_dollar is None:
                    raise CaseFormatError("%s: '<' line without a preceding '$' line" % where)
                if line.startswith("<~ "):
                    data = decode_escapes(line[3:])
                else:
                    data = line[2:] + "\n"
                last_dollar.stdin_lines.append(line)
                last_dollar.stdin = (last_dollar.stdin or b"") + data.encode("utf-8", "surrogateescape")
            else:
                raise CaseFormatError("%s: unrecognised line %r" % (where, line))
    return cases


def load_cases():
    all_cases = []
    seen = {}
    for fn in sorted(os.listdir(CASES_DIR)):
        if not fn.endswith(".cases"):
            continue
        for c in parse_case_file(os.path.join(CASES_DIR, fn)):
            if c.name in seen:
                raise CaseFormatError("duplicate case name %s (%s and %s)" % (c.name, seen[c.name], c.path))
            seen[c.name] = c.path
            if not c.steps:
                raise CaseFormatError("%s:%d: case %s has no steps" % (c.path, c.lineno, c.name))
            all_cases.append(c)
    return all_cases


def select(cases, filters):
    if not filters:
        return cases
    out = []
    for c in cases:
        for f in filters:
            if c.name == f or c.topic == f or fnmatch.fnmatchcase(c.name, f) \
                    or fnmatch.fnmatchcase(c.topic, f):
                out.append(c)
                break
    return out


# ---------------------------------------------------------------------------------------------
# Golden files

def parse_golden_text(text):
    """{case name: transcript text (including the '=== name' line)}"""
    blocks = {}
    order = []
    cur = None
    buf = []
    for line in text.split("\n"):
        if line.startswith("=== "):
            if cur is not None:
                blocks[cur] = "\n".join(buf).rstrip("\n") + "\n"
            cur = line[4:].strip()
            order.append(cur)
            buf = [line]
        elif cur is not None:
            buf.append(line)
    if cur is not None:
        blocks[cur] = "\n".join(buf).rstrip("\n") + "\n"
    return blocks, order


def read_golden(topic):
    p = os.path.join(GOLDEN_DIR, topic + ".golden")
    if not os.path.exists(p):
        return {}
    with open(p, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        return parse_golden_text(f.read())[0]


def expected_for(case, golden_cache):
    ov = os.path.join(OVERRIDE_DIR, case.name + ".golden")
    if os.path.exists(ov):
        with open(ov, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
            blocks = parse_golden_text(f.read())[0]
        if case.name in blocks:
            return blocks[case.name], "override"
    if case.topic not in golden_cache:
        golden_cache[case.topic] = read_golden(case.topic)
    return golden_cache[case.topic].get(case.name), "golden"


# ---------------------------------------------------------------------------------------------
# Running a case in a fresh network namespace

def stream_lines(prefix, data, name):
    text = data.decode("utf-8", "surrogateescape")
    if text == "":
        return []
    out = []
    parts = text.split("\n")
    tail_missing = parts[-1] != ""
    if not tail_missing:
        parts = parts[:-1]
    for p in parts:
        out.append(prefix + p)
    if tail_missing:
        out.append("\\ no newline at end of " + name)
    return out


def status_text(rc):
    # A signal is reported like a shell does: 128 + signal number.
    return str(128 - rc) if rc < 0 else str(rc)


def run_ipvsadm(binary, argv, stdin):
    try:
        p = subprocess.run(["ipvsadm"] + argv, executable=binary,
                           input=stdin if stdin is not None else b"",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=CMD_TIMEOUT, env=CHILD_ENV, cwd="/")
        return p.stdout, p.stderr, status_text(p.returncode)
    except subprocess.TimeoutExpired as e:
        return e.stdout or b"", (e.stderr or b"") + b"<harness: TIMEOUT>\n", "timeout"
    except OSError as e:
        return b"", ("<harness: cannot execute %s: %s>\n" % (binary, e)).encode(), "exec-error"


CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C", "HOME": "/root"}


def run_case_here(case, binary):
    """Runs in the forked child, already in a fresh netns. Returns (transcript, problems)."""
    problems = []
    with open(NETNS_BATCH, "rb") as f:
        batch = f.read()
    p = subprocess.run(["ip", "-batch", "-"], input=batch, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=CMD_TIMEOUT, env=CHILD_ENV)
    if p.returncode != 0:
        problems.append("netns setup failed: " + p.stdout.decode(errors="replace"))
    out = ["=== " + case.name]
    for st in case.steps:
        out.extend(case.header_lines(st))
        if st.kind == "%":
            try:
                r = subprocess.run(["sh", "-c", st.text], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=CMD_TIMEOUT, env=CHILD_ENV, cwd=HERE)
                if r.returncode != 0:
                    problems.append("setup command %r failed (%d): %s" % (
                        st.text, r.returncode, r.stdout.decode(errors="replace").strip()))
            except subprocess.TimeoutExpired:
                problems.append("setup command %r timed out" % st.text)
            continue
        so, se, rc = run_ipvsadm(binary, st.argv(), st.stdin)
        out.extend(stream_lines("> ", so, "stdout"))
        out.extend(stream_lines("! ", se, "stderr"))
        out.append("? " + rc)
    return "\n".join(out) + "\n", problems


def spawn_case(case, binary):
    """Fork a child that unshares its netns, runs the case and writes the result to a file."""
    fd, path = tempfile.mkstemp(prefix="difftest-", dir=TMPDIR)
    os.close(fd)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
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
    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    if libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    for src, dst in (("hosts", "/etc/hosts"), ("resolv.conf", "/etc/resolv.conf")):
        s = os.path.join(HERE, src).encode()
        if os.path.islink(dst):
            dst = os.path.realpath(dst)
        if not os.path.exists(dst):
            continue
        if libc.mount(s, dst.encode(), None, MS_BIND, None) != 0:
            raise OSError(ctypes.get_errno(), "bind mount %s on %s" % (src, dst))
    subprocess.run(["modprobe", "ip_vs"], check=True)
    # Preload the schedulers/PE so that the first case using one does not pay for modprobe.
    for m in ("ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_sh", "ip_vs_dh",
              "ip_vs_sed", "ip_vs_nq", "ip_vs_lblc", "ip_vs_lblcr", "ip_vs_fo", "ip_vs_ovf",
              "ip_vs_mh", "ip_vs_pe_sip"):
        subprocess.run(["modprobe", "-q", m], stderr=subprocess.DEVNULL)
    TMPDIR = tempfile.mkdtemp(prefix="difftest-")


TMPDIR = None


def write_golden_topic(topic, cases_of_topic, results, merge):
    path = os.path.join(GOLDEN_DIR, topic + ".golden")
    old = read_golden(topic) if merge else {}
    blocks = []
    for c in cases_of_topic:
        if c.name in results:
            blocks.append(results[c.name])
        elif c.name in old:
            blocks.append(old[c.name])
    with open(path + ".tmp", "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        f.write("# Recorded from the oracle by `Scripts/difftest record`. Do not edit by hand.\n")
        f.write("".join(blocks))
    os.replace(path + ".tmp", path)


def diff_text(expected, actual, a_name, b_name):
    return "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True),
                                        a_name, b_name, n=3))


def main(argv):
    if len(argv) < 2 or argv[1] not in ("record", "check", "live", "show"):
        print(__doc__, file=sys.stderr)
        return 2
    mode = argv[1]
    filters = argv[2:]
    all_cases = load_cases()
    cases = select(all_cases, filters)
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

    passed = failed = 0
    if mode == "check":
        res = run_many([(c.name, c, OURS) for c in cases])
        cache = {}
        for c in cases:
            exp, src = expected_for(c, cache)
            t, probs = res[c.name]
            if exp is None:
                print("FAIL %s: no golden transcript (run `Scripts/difftest record`)" % c.name)
                failed += 1
                continue
            if t == exp and not probs:
                passed += 1
                continue
            failed += 1
            print("FAIL %s (%s:%d)" % (c.name, os.path.relpath(c.path, REPO), c.lineno))
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
                passed += 1
                continue
            failed += 1
            print("FAIL %s (%s:%d)" % (c.name, os.path.relpath(c.path, REPO), c.lineno))
            for p in po:
                print("  problem (oracle): " + p)
            for p in pu:
                print("  problem (ours): " + p)
            if to != tu:
                sys.stdout.write(diff_text(to or "", tu or "", "oracle", "ours"))
    print("time: %.1fs" % (time.monotonic() - t0), file=sys.stderr)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
