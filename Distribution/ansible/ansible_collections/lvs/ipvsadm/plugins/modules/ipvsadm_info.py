#!/usr/bin/python
# -*- coding: utf-8 -*-
# The repository this collection ships in does not state a license yet.

DOCUMENTATION = r'''
---
module: ipvsadm_info
short_description: Read the IPVS table, its timeouts and sync daemons as data
version_added: 1.0.0
description:
  - Returns the kernel's IPVS (Linux Virtual Server) table as C(ipvsadm -L -n --json) gives
    it, and the timeouts and connection synchronisation daemons (C(ipvsadm -L --timeout --json),
    C(ipvsadm -L --daemon --json)). Changes nothing.
  - Needs this project's ipvsadm (ipvsadm in Swift), which has C(--json), C(--scope) and
    C(--owner). The documents are described in its C(Docs/JSON.md) and C(Docs/ipvsadm.schema.json).
author:
  - Seed bceb356e maintainers
options:
  netns:
    description:
      - The network namespace to read, a name under C(/run/netns) or a path such as
        C(/proc/PID/ns/net). Default is the namespace the module runs in.
    type: str
  scope:
    description:
      - Only the services in these address prefixes (V(192.168.3.0/24), V(2001:db8::/64)) or
        fwmark ranges (V(fwmark:100-199)), as in M(lvs.ipvsadm.ipvsadm_rules).
    type: list
    elements: str
  owner:
    description:
      - Only the services of this owner's record (see M(lvs.ipvsadm.ipvsadm_rules)); with
        O(scope), those of either.
    type: str
  stats:
    description:
      - Add each service's and real server's counters and rates (C(--stats --rate)).
    type: bool
    default: false
  details:
    description:
      - Add the thresholds, persistent connection counts and tunnel settings
        (C(--thresholds --persistent-conn --tun-info)).
    type: bool
    default: false
  executable:
    description:
      - The ipvsadm to run. Default is C(ipvsadm) in C(PATH), C(/sbin) or C(/usr/sbin).
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: [linux]
seealso:
  - module: lvs.ipvsadm.ipvsadm_rules
'''

EXAMPLES = r'''
- name: Read the web services with their counters
  lvs.ipvsadm.ipvsadm_info:
    scope: [192.168.3.0/24]
    stats: true
  register: lvs

- name: Real servers of the first service
  ansible.builtin.debug:
    msg: "{{ lvs.ipvs.services[0].real_servers | map(attribute='address') | list }}"

- name: The table of the network namespace blue
  lvs.ipvsadm.ipvsadm_info:
    netns: blue
  register: blue
'''

RETURN = r'''
ipvs:
  description:
    - The table, C(ipvsadm -L -n --json) (with the options asked for); C(services) is a list of
      services, each with its C(real_servers).
  returned: always
  type: dict
  sample:
    version: 1.2.1
    connection_table_size: 4096
    services:
      - family: inet
        protocol: tcp
        address: 192.168.3.10
        port: 80
        scheduler: rr
        flags: []
        real_servers:
          - {family: inet, address: 10.1.0.11, port: 80, forwarding: route, weight: 1,
             active_connections: 0, inactive_connections: 0}
timeouts:
  description: The TCP, TCP FIN and UDP timeouts in seconds (C(ipvsadm -L --timeout --json)).
  returned: always
  type: dict
  sample: {timeouts: {tcp: 900, tcp_fin: 120, udp: 300}}
daemons:
  description: The running connection synchronisation daemons (C(ipvsadm -L --daemon --json)).
  returned: always
  type: dict
  sample: {daemons: []}
'''

import json

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            netns=dict(type='str'),
            scope=dict(type='list', elements='str'),
            owner=dict(type='str'),
            stats=dict(type='bool', default=False),
            details=dict(type='bool', default=False),
            executable=dict(type='path'),
        ),
        supports_check_mode=True,
    )
    p = module.params
    ipvsadm = p['executable'] or module.get_bin_path('ipvsadm', required=True, opt_dirs=['/sbin', '/usr/sbin'])
    netns_args = ['--netns', p['netns']] if p['netns'] else []
    list_args = ['-L', '-n', '--json']
    if p['stats']:
        list_args += ['--stats', '--rate']
    if p['details']:
        list_args += ['--thresholds', '--persistent-conn', '--tun-info']
    for scope in p['scope'] or []:
        list_args += ['--scope', scope]
    if p['owner']:
        list_args += ['--owner', p['owner']]

    result = dict(changed=False)
    for key, args in (('ipvs', list_args), ('timeouts', ['-L', '--timeout', '--json']),
                      ('daemons', ['-L', '--daemon', '--json'])):
        cmd = [ipvsadm] + netns_args + args
        rc, out, err = module.run_command(cmd, data='', binary_data=True)
        if rc != 0:
            module.fail_json(msg=err.strip() or 'ipvsadm exited with status %d' % rc,
                             cmd=cmd, rc=rc, stdout=out, stderr=err)
        try:
            result[key] = json.loads(out)
        except ValueError as e:
            module.fail_json(msg='ipvsadm printed no JSON document: %s' % e, cmd=cmd, rc=rc, stdout=out, stderr=err)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
