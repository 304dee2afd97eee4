import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Store

/// Every error the API answers has one shape, `{"error": "not-found", "reason": "no
/// conversation 7"}` (a stable word for programs, a sentence for people), and one log
/// line: 4xx at info (the client's mistake), 5xx at error. A path that exists under
/// other methods answers 405 with `Allow`; an error no layer mapped becomes a 500 that
/// still says what went wrong. Statuses come from the errors themselves
/// (APIErrors.swift); this is where they become a response.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger = Logger(label: "postroom.http")
    let routes: RouteTable

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return answer(error, to: request)
        }
    }

    func answer(_ error: any Error, to request: Request) -> Response {
        var status = HTTPResponse.Status.internalServerError
        var headers = HTTPFields()
        var reason: String
        switch error {
        case let error as RequestError:
            status = error.status
            reason = error.description
        case let error as StoreError:
            status = error.status
            reason = error.description
        case let error as HTTPError where error.status == .notFound && error.body == nil:
            // The router found no route: another method may have one.
            let allowed = routes.methods(for: request.uri.path)
            if allowed.isEmpty {
                status = .notFound
                reason = "no such route: \(request.method) \(request.uri.path)"
            } else {
                status = .methodNotAllowed
                headers[.allow] = allowed.joined(separator: ", ")
                reason = "\(request.method) is not allowed on \(request.uri.path); allowed: \(allowed.joined(separator: ", "))"
            }
        case let error as HTTPError:
            status = error.status
            headers = error.headers
            reason = error.body ?? error.status.reasonPhrase
        case let error as DecodingError:
            status = .badRequest
            reason = Self.describe(error)
        case let error as any HTTPResponseError:
            status = error.status
            reason = "\(error)"
        default:
            reason = "internal error while answering \(request.method) \(request.uri.path): \(error)"
        }
        if status.code >= 500 {
            logger.error("\(request.method) \(request.uri.path): \(status.code) \(reason) (\(String(reflecting: error)))")
        } else {
            logger.info("\(request.method) \(request.uri.path): \(status.code) \(reason)")
        }
        headers[.contentType] = "application/json; charset=utf-8"
        let body = APIErrorBody(error: Self.word(for: status), reason: reason)
        let data = (try? JSONEncoder().encode(body)) ?? Data(#"{"error":"internal","reason":"the error could not be encoded"}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// The stable word of `error` for a status.
    static func word(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 400: "bad-request"
        case 401: "unauthorized"
        case 403: "forbidden"
        case 404: "not-found"
        case 405: "method-not-allowed"
        case 409: "conflict"
        case 413: "too-large"
        case 415: "unsupported-media-type"
        case 422: "unprocessable"
        case 502: "bad-gateway"
        case 503: "unavailable"
        case 500...: "internal"
        default: "error"
        }
    }

    /// A JSON body that does not fit, said in the body's terms (the field path).
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "the body" : path
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): \(key.stringValue) is required"
        case .typeMismatch(let type, let context): return "\(path(context)): expected \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)): expected \(type), got null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return "the body does not fit: \(error)"
        }
    }
}

/// What every error answers (openapi.yaml's `Error`).
struct APIErrorBody: Codable {
    var error: String
    var reason: String
}
