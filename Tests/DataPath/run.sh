#!/bin/bash
# Data-path tests: real HTTP traffic through IPVS rules programmed by $IPVSADM (default
# /sbin/ipvsadm, the oracle) via the example scripts in Docs/examples. Runs INSIDE the VM
# guest, as root (Scripts/datapath-test boots the VM and runs it).
#
#   IPVSADM=/path/to/ipvsadm Tests/DataPath/run.sh [TEST...]
#
# Each check prints "PASS name" or "FAIL name: why"; the last line is "N passed, N failed".
# Exit status 0 only if nothing failed. TEST names: see `run.sh --list`.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=topology.sh
. "$here/topology.sh"

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
show() { sed 's/^/    | /'; }    # indent diagnostics under a FAIL line

# --- helpers -----------------------------------------------------------------------------
dr()   { on director sh "$LVS_EXAMPLES/lvs_dr.sh" "$@"; }
count() { local w=$1; shift; local n=0 a; for a in "$@"; do [ "$a" = "$w" ] && n=$((n + 1)); done; echo $n; }
# alternates ANSWER...: rs1 and rs2 take turns, no failed request.
alternates() {
    local prev="" a
    [ $# -ge 2 ] || return 1
    for a in "$@"; do
        case "$a" in rs1|rs2) ;; *) return 1 ;; esac
        [ "$a" = "$prev" ] && return 1
        prev=$a
    done
}
# all_same ANSWER...: every request answered by the same real server.
all_same() {
    local a
    for a in "$@"; do
        case "$a" in rs1|rs2) ;; *) return 1 ;; esac
        [ "$a" = "$1" ] || return 1
    done
}
# stats_conns ADDR:PORT: the Conns column of that line of `ipvsadm -Ln --stats`.
stats_conns() { on director ipvsadm -Ln --stats | awk -v a="$1" '$1 == a || $2 == a { print ($1 == a) ? $2 : $3; exit }'; }
table() { on director ipvsadm -Ln 2>&1; }

# --- tests (each builds or reuses a topology, sets the table, sends traffic) --------------
VIP=$DR_VIP
S="$DR_VIP:80" R1="$DR_RIP1:80" R2="$DR_RIP2:80"

