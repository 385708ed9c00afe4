#!/usr/bin/python
# -*- coding: utf-8 -*-
# The repository this collection ships in does not state a license yet.

DOCUMENTATION = r'''
---
module: ipvsadm_rules
short_description: Make a scope of the IPVS table equal a rules file, with ipvsadm --apply
version_added: 1.0.0
description:
  - Makes the part of the kernel's IPVS (Linux Virtual Server) table that is in O(scope) and
    O(owner) equal the given rules, with C(ipvsadm --apply), by the fewest changes and without a flush.
    Services and real servers that do not change keep their connections and counters; the
    change is all or nothing (a line the kernel refuses undoes what was done before it).
  - Services outside the scope (those keepalived, Docker Swarm or kube-vip created, or made by
    hand elsewhere) are not compared, changed or deleted.
  - The rules are C(ipvsadm -S) lines (C(-A), C(-a), C(--set), C(--start-daemon)); lines
    starting with C(#) are comments.
  - Rules without any C(-A) line (empty, comments only, cut short) are refused, and nothing
    changes, unless O(allow_empty=true) or O(state=absent) says an empty scope is meant.
  - Needs this project's ipvsadm (ipvsadm in Swift), which has C(--apply), C(--scope) and
    C(--owner); Debian's ipvsadm 1.31 has none of them.
  - In check mode runs C(ipvsadm --apply --dry-run) and returns its plan; the module reports
    changed when the plan is not empty, so a second run of the same rules reports no change.
author:
  - Seed bceb356e maintainers
options:
  rules:
    description:
      - The desired rules, as text (C(ipvsadm -S -n) output).
      - For a file on the controller, use the P(ansible.builtin.file#lookup) or
        P(ansible.builtin.template#lookup) lookup (see the examples).
      - Exactly one of O(rules) and O(src) is needed with O(state=present).
    type: str
  src:
    description:
      - A rules file on the managed host (the director), for example one that
        M(ansible.builtin.copy) or M(ansible.builtin.template) put there.
    type: path
  scope:
    description:
      - What may be changed. Each entry is an address prefix (V(192.168.3.0/24),
        V(2001:db8::/64), or one address, V(192.168.3.10)), matching services (not fwmark
        ones) whose virtual address lies in it, or a fwmark range (V(fwmark:100) or
        V(fwmark:100-199), decimal or 0x hex) matching fwmark services of either family.
      - A service is in scope when it matches any entry, or O(owner).
      - Without O(scope) and O(owner) the rules are the whole table, and every service they
        lack is deleted, other programs' too.
    type: list
    elements: str
  owner:
    description:
      - An owner name (letters, digits, C(.), C(_), C(-)). The services the rules name are in
        scope, and so are those an earlier run with the same owner created and the rules no
        longer name, so that deleting a service from the rules deletes it from the table.
      - ipvsadm records them in C(/var/lib/ipvsadm/owners/NAMESPACE/OWNER) on the managed host
        (C(IPVSADM_STATE_DIR) moves it). Without a record (the first run) only the services
        the rules name are in scope.
    type: str
  netns:
    description:
      - The network namespace whose table to manage, a name under C(/run/netns) (as
        C(ip netns add) makes them) or a path such as C(/proc/PID/ns/net).
      - Default is the namespace the module runs in.
    type: str
  drain:
    description:
      - Real servers that the rules remove (and those of removed services) are first set to
        weight 0, and deleted when their connections have ended or this many seconds have
        passed (C(ipvsadm --apply --drain=SECONDS)).
      - V(true) waits ipvsadm's default (300 seconds); V(false) or V(0) deletes at once.
    type: raw
    default: false
  state:
    description:
      - V(present) makes the scope equal the rules.
      - V(absent) deletes every service in the scope (an empty table applied to it, with
        C(--allow-empty)); it needs O(scope) or O(owner), and ignores O(rules) and O(src).
    type: str
    choices: [present, absent]
    default: present
  allow_empty:
    description:
      - Apply rules without any C(-A) line, deleting every service in scope. Without it they
        are refused and nothing changes.
    type: bool
    default: false
  lock_wait:
    description:
      - Seconds to wait for another C(ipvsadm --apply) or C(ipvsadm -R) on the same table to
        end (ipvsadm's default, 30, when not given); then the module fails and nothing changes.
    type: int
  executable:
    description:
      - The ipvsadm to run. Default is C(ipvsadm) in C(PATH), C(/sbin) or C(/usr/sbin).
    type: path
attributes:
  check_mode:
    support: full
    description: Runs C(ipvsadm --apply --dry-run) and returns its plan; nothing changes.
  diff_mode:
    support: full
    description:
      - The scope's C(ipvsadm -S -n --complete) before and after the change. In check mode,
        where nothing is applied, the diff is the plan.
  platform:
    platforms: [linux]
    description: Needs the ip_vs kernel module and root (CAP_NET_ADMIN).
notes:
  - ipvsadm takes a lock per network namespace (a file under C(/run/ipvsadm)), so two runs on
    one table do not interleave.
  - After applying, ipvsadm reads the scope again; if another program changed it meanwhile the
    module fails (ipvsadm's exit status 3) with the lines that would undo the difference. It
    never retries.
seealso:
  - module: lvs.ipvsadm.ipvsadm_info
'''

