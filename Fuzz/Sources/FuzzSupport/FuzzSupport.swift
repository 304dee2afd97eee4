import Foundation

/// Reads a fuzz input from the front, like LLVM's FuzzedDataProvider: small
/// decisions (options, piece sizes) come from the input itself, so libFuzzer can
/// steer them and a crash input replays exactly.
public struct FuzzInput {
    public let bytes: [UInt8]
    public private(set) var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var remaining: Int { bytes.count - offset }
    public var isEmpty: Bool { offset >= bytes.count }

    /// The next byte, or 0 once the input is used up.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    public mutating func take(_ count: Int) -> ArraySlice<UInt8> {
        let n = max(0, min(count, remaining))
        defer { offset += n }
        return bytes[offset..<(offset + n)]
    }

    public mutating func rest() -> ArraySlice<UInt8> { take(remaining) }
}

/// Cuts a byte stream into pieces of 1...max octets, sizes from a small PRNG seeded by
/// one input byte: the same stream arrives split differently, as from a socket.
public struct Pieces: Sequence, IteratorProtocol {
    var data: ArraySlice<UInt8>
    var state: UInt32
    let maxPiece: Int

    public init(_ data: ArraySlice<UInt8>, seed: UInt8, maxPiece: Int = 64) {
        self.data = data
        self.state = UInt32(seed) &* 2_654_435_761 | 1
        // Seed 0: the whole stream at once (the fast path, one read per session).
        self.maxPiece = seed == 0 ? Int.max : maxPiece
    }

    public mutating func next() -> ArraySlice<UInt8>? {
        guard !data.isEmpty else { return nil }
        var n = data.count
        if maxPiece != Int.max {
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            n = Int(state % UInt32(maxPiece)) + 1
        }
        let piece = data.prefix(n)
        data = data.dropFirst(piece.count)
        return piece
    }
}

/// Splits at the first occurrence of `separator`: (before, after) or (all, nil).
public func splitOnce(_ bytes: [UInt8], at separator: UInt8) -> (ArraySlice<UInt8>, ArraySlice<UInt8>?) {
    guard let i = bytes.firstIndex(of: separator) else { return (bytes[...], nil) }
    return (bytes[..<i], bytes[(i + 1)...])
}

/// Keeps a value alive and observable so the optimizer cannot drop the work.
@inline(never) public func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}

/// The replayer used when the targets are built without the sanitizer: every file
/// named on the command line, or every file in a named folder (recursively), goes
/// through `body` once. A crash ends the process (non-zero exit); the name of the
/// file being run is printed before it runs, so the last line names the culprit.
public enum FuzzReplay {
    public static func main(_ body: (UnsafeRawPointer, Int) -> CInt) -> Never {
        let arguments = CommandLine.arguments.dropFirst().filter { !$0.hasPrefix("-") }
        if arguments.isEmpty {
            FileHandle.standardError.write(Data("usage: \(CommandLine.arguments[0]) FILE|DIR...\n".utf8))
            exit(2)
        }
        let verbose = ProcessInfo.processInfo.environment["FUZZ_REPLAY_QUIET"] == nil
        var files: [String] = []
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("no such file: \(argument)\n".utf8))
                exit(2)
            }
            if isDirectory.boolValue {
                let enumerator = FileManager.default.enumerator(atPath: argument)
                var found: [String] = []
                while let name = enumerator?.nextObject() as? String {
                    let path = argument + "/" + name
                    var dir: ObjCBool = false
                    if FileManager.default.fileExists(atPath: path, isDirectory: &dir), !dir.boolValue,
                        !name.hasPrefix("."), !name.hasSuffix("README.md")
                    {
                        found.append(path)
                    }
                }
                files += found.sorted()
            } else {
                files.append(argument)
            }
        }
        let started = Date()
        var octets = 0
        for path in files {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
                exit(2)
            }
            if verbose { FileHandle.standardError.write(Data("replay \(path)\n".utf8)) }
            octets += data.count
            let bytes = [UInt8](data)
            _ = bytes.withUnsafeBytes { raw in
                body(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, raw.count)
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("replayed \(files.count) inputs (\(octets) octets) in \(String(format: "%.2f", seconds)) s, no crash")
        exit(0)
    }
}

/// Checks that hold for correct code but are not traps in Sources (a reply code of
/// -25, an action after `.close`): they end the run like a crash, so libFuzzer keeps
/// the input. FUZZ_NO_INVARIANTS=1 turns them off, to look past a known one.
public let invariantsEnabled = ProcessInfo.processInfo.environment["FUZZ_NO_INVARIANTS"] == nil

@inline(__always)
public func invariant(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
) {
    if invariantsEnabled && !condition() {
        preconditionFailure("invariant: \(message())", file: file, line: line)
    }
}

/// The one entry every target shares: `FuzzMain.run(fuzzOne)` from its `@main`.
/// In the sanitizer build (-DFUZZING) it starts libFuzzer's driver; built without it,
/// it is the replayer. libFuzzer's own `LLVMFuzzerTestOneInput` is defined once here
/// and calls the target's function.
public enum FuzzMain {
    nonisolated(unsafe) static var target: (([UInt8]) -> Void)?

    public static func run(_ body: @escaping ([UInt8]) -> Void) -> Never {
        target = body
        #if FUZZING
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, { data, size in fuzzerTestOneInput(data, size) }))
        #else
        FuzzReplay.main { data, size in
            body(Array(UnsafeRawBufferPointer(start: data, count: size)))
            return 0
        }
        #endif
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    FuzzMain.target?(bytes)
    return 0
}

#if FUZZING
// SwiftPM links each executable with `--defsym main=<Module>_main` (so tests can link
// executables), which leaves no room for libFuzzer's own `main`. So the fuzz build
// has an `@main` too, and it starts libFuzzer's driver (LLVM >= 11) by hand.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt
#endif
