import NetAddress
import NIOCore
import NIOPosix

/// Just enough DNS (RFC 1035) for mail: A, AAAA, MX, TXT and PTR queries over UDP to
/// one configured resolver (EDNS0, 4096-octet answers), with name compression handled
/// in answers.
public struct DNSMessage: Sendable {
    public enum RecordType: UInt16, Sendable { case a = 1, ptr = 12, mx = 15, txt = 16, aaaa = 28 }

    public struct Answer: Sendable, Equatable {
        public var type: UInt16
        public var preference: UInt16?
        public var value: String
        /// Seconds the answer may be cached.
        public var ttl: UInt32 = 0
    }

    public var id: UInt16
    public var rcode: UInt8
    public var answers: [Answer]
    /// QR: set in answers (a query echoed back is not an answer).
    public var isResponse: Bool = true
    /// The question the message answers (name lower-cased, type, class).
    public var question: (name: String, type: UInt16, class: UInt16)?

    public static func query(id: UInt16, name: String, type: RecordType) -> [UInt8] {
        var out: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") where !label.isEmpty {
            let bytes = Array(label.utf8.prefix(63))
            out.append(UInt8(bytes.count))
            out += bytes
        }
        out.append(0)
        out += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        // EDNS0 (RFC 6891): answers up to 4096 octets over UDP (DKIM keys, SPF records).
        out[11] = 1
        out += [0, 0x00, 0x29, 0x10, 0x00, 0, 0, 0, 0, 0, 0]
        return out
    }

    public enum ParseError: Error { case truncated }

    public static func parse(_ data: [UInt8]) throws -> DNSMessage {
        guard data.count >= 12 else { throw ParseError.truncated }
        let id = UInt16(data[0]) << 8 | UInt16(data[1])
        let rcode = data[3] & 0x0F
        let qd = Int(UInt16(data[4]) << 8 | UInt16(data[5]))
        let an = Int(UInt16(data[6]) << 8 | UInt16(data[7]))
        var offset = 12
        var question: (name: String, type: UInt16, class: UInt16)?
        for _ in 0..<qd {
            let qname = try name(data, &offset)
            guard offset + 4 <= data.count else { throw ParseError.truncated }
            if question == nil {
                question = (qname, UInt16(data[offset]) << 8 | UInt16(data[offset + 1]), UInt16(data[offset + 2]) << 8 | UInt16(data[offset + 3]))
            }
            offset += 4
        }
        var answers: [Answer] = []
        for _ in 0..<an {
            _ = try name(data, &offset)
            guard offset + 10 <= data.count else { throw ParseError.truncated }
            let type = UInt16(data[offset]) << 8 | UInt16(data[offset + 1])
            let ttl = UInt32(data[offset + 4]) << 24 | UInt32(data[offset + 5]) << 16 | UInt32(data[offset + 6]) << 8 | UInt32(data[offset + 7])
            let length = Int(UInt16(data[offset + 8]) << 8 | UInt16(data[offset + 9]))
            offset += 10
            guard offset + length <= data.count else { throw ParseError.truncated }
            switch type {
            case RecordType.a.rawValue where length == 4:
                answers.append(Answer(type: type, preference: nil, value: data[offset..<offset + 4].map(String.init).joined(separator: "."), ttl: ttl))
            case RecordType.aaaa.rawValue where length == 16:
                let groups = stride(from: 0, to: 16, by: 2).map { String(UInt16(data[offset + $0]) << 8 | UInt16(data[offset + $0 + 1]), radix: 16) }
                answers.append(Answer(type: type, preference: nil, value: groups.joined(separator: ":"), ttl: ttl))
            case RecordType.mx.rawValue where length >= 3:
                var inner = offset + 2
                let host = try name(data, &inner)
                answers.append(Answer(type: type, preference: UInt16(data[offset]) << 8 | UInt16(data[offset + 1]), value: host, ttl: ttl))
            case RecordType.ptr.rawValue where length >= 1:
                var inner = offset
                answers.append(Answer(type: type, preference: nil, value: try name(data, &inner), ttl: ttl))
            case RecordType.txt.rawValue:
                // Character-strings, each a length octet and that many octets: joined.
                var text: [UInt8] = []
                var at = offset
                while at < offset + length {
                    let count = Int(data[at])
                    guard at + 1 + count <= offset + length else { throw ParseError.truncated }
                    text += data[(at + 1)..<(at + 1 + count)]
                    at += 1 + count
                }
                answers.append(Answer(type: type, preference: nil, value: String(decoding: text, as: UTF8.self), ttl: ttl))
            default:
                break
            }
            offset += length
        }
        return DNSMessage(id: id, rcode: rcode, answers: answers, isResponse: data[2] & 0x80 != 0, question: question)
    }

    static func name(_ data: [UInt8], _ offset: inout Int) throws -> String {
        var labels: [String] = []
        var position = offset
        var jumped = false
        var hops = 0
        while true {
            guard position < data.count else { throw ParseError.truncated }
            let length = Int(data[position])
            if length == 0 {
                position += 1
                break
            }
            if length & 0xC0 == 0xC0 {
                guard position + 1 < data.count, hops < 32 else { throw ParseError.truncated }
                let pointer = (length & 0x3F) << 8 | Int(data[position + 1])
                if !jumped { offset = position + 2 }
                jumped = true
                hops += 1
                position = pointer
                continue
            }
            guard position + 1 + length <= data.count else { throw ParseError.truncated }
            labels.append(String(decoding: data[(position + 1)...(position + length)], as: UTF8.self))
            position += 1 + length
        }
        if !jumped { offset = position }
        return labels.joined(separator: ".").lowercased()
    }
}

