import NIOCore
import Synchronization

/// Counts live sessions (in total and per client IP) for the session limits, and
/// keeps their channels so a shutdown can reach each one.
final class SessionRegistry: Sendable {
    enum Admission { case admitted, tooMany, tooManyFromIP }

    struct State {
        var total = 0
        var perIP: [String: Int] = [:]
        var channels: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }

    let maxTotal: Int
    let maxPerIP: Int
    let state = Mutex(State())

    init(maxTotal: Int, maxPerIP: Int) {
        self.maxTotal = maxTotal
        self.maxPerIP = maxPerIP
    }

    func admit(_ channel: any Channel, ip: String) -> Admission {
        state.withLock { state in
            if state.total >= maxTotal { return .tooMany }
            if state.perIP[ip, default: 0] >= maxPerIP { return .tooManyFromIP }
            state.total += 1
            state.perIP[ip, default: 0] += 1
            state.channels[ObjectIdentifier(channel)] = channel
            return .admitted
        }
    }

    func release(_ channel: any Channel, ip: String) {
        state.withLock { state in
            guard state.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return }
            state.total -= 1
            let left = state.perIP[ip, default: 1] - 1
            state.perIP[ip] = left > 0 ? left : nil
        }
    }

    var count: Int { state.withLock { $0.total } }

    var channels: [any Channel] { state.withLock { Array($0.channels.values) } }
}

/// Sent through each session's pipeline when the server shuts down.
struct SMTPShutdownEvent: Sendable {}
