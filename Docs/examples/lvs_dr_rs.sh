#!/bin/sh
# lvs_dr_rs.sh -- LVS-DR real server: accept packets for the VIP without answering ARP for it.
# In the spirit of the seeds' /usr/local/sbin/lvs_dr_rs.sh and /root/dr-rs.sh.
#
#   VIP=192.168.56.185 DEV=eth0 sh lvs_dr_rs.sh start|stop
#
#   VIP  virtual IP (default 192.168.56.185)    DEV  the LAN interface (eth0)
set -e
VIP=${VIP:-192.168.56.185}
DEV=${DEV:-eth0}
conf=/proc/sys/net/ipv4/conf

case "${1:-start}" in
start)
    # Answer ARP only for addresses of the asking interface (the VIP lives on lo), and
    # announce with the interface's own address, never the VIP.
    for i in all lo "$DEV"; do
        echo 1 > $conf/$i/arp_ignore
        echo 2 > $conf/$i/arp_announce
    done
    # The VIP on lo, host route only (the seeds' "ifconfig lo:0 $VIP netmask 255.255.255.255").
    ip link set lo up
    ip addr replace "$VIP"/32 broadcast "$VIP" dev lo label lo:0
    echo "LVS-DR real server started (VIP $VIP on lo)"
    ;;
stop)
    ip addr del "$VIP"/32 dev lo 2>/dev/null || true
    for i in all lo "$DEV"; do
        echo 0 > $conf/$i/arp_ignore
        echo 0 > $conf/$i/arp_announce
    done
    echo "LVS-DR real server stopped"
    ;;
*)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
