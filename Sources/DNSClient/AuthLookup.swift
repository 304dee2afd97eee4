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

    /// The answers of one type (NXDOMAIN and no data are both none), cached.
    func answers(_ name: String, _ type: DNSMessage.RecordType) async throws(DNSLookupFailure) -> [DNSMessage.Answer] {
        let key = "\(type.rawValue) \(MXResolver.normalized(name))"
        if let hit = cache.get(key) { return hit }
        let message: DNSMessage
        do {
            message = try await resolver.query(name, type)
        } catch {
            throw DNSLookupFailure("\(error)")
        }
        guard message.rcode == 0 || message.rcode == 3 else { throw DNSLookupFailure("rcode \(message.rcode) for \(name)") }
        let found = message.rcode == 3 ? [] : message.answers.filter { $0.type == type.rawValue }
        cache.put(key, found, seconds: found.isEmpty ? 60 : min(3600, max(30, Int(found.map(\.ttl).min() ?? 0))))
        return found
    }

    public func txt(_ name: String) async throws(DNSLookupFailure) -> [String] { try await answers(name, .txt).map(\.value) }
    public func a(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try await answers(name, .a).compactMap { IPAddress($0.value) } }
    public func aaaa(_ name: String) async throws(DNSLookupFailure) -> [IPAddress] { try await answers(name, .aaaa).compactMap { IPAddress($0.value) } }

    /// Mail exchangers by preference (a null MX, ".", names none).
    public func mx(_ name: String) async throws(DNSLookupFailure) -> [String] {
        try await answers(name, .mx).sorted { ($0.preference ?? 0) < ($1.preference ?? 0) }.map(\.value).filter { !$0.isEmpty }
    }

    public func ptr(_ address: IPAddress) async throws(DNSLookupFailure) -> [String] {
        try await answers(address.reverseLookupName, .ptr).map(\.value)
    }
}

/// Answers by (type, name) until they expire; the oldest go when it is full. A lock, not
/// an actor: a hit (the common case) costs no hop to another executor.
final class DNSCache: Sendable {
    let capacity: Int
    let entries = Mutex<[String: (expires: Date, values: [DNSMessage.Answer])]>([:])

    init(capacity: Int) { self.capacity = capacity }

    func get(_ key: String) -> [DNSMessage.Answer]? {
        entries.withLock { entries in
            guard let entry = entries[key] else { return nil }
            guard entry.expires > Date() else {
                entries[key] = nil
                return nil
            }
            return entry.values
        }
    }

    func put(_ key: String, _ values: [DNSMessage.Answer], seconds: Int) {
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
