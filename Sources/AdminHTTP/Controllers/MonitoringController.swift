import Hummingbird
import Prometheus

/// `/healthz` and `/metrics`: open (no token) so monitoring can reach them; bind
/// `http.listen` to a private address.
struct MonitoringController {
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("healthz") { _, _ in HealthResponse(status: "ok") }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}

struct HealthResponse: ResponseCodable {
    var status: String
}
