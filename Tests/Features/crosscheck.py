#!/usr/bin/python3
"""Our --json and --metrics against the oracle's text listings of the same live table, in the
current network namespace (the data-path tests run it on the director after real traffic).

    crosscheck.py OURS

Checks, each printed as PASS/FAIL (exit status 0 only if all pass):
- every JSON document (-Ln, one service, -c, --timeout, --daemon) validates against
  Docs/ipvsadm.schema.json (Debian's python3-jsonschema);
- the values of `-Ln --json` with each listing option equal the oracle's `-Ln --stats --exact`,
  `--rate --exact`, `--thresholds`, `--persistent-conn` and plain `-Ln`; `-Lc --json` equals the oracle's `-Lnc`;
  `--timeout` and `--daemon` likewise;
- `--metrics` and `--metrics=services` pass `promtool check metrics` and their values equal the
  oracle's `--stats --exact`, `--thresholds` and `-Ln`.
Counters and rates move (connections close, the estimator updates every 2 s): the oracle is
sampled before and after ours, and a value passes if it equals either sample; three tries.
"""

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "Tests", "lib"))
import ipvstest  # noqa: E402  (Tests/lib: the PASS/FAIL tally)
SCHEMA = os.path.join(REPO, "Docs", "ipvsadm.schema.json")
ORACLE = "/sbin/ipvsadm"
OURS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, ".build", "release", "ipvsadm")

tally = ipvstest.Tally(detail_lines=30)
report = tally.check


