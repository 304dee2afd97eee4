import SMTPProtocol
import Synchronization

/// Where finished transactions go. The executable implements it with the spool; the
/// answer is sent to the client as is, so `completion` must only say `.accepted`
/// once the message is durable. A callback rather than `async`: it is called once per
/// message on the hot path, and the spool's writer thread answers directly.
public protocol SMTPMessageSink: Sendable {
    func deliver(_ transaction: SMTPTransaction, client: SMTPClientInfo, completion: @escaping @Sendable (DeliveryResult) -> Void)
}

public struct SMTPClientInfo: Sendable {
    public var ip: String
    public var port: Int
}

/// The current recipient directory, swapped whenever inboxes change. Sessions read
/// it before each batch of input, so a new address works without a restart.
public final class DirectoryBox: Sendable {
    let value: Mutex<RecipientDirectory>

    public init(_ directory: RecipientDirectory) {
        value = Mutex(directory)
    }

    public var current: RecipientDirectory {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
