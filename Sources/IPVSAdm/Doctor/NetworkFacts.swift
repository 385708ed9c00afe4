import IPVS

/// An address of an interface, with its prefix length.
public struct InterfaceAddress: Hashable, Sendable {
    public var address: IPAddress
    public var prefixLength: Int

    public init(_ address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }
}

/// A network interface as the doctor needs it (RTM_GETLINK and RTM_GETADDR of the namespace).
public struct NetworkInterface: Hashable, Sendable {
    public var name: String
    public var index: Int32
    /// IFF_UP: administratively up.
    public var up: Bool
    /// IFF_NOARP: the interface neither asks nor answers ARP (tunl0, dummy with noarp).
    public var noARP: Bool
    /// IFF_LOOPBACK.
    public var loopback: Bool
    public var mtu: UInt32
    public var addresses: [InterfaceAddress]

    public init(
        name: String, index: Int32, up: Bool = true, noARP: Bool = false, loopback: Bool = false, mtu: UInt32 = 1500,
        addresses: [InterfaceAddress] = []
    ) {
        self.name = name
        self.index = index
        self.up = up
        self.noARP = noARP
        self.loopback = loopback
        self.mtu = mtu
        self.addresses = addresses
    }

    /// Whether ARP requests are answered on it: what DR real servers must keep off the VIP.
    public var answersARP: Bool { !noARP && !loopback }
}

/// A unicast route of the main table.
public struct Route: Hashable, Sendable {
    public var destination: IPAddress
    public var prefixLength: Int
    /// nil: on-link (a directly connected network).
    public var gateway: IPAddress?
    public var interfaceIndex: Int32
    public var metric: UInt32
    /// The route's MTU metric, 0 when it has none (the interface's MTU applies).
    public var mtu: UInt32

    public init(
        destination: IPAddress, prefixLength: Int, gateway: IPAddress? = nil, interfaceIndex: Int32, metric: UInt32 = 0,
        mtu: UInt32 = 0
    ) {
        self.destination = destination
        self.prefixLength = prefixLength
        self.gateway = gateway
        self.interfaceIndex = interfaceIndex
        self.metric = metric
        self.mtu = mtu
    }
}

/// The interfaces, addresses and routes of the network namespace examined, read once.
public struct NetworkFacts: Sendable {
    public var interfaces: [NetworkInterface]
    public var routes: [Route]
    /// Where each address is: its interface's position and its own in that interface's list
    /// (a director may hold thousands of VIPs: every look-up is one hash).
    private let localAddresses: [IPAddress: (interface: Int, address: Int)]

    public init(interfaces: [NetworkInterface] = [], routes: [Route] = []) {
        self.interfaces = interfaces
        self.routes = routes
        var local: [IPAddress: (interface: Int, address: Int)] = [:]
        for (position, interface) in interfaces.enumerated() {
            for (index, address) in interface.addresses.enumerated() where local[address.address] == nil {
                local[address.address] = (position, index)
            }
        }
        localAddresses = local
    }

    public func interface(named name: String) -> NetworkInterface? { interfaces.first { $0.name == name } }
    public func interface(index: Int32) -> NetworkInterface? { interfaces.first { $0.index == index } }

    /// The interface that holds `address`, and the address with its prefix.
    public func holder(of address: IPAddress) -> (interface: NetworkInterface, address: InterfaceAddress)? {
        guard let position = localAddresses[address] else { return nil }
        let interface = interfaces[position.interface]
        return (interface, interface.addresses[position.address])
    }

    /// Whether `address` is an address of an interface that is up (the kernel keeps local
    /// routes only for those).
    public func isLocal(_ address: IPAddress) -> Bool { holder(of: address)?.interface.up ?? false }

    /// The route the main table chooses for `address`: the longest prefix, then the lowest
    /// metric, among routes through interfaces that are up.
    public func route(to address: IPAddress) -> Route? {
        var best: Route?
        for route in routes where route.destination.family == address.family {
            guard NetworkFacts.contains(route.destination, route.prefixLength, address) else { continue }
            if let up = interface(index: route.interfaceIndex)?.up, !up { continue }
            if let current = best {
                if route.prefixLength < current.prefixLength { continue }
                if route.prefixLength == current.prefixLength && route.metric >= current.metric { continue }
            }
            best = route
        }
        return best
    }

    /// The on-link network (a route without gateway) holding `address`, nil when it is reached
    /// through a gateway or not at all.
    public func onLinkRoute(to address: IPAddress) -> Route? {
        guard let route = route(to: address), route.gateway == nil else { return nil }
        return route
    }

    /// Whether `address` is within `network`/`prefix` (same family).
    public static func contains(_ network: IPAddress, _ prefix: Int, _ address: IPAddress) -> Bool {
        guard network.family == address.family else { return false }
        let high: UInt64 = prefix <= 0 ? 0 : prefix >= 64 ? ~0 : ~0 << UInt64(64 - prefix)
        let low: UInt64 = prefix <= 64 ? 0 : prefix >= 128 ? ~0 : ~0 << UInt64(128 - prefix)
        return (network.high ^ address.high) & high == 0 && (network.low ^ address.low) & low == 0
    }
}
