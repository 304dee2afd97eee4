// The config loader over YAML text, as `postroom` reads postroom.yaml: Yams parses it,
// ConfigLoader walks the mapping, each key's parser checks and applies its value
// (ports, sizes like 25M, durations like 5m, booleans), and the cross-key validation
// runs. Lines `POSTROOM_...=value` in the input are also applied as the environment.
//
// Input: YAML text.
import Foundation
import FuzzSupport
@testable import Settings

func fuzzOne(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    var config = PostroomConfig()
    do {
        try ConfigLoader.apply(yaml: text, file: "fuzz.yaml", to: &config)
        try ConfigLoader.validate(config)
    } catch {
        blackHole(error.description)
    }
    var environment: [String: String] = [:]
    for line in text.split(separator: "\n") where line.hasPrefix("POSTROOM_") {
        guard let equals = line.firstIndex(of: "=") else { continue }
        environment[String(line[..<equals])] = String(line[line.index(after: equals)...])
    }
    if !environment.isEmpty {
        do {
            blackHole(try ConfigLoader.load(file: nil, environment: environment))
        } catch {
            blackHole(error.description)
        }
    }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
