#!/bin/bash
# Health checker scenarios (issue 20): ipvsadm-health judged by real HTTP traffic on the seeds'
# DR topology with three (four) web real servers. Runs INSIDE the VM guest as root, in the
# data-path boot: Tests/DataPath/run.sh sources this file and runs `health_tests` as its test
# "health" (so `Scripts/datapath-test --ours health` runs these alone). It can also run by
# itself in a guest:  IPVSADM=... IPVSADM_HEALTH=... Tests/Health/run.sh
#
# A client sends HEALTH_RATE (10) requests per second to the VIP the whole time, each on a new
# connection, each logged with its start time and outcome (client.py); the director's table is
# sampled every 100 ms (weights.py reads /proc/net/ip_vs, the data `ipvsadm -Ln` lists, without
# a process per sample). Every verdict below is read from those two logs and the daemon's log.
#   a. rs2's web server stops: its weight is 0 within fall x interval + timeout, the client's
#      failures lie only between the stop and that moment; it starts: back to its weight within
#      rise x interval + timeout; again with ramp=3: the weight climbs 1 -> declared over ~3 s.
#   b. the seeds' TCP_CHECK (connect_timeout 3, nb_get_retry 3, delay_before_retry 3,
#      delay_loop 6), keepalived --check (no VRRP) and then ours (the same keys in keepalived's
#      names on --check tcp) on the same director, servers and client: failed requests and
#      detection time of each, as a "RESULT ours ... | keepalived ..." line.
#   c. rs2 flaps (down and up every second, 10 s): weight changes <= what rise and fall allow.
#   d. three of four servers down, threshold=0.5: two stay in, the log says one is held.
#   e. rs2 down, `ipvsadm --apply` of the same file and SIGHUP: rs2 stays at weight 0.
#   f. rs2 down, kill -9 of the daemon, started again: rs2 stays out until its server is back.
# Ours needs ipvsadm with --check (--apply of the rules files) and ipvsadm-health: with the
# oracle as $IPVSADM the scenarios are skipped (one PASS line says so). HEALTH_TESTS="flap crash"
# runs some of them (names: the t_health_* functions).
# Timing limits are the contract's plus H_SLACK (0.3 s): the sampling period and the time a
# sample takes under emulation.

H_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
H_RATE=${HEALTH_RATE:-10}
H_SLACK=0.3
H_D=${LVS_RUN:-/tmp/lvs}/health
H_RUN=$H_D/run              # IPVSADM_RUN_DIR of ipvsadm and ipvsadm-health (state file, lock)
H_PID=                      # the daemon
H_CPID= H_WPID=             # the client, the sampler
H_STOP=$H_D/stop
H_CLIENT=$H_D/client.log H_W=$H_D/weights.log
# The checks of scenarios a, c, d, e, f: HTTP GET / every second, 1 s timeout, rise 2, fall 3.
H_CHECK="http,path=/,status=200,interval=1,timeout=1,rise=2,fall=3"
H_DOWN_LIMIT=4      # fall x interval + timeout
H_UP_LIMIT=3        # rise x interval + timeout

