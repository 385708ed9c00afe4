#!/usr/bin/python3
r"""Coverage of the differential suite against the spec (host-side, python3, no dependencies).

    coverage.py [-v] [--stderr]

Reads coverage.txt (the spec's lists, extracted once: every command and option spelling,
every cell of the command/option matrix (§1.5) and of the tunnel matrix (§1.6), every listing
format (§2, §3.1) and every error message (§4, including the messages of §1.2-1.9 it refers
to)) and reports, for each item, the cases that exercise it. The evidence is the oracle's
transcripts in golden/ plus the `$` lines of cases/: an option counts when it appears in a `$`
line, a message when the oracle printed it, a format when the oracle's output has it.
Items marked `unreachable=` are not looked for (the reason is printed with -v).

  -v        print every item with the cases covering it (default: only the uncovered ones)
  --stderr  also list the oracle's stderr lines that match no error item

Exit status: 0 when every item is covered or marked unreachable, 1 otherwise, 2 on a data or
format problem (e.g. a case without a recorded transcript).

coverage.txt: one item per line, TAB-separated: KIND, SECTION, ITEM, then KEY=VALUE fields.
  command  §1.3  SPELLING                  a `$` line starts with this command spelling
  option   §1.4  SPELLING  name=OPTNAME    a `$` line uses this option spelling
  cell     §1.5  COMMAND OPTNAME MARK      matrix cell; MARK x (illegal), + (compulsory),
                                           1 (mutually exclusive), - (optional), see below
  tcell    §1.6  TUNTYPE OPTNAME MARK      tunnel-type matrix cell, same marks
  error    §4.x  MESSAGE                   the oracle printed this stderr line; printf
                                           placeholders %s (any text) and %d %u %i (a number);
                                           \n separates the lines of a multi-line message
  format   §2.x  DESCRIPTION               a run meeting all the KEY=VALUE conditions
Conditions (all must hold for one run): cmd=COMMAND (internal name, "none" for no arguments),
opts=OPT,OPT (option names present), noopts=OPT,OPT (absent), status=N, out=REGEX (a stdout
line matches; may be repeated), noout=REGEX (no stdout line matches; noout=^ means no output),
err=REGEX (a stderr line matches), case=NAME (the run is in that case). Other fields: phase=parse|matrix on error items (messages printed before the
matrix check has passed), unreachable=REASON.

Cells: x is covered by the oracle's "Illegal 'OPT' option with the 'CMD' command", + by "You
need to supply the 'OPT' option ...", - by a run of CMD with OPT that got past parsing and the
matrix (no stderr line matching a phase=parse|matrix message), 1 by both a "The option ...
conflicts ..." message naming OPT and such a run. Tunnel cells likewise with the tunnel-type
messages; a 1 cell also needs a successful run with that --tun-type and option.
"""

import os
import re
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "Tests", "lib"))
import ipvstest  # noqa: E402  (Tests/lib: the one reader of the case and transcript formats)

CASES_DIR = os.path.join(HERE, "cases")
GOLDEN_DIR = os.path.join(HERE, "golden")
DATA = os.path.join(HERE, "coverage.txt")

# ---------------------------------------------------------------------------------------------
# popt-like reading of an ipvsadm argv (enough to know the command and the options used)

