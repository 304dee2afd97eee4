/// What the API and the CLI answer when the path names something that is not there
/// (404, exit 65), when a request is malformed (400, exit 65), or when it is well-formed
/// but the current state does not allow it (409, exit 65: merging a thing into itself,
/// an address another contact owns, a body naming a user or team that does not exist).
/// Every module that serves requests throws it, so the mapping to a status lives in
/// one place.
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
