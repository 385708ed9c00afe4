#!/bin/bash
# shellcheck shell=bash
# `ipvsadm --doctor` judged by traffic (issue 21), INSIDE the VM guest as root, in the data-path
# boot: Tests/DataPath/run.sh sources this file and runs `doctor_tests` as its test "doctor"
# (`Scripts/datapath-test --ipvsadm PATH doctor` runs it alone).
#
# On the seeds' DR, NAT and TUN topologies (Tests/DataPath/topology.sh), each built once:
#   - the correct set-up: `--doctor` on the director and on every real server finds nothing and
#     exits 0, and the client's traffic works;
#   - then one scenario per fault, on that same topology: break one thing; the client's traffic
#     fails (or misbehaves: the check says how, e.g. a real server answers ARP for the VIP);
#     `ipvsadm --doctor --json` in the namespace that holds the fault (the director or a real
#     server) names exactly the expected finding code and no other, with the exit status its
#     severity gives (1 error, 2 warning); the fix commands it printed (the finding's "fix"
#     list) are run there, in order; the traffic works again; `--doctor` there is clean (exit 0).
#     Whatever the doctor did, the scenario's own undo puts the set-up back, so one wrong
#     answer does not spoil the next scenario.
# One PASS/FAIL line per scenario, and one line
#   RESULT doctor fault=... | code=... | ns=... | fix=... | before=... | after=...
# per fault (Scripts/datapath-test copies them to results/doctor-datapath.txt; Docs/Doctor.md,
# "Judged by traffic", is the table made from them). With the oracle as $IPVSADM it is skipped (one PASS line).
#
# DOCTOR_TESTS (topologies: dr tun nat) and DOCTOR_CASES (finding codes) run a part: Scripts/test
# runs the DR topology's correct set-up and three faults (the budget of the test command); the
# whole table is `Scripts/datapath-test --ours doctor` (about 3.5 minutes on an idle machine).
#
# A traffic check sends its requests at once (curl --parallel, a new connection each, rr gives
# two to each real server), so a failing check costs one timeout, not one per request.

DX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DX_D=${LVS_RUN:-/tmp/lvs}/doctor
DX_TIMEOUT=${DX_TIMEOUT:-2.5}    # seconds a request may take (a lost SYN is resent after 1 s)

