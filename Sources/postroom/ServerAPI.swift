import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Settings

/// The running server's admin API, for the commands whose answer depends on the server
/// rather than on the data dir: `mailbox test` logs in from the server, because the
/// password variable lives in the server's environment, not the shell's.
struct ServerAPI {
    let host: String
    let port: Int
    let token: String

    /// Where the server of this data dir said it listens (`serve` writes `http-address`
    /// there once its listener is up, whatever flag set the port), else the config's.
    init(_ config: PostroomConfig) throws {
        let written = (try? String(contentsOfFile: Self.addressFile(config), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let written, let colon = written.lastIndex(of: ":"), let port = Int(written[written.index(after: colon)...]) {
            host = String(written[..<colon])
            self.port = port
        } else {
            host = config.httpListen
            port = config.httpPort
        }
        // Read, never made here: a new token file would not be the server's token.
        let file = (try? String(contentsOfFile: (config.dataDir as NSString).appendingPathComponent("admin-token"), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard let token = config.adminToken ?? file, !token.isEmpty else {
            fail("no admin token: set admin-token (POSTROOM_ADMIN_TOKEN) as the server has it, or run where its data dir is", code: Exit.config)
        }
        self.token = token
    }

    private init(host: String, port: Int, token: String) {
        self.host = host
        self.port = port
        self.token = token
    }

    /// Whether a Postroom answers `/healthz` at `host:port` (no token needed).
    static func answers(_ address: String) async -> Bool {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else { return false }
        let api = ServerAPI(host: String(address[..<colon]), port: port, token: "")
        return (try? await api.send(.GET, "/healthz"))?.status == 200
    }

    static func addressFile(_ config: PostroomConfig) -> String {
        (config.dataDir as NSString).appendingPathComponent("http-address")
    }

    /// Written by `serve` when the admin API listens: the address a client of this data
    /// dir reaches it at (loopback for a server listening on every address).
    static func record(_ config: PostroomConfig, port: Int) {
        let host = ["0.0.0.0", "::", "[::]"].contains(config.httpListen) ? "127.0.0.1" : config.httpListen
        try? "\(host):\(port)\n".write(toFile: addressFile(config), atomically: true, encoding: .utf8)
    }

    struct Answer {
        var status: Int
        var body: Data
    }

    /// The `reason` of an API error answer, or its body.
    static func reason(_ answer: Answer) -> String {
        struct Problem: Decodable { var reason: String }
        return (try? JSONDecoder().decode(Problem.self, from: answer.body).reason) ?? String(decoding: answer.body, as: UTF8.self)
    }

    /// One request; fails with exit 69 (naming the address and the setting) when no
    /// server answers.
    func call(_ method: HTTPMethod, _ path: String) async -> Answer {
        do {
            let answer = try await send(method, path)
            if answer.status == 401 {
                fail("the server at \(host):\(port) refused the admin token: give the one it uses (admin-token, POSTROOM_ADMIN_TOKEN)", code: Exit.config)
            }
            return answer
        } catch {
            fail(
                "no Postroom server answers at \(host):\(port) (http.listen, http.port): \(error); start it (postroom serve) with the same --config and --data-dir",
                code: Exit.unavailable)
        }
    }

    private func send(_ method: HTTPMethod, _ path: String) async throws -> Answer {
        let collector = ResponseCollector()
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(collector)
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            // No connection: the answer will never come (and a promise must not be dropped).
            collector.finish(.failure(error))
            throw error
        }
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: "\(host):\(port)")
        head.headers.add(name: "Authorization", value: "Bearer \(token)")
        head.headers.add(name: "Content-Length", value: "0")
        head.headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        return try await collector.answer.futureResult.get()
    }
}

/// Gathers one response; the connection closes after it (`Connection: close`).
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart
    var status = 0
    var body = Data()
    let answer: EventLoopPromise<ServerAPI.Answer> = MultiThreadedEventLoopGroup.singleton.next().makePromise()
    /// Completed once: the close after the answer (or after an error) must not complete it again.
    var done = false

    func finish(_ result: Result<ServerAPI.Answer, any Error>) {
        guard !done else { return }
        done = true
        answer.completeWith(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): status = Int(head.status.code)
        case .body(var buffer):
            // The answers asked for here are small JSON; a runaway body is cut off.
            if body.count < 1 << 20, let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            finish(.success(ServerAPI.Answer(status: status, body: body)))
            context.close(promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(ChannelError.eof))
    }
}
