// What an IMAP server sends, as IMAPClient reads it: IMAPResponseParser fed in pieces
// of random size (literals split anywhere), every response parsed, and the numbers
// in them (UIDNEXT, UIDVALIDITY, SEARCH/ESEARCH UIDs, RFC822.SIZE, HIGHESTMODSEQ)
// fed on into what the mailbox poller does with them: the checkpoint math of
// MailboxPoller.pull and IMAPSession.uids(after:), IMAPFetchPlan batches, and
// IMAPSequenceSet expansion and description.
//
// Input layout (see Fuzz/README.md):
//   byte 0   piece seed: 0 = the whole stream in one read, else pieces of 1...64 octets
//   rest     what the server sends (greeting and responses)
import FuzzSupport
@testable import IMAPProtocol

/// IMAPClient refuses to expand more UIDs than this from one ESEARCH (a bound of
/// its own; the parser keeps ranges).
let expandLimit = 100_000

func fuzzOne(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let seed = input.byte()
    var parser = IMAPResponseParser()

    var uidValidity: UInt32?
    var uidNext: UInt32?
    var modSeq: UInt64?
    var exists: UInt32 = 0
    var found: [UInt32] = []
    var sizes: [UInt32: UInt64] = [:]

    func code(_ code: IMAPResponseCode?) {
        switch code {
        case .uidValidity(let v)?: uidValidity = v
        case .uidNext(let n)?: uidNext = n
        case .highestModSeq(let m)?: modSeq = m
        default: break
        }
    }

    func handle(_ response: IMAPResponse) {
        switch response {
        case .tagged(_, _, let c, let text):
            code(c)
            blackHole(text)
        case .continuation(let text):
            blackHole(text)
        case .untagged(let untagged):
            switch untagged {
            case .status(_, let c, _): code(c)
            case .exists(let n): exists = n
            case .search(let list): found += list
            case .esearch(let all, let count):
                blackHole(count)
                if let all {
                    let total = all.count
                    if let values = all.values(limit: expandLimit) {
                        invariant(values.count == total, "ESEARCH set expanded to \(values.count), count says \(total)")
                        found += values
                    }
                }
            case .fetch(_, let fetch):
                if let uid = fetch.uid {
                    found.append(uid)
                    if let size = fetch.size { sizes[uid] = size }
                }
                if let m = fetch.modSeq { modSeq = max(modSeq ?? 0, m) }
                blackHole((fetch.flags, fetch.body?.count, fetch.internalDate))
            case .mailboxStatus(_, let values):
                if let n = values["UIDNEXT"] { uidNext = UInt32(exactly: n) ?? uidNext }
                if let v = values["UIDVALIDITY"] { uidValidity = UInt32(exactly: v) ?? uidValidity }
            default:
                blackHole(untagged)
            }
        }
    }

    outer: for piece in Pieces(input.rest(), seed: seed) {
        parser.feed(piece)
        while true {
            let response: IMAPResponse?
            do {
                response = try parser.next()
            } catch {
                // The client drops the connection on a parse error.
                blackHole("\(error)")
                break outer
            }
            guard let response else { break }
            handle(response)
        }
    }
    blackHole((uidValidity, exists, parser.buffered, parser.literalOctets))

    // MailboxPoller.pull, first connection without history import: start from now.
    let last = found.max() ?? 0
    let startUID = max(last, (uidNext ?? 1).subtractingReportingOverflow(1).overflow ? 0 : (uidNext ?? 1) - 1)
    // The next pull asks for what came after the checkpoint, as IMAPSession.uids(after:)
    // does (Sources/IMAPClient/IMAPClient.swift): no UID can follow 4294967295, so it
    // asks nothing then (it once computed `after + 1` and trapped).
    let after = startUID
    if after < UInt32.max {
        let command = "UID SEARCH RETURN (ALL) UID \(after + 1):*"
        blackHole(command)
    }
    let newUIDs = found.filter { $0 > 0 }.sorted()
    // IMAPSession.sizes / fetchBatches: the plan, each batch described as a set.
    let plan = IMAPFetchPlan.batches(newUIDs, sizes: sizes)
    var covered = 0
    for slice in plan {
        invariant(!slice.isEmpty, "empty fetch batch")
        let text = IMAPSequenceSet.describe(slice)
        let set = IMAPSequenceSet(text)
        invariant(set != nil, "describe gave '\(text)', which does not parse")
        invariant(set?.count == Set(slice).count, "'\(text)' names \(set?.count ?? 0) UIDs, the batch has \(Set(slice).count)")
        let through = slice.last!
        // ConnectedMailboxes.record: the new checkpoint, stored as Int64.
        let top = (slice + [through]).max().map(Int64.init)
        blackHole(top)
        covered += slice.count
    }
    invariant(covered == newUIDs.count, "fetch plan lost UIDs")
    if let modSeq { blackHole(Int64(clamping: modSeq)) }
}

@main
struct Main {
    static func main() { FuzzMain.run(fuzzOne) }
}
