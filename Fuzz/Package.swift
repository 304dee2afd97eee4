// swift-tools-version: 6.0
//
// libFuzzer targets for Postroom's parsers and state machines. A package of its own so
// the root build is untouched; it links the root's pure modules through the
// PostroomFuzzSupport library product and reaches internal API with @testable import
// (debug builds enable testability).
//
// scripts/fuzz builds it two ways:
//   fuzzing:  -Xswiftc -DFUZZING -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//             into Fuzz/.build-fuzz (each product is a libFuzzer binary)
//   replay:   no sanitizer, into Fuzz/.build (each product runs the files or folders it is
//             given through the same function, for regression checks)
import PackageDescription

let targets = [
    "smtp-server", "mime", "sieve", "imap-response", "smtp-reply", "dns", "dkim-canon", "config", "mail-auth",
]

func moduleName(_ target: String) -> String {
    "Fuzz" + target.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
}

let package = Package(
    name: "PostroomFuzz",
    platforms: [.macOS(.v15)],
    products: targets.map { .executable(name: "fuzz-\($0)", targets: [moduleName($0)]) },
    dependencies: [
        .package(name: "Postroom", path: "..")
    ],
    targets: [
        .target(name: "FuzzSupport")
    ]
        + targets.map {
            .executableTarget(
                name: moduleName($0),
                dependencies: [
                    "FuzzSupport",
                    .product(name: "PostroomFuzzSupport", package: "Postroom"),
                ],
                path: "Sources/\($0)"
            )
        },
    swiftLanguageModes: [.v6]
)
