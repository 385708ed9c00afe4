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
# shellcheck source=selftest-topology.sh
. "$here/selftest-topology.sh"
# shellcheck source=../Health/run.sh
. "$here/../Health/run.sh"
# shellcheck source=../Health/path.sh
. "$here/../Health/path.sh"
# shellcheck source=watch.sh
. "$here/watch.sh"
# shellcheck source=../Doctor/run.sh
. "$here/../Doctor/run.sh"

# shellcheck source=../lib/check.sh
. "$here/../lib/check.sh"
pass() { report "$1" 0; }
fail() { report "$1: $2" 1; }
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

is_oracle() { [ "$(readlink -f "$IPVSADM")" = "$(readlink -f /sbin/ipvsadm)" ]; }

t_dr_port_follows_service() { # the seeds' finding: DR cannot remap ports, -r RIP:8080 -g means RIP:80
    local name="dr-port-follows-service: DR (-g) real servers given as RIP:8080 are listed and reached as RIP:80"
    local R1x="$DR_RIP1:8080" R2x="$DR_RIP2:8080" ans tab conns direct
    # Web servers on 8080 too, answering differently: any request reaching them would show.
    if [ -z "${web8080:-}" ]; then
        _web rs1 rs1-8080 8080 && _web rs2 rs2-8080 8080 || { fail "$name" "web servers on 8080 failed"; return; }
        web8080=1
    fi
    if ! dr start || ! on director ipvsadm -C || ! on director ipvsadm -A -t "$S" -s rr \
       || ! on director ipvsadm -a -t "$S" -r "$R1x" -g || ! on director ipvsadm -a -t "$S" -r "$R2x" -g; then
        fail "$name" "programming failed"; table | show; return
    fi
    ans=($(fetch 6))
    tab=$(table); conns=$(on director ipvsadm -Lnc 2>&1)
    direct=$(fetch 1 "http://$R1x/")    # 8080 does answer when asked directly
    if ! alternates "${ans[@]}"; then
        fail "$name" "answers (want rs1/rs2 from port 80 alternating): ${ans[*]}"; show <<<"$tab"
    elif ! grep -Eq -- "-> $R1 +Route" <<<"$tab" || ! grep -Eq -- "-> $R2 +Route" <<<"$tab" || grep -q ":8080" <<<"$tab"; then
        fail "$name" "the table does not list $R1 and $R2 (Route) without 8080"; show <<<"$tab"
    elif ! grep -q "$S *$R1" <<<"$conns" || ! grep -q "$S *$R2" <<<"$conns" || grep -q ":8080" <<<"$conns"; then
        fail "$name" "-Lnc does not show connections to port 80 only"; show <<<"$conns"
    elif [ "$direct" != rs1-8080 ]; then
        fail "$name" "the 8080 server does not answer directly (got '$direct'), the check proves nothing"
    else
        pass "$name (answers: ${ans[*]})"
    fi
}

