#!/usr/bin/python3
"""ARP on one interface, for the doctor's traffic checks (Tests/Doctor/run.sh), as root in a
network namespace. Prints one MAC address a line (sorted, unique).

  arp.py who IFACE ADDR SECS      send "who has ADDR" (from IFACE's own address) and print the
                                  MAC of every host that answers within SECS seconds
  arp.py claims IFACE ADDR SECS   listen SECS seconds and print the MAC of every ARP packet
                                  (request or reply) whose sender address is ADDR
The first line is "ready" once the socket listens (claims: start the traffic after it).
"""
import fcntl
import select
import socket
import struct
import sys
import time

ETH_P_ARP = 0x0806


def if_addr(sock, iface):
    req = struct.pack("256s", iface.encode()[:15])
    ip = socket.inet_ntoa(fcntl.ioctl(sock.fileno(), 0x8915, req)[20:24])     # SIOCGIFADDR
    mac = fcntl.ioctl(sock.fileno(), 0x8927, req)[18:24]                       # SIOCGIFHWADDR
    return ip, mac


def main():
    mode, iface, addr, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((iface, ETH_P_ARP))
    target = socket.inet_aton(addr)
    print("ready", flush=True)
    if mode == "who":
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        my_ip, my_mac = if_addr(udp, iface)
        arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, my_mac,
                          socket.inet_aton(my_ip), b"\0" * 6, target)
        s.send(b"\xff" * 6 + my_mac + struct.pack("!H", ETH_P_ARP) + arp)
    seen = set()
    end = time.monotonic() + secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            continue
        frame = s.recv(2048)
        if len(frame) < 42:
            continue
        op = struct.unpack("!H", frame[20:22])[0]
        sha, spa = frame[22:28], frame[28:32]
        if spa != target:
            continue
        if mode == "who" and op != 2:
            continue
        seen.add(":".join("%02x" % b for b in sha))
    for mac in sorted(seen):
        print(mac)


if __name__ == "__main__":
    main()