# --- traffic --------------------------------------------------------------------------------
# dx_fetch N [URL]: N HTTP GETs from the client at once, each on a new connection; prints the
# answers sorted, space separated, "-" for each that failed. The client's ARP cache is emptied
# first (a fault may have poisoned it).
dx_fetch() {
    local n=$1 url=${2:-http://$LVS_VIP:$LVS_PORT/} d=$DX_D/fetch i
    rm -rf "$d"; mkdir -p "$d"
    ip -n client neigh flush dev eth0 2>/dev/null
    on client curl -s -f -Z --parallel-immediate -m "$DX_TIMEOUT" -H 'Connection: close' \
        -o "$d/#1" "$url?[1-$n]" 2>/dev/null
    for ((i = 1; i <= n; i++)); do if [ -s "$d/$i" ]; then cat "$d/$i"; else echo -; fi; done \
        | sort | tr '\n' ' ' | sed 's/ $//'
}

# Each tr_* check sets DX_TR (what the client saw) and succeeds when the traffic works.
tr_rr() {       # 4 requests to the VIP: all answered, 2 by rs1 and 2 by rs2
    DX_TR=$(dx_fetch 4)
    [ "$DX_TR" = "rs1 rs1 rs2 rs2" ]
}
tr_rr6() {      # 6 requests, 3 real servers (rs2 twice, by two addresses): rs1 2, rs2 4
    DX_TR=$(dx_fetch 6)
    [ "$DX_TR" = "rs1 rs1 rs2 rs2 rs2 rs2" ]
}
tr_answered() { # 4 requests to the VIP: all answered (by any real server)
    DX_TR=$(dx_fetch 4)
    ! grep -q -- '-' <<<"$DX_TR"
}

# dx_names MAC...: the namespaces whose eth0 has these MACs.
dx_names() {
    local mac ns out=""
    for mac in "$@"; do
        for ns in director rs1 rs2 backup; do
            [ -e "/run/netns/$ns" ] || continue
            [ "$(on "$ns" cat /sys/class/net/eth0/address 2>/dev/null)" = "$mac" ] && { out="$out $ns"; continue 2; }
        done
        out="$out $mac"
    done
    echo "${out# }"
}

tr_arp() {      # the client asks who has the VIP: only the director answers; and tr_rr
    local macs who
    macs=$(on client /usr/bin/python3 "$DX_HERE/arp.py" who eth0 "$LVS_VIP" 1 | grep -v '^ready$')
    # shellcheck disable=SC2086
    who=$(dx_names $macs)
    if [ "$who" != director ]; then DX_TR="ARP for the VIP answered by: ${who:-nobody}"; return 1; fi
    tr_rr; DX_TR="ARP for the VIP answered by: $who; $DX_TR"
    [ "$DX_TR" = "ARP for the VIP answered by: director; rs1 rs1 rs2 rs2" ]
}

tr_announce() { # tr_rr with the real servers' ARP caches empty: their replies make them ARP for
                # the client; afterwards the client's ARP entry for the VIP is still the director's
    local mac who rr
    ip -n rs1 neigh flush dev eth0 2>/dev/null; ip -n rs2 neigh flush dev eth0 2>/dev/null
    tr_rr; rr=$DX_TR
    mac=$(ip -n client neigh show "$LVS_VIP" dev eth0 | awk '{ for (i = 1; i < NF; i++) if ($i == "lladdr") print $(i + 1) }')
    # shellcheck disable=SC2086
    who=$(dx_names $mac)
    DX_TR="$rr; the client's ARP entry for the VIP: ${who:-none}"
    [ "$who" = director ] && [ "$rr" = "rs1 rs1 rs2 rs2" ]
}

DX_IDLE=3.5
tr_idle() {     # a request that pauses DX_IDLE s half-way (the TCP timeout is 2 s) is answered
    local got
    got=$(on client /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.sendall(b"GET / HTTP/1.0\r\n")
time.sleep(float(sys.argv[3]))
try:
    s.sendall(b"\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    print(data.split(b"\r\n\r\n", 1)[1].decode().strip() if b"\r\n\r\n" in data else "- (no answer)")
except OSError as e:
    print("- (%s)" % type(e).__name__)
' "$LVS_VIP" "$LVS_PORT" "$DX_IDLE" 2>&1 | tail -n1)
    DX_TR="a request idle ${DX_IDLE} s half-way: $got"
    case $got in rs1|rs2) return 0 ;; *) return 1 ;; esac
}

DX_STUCK=
tr_drained() {  # 2 new connections of the client that persistence put on $DX_STUCK, now at
                # weight 0 (drained): both answered, by the other real server
    DX_TR=$(dx_fetch 2)
    DX_TR="drained $DX_STUCK; answers: $DX_TR"
    case $DX_TR in *"answers: rs1 rs1"|*"answers: rs2 rs2") ! grep -q "answers: $DX_STUCK" <<<"$DX_TR" ;; *) return 1 ;; esac
}

DX_RULES=$DX_D/rules
tr_port() {     # 4 requests: each real server answers from the port the rules file gives it
                # (rs1 also serves "rs1-8080" on 8080)
    local want p
    p=$(awk -v r="$DR_RIP1" '$1 == "-a" { for (i = 1; i < NF; i++) if ($i == "-r" && index($(i + 1), r ":") == 1) { sub(/.*:/, "", $(i + 1)); print $(i + 1) } }' "$DX_RULES")
    if [ "$p" = 80 ]; then want="rs1 rs1 rs2 rs2"; else want="rs1-$p rs1-$p rs2 rs2"; fi
    DX_TR=$(dx_fetch 4)
    DX_TR="rules file: rs1 on port ${p:-?}; answers: $DX_TR"
    [ "$DX_TR" = "rules file: rs1 on port $p; answers: $want" ]
}

DX_SYNC_WAIT=10
tr_sync() {     # 2 requests through the director; both connections show up on the backup
                # director within DX_SYNC_WAIT s (its sync daemon receives them)
    local out ports p n=0 end=$((SECONDS + DX_SYNC_WAIT)) conns
    out=$(on client curl -s -m "$DX_TIMEOUT" -o /dev/null -H 'Connection: close' -w '%{http_code} %{local_port}\n' \
        "http://$LVS_VIP/" "http://$LVS_VIP/" 2>/dev/null)
    ports=$(awk '$1 == 200 { print $2 }' <<<"$out")
    if [ "$(wc -w <<<"$ports")" != 2 ]; then DX_TR="the requests failed: $(tr '\n' ' ' <<<"$out")"; return 1; fi
    while :; do
        conns=$(on backup ipvsadm -Lnc 2>/dev/null); n=0
        for p in $ports; do grep -q " $DR_CIP:$p " <<<"$conns" && n=$((n + 1)); done
        [ $n = 2 ] && break
        [ $SECONDS -lt $end ] || break
        sleep 1
    done
    DX_TR="2 connections answered, $n on the backup director"
    [ $n = 2 ]
}

