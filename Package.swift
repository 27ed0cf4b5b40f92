// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "OpenCtrl",
    products: [
        .executable(name: "openctrl", targets: ["openctrl"]),
    ],
    targets: [
        .systemLibrary(name: "CEvent", providers: [.apt(["libevent-dev"])]),
        .systemLibrary(name: "CSSL", providers: [.apt(["libssl-dev"])]),
        // The console page's source; scripts/gen-console compiles it into Console/ConsolePage.swift.
        .target(name: "OpenCtrlServer", dependencies: ["CEvent", "CSSL"], exclude: ["Console/console.html"]),
        .executableTarget(name: "openctrl", dependencies: ["OpenCtrlServer"]),
        .testTarget(name: "OpenCtrlServerTests", dependencies: ["OpenCtrlServer"]),
    ]
)
