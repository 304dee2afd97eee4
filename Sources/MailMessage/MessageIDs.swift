/// Message-ID, In-Reply-To and References values: the ids without angle brackets,
/// in order. Ids without brackets (seen in the wild) are accepted when they have an "@".
public enum MessageIDs {
    public static func parse(_ raw: [UInt8]) -> [String] {
        let text = Charset.headerText(raw)
        var ids: [String] = []
        var s = Substring(text)
        var sawAngle = false
        while let open = s.firstIndex(of: "<") {
            sawAngle = true
            guard let close = s[open...].firstIndex(of: ">") else { break }
            let id = s[s.index(after: open)..<close].filter { $0 != " " && $0 != "\t" && $0 != "\r" && $0 != "\n" }
            if !id.isEmpty { ids.append(String(id)) }
            s = s[s.index(after: close)...]
        }
        if !sawAngle {
            for word in text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "\r" || $0 == "\n" }) where word.contains("@" as Character) {
                ids.append(String(word))
            }
        }
        return ids
    }
}
