#!/usr/bin/env bash
# The keepalived converter against keepalived itself, run as root inside the VM (issue 20,
# "Converter": the converted rules loaded by /sbin/ipvsadm -R give the same table keepalived
# builds from the original).
#
#   Tests/Health/convert.sh REPO HEALTH [OURS]
#
# HEALTH is the ipvsadm-health binary (its --convert-keepalived), OURS optionally our ipvsadm.
# For each configuration of REPO/Tests/Health/keepalived/ that this script lists (the seeds' two
# and mixed.conf), in a fresh network namespace (unshare -n: its own empty IPVS table):
# - every real server answers its check: its address on a dummy interface, an HTTP server
#   (200 for every path) on each address and port a check connects to, MISC_CHECK's program
#   is /bin/true. keepalived removes a real server whose check fails, so a server that does not
#   answer would make the tables differ for a reason that is not the converter's;
# - keepalived's checker (keepalived --check, no VRRP) builds its table from the original; the
#   script waits long enough for a failing check to have removed its server (interval +
#   fall x retry_interval + timeout of the converted checks, plus 3 s), and fails if
#   keepalived's log says it removed one;
# - then, in another fresh namespace, /sbin/ipvsadm -R loads the converted rules without their
#   comments and --check words (sed), and OURS -R loads them with their --check words;
# - the sorted -Sn of each must equal keepalived's.
# Prints "PASS name" or "FAIL name" (with details) per check and ends with "N passed, N failed".
set -uo pipefail

self=$(readlink -f "$0")
oracle=/sbin/ipvsadm

# The real servers' addresses and the ports their checks connect to ("ADDR PORT" lines), and
# how long a failing check takes to remove its server (a "wait N" line), from converted rules.
endpoints() {
    /usr/bin/python3 - "$1" <<'PY'
import sys
service_checks = {}
endpoints = set()
wait = 0.0
def check_of(words):
    """The kind (None when not given) and the keys of a line's --check word."""
    if "--check" not in words:
        return None, {}
    kind, settings = None, {}
    for item in words[words.index("--check") + 1].split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            settings[key] = value
        else:
            kind = item
    return kind, settings
def service_of(words):
    for option in ("-t", "-u", "-f", "--sctp-service"):
        if option in words:
            return option + " " + words[words.index(option) + 1]
for line in open(sys.argv[1]):
    words = line.split()
    if not words or words[0].startswith("#"):
        continue
    if words[0] == "-A":
        service_checks[service_of(words)] = check_of(words)
    elif words[0] == "-a":
        server = words[words.index("-r") + 1]
        if server.startswith("["):
            address, _, port = server[1:].partition("]:")
        else:
            address, _, port = server.partition(":")
        kind, settings = service_checks.get(service_of(words), (None, {}))
        own_kind, own = check_of(words)
        kind = own_kind or kind
        settings = dict(settings, **own)
        if kind in ("tcp", "http", "https"):
            endpoints.add((address, settings.get("port", port)))
        else:
            endpoints.add((address, ""))
        if kind not in (None, "none"):
            wait = max(wait, float(settings.get("interval", 5)) + int(settings.get("fall", 3))
                       * float(settings.get("retry_interval", settings.get("interval", 5)))
                       + float(settings.get("timeout", 3)))
for address, port in sorted(endpoints):
    print(address, port)
print("wait", int(wait + 3.999))
PY
}