COMMANDS = {  # spelling -> internal command name (cmdnames[] in ipvsadm.c)
    "-A": "add-service", "--add-service": "add-service",
    "-E": "edit-service", "--edit-service": "edit-service",
    "-D": "delete-service", "--delete-service": "delete-service",
    "-C": "flush", "--clear": "flush",
    "-L": "list", "-l": "list", "--list": "list",
    "-Z": "zero", "--zero": "zero",
    "-a": "add-server", "--add-server": "add-server",
    "-e": "edit-server", "--edit-server": "edit-server",
    "-d": "delete-server", "--delete-server": "delete-server",
    "--set": "set",
    "--start-daemon": "start-daemon", "--stop-daemon": "stop-daemon",
    "-R": "restore", "--restore": "restore",
    "-S": "save", "--save": "save",
    "-h": "help", "--help": "help",
    "-v": "version", "--version": "version",
}
# (short, long, option name or None, argument: 0 none, 1 required, 2 optional)
OPTIONS = [
    ("A", "add-service", None, 0), ("E", "edit-service", None, 0),
    ("D", "delete-service", None, 0), ("C", "clear", None, 0), ("L", "list", None, 0),
    ("l", None, None, 0), ("Z", "zero", None, 0), ("a", "add-server", None, 0),
    ("e", "edit-server", None, 0), ("d", "delete-server", None, 0), (None, "set", None, 0),
    ("h", "help", None, 0), ("v", "version", None, 0), ("R", "restore", None, 0),
    ("S", "save", None, 0), (None, "start-daemon", None, 1), (None, "stop-daemon", None, 1),
    ("t", "tcp-service", "service-address", 1), ("u", "udp-service", "service-address", 1),
    (None, "sctp-service", "service-address", 1), ("f", "fwmark-service", "service-address", 1),
    ("s", "scheduler", "scheduler", 1), ("p", "persistent", "persistent", 2),
    ("M", "netmask", "netmask", 1), ("r", "real-server", "real-server", 1),
    ("m", "masquerading", "forwarding-method", 0), ("i", "ipip", "forwarding-method", 0),
    ("g", "gatewaying", "forwarding-method", 0), ("w", "weight", "weight", 1),
    ("x", "u-threshold", "u-threshold", 1), ("y", "l-threshold", "l-threshold", 1),
    ("n", "numeric", "numeric", 0), ("c", "connection", "connection", 0),
    (None, "mcast-interface", "mcast-interface", 1), (None, "syncid", "syncid", 1),
    (None, "timeout", "timeout", 0), (None, "daemon", "daemon", 0), (None, "stats", "stats", 0),
    (None, "rate", "rate", 0), (None, "thresholds", "thresholds", 0),
    (None, "persistent-conn", "persistent-conn", 0), (None, "nosort", "nosort", 0),
    (None, "sort", "sort", 0), ("X", "exact", "exact", 0), ("6", "ipv6", "ipv6", 0),
    ("o", "ops", "ops", 0), (None, "pe", "pe", 1), ("b", "sched-flags", "sched-flags", 1),
    (None, "mcast-group", "mcast-group", 1), (None, "mcast-port", "mcast-port", 1),
    (None, "mcast-ttl", "mcast-ttl", 1), (None, "sync-maxlen", "sync-maxlen", 1),
    (None, "tun-info", "tun-info", 0), (None, "tun-type", "tun-type", 1),
    (None, "tun-port", "tun-port", 1), (None, "tun-nocsum", "tun-nocsum", 0),
    (None, "tun-csum", "tun-csum", 0), (None, "tun-remcsum", "tun-remcsum", 0),
]
SHORT = {o[0]: o for o in OPTIONS if o[0]}
LONG = {o[1]: o for o in OPTIONS if o[1]}


def read_argv(argv):
    """-> (command spelling or None, [(spelling, option name or None, value)])

    The command is the first option if it is one (ipvsadm's rule); unknown options are kept
    with name None and stop the reading (popt stops there too)."""
    used = []
    i = 0
    while i < len(argv):
        w = argv[i]
        i += 1
        if w == "--":
            break
        if w.startswith("--"):
            name, eq, val = w[2:].partition("=")
            o = LONG.get(name)
            if o is None:
                used.append((w, None, None))
                break
            if o[3] == 1 and not eq:
                val = argv[i] if i < len(argv) else None
                i += 1
            elif o[3] == 2 and not eq:
                if i < len(argv) and not argv[i].startswith("-"):
                    val, i = argv[i], i + 1
                else:
                    val = None
            used.append(("--" + name, o[2], val if (eq or o[3]) else None))
            continue
        if w.startswith("-") and len(w) > 1:
            j = 1
            while j < len(w):
                o = SHORT.get(w[j])
                if o is None:
                    used.append(("-" + w[j], None, None))
                    return (used[0][0] if used and used[0][0] in COMMANDS else None), used
                rest = w[j + 1:]
                val = None
                if o[3] == 1:
                    if rest:
                        val = rest
                    else:
                        val = argv[i] if i < len(argv) else None
                        i += 1
                    j = len(w)
                elif o[3] == 2:
                    if rest:
                        val = rest
                    elif i < len(argv) and not argv[i].startswith("-"):
                        val, i = argv[i], i + 1
                    j = len(w)
                else:
                    j += 1
                used.append(("-" + o[0], o[2], val))
            continue
        # a leftover argument: nothing to record
    cmd = used[0][0] if used and used[0][0] in COMMANDS else None
    return cmd, used


# ---------------------------------------------------------------------------------------------
# Cases and transcripts

