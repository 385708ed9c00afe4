#!/bin/sh
# lvs_tun_rs.sh -- LVS-TUN real server: decapsulate IP-in-IP on tunl0, which carries the VIP.
#
#   VIP=192.168.56.185 DEV=eth0 sh lvs_tun_rs.sh start|stop
#
#   VIP  virtual IP (default 192.168.56.185)    DEV  the interface facing the director (eth0)
set -e
VIP=${VIP:-192.168.56.185}
DEV=${DEV:-eth0}
conf=/proc/sys/net/ipv4/conf

case "${1:-start}" in
start)
    modprobe ipip 2>/dev/null || true     # creates tunl0
    ip link set tunl0 up
    ip addr replace "$VIP"/32 broadcast "$VIP" dev tunl0
    # Do not answer ARP for the VIP; the decapsulated packets come in on tunl0 while the
    # route back to the client is elsewhere, so reverse-path filtering must be off there.
    for i in all "$DEV"; do
        echo 1 > $conf/$i/arp_ignore
        echo 2 > $conf/$i/arp_announce
    done
    for i in all tunl0 "$DEV"; do
        echo 0 > $conf/$i/rp_filter
    done
    echo "LVS-TUN real server started (VIP $VIP on tunl0)"
    ;;
stop)
    ip addr del "$VIP"/32 dev tunl0 2>/dev/null || true
    ip link set tunl0 down 2>/dev/null || true
    echo "LVS-TUN real server stopped"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