def run(*argv):
    p = subprocess.run(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("%s: status %d: %s" % (" ".join(argv), p.returncode, p.stderr.decode()))
    return p.stdout.decode()


# --- the oracle's text, as {label: [numbers or words]} ----------------------------------------

def table_rows(text, count):
    """{service label, or (service label, real server): the last `count` words (all words after
    the label when count is 0)} of a -Ln listing in one of its forms (title lines skipped).
    A label is `TCP 10.0.0.1:80`, `FWM 7` or `FWM 7 IPv6`."""
    rows = {}
    service = None
    for line in text.splitlines()[1:]:
        if line.startswith("Prot ") or line.startswith("  -> RemoteAddress"):
            continue
        words = line.split()
        if line.startswith("  -> "):
            rows[(service, words[1])] = words[len(words) - count:] if count else words[2:]
        else:
            n = 3 if words[0] == "FWM" and len(words) > 2 and words[2] == "IPv6" else 2
            service = " ".join(words[:n])
            rows[service] = words[len(words) - count:] if count else words[n:]
    return rows


def endpoint(address, port, family):
    return ("[%s]:%d" if family == "inet6" else "%s:%d") % (address, port)


def service_label(s):
    if "fwmark" in s:
        return "FWM %d%s" % (s["fwmark"], " IPv6" if s["family"] == "inet6" else "")
    return "%s %s" % (s["protocol"].upper(), endpoint(s["address"], s["port"], s["family"]))


COUNTERS = ["connections", "packets_in", "packets_out", "bytes_in", "bytes_out"]


def json_rows(document, form):
    """The same rows from our JSON, for the oracle's listing `form`."""
    rows = {}
    for s in document["services"]:
        label = service_label(s)
        if form in ("stats", "rate"):
            key = "stats" if form == "stats" else "rates"
            rows[label] = [str(s[key][c]) for c in COUNTERS]
        for d in s["real_servers"]:
            server = endpoint(d["address"], d["port"], d["family"])
            if form in ("stats", "rate"):
                key = "stats" if form == "stats" else "rates"
                rows[(label, server)] = [str(d[key][c]) for c in COUNTERS]
            elif form == "thresholds":
                rows[(label, server)] = [str(d[k]) for k in ("upper_threshold", "lower_threshold",
                                                            "active_connections", "inactive_connections")]
            elif form == "persistent":
                rows[(label, server)] = [str(d[k]) for k in ("weight", "persistent_connections",
                                                            "active_connections", "inactive_connections")]
            elif form == "plain":
                method = {"masq": "Masq", "route": "Route", "tunnel": "Tunnel", "local": "Local"}[d["forwarding"]]
                rows[(label, server)] = [method, str(d["weight"]), str(d["active_connections"]),
                                         str(d["inactive_connections"])]
    return rows


FORMS = {"stats": (["-Ln", "--stats", "--exact"], 5), "rate": (["-Ln", "--rate", "--exact"], 5),
         "thresholds": (["-Ln", "--thresholds"], 4), "persistent": (["-Ln", "--persistent-conn"], 4),
         "plain": (["-Ln"], 0)}


def oracle_rows(form):
    """The oracle's rows for `form`: services and real servers for the counters, real servers
    only for the other forms (their service lines hold no numbers)."""
    args, count = FORMS[form]
    rows = table_rows(run(ORACLE, *args), count)
    if form in ("stats", "rate"):
        return rows
    return {k: v for k, v in rows.items() if isinstance(k, tuple)}


def compare(name, ours_fn, oracle_fn):
    """ours_fn() -> rows, oracle_fn() -> rows; equal to the oracle sampled before or after."""
    last = None
    for _ in range(3):
        before = oracle_fn()
        ours = ours_fn()
        after = oracle_fn()
        if ours in (before, after):
            report(name + " (%d rows)" % len(ours), True)
            return
        last = (ours, before, after)
    ours, before, after = last
    diff = ["%s: ours %s, oracle %s / %s" % (k, ours.get(k), before.get(k), after.get(k))
            for k in sorted(set(ours) | set(before), key=str) if ours.get(k) not in (before.get(k), after.get(k))]
    report(name, False, "\n".join(diff[:20]))


def main():
    import jsonschema
    schema = json.load(open(SCHEMA))
    validator = jsonschema.Draft202012Validator(schema)

    documents = {}
    everything = ["-Ln", "--json", "--stats", "--rate", "--thresholds", "--persistent-conn", "--tun-info"]
    for args in (["-Ln", "--json"], everything, ["-Lc", "--json"], ["-L", "--timeout", "--json"],
                 ["-L", "--daemon", "--json"]):
        text = run(OURS, *args)
        document = json.loads(text)
        documents[" ".join(args)] = document
        errors = [e.message for e in validator.iter_errors(document)]
        report("json: ipvsadm %s validates against the schema" % " ".join(args), not errors, "\n".join(errors))
    services = documents["-Ln --json"]["services"]
    if services and "address" in services[0]:
        s = services[0]
        one = json.loads(run(OURS, "-L", "-%s" % s["protocol"][0], endpoint(s["address"], s["port"], s["family"]), "--json"))
        errors = [e.message for e in validator.iter_errors(one)]
        report("json: one service validates and is that service",
               not errors and len(one["services"]) == 1 and one["services"][0]["port"] == s["port"], "\n".join(errors))

    for form in FORMS:
        # Ours with the same listing options (each adds its fields to the JSON) and --json.
        compare("json: %s --json equals the oracle's %s" % (" ".join(FORMS[form][0]), " ".join(FORMS[form][0])),
                lambda: json_rows(json.loads(run(OURS, *FORMS[form][0], "--json")), form), lambda: oracle_rows(form))

    def our_connections():
        rows = []
        for c in json.loads(run(OURS, "-Lc", "--json"))["connections"]:
            fam = "inet6" if ":" in c["client"]["address"] else "inet"
            rows.append((c["protocol"].upper(), c["state"], endpoint(c["client"]["address"], c["client"]["port"], fam),
                         endpoint(c["virtual"]["address"], c["virtual"]["port"], fam),
                         endpoint(c["destination"]["address"], c["destination"]["port"], fam)))
        return {"connections": sorted(rows)}

    def oracle_connections():
        rows = []
        for line in run(ORACLE, "-Lnc").splitlines()[2:]:
            w = line.split()
            rows.append((w[0], w[2], w[3], w[4], w[5]))
        return {"connections": sorted(rows)}

    compare("json: -Lc --json equals the oracle's -Lnc (expiry aside)", our_connections, oracle_connections)
    timeouts = documents["-L --timeout --json"]["timeouts"]
    report("json: --timeout equals the oracle's",
           run(ORACLE, "-L", "--timeout") == "Timeout (tcp tcpfin udp): %d %d %d\n"
           % (timeouts["tcp"], timeouts["tcp_fin"], timeouts["udp"]))
    report("json: --daemon has as many daemons as the oracle lists",
           len(documents["-L --daemon --json"]["daemons"]) == len(run(ORACLE, "-L", "--daemon").splitlines()))

    # --- metrics
    for scope in ("servers", "services"):
        text = run(OURS, "-L", "--metrics=" + scope)
        p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        report("metrics: --metrics=%s passes promtool check metrics" % scope, p.returncode == 0 and not p.stdout.strip(),
               p.stdout.decode())

    sample = re.compile(r'^(\w+)\{([^}]*)\} (\S+)$')

    def metric_rows():
        rows = {}
        for line in run(OURS, "-L", "--metrics").splitlines():
            m = sample.match(line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            if labels["proto"] == "FWM":
                label = "FWM %s%s" % (labels["local_mark"], " IPv6" if labels["family"] == "inet6" else "")
            else:
                fam = "inet6" if ":" in labels["local_address"] else "inet"
                label = "%s %s" % (labels["proto"], endpoint(labels["local_address"], int(labels["local_port"]), fam))
            key = label
            if "remote_address" in labels:
                fam = "inet6" if ":" in labels["remote_address"] else "inet"
                key = (label, endpoint(labels["remote_address"], int(labels["remote_port"]), fam))
            rows.setdefault(key, {})[m.group(1)] = m.group(3)
        out = {}
        for key, values in rows.items():
            prefix = "ipvsadm_backend_" if isinstance(key, tuple) else "ipvsadm_service_"
            out[key] = [values[prefix + n] for n in ("connections_total", "incoming_packets_total",
                                                     "outgoing_packets_total", "incoming_bytes_total",
                                                     "outgoing_bytes_total")]
        return out

    def oracle_stats():
        return oracle_rows("stats")

    compare("metrics: the counters equal the oracle's -Ln --stats --exact", metric_rows, oracle_stats)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
