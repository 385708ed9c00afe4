import IPVS

/// Listing order, reproduced exactly.
///
/// ipvsadm sorts with glibc's `qsort`, which is a top-down merge sort, and its comparators
/// subtract unsigned fields into an `int`: two IPv4 addresses (or fwmarks) more than 2^31
/// apart compare "backwards". That is not a total order, so the result depends on the
/// algorithm; to print the same table we use the same comparator and the same merge sort.
enum Sorting {
    /// The merge sort of glibc's `msort_with_tmp`: halves of n/2 and n - n/2, ties keep
    /// the left element first.
    static func mergeSort<T>(_ items: inout [T], by compare: (T, T) -> Int32) {
        guard items.count > 1 else { return }
        var scratch = items
        items.withUnsafeMutableBufferPointer { buffer in
            scratch.withUnsafeMutableBufferPointer { tmp in
                sort(buffer, 0, buffer.count, tmp, compare)
            }
        }
    }

    private static func sort<T>(
        _ a: UnsafeMutableBufferPointer<T>, _ start: Int, _ count: Int, _ tmp: UnsafeMutableBufferPointer<T>,
        _ compare: (T, T) -> Int32
    ) {
        guard count > 1 else { return }
        let leftCount = count / 2
        sort(a, start, leftCount, tmp, compare)
        sort(a, start + leftCount, count - leftCount, tmp, compare)
        var i = start
        var j = start + leftCount
        let leftEnd = j
        let end = start + count
        var k = start
        while i < leftEnd && j < end {
            if compare(a[i], a[j]) <= 0 {
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

    /// Address order by the words of `first`'s family, as libipvs compares them.
    static func compareAddresses(_ a: IPAddress, _ b: IPAddress, family: AddressFamily) -> Int32 {
        let x = a.words
        let y = b.words
        if family == .inet6 {
            var r = difference(x.0, y.0)
            if r == 0 { r = difference(x.1, y.1) }
            if r == 0 { r = difference(x.2, y.2) }
            if r == 0 { r = difference(x.3, y.3) }
            return r
        }
        return difference(x.0, y.0)
    }

    /// `ipvs_cmp_services`: fwmark, family, protocol, address, port.
    static func compareServices(_ a: VirtualService, _ b: VirtualService) -> Int32 {
        let (markA, markB) = (a.key.fwmark, b.key.fwmark)
        var r = difference(markA, markB)
        if r != 0 { return r }
        r = Int32(a.key.family.rawValue) - Int32(b.key.family.rawValue)
        if r != 0 { return r }
        r = Int32(a.key.protocolNumber.rawValue) - Int32(b.key.protocolNumber.rawValue)
        if r != 0 { return r }
        r = compareAddresses(a.key.address, b.key.address, family: a.key.family)
        if r != 0 { return r }
        return Int32(a.key.port) - Int32(b.key.port)
    }

    /// `ipvs_cmp_dests`: address (by the first one's family), then port.
    static func compareDestinations(_ a: Destination, _ b: Destination) -> Int32 {
        let r = compareAddresses(a.address, b.address, family: a.address.family)
        if r != 0 { return r }
        return Int32(a.port) - Int32(b.port)
    }
}

extension ServiceKey {
    /// The fields ipvsadm's service entry has, zero where this key has none.
    var fwmark: UInt32 {
        if case .firewallMark(let mark, _) = self { return mark }
        return 0
    }

    var protocolNumber: IPProtocolNumber {
        if case .address(let proto, _, _) = self { return proto }
        return IPProtocolNumber(rawValue: 0)
    }

    var address: IPAddress {
        if case .address(_, let address, _) = self { return address }
        return IPAddress(family: family, high: 0, low: 0)
    }
}
