/// What an IMAP server says (RFC 3501 section 7), as values the client's state machine
/// can act on. Anything the client does not need stays as `other` with its raw values,
/// so an unexpected response is carried along rather than being an error.
public enum IMAPResponse: Equatable, Sendable {
    /// `TAG OK|NO|BAD [code] text`: the end of a command.
    case tagged(tag: String, status: IMAPStatus, code: IMAPResponseCode?, text: String)
    /// `* ...`: data, or a status the server volunteers (greeting, BYE, alerts).
    case untagged(IMAPUntagged)
    /// `+ text`: the server waits for a literal or the next line of an AUTHENTICATE or IDLE.
    case continuation(String)
}

public enum IMAPStatus: String, Equatable, Sendable {
    case ok = "OK"
    case no = "NO"
    case bad = "BAD"
    case preauth = "PREAUTH"
    case bye = "BYE"
}

public enum IMAPUntagged: Equatable, Sendable {
    case status(IMAPStatus, code: IMAPResponseCode?, text: String)
    case capability([String])
    case exists(UInt32)
    case recent(UInt32)
    case expunge(UInt32)
    case flags([String])
    /// `* SEARCH 1 2 3` (UIDs after UID SEARCH).
    case search([UInt32])
    /// `* ESEARCH (TAG "x") UID ALL 1:3,7` (RFC 4731), the sequence set expanded lazily by the caller.
    case esearch(all: IMAPSequenceSet?, count: UInt32?)
    case fetch(sequence: UInt32, IMAPFetch)
    /// `* STATUS "INBOX" (MESSAGES 3 UIDNEXT 4 ...)`.
    case mailboxStatus(mailbox: String, [String: UInt64])
    /// `* LIST (\HasNoChildren) "/" INBOX`.
    case list(attributes: [String], delimiter: String?, name: String)
    case other(keyword: String, [IMAPValue])
}

/// `[...]` after OK/NO/BAD/BYE (RFC 3501 section 7.1).
public enum IMAPResponseCode: Equatable, Sendable {
    case uidValidity(UInt32)
    case uidNext(UInt32)
    case highestModSeq(UInt64)
    case capability([String])
    case permanentFlags([String])
    case readOnly
    case readWrite
    case alert
    case other(String, String?)
}

/// The attributes of one FETCH response the client uses.
public struct IMAPFetch: Equatable, Sendable {
    public var uid: UInt32?
    public var flags: [String]?
    public var size: UInt64?
    public var modSeq: UInt64?
    /// `BODY[]` (or `BODY[section]`, `RFC822`): the message bytes, exactly as sent.
    public var body: [UInt8]?
    public var internalDate: String?

    public init() {}
}

/// A parsed IMAP data item (RFC 3501 section 4).
public indirect enum IMAPValue: Equatable, Sendable {
    case atom(String)
    case number(UInt64)
    /// Quoted string or literal, as bytes (a literal may be binary mail).
    case string([UInt8])
    case nil_
    case list([IMAPValue])
    /// `BODY[HEADER]<0>`-style section of a fetch item name, kept with the item.
    case section(String)

    public var text: String? {
        switch self {
        case .atom(let s): return s
        case .string(let b): return String(decoding: b, as: UTF8.self)
        case .number(let n): return String(n)
        default: return nil
        }
    }
}
