/// A sequence set as servers send it (`1:3,7,10:12`): ranges kept, not expanded, because
/// an ESEARCH over a big mailbox names tens of thousands of UIDs in a few bytes.
public struct IMAPSequenceSet: Equatable, Sendable {
    public var ranges: [ClosedRange<UInt32>]

    public init(ranges: [ClosedRange<UInt32>]) { self.ranges = ranges }

    /// Parses `1:3,7`; `*` is not allowed in what a server returns.
    public init?(_ text: String) {
        var ranges: [ClosedRange<UInt32>] = []
        for part in text.split(separator: ",") {
            let ends = part.split(separator: ":", omittingEmptySubsequences: false)
            guard ends.count == 1 || ends.count == 2, let a = UInt32(ends[0]), let b = UInt32(ends.last!) else { return nil }
            ranges.append(min(a, b)...max(a, b))
        }
        guard !ranges.isEmpty else { return nil }
        self.ranges = ranges
    }

    public var count: Int { ranges.reduce(0) { $0 + $1.count } }
    public var values: [UInt32] { ranges.flatMap { Array($0) } }

    /// The set as a client writes it, collapsing runs: [1,2,3,7] → "1:3,7".
    public static func describe(_ uids: [UInt32]) -> String {
        let sorted = Array(Set(uids)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i]):\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