# --- the doctor -----------------------------------------------------------------------------
# dx_doctor NS ARGS...: `ipvsadm --doctor --json ARGS` in NS; sets DX_RC, DX_JSON, DX_CODES
# (the finding codes, space separated, in the order given) and DX_OUT (the text form, for FAIL
# lines).
dx_doctor() {
    local ns=$1; shift
    DX_JSON=$(on "$ns" ipvsadm --doctor --json "$@" 2>"$DX_D/doctor.err"); DX_RC=$?
    DX_CODES=$(jq -r '[.findings[].code] | join(" ")' <<<"$DX_JSON" 2>/dev/null) \
        || DX_CODES="(not JSON: $(head -c 200 <<<"$DX_JSON"; head -c 200 "$DX_D/doctor.err"))"
}
dx_text() { on "$1" ipvsadm --doctor "${@:2}" 2>&1; }

# dx_clean NAME NS ARGS...: PASS when the doctor finds nothing in NS and exits 0.
dx_clean() {
    local name=$1 ns=$2; shift 2
    dx_doctor "$ns" "$@"
    if [ "$DX_RC" = 0 ] && [ -z "$DX_CODES" ]; then pass "$name"
    else fail "$name" "ipvsadm --doctor $* in $ns: exit $DX_RC, findings [$DX_CODES]"; dx_text "$ns" "$@" | show; fi
}

# dx_correct TOPO: the correct set-up: the doctor is clean on the director and every real
# server, and tr_rr works.
dx_correct() {
    local topo=$1 ns
    dx_clean "doctor $topo correct set-up: the director, no finding" director
    for ns in rs1 rs2; do
        dx_clean "doctor $topo correct set-up: $ns, no finding" "$ns" $(dx_rs_args "$topo")
    done
    if tr_rr; then pass "doctor $topo correct set-up: traffic works ($DX_TR)"
    else fail "doctor $topo correct set-up: traffic works" "the client got: $DX_TR"; fi
    echo "RESULT doctor fault=none ($topo, correct) | code=- | ns=director rs1 rs2 | fix=- | before=$DX_TR | after=$DX_TR"
}

# dx_rs_args TOPO: the doctor's arguments on a real server of that topology.
dx_rs_args() {
    case $1 in
    dr)  echo "--vip $DR_VIP -g --director $DR_DIP" ;;
    tun) echo "--vip $DR_VIP -i --director $DR_DIP" ;;
    nat) echo "--vip $NAT_VIP -m --director $NAT_DIP" ;;
    esac
}

# dx_lap: seconds since the last dx_lap (for the time each phase of a scenario takes).
DX_LAP=
dx_lap() {   # sets DX_L
    local now=${EPOCHREALTIME/,/.}
    DX_L=$(awk -v a="$now" -v b="${DX_LAP:-$now}" 'BEGIN { printf "%.1fs", a - b }')
    DX_LAP=$now
}