# HTTP servers answering 200 to every GET on each ADDR:PORT given; prints "ready" once bound.
serve() {
    /usr/bin/python3 - "$@" <<'PY'
import http.server, socket, sys, threading
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server4(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET
    allow_reuse_address = True
    daemon_threads = True
class Server6(Server4):
    address_family = socket.AF_INET6
for spec in sys.argv[1:]:
    address, port = spec.rsplit(" ", 1)
    server = (Server6 if ":" in address else Server4)((address, int(port)), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
PY
}

# --- in a fresh network namespace: keepalived's table for CONF, as sorted -Sn lines ----------
if [ "${1:-}" = --keepalived ]; then
    conf=$2 rules=$3 work=$4
    ip link set lo up
    ip link add d0 type dummy && ip link set d0 up
    specs=() wait=10
    while read -r address port; do
        if [ "$address" = wait ]; then wait=$port; continue; fi
        case "$address" in
            *:*) ip -6 addr add "$address/128" dev d0 nodad 2>/dev/null ;;
            *) ip addr add "$address/32" dev d0 2>/dev/null ;;
        esac
        [ -z "$port" ] || specs+=("$address $port")
    done < <(endpoints "$rules")
    server=
    if [ ${#specs[@]} -gt 0 ]; then
        serve "${specs[@]}" >"$work/serve.out" 2>&1 &
        server=$!
        for _ in $(seq 1 100); do grep -q ready "$work/serve.out" && break; sleep 0.2; done
        grep -q ready "$work/serve.out" || { echo "the real servers' HTTP servers did not start:"; cat "$work/serve.out"; kill "$server"; exit 2; }
    fi
    keepalived --dont-fork --check --log-console --log-detail --use-file="$conf" \
        --pid="$work/keepalived.pid" --checkers_pid="$work/checkers.pid" --vrrp_pid="$work/vrrp.pid" \
        >"$work/keepalived.log" 2>&1 &
    kpid=$!
    services=$(grep -c '^-A ' "$rules")
    for _ in $(seq 1 150); do
        [ "$("$oracle" -Sn | grep -c '^-A ')" = "$services" ] && break
        sleep 0.2
    done
    # Long enough for a check that fails to have taken its server out.
    sleep "$wait"
    "$oracle" -Sn | LC_ALL=C sort >"$work/keepalived.table"
    kill "$kpid"; wait "$kpid" 2>/dev/null
    [ -z "$server" ] || { kill "$server"; wait "$server" 2>/dev/null; }
    if grep -E 'Removing service|Disabling service' "$work/keepalived.log" >"$work/removed"; then
        echo "keepalived took real servers out (their checks failed):"; cat "$work/removed"; exit 1
    fi
    exit 0
fi

# --- in a fresh network namespace: the converted rules loaded by BIN -R, sorted -Sn -----------
if [ "${1:-}" = --load ]; then
    bin=$2 input=$3 output=$4
    # The kernel takes a real server only at an address it can route to: a default route over
    # a dummy interface makes every unicast address one.
    ip link set lo up
    ip link add d0 type dummy && ip link set d0 up
    ip route add default dev d0 && ip -6 route add default dev d0 || exit 2
    "$bin" -R <"$input" || exit 1
    "$oracle" -Sn | LC_ALL=C sort >"$output"
    exit 0
fi

[ $# -ge 2 ] || { echo "usage: $0 REPO HEALTH [OURS]" >&2; exit 2; }
repo=$1 health=$2 ours=${3:-}
# shellcheck source=../lib/check.sh
source "$repo/Tests/lib/check.sh"  # report NAME STATUS [DETAILS]
command -v keepalived >/dev/null || { report "keepalived installed (Scripts/setup installs it)" 1; summary; exit 1; }
modprobe ip_vs 2>/dev/null
work=$(mktemp -d /tmp/health-convert.XXXXXX)

for name in seed-002 seed-004 mixed; do
    conf=$repo/Tests/Health/keepalived/$name.conf
    d=$work/$name
    mkdir -p "$d"
    if ! "$health" --convert-keepalived "$conf" >"$d/rules" 2>"$d/warnings"; then
        report "$name: converts" 1 "$(cat "$d/warnings")"
        continue
    fi
    sed -e '/^#/d' -e 's/ --check [^ ]*//' "$d/rules" >"$d/plain"
    grep -v '^#' "$d/rules" >"$d/with-checks"
    out=$(unshare -n bash "$self" --keepalived "$conf" "$d/rules" "$d" 2>&1)
    rc=$?
    report "$name: keepalived --check builds its table with every real server in (their checks pass)" $rc \
        "$out$(printf '\n--- keepalived log (tail):\n'; tail -n 15 "$d/keepalived.log" 2>/dev/null)"
    [ $rc = 0 ] || continue
    out=$(unshare -n bash "$self" --load "$oracle" "$d/plain" "$d/oracle.table" 2>&1)
    rc=$?
    [ $rc = 0 ] && { out=$(diff "$d/keepalived.table" "$d/oracle.table"); rc=$?; }
    report "$name: /sbin/ipvsadm -R of the converted rules (checks removed) gives keepalived's -Sn" $rc \
        "$out$(printf '\n--- converted:\n'; cat "$d/rules"; printf -- '--- keepalived -Sn:\n'; cat "$d/keepalived.table")"
    if [ -n "$ours" ]; then
        out=$(unshare -n bash "$self" --load "$ours" "$d/with-checks" "$d/ours.table" 2>&1)
        rc=$?
        [ $rc = 0 ] && { out=$(diff "$d/keepalived.table" "$d/ours.table"); rc=$?; }
        report "$name: our ipvsadm -R of the converted rules (with --check) gives keepalived's -Sn" $rc "$out"
    fi
done
rm -rf "$work"
summary
