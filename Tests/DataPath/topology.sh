# shellcheck shell=bash
# LVS test topologies built from network namespaces. Source this file INSIDE the VM guest:
#
#     . Tests/DataPath/topology.sh
#     topo_dr            # or topo_nat, topo_tun
#     on director sh "$LVS_EXAMPLES/lvs_dr.sh"
#     fetch 6            # six HTTP answers from the client, one per line
#     topo_teardown
#
# Every topology has the namespaces client, director, rs1, rs2 and a namespace "switch" that
# holds the L2 segment(s) as Linux bridges; each host is attached to a bridge by a veth pair
# whose host end is called eth0 (eth1 for the director's private leg in NAT).
#
#   DR  (seed "LVS DR", 192.168.56.0/24 segment "lan"):
#       client 192.168.56.10, director 192.168.56.181, rs1 .183, rs2 .184, VIP 192.168.56.185
#       VIP on the director's eth0 (alias eth0:0) and on each real server's lo (arp_ignore=1,
#       arp_announce=2), replies go straight from the real servers to the client.
#   NAT (seed "LVS NAT"): public segment "pub" 172.16.254.0/24 (client .10, director .1,
#       VIP 172.16.254.200), private segment "priv" 192.168.0.0/24 (director .8 = gateway of
#       rs1 .18 and rs2 .28). The web servers listen on 8080 only: VIP:80 -> RIP:8080.
#   TUN: the DR segment, but the real servers carry the VIP on tunl0 (ipip) instead of lo and
#       the director encapsulates (-i). rp_filter is off on the real servers.
#
# Each real server runs a small web server answering its own name ("rs1"/"rs2") (busybox httpd,
# else python3 -m http.server); in DR also a UDP responder on VIP:53 (socat) doing the same.
# Helpers: on NS CMD..., fetch N (HTTP from the client), ask_udp N, mark_vip MARK|off (tc),
# hold_tcp N SECS FILE (long-lived TCP connections), topo_add_backup (a second DR director).
# The ipvsadm under test is $IPVSADM (default /sbin/ipvsadm); it is reachable by the plain name
# `ipvsadm` through $LVS_RUN/bin, which is put first in PATH (scripts run by `sh` see it too).

IPVSADM=${IPVSADM:-/sbin/ipvsadm}
LVS_RUN=${LVS_RUN:-/tmp/lvs}
LVS_REPO=${LVS_REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LVS_EXAMPLES=${LVS_EXAMPLES:-$LVS_REPO/Docs/examples}
LVS_NAMESPACES="client director rs1 rs2 switch"
# Namespaces some tests add to a topology (topo_add_backup, topo_add_rs); torn down with the others.
LVS_EXTRA_NAMESPACES="backup rs3 rs4"

# Addresses (the example scripts default to the same DR values; pass VIP=... RIPS=... otherwise).
DR_VIP=192.168.56.185 DR_CIP=192.168.56.10 DR_DIP=192.168.56.181
DR_RIP1=192.168.56.183 DR_RIP2=192.168.56.184
DR_BDIP=192.168.56.182      # the backup director (topo_add_backup)
DR_RIP3=192.168.56.186 DR_RIP4=192.168.56.187   # more real servers (topo_add_rs)
NAT_VIP=172.16.254.200 NAT_CIP=172.16.254.10 NAT_DIP_PUB=172.16.254.1 NAT_DIP=192.168.0.8
NAT_RIP1=192.168.0.18 NAT_RIP2=192.168.0.28 NAT_RPORT=8080

# `on NS CMD...`: run CMD inside namespace NS.
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# Make `ipvsadm` mean $IPVSADM, for this shell and for every script it starts.
lvs_use_ipvsadm() {
    local bin
    bin=$(command -v "$IPVSADM" 2>/dev/null) || { echo "topology: IPVSADM=$IPVSADM not found" >&2; return 1; }
    bin=$(readlink -f "$bin")
    mkdir -p "$LVS_RUN/bin"
    ln -sfn "$bin" "$LVS_RUN/bin/ipvsadm"
    case ":$PATH:" in *":$LVS_RUN/bin:"*) ;; *) PATH="$LVS_RUN/bin:$PATH" ;; esac
    export PATH IPVSADM
}

# Kernel modules (global to the guest). ipip is loaded before the namespaces are made, so
# every namespace gets its own tunl0.
lvs_modules() {
    modprobe ip_vs || return 1
    modprobe ipip 2>/dev/null || true
    modprobe bridge 2>/dev/null || true
    modprobe veth 2>/dev/null || true
}

# Kill everything running inside our namespaces, delete them (the veths and bridges go with them).
topo_teardown() {
    local ns pids
    for ns in $LVS_NAMESPACES $LVS_EXTRA_NAMESPACES; do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill $pids 2>/dev/null
    done
    for ns in $LVS_NAMESPACES $LVS_EXTRA_NAMESPACES; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
    done
    return 0
}