class Run:
    """One '$' run of a transcript (ipvstest.Run) and what its command line uses."""

    def __init__(self, case, run):
        self.case = case
        self.text = run.text
        self.stdout = run.stdout
        self.stderr = run.stderr
        self.status = run.status
        try:
            argv = shlex.split(run.text)
        except ValueError:
            argv = []
        self.argv = argv
        cmd, used = read_argv(argv)
        self.cmd = "none" if not argv else COMMANDS.get(cmd)
        self.cmd_spelling = cmd
        self.spellings = set(u[0] for u in used)
        self.opts = set(u[1] for u in used if u[1])
        self.values = {u[1]: u[2] for u in used if u[1]}


def parse_cases():
    """{case name: (topic, [$ line texts])} in file order."""
    return {c.name: (c.topic, c.commands()) for c in ipvstest.load_cases(CASES_DIR)}


def parse_goldens():
    """{case name: [Run]} from golden/*.golden (the oracle's transcripts)."""
    runs = {}
    for fn in sorted(os.listdir(GOLDEN_DIR)):
        if not fn.endswith(".golden"):
            continue
        for name, t in ipvstest.read_transcripts(os.path.join(GOLDEN_DIR, fn)).items():
            runs[name] = [Run(name, r) for r in t.runs]
    return runs


# ---------------------------------------------------------------------------------------------
# Items

class Item:
    def __init__(self, lineno, kind, section, text, fields):
        self.lineno = lineno
        self.kind = kind
        self.section = section
        self.text = text
        self.fields = fields          # [(key, value)]
        self.cases = []
        self.unreachable = self.get("unreachable")

    def get(self, key, default=None):
        for k, v in self.fields:
            if k == key:
                return v
        return default

    def all(self, key):
        return [v for k, v in self.fields if k == key]

    def label(self):
        return "%s %s" % (self.kind, self.text)


def read_items():
    items = []
    with open(DATA, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.split("\t")
            if len(parts) < 3:
                raise ValueError("coverage.txt:%d: need KIND, SECTION, ITEM (TAB-separated)" % lineno)
            fields = []
            for p in parts[3:]:
                if "=" not in p:
                    raise ValueError("coverage.txt:%d: field %r is not KEY=VALUE" % (lineno, p))
                k, v = p.split("=", 1)
                fields.append((k, v))
            it = Item(lineno, parts[0], parts[1], parts[2], fields)
            if it.kind not in ("command", "option", "cell", "tcell", "error", "format"):
                raise ValueError("coverage.txt:%d: unknown kind %r" % (lineno, it.kind))
            items.append(it)
    return items


def message_regex(msg):
    """printf text -> regex for a whole stderr line."""
    out = []
    for tok in re.split(r"(%[-0-9]*[sdui])", msg):
        if re.fullmatch(r"%[-0-9]*s", tok):
            out.append(".*")
        elif re.fullmatch(r"%[-0-9]*[dui]", tok):
            out.append(r"-?\d+")
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out) + r"\Z")


CONDITIONS = ("cmd", "opts", "noopts", "status", "case", "out", "noout", "err")


def conditions_hold(item, run):
    for k, v in item.fields:
        if k == "cmd" and run.cmd != v:
            return False
        if k == "opts" and not all(o in run.opts for o in v.split(",")):
            return False
        if k == "noopts" and any(o in run.opts for o in v.split(",")):
            return False
        if k == "status" and run.status != v:
            return False
        if k == "case" and run.case != v:
            return False
        if k == "out" and not any(re.search(v, line) for line in run.stdout):
            return False
        if k == "noout" and any(re.search(v, line) for line in run.stdout):
            return False
        if k == "err" and not any(re.search(v, line) for line in run.stderr):
            return False
    return True