t_sync_daemon_pair() { # master on the director, backup on a second director: connections are synced
    local name="sync-daemon-pair: connections through the master director show up on the backup"
    local held="$LVS_RUN/held.ports" d_m d_b short ports p i ok missing="" bad=0 mline bline
    if ! topo_add_backup; then fail "$name" "could not add the backup director"; return; fi
    # The same table on both; the backup is a standby: no VIP (else it would answer ARP for it).
    if ! dr start || ! on backup sh "$LVS_EXAMPLES/lvs_dr.sh" start \
       || ! ip -n backup addr del "$DR_VIP/32" dev eth0; then
        fail "$name" "programming the directors failed"; return
    fi
    ip -n client neigh del "$DR_VIP" dev eth0 2>/dev/null
    on director ipvsadm --stop-daemon master 2>/dev/null; on backup ipvsadm --stop-daemon backup 2>/dev/null
    if ! on backup ipvsadm --start-daemon backup --mcast-interface eth0 --syncid 1 \
       || ! on director ipvsadm --start-daemon master --mcast-interface eth0 --syncid 1; then
        fail "$name" "--start-daemon failed"
        on director ipvsadm --stop-daemon master 2>/dev/null; on backup ipvsadm --stop-daemon backup 2>/dev/null
        return
    fi
    d_m=$(on director ipvsadm -L --daemon 2>&1); d_b=$(on backup ipvsadm -L --daemon 2>&1)
    # Traffic through the master: 4 short HTTP connections (their client ports from curl) and
    # 2 held open (ESTABLISHED). Only these are compared: older entries were never synced.
    short=$(on client curl -s -m 5 -o /dev/null -H 'Connection: close' -w '%{http_code} %{local_port}\n' \
        "http://$S/" "http://$S/" "http://$S/" "http://$S/" 2>/dev/null)
    ports=$(awk '$1 == 200 { print $2 }' <<<"$short")
    if hold_tcp 2 120 "$held"; then ports="$ports $(cat "$held")"; else bad=1; fi
    # The master flushes its sync buffer every 2 s and syncs a state change a few packets
    # later; under software emulation on a busy machine that can take a while: poll, and
    # wait for the held connections to be ESTABLISHED on the backup too.
    local deadline=$((SECONDS + 40))
    while :; do
        missing=""
        for p in $ports; do
            mline=$(on director ipvsadm -Lnc | awk -v c="$DR_CIP:$p" '$4 == c { print $1, $4, $5, $6 }')
            bline=$(on backup ipvsadm -Lnc | awk -v c="$DR_CIP:$p" '$4 == c { print $1, $4, $5, $6 }')
            [ -n "$mline" ] && [ "$mline" = "$bline" ] || missing="$missing $p"
        done
        established=1
        for p in $(cat "$held" 2>/dev/null); do
            on backup ipvsadm -Lnc | grep -Eq "^TCP .* ESTABLISHED +$DR_CIP:$p +$S +($DR_RIP1|$DR_RIP2):80\$" \
                || established=0
        done
        [ -z "$missing" ] && [ $established = 1 ] && break
        [ $SECONDS -lt $deadline ] || break
        sleep 1
    done
    ok=1
    if ! grep -Eq '^master sync daemon \(mcast=eth0, syncid=1[,)]' <<<"$d_m" || grep -q backup <<<"$d_m"; then ok=0; fi
    if ! grep -Eq '^backup sync daemon \(mcast=eth0, syncid=1[,)]' <<<"$d_b" || grep -q master <<<"$d_b"; then ok=0; fi
    if [ $ok = 0 ]; then
        fail "$name" "ipvsadm -L --daemon"; { echo "master:"; echo "$d_m"; echo "backup:"; echo "$d_b"; } | show
    elif [ "$(wc -w <<<"$ports")" != 6 ] || [ $bad = 1 ]; then
        fail "$name" "traffic through the master: curl gave [$(tr '\n' ' ' <<<"$short")], held: $([ $bad = 1 ] && echo failed || echo ok)"
        table | show
    elif [ -n "$missing" ]; then
        fail "$name" "client ports$missing: not on the backup (or not the master's entry)"
        { echo "master -Lnc:"; on director ipvsadm -Lnc; echo "backup -Lnc:"; on backup ipvsadm -Lnc; } 2>&1 | show
    else
        ok=1
        for p in $(cat "$held"); do
            on backup ipvsadm -Lnc | grep -Eq "^TCP .* ESTABLISHED +$DR_CIP:$p +$S +($DR_RIP1|$DR_RIP2):80\$" || ok=0
        done
        if [ $ok = 1 ]; then
            pass "$name (6 connections on both, the 2 held ones ESTABLISHED; daemons: $(head -n1 <<<"$d_m"), $(head -n1 <<<"$d_b"))"
        else
            fail "$name" "held connections (client ports $(tr '\n' ' ' < "$held")) not ESTABLISHED on the backup"
            on backup ipvsadm -Lnc 2>&1 | show
        fi
    fi
    # The daemon lines must also be the oracle's, byte for byte (ours under test).
    if ! is_oracle; then
        [ "$d_m" = "$(on director /sbin/ipvsadm -L --daemon 2>&1)" ] || echo "    note: -L --daemon (master) differs from /sbin/ipvsadm"
        [ "$d_b" = "$(on backup /sbin/ipvsadm -L --daemon 2>&1)" ] || echo "    note: -L --daemon (backup) differs from /sbin/ipvsadm"
    fi
    kill "$HOLD_PID" 2>/dev/null
    if ! on director ipvsadm --stop-daemon master || ! on backup ipvsadm --stop-daemon backup \
       || [ -n "$(on director ipvsadm -L --daemon)$(on backup ipvsadm -L --daemon)" ]; then
        fail "sync-daemon-pair: --stop-daemon stops both daemons" "daemons still listed"
        { on director ipvsadm -L --daemon; on backup ipvsadm -L --daemon; } 2>&1 | show
    fi
}

