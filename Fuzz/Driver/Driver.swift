import Glibc
import IPVSFuzz

// One binary for every target (Docs/Testing.md, "Fuzzing"):
//
//   ipvsadm-fuzz TARGET FILE-OR-DIRECTORY...    normal builds: replays inputs through the checks
//   ipvsadm-fuzz TARGET [libFuzzer options]     Scripts/fuzz's build (-DFUZZING, -sanitize=fuzzer)
//
// The target can also come from IPVSADM_FUZZ_TARGET, which the fuzzing build sets for the
// processes libFuzzer starts itself (-merge, -fork), whose arguments have no target.

/// The target named by the first argument (then removed) or by IPVSADM_FUZZ_TARGET.
func chooseTarget(_ arguments: inout [String]) -> FuzzTarget? {
    if arguments.count > 1, let target = FuzzTarget(rawValue: arguments[1]) {
        arguments.remove(at: 1)
        return target
    }
    return getenv("IPVSADM_FUZZ_TARGET").flatMap { FuzzTarget(rawValue: String(cString: $0)) }
}

/// Writes to standard error, unbuffered.
func complain(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(2, &bytes, bytes.count)
}

func usage() -> Never {
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
    complain("usage: ipvsadm-fuzz \(names) FILE-OR-DIRECTORY...\n")
    exit(2)
}

#if FUZZING
nonisolated(unsafe) var selected = FuzzTarget.argv

/// libFuzzer's entry point: a broken property aborts, which libFuzzer reports as a crash and
/// keeps the input.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let failure = selected.check(input) {
        complain("ipvsadm-fuzz: \(selected.rawValue): property broken: \(failure)\n")
        abort()
    }
    return 0
}

/// libFuzzer's driver, for a program with its own `main` (SwiftPM names ours in a debug
/// build, which this build is: Scripts/fuzz).
@_silgen_name("LLVMFuzzerRunDriver")
func runDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

@main
struct FuzzDriver {
    static func main() {
        var arguments = CommandLine.arguments
        guard let target = chooseTarget(&arguments) else { usage() }
        selected = target
        setenv("IPVSADM_FUZZ_TARGET", target.rawValue, 1)
        var argc = Int32(arguments.count)
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = .allocate(capacity: arguments.count + 1)
        for (index, argument) in arguments.enumerated() { argv![index] = strdup(argument) }
        argv![arguments.count] = nil
        exit(runDriver(&argc, &argv, testOneInput))
    }
}
#else
@main
struct ReplayDriver {
    static func main() {
        var arguments = CommandLine.arguments
        guard let target = chooseTarget(&arguments), arguments.count > 1 else { usage() }
        var failed = 0
        var count = 0
        for path in arguments.dropFirst().flatMap(Corpus.files(at:)) {
            count += 1
            guard let input = Corpus.contents(of: path) else {
                complain("\(path): cannot be read\n")
                failed += 1
                continue
            }
            if let failure = target.check(input) {
                print("\(path): \(failure)")
                failed += 1
            }
        }
        print("\(target.rawValue): \(count - failed) of \(count) inputs passed")
        exit(failed == 0 ? 0 : 1)
    }
}
#endif
