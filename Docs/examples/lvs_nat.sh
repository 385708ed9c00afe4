#!/bin/sh
# lvs_nat.sh -- LVS-NAT director: forward, and program the IPVS table with masquerading.
# In the spirit of the seeds' /usr/local/sbin/lvs_nat.sh. The real servers' default gateway
# must be the director's private address.
#
#   VIP=172.16.254.200 RIPS="192.168.0.18 192.168.0.28" RPORT=8080 sh lvs_nat.sh [start|stop]
#
#   VIP      virtual IP (default 172.16.254.200)       PORT     service port (80)
#   RIPS     real servers, space separated             RPORT    their port (default PORT)
#   SCHED    scheduler (wrr)                           WEIGHT   weight of every real server (1)
#   DEV      public interface (eth0)                   PRIV_DEV private interface (eth1)
#
# The seed also flushes the nat table and masquerades the private net for the real servers'
# own outgoing traffic; that is not needed for LVS and is left out here.
set -e
VIP=${VIP:-172.16.254.200}
PORT=${PORT:-80}
RIPS=${RIPS:-"192.168.0.18 192.168.0.28"}
RPORT=${RPORT:-$PORT}
SCHED=${SCHED:-wrr}
WEIGHT=${WEIGHT:-1}
DEV=${DEV:-eth0}
PRIV_DEV=${PRIV_DEV:-eth1}

case "${1:-start}" in
start)
    # Routing on, ICMP redirects off.
    echo 1 > /proc/sys/net/ipv4/ip_forward
    for i in all default "$DEV" "$PRIV_DEV"; do
        echo 0 > /proc/sys/net/ipv4/conf/$i/send_redirects
    done

    # The VIP on the public interface.
    ip addr replace "$VIP"/32 broadcast "$VIP" dev "$DEV" label "$DEV":0

    # The virtual service; real servers masqueraded (-m), VIP:PORT -> RIP:RPORT.
    ipvsadm -C
    ipvsadm -A -t "$VIP:$PORT" -s "$SCHED"
    for rip in $RIPS; do
        ipvsadm -a -t "$VIP:$PORT" -r "$rip:$RPORT" -m -w "$WEIGHT"
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
