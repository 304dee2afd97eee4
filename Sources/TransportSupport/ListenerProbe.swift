import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// Binds each listening address once, with the options the servers use, before the
/// server starts: a port in use is then reported with its listener and the setting
/// that names it, instead of NIO's `bind(descriptor:ptr:bytes:)` from the middle of
/// a starting service group (which also cancelled the others, each logging it).
///
/// The probe binds but never listens: a client that connects during start-up (a
/// readiness check, say) must not be accepted by the probe and then dropped, which
/// looked like a server that was up; it is refused until the real listener is there.
public enum ListenerProbe {
    /// Why `host:port` cannot be listened on, or nil when it can (port 0 always can).
    public static func problem(host: String, port: Int) async -> String? {
        guard port != 0 else { return nil }
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            return "\(error)"
        }
        #if canImport(Glibc)
            let family: Int32
            switch address {
            case .v4: family = AF_INET
            case .v6: family = AF_INET6
            default: return nil
            }
            let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return "cannot open a socket: \(String(cString: strerror(errno)))" }
            defer { close(fd) }
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let result = address.withSockAddr { pointer, size in bind(fd, pointer, socklen_t(size)) }
            guard result != 0 else { return nil }
            switch errno {
            case EADDRINUSE: return "the address is already in use (another server, or another Postroom, listens there)"
            case EACCES: return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
            case EADDRNOTAVAIL: return "no interface of this machine has that address"
            case let code: return String(cString: strerror(code))
            }
        #else
            return nil
        #endif
    }
}