/// Looks up where mail for a domain goes (RFC 5321 5.1): MX hosts by preference, or
/// the domain itself when it has no MX but has an address.
public struct MXResolver: Sendable {
    public let server: String
    public let port: Int
    let group: any EventLoopGroup

    public init(server: String, port: Int = 53, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.server = server
        self.port = port
        self.group = group
    }

    /// A name as a question carries it: lower case, no trailing dot.
    static func normalized(_ name: String) -> String {
        // As `query` encodes it and `parse` decodes it: UTF-8 labels of at most 63 octets.
        name.split(separator: ".").filter { !$0.isEmpty }.map { String(decoding: Array($0.utf8.prefix(63)), as: UTF8.self) }.joined(separator: ".").lowercased()
    }

    /// The resolver named in /etc/resolv.conf.
    /// The resolver an `outbound.resolver` setting names (`ip` or `ip:port`; empty: the
    /// first nameserver of /etc/resolv.conf).
    public init(setting: String) {
        let parts = (setting.isEmpty ? Self.systemResolver() : setting).split(separator: ":")
        self.init(server: parts.first.map(String.init) ?? "127.0.0.1", port: parts.count > 1 ? Int(parts[1]) ?? 53 : 53)
    }

    public static func systemResolver() -> String {
        guard let text = try? String(contentsOfFile: "/etc/resolv.conf", encoding: .utf8) else { return "127.0.0.1" }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, parts[0] == "nameserver" { return String(parts[1]) }
        }
        return "127.0.0.1"
    }

    public enum Failure: Error, Equatable {
        /// The domain does not exist or has no mail host: a permanent failure.
        case noMailHost(String)
        /// The resolver did not answer or failed: try later.
        case temporary(String)
    }

    /// Hosts to try, best first.
    public func mailHosts(for domain: String) async throws -> [String] {
        let mx = try await query(domain, .mx)
        if mx.rcode == 3 { throw Failure.noMailHost("\(domain): no such domain") }
        let hosts = mx.answers.filter { $0.type == DNSMessage.RecordType.mx.rawValue }.sorted { ($0.preference ?? 0) < ($1.preference ?? 0) }
        if hosts.count == 1 && hosts[0].value.isEmpty { throw Failure.noMailHost("\(domain): null MX (RFC 7505)") }
        if !hosts.isEmpty { return hosts.map(\.value) }
        let a = try await query(domain, .a)
        if !a.answers.isEmpty { return [domain] }
        let aaaa = try await query(domain, .aaaa)
        if !aaaa.answers.isEmpty { return [domain] }
        throw Failure.noMailHost("\(domain): no MX and no address")
    }

    /// Whether an address (as `DNSMessage.parse` writes it, or a dotted IPv4 literal)
    /// is on this machine or a private network: loopback, RFC 1918, link-local, CGNAT,
    /// unspecified, multicast, IPv6 ULA and link-local, or IPv4-mapped forms of those.
    /// A stranger's domain whose MX points there would turn an automatic answer into a
    /// request to an internal mail server (SSRF).
    public static func isInternal(_ address: String) -> Bool {
        // Text that is not an address cannot be judged: refused.
        IPAddress(address)?.isInternal ?? true
    }

    /// Addresses of a host (A first, then AAAA); an IP literal stands for itself.
    public func addresses(of host: String) async throws -> [String] {
        if IPAddress(host) != nil { return [host] }
        let a = try await query(host, .a).answers.filter { $0.type == 1 }.map(\.value)
        let aaaa = try await query(host, .aaaa).answers.filter { $0.type == 28 }.map(\.value)
        return a + aaaa
    }

    public func query(_ name: String, _ type: DNSMessage.RecordType) async throws -> DNSMessage {
        let id = UInt16.random(in: 1...UInt16.max)
        let remote = try SocketAddress(ipAddress: server, port: port)
        let channel = try await DatagramBootstrap(group: group)
            .bind(host: remote.protocol == .inet6 ? "::" : "0.0.0.0", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            let packet = ByteBuffer(bytes: DNSMessage.query(id: id, name: name, type: type))
            let server = self.server
            let answer = try await withThrowingTaskGroup(of: DNSMessage?.self) { group in
                group.addTask {
                    for try await envelope in inbound {
                        // Only the resolver's answer to this very question counts: from
                        // its address and port, with our random id, QR set, and the
                        // question we asked (a spoofed or stray datagram is ignored).
                        guard envelope.remoteAddress == remote,
                            let message = try? DNSMessage.parse(Array(envelope.data.readableBytesView)), message.id == id, message.isResponse,
                            let question = message.question, question.name == Self.normalized(name), question.type == type.rawValue, question.class == 1
                        else { continue }
                        return message
                    }
                    return nil
                }
                group.addTask {
                    // Send, and send again if no answer came (UDP may drop it).
                    for attempt in 0..<3 {
                        try await outbound.write(AddressedEnvelope(remoteAddress: remote, data: packet))
                        try await Task.sleep(for: .seconds(1 + attempt))
                    }
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
            guard let answer else { throw Failure.temporary("\(server): no answer for \(name)") }
            if answer.rcode == 2 { throw Failure.temporary("\(server): SERVFAIL for \(name)") }
            return answer
        }
    }
}
