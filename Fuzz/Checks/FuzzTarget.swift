/// A property that an input broke: what was expected and what happened instead.
public struct FuzzFailure: Error, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// The fuzz targets. Each reads one input of bytes and checks properties that a run without a
/// crash cannot show. These checks are the only copy of the properties: libFuzzer's entry point
/// (`Fuzz/Driver`, built by `Scripts/fuzz`) and the corpus replay test (`Tests/IPVSFuzzTests`)
/// both call `check`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// Lines of argument vectors run one after the other against one in-memory kernel: a
    /// command that fails leaves the table exactly as it was.
    case argv
    /// `-R` input: the same final table, output and status as its lines run one by one with
    /// ipvsadm's rules for `-R`.
    case restore
    /// `-R` input builds a table; `-Sn --complete`, restored into a fresh kernel and saved
    /// again, is byte-identical, holds the same table, and `-S` with names restores the same.
    case roundtrip
    /// A flag byte, then `/proc/net/ip_vs_conn` lines for `-c`: one output line per input line,
    /// up to a line with no field, where ipvsadm stops with status 1.
    case connections
    /// Raw bytes through every netlink decoder and through the client as datagrams from the
    /// kernel: values or a typed error, never a trap; the indexed and one-pass attribute
    /// readers agree.
    case netlink
    /// Values built from the bytes, encoded with the codec's request encoders and as kernel
    /// replies, decode to what was encoded, through the decoders and through the client and
    /// backend over a fake kernel that splits its replies into datagrams as the input says.
    case codec
    /// A rules file with `--check` declarations: read or refused at a line of it; every word
    /// the declaration parser reads re-encodes to the same declaration.
    case checks
    /// A keepalived.conf: converted or refused at a line of it; the rules written are read
    /// back with their checks and load with `-R`, with and without the checks.
    case keepalived

    /// Runs the target's checks on one input: nil when every property held.
    public func check(_ input: [UInt8]) -> FuzzFailure? {
        do throws(FuzzFailure) {
            switch self {
            case .argv: try ArgvCheck.run(input)
            case .restore: try RestoreCheck.run(input)
            case .roundtrip: try RoundTripCheck.run(input)
            case .connections: try ConnectionsCheck.run(input)
            case .netlink: try NetlinkCheck.run(input)
            case .codec: try CodecCheck.run(input)
            case .checks: try DeclarationsCheck.run(input)
            case .keepalived: try KeepalivedCheck.run(input)
            }
            return nil
        } catch {
            return error
        }
    }
}

/// Fails with `message` unless `condition` holds.
@inline(__always)
func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFailure) {
    if !condition { throw FuzzFailure(message()) }
}

/// A value in a failure message: Swift's string literal syntax, so that control characters,
/// trailing blanks and invalid bytes show.
func quoted(_ text: String) -> String { text.debugDescription }
