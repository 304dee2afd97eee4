import Foundation
import MailAuth
import NetAddress

/// DNS answered from zone data, with the conventions of pyspf's test driver for the
/// RFC 7208 suite: type SPF records also stand as TXT unless the name has TXT records of
/// its own ("TXT: NONE" says it has none), "TIMEOUT" fails a question no earlier record
/// of its type answered, one level of CNAME is followed, and names under "error." time out.
struct ZoneDNS: DNSLookup {
    enum Entry: Sendable {
        case timeout
        case record(type: String, value: [String])
    }

    var zone: [String: [Entry]]

    init(_ zone: [String: [Entry]]) {
        var out: [String: [Entry]] = [:]
        for (name, entries) in zone {
            var generated: [Entry] = []
            var hasTXT = false
            var kept: [Entry] = []
            for entry in entries {
                if case .record(let type, let value) = entry {
                    if type == "TXT" { hasTXT = true }
                    if type == "SPF" { generated.append(.record(type: "TXT", value: value)) }
                    if value == ["NONE"] { continue }
                }
                kept.append(entry)
            }
            out[name.lowercased()] = hasTXT ? kept : kept + generated
        }
        self.zone = out
    }

    func answers(_ rawName: String, _ type: String, level: Int = 0) throws(DNSLookupFailure) -> [[String]] {
        let labels = rawName.split(separator: ".", omittingEmptySubsequences: true)
        if labels.contains(where: { $0.utf8.count > 63 }) { throw DNSLookupFailure("label too long") }
        let name = labels.joined(separator: ".").lowercased()
        guard let entries = zone[name] else {
            if name.hasPrefix("error.") { throw DNSLookupFailure("timeout") }
            return []
        }
        var out: [[String]] = []
        var seen = false
        for entry in entries {
            switch entry {
            case .timeout:
                if !seen { throw DNSLookupFailure("timeout") }
                return out
            case .record(let t, let value):
                if t == type {
                    seen = true
                    out.append(value)
                } else if t == "CNAME", level == 0, let target = value.first {
                    out += try answers(target, type, level: 1)
                }
            }
        }
        return out
    }

    func txt(_ name: String) async throws(DNSLookupFailure) -> [String] { try answers(name, "TXT").map { $0.joined() } }
    func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try answers(name, "A").compactMap { IPAddress($0.joined()) } }
    func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try answers(name, "AAAA").compactMap { IPAddress($0.joined()) } }
    func mx(_ name: String) async throws(DNSLookupFailure) -> [String] {
        try answers(name, "MX").sorted { (Int($0.first ?? "") ?? 0) < (Int($1.first ?? "") ?? 0) }.compactMap { $0.count > 1 ? $0[1] : nil }
    }
    func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] {
        try answers(address.reverseLookupName, "PTR").map { $0.joined() }
    }
}
