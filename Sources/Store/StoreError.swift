/// Mistakes a caller can make against the store, each with a message for people.
public enum StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    case inboxNotFound(String)
    case slugTaken(String)
    case invalidSlug(String)
    case invalidAddress(String)
    case addressTaken(String, inbox: String)
    case addressNotFound(String)
    case cannotRemoveFallback(String)
    case messageNotFound(String)
    case invalidSetting(String)
    case inboxHoldsMail(String, conversations: Int, messages: Int)
    /// The data dir was written by a newer Postroom (migrations this one does not know).
    case newerStore(String)

    public var description: String {
        switch self {
        case .inboxNotFound(let slug): return "no inbox with slug '\(slug)'"
        case .slugTaken(let slug): return "an inbox with slug '\(slug)' already exists"
        case .invalidSlug(let slug):
            return "'\(slug)' is not a valid slug (lower-case letters, digits and '-', 1 to 40 characters)"
        case .invalidAddress(let address): return "'\(address)' is not a valid mail address"
        case .addressTaken(let address, let inbox): return "\(address) already belongs to inbox '\(inbox)'"
        case .addressNotFound(let address): return "no inbox owns \(address)"
        case .cannotRemoveFallback(let address): return "\(address) is the inbox's fallback address and cannot be removed"
        case .messageNotFound(let id): return "no message '\(id)'"
        case .invalidSetting(let why): return why
        case .inboxHoldsMail(let slug, let conversations, let messages):
            return "inbox '\(slug)' holds mail (\(conversations) conversations, \(messages) messages) and is not deleted; "
                + "remove its addresses (inbox remove-address) to stop new mail, and keep it for the history"
        case .newerStore(let path):
            return "\(path) was written by a newer version of Postroom; run that version (an older one could damage what it does not know)"
        }
    }
}
