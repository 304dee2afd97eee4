// The SMTP server session (SMTPServerStateMachine) as the NIO handler drives it: a
// byte stream of commands and message data arriving in pieces of random size, every
// `.deliver` answered with `deliveryCompleted`, STARTTLS "handshaken" at once.
//
// Input layout (see Fuzz/README.md):
//   byte 0   options: bit 0 TLS available, bit 1 TLS required, bit 2 small limits
//            (so size and count limits are reached by short inputs), bit 3 the spool
//            fails deliveries (451)
//   byte 1   piece seed: 0 = the whole stream in one read, else pieces of 1...64 octets
//   rest     what the client sends
import FuzzSupport
@testable import SMTPProtocol

let directory = RecipientDirectory(addresses: [
    "alice@example.com": 1, "bob@example.com": 2, "postmaster@example.com": 3, "info@example.org": 4,
])

func fuzzOne(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let options = input.byte()
    let seed = input.byte()
    var limits = SMTPLimits()
    if options & 4 != 0 {
        limits.commandLineLength = 64
        limits.textLineLength = 80
        limits.messageSize = 256
        limits.recipients = 3
        limits.errors = 5
    }
    let failDeliveries = options & 8 != 0
    var machine = SMTPServerStateMachine(
        configuration: .init(hostname: "mx.example.com", limits: limits, tlsAvailable: options & 1 != 0, tlsRequired: options & 2 != 0),
        directory: directory)

    var closed = false
    func perform(_ first: [SMTPServerStateMachine.Action]) {
        var queue = first
        var index = 0
        while index < queue.count {
            let action = queue[index]
            index += 1
            invariant(!closed, "action \(action) after .close")
            switch action {
            case .reply(let reply):
                invariant((200...599).contains(reply.code), "reply code \(reply.code)")
                blackHole(reply.wire)
            case .startTLS:
                invariant(machine.tlsActive, ".startTLS without tlsActive")
            case .deliver(let transaction):
                invariant(!transaction.recipients.isEmpty, "delivery without recipients")
                invariant(transaction.recipients.count <= limits.recipients, "more recipients than the limit")
                invariant(transaction.body.count <= limits.messageSize, "body of \(transaction.body.count) octets over the size limit")
                invariant(machine.isAwaitingDelivery, ".deliver while not awaiting delivery")
                // The spool may take a while; the handler then reports back.
                let result: DeliveryResult = failDeliveries ? .failed(.spoolUnavailable) : .accepted(queueID: "4Fz0QueueId")
                queue += machine.deliveryCompleted(result)
            case .close:
                invariant(machine.isClosed, ".close while the machine is not closed")
                closed = true
            }
        }
    }

    perform(machine.start())
    for piece in Pieces(input.rest(), seed: seed) {
        if closed { break }
        perform(piece.withUnsafeBufferPointer { machine.receive($0) })
        blackHole(machine.isInTransaction)
        blackHole(machine.bufferedInputCount)
    }
    if !closed { perform(machine.terminate(with: .idleTimeout)) }
    blackHole(machine.commandCounts)
    blackHole(machine.lastCommand)
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
