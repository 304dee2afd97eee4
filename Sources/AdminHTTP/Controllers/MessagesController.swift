import Conversations
import Foundation
import HTTPTypes
import Hummingbird
import Store

/// `/api/messages`: stored messages as received, their raw bytes and their parts.
struct MessagesController {
    let store: Store
    let processor: MessageProcessor
    let queries: ConversationQueries

    func addRoutes(to group: RouterGroup<BasicRequestContext>) {
        group.get { request, _ -> MessageList in
            let q = QueryReader(request)
            let limit = try q.limit(default: 100, max: 1000)
            let before = try q.text("before").map { text -> Int64 in
                guard let id = Int64(text) else { throw RequestError.invalid("before must be a message id") }
                return id
            }
            let state = try q.text("state").map { text -> ProcessingState in
                guard let state = ProcessingState(rawValue: text) else {
                    throw RequestError.invalid("state must be one of \(ProcessingState.names)")
                }
                return state
            }
            return MessageList(messages: try await store.listMessages(inbox: q.text("inbox"), state: state, limit: limit, beforeID: before))
        }
        group.get(":id") { _, context -> MessageDetail in
            try await store.message(try context.parameters.require("id"))
        }
        group.get(":id/raw") { _, context -> Response in
            let stored = try await store.rawMessage(try context.parameters.require("id"))
            return Response(
                status: .ok,
                headers: [.contentType: "message/rfc822", HTTPField.Name("X-Postroom-Queue-Id")!: stored.queueID],
                body: .init(byteBuffer: ByteBuffer(bytes: stored.raw)))
        }
        group.post(":id/reprocess") { _, context -> MessageDetail in
            let reference = try context.parameters.require("id")
            let detail = try await store.message(reference)
            try await processor.reprocess(messageID: detail.message.id)
            return try await store.message(reference)
        }
        group.get(":id/parts/:part") { _, context -> Response in
            let part = try await queries.part(messageReference: try context.parameters.require("id"), path: try context.parameters.require("part"))
            return Response(status: .ok, headers: Self.downloadHeaders(part), body: .init(byteBuffer: ByteBuffer(bytes: part.data)))
        }
    }

    /// The sender chose this Content-Type: never let a browser render it in our origin
    /// (HTML or SVG with script). Download only, sniffing off, sandboxed.
    static func downloadHeaders(_ part: (contentType: String, filename: String?, data: [UInt8])) -> HTTPFields {
        var headers: HTTPFields = [
            .contentType: part.contentType,
            .contentDisposition: "attachment",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            .contentSecurityPolicy: "sandbox; default-src 'none'",
        ]
        if let filename = part.filename {
            let ascii = String(filename.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 0x20 ? Character($0) : "_" })
            // RFC 5987 attr-char
            let attrChars = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$&+-.^_`|~")
            let encoded = filename.addingPercentEncoding(withAllowedCharacters: attrChars) ?? ascii
            headers[.contentDisposition] = "attachment; filename=\"\(ascii)\"; filename*=UTF-8''\(encoded)"
        }
        return headers
    }
}

struct MessageList: ResponseEncodable {
    var messages: [MessageSummary]
}

extension MessageDetail: ResponseEncodable {}
