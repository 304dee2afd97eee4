import Foundation
import HTTPTypes
import Hummingbird
import Store

// The one place where an error of the layers below becomes an HTTP status. Handlers
// throw the error they got; Hummingbird asks it for its response.

extension RequestError: ResponseGenerator {}
extension RequestError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch self {
        case .notFound: return .notFound
        case .invalid: return .badRequest
        case .conflict: return .conflict
        }
    }

    /// Only reached where JSONErrorMiddleware is not (it answers every route's errors).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try HTTPError(status, message: description).response(from: request, context: context)
    }
}

extension StoreError: ResponseGenerator {}
extension StoreError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch self {
        case .inboxNotFound, .addressNotFound, .messageNotFound: return .notFound
        case .invalidSlug, .invalidAddress, .invalidSetting: return .badRequest
        case .slugTaken, .addressTaken, .cannotRemoveFallback, .inboxHoldsMail: return .conflict
        case .newerStore: return .internalServerError
        }
    }

    /// Only reached where JSONErrorMiddleware is not (it answers every route's errors).
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try HTTPError(status, message: description).response(from: request, context: context)
    }
}

extension RequestContext {
    /// A numeric path parameter, refused with the same words wherever it appears.
    func id(_ name: String = "id") throws -> Int64 {
        let text = try parameters.require(name)
        guard let id = Int64(text) else { throw RequestError.invalid("'\(text)' is not an id") }
        return id
    }
}

/// Query parameters read with one wording for every refusal.
struct QueryReader {
    let parameters: Parameters

    init(_ request: Request) { parameters = request.uri.queryParameters }

    func text(_ name: String) -> String? { parameters.get(name) }

    func id(_ name: String) throws -> Int64? {
        guard let text = parameters.get(name) else { return nil }
        guard let value = Int64(text) else { throw RequestError.invalid("\(name) must be an id") }
        return value
    }

    func int(_ name: String) throws -> Int? {
        guard let text = parameters.get(name) else { return nil }
        guard let value = Int(text) else { throw RequestError.invalid("\(name) must be an integer") }
        return value
    }

    func flag(_ name: String) throws -> Bool? {
        guard let text = parameters.get(name) else { return nil }
        switch text {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw RequestError.invalid("\(name) must be true or false")
        }
    }

    func limit(default value: Int, max: Int) throws -> Int {
        guard let text = parameters.get("limit") else { return value }
        guard let n = Int(text), (1...max).contains(n) else { throw RequestError.invalid("limit must be an integer from 1 to \(max)") }
        return n
    }
}

extension Response {
    /// A JSON body with a status other than 200 (201 Created, 422).
    static func json(_ value: some Encodable, status: HTTPResponse.Status, sortedKeys: Bool = false) throws -> Response {
        let encoder = JSONEncoder()
        if sortedKeys { encoder.outputFormatting = [.sortedKeys] }
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }
}
