"""What the project's Python test tools share (python3 standard library only).

Used by Tests/Differential/harness.py (the differential suite, in the VM), by
Tests/Differential/coverage.py (on the host), by Scripts/bench-guest.py (the benchmark, in
the VM) and by the feature tests (Tests/Features/run.py, crosscheck.py, in the VM). The VM sees the host's / read-only at the same paths, so the scripts import this file
from its place in the repository:

    sys.path.insert(0, os.path.join(REPO, "Tests", "lib"))
    import ipvstest

Four parts:
- the differential suite's formats (Tests/Differential/README.md): `load_cases` and
  `parse_case_file` read `.cases` files into `Case`s and `Step`s; `parse_transcripts` and
  `read_transcripts` read transcripts (golden files, overrides) into `Transcript`s, each with
  its text and its `Run`s; `output_lines`, `status_text` and `write_golden` write them;
- network namespaces: `enter_fresh_netns` (unshare, then the standard set-up of netns.batch:
  lo up, dummy0 holding the test ranges), `Netns` (one such namespace kept open, to enter and
  leave), `private_mounts` (a private mount namespace with bind mounts), `load_ipvs`;
- processes: `run` (a timeout, stdin given, stdout and stderr captured) and `spawn_timed`
  (posix_spawn and wait4 for wall and CPU times, streams to files, a timeout);
- `Tally`: a test runner's PASS/FAIL lines and its last line, "N passed, N failed", which
  Scripts/test reads (the shell runners' twin is Tests/lib/check.sh).
"""

import ctypes
import fnmatch
import math
import os
import shlex
import signal
import subprocess
import sys
import time

LIB = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(LIB))
DIFFERENTIAL = os.path.join(REPO, "Tests", "Differential")
NETNS_BATCH = os.path.join(DIFFERENTIAL, "netns.batch")

# The environment of every process the tools start: fixed, minimal, C locale.
CHILD_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "LANG": "C", "HOME": "/root"}


# ---------------------------------------------------------------------------------------------
# Case files

class CaseFormatError(Exception):
    pass


class Step:
    """One line of a case: kind '$' (an ipvsadm run) or '%' (a set-up shell command)."""

    def __init__(self, kind, text, lineno):
        self.kind = kind
        self.text = text          # the text after "$ " / "% "
        self.lineno = lineno
        self.stdin_lines = []     # the raw case lines ("< ..." / "<~ ...") of a '$' step
        self.stdin = None         # bytes, or None when there is no "<" line

    def argv(self):
        return shlex.split(self.text)

    def header_lines(self):
        """The lines of the case a transcript copies for this step."""
        return [self.kind + (" " + self.text if self.text else "")] + self.stdin_lines


class Case:
    def __init__(self, name, topic, path, lineno):
        self.name = name
        self.topic = topic        # the file name without .cases
        self.path = path
        self.lineno = lineno
        self.steps = []

    def commands(self):
        """The texts of the '$' steps, in order."""
        return [st.text for st in self.steps if st.kind == "$"]


def decode_escapes(s):
    """C-like escapes of '<~' lines: \\n \\r \\t \\\\ \\0 \\xHH."""
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


CASE_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")


def parse_case_file(path):
    """[Case] of one .cases file; CaseFormatError on a line the format does not allow."""
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
                if not name or any(ch not in CASE_NAME_CHARS for ch in name):
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


def load_cases(cases_dir):
    """Every case of cases_dir/*.cases, files in name order; CaseFormatError on a duplicate
    name or a case without steps."""
    all_cases = []
    seen = {}
    for fn in sorted(os.listdir(cases_dir)):
        if not fn.endswith(".cases"):
            continue
        for c in parse_case_file(os.path.join(cases_dir, fn)):
            if c.name in seen:
                raise CaseFormatError("duplicate case name %s (%s and %s)" % (c.name, seen[c.name], c.path))
            seen[c.name] = c.path
            if not c.steps:
                raise CaseFormatError("%s:%d: case %s has no steps" % (c.path, c.lineno, c.name))
            all_cases.append(c)
    return all_cases


def select(cases, filters):
    """The cases whose name or topic equals, or matches as an fnmatch pattern, one of the
    filters (all of them when there is no filter)."""
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
# Transcripts (golden files)

GOLDEN_HEADER = "# Recorded from the oracle by `Scripts/difftest record`. Do not edit by hand.\n"


class Run:
    """One '$' step of a transcript and what the program printed."""

    def __init__(self, text):
        self.text = text          # the text after "$ "
        self.stdin_lines = []     # the "<" / "<~" lines copied from the case
        self.stdout = []          # lines, without "> "
        self.stderr = []          # lines, without "! "
        self.status = None        # the text after "? ": a number, "timeout" or "exec-error"


