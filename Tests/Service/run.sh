#!/usr/bin/env bash
# Boot-time save/restore tests, run as root inside the VM (Scripts/service-test boots it).
#
#   Tests/Service/run.sh REPO OURS
#
# Installs the project into a DESTDIR under /tmp with REPO/Scripts/install --binary OURS, then
# checks, each in a fresh network namespace (its own empty IPVS table): ipvsadm-rules start /
# stop / save / status with good, broken and missing rules files, and our ipvsadm-save and
# ipvsadm-restore against the oracle's (/usr/sbin/ipvsadm-save, /usr/sbin/ipvsadm-restore, which
# run /sbin/ipvsadm) on the same inputs: stdout, stderr and exit status byte for byte.
# Prints "PASS name" or "FAIL name" (with details) per check and ends with "N passed, N failed".
set -uo pipefail

self=$(readlink -f "$0")

# --- inside a fresh network namespace: unshare -n run.sh --ns FUNCTION ARGS... ---------------
if [ "${1:-}" = --ns ]; then
    shift
    ip link set lo up
    ip link add d0 type dummy && ip link set d0 up
    ip addr add 10.0.0.1/16 dev d0
    ip -6 addr add 2001:db8::1/64 dev d0 nodad
    IPVSADM_STATE_DIR=$(mktemp -d "$WORK/state.XXXXXX") || exit 2
    export IPVSADM_STATE_DIR
    source "$self" --functions
    "$@"
    exit $?
fi

