#!/bin/bash
# shellcheck shell=bash
# The daemon's path check (via=vip) in the seeds' DR and TUN topologies
# (Tests/DataPath/topology.sh), INSIDE the VM guest, as root: ipvsadm-health with
# `--check tcp,via=vip` on rs1 and rs2. DR: the VIP removed from rs1's lo; TUN: rp_filter=1 on
# rs1. Either way rs1's own address still accepts connections (the TCP check alone passes), the
# path probe fails, rs1 goes to weight 0 with the reason in the log; mended: rs1 returns to its
# weight.
#
#   IPVSADM=/path/to/ipvsadm IPVSADM_HEALTH=/path/to/ipvsadm-health bash Tests/Health/daemon-path.sh
#   From the host:  Scripts/vm -- env IPVSADM=$PWD/.build/release/ipvsadm bash Tests/Health/daemon-path.sh
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../DataPath/topology.sh
. "$here/../DataPath/topology.sh"
# shellcheck source=../lib/check.sh
. "$here/../lib/check.sh"
# shellcheck source=path.sh
. "$here/path.sh"
HEALTH=$(path_health_binary) || { echo "no ipvsadm-health (set IPVSADM_HEALTH)"; exit 2; }
lvs_use_ipvsadm || exit 2
work=$(mktemp -d)
run=$work/run
weight() { on director ipvsadm -Ln -t "$DR_VIP:80" | awk -v r="$1:80" '$2 == r { print $4 }'; }
# wait_weight RS WEIGHT SECONDS
wait_weight() {
    local n=$(( $3 * 5 ))
    while [ "$(weight "$1")" != "$2" ]; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.2; done
}
echo "== the daemon's path check, ipvsadm-health under test: $HEALTH"
# path_case dr|tun: the checker on rs1 and rs2 of that topology; BREAK and MEND (shell commands)
# take rs1 off the clients' path and put it back, its own address answering all along.
path_case() {
    local method=$1 break=$2 mend=$3 what=$4 flag
    if [ "$method" = dr ]; then flag=-g; topo_dr; else flag=-i; topo_tun; fi ||
        { report "$method: topology" 1; return; }
    on director sh "$LVS_EXAMPLES/lvs_$method.sh" start >/dev/null || { report "$method: lvs_$method.sh" 1; return; }
    cat >"$work/rules" <<R
-A -t $DR_VIP:80 -s rr --check tcp,via=vip,interval=1,timeout=1,rise=2,fall=2,threshold=1
-a -t $DR_VIP:80 -r $DR_RIP1:80 $flag -w 2
-a -t $DR_VIP:80 -r $DR_RIP2:80 $flag -w 1
R
    chmod 0644 "$work/rules"
    rm -rf "$run"
    on director env IPVSADM_RUN_DIR="$run" ipvsadm --apply <"$work/rules" >/dev/null
    ip netns exec director env IPVSADM_RUN_DIR="$run" "$HEALTH" --rules "$work/rules" 2>"$work/log" &
    local pid=$!
    sleep 3
    [ "$(weight "$DR_RIP1")" = 2 ] && [ "$(weight "$DR_RIP2")" = 1 ] && kill -0 $pid
    report "$method: both servers pass the TCP and path checks and keep their weights" $? "$(cat "$work/log")"
    eval "$break"
    [ "$(path_direct "$DR_RIP1")" = rs1 ]
    report "$method: rs1 $what still answers on its own address" $?
    wait_weight "$DR_RIP1" 0 10 && grep -q -- "-> $DR_RIP1:80 down after 2 failures (path via the VIP: timed out)" "$work/log"
    report "$method: rs1 $what: weight 0, the log names the path" $? "$(cat "$work/log"; on director ipvsadm -Ln)"
    [ "$(weight "$DR_RIP2")" = 1 ]
    report "$method: rs2 untouched" $?
    eval "$mend"
    wait_weight "$DR_RIP1" 2 10 && grep -q -- "-> $DR_RIP1:80 up after 2 successes (SYN-ACK, path passed)" "$work/log"
    report "$method: rs1 back on the path: weight 2" $? "$(cat "$work/log"; on director ipvsadm -Ln)"
    kill $pid; wait $pid
    report "$method: SIGTERM: exit 0" $?
    sed 's/^/    /' "$work/log"
}
# DR: the VIP taken off rs1's lo.
path_case dr 'ip -n rs1 addr del "$DR_VIP/32" dev lo' \
    'ip -n rs1 addr replace "$DR_VIP/32" broadcast "$DR_VIP" dev lo label lo:0' "without the VIP on lo"
# TUN: rp_filter on rs1 (all and tunl0, as the kernel combines them) drops the decapsulated SYNs.
path_case tun "on rs1 sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'" \
    "on rs1 sh -c 'echo 0 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 0 > /proc/sys/net/ipv4/conf/tunl0/rp_filter'" \
    "with rp_filter=1"
topo_teardown
rm -rf "$work"
summary
