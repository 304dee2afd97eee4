/// What the API and the CLI answer when a request names something that is not there
/// (404, exit 1) or asks for something invalid (400, exit 1). Every module that serves
/// requests throws it, so the mapping to a status lives in one place.
public enum RequestError: Error, Equatable, CustomStringConvertible {
    case notFound(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .notFound(let what): return what
        case .invalid(let what): return what
        }
    }
}