# dx_case FAULT CODE SEVERITY NS "DOCTOR-ARGS" TRAFFIC BREAK UNDO
#   FAULT: what is broken (for the table); CODE: the finding the doctor must name, and no other
#   (several findings of that code are one fault seen on several objects); SEVERITY:
#   error|warning; NS: where the doctor runs; TRAFFIC: a tr_* check; BREAK and UNDO: commands
#   (eval'd) that make the fault and put the correct set-up back (UNDO runs in any case).
dx_case() {
    local fault=$1 code=$2 sev=$3 ns=$4 args=$5 traffic=$6 brk=$7 undo=$8
    dx_wanted "$code" || return 0
    local name="doctor: $fault -> $code ($ns)" before after="" fixes fix ok=1 why="" want_rc t0=$SECONDS codes
    want_rc=$([ "$sev" = warning ] && echo 2 || echo 1)
    dx_lap
    if ! eval "$brk"; then fail "$name" "could not make the fault: $brk"; eval "$undo"; return; fi
    if $traffic; then
        fail "$name" "the fault did not break the traffic: $DX_TR"; eval "$undo"; return
    fi
    before=$DX_TR
    dx_lap; DX_T="traffic $DX_L"
    # shellcheck disable=SC2086
    dx_doctor "$ns" $args
    dx_lap; DX_T="$DX_T, doctor $DX_L"
    codes=$(tr ' ' '\n' <<<"$DX_CODES" | sort -u | tr '\n' ' '); codes=${codes% }
    if [ "$codes" != "$code" ]; then
        ok=0; why="named [$DX_CODES], want [$code] (exit $DX_RC)"
    elif [ "$DX_RC" != "$want_rc" ]; then
        ok=0; why="exit $DX_RC, want $want_rc for $sev findings only"
    elif [ "$(jq -r '[.findings[].severity] | unique | join(" ")' <<<"$DX_JSON")" != "$sev" ]; then
        ok=0; why="severity $(jq -r '[.findings[].severity] | unique | join(" ")' <<<"$DX_JSON"), want $sev"
    fi
    fixes=$(jq -r '.findings[].fix[]?' <<<"$DX_JSON" 2>/dev/null)
    if [ $ok = 1 ] && [ -z "$fixes" ]; then ok=0; why="no fix command"; fi
    if [ $ok = 1 ]; then
        while IFS= read -r fix; do
            [ -n "$fix" ] || continue
            if ! on "$ns" sh -c "$fix" > "$DX_D/fix.out" 2>&1; then
                ok=0; why="the fix failed: $fix ($(head -c 200 "$DX_D/fix.out"))"; break
            fi
        done <<<"$fixes"
    fi
    dx_lap; DX_T="$DX_T, fix $DX_L"
    if [ $ok = 1 ]; then
        if $traffic; then after=$DX_TR
        else ok=0; after=$DX_TR; why="after the fix the traffic still fails: $DX_TR"; fi
    fi
    if [ $ok = 1 ]; then
        # shellcheck disable=SC2086
        dx_doctor "$ns" $args
        if [ "$DX_RC" != 0 ] || [ -n "$DX_CODES" ]; then ok=0; why="after the fix: exit $DX_RC, findings [$DX_CODES]"; fi
    fi
    dx_lap; DX_T="$DX_T, traffic + doctor $DX_L"
    echo "RESULT doctor fault=$fault | code=$code | ns=$ns | fix=$(tr '\n' ';' <<<"$fixes" | sed 's/;$//; s/;/; /g') | before=$before | after=${after:--} | ok=$ok"
    if [ $ok = 1 ]; then
        pass "$name (before: $before; after the fix: $after; $((SECONDS - t0))s: $DX_T)"
    else
        fail "$name" "$why"
        { echo "traffic before the fix: $before"; echo "ipvsadm --doctor $args in $ns:"; dx_text "$ns" $args
          [ "$ns" = director ] && { echo "ipvsadm -Lnc:"; on director ipvsadm -Lnc; }; } 2>&1 | show
    fi
    eval "$undo"
}

# dx_wanted CODE: whether DOCTOR_CASES (finding codes; all when unset) asks for that fault.
dx_wanted() { [ -z "${DOCTOR_CASES:-}" ] || [[ " $DOCTOR_CASES " == *" $1 "* ]]; }

# --- the scenarios --------------------------------------------------------------------------
conf() { echo "/proc/sys/net/ipv4/conf/$1/$2"; }
# set_conf NS KEY VALUE IFACE...: net.ipv4.conf.IFACE.KEY = VALUE in NS.
set_conf() { local ns=$1 k=$2 v=$3 i; shift 3; for i in "$@"; do on "$ns" sh -c "echo $v > $(conf "$i" "$k")" || return 1; done; }
dx_dr_table() { on director sh "$LVS_EXAMPLES/lvs_dr.sh" start; }
# A persistent service, one client connection on it (DX_STUCK answered), then that server drained.
dx_quiesce() {
    local rip
    on director ipvsadm -E -t "$DR_VIP:80" -s rr -p 60 || return 1
    DX_STUCK=$(dx_fetch 1)
    case $DX_STUCK in rs1) rip=$DR_RIP1 ;; rs2) rip=$DR_RIP2 ;; *) echo "no answer: $DX_STUCK" >&2; return 1 ;; esac
    on director ipvsadm -e -t "$DR_VIP:80" -r "$rip:80" -g -w 0
}
# The sync daemons: master on the director, backup on a second director ("backup", the same
# table, no VIP), on a link of their own (sync0, 10.9.9.0/24).
dx_sync_start() {
    topo_add_backup || return 1
    ip link add sync0 netns director type veth peer name sync0 netns backup || return 1
    ip -n director addr add 10.9.9.1/24 dev sync0 && ip -n director link set sync0 up || return 1
    ip -n backup addr add 10.9.9.2/24 dev sync0 && ip -n backup link set sync0 up || return 1
    on backup sh "$LVS_EXAMPLES/lvs_dr.sh" start && ip -n backup addr del "$DR_VIP/32" dev eth0 || return 1
    on backup ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 7 || return 1
    on director ipvsadm --start-daemon master --mcast-interface sync0 --syncid 7
}
dx_sync_stop() {
    on director ipvsadm --stop-daemon master 2>/dev/null; on backup ipvsadm --stop-daemon backup 2>/dev/null
    ip -n director link del sync0 2>/dev/null
}

