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
# No temporary module files to copy, chmod and delete per task: the module on its stdin.
export ANSIBLE_PIPELINING=1
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
sed 's/^-a -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 1$/-a -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5/' "$w/ipvsadm.rules" >"$w/edited.rules"
cmp -s "$w/ipvsadm.rules" "$w/edited.rules" && fail "the edit did not apply to the rules"
printf '# ipvsadm.rules\n# cut short\n' >"$w/empty.rules"

# The directors are three inventory hosts, each its own namespace, all run here (connection:
# local); Ansible runs them in parallel, as it would three machines. One playbook run holds
# every step (each ansible-playbook start costs minutes under the VM's emulation); what the
# test checks between steps is registered and written out at the end.
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
  module_defaults:
    lvs.ipvsadm.ipvsadm_rules:
      netns: "{{ netns }}"
      scope: $scope
      executable: $ipvsadm
  tasks:
    - name: Check mode, with --diff
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', '$w/ipvsadm.rules') }}"
      check_mode: true
      diff: true
      register: check
    - name: First run
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', '$w/ipvsadm.rules') }}"
      register: first
    - name: The table after the first run, as Debian's ipvsadm lists it
      ansible.builtin.command: ip netns exec {{ netns }} $oracle -Sn
      register: first_table
      changed_when: false
    - name: Second run, the same rules
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', '$w/ipvsadm.rules') }}"
      register: second
    - name: One line changed, with --diff
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', '$w/edited.rules') }}"
      diff: true
      register: edited
    - name: Rules without any service
      lvs.ipvsadm.ipvsadm_rules:
        rules: "{{ lookup('ansible.builtin.file', '$w/empty.rules') }}"
      register: empty
      ignore_errors: true
    - name: The scope as JSON
      lvs.ipvsadm.ipvsadm_info:
        netns: "{{ netns }}"
        scope: $scope
        stats: true
        executable: $ipvsadm
      register: info
    - name: Keep the results for the test
      ansible.builtin.copy:
        content: "{{ {'check': check, 'first': first, 'first_table': first_table.stdout, 'second': second,
                      'edited': edited, 'empty': empty, 'info': info} | to_nice_json }}"
        dest: "$w/result.{{ inventory_hostname }}.json"
EOF

# results EXPRESSION: Python over r, the three directors' results ({'check': ..., 'first': ...}),
# printing what is wrong, if anything.
results() {
    "$python" - "$w" "$1" <<'EOF'
import json, sys
r = [json.load(open('%s/result.%s.json' % (sys.argv[1], d))) for d in ('d1', 'd2', 'd3')]
problem = eval(sys.argv[2], {'r': r, 'json': json})
if problem:
    print(problem)
    sys.exit(1)
EOF
}
# oracle_table FILE: Debian's ipvsadm -R of FILE in a fresh namespace, then its -Sn, sorted.
# The namespace has the directors' interfaces: without a route, a real server's address is not
# unicast to the kernel.
oracle_table() {
    body "$1" | unshare -n sh -c "ip link set lo up && ip link add d0 type dummy && ip link set d0 up &&
        ip addr add 10.0.0.1/16 dev d0 && ip -6 addr add 2001:db8::1/64 dev d0 nodad && $oracle -R && $oracle -Sn" |
        LC_ALL=C sort
}
with_hand() { { oracle_table "$1"; echo "$hand"; } | LC_ALL=C sort; }

"$playbook" --version | head -n1
start=$SECONDS
"$playbook" -i "$w/inventory" "$w/play.yml" >"$w/play.log" 2>&1 || { cat "$w/play.log"; fail "ansible-playbook exited with $?"; }
echo "(ansible-playbook took $((SECONDS - start)) s)"
[ -n "$(oracle_table "$w/ipvsadm.rules")" ] && [ -n "$(oracle_table "$w/edited.rules")" ] || fail "the oracle could not load the rules"

# ------------------------------------------------------------------ check mode -----------------
file_lines=$(body "$w/ipvsadm.rules" | LC_ALL=C sort | "$python" -c 'import sys, json; print(json.dumps([l.rstrip("\n") for l in sys.stdin]))')
results "[x['check'] for x in r if not x['check']['changed'] or sorted(x['check']['plan']) != json.loads('$file_lines')]" ||
    fail "check mode: not changed, or the plan is not the file's lines"
# Nothing changed: the first run's plan is again the whole file.
results "[x['first'] for x in r if sorted(x['first']['plan']) != json.loads('$file_lines')]" ||
    fail "check mode changed the table: the first run's plan is not the whole file"
echo "ok: check mode reports changed and the plan (the file's $(body "$w/ipvsadm.rules" | wc -l) lines) on d1 d2 d3, changes nothing"

# ------------------------------------------------------------------ first run ------------------
results "[x['first'] for x in r if not x['first']['changed']]" || fail "first run: not changed everywhere"
want=$(with_hand "$w/ipvsadm.rules")
for d in "${directors[@]}"; do
    diff <(echo "$want") <("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_table"])' "$w/result.$d.json" | LC_ALL=C sort) ||
        fail "after the first run, $d is not the oracle's load of the file (< oracle + hand-made, > $d)"
done
echo "ok: first run changed d1 d2 d3; each /sbin/ipvsadm -Sn == the oracle's -R of the file, plus the service outside the scope"

# ------------------------------------------------------------------ second run -----------------
results "[x['second'] for x in r if x['second']['changed'] or x['second']['plan']]" || fail "second run: changed"
echo "ok: second run: changed=false on d1 d2 d3, empty plans"

# ------------------------------------------------------------------ one line changed -----------
results "[x['edited'] for x in r if not x['edited']['changed'] or x['edited']['plan'] != ['-e -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5']]" ||
    fail "one line changed: the plan is not exactly that edit"
results "[x['edited']['diff'] for x in r if '-r 10.0.1.2:80 -g -w 1' not in x['edited']['diff']['before'] or '-r 10.0.1.2:80 -g -w 5' not in x['edited']['diff']['after'] or '192.168.77.1' in x['edited']['diff']['after']]" ||
    fail "--diff: before/after of the scope do not show the edit"
want=$(with_hand "$w/edited.rules")
for d in "${directors[@]}"; do
    diff <(echo "$want") <(ip netns exec "$d" "$oracle" -Sn | LC_ALL=C sort) ||
        fail "$d is not the oracle's load of the edited file (< oracle + hand-made, > $d)"
done
echo "ok: one line changed: plan '-e -t 10.20.0.10:80 -r 10.0.1.2:80 -g -w 5' on d1 d2 d3, --diff shows it, tables == oracle's, 192.168.77.1:80 stays"

# ------------------------------------------------------------------ empty rules ---------------
# (The tables compared just above are those after this step too: it changed nothing.)
results "[x['empty'] for x in r if not x['empty'].get('failed') or x['empty']['changed'] or x['empty']['rc'] != 2 or not x['empty']['msg']]" ||
    fail "empty rules: the task did not fail with ipvsadm's reason"
echo "ok: empty rules: each task failed (rc 2), tables unchanged: $("$python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["empty"]["msg"])' "$w/result.d1.json")"

# ------------------------------------------------------------------ ipvsadm_info ---------------
results "[x['info'] for x in r if len(x['info']['ipvs']['services']) != 5 or 'tcp' not in x['info']['timeouts']['timeouts'] or not all('stats' in s for s in x['info']['ipvs']['services'])]" ||
    fail "ipvsadm_info: not the 5 services of the scope with their counters"
echo "ok: ipvsadm_info returns the scope's 5 services with counters, and the timeouts"
