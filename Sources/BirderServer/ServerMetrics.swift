import Foundation
import Hummingbird
import Prometheus

/// The server's Prometheus metrics, in a registry of its own (no process-wide metrics system, so
/// two servers in one process — tests — keep separate counts).
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let inFlight: Gauge

    init() {
        inFlight = registry.makeGauge(descriptor: Self.name("requests_in_flight", help: "HTTP requests being answered"))
    }

    /// `birder_NAME`.
    static func name(_ name: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "birder", metricName: name, unitName: "", helpText: help)
    }

    /// One answered request by route and status.
    func countRequest(endpoint: String, status: HTTPResponse.Status) {
        registry.makeCounter(descriptor: Self.name("http_requests_total", help: "HTTP requests by endpoint and status"),
                             labels: [("endpoint", endpoint), ("status", String(status.code))]).increment()
    }

    func requestStarted() { inFlight.increment() }
    func requestEnded() { inFlight.decrement() }

    func modelLoaded(_ model: String, seconds: Double) {
        registry.makeGauge(descriptor: Self.name("model_load_seconds", help: "Time to load and warm up the model"),
                           labels: [("model", model)]).set(seconds)
    }

    func queued(_ model: String, images: Int) {
        registry.makeGauge(descriptor: Self.name("queued_images", help: "Images waiting for a batch"),
                           labels: [("model", model)]).set(Double(images))
    }

    func record(_ batch: DynamicBatcher.BatchReport) {
        let labels = [("model", batch.model)]
        let queue = registry.makeDurationHistogram(
            descriptor: Self.name("queue_seconds", help: "Time a request waited for its batch"), labels: labels,
            buckets: [.microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
        for wait in batch.queueWaits { queue.record(wait) }
        registry.makeDurationHistogram(
            descriptor: Self.name("compute_seconds", help: "Time to run one batch (its images are decoded on arrival, before it)"), labels: labels,
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30)])
            .record(batch.compute)
        registry.makeValueHistogram(descriptor: Self.name("batch_size", help: "Images per batch"), labels: labels,
                                    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256]).record(Double(batch.images))
        registry.makeCounter(descriptor: Self.name("images_total", help: "Images run (rate() gives images per second)"), labels: labels)
            .increment(by: Int64(batch.images))
        let seconds = Double(batch.compute.nanoseconds) / 1e9
        if seconds > 0 {
            registry.makeGauge(descriptor: Self.name("images_per_second", help: "Throughput of the latest batch"), labels: labels)
                .set(Double(batch.images) / seconds)
        }
    }

    /// A request that left before its answer; `stage="queued"` ones were never computed.
    func record(_ drop: DynamicBatcher.DropReport) {
        registry.makeCounter(descriptor: Self.name("dropped_requests_total",
                                                   help: "Requests that left before their answer (client gone, deadline): queued ones were never computed, running ones had their results dropped"),
                             labels: [("model", drop.model), ("stage", drop.stage.rawValue), ("reason", drop.reason.rawValue)]).increment()
    }

    var text: String { registry.emitToString() }
}

/// Counts every request by route and status, and the requests in flight.
struct MetricsRecording<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        metrics.requestStarted()
        defer { metrics.requestEnded() }
        do {
            let response = try await next(request, context)
            metrics.countRequest(endpoint: context.endpointPath ?? "unmatched", status: response.status)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            metrics.countRequest(endpoint: context.endpointPath ?? "unmatched", status: status)
            throw error
        }
    }
}