t_dr_rr() {   # the seeds' LVS-DR, rr: answers alternate rs1/rs2
    local name="DR rr: answers alternate between rs1 and rs2"
    if ! dr start; then fail "$name" "lvs_dr.sh failed"; return; fi
    local ans; ans=($(fetch 6))
    if alternates "${ans[@]}"; then pass "$name"; else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_stats() {   # after t_dr_rr's 6 connections: --stats counts them (estimator updates every 2 s)
    local name="ipvsadm -Ln --stats shows the connections" svc r1 r2 i
    for i in 1 2 3 4 5 6; do
        svc=$(stats_conns "$S"); r1=$(stats_conns "$R1"); r2=$(stats_conns "$R2")
        [ "${svc:-0}" -ge 6 ] 2>/dev/null && [ "${r1:-0}" -gt 0 ] && [ "${r2:-0}" -gt 0 ] && break
        sleep 1
    done
    if [ "${svc:-0}" -ge 6 ] 2>/dev/null && [ "${r1:-0}" -ge 3 ] && [ "${r2:-0}" -ge 3 ]; then
        pass "$name (service $svc, rs1 $r1, rs2 $r2)"
    else
        fail "$name" "service=${svc:-?} rs1=${r1:-?} rs2=${r2:-?}"; on director ipvsadm -Ln --stats 2>&1 | show
    fi
}

t_zero() {    # -Z zeroes the counters; new connections count again
    local name="ipvsadm -Z zeroes the counters, new connections are counted again" z svc i
    if ! on director ipvsadm -Z; then fail "$name" "ipvsadm -Z failed"; return; fi
    z=$(stats_conns "$S")
    fetch 2 >/dev/null
    for i in 1 2 3 4 5 6; do svc=$(stats_conns "$S"); [ "${svc:-0}" = 2 ] && break; sleep 1; done
    if [ "$z" = 0 ] && [ "$svc" = 2 ]; then pass "$name"
    else fail "$name" "after -Z: ${z:-?}, after 2 more: ${svc:-?}"; on director ipvsadm -Ln --stats 2>&1 | show; fi
}

t_conns() {   # -Lnc lists the client's connections (read from /proc/net/ip_vs_conn)
    local name="ipvsadm -Lnc lists the client's connections to both real servers" out
    out=$(on director ipvsadm -Lnc 2>&1)
    if grep -q "$DR_CIP:[0-9]* *$S *$R1" <<<"$out" && grep -q "$DR_CIP:[0-9]* *$S *$R2" <<<"$out"; then
        pass "$name"
    else
        fail "$name" "no $DR_CIP -> $S -> rs lines"; show <<<"$out"
    fi
}

t_wrr() {     # wrr, then `-e ... -w 2` on rs1: 2:1
    local name="wrr after ipvsadm -e ... -w 2: rs1:rs2 = 2:1"
    if ! SCHED=wrr dr start || ! on director ipvsadm -e -t "$S" -r "$R1" -g -w 2; then
        fail "$name" "programming failed"; return
    fi
    local ans; ans=($(fetch 6))
    local n1 n2; n1=$(count rs1 "${ans[@]}"); n2=$(count rs2 "${ans[@]}")
    if [ "$n1" = 4 ] && [ "$n2" = 2 ]; then pass "$name (4:2)"; else fail "$name" "rs1=$n1 rs2=$n2: ${ans[*]}"; table | show; fi
}

t_weight0() { # weight 0: no new connections for that real server
    local name="weight 0 (ipvsadm -e ... -w 0) stops new connections to rs2"
    if ! dr start || ! on director ipvsadm -e -t "$S" -r "$R2" -g -w 0; then
        fail "$name" "programming failed"; return
    fi
    local ans; ans=($(fetch 4))
    if [ ${#ans[@]} = 4 ] && all_same "${ans[@]}" && [ "${ans[0]}" = rs1 ]; then pass "$name"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_delete() {  # -d: out of rotation
    local name="ipvsadm -d takes rs2 out of rotation"
    if ! dr start || ! on director ipvsadm -d -t "$S" -r "$R2"; then
        fail "$name" "programming failed"; return
    fi
    local ans; ans=($(fetch 4))
    if [ ${#ans[@]} = 4 ] && all_same "${ans[@]}" && [ "${ans[0]}" = rs1 ] && ! table | grep -q "$R2"; then
        pass "$name"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_persist() { # -p: the client sticks to one real server
    local name="persistence (ipvsadm -E ... -p 60) keeps the client on one server"
    if ! dr start || ! on director ipvsadm -E -t "$S" -s rr -p 60; then
        fail "$name" "programming failed"; return
    fi
    local ans; ans=($(fetch 6))
    if [ ${#ans[@]} = 6 ] && all_same "${ans[@]}" && table | grep -q "rr persistent 60"; then
        pass "$name (${ans[0]})"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_restore() { # -S -n, -C, -R: the same table back, and traffic still flows
    local name="ipvsadm -S -n | -C | -R restores the table and traffic flows"
    local saved="$LVS_RUN/rules.save" again ans
    if ! SCHED=wrr dr start || ! on director ipvsadm -e -t "$S" -r "$R1" -g -w 3 \
       || ! on director ipvsadm -S -n > "$saved"; then
        fail "$name" "programming or -S failed"; return
    fi
    on director ipvsadm -C
    if table | grep -q "$S"; then fail "$name" "-C did not clear"; table | show; return; fi
    if ! on director ipvsadm -R < "$saved"; then fail "$name" "-R failed"; show < "$saved"; return; fi
    again=$(on director ipvsadm -S -n)
    ans=($(fetch 8))
    local n1 n2; n1=$(count rs1 "${ans[@]}"); n2=$(count rs2 "${ans[@]}")
    if [ "$again" != "$(cat "$saved")" ]; then
        fail "$name" "table differs after -R"; { echo "saved:"; cat "$saved"; echo "now:"; echo "$again"; } | show
    elif [ "$n1" = 6 ] && [ "$n2" = 2 ]; then
        pass "$name ($(wc -l < "$saved") rules, rs1:rs2 = 6:2)"
    else
        fail "$name" "rs1=$n1 rs2=$n2: ${ans[*]}"; table | show
    fi
}

t_fwmark() {  # a firewall-mark service (-f): packets marked by tc on the director
    local name="fwmark service (-A -f 1): marked traffic alternates"
    # lvs_dr.sh for the director's VIP and sysctls, then only the fwmark service in the table.
    if ! dr start || ! on director ipvsadm -C || ! mark_vip 1 \
       || ! on director ipvsadm -A -f 1 -s rr \
       || ! on director ipvsadm -a -f 1 -r "$DR_RIP1" -g \
       || ! on director ipvsadm -a -f 1 -r "$DR_RIP2" -g; then
        fail "$name" "programming failed"; mark_vip off; return
    fi
    local ans; ans=($(fetch 6))
    if alternates "${ans[@]}" && table | grep -Eq "^FWM +1 +rr"; then pass "$name"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
    mark_vip off
}

t_udp() {     # a UDP service (-u), DR
    local name="UDP service (-u) with DR: answers alternate"
    if ! command -v socat >/dev/null; then fail "$name" "socat is not installed"; return; fi
    if ! dr start || ! on director ipvsadm -C || ! on director ipvsadm -A -u "$DR_VIP:53" -s rr \
       || ! on director ipvsadm -a -u "$DR_VIP:53" -r "$DR_RIP1:53" -g \
       || ! on director ipvsadm -a -u "$DR_VIP:53" -r "$DR_RIP2:53" -g; then
        fail "$name" "programming failed"; return
    fi
    local ans; ans=($(ask_udp 4))
    if alternates "${ans[@]}"; then pass "$name"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_nat() {     # LVS-NAT, VIP:80 -> RIP:8080
    local name="NAT (-m) with port mapping VIP:80 -> RIP:8080: answers alternate"
    if ! topo_nat; then fail "$name" "topology failed"; return; fi
    if ! VIP=$NAT_VIP RIPS="$NAT_RIP1 $NAT_RIP2" RPORT=$NAT_RPORT on director sh "$LVS_EXAMPLES/lvs_nat.sh"; then
        fail "$name" "lvs_nat.sh failed"; return
    fi
    local ans; ans=($(fetch 6))
    if alternates "${ans[@]}" && [ "$(table | grep -c ":$NAT_RPORT *Masq")" = 2 ]; then pass "$name"
    else fail "$name" "got: ${ans[*]}"; table | show; fi
}

t_tun() {     # LVS-TUN: ipip to tunl0 on the real servers
    local name="TUN (-i, ipip): answers alternate, both real servers decapsulate on tunl0"
    if ! topo_tun; then fail "$name" "topology failed"; return; fi
    if ! on director sh "$LVS_EXAMPLES/lvs_tun.sh"; then fail "$name" "lvs_tun.sh failed"; return; fi
    local ans rx1 rx2; ans=($(fetch 6))
    rx1=$(on rs1 cat /sys/class/net/tunl0/statistics/rx_packets)
    rx2=$(on rs2 cat /sys/class/net/tunl0/statistics/rx_packets)
    if alternates "${ans[@]}" && [ "$rx1" -gt 0 ] && [ "$rx2" -gt 0 ] && [ "$(table | grep -c Tunnel)" = 2 ]; then
        pass "$name (tunl0 rx $rx1/$rx2 packets)"
    else fail "$name" "got: ${ans[*]}; tunl0 rx rs1=$rx1 rs2=$rx2"; table | show; fi
}

DR_TESTS="dr_rr stats zero conns wrr weight0 delete persist restore fwmark udp"
ALL_TESTS="$DR_TESTS nat tun"

# --- main ------------------------------------------------------------------------------
if [ "${1:-}" = --list ]; then echo "$ALL_TESTS"; exit 0; fi
tests=${*:-$ALL_TESTS}
for t in $tests; do
    case " $ALL_TESTS " in *" $t "*) ;; *) echo "run.sh: unknown test $t (try --list)" >&2; exit 2 ;; esac
done

start=$(date +%s)
echo "== data-path tests, ipvsadm under test: $IPVSADM"
lvs_modules || { echo "FAIL modprobe ip_vs"; echo "0 passed, 1 failed"; exit 1; }
lvs_use_ipvsadm || { echo "FAIL ipvsadm binary"; echo "0 passed, 1 failed"; exit 1; }
if ! ipvsadm -v >/dev/null 2>&1; then
    echo "FAIL ipvsadm -v does not work with $IPVSADM"; echo "0 passed, 1 failed"; exit 1
fi
echo "== $(ipvsadm -v 2>&1 | head -n1)"

need_dr=1
for t in $tests; do
    case " $DR_TESTS " in
    *" $t "*)
        if [ $need_dr = 1 ]; then
            echo "== LVS-DR topology (client, director, rs1, rs2 on one segment, VIP $DR_VIP)"
            if ! topo_dr; then fail "DR topology" "could not build it"; continue; fi
            need_dr=0
        fi ;;
    *) need_dr=1 ;;
    esac
    "t_$t"
done
topo_teardown
echo "== $(( $(date +%s) - start ))s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
