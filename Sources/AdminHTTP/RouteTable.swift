import Hummingbird
import Synchronization

/// The routes the router ended up with, by path pattern: which methods a path takes,
/// for 405 answers and their `Allow` header. Filled once the routes are added.
final class RouteTable: Sendable {
    struct Route: Sendable {
        var segments: [Substring]
        var method: String
    }

    let routes = Mutex<[Route]>([])

    func set(_ descriptions: [Router<BasicRequestContext>.RouteDescription]) {
        let list = descriptions.map { Route(segments: Self.segments("\($0.path)"), method: $0.method.rawValue) }
        routes.withLock { $0 = list }
    }

    /// Methods of the routes whose pattern matches `path` (`:name` matches one
    /// segment, `*` one, `**` the rest), sorted; empty when none matches.
    func methods(for path: String) -> [String] {
        let parts = Self.segments(path)
        var methods = Set<String>()
        for route in routes.withLock({ $0 }) where Self.matches(route.segments, parts) {
            methods.insert(route.method)
        }
        if methods.contains("GET") { methods.insert("HEAD") }
        return methods.sorted()
    }

    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    static func matches(_ pattern: [Substring], _ parts: [Substring]) -> Bool {
        var i = 0
        for segment in pattern {
            if segment == "**" { return true }
            guard i < parts.count else { return false }
            if !(segment.hasPrefix(":") || segment == "*" || segment.hasPrefix("{") || segment == parts[i]) { return false }
            i += 1
        }
        return i == parts.count
    }
}