# _base: namespaces, lo up, bridges in "switch". Args: bridge names.
_base() {
    local ns br
    topo_teardown
    lvs_modules || return 1
    lvs_use_ipvsadm || return 1
    for ns in $LVS_NAMESPACES; do ip netns add "$ns" || return 1; done
    {
        echo "link set lo up"
        for br in "$@"; do
            echo "link add $br type bridge"
            echo "link set $br up"
        done
    } | ip -n switch -batch - || return 1
    for ns in client director rs1 rs2; do ip -n "$ns" link set lo up || return 1; done
}

# _plug NS IFNAME BRIDGE ADDR/LEN: a veth pair, IFNAME in NS, the other end "<ns>-<ifname>" on BRIDGE.
_plug() {
    local ns=$1 ifn=$2 br=$3 addr=$4 peer="$1-$2"
    ip link add "$peer" netns switch type veth peer name "$ifn" netns "$ns" || return 1
    ip -n switch -batch - <<EOB || return 1
link set $peer master $br
link set $peer up
EOB
    ip -n "$ns" -batch - <<EOB || return 1
addr add $addr dev $ifn
link set $ifn up
EOB
}

# _web NS NAME PORT: a web server in NS on PORT whose / answers NAME.
_web() {
    local ns=$1 name=$2 port=$3 root="$LVS_RUN/www/$2"
    mkdir -p "$root" && echo "$name" > "$root/index.html"
    if busybox httpd --help 2>&1 | grep -q httpd; then
        # busybox httpd binds, then daemonizes: it is listening when this returns.
        on "$ns" busybox httpd -p "$port" -h "$root" || return 1
    else
        on "$ns" setsid python3 -m http.server --bind 0.0.0.0 --directory "$root" "$port" \
            >/dev/null 2>&1 < /dev/null &
        local i; for i in 1 2 3 4 5 6 7 8 9 10; do
            on "$ns" sh -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null && return 0
            sleep 0.5
        done
        return 1
    fi
}

# _udp NS NAME PORT ADDR: a UDP service on ADDR:PORT in NS answering every datagram with NAME.
# Bound to ADDR (the VIP) so that replies leave with the VIP as their source, as DR needs.
_udp() {
    local ns=$1 name=$2 port=$3 addr=$4
    command -v socat >/dev/null || return 0     # the UDP test reports the missing socat
    on "$ns" setsid socat "UDP4-RECVFROM:$port,bind=$addr,reuseaddr,fork" EXEC:"/bin/echo $name" \
        >/dev/null 2>&1 < /dev/null &
}

# _segment RS-SCRIPT: client, director and both real servers on one segment "lan", each real
# server set up by Docs/examples/RS-SCRIPT and serving its name on port 80 (DR and TUN).
_segment() {
    _base lan || return 1
    _plug client   eth0 lan "$DR_CIP/24"  || return 1
    _plug director eth0 lan "$DR_DIP/24"  || return 1
    _plug rs1      eth0 lan "$DR_RIP1/24" || return 1
    _plug rs2      eth0 lan "$DR_RIP2/24" || return 1
    VIP=$DR_VIP DEV=eth0 on rs1 sh "$LVS_EXAMPLES/$1" start >/dev/null || return 1
    VIP=$DR_VIP DEV=eth0 on rs2 sh "$LVS_EXAMPLES/$1" start >/dev/null || return 1
    _web rs1 rs1 80 && _web rs2 rs2 80
}

# LVS-DR: one segment; the real servers are set up by Docs/examples/lvs_dr_rs.sh.
topo_dr() {
    _segment lvs_dr_rs.sh || return 1
    _udp rs1 rs1 53 "$DR_VIP"; _udp rs2 rs2 53 "$DR_VIP"
    LVS_TOPO=dr LVS_VIP=$DR_VIP LVS_PORT=80
}

# topo_add_backup: a second director "backup" ($DR_BDIP) on the DR segment, for the connection
# sync daemon (IPVS state, the sync daemons included, is per network namespace). It holds no VIP:
# a standby director in the style of the seeds takes the VIP over only on fail-over.
topo_add_backup() {
    [ "${LVS_TOPO:-}" = dr ] || { echo "topology: topo_add_backup needs topo_dr" >&2; return 1; }
    [ -e /run/netns/backup ] && return 0
    ip netns add backup || return 1
    ip -n backup link set lo up || return 1
    _plug backup eth0 lan "$DR_BDIP/24"
}

# topo_add_rs rs3|rs4: one more DR real server on the DR segment ($DR_RIP3, $DR_RIP4), set up
# as rs1 and rs2 are (VIP on lo, its web server answering its name). Only the tests that want
# three or four real servers add them; the table is theirs to change.
topo_add_rs() {
    local ns=$1 addr
    case $ns in rs3) addr=$DR_RIP3 ;; rs4) addr=$DR_RIP4 ;; *) echo "topology: topo_add_rs rs3|rs4" >&2; return 1 ;; esac
    [ "${LVS_TOPO:-}" = dr ] || { echo "topology: topo_add_rs needs topo_dr" >&2; return 1; }
    [ -e "/run/netns/$ns" ] && return 0
    ip netns add "$ns" || return 1
    ip -n "$ns" link set lo up || return 1
    _plug "$ns" eth0 lan "$addr/24" || return 1
    VIP=$DR_VIP DEV=eth0 on "$ns" sh "$LVS_EXAMPLES/lvs_dr_rs.sh" start >/dev/null || return 1
    _web "$ns" "$ns" 80
}

