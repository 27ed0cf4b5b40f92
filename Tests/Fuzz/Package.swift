// swift-tools-version:6.0
// libFuzzer targets for the OpenCtrlServer parsers; `scripts/fuzz` builds and runs them.
//
// The root package exports no library product, so OpenCtrlServer and its system modules are
// reached through the symlinks in Sources/ rather than a `.package(path: "../..")` dependency.
//
// Only the library gets coverage instrumentation (`-sanitize=fuzzer`): the harness's reference
// implementations and checks would otherwise dominate the run time and fill the corpus with
// inputs that are new only to them. Everything runs under AddressSanitizer, the library with
// its `assert`s enabled. SwiftPM links executables with `--defsym main=…`, which gold cannot
// combine with libFuzzer's archive, hence lld.
import PackageDescription

let package = Package(
    name: "OpenCtrlFuzz",
    targets: [
        .systemLibrary(name: "CEvent", providers: [.apt(["libevent-dev"])]),
        .systemLibrary(name: "CSSL", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "OpenCtrlServer",
            dependencies: ["CEvent", "CSSL"],
            swiftSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-assert-config", "Debug"])]
        ),
        .target(name: "CFuzzerDriver"),
        .executableTarget(
            name: "openctrl-fuzz",
            dependencies: ["OpenCtrlServer", "CFuzzerDriver"],
            swiftSettings: [.unsafeFlags(["-sanitize=address"])],
            linkerSettings: [.unsafeFlags(["-sanitize=fuzzer,address", "-use-ld=lld"])]
        ),
    ]
)
