#!/bin/sh
# lvs_tun.sh -- LVS-TUN director: program the IPVS table with IP-in-IP tunnelling (-i).
#
#   VIP=192.168.56.185 RIPS="192.168.56.183 192.168.56.184" sh lvs_tun.sh [start|stop]
#
#   VIP, PORT, RIPS, SCHED (rr), WEIGHT (1), DEV (eth0): as in lvs_dr.sh.
# The real servers may sit in any network the director can route to; they run lvs_tun_rs.sh.
set -e
VIP=${VIP:-192.168.56.185}
PORT=${PORT:-80}
RIPS=${RIPS:-"192.168.56.183 192.168.56.184"}
SCHED=${SCHED:-rr}
WEIGHT=${WEIGHT:-1}
DEV=${DEV:-eth0}

case "${1:-start}" in
start)
    echo 0 > /proc/sys/net/ipv4/conf/all/send_redirects
    echo 0 > /proc/sys/net/ipv4/conf/"$DEV"/send_redirects
    ip addr replace "$VIP"/32 broadcast "$VIP" dev "$DEV" label "$DEV":0

    ipvsadm -C
    ipvsadm -A -t "$VIP:$PORT" -s "$SCHED"
    for rip in $RIPS; do
        ipvsadm -a -t "$VIP:$PORT" -r "$rip:$PORT" -i -w "$WEIGHT"
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