now() { date +%s.%N | cut -c1-14; }
fle() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a <= b) }'; }     # float a <= b
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }     # times
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a - b }'; }     # durations shown
# The HTTP listener on port 80 in NS: stop it (KILLED_AT: the time of the kill; finding the
# process takes a second or more under emulation), start it (topology.sh's _web).
web_stop() {
    local ns=$1 pids i
    pids=$(on "$ns" ss -Hltnp 'sport = :80' | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
    KILLED_AT=$(now)
    # shellcheck disable=SC2086
    [ -n "$pids" ] && kill $pids
    for ((i = 0; i < 50; i++)); do
        [ -z "$(on "$ns" ss -Hltn 'sport = :80')" ] && return 0
        sleep 0.1
    done
    return 1
}
web_up() { [ -n "$(on "$1" ss -Hltn 'sport = :80')" ] || _web "$1" "$1" 80; }

# weight_at DEST: the last sampled weight of DEST ("-" when absent or never seen).
weight_at() { awk -v d="$1" '$2 == d { w = $3 } END { print (w == "" ? "-" : w) }' "$H_W"; }
# first_when DEST AFTER OP [VAL]: the first sample time >= AFTER at which DEST's weight is
# zero (0 or absent) | eq VAL | pos; AFTER itself when it already was; nothing if never.
first_when() {
    awk -v d="$1" -v t="$2" -v op="$3" -v v="${4:-}" '
        function sat(w) { return (op == "zero" && (w == "-" || w == 0)) || (op == "eq" && w == v) || (op == "pos" && w != "-" && w > 0) }
        $2 != d { next }
        $1 < t { cur = $3; next }
        !checked { checked = 1; if (cur != "" && sat(cur)) { print t; found = 1; exit } }
        sat($3) { print $1; found = 1; exit }
        END { if (!found && !checked && cur != "" && sat(cur)) print t }' "$H_W"
}
# wait_when DEST OP VAL LIMIT-SECONDS: wait until first_when (from now) holds; prints its time.
wait_when() {
    local d=$1 op=$2 v=$3 limit=$4 t0 t end
    t0=$(now); end=$(awk -v a="$t0" -v b="$limit" 'BEGIN { printf "%.3f", a + b }')
    while :; do
        t=$(first_when "$d" "$t0" "$op" "$v")
        [ -n "$t" ] && { echo "$t"; return 0; }
        fle "$(now)" "$end" || return 1
        sleep 0.2
    done
}
# changes DEST FROM TO: the sampled weights of DEST between FROM and TO, e.g. "2 0 2".
changes() { awk -v d="$1" -v a="$2" -v b="$3" '$2 == d && $1 >= a && $1 <= b { printf "%s ", $3 }' "$H_W"; }
# fails FROM TO: the client's failed requests started between FROM and TO; oks FROM TO.
fails() { awk -v a="$1" -v b="$2" '$2 == "fail" && $1 >= a && $1 <= b { n++ } END { print n + 0 }' "$H_CLIENT"; }
oks() { awk -v a="$1" -v b="$2" '$2 == "ok" && $1 >= a && $1 <= b { n++ } END { print n + 0 }' "$H_CLIENT"; }

# h_rules FILE N [SERVICE-KEYS] [RS2-WORDS]: a wrr service on the VIP with rs1..rsN (weights 1,
# 2, 1, 1), --check $H_CHECK plus SERVICE-KEYS on the -A line, RS2-WORDS replacing rs2's "-w 2".
h_rules() {
    local f=$1 n=$2 keys=${3:-} rs2=${4:--w 2} i rip
    ( umask 077; {
        echo "-A -t $S_VIP -s wrr --check $H_CHECK${keys:+,$keys}"
        for ((i = 1; i <= n; i++)); do
            rip=DR_RIP$i
            if [ $i = 2 ]; then echo "-a -t $S_VIP -r ${!rip}:80 -g $rs2"
            else echo "-a -t $S_VIP -r ${!rip}:80 -g -w 1"; fi
        done
    } > "$f" )
}
h_state_file() { echo "$H_RUN/health-$(stat -L -c %i /run/netns/director)"; }
# h_daemon LOG FILE: start ipvsadm-health on FILE in the director's namespace, stderr to LOG.
h_daemon() {
    # A simple command in the background, not through `on`: $! is then the daemon itself
    # (ip netns exec and env exec it), which the scenarios signal.
    ip netns exec director env IPVSADM_RUN_DIR="$H_RUN" "$HEALTH" --rules "$2" 2>>"$1" &
    H_PID=$!
}
h_daemon_stop() {   # SIGTERM (it must exit 0 at once), SIGKILL after 5 s
    local i
    [ -n "$H_PID" ] || return 0
    kill "$H_PID" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$H_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$H_PID" 2>/dev/null; then
        echo "    note: ipvsadm-health did not exit 5 s after SIGTERM: killed"; kill -9 "$H_PID"
    fi
    wait "$H_PID" 2>/dev/null; H_PID=
}
# h_start NAME FILE N: a clean start for a scenario: rs1..rsN serving, no daemon, no state
# file, the table = FILE (ipvsadm -C, ipvsadm --apply), the daemon started on it and every
# server at its declared weight. Sets H_LOG (the daemon's log, $H_D/NAME.log).
h_start() {
    local name=$1 f=$2 n=$3 i w rip
    H_LOG=$H_D/$name.log; : > "$H_LOG"
    h_daemon_stop
    for ((i = 1; i <= n; i++)); do web_up "rs$i" || { echo "web server rs$i did not start"; return 1; }; done
    rm -f "$(h_state_file)"
    on director ipvsadm -C && on director env IPVSADM_RUN_DIR="$H_RUN" ipvsadm --apply < "$f" \
        || { echo "ipvsadm --apply of $f failed"; return 1; }
    h_daemon "$H_LOG" "$f"
    sleep 2    # a round of checks
    kill -0 "$H_PID" 2>/dev/null || { echo "ipvsadm-health exited:"; cat "$H_LOG"; return 1; }
    for ((i = 1; i <= n; i++)); do
        rip=DR_RIP$i; w=$(awk -v r="${!rip}:80" '$1 == "-a" && $5 == r { print $8 }' "$f")
        wait_when "${!rip}:80" eq "$w" 10 >/dev/null || { echo "rs$i not at weight $w: $(weight_at "${!rip}:80")"; return 1; }
    done
}
h_fail() {   # NAME WHY: a FAIL line with the daemon's log and the table under it
    fail "$1" "$2"
    { echo "ipvsadm-health log:"; tail -n 15 "$H_LOG"; echo "ipvsadm -Ln:"; on director ipvsadm -Ln; } 2>&1 | show
}

# --- a. a server stops and starts ------------------------------------------------------------
h_cycle() {   # NAME DEST NS WEIGHT: stop, detect, start, recover; sets T0 TD T1 TU
    local name=$1 d=$2 ns=$3 w=$4
    web_stop "$ns" || { h_fail "$name" "could not stop $ns's web server"; return 1; }
    T0=$KILLED_AT
    TD=$(wait_when "$d" zero "" 15) || { h_fail "$name" "$d still at weight $(weight_at "$d") after 15 s"; return 1; }
    sleep 1
    # busybox httpd listens before it returns: T1, the return, is when the server surely
    # listens (its start, STARTED, can take a second under emulation; the RESULT lines show it).
    STARTED=$(now)
    _web "$ns" "$ns" 80 || { h_fail "$name" "could not start $ns's web server again"; return 1; }
    T1=$(now)
    TU=$(wait_when "$d" eq "$w" 15) || { h_fail "$name" "$d at weight $(weight_at "$d"), not back to $w, 15 s after its server started"; return 1; }
}
t_health_stop_start() {
    local name="health-stop-start: rs2's HTTP stops: weight 0 within fall x interval + timeout ($H_DOWN_LIMIT s), client failures only in that window; starts: back to weight 2"
    local f=$H_D/a.rules R2="$DR_RIP2:80" from detect back before inside outside seq
    h_rules "$f" 3
    h_start a "$f" 3 || { h_fail "$name" "set-up failed"; return; }
    from=$(now); sleep 2
    h_cycle "$name" "$R2" rs2 2 || return
    sleep 1
    detect=$(secs "$TD" "$T0"); back=$(secs "$TU" "$T1")
    inside=$(fails "$(fsub "$T0" 0.2)" "$(fsub "$TD" -0.5)")
    outside=$(( $(fails "$from" "$(now)") - inside ))
    before=$(oks "$from" "$T0")
    seq=$(changes "$R2" "$T0" "$(now)")
    echo "RESULT health-stop-start: detect=${detect}s back=${back}s fails=$inside outside=$outside (rs2 weights: $seq; its web server took $(secs "$T1" "$STARTED")s to start)"
    if ! fle "$detect" "$(awk -v a=$H_DOWN_LIMIT -v s=$H_SLACK 'BEGIN { print a + s }')"; then
        h_fail "$name" "detected after ${detect}s"
    elif ! fle "$back" "$(awk -v a=$H_UP_LIMIT -v s=$H_SLACK 'BEGIN { print a + s }')"; then
        h_fail "$name" "back after ${back}s (limit rise x interval + timeout = $H_UP_LIMIT s)"
    elif [ "$outside" != 0 ] || [ "$before" -lt 5 ]; then
        h_fail "$name" "$outside failed requests outside the window (${before} ok before the stop)"
        awk -v a="$from" '$1 >= a && $2 == "fail"' "$H_CLIENT" | head -n 20 | show
    elif [ "$(grep -c -- "-> $R2 " "$H_LOG")" -lt 2 ]; then
        h_fail "$name" "the daemon logged no down and up transition for $R2"
    else
        pass "$name (detected in ${detect}s, back in ${back}s, $inside failed requests, all in the window)"
    fi
    # The same with ramp=3 and weight 4: 1 -> 4 over about 3 s, never down again.
    name="health-ramp: with ramp=3 a returning server climbs from 1 to its weight 4 over about 3 s"
    h_rules "$f" 3 "" "-w 4 --check ramp=3"
    h_start a-ramp "$f" 3 || { h_fail "$name" "set-up failed"; return; }
    h_cycle "$name" "$R2" rs2 4 || return
    local first steps climb
    first=$(first_when "$R2" "$T1" pos)
    seq=$(changes "$R2" "$T1" "$TU")
    steps=$(wc -w <<<"$seq")
    climb=$(secs "$TU" "$first")
    echo "RESULT health-ramp: rs2 weights from its start: $seq(climb ${climb}s)"
    if [ "$(awk '{ print $1 }' <<<"$seq")" = 4 ]; then
        h_fail "$name" "came back straight at its weight: $seq"
    elif ! awk '{ for (i = 2; i <= NF; i++) if ($i != "-" && $(i-1) != "-" && $i + 0 < $(i-1) + 0) exit 1 }' <<<"$seq"; then
        h_fail "$name" "the weight went down while ramping: $seq"
    elif [ "$steps" -lt 3 ] || ! fle 1.5 "$climb" || ! fle "$climb" 5; then
        h_fail "$name" "weights $seq in ${climb}s (want at least 1, 2 steps, 4, over 2-4 s)"
    else
        pass "$name (weights $seq over ${climb}s)"
    fi
}

# --- b. ours and keepalived's checker, the seeds' TCP_CHECK ----------------------------------
K_DELAY_LOOP=6 K_TIMEOUT=3 K_RETRY=3 K_RETRY_DELAY=3
# keepalived 2.2.7 no longer knows the seeds' `nb_get_retry` in TCP_CHECK ("Unknown keyword",
# and then checks with its default of one retry): the seeds' meaning is written `retry`.
h_keepalived_conf() {
    local i rip
    echo "global_defs {"
    echo "    router_id health_test"
    echo "}"
    echo "virtual_server $DR_VIP 80 {"
    echo "    delay_loop $K_DELAY_LOOP"
    echo "    lb_algo wrr"
    echo "    lb_kind DR"
    echo "    protocol TCP"
    for i in 1 2 3; do
        rip=DR_RIP$i
        echo "    real_server ${!rip} 80 {"
        echo "        weight 1"
        echo "        TCP_CHECK {"
        echo "            connect_timeout $K_TIMEOUT"
        echo "            retry $K_RETRY"
        echo "            delay_before_retry $K_RETRY_DELAY"
        echo "        }"
        echo "    }"
    done
    echo "}"
}
# h_trials SIDE: H_TRIALS stop/start cycles of rs2 under the running checker; appends each
# trial's failed requests, detection and return times to the SIDE_fails, SIDE_detect, SIDE_back
# lists (SIDE: ours or k). H_LOG names the checker's log.
H_TRIALS=${HEALTH_TRIALS:-2}
h_trials() {
    local side=$1 t
    for ((t = 0; t < H_TRIALS; t++)); do
        sleep 2
        h_cycle "$name" "$DR_RIP2:80" rs2 1 || return 1
        sleep 1
        eval "${side}_fails+=\" \$(fails \"\$T0\" \"\$(now)\")\"; ${side}_detect+=\" \$(secs \"\$TD\" \"\$T0\")\"; ${side}_back+=\" \$(secs \"\$TU\" \"\$T1\")\""
    done
}
sum() { awk '{ for (i = 1; i <= NF; i++) s += $i } END { print s + 0 }' <<<"$*"; }
mean() { awk '{ for (i = 1; i <= NF; i++) s += $i } END { printf "%.1f", NF ? s / NF : 0 }' <<<"$*"; }
t_health_vs_keepalived() {
    local name="health-vs-keepalived: the seeds' TCP_CHECK, ours and keepalived --check on the same servers and client"
    local f=$H_D/b.rules k=$H_D/keepalived kpid i rip limit d
    local ours_fails="" ours_detect="" ours_back="" k_fails="" k_detect="" k_back=""
    if ! command -v keepalived >/dev/null; then fail "$name" "keepalived is not installed (Scripts/setup installs it)"; return; fi
    # The seeds' keys, in keepalived's spelling, on our --check; rise=1 as keepalived (one
    # success puts a server back); the limit is keepalived's: delay_loop + retries x delay.
    limit=$((K_DELAY_LOOP + K_RETRY * K_RETRY_DELAY + K_TIMEOUT))
    ( umask 077; {
        echo "-A -t $S_VIP -s wrr --check tcp,delay_loop=$K_DELAY_LOOP,connect_timeout=$K_TIMEOUT,nb_get_retry=$K_RETRY,delay_before_retry=$K_RETRY_DELAY,rise=1"
        echo "-a -t $S_VIP -r $DR_RIP1:80 -g -w 1"
        echo "-a -t $S_VIP -r $DR_RIP2:80 -g -w 1"
        echo "-a -t $S_VIP -r $DR_RIP3:80 -g -w 1"
    } > "$f" )
    # keepalived: its checker process only (--check, no VRRP), its own copy of the table; ours
    # not running.
    h_daemon_stop
    mkdir -p "$k"
    h_keepalived_conf > "$k/keepalived.conf"
    for i in 1 2 3; do web_up "rs$i" || { fail "$name" "web server rs$i did not start"; return; }; done
    on director ipvsadm -C
    ip netns exec director keepalived --dont-fork --check --log-console --use-file="$k/keepalived.conf" \
        --pid="$k/keepalived.pid" --checkers_pid="$k/checkers.pid" --vrrp_pid="$k/vrrp.pid" \
        > "$k/keepalived.log" 2>&1 &
    kpid=$!
    for i in 1 2 3; do
        rip=DR_RIP$i
        wait_when "${!rip}:80" eq 1 20 >/dev/null || { H_LOG=$k/keepalived.log h_fail "$name" "keepalived did not program rs$i"; kill "$kpid"; wait "$kpid"; return; }
    done
    H_LOG=$k/keepalived.log h_trials k || { kill "$kpid"; wait "$kpid"; return; }
    kill "$kpid"; wait "$kpid" 2>/dev/null
    if [ -n "${HEALTH_DEBUG:-}" ]; then
        { echo "keepalived's log:"; tail -n 40 "$k/keepalived.log"; echo "weights:"; tail -n 30 "$H_W"; } | show
    fi
    h_start b-ours "$f" 3 || { h_fail "$name" "set-up (ours) failed"; return; }
    h_trials ours || return
    h_daemon_stop
    echo "RESULT ours fails=$(sum $ours_fails) detect=$(mean $ours_detect)s | keepalived fails=$(sum $k_fails) detect=$(mean $k_detect)s ($H_TRIALS trials each, fails summed, detection averaged; ours: detect$ours_detect s, fails$ours_fails, back$ours_back s; keepalived: detect$k_detect s, fails$k_fails, back$k_back s; TCP_CHECK connect_timeout $K_TIMEOUT, nb_get_retry $K_RETRY, delay_before_retry $K_RETRY_DELAY, delay_loop $K_DELAY_LOOP; $H_RATE requests/s)"
    # Measured side by side, not judged against each other (the phase of the checks against
    # the stop is random); ours must meet its own limit in every trial.
    for d in $ours_detect; do
        fle "$d" "$limit.3" || { h_fail "$name" "ours detected after ${d}s (limit $limit s): detect$ours_detect"; return; }
    done
    pass "$name (ours: $(sum $ours_fails) failed, detected in$ours_detect s; keepalived: $(sum $k_fails) failed,$k_detect s; limit $limit s)"
}

# --- c. a flapping server ---------------------------------------------------------------------
t_health_flap() {
    local name="health-flap: rs2 down and up every second for 10 s: weight changes no more than rise and fall allow"
    local f=$H_D/c.rules R2="$DR_RIP2:80" fl=$H_D/flap t0 t1 i seq n logged bound end fpid
    # rs2's web server for this scenario: flap.py, which flaps on cue (touch $fl.go).
    web_stop rs2 || { fail "$name" "could not stop rs2's web server"; return; }
    rm -f "$fl".*
    ip netns exec rs2 /usr/bin/python3 "$H_HERE/flap.py" 80 rs2 1 10 "$fl.go" "$fl.log" & fpid=$!
    for ((i = 0; i < 100; i++)); do [ -e "$fl.log.ready" ] && break; sleep 0.1; done
    h_rules "$f" 3
    h_start c "$f" 3 || { h_fail "$name" "set-up failed"; kill "$fpid"; return; }
    touch "$fl.go"
    sleep 11
    t0=$(awk 'NR == 1 { print $1 }' "$fl.log"); t1=$(awk 'END { print $1 }' "$fl.log")
    # Whatever the flapping started settles: rs2 is up again, back within rise x interval + timeout.
    end=$(wait_when "$R2" eq 2 $((H_UP_LIMIT + H_DOWN_LIMIT + 2))) || end=
    sleep 1
    seq=$(changes "$R2" "$t0" "$(now)")
    n=$(wc -w <<<"$seq")
    logged=$(grep -c -- "-> $R2 .*weight [0-9]* -> [0-9]*" "$H_LOG")
    # Each change to 0 takes fall failed checks after the last success, each change back rise
    # successful checks: over the W seconds of flapping and settling, at most
    # 2 x ceil(W / ((rise + fall) x interval)) changes.
    bound=$(awk -v w="$(secs "$(now)" "$t0")" 'BEGIN { c = w / 5; if (c > int(c)) c = int(c) + 1; print 2 * c }')
    echo "RESULT health-flap: $(wc -l < "$fl.log") flaps in $(secs "$t1" "$t0")s; $n weight changes sampled ($seq), $logged transitions logged, bound $bound"
    if [ "$(wc -l < "$fl.log")" != 10 ]; then h_fail "$name" "the server flapped $(wc -l < "$fl.log") times, not 10"
    elif [ -z "$end" ]; then h_fail "$name" "rs2 not back at weight 2 after the flapping: $(weight_at "$R2")"
    elif [ "$n" -gt "$bound" ] || [ "$logged" -gt "$bound" ]; then h_fail "$name" "$n changes sampled, $logged logged, more than $bound"
    else pass "$name ($n changes sampled, $logged logged; at most $bound)"; fi
    kill "$fpid"; wait "$fpid" 2>/dev/null
    web_up rs2
}

# --- d. the threshold ---------------------------------------------------------------------------
t_health_threshold() {
    local name="health-threshold: three of four servers down with threshold=0.5: two stay in, the log says one is held"
    local f=$H_D/d.rules i n w held rip ws=""
    topo_add_rs rs4 || { fail "$name" "could not add rs4"; return; }
    h_rules "$f" 4 "threshold=0.5" "-w 1"
    h_start d "$f" 4 || { h_fail "$name" "set-up failed"; return; }
    for i in 2 3 4; do web_stop "rs$i"; done
    sleep $((H_DOWN_LIMIT + 3))
    n=0
    for i in 1 2 3 4; do
        rip=DR_RIP$i; w=$(weight_at "${!rip}:80"); ws="$ws rs$i=$w"
        [ "$w" != - ] && [ "$w" -gt 0 ] && n=$((n + 1))
    done
    held=$(grep -ci 'held' "$H_LOG")
    echo "RESULT health-threshold: weights$ws; $held log line(s) about holding"
    if [ "$n" = 2 ] && [ "$(weight_at "$DR_RIP1:80")" = 1 ] && [ "$held" -ge 1 ]; then
        pass "$name (weights$ws: $(grep -i -m1 'held' "$H_LOG"))"
    else
        h_fail "$name" "weights$ws, $n in; $held log lines about holding"
    fi
    for i in 2 3 4; do web_up "rs$i"; done
}

# --- e. a reload with a server down ------------------------------------------------------------
t_health_reload() {
    local name="health-reload: rs2 down, ipvsadm --apply of the same file and SIGHUP: rs2 stays at weight 0"
    local f=$H_D/e.rules R2="$DR_RIP2:80" t seq out
    h_rules "$f" 3
    h_start e "$f" 3 || { h_fail "$name" "set-up failed"; return; }
    web_stop rs2
    wait_when "$R2" zero "" 15 >/dev/null || { h_fail "$name" "rs2 not at weight 0"; return; }
    t=$(now)
    out=$(on director env IPVSADM_RUN_DIR="$H_RUN" ipvsadm --apply < "$f" 2>&1) || { h_fail "$name" "--apply failed: $out"; return; }
    kill -HUP "$H_PID"
    sleep $((H_UP_LIMIT + 2))
    seq=$(changes "$R2" "$t" "$(now)")
    if ! kill -0 "$H_PID" 2>/dev/null; then h_fail "$name" "the daemon exited after SIGHUP"
    elif [ "$(weight_at "$R2")" != 0 ] || [ -n "$(tr -d ' 0-' <<<"$seq")" ]; then
        h_fail "$name" "rs2's weights after the reload: $seq(now $(weight_at "$R2"))"
    elif [ "$(weight_at "$DR_RIP1:80")" != 1 ] || [ "$(weight_at "$DR_RIP3:80")" != 1 ]; then
        h_fail "$name" "rs1/rs3 not at their weights: $(weight_at "$DR_RIP1:80") $(weight_at "$DR_RIP3:80")"
    else
        pass "$name (no sample of rs2 above 0 for $((H_UP_LIMIT + 2)) s after the reload)"
    fi
    web_up rs2
}

# --- f. a crash ---------------------------------------------------------------------------------
t_health_crash() {
    local name="health-crash: rs2 down, kill -9 of the daemon, started again: rs2 stays out until its server is back"
    local f=$H_D/f.rules R2="$DR_RIP2:80" t seq up back
    h_rules "$f" 3
    h_start f "$f" 3 || { h_fail "$name" "set-up failed"; return; }
    web_stop rs2
    wait_when "$R2" zero "" 15 >/dev/null || { h_fail "$name" "rs2 not at weight 0"; return; }
    kill -9 "$H_PID"; wait "$H_PID" 2>/dev/null
    t=$(now)
    h_daemon "$H_LOG" "$f"
    sleep $((H_UP_LIMIT + 3))
    seq=$(changes "$R2" "$t" "$(now)")
    if ! kill -0 "$H_PID" 2>/dev/null; then h_fail "$name" "the restarted daemon exited"; web_up rs2; return; fi
    if [ "$(weight_at "$R2")" != 0 ] || [ -n "$(tr -d ' 0-' <<<"$seq")" ]; then
        h_fail "$name" "rs2 came back after the restart though its server is down: $seq"; web_up rs2; return
    fi
    up=$(now); web_up rs2
    back=$(wait_when "$R2" eq 2 $((H_UP_LIMIT + 3))) || { h_fail "$name" "rs2 not back after its server started: $(weight_at "$R2")"; return; }
    pass "$name (out for $((H_UP_LIMIT + 3)) s after the restart, back $(secs "$back" "$up")s after its server started)"
}

# --- driver -----------------------------------------------------------------------------------
health_tests() {
    local t0 rc
    t0=$(date +%s)
    S_VIP="$DR_VIP:80"
    HEALTH=${IPVSADM_HEALTH:-$(dirname "$(readlink -f "$IPVSADM")")/ipvsadm-health}
    if [ "$(readlink -f "$IPVSADM")" = "$(readlink -f /sbin/ipvsadm)" ]; then
        pass "health: the checker scenarios (oracle run: skipped, they need ipvsadm --apply with --check)"; return
    fi
    if [ ! -x "$HEALTH" ]; then fail "health: ipvsadm-health" "$HEALTH is not an executable (set IPVSADM_HEALTH)"; return; fi
    echo "== health checker scenarios: $HEALTH, $H_RATE requests/s"
    rm -rf "$H_D"; mkdir -p "$H_RUN"
    topo_add_rs rs3 || { fail "health: rs3" "could not add a third real server"; return; }
    if ! dr start; then fail "health: lvs_dr.sh" "failed"; return; fi
    # The sampler and the client run through every scenario; each scenario reads its own window.
    rm -f "$H_STOP" "$H_STOP.ready" "$H_STOP.w" "$H_STOP.w.ready"
    on director /usr/bin/python3 "$H_HERE/weights.py" "$H_W" "$H_STOP.w" 0.1 & H_WPID=$!
    on client /usr/bin/python3 "$H_HERE/client.py" "$DR_VIP" 80 "$H_RATE" "$H_CLIENT" "$H_STOP" & H_CPID=$!
    for ((rc = 0; rc < 300; rc++)); do [ -e "$H_STOP.ready" ] && [ -e "$H_STOP.w.ready" ] && break; sleep 0.1; done
    for t in ${HEALTH_TESTS:-stop_start flap reload crash threshold vs_keepalived}; do "t_health_$t"; done
    h_daemon_stop
    touch "$H_STOP" "$H_STOP.w"; wait "$H_CPID" "$H_WPID" 2>/dev/null
    echo "== health: $(wc -l < "$H_CLIENT") requests, $(( $(date +%s) - t0 ))s"
}

# Run by itself (not sourced): the DR topology, the scenarios, the tally.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -u
    here=$H_HERE/../DataPath
    . "$here/topology.sh"
    . "$H_HERE/../lib/check.sh"
    pass() { report "$1" 0; }
    fail() { report "$1: $2" 1; }
    show() { sed 's/^/    | /'; }
    dr() { on director sh "$LVS_EXAMPLES/lvs_dr.sh" "$@"; }
    topo_dr || { echo "FAIL DR topology"; echo "0 passed, 1 failed"; exit 1; }
    health_tests
    topo_teardown
    summary
fi