dx_dr() {
    local t0=$SECONDS
    echo "== doctor: LVS-DR"
    topo_dr || { fail "doctor DR topology" "could not build it"; return 1; }
    _web rs1 rs1-8080 8080 || { fail "doctor DR topology" "rs1's web server on 8080"; return 1; }
    dx_dr_table || { fail "doctor DR" "lvs_dr.sh failed"; return 1; }
    echo "== doctor: DR topology built ($((SECONDS - t0))s)"
    dx_correct dr
    # The scenarios below remove real servers that have served (the kernel keeps their closed
    # connections for 2 minutes): with expire_nodest_conn=1, which the doctor advises when such
    # connections exist, each fault gives its own finding only.
    on director sysctl -qw net.ipv4.vs.expire_nodest_conn=1
    local rs S="$DR_VIP:80" X=10.57.0.184
    rs=$(dx_rs_args dr)
    dx_case "DR real server without the VIP" rs-vip-missing error rs1 "$rs" tr_rr \
        "ip -n rs1 addr del $DR_VIP/32 dev lo" \
        "ip -n rs1 addr replace $DR_VIP/32 broadcast $DR_VIP dev lo label lo:0"
    dx_case "DR real server with the VIP on eth0 instead of lo" rs-vip-on-arp-interface error rs1 "$rs" tr_arp \
        "ip -n rs1 addr del $DR_VIP/32 dev lo && ip -n rs1 addr add $DR_VIP/32 dev eth0" \
        "ip -n rs1 addr del $DR_VIP/32 dev eth0 2>/dev/null; ip -n rs1 addr replace $DR_VIP/32 broadcast $DR_VIP dev lo label lo:0"
    dx_case "DR real server, VIP on lo, arp_ignore 0: answers ARP for the VIP" rs-arp-ignore error rs1 "$rs" tr_arp \
        "set_conf rs1 arp_ignore 0 all lo eth0" \
        "set_conf rs1 arp_ignore 1 all lo eth0"
    dx_case "DR real server, arp_announce 0: its ARP requests carry the VIP" rs-arp-announce error rs1 "$rs" tr_announce \
        "set_conf rs1 arp_announce 0 all lo eth0" \
        "set_conf rs1 arp_announce 2 all lo eth0"
    dx_case "the VIP not on the director" vip-not-local error director "" tr_rr \
        "ip -n director addr del $DR_VIP/32 dev eth0" \
        "ip -n director addr replace $DR_VIP/32 broadcast $DR_VIP dev eth0 label eth0:0"
    dx_case "all weights 0" no-live-real-server error director "" tr_answered \
        "on director ipvsadm -e -t $S -r $DR_RIP1:80 -g -w 0 && on director ipvsadm -e -t $S -r $DR_RIP2:80 -g -w 0" \
        dx_dr_table
    dx_case "-g with a mapped port (rules file: rs1 as RIP:8080)" dr-port-ignored warning director "--rules $DX_RULES" tr_port \
        "printf '%s\n' '-A -t $S -s rr' '-a -t $S -r $DR_RIP1:8080 -g -w 1' '-a -t $S -r $DR_RIP2:80 -g -w 1' > $DX_RULES && on director ipvsadm -C && on director ipvsadm -R < $DX_RULES" \
        dx_dr_table
    # A persistent service set up as the doctor advises (expire_quiescent_template=1), but for the TCP timeout.
    dx_case "persistence (-p 60) longer than the TCP timeout (--set 2 0 0)" persistence-over-tcp-timeout warning director "" tr_idle \
        "on director sysctl -qw net.ipv4.vs.expire_quiescent_template=1 && on director ipvsadm -E -t $S -s rr -p 60 && on director ipvsadm --set 2 0 0" \
        "on director ipvsadm --set 900 0 0; on director sysctl -qw net.ipv4.vs.expire_quiescent_template=0; dx_dr_table"
    dx_case "expire_quiescent_template 0: a drained (weight 0) server keeps its persistent clients" sysctl-expire-quiescent-template warning director "" tr_drained \
        dx_quiesce \
        "on director sysctl -qw net.ipv4.vs.expire_quiescent_template=0; dx_dr_table"
    if ! dx_wanted sync-interface-down; then
        :
    elif dx_sync_start; then
        dx_case "sync daemon on a down interface (master on sync0, sync0 down)" sync-interface-down error director "" tr_sync \
            "ip -n director link set sync0 down" \
            "ip -n director link set sync0 up"
    else
        fail "doctor: sync daemon on a down interface" "could not start the sync daemons"
    fi
    dx_sync_stop
    # Last on this topology: its connections to $X stay in the table after $X leaves it.
    dx_case "DR real server on another subnet (rs2 also as $X, routed via rs1)" dr-real-server-not-on-link error director "" tr_rr6 \
        "ip -n rs2 addr add $X/24 dev eth0 && ip -n director route add 10.57.0.0/24 via $DR_RIP1 && on director ipvsadm -a -t $S -r $X:80 -g" \
        "ip -n director route del $X/32 2>/dev/null; ip -n director route del 10.57.0.0/24; ip -n rs2 addr del $X/24 dev eth0"
    echo "== doctor: DR done ($((SECONDS - t0))s)"
}

