#!/bin/sh
# Prepare the CURRENT network namespace for an IPVS test case: lo up and a dummy interface
# whose addresses cover the ranges the cases use (10/8, 192.168/16, 172.16/12, 2001:db8::/32),
# so the kernel accepts real servers there (without a route it answers EINVAL).
# Usage, in a fresh namespace:   unshare -n sh -c 'Tests/Differential/netns-setup.sh && ipvsadm ...'
# The harness feeds the same file (netns.batch) to one `ip -batch -` process per case.
exec ip -batch "$(dirname "$0")/netns.batch"
