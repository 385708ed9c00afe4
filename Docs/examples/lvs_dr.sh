#!/bin/sh
# lvs_dr.sh -- LVS-DR director: put the VIP on the LAN interface and program the IPVS table.
# In the spirit of the seeds' /usr/local/sbin/lvs_dr.sh; every setting can come from the
# environment:
#
#   VIP=192.168.56.185 RIPS="192.168.56.183 192.168.56.184" sh lvs_dr.sh [start|stop]
#
#   VIP      virtual IP (default 192.168.56.185)       PORT     service port (80)
#   RIPS     real servers, space separated             SCHED    scheduler (rr)
#   WEIGHT   weight of every real server (1)           PERSIST  persistence timeout in s (none)
#   DEV      the director's LAN interface (eth0)
#
# `ipvsadm` is whatever ipvsadm comes first in PATH.
set -e
VIP=${VIP:-192.168.56.185}
PORT=${PORT:-80}
RIPS=${RIPS:-"192.168.56.183 192.168.56.184"}
SCHED=${SCHED:-rr}
WEIGHT=${WEIGHT:-1}
PERSIST=${PERSIST:-}
DEV=${DEV:-eth0}

case "${1:-start}" in
start)
    # The director forwards; no ICMP redirects (the real servers share its segment).
    echo 1 > /proc/sys/net/ipv4/ip_forward
    echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
    echo 0 > /proc/sys/net/ipv4/conf/"$DEV"/send_redirects

    # VIP as a host address on the LAN interface (the seeds' "ifconfig eth0:0 $VIP ... up").
    ip addr replace "$VIP"/32 broadcast "$VIP" dev "$DEV" label "$DEV":0

    # The virtual service and its real servers, direct routing (-g).
    ipvsadm -C
    ipvsadm -A -t "$VIP:$PORT" -s "$SCHED" ${PERSIST:+-p "$PERSIST"}
    for rip in $RIPS; do
        ipvsadm -a -t "$VIP:$PORT" -r "$rip:$PORT" -g -w "$WEIGHT"
    done
    ;;
stop)
    ipvsadm -C
    ip addr del "$VIP"/32 dev "$DEV" 2>/dev/null || true
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
