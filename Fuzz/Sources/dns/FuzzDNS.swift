// DNS answers (RFC 1035) as the MX resolver parses them: DNSMessage.parse over the
// input as one UDP datagram, name compression included; the answers go on to what
// MXResolver does with them (sorting MX hosts by preference, the null-MX check).
import FuzzSupport
import DNSClient

func fuzzOne(_ bytes: [UInt8]) {
    guard let message = try? DNSMessage.parse(bytes) else { return }
    // MXResolver.mailHosts: sort MX answers, null MX, fall back to A/AAAA.
    let hosts = message.answers.filter { $0.type == DNSMessage.RecordType.mx.rawValue }
        .sorted { ($0.preference ?? 0) < ($1.preference ?? 0) }
    if hosts.count == 1 && hosts[0].value.isEmpty { return }
    var names = hosts.map(\.value)
    names += message.answers.filter { $0.type == 1 || $0.type == 28 }.map(\.value)
    // Each host name is queried in turn: the query encoder must take any parsed name.
    for name in names.prefix(8) {
        let query = DNSMessage.query(id: message.id, name: name, type: .a)
        // A query echoed back must parse (a response with no answers).
        if let echoed = try? DNSMessage.parse(query) {
            invariant(echoed.id == message.id, "query id lost in a round trip")
        }
    }
    blackHole(message.rcode)
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
