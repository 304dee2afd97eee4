/// What the API and the CLI answer when a request names something that is not there
/// (404, exit 65), asks for something malformed (400, exit 65), or for something the
/// current state does not allow, however well-formed (409, exit 65: merging a thing into
/// itself, routing to a user without naming one). Every module that serves requests
/// throws it, so the mapping to a status lives in one place.
public enum RequestError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case invalid(String)
    case conflict(String)

    public var description: String {
        switch self {
        case .notFound(let what): return what
        case .invalid(let what): return what
        case .conflict(let what): return what
        }
    }
}