if [ "${1:-}" != --functions ]; then
    [ $# -eq 2 ] || { echo "usage: $0 REPO OURS" >&2; exit 2; }
    export REPO=$1 OURS=$2
    export WORK=/tmp/service-test
    export DEST=$WORK/dest
    export SBIN=$DEST/usr/local/sbin
    export FIXTURES=$REPO/Tests/Service
    export ORACLE=/sbin/ipvsadm
    export ORACLE_SAVE=/usr/sbin/ipvsadm-save ORACLE_RESTORE=/usr/sbin/ipvsadm-restore
    # ipvsadm's owner records and lock files: under /tmp (the guest's / is read-only). Each
    # namespace of inns gets a state directory of its own (the records of all of them would be
    # "default"'s otherwise).
    export IPVSADM_RUN_DIR=$WORK/run
    # The checks before scopes existed are about the whole table (IPVSADM_OWNER= IPVSADM_SCOPE=);
    # those of the package's default (the owner scope) unset IPVSADM_OWNER (default_scope).
    export IPVSADM_OWNER= IPVSADM_SCOPE=
fi

# Run a function of this file in a fresh network namespace.
inns() { unshare -n bash "$self" --ns "$@"; }

# Table without comment lines, as ipvsadm -Sn prints it for the file.
body() { grep -v '^#' "$1"; }

# ---------------------------------------------------------------- install ----------------------
t_install() {
    rm -rf "$DEST"
    bash "$REPO/Scripts/install" --destdir "$DEST" --binary "$OURS" >"$WORK/install.out" 2>&1 ||
        { cat "$WORK/install.out"; return 1; }
    local f ok=0
    for f in sbin/ipvsadm sbin/ipvsadm-save sbin/ipvsadm-restore sbin/ipvsadm-rules \
             share/man/man8/ipvsadm.8 share/man/man8/ipvsadm-save.8 share/man/man8/ipvsadm-restore.8 \
             share/man/man8/ipvsadm-rules.8 share/bash-completion/completions/ipvsadm \
             lib/systemd/system/ipvsadm.service; do
        [ -e "$DEST/usr/local/$f" ] || { echo "missing $f"; ok=1; }
    done
    for f in ipvsadm ipvsadm-save ipvsadm-restore ipvsadm-rules; do
        [ -x "$SBIN/$f" ] || { echo "$f not executable"; ok=1; }
    done
    cmp -s "$OURS" "$SBIN/ipvsadm" || { echo "sbin/ipvsadm is not OURS"; ok=1; }
    grep -qx 'ExecStart="/usr/local/sbin/ipvsadm-rules" start' "$DEST/usr/local/lib/systemd/system/ipvsadm.service" ||
        { echo "unit ExecStart wrong"; ok=1; }
    grep -qx 'ExecReload="/usr/local/sbin/ipvsadm-rules" reload' "$DEST/usr/local/lib/systemd/system/ipvsadm.service" ||
        { echo "unit ExecReload wrong"; ok=1; }
    # The health checker, when Scripts/build built it beside OURS.
    if [ -x "$(dirname "$OURS")/ipvsadm-health" ]; then
        for f in sbin/ipvsadm-health share/man/man8/ipvsadm-health.8 lib/systemd/system/ipvsadm-health.service; do
            [ -e "$DEST/usr/local/$f" ] || { echo "missing $f"; ok=1; }
        done
        grep -qx 'ExecStart="/usr/local/sbin/ipvsadm-health" --rules ${IPVSADM_RULES}' \
            "$DEST/usr/local/lib/systemd/system/ipvsadm-health.service" || { echo "health unit ExecStart wrong"; ok=1; }
    fi
    return $ok
}

tree_state() { (cd "$1" && find . -printf '%p %y %m %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

t_install_idempotent() {
    local before after
    before=$(tree_state "$DEST")
    bash "$REPO/Scripts/install" --destdir "$DEST" --binary "$OURS" >/dev/null 2>&1 || { echo "second run failed"; return 1; }
    after=$(tree_state "$DEST")
    [ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); return 1; }
}

t_install_prefix() {
    local d=$WORK/dest-prefix
    rm -rf "$d"
    bash "$REPO/Scripts/install" --prefix /opt/lvs --systemd-dir /etc/systemd/system --destdir "$d" \
        --binary "$OURS" >/dev/null 2>&1 || { echo "install failed"; return 1; }
    [ -x "$d/opt/lvs/sbin/ipvsadm" ] && [ -f "$d/etc/systemd/system/ipvsadm.service" ] || { echo "layout"; return 1; }
    grep -qx 'ExecStop="/opt/lvs/sbin/ipvsadm-rules" stop' "$d/etc/systemd/system/ipvsadm.service" ||
        { grep Exec "$d/etc/systemd/system/ipvsadm.service"; return 1; }
}

# ------------------------------------------------------------- (a) start -----------------------
# In a namespace: a stray service first (start must clear it), then start, then compare.
ns_start_good() {
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 1
    IPVSADM_RULES=$FIXTURES/rules.good "$SBIN/ipvsadm-rules" start || { echo "start failed: $?"; return 1; }
    diff <(body "$FIXTURES/rules.good") <("$SBIN/ipvsadm" -Sn) || return 1
    IPVSADM_RULES=$FIXTURES/rules.good "$SBIN/ipvsadm-rules" status >/dev/null || { echo "status says differs: $?"; return 1; }
}
t_start_good() { inns ns_start_good; }

# reload (what `systemctl reload ipvsadm` runs) applies an edited file with --apply: the table
# becomes the file's; the boot test (Tests/Boot/run.sh) checks that it keeps what did not change.
ns_reload() {
    body "$FIXTURES/rules.good" | "$SBIN/ipvsadm" -R || return 1
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 1
    IPVSADM_RULES=$FIXTURES/rules.good "$SBIN/ipvsadm-rules" reload >/dev/null || { echo "reload failed: $?"; return 1; }
    diff <(body "$FIXTURES/rules.good") <("$SBIN/ipvsadm" -Sn)
}
t_reload() { inns ns_reload; }

# The oracle, loading the file as Debian's init script does, ends with the same table.
ns_oracle_load() { body "$FIXTURES/rules.good" | "$ORACLE" -R && "$ORACLE" -Sn; }
t_start_matches_oracle() { diff <(body "$FIXTURES/rules.good") <(inns ns_oracle_load); }

ns_status_differs() {
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr
    IPVSADM_RULES=$FIXTURES/rules.good "$SBIN/ipvsadm-rules" status >/dev/null
    [ $? = 3 ] || { echo "status should be 3"; return 1; }
}
t_status_differs() { inns ns_status_differs; }

# ------------------------------------------------------------- (b) stop/save -------------------
ns_stop_save() {
    local f=$WORK/b/saved.rules before
    rm -rf "$WORK/b"; mkdir -p "$WORK/b"
    body "$FIXTURES/rules.good" | "$SBIN/ipvsadm" -R || return 1
    "$SBIN/ipvsadm" -A -t 10.0.0.12:8080 -s wrr -p 60 -M 255.255.255.0 &&
        "$SBIN/ipvsadm" -a -t 10.0.0.12:8080 -r 10.0.1.9 -g -w 5 || return 1
    before=$("$SBIN/ipvsadm" -Sn)
    IPVSADM_SAVE_ON_STOP=yes IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" stop || { echo "stop failed"; return 1; }
    [ "$(head -n1 "$f")" = "# ipvsadm.rules" ] || { echo "first line: $(head -n1 "$f")"; return 1; }
    # Debian's `/etc/init.d/ipvsadm save` (header + oracle's -S -n) on this table, with the
    # timeouts first (a complete save: -S --complete), as the oracle shows them.
    diff <({ echo "# ipvsadm.rules"; "$ORACLE" -L --timeout | awk '{ print "--set", $5, $6, $7 }'; "$ORACLE" -S -n; }) "$f" || return 1
    [ "$("$SBIN/ipvsadm" -Sn)" = "$before" ] || { echo "stop changed the table"; return 1; }
    "$SBIN/ipvsadm" -C
    IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" start >/dev/null || { echo "restart failed"; return 1; }
    diff <(echo "$before") <("$SBIN/ipvsadm" -Sn)
}
t_stop_save() { inns ns_stop_save; }

ns_stop_default() {
    local f=$WORK/b2/none.rules before
    rm -rf "$WORK/b2"; mkdir -p "$WORK/b2"
    body "$FIXTURES/rules.good" | "$SBIN/ipvsadm" -R || return 1
    before=$("$SBIN/ipvsadm" -Sn)
    env -u IPVSADM_SAVE_ON_STOP IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" stop || { echo "stop failed"; return 1; }
    [ ! -e "$f" ] || { echo "stop saved without IPVSADM_SAVE_ON_STOP=yes"; return 1; }
    [ "$("$SBIN/ipvsadm" -Sn)" = "$before" ] || { echo "stop changed the table"; return 1; }
    IPVSADM_FLUSH_ON_STOP=yes IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" stop || return 1
    [ -z "$("$SBIN/ipvsadm" -Sn)" ] || { echo "flush on stop left rules"; return 1; }
}
t_stop_default() { inns ns_stop_default; }

# -------------------------------------------------- (c) broken, (d) missing --------------------
# expect_failure FILE PATTERN...: start fails (status != 0), says so on stderr, nothing on stdout.
ns_expect_failure() {
    local rules=$1 out err rc p; shift
    out=$(IPVSADM_RULES=$rules "$SBIN/ipvsadm-rules" start 2>"$WORK/err.$$")
    rc=$?
    err=$(cat "$WORK/err.$$"); rm -f "$WORK/err.$$"
    echo "status $rc; stderr:"; echo "$err" | sed 's/^/    /'
    [ $rc -ne 0 ] || { echo "status 0"; return 1; }
    [ -z "$out" ] || { echo "stdout: $out"; return 1; }
    for p in "$@"; do
        grep -qF -- "$p" <<<"$err" || { echo "stderr lacks: $p"; return 1; }
    done
}
# A broken file names the line, and leaves the table as it was (start applies all or nothing).
ns_broken() {
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 1
    ns_expect_failure "$FIXTURES/rules.broken" "ipvsadm-rules: $FIXTURES/rules.broken: line 4: --no-such-option: unknown option" \
        "ipvsadm-rules: $FIXTURES/rules.broken not applied" || return 1
    [ "$("$SBIN/ipvsadm" -Sn)" = "-A -t 10.0.0.99:80 -s rr" ] || { echo "table changed"; return 1; }
}
t_broken() { inns ns_broken; }
t_duplicate() { inns ns_expect_failure "$FIXTURES/rules.duplicate" "Service already exists" "ipvsadm-rules: $FIXTURES/rules.duplicate not applied"; }
# A file with other commands (a -C at its top): loaded the old way, as Debian's init script does.
ns_legacy_file() {
    local f=$WORK/legacy.rules
    { echo "-C"; body "$FIXTURES/rules.good"; } > "$f"
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 1
    local out; out=$(IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" start 2>&1)
    grep -q "loading it with -C and -R" <<<"$out" || { echo "no note in:"; echo "$out"; return 1; }
    diff <(body "$FIXTURES/rules.good") <("$SBIN/ipvsadm" -Sn)
}
t_legacy_file() { inns ns_legacy_file; }
# save leaves the old file when the new one cannot be written (a full file system).
ns_save_full_disk() {
    local d=$WORK/full f
    mkdir -p "$d" && mount -t tmpfs -o size=4k tmpfs "$d" || { echo "no tmpfs"; return 1; }
    f=$d/ipvsadm.rules
    echo "# the old rules" > "$f"
    body "$FIXTURES/rules.good" | "$SBIN/ipvsadm" -R || { umount "$d"; return 1; }
    local i; for i in $(seq 1 300); do echo "-A -t 10.3.$((i / 250)).$((i % 250 + 1)):80 -s wlc"; done | "$SBIN/ipvsadm" -R
    IPVSADM_RULES=$f "$SBIN/ipvsadm-rules" save 2>"$WORK/save.err"
    local rc=$?
    local old; old=$(cat "$f"); local left; left=$(ls -A "$d" | wc -l)
    umount "$d"
    cat "$WORK/save.err"
    [ $rc -ne 0 ] || { echo "save succeeded on a full disk"; return 1; }
    [ "$old" = "# the old rules" ] || { echo "the old file was replaced"; return 1; }
    [ "$left" = 1 ] || { echo "a temporary file was left"; return 1; }
    grep -q "No space left on device" "$WORK/save.err"
}
t_save_full_disk() { inns ns_save_full_disk; }

ns_missing() {
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 1
    ns_expect_failure "$WORK/no-such.rules" "ipvsadm-rules: rules file $WORK/no-such.rules does not exist" || return 1
    [ "$("$SBIN/ipvsadm" -Sn)" = "-A -t 10.0.0.99:80 -s rr" ] || { echo "table changed"; return 1; }
}
t_missing() { inns ns_missing; }
t_unreadable() { inns ns_expect_failure "$WORK" "cannot read rules file"; }

# ------------------------------------------ (f) the package's default scope, empty input -------
# default_scope CMD...: CMD with the settings of the package's default (/etc/default/ipvsadm all
# commented out, the unit's Environment=): the owner scope "ipvsadm-rules".
default_scope() { env -u IPVSADM_OWNER -u IPVSADM_SCOPE -u IPVSADM_ALLOW_EMPTY "$@"; }

# make_bad_inputs DIR: the rules files that hold no service.
make_bad_inputs() {
    mkdir -p "$1"
    : >"$1/empty"
    printf '# ipvsadm.rules\n# nothing here yet\n\n' >"$1/comments"
    grep -v -e '^-A' "$FIXTURES/rules.good" >"$1/truncated"   # the -A lines gone, the -a left
}

# An empty, comments-only or truncated file, through reload and start (owner scope and whole
# table) and through ipvsadm --apply: refused with the reason, the table as it was.
ns_empty_refused() {
    local d=$WORK/bad.$$ kind before out rc
    make_bad_inputs "$d"
    default_scope env IPVSADM_RULES="$FIXTURES/rules.good" "$SBIN/ipvsadm-rules" start >/dev/null ||
        { echo "start rules.good failed"; return 2; }
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr || return 2
    before=$("$SBIN/ipvsadm" -Sn)
    for kind in empty comments truncated; do
        for how in "default_scope env" "env IPVSADM_OWNER="; do
            for action in reload start; do
                out=$($how IPVSADM_RULES="$d/$kind" "$SBIN/ipvsadm-rules" $action 2>&1)
                rc=$?
                [ $rc = 1 ] || { echo "$kind, $how, $action: status $rc"; echo "$out"; return 1; }
                grep -qF "ipvsadm-rules: $d/$kind has no -A line" <<<"$out" &&
                    grep -qF "not applied; the IPVS table is as it was" <<<"$out" ||
                    { echo "$kind, $how, $action: no reason given:"; echo "$out"; return 1; }
                [ "$("$SBIN/ipvsadm" -Sn)" = "$before" ] || { echo "$kind, $how, $action: the table changed"; return 1; }
            done
        done
        echo "$kind: $(head -n1 <<<"$out")"
        # ipvsadm --apply itself refuses it too (status 2), in the owner scope and without scope.
        for how in "--owner ipvsadm-rules" ""; do
            # shellcheck disable=SC2086
            out=$("$SBIN/ipvsadm" --apply $how <"$d/$kind" 2>&1)
            rc=$?
            # 2: refused as empty; a truncated file's -a lines may be refused first (255, "Service
            # not defined"), before any change too.
            case $kind:$rc in *:2|truncated:255) ;; *) echo "$kind: ipvsadm --apply $how: status $rc: $out"; return 1 ;; esac
            [ "$("$SBIN/ipvsadm" -Sn)" = "$before" ] || { echo "$kind: ipvsadm --apply $how changed the table"; return 1; }
        done
        echo "$kind: ipvsadm --apply: $out"
    done
    # IPVSADM_ALLOW_EMPTY=yes: the owner's services go, the one made by hand stays.
    out=$(default_scope env IPVSADM_ALLOW_EMPTY=yes IPVSADM_RULES="$d/comments" "$SBIN/ipvsadm-rules" reload 2>&1) ||
        { echo "IPVSADM_ALLOW_EMPTY=yes: $out"; return 1; }
    [ "$("$SBIN/ipvsadm" -Sn)" = "-A -t 10.0.0.99:80 -s rr" ] || { echo "IPVSADM_ALLOW_EMPTY=yes left:"; "$SBIN/ipvsadm" -Sn; return 1; }
}
t_empty_refused() { inns ns_empty_refused; }

# The owner scope: reload of an edited file changes what the file names, deletes the service the
# file dropped (it is in the owner's record), and leaves a service made by hand; save writes
# the owner's services only; status compares the scope.
ns_owner_scope() {
    local f=$WORK/owner.$$.rules record out
    body "$FIXTURES/rules.good" >"$f"
    default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" start >/dev/null || { echo "start failed"; return 1; }
    record=$IPVSADM_STATE_DIR/owners/default/ipvsadm-rules
    [ -s "$record" ] || { echo "no owner record $record"; ls -R "$IPVSADM_STATE_DIR"; return 1; }
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr && "$SBIN/ipvsadm" -a -t 10.0.0.99:80 -r 10.0.1.99 -g || return 2
    grep -v -e '10.0.0.11:53' "$FIXTURES/rules.good" | sed 's/^\(-a -t 10.0.0.10:80 -r 10.0.1.2:80 -m -w\) 3$/\1 7/' >"$f"
    out=$(default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" status) && { echo "status 0 before the reload"; return 1; }
    default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" reload >/dev/null || { echo "reload failed"; return 1; }
    diff <({ body "$f"; echo "-A -t 10.0.0.99:80 -s rr"; echo "-a -t 10.0.0.99:80 -r 10.0.1.99:80 -g -w 1"; } | LC_ALL=C sort) \
         <("$SBIN/ipvsadm" -Sn | LC_ALL=C sort) || { echo "(< file and the hand-made service, > table)"; return 1; }
    default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" status >/dev/null || { echo "status: differs after the reload"; return 1; }
    default_scope env IPVSADM_RULES="$f.saved" "$SBIN/ipvsadm-rules" save >/dev/null || { echo "save failed"; return 1; }
    diff <(body "$f" | LC_ALL=C sort) <(grep -v -e '^#' -e '^--set' "$f.saved" | LC_ALL=C sort) ||
        { echo "(< file, > saved: the owner's services only)"; return 1; }
    # No record (nothing applied yet by this owner): save refuses to write a file without service.
    out=$(env IPVSADM_OWNER=nobody-yet IPVSADM_RULES="$f.none" "$SBIN/ipvsadm-rules" save 2>&1) && { echo "saved an empty scope"; return 1; }
    [ ! -e "$f.none" ] && grep -qF "no service in scope to save" <<<"$out" || { echo "$out"; return 1; }
    # Stop with IPVSADM_FLUSH_ON_STOP=yes deletes the owner's services only.
    default_scope env IPVSADM_FLUSH_ON_STOP=yes IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" stop || { echo "stop failed"; return 1; }
    [ "$("$SBIN/ipvsadm" -Sn)" = "-A -t 10.0.0.99:80 -s rr
-a -t 10.0.0.99:80 -r 10.0.1.99:80 -g -w 1" ] || { echo "flush on stop left:"; "$SBIN/ipvsadm" -Sn; return 1; }
}
t_owner_scope() { inns ns_owner_scope; }

# IPVSADM_SCOPE: a prefix; a service in it that the file lacks goes, one outside stays.
ns_prefix_scope() {
    local f=$WORK/prefix.$$.rules
    body "$FIXTURES/rules.good" | "$SBIN/ipvsadm" -R || return 2
    "$SBIN/ipvsadm" -A -t 10.0.0.99:80 -s rr && "$SBIN/ipvsadm" -A -t 10.7.0.1:80 -s rr || return 2
    body "$FIXTURES/rules.good" >"$f"
    env IPVSADM_OWNER= IPVSADM_SCOPE="10.0.0.0/24 2001:db8::/64 fwmark:1-10" IPVSADM_RULES="$f" \
        "$SBIN/ipvsadm-rules" reload >/dev/null || { echo "reload failed"; return 1; }
    diff <({ body "$f"; echo "-A -t 10.7.0.1:80 -s rr"; } | LC_ALL=C sort) <("$SBIN/ipvsadm" -Sn | LC_ALL=C sort)
}
t_prefix_scope() { inns ns_prefix_scope; }

# keepalived's virtual server beside ours: keepalived (its checker process only, no VRRP) in
# the namespace programs 10.0.0.50:80; a connection to it is counted. reload with the package's
# default (owner scope) of an edited file, then the same with a truncated file, then save: its
# service, real server, counters and connection stay exactly as they were, and the file holds
# none of it.
keepalived_state() {  # what must not change: -Sn lines, exact counters, connection entries
    "$ORACLE" -Sn | grep -F 10.0.0.50
    "$ORACLE" -Ln --stats --exact -t 10.0.0.50:80 | grep -E '10\.0\.(0\.50|1\.50):80'
    "$ORACLE" -Lnc | awk '$5 ~ /^10\.0\.0\.50:/ { print $1, $3, $4, $5, $6 }'
}
ns_keepalived() {
    local k=$WORK/keepalived.$$ f=$WORK/keepalived.$$/ipvsadm.rules kpid before after out i rc=0
    mkdir -p "$k"
    cat >"$k/keepalived.conf" <<'CONF'
global_defs {
    router_id test
}
virtual_server 10.0.0.50 80 {
    delay_loop 60
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.0.1.50 80 {
        weight 3
    }
}
CONF
    body "$FIXTURES/rules.good" >"$f"
    default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" start >/dev/null || { echo "start failed"; return 2; }
    keepalived --dont-fork --check --log-console --use-file="$k/keepalived.conf" \
        --pid="$k/keepalived.pid" --checkers_pid="$k/checkers.pid" --vrrp_pid="$k/vrrp.pid" \
        >"$k/keepalived.log" 2>&1 &
    kpid=$!
    for i in $(seq 1 100); do
        "$ORACLE" -Sn | grep -q -- '-a -t 10.0.0.50:80 -r 10.0.1.50:80 -m -w 3' && break
        sleep 0.2
    done
    if ! "$ORACLE" -Sn | grep -q -- '-a -t 10.0.0.50:80 -r 10.0.1.50:80 -m -w 3'; then
        echo "keepalived did not program its virtual server:"; cat "$k/keepalived.log"; kill "$kpid"; return 2
    fi
    # A connection (a SYN the dummy interface swallows): counted, and listed by -Lnc.
    timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.0.50/80' 2>/dev/null
    # The kernel folds its per-CPU counters into what netlink reports every 2 s (the estimator),
    # so a retransmitted SYN can show up late: read until two reads 2.5 s apart agree.
    before=$(keepalived_state)
    for i in 1 2 3 4; do
        sleep 2.5; out=$(keepalived_state)
        [ "$out" = "$before" ] && break
        before=$out
    done
    echo "keepalived's part before:"; echo "$before" | sed 's/^/    /'
    grep -q '^TCP  10.0.0.50:80 *[1-9]' <<<"$before" || { echo "no connection counted: the check proves little"; rc=2; }
    # An edited file: a weight changed, a service dropped, one added.
    grep -v -e '10.0.0.11:53' "$FIXTURES/rules.good" | sed 's/^\(-a -t 10.0.0.10:80 -r 10.0.1.2:80 -m -w\) 3$/\1 4/' >"$f"
    echo "-A -t 10.0.0.60:80 -s rr" >>"$f"
    out=$(default_scope env IPVSADM_RULES="$f" "$SBIN/ipvsadm-rules" reload 2>&1) || { echo "reload failed: $out"; rc=1; }
    after=$(keepalived_state)
    [ "$after" = "$before" ] || { echo "keepalived's part changed by the reload:"; diff <(echo "$before") <(echo "$after"); rc=1; }
    diff <(body "$f" | LC_ALL=C sort) <("$SBIN/ipvsadm" -Sn | grep -v -F 10.0.0.50 | LC_ALL=C sort) ||
        { echo "(< file, > table without keepalived's service)"; rc=1; }
    # A truncated file: refused, nothing changes.
    grep -v '^-A' "$f" >"$f.truncated"
    out=$(default_scope env IPVSADM_RULES="$f.truncated" "$SBIN/ipvsadm-rules" reload 2>&1) && { echo "truncated file applied"; rc=1; }
    echo "truncated: $(head -n1 <<<"$out")"
    [ "$(keepalived_state)" = "$before" ] || { echo "keepalived's part changed by the truncated file"; rc=1; }
    diff <(body "$f" | LC_ALL=C sort) <("$SBIN/ipvsadm" -Sn | grep -v -F 10.0.0.50 | LC_ALL=C sort) || { echo "truncated file changed ours"; rc=1; }
    # save: the rules file gets ours only.
    default_scope env IPVSADM_RULES="$f.saved" "$SBIN/ipvsadm-rules" save >/dev/null || { echo "save failed"; rc=1; }
    ! grep -q 10.0.0.50 "$f.saved" || { echo "keepalived's service saved into the rules file"; rc=1; }
    kill "$kpid"; wait "$kpid" 2>/dev/null
    return $rc
}
t_keepalived() {
    command -v keepalived >/dev/null || { echo "keepalived not installed (Scripts/setup installs it)"; return 1; }
    inns ns_keepalived
}

# ----------------------------------------------------- (e) wrappers vs oracle -----------------
# In a namespace: load TABLE with BIN, then run WRAPPER ARGS < INPUT; print a transcript of
# stdout, stderr, status, and the table afterwards (-Sn by BIN).
ns_transcript() {
    local bin=$1 table=$2 input=$3 wrapper=$4; shift 4
    [ -z "$table" ] || body "$table" | "$bin" -R >/dev/null 2>&1
    "$wrapper" "$@" <"$input" >"$WORK/o.$$" 2>"$WORK/e.$$"
    local rc=$?
    echo "--- stdout"; cat "$WORK/o.$$"
    echo "--- stderr"; cat "$WORK/e.$$"
    echo "--- status $rc"
    echo "--- table"; "$bin" -Sn
    rm -f "$WORK/o.$$" "$WORK/e.$$"
}
# compare_wrappers NAME TABLE INPUT ARGS...: ours (installed next to our ipvsadm) vs the oracle's.
compare_wrapper() {
    local name=$1 table=$2 input=$3 a b; shift 3
    a=$(inns ns_transcript "$ORACLE" "$table" "$input" "/usr/sbin/$name" "$@")
    b=$(inns ns_transcript "$SBIN/ipvsadm" "$table" "$input" "$SBIN/$name" "$@")
    if [ "$a" = "$b" ]; then return 0; fi
    echo "oracle / ours differ:"; diff <(echo "$a") <(echo "$b")
    return 1
}

make_inputs() {
    local i=$WORK/inputs
    rm -rf "$i"; mkdir -p "$i"
    : >"$i/empty"
    printf '# only\n# comments\n' >"$i/comments"
    printf 'ipvsadm -A -t 10.0.0.10:80 -s rr\nipvsadm -a -t 10.0.0.10:80 -r 10.0.1.1 -m\n' >"$i/prefixed"
    printf -- '-A -t 10.0.0.10:80 -s rr\r\n-a -t 10.0.0.10:80 -r 10.0.1.1 -m\r\n' >"$i/crlf"
    printf -- '-A -t 10.0.0.10:80 -s rr\n-R\n-A -t 10.0.0.30:80\n' >"$i/nested"
    printf -- '-A -t 10.0.0.10:80 -s rr # trailing comment\n' >"$i/trailing-comment"
    printf -- '-A -t 10.0.0.10:80 -s rr\n\n   \n-A -u 10.0.0.10:53' >"$i/blank-no-newline"
    printf -- '  # indented comment\n-A -t 10.0.0.10:80 -s rr\n' >"$i/indented-comment"
    printf -- '-A -f 3000000000 -s rr\n' >"$i/big-fwmark"
}

# ---------------------------------------------------------------- driver -----------------------
source "$REPO/Tests/lib/check.sh"

main() {
    rm -rf "$WORK"; mkdir -p "$WORK"
    modprobe ip_vs || { echo "FAIL modprobe ip_vs"; echo "0 passed, 1 failed"; exit 1; }
    [ -x "$OURS" ] || { echo "FAIL $OURS missing"; echo "0 passed, 1 failed"; exit 1; }

    check install "t_install"
    if [ ! -x "$SBIN/ipvsadm-rules" ]; then
        echo "$passed passed, $((failed + 1)) failed"; exit 1
    fi
    check install-idempotent t_install_idempotent
    check install-prefix-systemd-dir t_install_prefix

    check "rules start: restores rules.good, clears what was there (-Sn == file)" t_start_good
    check "rules start: oracle loads rules.good to the same table" t_start_matches_oracle
    check "rules reload: the table becomes the file (an added service goes)" t_reload
    check "rules status: 3 when the table differs" t_status_differs
    check "rules stop (IPVSADM_SAVE_ON_STOP=yes): saves like Debian, restores identically" t_stop_save
    check "rules stop (default): saves nothing, keeps the table; FLUSH_ON_STOP clears" t_stop_default
    check "rules start: broken file (bad option mid-file) fails, names the line, table as it was" t_broken
    check "rules start: a file with -C at its top is loaded the old way, with a note" t_legacy_file
    check "rules save: a full file system fails and keeps the old file" t_save_full_disk
    check "rules start: kernel error mid-file (duplicate service) fails clearly" t_duplicate
    check "rules start: missing file fails clearly, table unchanged" t_missing
    check "rules start: unreadable file (a directory) fails clearly" t_unreadable
    check "empty, comments-only, truncated file: start, reload and ipvsadm --apply refuse, say why, table unchanged" t_empty_refused
    check "owner scope (the default): reload deletes what the file dropped, keeps a hand-made service; save, status, flush on stop" t_owner_scope
    check "IPVSADM_SCOPE prefixes and fwmarks: a service outside them stays" t_prefix_scope
    check "keepalived beside ipvsadm-rules: reload (default scope), a truncated file, save leave its service, counters, connection" t_keepalived
    check "Ansible collection: three directors (netns), check mode, apply, idempotence, one line changed, a service outside the scope" \
        bash "$REPO/Tests/Service/ansible.sh" "$REPO" "$SBIN/ipvsadm"

    make_inputs
    local i=$WORK/inputs g=$FIXTURES/rules.good args
    for args in "" "-n" "-x" "-n -x" "-x -n" "--help" "-" "--" "extra" "-n extra" "-h"; do
        # shellcheck disable=SC2086
        check "ipvsadm-save ${args:-(no args)} == oracle" compare_wrapper ipvsadm-save "$g" /dev/null $args
    done
    check "ipvsadm-save on an empty table == oracle" compare_wrapper ipvsadm-save "" /dev/null -n
    check "ipvsadm-save -n, IPv6/fwmark/tunnel table == oracle" compare_wrapper ipvsadm-save "$FIXTURES/rules.good" /dev/null -n
    local input
    for input in "$g" "$FIXTURES/rules.broken" "$FIXTURES/rules.duplicate" "$i/empty" "$i/comments" \
                 "$i/prefixed" "$i/crlf" "$i/nested" "$i/trailing-comment" "$i/blank-no-newline" \
                 "$i/indented-comment"; do
        check "ipvsadm-restore < $(basename "$input") == oracle (over a non-empty table)" \
            compare_wrapper ipvsadm-restore "$i/../inputs/big-fwmark" "$input"
    done
    check "ipvsadm-restore -n (arguments ignored) == oracle" compare_wrapper ipvsadm-restore "" "$g" -n
    check "installed ipvsadm-save runs the ipvsadm next to it (ours: unsigned fwmark)" \
        t_wrapper_uses_neighbour
    check "repository Distribution/sbin/ipvsadm-save (no ipvsadm next to it) falls back to PATH (oracle)" \
        t_wrapper_falls_back

    summary
}

ns_save_with() { "$1" -A -f 3000000000 -s rr && "$2" -n; }
t_wrapper_uses_neighbour() {
    local out; out=$(inns ns_save_with "$SBIN/ipvsadm" "$SBIN/ipvsadm-save")
    [ "$out" = "-A -f 3000000000 -s rr" ] || { echo "got: $out"; return 1; }
}
t_wrapper_falls_back() {
    local out; out=$(inns ns_save_with "$ORACLE" "$REPO/Distribution/sbin/ipvsadm-save")
    [ "$out" = "-A -f -1294967296 -s rr" ] || { echo "got: $out"; return 1; }
}

[ "${1:-}" = --functions ] || main