class Transcript:
    def __init__(self, name):
        self.name = name
        self.lines = []           # from the "=== name" line on
        self.runs = []

    @property
    def text(self):
        """The transcript as the harness writes and compares it: its lines, trailing empty
        lines dropped, ending with one newline."""
        return "\n".join(self.lines).rstrip("\n") + "\n"


def parse_transcripts(text):
    """{case name: Transcript}, in file order. Lines before the first '===' are comments; a
    later transcript of the same name replaces an earlier one."""
    out = {}
    cur = None
    run = None
    for line in text.split("\n"):
        if line.startswith("=== "):
            cur = Transcript(line[4:].strip())
            out[cur.name] = cur
            run = None
        if cur is None:
            continue
        cur.lines.append(line)
        if line == "$" or line.startswith("$ "):
            run = Run(line[2:])
            cur.runs.append(run)
        elif line.startswith("% "):
            run = None
        elif run is None:
            continue
        elif line.startswith("> "):
            run.stdout.append(line[2:])
        elif line.startswith("! "):
            run.stderr.append(line[2:])
        elif line.startswith("? "):
            run.status = line[2:]
        elif line == "<" or line.startswith("< ") or line.startswith("<~ "):
            run.stdin_lines.append(line)
    return out


def read_transcripts(path):
    """parse_transcripts of a file; {} when there is no such file."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        return parse_transcripts(f.read())


def stream_lines(prefix, data, name):
    """A program's output (bytes) as transcript lines: each line behind prefix, then a marker
    when the last line has no newline."""
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


def status_text(returncode):
    """An exit status as a transcript shows it; a signal like a shell does: 128 + its number."""
    return str(128 - returncode) if returncode < 0 else str(returncode)


def output_lines(stdout, stderr, status):
    """The lines that follow a run's '$' (and '<') lines: stdout, stderr, '? status'."""
    return stream_lines("> ", stdout, "stdout") + stream_lines("! ", stderr, "stderr") + ["? " + status]


