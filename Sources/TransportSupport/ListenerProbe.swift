import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Binds each listening address once, with the options the servers use, before the
/// server starts: a port in use is then reported with its listener and the setting
/// that names it, instead of NIO's `bind(descriptor:ptr:bytes:)` from the middle of
/// a starting service group (which also cancelled the others, each logging it).
public enum ListenerProbe {
    /// Why `host:port` cannot be listened on, or nil when it can (port 0 always can).
    public static func problem(host: String, port: Int) async -> String? {
        guard port != 0 else { return nil }
        do {
            let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(host: host, port: port).get()
            try? await channel.close()
            return nil
        } catch let error as IOError {
            switch error.errnoCode {
            case EADDRINUSE: return "the address is already in use (another server, or another Postroom, listens there)"
            case EACCES: return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            case EADDRNOTAVAIL: return "no interface of this machine has that address"
            default: return "\(error)"
            }
        } catch {
            return "\(error)"
        }
    }
}
