#!/bin/bash
# shellcheck shell=bash
# The daemon's path check (via=vip) in the seeds' DR topology (Tests/DataPath/topology.sh),
# INSIDE the VM guest, as root: ipvsadm-health with `--check tcp,via=vip` on rs1 and rs2. The VIP
# removed from rs1's lo: rs1's own address still accepts connections (the TCP check alone
# passes), the path probe fails, rs1 goes to weight 0 with the reason in the log; the VIP back:
# rs1 returns to its weight.
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
topo_dr || { report "DR topology" 1; summary; exit 1; }
on director sh "$LVS_EXAMPLES/lvs_dr.sh" start >/dev/null || { report "lvs_dr.sh" 1; summary; exit 1; }
cat >"$work/rules" <<R
-A -t $DR_VIP:80 -s rr --check tcp,via=vip,interval=1,timeout=1,rise=2,fall=2,threshold=1
-a -t $DR_VIP:80 -r $DR_RIP1:80 -g -w 2
-a -t $DR_VIP:80 -r $DR_RIP2:80 -g -w 1
R
chmod 0644 "$work/rules"
on director env IPVSADM_RUN_DIR="$run" ipvsadm --apply <"$work/rules" >/dev/null
ip netns exec director env IPVSADM_RUN_DIR="$run" "$HEALTH" --rules "$work/rules" 2>"$work/log" &
pid=$!
sleep 3
[ "$(weight "$DR_RIP1")" = 2 ] && [ "$(weight "$DR_RIP2")" = 1 ] && kill -0 $pid
report "both servers pass the TCP and path checks and keep their weights" $? "$(cat "$work/log")"
ip -n rs1 addr del "$DR_VIP/32" dev lo
[ "$(path_direct "$DR_RIP1")" = rs1 ]
report "rs1 without the VIP on lo still answers on its own address" $?
wait_weight "$DR_RIP1" 0 10 && grep -q -- "-> $DR_RIP1:80 down after 2 failures (path via the VIP: timed out)" "$work/log"
report "rs1 without the VIP: weight 0, the log names the path" $? "$(cat "$work/log"; on director ipvsadm -Ln)"
[ "$(weight "$DR_RIP2")" = 1 ]
report "rs2 untouched" $?
ip -n rs1 addr replace "$DR_VIP/32" broadcast "$DR_VIP" dev lo label lo:0
wait_weight "$DR_RIP1" 2 10 && grep -q -- "-> $DR_RIP1:80 up after 2 successes (SYN-ACK, path passed)" "$work/log"
report "rs1 with the VIP back: weight 2" $? "$(cat "$work/log"; on director ipvsadm -Ln)"
kill $pid; wait $pid
report "SIGTERM: exit 0" $?
sed 's/^/    /' "$work/log"
topo_teardown
rm -rf "$work"
summary
