/// The report as it is stored beside each message: the same JSON `JSONEncoder` writes
/// with `.sortedKeys` (a test holds the two equal), written directly. Encoding through
/// Codable was 7% of intake's CPU, one report per message before the 250.
extension AuthenticationReport {
    public var json: String {
        var out = JSONText()
        out.object { o in
            o.field("arc") { $0.arc(arc) }
            o.field("authservID") { $0.string(authservID) }
            o.field("clientIP") { $0.string(clientIP) }
            o.field("dkim") { w in w.array(dkim) { $0.dkim($1) } }
            o.field("dmarc") { $0.dmarc(dmarc) }
            if let forwarder { o.field("forwarder") { $0.string(forwarder) } }
            o.field("spf") { $0.spf(spf) }
            if let spfHelo { o.field("spfHelo") { $0.spf(spfHelo) } }
            o.field("verdict") { $0.string(verdict.rawValue) }
            o.field("verifiedBy") { $0.string(verifiedBy) }
        }
        return out.text
    }
}

extension JSONText {
    fileprivate mutating func arc(_ arc: ARCOutcome) {
        object { o in
            if let first = arc.firstHopResults { o.field("firstHopResults") { $0.string(first) } }
            o.field("instances") { $0.number(arc.instances) }
            o.field("reason") { $0.string(arc.reason) }
            o.field("result") { $0.string(arc.result.rawValue) }
            o.field("sealers") { w in w.array(arc.sealers) { $0.string($1) } }
        }
    }

    fileprivate mutating func dkim(_ signature: DKIMSignatureOutcome) {
        object { o in
            o.field("algorithm") { $0.string(signature.algorithm) }
            if let length = signature.bodyLength { o.field("bodyLength") { $0.number(length) } }
            o.field("domain") { $0.string(signature.domain) }
            if let identity = signature.identity { o.field("identity") { $0.string(identity) } }
            o.field("reason") { $0.string(signature.reason) }
            o.field("result") { $0.string(signature.result.rawValue) }
            o.field("selector") { $0.string(signature.selector) }
            o.field("signaturePrefix") { $0.string(signature.signaturePrefix) }
        }
    }

    fileprivate mutating func dmarc(_ dmarc: DMARCOutcome) {
        object { o in
            o.field("fromDomain") { $0.string(dmarc.fromDomain) }
            if let policy = dmarc.policy { o.field("policy") { $0.string(policy.rawValue) } }
            o.field("reason") { $0.string(dmarc.reason) }
            if let domain = dmarc.recordDomain { o.field("recordDomain") { $0.string(domain) } }
            if let requested = dmarc.requestedPolicy { o.field("requestedPolicy") { $0.string(requested.rawValue) } }
            o.field("result") { $0.string(dmarc.result.rawValue) }
        }
    }

    fileprivate mutating func spf(_ spf: SPFOutcome) {
        object { o in
            o.field("domain") { $0.string(spf.domain) }
            if let explanation = spf.explanation { o.field("explanation") { $0.string(explanation) } }
            o.field("reason") { $0.string(spf.reason) }
            o.field("result") { $0.string(spf.result.rawValue) }
        }
    }
}

/// A JSON writer for values whose shape is known: strings escaped as Foundation's
/// JSONEncoder escapes them (quote, backslash, slash, control characters), keys
/// written in the order given.
public struct JSONText: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init() { bytes.reserveCapacity(512) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// Fields of one object; the caller gives them in sorted order.
    public struct Object {
        var writer: JSONText
        var first = true

        public mutating func field(_ key: String, _ value: (inout JSONText) -> Void) {
            if !first { writer.bytes.append(UInt8(ascii: ",")) }
            first = false
            writer.string(key)
            writer.bytes.append(UInt8(ascii: ":"))
            value(&writer)
        }
    }

    public mutating func object(_ fields: (inout Object) -> Void) {
        bytes.append(UInt8(ascii: "{"))
        var object = Object(writer: self)
        bytes = []
        fields(&object)
        self = object.writer
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func array<S: Sequence>(_ elements: S, _ element: (inout JSONText, S.Element) -> Void) {
        bytes.append(UInt8(ascii: "["))
        var first = true
        for value in elements {
            if !first { bytes.append(UInt8(ascii: ",")) }
            first = false
            element(&self, value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func number(_ value: Int) {
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "/"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "/")])
            case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
