import Foundation
import Synchronization
import MailAuth
import NetAddress

/// Sender authentication's DNS questions, asked of the configured resolver and cached
/// for the answers' TTL (clamped to 30 s - 1 h; "no such record" for 60 s). A failure
/// is never cached: the next message asks again.
public struct AuthLookup: DNSLookup {
    public let resolver: MXResolver
    let cache: DNSCache

    public init(resolver: MXResolver, capacity: Int = 10_000) {
        self.resolver = resolver
        self.cache = DNSCache(capacity: capacity)
    }

    func values(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupFailure) -> [String] {
        let key = "\(type.rawValue) \(MXResolver.normalized(name))"
        if let hit = cache.get(key) { return hit }
        let message: DNSMessage
        do {
            message = try await resolver.query(name, type)
        } catch {
            throw DNSLookupFailure("\(error)")
        }
        // NXDOMAIN (3) and an empty answer are both "no records".
        guard message.rcode == 0 || message.rcode == 3 else { throw DNSLookupFailure("rcode \(message.rcode) for \(name)") }
        let answers = message.rcode == 3 ? [] : message.answers.filter { $0.type == type.rawValue }
        let ttl = answers.isEmpty ? 60 : min(3600, max(30, Int(answers.map(\.ttl).min() ?? 0)))
        let found = answers.map(\.value)
        cache.put(key, found, seconds: ttl)
        return found
    }

    public func txt(_ name: String) async throws(DNSLookupFailure) -> [String] { try await values(name, .txt) }
    public func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try await values(name, .a).compactMap { IPAddress($0) } }
    public func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try await values(name, .aaaa).compactMap { IPAddress($0) } }

    public func mx(_ name: String) async throws(DNSLookupFailure) -> [String] {
        // values() keeps answer order; MX order is by preference, which needs the records.
        let key = "mx-sorted \(MXResolver.normalized(name))"
        if let hit = cache.get(key) { return hit }
        let message: DNSMessage
        do {
            message = try await resolver.query(name, .mx)
        } catch {
            throw DNSLookupFailure("\(error)")
        }
        guard message.rcode == 0 || message.rcode == 3 else { throw DNSLookupFailure("rcode \(message.rcode) for \(name)") }
        let answers = message.rcode == 3 ? [] : message.answers.filter { $0.type == DNSMessage.RecordType.mx.rawValue }
        let hosts = answers.sorted { ($0.preference ?? 0) < ($1.preference ?? 0) }.map(\.value).filter { !$0.isEmpty }
        cache.put(key, hosts, seconds: answers.isEmpty ? 60 : min(3600, max(30, Int(answers.map(\.ttl).min() ?? 0))))
        return hosts
    }

    public func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] {
        let name = address.isV4
            ? address.octets.reversed().map(String.init).joined(separator: ".") + ".in-addr.arpa"
            : address.dottedForm.split(separator: ".").reversed().joined(separator: ".") + ".ip6.arpa"
        return try await values(name, .ptr)
    }
}

/// Answers by (type, name) until they expire; the oldest go when it is full. A lock, not
/// an actor: a hit (the common case) costs no hop to another executor.
final class DNSCache: Sendable {
    let capacity: Int
    let entries = Mutex<[String: (expires: Date, values: [String])]>([:])

    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: String) -> [String]? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > Date() else {
                entries[key] = nil
                return nil
            }
            return entry.values
        }
    }

    func put(_ key: String, _ values: [String], seconds: Int) {
        entries.withLock { entries in
            if entries.count >= capacity {
                let now = Date()
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity, let oldest = entries.min(by: { $0.value.expires < $1.value.expires })?.key { entries[oldest] = nil }
            }
            entries[key] = (Date().addingTimeInterval(Double(seconds)), values)
        }
    }
}
