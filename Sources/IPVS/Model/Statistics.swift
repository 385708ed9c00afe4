/// Traffic counters and rates of a service or real server (the kernel's 64-bit stats).
public struct Statistics: Hashable, Sendable {
    public var connections: UInt64 = 0
    public var inPackets: UInt64 = 0
    public var outPackets: UInt64 = 0
    public var inBytes: UInt64 = 0
    public var outBytes: UInt64 = 0
    public var connectionRate: UInt64 = 0
    public var inPacketRate: UInt64 = 0
    public var outPacketRate: UInt64 = 0
    public var inByteRate: UInt64 = 0
    public var outByteRate: UInt64 = 0

    public init() {}

    /// Five counters in the one order every listing shows them: connections, packets in,
    /// packets out, bytes in, bytes out. A collection of five, without an array (listings
    /// walk it once per service and real server).
    public struct Counters: RandomAccessCollection, Hashable, Sendable {
        public var connections: UInt64
        public var inPackets: UInt64
        public var outPackets: UInt64
        public var inBytes: UInt64
        public var outBytes: UInt64

        public var startIndex: Int { 0 }
        public var endIndex: Int { 5 }

        public subscript(position: Int) -> UInt64 {
            switch position {
            case 0: return connections
            case 1: return inPackets
            case 2: return outPackets
            case 3: return inBytes
            case 4: return outBytes
            default: preconditionFailure("Statistics.Counters has five counters")
            }
        }
    }

    /// The totals since the counters were last zeroed (`--stats`).
    public var totals: Counters {
        Counters(connections: connections, inPackets: inPackets, outPackets: outPackets, inBytes: inBytes, outBytes: outBytes)
    }

    /// Per second, the kernel's estimator (`--rate`).
    public var rates: Counters {
        Counters(
            connections: connectionRate, inPackets: inPacketRate, outPackets: outPacketRate, inBytes: inByteRate,
            outBytes: outByteRate)
    }
}
