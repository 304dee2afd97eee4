import DKIM
import SMTPClient
import Synchronization

/// The outbound side's settings that change without a restart: the relay, the DKIM
/// keys, the retry schedule and the limits on automatic mail. One instance is shared by
/// the outbox, automatic mail, the queue and the worker; a reload (SIGHUP or
/// `POST /api/config/reload`) replaces the values at once, and each reader takes a
/// consistent snapshot per use (a delivery pass, one message signed).
public final class OutboundSettings: Sendable {
    public struct Values: Sendable {
        /// DKIM signers by domain.
        public var signers: [String: DKIMSigner] = [:]
        /// nil: direct delivery to each recipient's MX.
        public var relay: SMTPRelay?
        /// Seconds between attempts; the last value repeats until `maxAge`.
        public var schedule: [Int64] = [60, 300, 900, 3600, 14400]
        /// Seconds a delivery is retried before it bounces.
        public var maxAge: Int64 = 5 * 86400
        /// Answers to senders (acknowledgements, vacation replies, redirects) per hour
        /// in all: a flood of forged senders cannot make the gateway a backscatter source.
        public var hourlyCap = 200
        /// Automatic messages (answers and notifications) to one recipient per hour.
        public var perRecipientPerHour = 5

        public init(signers: [String: DKIMSigner] = [:], relay: SMTPRelay? = nil, hourlyCap: Int = 200) {
            self.signers = signers
            self.relay = relay
            self.hourlyCap = hourlyCap
        }
    }

    let state: Mutex<Values>

    public init(_ values: Values = Values()) {
        state = Mutex(values)
    }

    /// A snapshot of the values in force now.
    public var values: Values { state.withLock { $0 } }

    public func replace(_ values: Values) {
        state.withLock { $0 = values }
    }

    public func update(_ change: (inout Values) -> Void) {
        state.withLock { change(&$0) }
    }
}
