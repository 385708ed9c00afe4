import IPVSTestSupport
import Testing

@_spi(Testing) @testable import IPVSNetlink

@Suite struct AttributeTests {
    @Test func scalarsArePaddedToFourBytes() {
        var encoder = AttributeEncoder()
        encoder.append(1, u8: 0xab)
        encoder.append(2, u16: 0x1234)
        encoder.append(3, u32: 0xdead_beef)
        encoder.append(4, u64: 0x0102_0304_0506_0708)
        encoder.append(5, be16: 80)
        #expect(hex(encoder.bytes) == hex([
            0x05, 0x00, 0x01, 0x00, 0xab, 0x00, 0x00, 0x00,
            0x06, 0x00, 0x02, 0x00, 0x34, 0x12, 0x00, 0x00,
            0x08, 0x00, 0x03, 0x00, 0xef, 0xbe, 0xad, 0xde,
            0x0c, 0x00, 0x04, 0x00, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
            0x06, 0x00, 0x05, 0x00, 0x00, 0x50, 0x00, 0x00,
        ]))
    }

    @Test(arguments: ["", "a", "ab", "abc", "abcd", "wlc", "sip"])
    func stringsCarryTheirNulAndPadding(_ text: String) {
        var encoder = AttributeEncoder()
        encoder.append(6, string: text)
        let length = 4 + text.utf8.count + 1
        #expect(encoder.bytes.count == (length + 3) / 4 * 4)
        #expect(Int(encoder.bytes[0]) == length)
        #expect(AttributeSet(encoder.bytes).string(6) == text)
    }

    @Test func nestedRoundTrip() {
        var encoder = AttributeEncoder()
        encoder.nest(1) { outer in
            outer.append(1, u16: 10)
            outer.nest(2) { inner in
                inner.append(1, u64: 1 << 40)
                inner.append(2, string: "x")
            }
            outer.append(3, u8: 7)
        }
        #expect(encoder.bytes.count == 4 + 8 + (4 + 12 + 8) + 8)
        #expect(encoder.bytes[0] == UInt8(encoder.bytes.count))

        let outer = AttributeSet(encoder.bytes).nested(1)
        #expect(outer?.u16(1) == 10)
        #expect(outer?.u8(3) == 7)
        let inner = outer?.nested(2)
        #expect(inner?[1].flatMap { $0.withUnsafeBytes { $0.integer(UInt64.self) } } == 1 << 40)
        #expect(inner?.string(2) == "x")
        #expect(outer?.types == [1, 2, 3])
    }

    @Test func typeFlagsAreMaskedOnDecode() {
        // NLA_F_NESTED (0x8000) and NLA_F_NET_BYTEORDER (0x4000) must not hide the type.
        let bytes: [UInt8] = [
            0x0c, 0x00, 0x01, 0x80,  0x08, 0x00, 0x02, 0x40, 0x2a, 0x00, 0x00, 0x00,
        ]
        let set = AttributeSet(bytes)
        #expect(set.types == [1])
        #expect(set.nested(1)?.u32(2) == 42)
    }

    @Test func unknownTypesAreIgnoredAndTheLastDuplicateWins() {
        var encoder = AttributeEncoder()
        encoder.append(1, u32: 1)
        encoder.append(99, payload: [1, 2, 3])
        encoder.append(1, u32: 2)
        let set = AttributeSet(encoder.bytes)
        #expect(set.u32(1) == 2)
        #expect(set.u32(2) == nil)
        #expect(set[99] == [1, 2, 3][...])
    }

    @Test func truncatedTailIsIgnored() {
        var encoder = AttributeEncoder()
        encoder.append(1, u32: 5)
        // A second header claiming more bytes than remain, then a stray byte.
        let bytes = encoder.bytes + [0x10, 0x00, 0x02, 0x00, 0x01]
        let set = AttributeSet(bytes)
        #expect(set.types == [1])
        #expect(set.u32(1) == 5)
    }

    @Test func shortPayloadsDoNotDecodeAsWiderIntegers() {
        var encoder = AttributeEncoder()
        encoder.append(1, u16: 5)
        let set = AttributeSet(encoder.bytes)
        #expect(set.u16(1) == 5)
        #expect(set.u32(1) == nil)
    }
}