def write_golden(path, texts):
    """A golden file: the header comment, then the transcripts' texts in the order given
    (written beside and renamed over path)."""
    with open(path + ".tmp", "w", encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        f.write(GOLDEN_HEADER)
        f.write("".join(texts))
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------------------------------------
# Processes

class Result:
    """What `run` saw: stdout and stderr (bytes; stderr is b"" when merged into stdout), the
    exit status (negative: killed by that signal; None when it did not finish), whether the
    timeout killed it, and the OSError that kept it from starting, if one did."""

    def __init__(self, stdout=b"", stderr=b"", returncode=None, timed_out=False, error=None):
        self.stdout = stdout
        self.stderr = stderr
        self.returncode = returncode
        self.timed_out = timed_out
        self.error = error

    @property
    def ok(self):
        return self.returncode == 0


def run(argv, stdin=None, timeout=None, env=None, cwd=None, executable=None, merge_stderr=False):
    """Runs argv to its end or to the timeout (seconds; it is then killed) and captures its
    output. stdin: bytes to write to it, or None for /dev/null. executable: the file to run
    when argv[0] is only the name it is given. env: CHILD_ENV unless given."""
    try:
        p = subprocess.run(argv, executable=executable,
                           input=stdin, stdin=subprocess.DEVNULL if stdin is None else None,
                           stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                           timeout=timeout, env=CHILD_ENV if env is None else env, cwd=cwd)
        return Result(p.stdout, p.stderr or b"", p.returncode)
    except subprocess.TimeoutExpired as e:
        return Result(e.stdout or b"", e.stderr or b"", None, timed_out=True)
    except OSError as e:
        return Result(error=e)


def spawn_timed(argv, stdin_path="/dev/null", stdout_path="/dev/null", stderr_path="/dev/null",
                timeout=None, env=None):
    """Runs argv (posix_spawn, then wait4) with its streams on files, killing it after timeout
    seconds. Returns {wall_ms (spawn to reap), user_ms, sys_ms (from its rusage), status
    (negative: killed by that signal), rusage_maxrss_kb}. A child made by posix_spawn starts
    from a vfork of this process and inherits its peak RSS at exec: rusage_maxrss_kb is at least
    this Python's RSS, no measure of the child alone (Scripts/bench-guest.py uses GNU time)."""
    running = []

    def on_alarm(signum, frame):
        for pid in running:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    actions = [
        (os.POSIX_SPAWN_OPEN, 0, stdin_path, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
        (os.POSIX_SPAWN_OPEN, 2, stderr_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
    ]
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        if timeout:
            signal.alarm(max(1, math.ceil(timeout)))
        t0 = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, CHILD_ENV if env is None else env, file_actions=actions)
        running.append(pid)
        while True:
            try:
                _, status, ru = os.wait4(pid, 0)
                break
            except InterruptedError:
                continue
        t1 = time.perf_counter()
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return {"wall_ms": (t1 - t0) * 1000.0, "user_ms": ru.ru_utime * 1000.0,
            "sys_ms": ru.ru_stime * 1000.0, "status": code, "rusage_maxrss_kb": ru.ru_maxrss}


# ---------------------------------------------------------------------------------------------
# Namespaces

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


def setup_netns(timeout=20):
    """The standard set-up of the current network namespace (netns.batch: lo up, dummy0 with
    addresses covering the test ranges, so that the kernel accepts real servers there).
    Returns the Result of `ip -batch` (stderr merged into stdout)."""
    with open(NETNS_BATCH, "rb") as f:
        batch = f.read()
    return run(["ip", "-batch", "-"], stdin=batch, timeout=timeout, merge_stderr=True)


def describe_failure(result):
    """A Result that is not ok, in a few words with its output."""
    if result.error is not None:
        how = str(result.error)
    elif result.timed_out:
        how = "timed out"
    else:
        how = "exit %s" % result.returncode
    return "%s: %s" % (how, result.stdout.decode(errors="replace").strip())


def enter_fresh_netns(timeout=20):
    """Moves this process (and the children it starts from now on) into a new network
    namespace, which has an empty IPVS table, and sets it up (setup_netns). Returns the
    set-up's Result; the caller decides what a failed set-up means."""
    _check(libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    return setup_netns(timeout)


def current_netns():
    """A descriptor of this process's network namespace (to come back to it with setns)."""
    return os.open("/proc/self/ns/net", os.O_RDONLY)


class Netns:
    """A fresh network namespace with the standard set-up, entered by this process at its
    creation; `enter()` comes back to it later, `leave()` goes to `home` (a descriptor from
    current_netns()). It dies with its last reference: `close()`, and no process left in it."""

    def __init__(self, home):
        self.home = home
        r = enter_fresh_netns()
        self.fd = current_netns()
        if not r.ok:
            raise OSError("network namespace set-up failed (%s)" % describe_failure(r))

    def enter(self):
        _check(libc.setns(self.fd, CLONE_NEWNET), "setns(namespace)")

    def leave(self):
        _check(libc.setns(self.home, CLONE_NEWNET), "setns(home)")

    def close(self):
        os.close(self.fd)


def private_mounts(binds):
    """Moves this process into a private mount namespace and bind-mounts each (source, target)
    of binds there (a target that is a symbolic link is resolved; a missing one is skipped)."""
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for src, dst in binds:
        if os.path.islink(dst):
            dst = os.path.realpath(dst)
        if not os.path.exists(dst):
            continue
        _check(libc.mount(src.encode(), dst.encode(), None, MS_BIND, None),
               "bind mount %s on %s" % (src, dst))


def load_ipvs(required=(), optional=()):
    """modprobe ip_vs and the required modules (an error if one fails), then the optional
    ones quietly."""
    for m in ("ip_vs",) + tuple(required):
        subprocess.run(["modprobe", m], check=True)
    for m in optional:
        subprocess.run(["modprobe", "-q", m], stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------------------------
# Results

class Tally:
    """Counts a runner's checks and prints them: "PASS name", or "FAIL name" with the
    details indented under it (at most `detail_lines` of them), and at the end `summary`'s
    "N passed, N failed", the line Scripts/test adds up."""

    def __init__(self, detail_lines=40, out=None):
        self.passed = 0
        self.failed = 0
        self.detail_lines = detail_lines
        self.out = out

    def _print(self, line):
        print(line, file=self.out or sys.stdout, flush=True)

    def passes(self, name=None):
        """One check passed; its PASS line unless `name` is None (runners that list failures only)."""
        self.passed += 1
        if name is not None:
            self._print("PASS " + name)

    def fails(self, name, details=""):
        """One check failed: its FAIL line, then the details indented."""
        self.failed += 1
        self._print("FAIL " + name)
        for line in str(details).strip().splitlines()[:self.detail_lines]:
            self._print("    " + line)

    def check(self, name, ok, details=""):
        """PASS or FAIL `name` as `ok` says; `details` explain a failure."""
        if ok:
            self.passes(name)
        else:
            self.fails(name, details)
        return ok

    def summary(self):
        """Prints "N passed, N failed"; the exit status: 0 only if nothing failed."""
        self._print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0