def main(argv):
    verbose = "-v" in argv
    show_stderr = "--stderr" in argv
    try:
        items = read_items()
    except (OSError, ValueError) as e:
        print("coverage: %s" % e, file=sys.stderr)
        return 2
    try:
        cases = parse_cases()
    except (OSError, ipvstest.CaseFormatError) as e:
        print("coverage: %s" % e, file=sys.stderr)
        return 2
    golden = parse_goldens()
    problems = []
    for name, (topic, lines) in cases.items():
        if name not in golden:
            problems.append("case %s has no transcript in golden/%s.golden" % (name, topic))
        elif [r.text for r in golden[name]] != lines:
            problems.append("golden/%s.golden: transcript of %s does not match its case" % (topic, name))
    runs = [r for name in cases for r in golden.get(name, [])]

    errors = [it for it in items if it.kind == "error"]
    for it in errors:
        it.regex = message_regex(it.text.split("\\n")[0])
    early = [it.regex for it in errors if it.get("phase") in ("parse", "matrix")]

    def passed_matrix(run):
        return run.status is not None and not any(
            rx.match(line) for line in run.stderr for rx in early)

    def stderr_has(text):
        return [r for r in runs if text in r.stderr]

    def add(it, rs):
        for r in rs:
            if r.case not in it.cases:
                it.cases.append(r.case)

    for it in items:
        if it.kind == "command":
            add(it, [r for r in runs if r.cmd_spelling == it.text])
        elif it.kind == "option":
            add(it, [r for r in runs if it.text in r.spellings])
        elif it.kind == "cell":
            cmd, opt, mark = it.text.split()
            if mark == "x":
                add(it, stderr_has("Illegal '%s' option with the '%s' command" % (opt, cmd)))
            elif mark == "+":
                add(it, stderr_has("You need to supply the '%s' option for the '%s' command" % (opt, cmd)))
            else:
                ok = [r for r in runs if r.cmd == cmd and opt in r.opts and passed_matrix(r)]
                if mark == "1":
                    rx = re.compile(r"The option '(.*)' conflicts with the '(.*)' option in the '%s' command\Z"
                                    % re.escape(cmd))
                    conf = [r for r in runs for line in r.stderr
                            if rx.match(line) and opt in rx.match(line).groups()]
                    if not conf:
                        ok = []
                    else:
                        ok = ok + conf
                add(it, ok)
        elif it.kind == "tcell":
            ttype, opt, mark = it.text.split()
            if mark == "x":
                add(it, stderr_has("Illegal '%s' option with the '%s' tunnel type" % (opt, ttype)))
            elif mark == "+":
                add(it, stderr_has("You need to supply the '%s' option for the '%s' tunnel type" % (opt, ttype)))
            else:
                ok = [r for r in runs if r.values.get("tun-type") == ttype and opt in r.opts
                      and r.status == "0"]
                rx = re.compile(r"The option '(.*)' conflicts with the '(.*)' option in the '%s' tunnel type\Z"
                                % re.escape(ttype))
                conf = [r for r in runs for line in r.stderr
                        if rx.match(line) and opt in rx.match(line).groups()]
                if mark == "1" and not conf:
                    ok = []
                add(it, ok + (conf if ok else []))
        elif it.kind == "error":
            add(it, [r for r in runs if any(it.regex.match(line) for line in r.stderr)
                     and conditions_hold(it, r)])
        elif it.kind == "format":
            if any(k in CONDITIONS for k, _ in it.fields):
                add(it, [r for r in runs if conditions_hold(it, r)])

    # report
    total = len(items)
    unreachable = [it for it in items if it.unreachable]
    covered = [it for it in items if not it.unreachable and it.cases]
    uncovered = [it for it in items if not it.unreachable and not it.cases]
    odd = [it for it in unreachable if it.cases]
    for it in items:
        if it.unreachable:
            if verbose:
                print("unreachable %-6s %s  (%s)" % (it.section, it.label(), it.unreachable))
        elif it.cases:
            if verbose:
                more = " +%d" % (len(it.cases) - 3) if len(it.cases) > 3 else ""
                print("covered     %-6s %s  <- %s%s" % (it.section, it.label(), " ".join(it.cases[:3]), more))
        else:
            print("UNCOVERED   %-6s %s  (coverage.txt:%d)" % (it.section, it.label(), it.lineno))
    for it in odd:
        print("NOTE coverage.txt:%d: %s is marked unreachable but covered by %s"
              % (it.lineno, it.label(), " ".join(it.cases[:3])))
    if show_stderr:
        seen = set()
        for r in runs:
            expect = []     # the further lines of a multi-line message (written with \n)
            for line in r.stderr:
                if expect and message_regex(expect[0]).match(line):
                    expect = expect[1:]
                    continue
                hit = [it for it in errors if it.regex.match(line)]
                expect = hit[0].text.split("\\n")[1:] if hit else []
                if not hit and line not in seen:
                    seen.add(line)
                    print("stderr line matching no error item: %r (%s)" % (line, r.case))
    for p in problems:
        print("PROBLEM " + p)
    kinds = ["command", "option", "cell", "tcell", "error", "format"]
    for k in kinds:
        ks = [it for it in items if it.kind == k]
        print("%-8s %4d items: %4d covered, %3d unreachable, %3d uncovered" % (
            k, len(ks), sum(1 for it in ks if it in covered),
            sum(1 for it in ks if it.unreachable), sum(1 for it in ks if it in uncovered)))
    print("coverage: %d items, %d covered, %d unreachable, %d uncovered (%d cases, %d runs)" % (
        total, len(covered), len(unreachable), len(uncovered), len(cases), len(runs)))
    if problems:
        return 2
    return 1 if uncovered else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
