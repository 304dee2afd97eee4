/// Groups UIDs into FETCH commands bounded by count and by bytes (from RFC822.SIZE), so
/// a folder of 20 MB messages is pulled one or two at a time while small mail still goes
/// fifty to a round trip. What a batch holds is what one transaction stores.
public enum IMAPFetchPlan {
    public static func batches(_ uids: [UInt32], sizes: [UInt32: UInt64], maxCount: Int = 50, maxBytes: UInt64 = 16 << 20) -> [[UInt32]] {
        var out: [[UInt32]] = []
        var current: [UInt32] = []
        var bytes: UInt64 = 0
        for uid in uids.sorted() {
            let size = sizes[uid] ?? 0
            // Sizes come from the server: compared by subtraction, never summed past
            // UInt64 (an RFC822.SIZE of 2^64-1 once trapped here).
            if !current.isEmpty && (current.count >= maxCount || size > maxBytes - min(bytes, maxBytes)) {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(uid)
            bytes = bytes.addingReportingOverflow(size).overflow ? .max : bytes + size
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