# LVS-NAT: client on "pub", real servers on "priv" behind the director (their default gateway).
topo_nat() {
    _base pub priv || return 1
    _plug client   eth0 pub  "$NAT_CIP/24"     || return 1
    _plug director eth0 pub  "$NAT_DIP_PUB/24" || return 1
    _plug director eth1 priv "$NAT_DIP/24"     || return 1
    _plug rs1      eth0 priv "$NAT_RIP1/24"    || return 1
    _plug rs2      eth0 priv "$NAT_RIP2/24"    || return 1
    ip -n rs1 route add default via "$NAT_DIP" || return 1
    ip -n rs2 route add default via "$NAT_DIP" || return 1
    _web rs1 rs1 "$NAT_RPORT" && _web rs2 rs2 "$NAT_RPORT" || return 1
    LVS_TOPO=nat LVS_VIP=$NAT_VIP LVS_PORT=80
}

# LVS-TUN: the DR segment; real servers decapsulate ipip on tunl0 (Docs/examples/lvs_tun_rs.sh).
topo_tun() {
    _segment lvs_tun_rs.sh || return 1
    LVS_TOPO=tun LVS_VIP=$DR_VIP LVS_PORT=80
}

# ask_udp N [ADDR [PORT]]: N UDP queries from the client, each from a new socket (so a new
# source port, a new IPVS connection); one answer per line, "-" when none came. A query
# unanswered within 5 s is sent again from the same socket (same connection, same real
# server), up to 3 times: under emulation the first datagram can be lost while ARP resolves.
# One python3 process for all queries (a shell cannot read one datagram with a timeout).
ask_udp() {
    local n=$1 addr=${2:-$LVS_VIP} port=${3:-53}
    on client /usr/bin/python3 -c '
import socket, sys
n, addr, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    answer = "-"
    for attempt in range(3):
        try:
            s.sendto(b"q\n", (addr, port))
            answer = s.recv(512).decode().strip() or "-"
            break
        except OSError:
            continue
    s.close()
    print(answer, flush=True)
' "$n" "$addr" "$port"
}

# hold_tcp N SECS FILE [ADDR [PORT]]: N TCP connections from the client to ADDR:PORT (default
# the VIP) held open for SECS seconds in the background, each having sent an incomplete HTTP
# request (so the web server waits; the director has seen SYN, ACK and one data segment).
# Returns once all are established; FILE then holds their client ports, one a line;
# HOLD_PID is the background process (kill it to close them early).
HOLD_PID=
hold_tcp() {
    local n=$1 secs=$2 file=$3 addr=${4:-$LVS_VIP} port=${5:-${LVS_PORT:-80}} i
    rm -f "$file"
    on client /usr/bin/python3 -c '
import os, socket, sys, time
n, secs, out, addr, port = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5])
socks = []
for _ in range(n):
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\nX-Held: 1\r\n")
    socks.append(s)
with open(out + ".tmp", "w") as f:
    f.write("".join("%d\n" % s.getsockname()[1] for s in socks))
os.rename(out + ".tmp", out)
time.sleep(secs)
' "$n" "$secs" "$file" "$addr" "$port" >/dev/null 2>&1 < /dev/null &
    HOLD_PID=$!
    for ((i = 0; i < 50; i++)); do
        [ -s "$file" ] && return 0
        kill -0 "$HOLD_PID" 2>/dev/null || return 1
        sleep 0.2
    done
    return 1
}

# mark_vip MARK: on the director, mark incoming TCP packets for the VIP port 80 with MARK
# (tc ingress + skbedit; no iptables needed). mark_vip off removes it.
mark_vip() {
    ip -n director link set eth0 up
    tc -n director qdisc del dev eth0 ingress 2>/dev/null
    [ "$1" = off ] && return 0
    tc -n director qdisc add dev eth0 ingress || return 1
    tc -n director filter add dev eth0 ingress protocol ip flower ip_proto tcp \
        dst_ip "$LVS_VIP" dst_port 80 action skbedit mark "$1"
}

# fetch N [URL]: N sequential HTTP GETs from the client, each on a new TCP connection
# (one curl process; "Connection: close" stops reuse). Prints one answer per line,
# "-" for a request that failed.
fetch() {
    local n=$1 url=${2:-http://$LVS_VIP:$LVS_PORT/} i args=()
    for ((i = 0; i < n; i++)); do args+=("$url"); done
    on client curl -s -m 5 -H 'Connection: close' -w '%{http_code}\n' "${args[@]}" \
        2>/dev/null | awk '
            /^[0-9][0-9][0-9]$/ { print (body != "" && $0 == "200") ? body : "-"; body = ""; next }
            { body = $0 }'
}
