// swift-tools-version:6.0
import PackageDescription

// The dependency graph is the architecture:
//   ipvsadm → IPVSAdm → IPVS ← IPVSNetlink → CIPVSNetlink → CLibNL
// IPVSAdm never links libnl, so every CLI test runs against the in-memory backend.
let settings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "ipvsadm",
    products: [
        .executable(name: "ipvsadm", targets: ["ipvsadm"]),
        // Not installed: the benchmark's floor (Scripts/bench).
        .executable(name: "ipvsadm-floor", targets: ["ipvsadm-floor"]),
        // Not installed: -R without a kernel, for profiling (Docs/Benchmarks.md).
        .executable(name: "ipvsadm-restore-profile", targets: ["ipvsadm-restore-profile"]),
        // The health checker daemon (Docs/Health.md): dynamically linked; it opens libcurl
        // (dlopen) at its first HTTP(S) check and links no other library of its own.
        .executable(name: "ipvsadm-health", targets: ["ipvsadm-health"]),
    ],
    targets: [
        .systemLibrary(
            name: "CLibNL",
            pkgConfig: "libnl-genl-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-genl-3-dev"])]
        ),
        .target(name: "CIPVSNetlink", dependencies: ["CLibNL"]),
        // curl's headers only (no pkgConfig: its flags would link libcurl, which is dlopen'ed).
        .systemLibrary(name: "CLibCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // recvmmsg for the checker (a header only: Swift's Glibc lacks it).
        .systemLibrary(name: "CHealthSocket"),
        .target(name: "IPVS", swiftSettings: settings),
        .target(name: "IPVSNetlink", dependencies: ["IPVS", "CIPVSNetlink"], swiftSettings: settings),
        .target(name: "IPVSAdm", dependencies: ["IPVS"], swiftSettings: settings),
        // The process's standard streams for IPVSAdm.run, shared by main and the profile harness.
        .target(name: "ProcessStreams", dependencies: ["IPVS", "IPVSAdm"], swiftSettings: settings),
        .executableTarget(
            name: "ipvsadm", dependencies: ["IPVS", "IPVSAdm", "IPVSNetlink", "ProcessStreams"], swiftSettings: settings),
        .target(
            name: "IPVSHealth", dependencies: ["IPVS", "IPVSAdm", "IPVSNetlink", "CLibCurl", "CHealthSocket"],
            swiftSettings: settings),
        .executableTarget(
            name: "ipvsadm-health", dependencies: ["IPVSHealth", "IPVS", "IPVSAdm", "IPVSNetlink", "ProcessStreams"],
            swiftSettings: settings),
        .executableTarget(name: "ipvsadm-floor", dependencies: ["IPVS", "IPVSNetlink"], swiftSettings: settings),
        // What the tests, the fuzz checks and the profile harness share (never the product): the
        // CLI run into buffers, a fake clock, a resolver over the differential suite's hosts, the
        // repository's files, the stand-ins for the kernel's netlink socket.
        .target(
            name: "IPVSTestSupport", dependencies: ["IPVS", "IPVSAdm", "IPVSNetlink"], path: "Tests/Support",
            swiftSettings: settings),
        // Fuzzing (Docs/Testing.md): the property checks in one library, which the corpus replay
        // test and the driver share. Normal builds make the driver a corpus replayer; only
        // Scripts/fuzz builds it with -DFUZZING and the fuzzer sanitizer, as a libFuzzer binary.
        .target(
            name: "IPVSFuzz", dependencies: ["IPVS", "IPVSAdm", "IPVSNetlink", "IPVSTestSupport"], path: "Fuzz/Checks",
            swiftSettings: settings),
        .executableTarget(name: "ipvsadm-fuzz", dependencies: ["IPVSFuzz"], path: "Fuzz/Driver", swiftSettings: settings),
        .executableTarget(
            name: "ipvsadm-restore-profile",
            dependencies: ["IPVS", "IPVSAdm", "IPVSNetlink", "ProcessStreams", "IPVSTestSupport"],
            swiftSettings: settings),
        .testTarget(name: "IPVSTests", dependencies: ["IPVS"], swiftSettings: settings),
        .testTarget(name: "IPVSAdmTests", dependencies: ["IPVSAdm", "IPVS", "IPVSTestSupport"], swiftSettings: settings),
        // The process's stream adapters (ProcessStreams).
        .testTarget(name: "ipvsadmTests", dependencies: ["ProcessStreams", "IPVSAdm"], swiftSettings: settings),
        .testTarget(
            name: "IPVSNetlinkTests",
            dependencies: ["IPVSNetlink", "IPVS", "IPVSTestSupport"],
            exclude: ["Fixtures"],
            swiftSettings: settings
        ),
        .testTarget(
            name: "IPVSHealthTests", dependencies: ["IPVSHealth", "IPVS", "IPVSAdm", "IPVSTestSupport"],
            swiftSettings: settings),
        .testTarget(name: "IPVSFuzzTests", dependencies: ["IPVSFuzz", "IPVS", "IPVSAdm", "IPVSTestSupport"], swiftSettings: settings),
    ],
    swiftLanguageModes: [.v6]
)