# same_as_oracle OUTDIR ARGS...: ours and /sbin/ipvsadm with ARGS on the director's live table
# (each output: stdout, then stderr, then "status N"); ours must equal an oracle output taken
# around it. Counters and timers move between two calls (in the emulated VM one call can take a
# second, and -Lnc's expiry times tick), so the oracle runs in a loop inside the director from
# before ours starts until after it ends: oracle, ours, oracle, with the oracle sampled densely.
# Three tries. Leaves ours in OUTDIR/us and the closest oracle output in OUTDIR/o.
_sample_oracle() {    # DIR ARGS...: /sbin/ipvsadm ARGS into DIR/o.1, o.2, ... until DIR/done, then once more
    local d=$1 i=0 last=0; shift
    while [ $last = 0 ]; do
        [ -e "$d/done" ] && last=1
        i=$((i + 1))
        /sbin/ipvsadm "$@" >"$d/o.$i" 2>"$d/o.$i.err"; echo "status $?" >>"$d/o.$i.err"
        cat "$d/o.$i.err" >>"$d/o.$i"; rm -f "$d/o.$i.err"
    done
}
same_as_oracle() {
    local d=$1 try f best n bestn pid; shift
    for try in 1 2 3; do
        rm -f "$d"/o.* "$d/done" "$d/us" "$d/o"
        on director bash -c "$(declare -f _sample_oracle); _sample_oracle \"\$@\"" _ "$d" "$@" &
        pid=$!
        while [ ! -s "$d/o.1" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
        on director ipvsadm "$@" >"$d/us" 2>"$d/us.err"; echo "status $?" >>"$d/us.err"
        cat "$d/us.err" >>"$d/us"; rm -f "$d/us.err"
        touch "$d/done"; wait $pid
        case " $* " in
        *" -Lnc "*|*" -c "*)
            # Connection listings: expiry times tick every second and one call takes about a
            # second under emulation, so the expire column (mm:ss) is masked; every other byte
            # is compared.
            for f in "$d/us" "$d"/o.*; do sed -E -i 's/^(.{4})[0-9]+:[0-9]{2}/\1mm:ss/' "$f"; done ;;
        esac
        bestn=999999
        for f in "$d"/o.*; do
            cmp -s "$d/us" "$f" && return 0
            n=$(diff "$f" "$d/us" | wc -l)
            [ "$n" -lt "$bestn" ] && { bestn=$n; best=$f; }
        done
        cp "$best" "$d/o"
        SAMPLES=$(ls "$d"/o.* | wc -l)
    done
    return 1
}

