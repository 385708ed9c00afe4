#!/bin/bash
# shellcheck shell=bash
# The path check (via=vip, Docs/Health.md): `ipvsadm-health --probe-path` in the seeds' DR and TUN
# topologies (Tests/DataPath/topology.sh), INSIDE the VM guest, as root.
#
#   Sourced by Tests/DataPath/run.sh:  . Tests/Health/path.sh; t_path_dr; t_path_tun
#   Alone:   IPVSADM_HEALTH=/path/to/ipvsadm-health bash Tests/Health/path.sh [dr] [tun]
#   From the host:  Scripts/vm -- env IPVSADM_HEALTH=$PWD/.build/debug/ipvsadm-health bash Tests/Health/path.sh
#
# - DR: with the VIP on rs1's lo the probe passes (and a closed port is "refused"); with the VIP
#   removed, a TCP connection to rs1's own address still works and the probe fails; VIP back: it
#   passes again.
# - TUN: the probe passes; with rp_filter=1 on rs1 (conf/all and conf/tunl0: the kernel uses the
#   larger) it fails while rs1's own address answers; rp_filter back to 0: it passes.
# Each check prints PASS or FAIL (Tests/lib/check.sh). IPVSADM_HEALTH defaults to ipvsadm-health
# next to $IPVSADM, else the one in PATH.

# The binary under test.
path_health_binary() {
    local bin=${IPVSADM_HEALTH:-}
    if [ -z "$bin" ] && [ -n "${IPVSADM:-}" ] && [ -x "$(dirname "$(readlink -f "$IPVSADM")")/ipvsadm-health" ]; then
        bin=$(dirname "$(readlink -f "$IPVSADM")")/ipvsadm-health
    fi
    [ -n "$bin" ] || bin=$(command -v ipvsadm-health 2>/dev/null)
    [ -n "$bin" ] && [ -x "$bin" ] || return 1
    echo "$bin"
}

# path_probe RS METHOD [PORT]: the one-shot from the director, to the VIP; prints its verdict.
path_probe() {
    on director "$PATH_HEALTH" --probe-path "$DR_VIP:${3:-80}" "$1" "$2" "${PATH_TIMEOUT:-4}" 2>&1
}

# path_direct RS: a TCP connection (an HTTP GET) from the director to the real server's own address.
path_direct() { on director curl -s -m 5 "http://$1/" 2>/dev/null; }

# path_expect NAME WANT RS METHOD [PORT]: PASS when the probe's verdict is WANT.
path_expect() {
    local name=$1 want=$2 got; shift 2
    got=$(path_probe "$@")
    if [ "$got" = "$want" ]; then pass "$name ($got)"; else fail "$name" "want '$want', got '$got'"; fi
}

t_path_dr() {
    PATH_HEALTH=$(path_health_binary) || { fail "path check DR" "no ipvsadm-health (set IPVSADM_HEALTH)"; return; }
    if [ "${LVS_TOPO:-}" != dr ]; then topo_dr || { fail "path check DR" "topology failed"; return; }; fi
    # The director holds the VIP, as in service: the real servers' replies come from an address
    # of its own.
    if ! on director sh "$LVS_EXAMPLES/lvs_dr.sh" start; then fail "path check DR" "lvs_dr.sh failed"; return; fi
    path_expect "path check DR: rs1 with the VIP on lo passes" passed "$DR_RIP1" dr
    path_expect "path check DR: rs2 with the VIP on lo passes" passed "$DR_RIP2" dr
    path_expect "path check DR: a closed port on rs1 is refused (the path works)" refused "$DR_RIP1" dr 81
    ip -n rs1 addr del "$DR_VIP/32" dev lo
    local direct; direct=$(path_direct "$DR_RIP1")
    if [ "$direct" = rs1 ]; then pass "path check DR: rs1 without the VIP still answers on its own address"
    else fail "path check DR: rs1 without the VIP still answers on its own address" "got '$direct'"; fi
    path_expect "path check DR: rs1 without the VIP on lo fails" "timed out" "$DR_RIP1" dr
    ip -n rs1 addr replace "$DR_VIP/32" broadcast "$DR_VIP" dev lo label lo:0
    path_expect "path check DR: rs1 with the VIP back passes" passed "$DR_RIP1" dr
}

t_path_tun() {
    PATH_HEALTH=$(path_health_binary) || { fail "path check TUN" "no ipvsadm-health (set IPVSADM_HEALTH)"; return; }
    if [ "${LVS_TOPO:-}" != tun ]; then topo_tun || { fail "path check TUN" "topology failed"; return; }; fi
    if ! on director sh "$LVS_EXAMPLES/lvs_tun.sh"; then fail "path check TUN" "lvs_tun.sh failed"; return; fi
    path_expect "path check TUN: rs1 decapsulating on tunl0 passes" passed "$DR_RIP1" tun
    path_expect "path check TUN: rs2 decapsulating on tunl0 passes" passed "$DR_RIP2" tun
    local rx; rx=$(on rs1 cat /sys/class/net/tunl0/statistics/rx_packets)
    on rs1 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
    local direct; direct=$(path_direct "$DR_RIP1")
    if [ "$direct" = rs1 ]; then pass "path check TUN: rs1 with rp_filter=1 still answers on its own address"
    else fail "path check TUN: rs1 with rp_filter=1 still answers on its own address" "got '$direct'"; fi
    path_expect "path check TUN: rs1 with rp_filter=1 fails" "timed out" "$DR_RIP1" tun
    local after; after=$(on rs1 cat /sys/class/net/tunl0/statistics/rx_packets)
    # The probe did reach rs1's tunl0: it is rp_filter that dropped it.
    if [ "${after:-0}" -gt "${rx:-0}" ] 2>/dev/null; then pass "path check TUN: the failed probes arrived on rs1's tunl0 (rx $rx -> $after)"
    else fail "path check TUN: the failed probes arrived on rs1's tunl0" "rx_packets $rx -> $after"; fi
    on rs1 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 0 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'
    path_expect "path check TUN: rs1 with rp_filter=0 passes again" passed "$DR_RIP1" tun
}

# Alone: build the topologies here and report.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    # shellcheck source=../DataPath/topology.sh
    . "$here/../DataPath/topology.sh"
    # shellcheck source=../lib/check.sh
    . "$here/../lib/check.sh"
    pass() { report "$1" 0; }
    fail() { report "$1: $2" 1; }
    echo "== path check, ipvsadm-health under test: $(path_health_binary || echo none)"
    for t in ${*:-dr tun}; do
        case $t in
        dr|tun) "t_path_$t" ;;
        *) echo "path.sh: unknown test $t (dr, tun)" >&2; exit 2 ;;
        esac
    done
    topo_teardown
    summary
fi