EXAMPLES = r'''
- name: The web services of this director are those of the file; keepalived's stay
  lvs.ipvsadm.ipvsadm_rules:
    rules: "{{ lookup('ansible.builtin.template', 'ipvsadm.rules.j2') }}"
    scope:
      - 192.168.3.0/24
      - fwmark:100-199

- name: What this play manages, wherever the addresses are (deleting a line deletes the service)
  lvs.ipvsadm.ipvsadm_rules:
    rules: |
      -A -t 192.168.3.10:80 -s mh -b mh-port
      -a -t 192.168.3.10:80 -r 10.1.0.11:80 -g -w 1
      -a -t 192.168.3.10:80 -r 10.1.0.12:80 -g -w 1
    owner: web
    drain: 120

- name: A file already on the director, in the network namespace "blue"
  lvs.ipvsadm.ipvsadm_rules:
    src: /etc/ipvsadm.rules
    netns: blue
    scope: [10.0.0.0/16]

- name: Delete every service of the owner "web"
  lvs.ipvsadm.ipvsadm_rules:
    owner: web
    state: absent
'''

RETURN = r'''
plan:
  description:
    - The changes, as C(ipvsadm -R) lines in the order ipvsadm makes them
      (C(ipvsadm --apply --dry-run)); empty when the scope already equals the rules.
  returned: always
  type: list
  elements: str
  sample: ["-A -t 192.168.3.11:80 -s rr", "-e -t 192.168.3.10:80 -r 10.1.0.12:80 -g -w 2"]
cmd:
  description: The ipvsadm command line of the change (of the plan in check mode).
  returned: always
  type: list
  elements: str
  sample: ["/usr/sbin/ipvsadm", "--apply", "--scope", "192.168.3.0/24"]
rc:
  description:
    - ipvsadm's exit status. On failure, 2 means refused before any change (a bad scope or
      owner, rules without C(-A) line), 3 applied but another program changed the scope
      meanwhile, 4 the table's lock was not obtained, 255 a bad line or a kernel refusal
      (everything undone).
  returned: always
  type: int
  sample: 0
stdout:
  description: ipvsadm's standard output.
  returned: always
  type: str
stderr:
  description: ipvsadm's messages (the refused line, named).
  returned: always
  type: str
  sample: "line 12: Zero port specified for non-persistent service"
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.parsing.convert_bool import boolean


def drain_args(module, value):
    """--drain[=SECONDS] from a bool or a number of seconds; [] when not asked for."""
    if value is None or isinstance(value, bool):
        return ['--drain'] if value else []
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        try:
            return ['--drain'] if boolean(value) else []
        except TypeError:
            module.fail_json(msg='drain must be a number of seconds or a boolean, not %r' % (value,))
    if seconds < 0:
        module.fail_json(msg='drain must not be negative: %d' % seconds)
    return ['--drain=%d' % seconds] if seconds > 0 else []


def find_ipvsadm(module):
    if module.params['executable']:
        return module.params['executable']
    return module.get_bin_path('ipvsadm', required=True, opt_dirs=['/sbin', '/usr/sbin'])


def run(module, cmd, data=None):
    """Run ipvsadm; data (text, or None for none) is its standard input."""
    # stdin is always given: ipvsadm --apply reads it, and must never read the module's own.
    rc, out, err = module.run_command(cmd, data=data if data is not None else '', binary_data=True)
    return rc, out, err


def listing(module, ipvsadm, netns_args, scope_args):
    """The scope as ipvsadm -S -n --complete prints it (the diff's before and after)."""
    cmd = [ipvsadm] + netns_args + ['-S', '-n', '--complete'] + scope_args
    rc, out, err = run(module, cmd)
    if rc != 0:
        module.fail_json(msg='ipvsadm could not list the table: %s' % (err.strip() or 'exit status %d' % rc),
                         cmd=cmd, rc=rc, stdout=out, stderr=err, plan=[])
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(
            rules=dict(type='str'),
            src=dict(type='path'),
            scope=dict(type='list', elements='str'),
            owner=dict(type='str'),
            netns=dict(type='str'),
            drain=dict(type='raw', default=False),
            state=dict(type='str', choices=['present', 'absent'], default='present'),
            allow_empty=dict(type='bool', default=False),
            lock_wait=dict(type='int'),
            executable=dict(type='path'),
        ),
        mutually_exclusive=[('rules', 'src')],
        required_if=[
            ('state', 'present', ('rules', 'src'), True),
            ('state', 'absent', ('scope', 'owner'), True),
        ],
        supports_check_mode=True,
    )
    p = module.params
    ipvsadm = find_ipvsadm(module)

    netns_args = ['--netns', p['netns']] if p['netns'] else []
    scope_args = []
    for scope in p['scope'] or []:
        scope_args += ['--scope', scope]
    if p['owner']:
        scope_args += ['--owner', p['owner']]

    if p['state'] == 'absent':
        # A blank line: an input without any service, which --allow-empty lets empty the scope.
        rules = '\n'
    elif p['src'] is not None:
        try:
            with open(p['src'], 'rb') as f:
                rules = to_native(f.read(), errors='surrogate_or_strict')
        except (IOError, OSError) as e:
            module.fail_json(msg='cannot read the rules file %s: %s' % (p['src'], to_native(e)), plan=[])
    else:
        rules = p['rules']
    if not rules.endswith('\n'):
        rules += '\n'

    apply_args = ['--apply'] + scope_args
    if p['allow_empty'] or p['state'] == 'absent':
        apply_args.append('--allow-empty')
    apply_args += drain_args(module, p['drain'])
    lock_args = ['--lock-wait', str(p['lock_wait'])] if p['lock_wait'] is not None else []

    result = dict(changed=False, plan=[], rc=0, stdout='', stderr='')
    before = listing(module, ipvsadm, netns_args, scope_args) if module._diff else None

    # The plan: what --apply would change. Empty: nothing to do (idempotent).
    cmd = [ipvsadm] + netns_args + apply_args + ['--dry-run']
    rc, out, err = run(module, cmd, rules)
    result.update(cmd=cmd, rc=rc, stdout=out, stderr=err)
    if rc != 0:
        result['msg'] = err.strip() or 'ipvsadm --apply --dry-run failed with exit status %d' % rc
        module.fail_json(**result)
    result['plan'] = [line for line in out.splitlines() if line.strip()]
    result['changed'] = bool(result['plan'])

    if module.check_mode:
        if module._diff and result['changed']:
            result['diff'] = dict(prepared='# ipvsadm --apply would run (check mode: nothing applied)\n'
                                           + '\n'.join(result['plan']) + '\n')
        module.exit_json(**result)

    # Applied also when the plan is empty but an owner is named: that writes the owner's record
    # (the services of the rules), which a later run needs to delete what the rules then drop.
    if result['changed'] or p['owner']:
        cmd = [ipvsadm] + netns_args + apply_args + lock_args
        rc, out, err = run(module, cmd, rules)
        result.update(cmd=cmd, rc=rc, stdout=out, stderr=err)
        if rc != 0:
            if rc == 3:
                result['msg'] = ('the rules were applied, but another program changed the table meanwhile: '
                                 + err.strip())
            else:
                # Refused or undone: the table is as it was.
                result['changed'] = False
                result['msg'] = err.strip() or 'ipvsadm --apply failed with exit status %d' % rc
            module.fail_json(**result)

    if module._diff:
        after = listing(module, ipvsadm, netns_args, scope_args)
        result['diff'] = dict(before=before, after=after,
                              before_header='ipvsadm -S -n --complete (before)',
                              after_header='ipvsadm -S -n --complete (after)')
    module.exit_json(**result)


if __name__ == '__main__':
    main()
