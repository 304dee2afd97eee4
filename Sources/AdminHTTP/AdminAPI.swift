import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Prometheus
import Store

/// The admin HTTP API (openapi.yaml describes it). Every `/api` route needs the
/// bearer token; `/metrics` and `/healthz` are open so monitoring can reach them
/// without a secret (bind `http.listen` to a private address).
public enum AdminAPI {
    public static func router(store: Store, adminToken: String, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("healthz") { _, _ in HealthResponse(status: "ok") }
        router.get("metrics") { _, _ -> Response in
            let text = registry.emitToBuffer()
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text)))
        }

        let api = router.group("api").add(middleware: BearerTokenMiddleware(token: adminToken))
        api.get("inboxes") { _, _ -> InboxList in
            InboxList(inboxes: try await store.listInboxes())
        }
        api.get("inboxes/:slug") { _, context -> Inbox in
            let slug = try context.parameters.require("slug")
            guard let inbox = try await store.inbox(slug: slug) else {
                throw HTTPError(.notFound, message: StoreError.inboxNotFound(slug).description)
            }
            return inbox
        }
        api.get("messages") { request, _ -> MessageList in
            let inbox = request.uri.queryParameters.get("inbox")
            let limitText = request.uri.queryParameters.get("limit")
            let beforeText = request.uri.queryParameters.get("before")
            let limit = limitText.flatMap(Int.init) ?? 100
            guard limitText == nil || (1...1000).contains(limit) else {
                throw HTTPError(.badRequest, message: "limit must be an integer from 1 to 1000")
            }
            let before = beforeText.flatMap(Int64.init)
            guard beforeText == nil || before != nil else {
                throw HTTPError(.badRequest, message: "before must be a message id")
            }
            do {
                let messages = try await store.listMessages(inbox: inbox, limit: limit, beforeID: before)
                return MessageList(messages: messages)
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        api.get("messages/:id") { _, context -> MessageDetail in
            let id = try context.parameters.require("id")
            do {
                return try await store.message(id)
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        api.get("messages/:id/raw") { _, context -> Response in
            let id = try context.parameters.require("id")
            do {
                let stored = try await store.rawMessage(id)
                return Response(
                    status: .ok,
                    headers: [.contentType: "message/rfc822", HTTPField.Name("X-Postroom-Queue-Id")!: stored.queueID],
                    body: .init(byteBuffer: ByteBuffer(bytes: stored.raw)))
            } catch let error as StoreError {
                throw HTTPError(.notFound, message: error.description)
            }
        }
        return router
    }
}

struct HealthResponse: ResponseCodable {
    var status: String
}

struct InboxList: ResponseEncodable {
    var inboxes: [Inbox]
}

struct MessageList: ResponseEncodable {
    var messages: [MessageSummary]
}

extension Inbox: ResponseEncodable {}
extension MessageDetail: ResponseEncodable {}

/// Refuses `/api` requests without `Authorization: Bearer <token>` (401, JSON reason).
/// The comparison takes the same time whatever the token, so it leaks no prefix.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: [UInt8]

    init(token: String) {
        self.token = Array(token.utf8)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"postroom\""],
                message: "missing bearer token: send Authorization: Bearer <admin token>")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.lowercased().hasPrefix(prefix),
            constantTimeEqual(Array(header.dropFirst(prefix.count).utf8), token)
        else {
            throw HTTPError(
                .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"postroom\", error=\"invalid_token\""],
                message: "invalid bearer token")
        }
        return try await next(request, context)
    }

    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0
    }
}
