import IPVS

/// Listing order, reproduced exactly.
///
/// ipvsadm sorts with glibc's `qsort`, which is a top-down merge sort, and its comparators
/// subtract unsigned fields into an `int`: two IPv4 addresses (or fwmarks) more than 2^31
/// apart compare "backwards". That is not a total order, so the result depends on the
/// algorithm; to print the same table we use the same comparator and the same merge sort.
enum Sorting {
    /// The merge sort of glibc's `msort_with_tmp`: halves of n/2 and n - n/2, ties keep
    /// the left element first. It compares each element's `key` (extracted once, so the
    /// comparisons touch only small plain values) and orders positions: the caller visits
    /// the items in that order, nothing is moved or copied.
    /// `Key.compare` is ipvsadm's comparator; the sort is specialised for each key type.
    static func sortedOrder<T, Key: OrderKey>(_ items: [T], key: (T) -> Key) -> [Int] {
        var order = Array(items.indices)
        guard items.count > 1 else { return order }
        let keys = items.map(key)
        var scratch = order
        keys.withUnsafeBufferPointer { keys in
            order.withUnsafeMutableBufferPointer { positions in
                scratch.withUnsafeMutableBufferPointer { tmp in
                    sort(positions, 0, positions.count, tmp, keys)
                }
            }
        }
        return order
    }

    /// Visits real servers in ipvsadm's order (`ipvs_cmp_dests`), or as given.
    static func forEach(_ destinations: [Destination], sorted: Bool, _ body: (Destination) -> Void) {
        if !sorted || destinations.count < 2 {
            for destination in destinations { body(destination) }
        } else {
            for index in sortedOrder(destinations, key: DestinationOrderKey.init) { body(destinations[index]) }
        }
    }

    private static func sort<Key: OrderKey>(
        _ a: UnsafeMutableBufferPointer<Int>, _ start: Int, _ count: Int, _ tmp: UnsafeMutableBufferPointer<Int>,
        _ keys: UnsafeBufferPointer<Key>
    ) {
        guard count > 1 else { return }
        let leftCount = count / 2
        sort(a, start, leftCount, tmp, keys)
        sort(a, start + leftCount, count - leftCount, tmp, keys)
        var i = start
        var j = start + leftCount
        let leftEnd = j
        let end = start + count
        var k = start
        while i < leftEnd && j < end {
            if Key.compare(keys[a[i]], keys[a[j]]) <= 0 {
                tmp[k] = a[i]; i += 1
            } else {
                tmp[k] = a[j]; j += 1
            }
            k += 1
        }
        while i < leftEnd { tmp[k] = a[i]; i += 1; k += 1 }
        while j < end { tmp[k] = a[j]; j += 1; k += 1 }
        for index in start..<end { a[index] = tmp[index] }
    }

    /// `a - b` of two unsigned 32-bit values, as C stores it in an `int`.
    @inline(__always)
    static func difference(_ a: UInt32, _ b: UInt32) -> Int32 {
        Int32(bitPattern: a &- b)
    }

    /// What a comparator reads of an element, and the comparator.
    protocol OrderKey {
        static func compare(_ a: Self, _ b: Self) -> Int32
    }

    /// What `ipvs_cmp_services` reads of a service.
    struct ServiceOrderKey: OrderKey {
        var fwmark: UInt32
        var family: UInt16
        var proto: UInt16
        var address: (UInt32, UInt32, UInt32, UInt32)
        var port: UInt16

        init(_ service: VirtualService) {
            fwmark = service.key.fwmark
            family = service.key.family.rawValue
            proto = service.key.protocolNumber.rawValue
            address = service.key.address.words
            port = service.key.port
        }
    }

    /// What `ipvs_cmp_dests` reads of a destination.
    struct DestinationOrderKey: OrderKey {
        var family: AddressFamily
        var address: (UInt32, UInt32, UInt32, UInt32)
        var port: UInt16

        init(_ destination: Destination) {
            family = destination.address.family
            address = destination.address.words
            port = destination.port
        }
    }

    /// Address order by the words of `family` (the first operand's), as libipvs compares them.
    static func compareAddresses(
        _ x: (UInt32, UInt32, UInt32, UInt32), _ y: (UInt32, UInt32, UInt32, UInt32), inet6: Bool
    ) -> Int32 {
        if inet6 {
            var r = difference(x.0, y.0)
            if r == 0 { r = difference(x.1, y.1) }
            if r == 0 { r = difference(x.2, y.2) }
            if r == 0 { r = difference(x.3, y.3) }
            return r
        }
        return difference(x.0, y.0)
    }

}

extension Sorting.ServiceOrderKey {
    /// `ipvs_cmp_services`: fwmark, family, protocol, address, port.
    static func compare(_ a: Self, _ b: Self) -> Int32 {
        var r = Sorting.difference(a.fwmark, b.fwmark)
        if r != 0 { return r }
        r = Int32(a.family) - Int32(b.family)
        if r != 0 { return r }
        r = Int32(a.proto) - Int32(b.proto)
        if r != 0 { return r }
        r = Sorting.compareAddresses(a.address, b.address, inet6: a.family == AddressFamily.inet6.rawValue)
        if r != 0 { return r }
        return Int32(a.port) - Int32(b.port)
    }
}

extension Sorting.DestinationOrderKey {
    /// `ipvs_cmp_dests`: address (by the first one's family), then port.
    static func compare(_ a: Self, _ b: Self) -> Int32 {
        let r = Sorting.compareAddresses(a.address, b.address, inet6: a.family == .inet6)
        if r != 0 { return r }
        return Int32(a.port) - Int32(b.port)
    }
}
