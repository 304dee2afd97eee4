import Foundation
import HTTPTypes
import Hummingbird
import Logging

/// No route answers an error with an empty body: an error the handlers did not map to
/// an HTTP status becomes a 500 whose JSON says what went wrong, and a log line, so the
/// operator can see it and the client can show it.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger = Logger(label: "postroom.http")

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPResponseError {
            throw error
        } catch {
            logger.error("\(request.method) \(request.uri.path): unhandled error: \(String(reflecting: error))")
            throw HTTPError(.internalServerError, message: "internal error while answering \(request.method) \(request.uri.path): \(error)")
        }
    }
}