dx_tun() {
    local t0=$SECONDS rs
    echo "== doctor: LVS-TUN"
    # A fresh topology: the DR scenarios left connection entries to real servers since removed.
    topo_tun || { fail "doctor TUN topology" "could not build it"; return 1; }
    on director sh "$LVS_EXAMPLES/lvs_tun.sh" start || { fail "doctor TUN" "lvs_tun.sh failed"; return 1; }
    dx_correct tun
    rs=$(dx_rs_args tun)
    dx_case "TUN real server with tunl0 down" rs-tunl0-missing error rs1 "$rs" tr_rr \
        "ip -n rs1 link set tunl0 down" \
        "ip -n rs1 link set tunl0 up"
    dx_case "TUN real server with rp_filter on (strict)" rs-rp-filter error rs1 "$rs" tr_rr \
        "set_conf rs1 rp_filter 1 all tunl0" \
        "set_conf rs1 rp_filter 0 all tunl0"
    echo "== doctor: TUN done ($((SECONDS - t0))s)"
}

dx_nat() {
    local t0=$SECONDS rs
    echo "== doctor: LVS-NAT"
    topo_nat || { fail "doctor NAT topology" "could not build it"; return 1; }
    VIP=$NAT_VIP RIPS="$NAT_RIP1 $NAT_RIP2" RPORT=$NAT_RPORT on director sh "$LVS_EXAMPLES/lvs_nat.sh" \
        || { fail "doctor NAT" "lvs_nat.sh failed"; return 1; }
    dx_correct nat
    rs=$(dx_rs_args nat)
    dx_case "ip_forward off on the NAT director" nat-ip-forward-off error director "" tr_rr \
        "on director sysctl -qw net.ipv4.ip_forward=0" \
        "on director sysctl -qw net.ipv4.ip_forward=1; set_conf director send_redirects 0 all default eth0 eth1"
    dx_case "NAT real server's gateway not the director" rs-nat-gateway error rs1 "$rs" tr_rr \
        "ip -n rs1 route replace default via 192.168.0.99" \
        "ip -n rs1 route replace default via $NAT_DIP"
    echo "== doctor: NAT done ($((SECONDS - t0))s)"
}

doctor_tests() {
    local t0=$SECONDS t
    if [ "$(readlink -f "$IPVSADM")" = "$(readlink -f /sbin/ipvsadm)" ]; then
        pass "doctor: the traffic-judged scenarios (oracle run: skipped, --doctor is ours)"; return
    fi
    rm -rf "$DX_D"; mkdir -p "$DX_D"
    for t in ${DOCTOR_TESTS:-dr tun nat}; do "dx_$t"; done
    topo_teardown
    echo "== doctor: $((SECONDS - t0))s"
}
