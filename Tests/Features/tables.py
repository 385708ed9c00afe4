"""Random IPVS tables as ipvsadm -R input, for the feature tests in the VM.

Every address lies in the ranges Tests/Differential/netns.batch puts on dummy0 (10/8,
192.168/16, 172.16/12, 2001:db8::/32), so the kernel accepts the real servers. Keys come from small pools,
so that two tables drawn one after the other overlap, and `mutate` derives a second table from a
first one the way an admin edits a rules file.
"""

SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"]


def service_key(rnd):
    """(options naming the service, its family, whether it has a port, its protocol)."""
    kind = rnd.randrange(7)
    if kind == 0:
        return "-t 10.1.%d.%d:%d" % (rnd.randrange(3), rnd.randrange(1, 6), rnd.choice([80, 443])), 4, "tcp"
    if kind == 1:
        return "-u 10.1.0.%d:53" % rnd.randrange(1, 6), 4, "udp"
    if kind == 2:
        return "--sctp-service 10.1.0.%d:3868" % rnd.randrange(1, 4), 4, "sctp"
    if kind == 3:
        return "-f %d" % rnd.randrange(1, 9), 4, "fwm"
    if kind == 4:
        return "-f %d -6" % rnd.randrange(1, 9), 6, "fwm"
    if kind == 5:
        return "-u [2001:db8::%x]:53" % rnd.randrange(1, 6), 6, "udp"
    return "-t [2001:db8::%x]:%d" % (rnd.randrange(1, 6), rnd.choice([80, 8080])), 6, "tcp"


def service_options(rnd, family, proto):
    sched = rnd.choice(SCHEDULERS)
    opts = "-s " + sched
    if rnd.random() < 0.3:
        opts += " -p %d" % rnd.choice([1, 60, 300, 360, 3600])
        if rnd.random() < 0.4:
            opts += " -M " + ("255.255.%d.0" % rnd.choice([0, 255]) if family == 4 else str(rnd.choice([64, 96, 120])))
    if rnd.random() < 0.25:
        if sched in ("sh", "mh"):
            flags = [f for f in (sched + "-fallback", sched + "-port", "flag-3") if rnd.random() < 0.5] or ["flag-3"]
        else:
            flags = [f for f in ("flag-1", "flag-2", "flag-3") if rnd.random() < 0.5] or ["flag-2"]
        opts += " -b " + ",".join(flags)
    if proto == "udp" and rnd.random() < 0.2:
        opts += " -o"
    return opts


def server_line(rnd, service, family, proto, cross_family=True):
    """One -a line for `service`: every forwarding method, tunnel and threshold option (and a
    tunnel to the other family, unless not `cross_family`: the kernel refuses one while a sync
    daemon runs)."""
    method = rnd.choice(["-g", "-m", "-i"])
    if proto == "fwm" and method == "-m":
        method = "-g"
    v6 = family == 6
    if method == "-i" and cross_family and rnd.random() < 0.15:
        v6 = not v6                      # a tunnel may cross families
    address = "2001:db8::1:%x" % rnd.randrange(1, 9) if v6 else "10.2.%d.%d" % (rnd.randrange(2), rnd.randrange(1, 9))
    if method == "-m":
        port = rnd.choice([80, 8080, 8443])
        target = ("[%s]:%d" if v6 else "%s:%d") % (address, port)
    else:
        target = address
        port = 0 if proto == "fwm" else int(service.rsplit(":", 1)[1])
    line = "-a %s -r %s %s -w %d" % (service, target, method, rnd.choice([0, 1, 1, 2, 5, 100]))
    if rnd.random() < 0.3:
        upper = rnd.randrange(1, 5000)
        line += " -x %d" % upper
        if rnd.random() < 0.7:
            line += " -y %d" % rnd.randrange(0, upper + 1)
    if method == "-i" and rnd.random() < 0.4:
        line += rnd.choice([" --tun-type ipip", " --tun-type gre --tun-csum", " --tun-type gre --tun-nocsum",
                            " --tun-type gue --tun-port %d --tun-csum" % rnd.randrange(1, 65536),
                            " --tun-type gue --tun-port 6080 --tun-remcsum",
                            " --tun-type gue --tun-port 5555 --tun-nocsum"])
    # What the kernel tells real servers apart by: the address and the port it takes (a -g or
    # -i real server takes the service's port, 0 for a fwmark service).
    return (address, port), line


def table(rnd, services=8, servers=4, cross_family=True):
    """{service options: (the -A line, {server key: -a line}, family, protocol)}, in order."""
    result = {}
    for _ in range(rnd.randrange(services + 1)):
        key, family, proto = service_key(rnd)
        if key in result:
            continue
        lines = {}
        for _ in range(rnd.randrange(servers + 1)):
            server, line = server_line(rnd, key, family, proto, cross_family)
            lines[server] = line
        result[key] = ("-A %s %s" % (key, service_options(rnd, family, proto)), lines, family, proto)
    return result


def mutate(rnd, old):
    """A second table from a first: some services dropped or re-scheduled, some real servers
    dropped, re-weighted or moved to another method, some new ones of both."""
    new = {}
    for key, (line, servers, family, proto) in old.items():
        if rnd.random() < 0.15:
            continue
        if rnd.random() < 0.25:
            line = "-A %s %s" % (key, service_options(rnd, family, proto))
        kept = {}
        for server, server_text in servers.items():
            r = rnd.random()
            if r < 0.15:
                continue
            if r < 0.35:
                server, server_text = server_line(rnd, key, family, proto)
            kept[server] = server_text
        for _ in range(rnd.randrange(3)):
            server, server_text = server_line(rnd, key, family, proto)
            kept[server] = server_text
        new[key] = (line, kept, family, proto)
    for key, value in table(rnd, services=3).items():
        new.setdefault(key, value)
    return new


def text(t, head=()):
    """The table as -R input (`head` lines first: --set, --start-daemon)."""
    lines = list(head)
    for line, servers, _, _ in t.values():
        lines.append(line)
        lines.extend(servers.values())
    return "".join(l + "\n" for l in lines)


def ip4(n):
    """The dotted quad of a 32-bit number."""
    return "%d.%d.%d.%d" % (n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)


def bulk(services, servers_each, first=0, prefix="10.3", scheduler="wlc"):
    """A large regular table, the benchmark's shapes (Scripts/bench-guest.py) and the feature
    tests' big ones: the TCP services first .. first + services - 1 on port 80 of consecutive
    addresses from <prefix>.0.1, each with `servers_each` masqueraded real servers on port 80 of
    consecutive addresses from 172.17.0.1, numbered across the whole table (service i's first
    one is number i * servers_each + 1). Written in ipvsadm's sort order and -S syntax, so that
    -Sn gives the lines back."""
    a, b = (int(part) for part in prefix.split("."))
    vip_base = a << 24 | b << 16
    server_base = 172 << 24 | 17 << 16
    lines = []
    k = first * servers_each
    for i in range(first, first + services):
        vip = ip4(vip_base + i + 1)
        lines.append("-A -t %s:80 -s %s\n" % (vip, scheduler))
        for _ in range(servers_each):
            k += 1
            lines.append("-a -t %s:80 -r %s:80 -m -w 1\n" % (vip, ip4(server_base + k)))
    return "".join(lines)
