import Foundation

/// Times the API takes: RFC 3339 `date-time` (openapi.yaml's `format: date-time`), with or
/// without fractional seconds, `Z` or a numeric offset.
enum RFC3339 {
    static func date(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
