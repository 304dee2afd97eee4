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
            if !current.isEmpty && (current.count >= maxCount || bytes + size > maxBytes) {
                out.append(current)
                current = []
                bytes = 0
            }
            current.append(uid)
            bytes += size
        }
        if !current.isEmpty { out.append(current) }
        return out
    }
}
