#!/usr/bin/env python3
"""Writes the binary seeds of Fuzz/Corpus (netlink, codec); the text seeds are written by hand.

netlink: conversations recorded from the kernel (Tests/IPVSNetlinkTests/Fixtures/*.netlink) in
the target's format (Fuzz/Checks/NetlinkCheck.swift), and request attributes captured from
/sbin/ipvsadm (Fixtures/*.hex) for the decoders. codec: any bytes are an input; a few fixed ones.

    python3 Fuzz/make-binary-seeds.py        (from the repository's root)
"""
import os
import random
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "IPVSNetlinkTests", "Fixtures")
CORPUS = os.path.join(ROOT, "Fuzz", "Corpus")


def received(name):
    """The datagrams read in a recording, each as long as the kernel made it."""
    datagrams, current, length = [], None, 0
    for line in open(os.path.join(FIXTURES, name)):
        line = line.split("#")[0].split()
        if not line:
            continue
        if line[0] in (">", "<"):
            if current is not None:
                datagrams.append(bytes(current) + bytes(length - len(current)))
            current, length = ([], int(line[2])) if line[0] == "<" else (None, 0)
        elif line[0] not in ("family",) and current is not None:
            current.extend(int(word, 16) for word in line)
    if current is not None:
        datagrams.append(bytes(current) + bytes(length - len(current)))
    return datagrams


def conversation(mode, operations, datagrams):
    out = bytes([mode, len(operations)]) + bytes(operations)
    for datagram in datagrams:
        out += struct.pack("<H", len(datagram)) + datagram
    return out


def hexfile(name):
    words = []
    for line in open(os.path.join(FIXTURES, name)):
        words += line.split("#")[0].split()
    return bytes(int(word, 16) for word in words)


def write(target, name, data):
    os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    with open(os.path.join(CORPUS, target, name), "wb") as f:
        f.write(data)


# Operations (NetlinkCheck.conversation): 0 services, 1 real servers, 2 one service,
# 3 timeouts, 4 daemons, 5 add a service, 6 delete it, 7 + 8k: a batch of 8(k+1) changes.
# The first datagrams answer GET_INFO, which starting the backend sends.
write("netlink", "dumps", conversation(1, [0, 1], received("dumps.netlink")))
write("netlink", "acks-and-error", conversation(1, [5, 5, 6], received("info-ack-error.netlink")))
write("netlink", "pipelined-200", conversation(1, [7 + 8 * 24], received("pipelined.netlink")))
write("netlink", "cut-datagram", conversation(3, [0], received("cut-datagram.netlink")))
for name in sorted(os.listdir(FIXTURES)):
    if name.endswith(".hex"):
        write("netlink", "attributes-" + name[:-4], bytes([0]) + hexfile(name))
# One service message of the dump, without its netlink and generic-netlink headers.
first_service = received("dumps.netlink")[2]
length = struct.unpack_from("<I", first_service)[0]
write("netlink", "attributes-service-reply", bytes([0]) + first_service[20:length])

write("codec", "zeros", bytes(64))
write("codec", "ones", bytes([0xff]) * 64)
generator = random.Random(12)
for index in range(3):
    write("codec", "random-%d" % index, bytes(generator.randrange(256) for _ in range(400)))
