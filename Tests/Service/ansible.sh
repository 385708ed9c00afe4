#!/usr/bin/env bash
# The Ansible collection lvs.ipvsadm against three "directors", run as root inside the VM by
# Tests/Service/run.sh (one of its checks).
#
#   Tests/Service/ansible.sh REPO IPVSADM
#
# Three network namespaces (d1, d2, d3, made with `ip netns add`) are the directors; the
# playbook runs on localhost (connection: local) with ansible-core from Scripts/setup and the
# collection from REPO/Distribution/ansible, and addresses each director through the module's
# netns option, with IPVSADM (ours) as executable. Each director starts with a service of its own
# outside the scope (made by hand). Checks, in order:
#   check mode      changed, the plan is the file's lines, the tables are unchanged
#   first run       changed; every director's `/sbin/ipvsadm -Sn` (Debian's, run with
#                   `ip netns exec`) is the oracle's load of the same file (`/sbin/ipvsadm -R` in
#                   a fresh namespace) plus the hand-made service
#   second run      changed=false everywhere, empty plans
#   one line edited changed, the plan is that one edit on every director, --diff shows it,
#                   the tables are the oracle's load of the edited file, the hand-made one stays
#   empty rules     the task fails with ipvsadm's reason (status 2), nothing changes
#   ipvsadm_info    returns the scope's services as JSON
# Prints what went wrong and exits non-zero on the first failure; prints "ok: ..." lines.
set -uo pipefail
repo=${1:?usage: ansible.sh REPO IPVSADM}
ipvsadm=${2:?usage: ansible.sh REPO IPVSADM}
oracle=/sbin/ipvsadm
w=/tmp/ansible-test.$$
directors=(d1 d2 d3)
scope='["10.20.0.0/16", "2001:db8:20::/64", "fwmark:100-199"]'

fail() { echo "FAILED: $*"; exit 1; }

