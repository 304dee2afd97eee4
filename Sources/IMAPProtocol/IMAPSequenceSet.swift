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
            guard ends.count == 1 || ends.count == 2, let first = ends.first, let last = ends.last,
                let a = UInt32(first), let b = UInt32(last), a > 0, b > 0
            else { return nil }
            ranges.append(min(a, b)...max(a, b))
        }
        guard !ranges.isEmpty else { return nil }
        self.ranges = ranges
    }

    /// How many numbers the set names (UInt32 ranges cannot overflow Int on 64-bit).
    public var count: Int { ranges.reduce(0) { $0 + $1.count } }

    /// The numbers, expanded: only for sets a caller has checked with `count` against
    /// its own bound (`1:4294967295` is four billion numbers).
    public func values(limit: Int) -> [UInt32]? {
        guard count <= limit else { return nil }
        return ranges.flatMap { Array($0) }
    }

    /// The set as a client writes it, collapsing runs: [1,2,3,7] → "1:3,7".
    public static func describe(_ uids: [UInt32]) -> String {
        let sorted = Array(Set(uids)).sorted()
        var parts: [String] = []
        var i = 0
        while i < sorted.count {
            var j = i
            while j + 1 < sorted.count && sorted[j] < UInt32.max && sorted[j + 1] == sorted[j] + 1 { j += 1 }
            parts.append(i == j ? "\(sorted[i])" : "\(sorted[i]):\(sorted[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
