# shellcheck shell=bash
# The topology of the Linux kernel's own IPVS selftest
# (tools/testing/selftests/net/netfilter/ipvs.sh), rebuilt here for Tests/DataPath/run.sh.
# Source it after topology.sh, INSIDE the VM guest. Only the topology facts are the selftest's
# (namespaces, links, addresses, VIP and port, the per-mode host settings); the code is ours.
#
#   ns0 (client)              ns1 (director)                 ns2 (real server)
#   br0 10.0.0.2/24 --veth01--veth10 10.0.0.1/24
#    |                        veth12 172.16.0.1/24 ---------- veth21 172.16.0.2/24
#    +--------------veth02-------------------------------- veth20 10.0.0.3/24
#
# The client reaches the VIP 207.175.44.110:8080 through the director (a host route via
# 10.0.0.1). The director holds the VIP on lo and forwards to the real server 172.16.0.2:8080
# over veth12. In DR and TUN the real server holds the VIP too (lo, with arp_ignore/announce)
# and answers the client directly over veth20 (10.0.0.3, on the client's bridge); in NAT veth20
# is removed and the real server's default route is the director (172.16.0.1).
#
# The namespaces are called ipvs-ns0/1/2: no other data-path test uses these names, and the
# tests using them build and delete them themselves (st_setup, st_teardown).
#
#   st_setup MODE         MODE = dr | nat | tun: the three namespaces, links and hosts set up
#                         for MODE (everything but the IPVS table, which the test programs)
#   st_send FILE OUT      FILE from the client to VIP:8080 with socat; the real server writes
#                         what it received to OUT (the caller compares them with cmp), the
#                         client's errors go to OUT.err
#   st_teardown           kill what runs in the namespaces, delete them

ST_NS0=ipvs-ns0 ST_NS1=ipvs-ns1 ST_NS2=ipvs-ns2
ST_VIP=207.175.44.110 ST_PORT=8080
ST_CIP=10.0.0.2      # the client, on br0
ST_GIP=10.0.0.1      # the director, client side (the client's gateway to the VIP)
ST_DIP=172.16.0.1    # the director, real-server side
ST_RIP=172.16.0.2    # the real server
ST_SIP=10.0.0.3      # the real server's leg on the client's bridge (DR and TUN replies)

st_teardown() {
    local ns pids
    for ns in $ST_NS0 $ST_NS1 $ST_NS2; do
        [ -e "/run/netns/$ns" ] || continue
        pids=$(ip netns pids "$ns" 2>/dev/null)
        # shellcheck disable=SC2086
        [ -n "$pids" ] && kill $pids 2>/dev/null
    done
    for ns in $ST_NS0 $ST_NS1 $ST_NS2; do
        [ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
    done
    return 0
}

# _st_sysctl NS KEY=VALUE...: set sysctls inside NS (quietly; any failure fails the call).
_st_sysctl() {
    local ns=$1; shift
    on "$ns" sysctl -q -w "$@" >/dev/null
}

# The common part: namespaces, veth pairs, the client's bridge, addresses.
_st_links() {
    local ns
    st_teardown
    lvs_modules || return 1        # ipip before the namespaces: each gets its own tunl0
    for ns in $ST_NS0 $ST_NS1 $ST_NS2; do
        ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done
    ip link add veth01 netns "$ST_NS0" type veth peer name veth10 netns "$ST_NS1" || return 1
    ip link add veth02 netns "$ST_NS0" type veth peer name veth20 netns "$ST_NS2" || return 1
    ip link add veth12 netns "$ST_NS1" type veth peer name veth21 netns "$ST_NS2" || return 1
    ip -n "$ST_NS0" -batch - <<EOB || return 1
link add br0 type bridge
link set veth01 master br0
link set veth02 master br0
link set veth01 up
link set veth02 up
link set br0 up
addr add $ST_CIP/24 dev br0
EOB
    ip -n "$ST_NS1" -batch - <<EOB || return 1
addr add $ST_GIP/24 dev veth10
addr add $ST_DIP/24 dev veth12
link set veth10 up
link set veth12 up
EOB
    ip -n "$ST_NS2" -batch - <<EOB || return 1
addr add $ST_RIP/24 dev veth21
addr add $ST_SIP/24 dev veth20
link set veth21 up
link set veth20 up
EOB
    # The client goes to the VIP through the director, whatever the mode.
    ip -n "$ST_NS0" route add "$ST_VIP/32" via "$ST_GIP" dev br0 || return 1
}

# The real server accepts packets for the VIP without answering ARP for it, and without a
# reverse-path check (requests come in on veth21 or tunl0, the client is reached over veth20).
_st_rs_holds_vip() {
    local dev
    ip -n "$ST_NS2" addr add "$ST_VIP/32" dev lo || return 1
    _st_sysctl "$ST_NS2" net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
        net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 || return 1
    for dev in "$@"; do _st_sysctl "$ST_NS2" "net.ipv4.conf.$dev.rp_filter=0" || return 1; done
}

st_setup() {
    local mode=$1
    _st_links || return 1
    ip -n "$ST_NS1" addr add "$ST_VIP/32" dev lo || return 1
    case "$mode" in
    dr)
        _st_sysctl "$ST_NS1" net.ipv4.ip_forward=1 || return 1
        _st_rs_holds_vip veth21 || return 1 ;;
    nat)
        _st_sysctl "$ST_NS1" net.ipv4.ip_forward=1 || return 1
        # No direct way back: replies must cross the director to be translated.
        ip -n "$ST_NS2" link del veth20 || return 1
        ip -n "$ST_NS2" route add default via "$ST_DIP" dev veth21 || return 1 ;;
    tun)
        ip -n "$ST_NS1" link set tunl0 up || return 1
        _st_sysctl "$ST_NS1" net.ipv4.ip_forward=0 net.ipv4.conf.all.send_redirects=0 \
            net.ipv4.conf.default.send_redirects=0 || return 1
        ip -n "$ST_NS2" link set tunl0 up || return 1
        _st_rs_holds_vip veth21 tunl0 || return 1 ;;
    *) echo "selftest-topology: unknown mode $mode" >&2; return 1 ;;
    esac
}

# st_send FILE OUT: one TCP connection from the client to VIP:8080 carrying FILE (socat, one
# way); the real server's socat listens on 8080 and writes what it gets to OUT, then exits at
# the end of the stream. Generous time limits: the VM emulates its CPUs.
st_send() {
    local file=$1 out=$2 srv i rc
    rm -f "$out" "$out.err"
    on "$ST_NS2" timeout 60 socat -u -4 "TCP-LISTEN:$ST_PORT,reuseaddr" STDOUT > "$out" 2>/dev/null &
    srv=$!
    # Wait until it listens (a test connection would use up its one accept).
    for ((i = 0; i < 100; i++)); do
        [ -n "$(on "$ST_NS2" ss -Hltn "sport = :$ST_PORT" 2>/dev/null)" ] && break
        kill -0 $srv 2>/dev/null || break
        sleep 0.1
    done
    on "$ST_NS0" timeout 30 socat -u -4 STDIN "TCP:$ST_VIP:$ST_PORT,connect-timeout=15" \
        < "$file" 2> "$out.err"
    rc=$?
    if [ $rc != 0 ]; then kill $srv 2>/dev/null; wait $srv; return $rc; fi
    wait $srv
}