t_live_listings_match_oracle() { # ours and the oracle print the same live table, byte for byte
    local name="live-listings-match-oracle: listings of the live DR table equal /sbin/ipvsadm's"
    local d="$LVS_RUN/listings" held="$LVS_RUN/held2.ports" args bad=() n=0
    if is_oracle; then pass "$name (oracle run: nothing to compare)"; return; fi
    # A table with some of everything: weights, thresholds, a persistent UDP service.
    if ! dr start || ! on director ipvsadm -e -t "$S" -r "$R1" -g -w 2 -x 100 -y 50 \
       || ! on director ipvsadm -A -u "$DR_VIP:53" -s wlc -p 60 \
       || ! on director ipvsadm -a -u "$DR_VIP:53" -r "$DR_RIP1:53" -g -x 10 \
       || ! on director ipvsadm -a -u "$DR_VIP:53" -r "$DR_RIP2:53" -g -w 3; then
        fail "$name" "programming failed"; table | show; return
    fi
    fetch 6 >/dev/null; ask_udp 3 >/dev/null
    hold_tcp 2 60 "$held" || echo "    note: the long-lived connections could not be opened"
    sleep 3    # one estimator round (2 s): non-zero rates
    mkdir -p "$d"
    while IFS= read -r args; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        if ! same_as_oracle "$d" $args; then
            bad+=("$args")
            echo "    --- ipvsadm $args: the closest of $SAMPLES /sbin/ipvsadm outputs vs ours"
            diff -u "$d/o" "$d/us" | tail -n +3 | show
        fi
    done <<'ARGS'
-Lnc
-Ln --stats
-Ln --stats --exact
-Ln --rate
-Ln --thresholds
-Ln --persistent-conn
-L -c
ARGS
    if [ ${#bad[@]} = 0 ]; then pass "$name ($n listings identical)"
    else fail "$name" "${#bad[@]} of $n differ: $(printf '[%s] ' "${bad[@]}")"; fi
    # The same live table for programs: --json and --metrics against the oracle's text, with
    # the held connections still open and the traffic stopped (Tests/Features/crosscheck.py).
    local out
    out=$(on director /usr/bin/python3 "$here/../Features/crosscheck.py" "$IPVSADM" 2>&1)
    local rc=$?
    echo "$out" | grep -E '^(PASS|FAIL) ' | sed 's/^/    /'
    if [ $rc = 0 ]; then pass "listings-for-programs: --json and --metrics of the live table equal the oracle's listings ($(echo "$out" | grep -c '^PASS') checks)"
    else fail "listings-for-programs: --json and --metrics of the live table equal the oracle's listings" "$(echo "$out" | grep -c '^FAIL') checks failed"; echo "$out" | grep -v '^PASS' | show; fi
    kill "$HOLD_PID" 2>/dev/null
}

# hitless-reload: a client opens new TCP connections to the VIP at a steady rate while a
# 2000-service table with the VIP's service in the middle is reloaded with 10 changes: first the
# usual way with the oracle (ipvsadm -C; ipvsadm -R), then with ours (ipvsadm --apply). Every
# connection that is refused, reset or unanswered is counted, and one answered only after a
# second or more (its first SYN was dropped). Ours must lose none; the oracle's counts are
# reported (Docs/Applying.md, README).
_reload_table() {   # FILE VARIANT: 1999 services and the VIP's in the middle; VARIANT 1 has 10 changes
    local f=$1 v=$2 i
    {
        for ((i = 1; i < 2000; i++)); do
            if [ "$i" = 1000 ]; then
                echo "-A -t $DR_VIP:80 -s rr"
                echo "-a -t $DR_VIP:80 -r $DR_RIP1:80 -g -w 1"
                echo "-a -t $DR_VIP:80 -r $DR_RIP2:80 -g -w $((v == 1 ? 2 : 1))"
            fi
            if [ "$v" = 1 ] && [ "$i" -le 9 ]; then echo "-A -t 10.200.$((i / 250)).$((i % 250 + 1)):80 -s wrr"
            else echo "-A -t 10.200.$((i / 250)).$((i % 250 + 1)):80 -s wlc"; fi
            echo "-a -t 10.200.$((i / 250)).$((i % 250 + 1)):80 -r 10.201.0.$((i % 200 + 1)):80 -m -w 1"
        done
    } > "$f"
}
_hammer_during() {   # RESULT COMMAND...: the client's counts while COMMAND runs on the director
    local result=$1 stop="$LVS_RUN/hammer.stop" pid i; shift
    rm -f "$stop" "$stop.ready"
    on client /usr/bin/python3 "$here/hammer.py" "$DR_VIP" 80 0.05 "$stop" > "$result" &
    pid=$!
    # The client must be connecting before anything changes.
    for ((i = 0; i < 300; i++)); do [ -e "$stop.ready" ] && break; sleep 0.1; done
    sleep 1
    on director "$@"
    sleep 1
    touch "$stop"; wait $pid
}
t_hitless_reload() {
    local name="hitless-reload: new connections while a 2000-service table is reloaded with 10 changes"
    local d="$LVS_RUN/hitless" ours oracle lost
    if is_oracle; then pass "$name (oracle run: nothing to compare)"; return; fi
    mkdir -p "$d"
    _reload_table "$d/before" 0; _reload_table "$d/after" 1
    if ! dr start || ! on director ipvsadm -C || ! on director ipvsadm -R < "$d/before"; then
        fail "$name" "programming failed"; return
    fi
    _hammer_during "$d/oracle" sh -c "/sbin/ipvsadm -C && /sbin/ipvsadm -R < $d/after"
    on director /sbin/ipvsadm -R < /dev/null
    on director ipvsadm --apply < "$d/before" || { fail "$name" "--apply back to the first table failed"; return; }
    _hammer_during "$d/ours" sh -c "ipvsadm --apply < $d/after"
    oracle=$(cat "$d/oracle"); ours=$(cat "$d/ours")
    echo "    oracle -C + -R: $oracle"
    echo "    ours --apply:   $ours"
    lost=$(echo "$ours" | awk '{ print $4 + $6 + $8 + $10 }')
    if [ "$(on director ipvsadm -Sn)" != "$(on director /sbin/ipvsadm -Sn)" ] \
       || ! on director ipvsadm --apply --dry-run < "$d/after" | cmp -s - /dev/null; then
        fail "$name" "the table after --apply is not the file's"
    elif [ -n "$lost" ] && [ "$lost" = 0 ] && [ "$(echo "$ours" | awk '{ print $2 }')" -gt 0 ]; then
        pass "$name: ours lost 0 ($(echo "$ours" | awk '{ print $2 }') ok, $(echo "$ours" | awk '{ print $12 }') slow), the oracle's -C + -R lost $(echo "$oracle" | awk '{ print $4 + $6 + $8 + $10 }') ($(echo "$oracle" | awk '{ print $12 }') slow)"
    else
        fail "$name" "ours: $ours; oracle: $oracle"
    fi
}

# --- the kernel selftest's shape (selftest-topology.sh) --------------------------------------
# One client, one director, one real server in namespaces of their own (ipvs-ns0/1/2), the
# service VIP:8080 -> RIP:8080 programmed by the ipvsadm under test, and payload files sent
# through it with socat and compared with cmp on the real server: the selftest's 32 bytes, and
# 1 MiB (many segments; in TUN the director's ICMP "fragmentation needed" makes the client's
# segments fit the ipip encapsulation).
ST_SIZES="32 1048576"
_bytes() { if (( $1 % 1048576 == 0 )); then echo "$(($1 / 1048576)) MiB"; elif (( $1 % 1024 == 0 )); then echo "$(($1 / 1024)) KiB"; else echo "$1 B"; fi; }
_selftest() {   # MODE METHOD NAME [FORWARDING-FLAG]
    local mode=$1 method=$2 name=$3 flag=${4:-} d="$LVS_RUN/selftest" svc="$ST_VIP:$ST_PORT"
    local tab conns n size sent=() bad="" rx=""
    if ! st_setup "$mode"; then fail "$name" "topology failed"; st_teardown; return; fi
    # shellcheck disable=SC2086
    if ! on "$ST_NS1" ipvsadm -A -t "$svc" -s rr \
       || ! on "$ST_NS1" ipvsadm -a -t "$svc" -r "$ST_RIP:$ST_PORT" $flag; then
        fail "$name" "programming failed"; on "$ST_NS1" ipvsadm -Ln 2>&1 | show; st_teardown; return
    fi
    mkdir -p "$d"
    for size in $ST_SIZES; do
        head -c "$size" /dev/urandom > "$d/in.$size"
        if ! st_send "$d/in.$size" "$d/out.$size"; then
            bad="$bad, $(_bytes "$size"): socat failed ($(tail -n1 "$d/out.$size.err" 2>/dev/null | sed 's/^.* E //'))"
        elif ! cmp "$d/in.$size" "$d/out.$size" > "$d/cmp" 2>&1; then
            bad="$bad, $(_bytes "$size"): received $(stat -c %s "$d/out.$size" 2>/dev/null) B, $(cat "$d/cmp")"
        else sent+=("$(_bytes "$size")"); fi
    done
    tab=$(on "$ST_NS1" ipvsadm -Ln 2>&1); conns=$(on "$ST_NS1" ipvsadm -Lnc 2>&1)
    n=$(grep -Ec "^TCP .* $ST_CIP:[0-9]+ +$svc +$ST_RIP:$ST_PORT\$" <<<"$conns")
    [ "$mode" = tun ] && rx=$(on "$ST_NS2" cat /sys/class/net/tunl0/statistics/rx_packets)
    if [ -n "$bad" ]; then
        fail "$name" "${bad#, }"; { echo "ipvsadm -Ln:"; echo "$tab"; echo "ipvsadm -Lnc:"; echo "$conns"; } | show
    elif ! grep -Eq -- "^TCP +$svc +rr( |$)" <<<"$tab" \
         || ! grep -Eq -- "-> $ST_RIP:$ST_PORT +$method +1 " <<<"$tab"; then
        fail "$name" "the table does not list $svc rr -> $ST_RIP:$ST_PORT $method"; show <<<"$tab"
    elif [ "$n" != "$(wc -w <<<"$ST_SIZES")" ]; then
        fail "$name" "ipvsadm -Lnc: $n connections $ST_CIP -> $svc -> $ST_RIP:$ST_PORT"; show <<<"$conns"
    elif [ "$mode" = tun ] && ! [ "${rx:-0}" -gt 0 ] 2>/dev/null; then
        fail "$name" "nothing came in on the real server's tunl0 (rx_packets ${rx:-?})"
    else
        pass "$name ($(IFS=+; echo "${sent[*]}") identical; $n connections in -Lnc${rx:+; tunl0 rx $rx packets})"
    fi
    st_teardown
}

t_selftest_dr() {  # the selftest's DR: -a without a forwarding option is -g
    _selftest dr Route "selftest-dr: kernel selftest topology, DR (-a with no method, i.e. -g): payloads arrive intact"
}
t_selftest_nat() {
    _selftest nat Masq "selftest-nat: kernel selftest topology, NAT (-m): payloads arrive intact" -m
}
t_selftest_tun() {
    _selftest tun Tunnel "selftest-tun: kernel selftest topology, TUN (-i, ipip): payloads arrive intact" -i
}

# The health checker's scenarios (Tests/Health/run.sh) on the DR topology with rs3 and rs4 added.
t_health() { health_tests; }

# The daemon's path check (Tests/Health/daemon-path.sh) builds its own DR topology: run as a
# script of its own, its checks counted here.
t_path_daemon() {
    local out line p f
    out=$(bash "$here/../Health/daemon-path.sh" 2>&1)
    grep -v -E '^[0-9]+ passed, [0-9]+ failed$' <<<"$out"
    line=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed$' <<<"$out" | tail -n1)
    if [ -z "$line" ]; then fail "path check by the daemon (Tests/Health/daemon-path.sh)" "no result line"; return; fi
    p=${line%% passed*}; f=${line#*, }; f=${f%% failed}
    passed=$((passed + p)); failed=$((failed + f))
}

# `ipvsadm --doctor` judged by traffic (Tests/Doctor/run.sh): builds the DR, NAT and TUN
# topologies itself, breaks them one fault at a time.
t_doctor() { doctor_tests; }

DR_TESTS="dr_rr stats zero conns wrr weight0 delete persist restore fwmark udp dr-port-follows-service sync-daemon-pair live-listings-match-oracle hitless-reload health path-dr watch"
ALL_TESTS="$DR_TESTS nat tun path-tun selftest-dr selftest-nat selftest-tun path-daemon doctor"

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
    "t_${t//-/_}"
done
topo_teardown
echo "== $(( $(date +%s) - start ))s"
summary