# Scripts/setup installs ansible-core with the same search (find_ansible); the interpreter's own
# bin first, so that pyenv's shim (which may want to write under /root) is not needed.
find_ansible() {
    local c
    for c in /root/.pyenv/versions/*/bin/ansible-playbook "$(command -v ansible-playbook 2>/dev/null || true)" \
             /usr/local/bin/ansible-playbook "$HOME/.local/bin/ansible-playbook"; do
        [ -n "$c" ] && [ -x "$c" ] && { echo "$c"; return 0; }
    done
    return 1
}
playbook=$(find_ansible) || fail "ansible-playbook not found (Scripts/setup installs ansible-core)"
python=$(head -n1 "$playbook" | sed 's/^#! *//')
[ -x "$python" ] || python=python3

mkdir -p "$w/home" "$w/tmp" || fail "cannot create $w"
# The guest's / (and so /root) is read-only: everything Ansible writes goes under $w.
export HOME=$w/home ANSIBLE_HOME=$w/home ANSIBLE_LOCAL_TEMP=$w/tmp ANSIBLE_REMOTE_TEMP=$w/tmp
export ANSIBLE_COLLECTIONS_PATH=$repo/Distribution/ansible ANSIBLE_NOCOLOR=1
export ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_LOCALHOST_WARNING=0 ANSIBLE_INVENTORY_UNPARSED_WARNING=0
export IPVSADM_STATE_DIR=$w/state IPVSADM_RUN_DIR=$w/run

cleanup() { local d; for d in "${directors[@]}"; do ip netns del "$d" 2>/dev/null; done; }
trap cleanup EXIT
for d in "${directors[@]}"; do
    ip netns add "$d" || fail "ip netns add $d"
    ip -n "$d" link set lo up
    ip -n "$d" link add d0 type dummy && ip -n "$d" link set d0 up && ip -n "$d" addr add 10.0.0.1/16 dev d0 &&
        ip -n "$d" -6 addr add 2001:db8::1/64 dev d0 nodad || fail "addresses in $d"
    # The fourth service: another agent's (keepalived's, say), outside the scope.
    ip netns exec "$d" "$oracle" -A -t 192.168.77.1:80 -s rr &&
        ip netns exec "$d" "$oracle" -a -t 192.168.77.1:80 -r 10.0.1.77:80 -m -w 1 || fail "hand-made service in $d"
done
hand='-A -t 192.168.77.1:80 -s rr
-a -t 192.168.77.1:80 -r 10.0.1.77:80 -m -w 1'

cat >"$w/ipvsadm.rules" <<'EOF'
# the fleet's rules
-A -t 10.20.0.10:80 -s mh -b mh-port
-a -t 10.20.0.10:80 -r 10.0.1.1:80 -g -w 1
-a -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 1
-A -t 10.20.0.10:443 -s wlc -p 300
-a -t 10.20.0.10:443 -r 10.0.1.1:443 -m -w 2
-a -t 10.20.0.10:443 -r 10.0.1.2:443 -m -w 2
-A -u 10.20.0.11:53 -s rr
-a -u 10.20.0.11:53 -r 10.0.1.3:53 -m -w 1
-A -t [2001:db8:20::10]:80 -s rr
-a -t [2001:db8:20::10]:80 -r [2001:db8::1:1]:80 -m -w 1
-A -f 100 -s lc
-a -f 100 -r 10.0.1.4:0 -g -w 1
EOF
body() { grep -v '^#' "$1"; }

# The directors are three inventory hosts, each its own namespace, all run here (connection:
# local); Ansible runs them in parallel, as it would three machines.
cat >"$w/inventory" <<EOF
[directors]
d1 netns=d1
d2 netns=d2
d3 netns=d3
[directors:vars]
ansible_connection=local
EOF
cat >"$w/play.yml" <<EOF
- hosts: directors
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - name: The directors' scope is the rules file
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', rules_file) }}"
        netns: "{{ netns }}"
        scope: $scope
        executable: $ipvsadm
      register: applied
      ignore_errors: "{{ expect_failure | default(false) | bool }}"
    - name: Keep the result for the test
      ansible.builtin.copy:
        content: "{{ applied | combine({'item': inventory_hostname}) | to_nice_json }}"
        dest: "{{ out }}.{{ inventory_hostname }}"
      check_mode: false
EOF

# play NAME RULES [ansible-playbook options]: runs the playbook, results in $w/NAME.json.d[123].
play() {
    local name=$1 rules=$2 start=$SECONDS; shift 2
    "$playbook" -i "$w/inventory" "$w/play.yml" -e "rules_file=$rules" -e "out=$w/$name.json" "$@" \
        >"$w/$name.log" 2>&1 || { cat "$w/$name.log"; fail "ansible-playbook ($name) exited with $?"; }
    echo "($name: ansible-playbook took $((SECONDS - start)) s)"
}
# results NAME EXPRESSION: Python over r (the three directors' results), printing what is wrong, if anything.
results() {
    "$python" - "$w/$1.json" "$2" <<'EOF'
import json, sys
r = [json.load(open(sys.argv[1] + '.' + d)) for d in ('d1', 'd2', 'd3')]
problem = eval(sys.argv[2], {'r': r, 'json': json})
if problem:
    print(problem)
    print(json.dumps([{k: x.get(k) for k in ('item', 'changed', 'failed', 'rc', 'msg', 'plan', 'stderr')} for x in r], indent=1))
    sys.exit(1)
EOF
}
# oracle_table FILE: Debian's ipvsadm -R of FILE in a fresh namespace, then its -Sn, sorted.
oracle_table() { body "$1" | unshare -n sh -c "$oracle -R && $oracle -Sn" | LC_ALL=C sort; }
director_table() { ip netns exec "$1" "$oracle" -Sn | LC_ALL=C sort; }
# tables_are FILE: every director is the oracle's load of FILE plus the hand-made service.
tables_are() {
    local want d
    want=$( { oracle_table "$1"; echo "$hand"; } | LC_ALL=C sort)
    [ -n "$(oracle_table "$1")" ] || fail "the oracle could not load $1"
    for d in "${directors[@]}"; do
        diff <(echo "$want") <(director_table "$d") || fail "$d is not the oracle's load of $1 (< oracle + hand-made, > $d)"
    done
}
untouched() {
    local d
    for d in "${directors[@]}"; do
        [ "$(director_table "$d")" = "$(echo "$hand" | LC_ALL=C sort)" ] || { director_table "$d"; fail "$d changed: $1"; }
    done
}

"$playbook" --version | head -n1
# ------------------------------------------------------------------ check mode -----------------
play check "$w/ipvsadm.rules" --check --diff
file_lines=$(body "$w/ipvsadm.rules" | LC_ALL=C sort | "$python" -c 'import sys, json; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
results check "[x['item'] for x in r if not x['changed'] or sorted(x['plan']) != json.loads('$file_lines')]" ||
    fail "check mode: not changed, or the plan is not the file's lines"
untouched "check mode"
echo "ok: check mode reports changed and the plan (the file's $(body "$w/ipvsadm.rules" | wc -l) lines) on d1 d2 d3, changes nothing"

# ------------------------------------------------------------------ first run ------------------
play first "$w/ipvsadm.rules"
results first "[x['item'] for x in r if not x['changed'] or x.get('failed')]" || fail "first run: not changed everywhere"
tables_are "$w/ipvsadm.rules"
echo "ok: first run changed d1 d2 d3; each /sbin/ipvsadm -Sn == the oracle's -R of the file, plus the service outside the scope"

# ------------------------------------------------------------------ second run -----------------
play second "$w/ipvsadm.rules"
results second "[x['item'] for x in r if x['changed'] or x['plan']]" || fail "second run: changed"
grep -q 'changed=0' "$w/second.log" || { cat "$w/second.log"; fail "the recap does not say changed=0"; }
tables_are "$w/ipvsadm.rules"
echo "ok: second run: changed=false on d1 d2 d3, empty plans"

# ------------------------------------------------------------------ one line changed -----------
sed 's/^-a -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 1$/-a -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5/' "$w/ipvsadm.rules" >"$w/edited.rules"
cmp -s "$w/ipvsadm.rules" "$w/edited.rules" && fail "the edit did not apply to the rules"
play edited "$w/edited.rules" --diff
results edited "[x['item'] for x in r if not x['changed'] or x['plan'] != ['-e -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5']]" ||
    fail "one line changed: the plan is not exactly that edit"
results edited "[x['item'] for x in r if '-r 10.0.1.2:80 -g -w 1' not in x['diff']['before'] or '-r 10.0.1.2:80 -g -w 5' not in x['diff']['after'] or '192.168.77.1' in x['diff']['after']]" ||
    fail "--diff: before/after of the scope do not show the edit"
tables_are "$w/edited.rules"
echo "ok: one line changed: plan '-e -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5' on d1 d2 d3, --diff shows it, tables == oracle's, 192.168.77.1:80 stays"

# ------------------------------------------------------------------ empty rules ---------------
printf '# ipvsadm.rules\n# cut short\n' >"$w/empty.rules"
play empty "$w/empty.rules" -e expect_failure=true
results empty "[x['item'] for x in r if not x.get('failed') or x['changed'] or x['rc'] != 2 or not x['msg']]" ||
    fail "empty rules: the task did not fail with ipvsadm's reason"
tables_are "$w/edited.rules"
echo "ok: empty rules: each task failed (rc 2): $("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["msg"])' "$w/empty.json.d1")"

# ------------------------------------------------------------------ ipvsadm_info ---------------
cat >"$w/info.yml" <<EOF
- hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  tasks:
    - lvs.ipvsadm.ipvsadm_info:
        netns: d2
        scope: $scope
        stats: true
        executable: $ipvsadm
      register: info
    - ansible.builtin.copy:
        content: "{{ info | to_nice_json }}"
        dest: "$w/info.json.{{ item }}"
      loop: [d1, d2, d3]
EOF
"$playbook" -i localhost, -c local "$w/info.yml" >"$w/info.log" 2>&1 || { cat "$w/info.log"; fail "ipvsadm_info play"; }
results info "[] if len(r[0]['ipvs']['services']) == 5 and 'tcp' in r[0]['timeouts']['timeouts'] and all('stats' in s for s in r[0]['ipvs']['services']) else r[0]['ipvs']" ||
    fail "ipvsadm_info: not the 5 services of the scope with their counters"
echo "ok: ipvsadm_info returns the scope's 5 services with counters, and the timeouts"
