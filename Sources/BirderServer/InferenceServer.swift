import Birder
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `birder serve`: an HTTP inference service over one or more models that share one thread
/// budget. It listens at once (`/v2/health/live` answers), loads and warms up the models in the
/// background (`/v2/health/ready` answers 200 after), and on SIGTERM or SIGINT stops accepting
/// connections, finishes the requests in flight and returns.
public struct InferenceServer: Sendable {
    /// Loads one model (with its heads); called once at start, off the event loops.
    public typealias ModelLoader = @Sendable () throws -> BirderModel

    public let configuration: ServerConfiguration
    let loaders: [ModelLoader]
    let threads: Int?
    let logger: Logger
    let onListening: @Sendable (String, Int) -> Void

    let models = ServedModels()
    let metrics = ServerMetrics()
    let batcher = BatcherSlot()

    /// - threads: the compute budget all models share (nil: every core).
    /// - onListening: called with the bound host and port once the server accepts connections.
    public init(configuration: ServerConfiguration, models: [ModelLoader], threads: Int? = nil,
                logger: Logger = Logger(label: "birder.serve"),
                onListening: @escaping @Sendable (String, Int) -> Void = { _, _ in }) {
        self.configuration = configuration
        self.loaders = models
        self.threads = threads
        self.logger = logger
        self.onListening = onListening
    }

    /// Serves until SIGTERM or SIGINT; throws when the port cannot be bound or a model fails to load.
    public func run() async throws {
        try await makeApplication().runService()
    }

    /// The application (routes, middleware, the model-loading service); tests run it in process.
    package func makeApplication() -> some ApplicationProtocol {
        let router = Router(context: ServeRequestContext.self)
        router.add(middleware: MetricsRecording(metrics: metrics))
        if !configuration.corsOrigins.isEmpty {
            router.add(middleware: CrossOriginAccess(origins: Set(configuration.corsOrigins)))
        }
        if let key = configuration.apiKey {
            router.add(middleware: APIKeyAuthentication(key: key))
        }
        let batcher = batcher
        InferenceRoutes(configuration: configuration, models: models, batcher: { batcher.value }).add(to: router)
        let models = models, metrics = metrics
        router.get("/metrics") { _, _ in
            if case let .ready(served) = models.current, let running = batcher.value {
                for model in served { metrics.queued(model.model.name, images: running.queuedImages(model: model.index)) }
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.text)))
        }
        WebPage.add(to: router)
        let loading = ModelLoading(server: self)
        let onListening = onListening
        return Application(
            router: router,
            // Every connection watches for its client going away (Hummingbird does not cancel a
            // handler then), so that queued work of departed clients is dropped.
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientDepartureHandler()])),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            services: [loading],
            onServerRunning: { channel in
                let address = channel.localAddress
                onListening(address?.ipAddress ?? "", address?.port ?? 0)
            },
            logger: logger)
    }
}

/// The batcher, once the models are loaded.
final class BatcherSlot: Sendable {
    private let slot = Mutex<DynamicBatcher?>(nil)
    var value: DynamicBatcher? { slot.withLock { $0 } }
    func set(_ batcher: DynamicBatcher) { slot.withLock { $0 = batcher } }
}

/// Loads and warms up the models, starts the batcher, and on graceful shutdown — after the HTTP
/// server has finished its requests (the service group stops services in reverse order) — drains it.
struct ModelLoading: Service {
    let server: InferenceServer

    func run() async throws {
        let configuration = server.configuration
        let served: [ServedModel]
        do {
            served = try await Task.detached { try load() }.value
        } catch {
            server.models.set(.failed(String(describing: error)))
            throw error
        }
        let batcher = DynamicBatcher(
            sessions: served.map(\.session),
            limits: .init(maxBatchSize: configuration.maxBatchSize, maxDelay: configuration.maxQueueDelay,
                          maxQueue: configuration.maxQueue, timeout: configuration.timeout),
            onBatch: { [metrics = server.metrics] in metrics.record($0) },
            onDrop: { [metrics = server.metrics, logger = server.logger] drop in
                metrics.record(drop)
                logger.info("dropped a \(drop.model) request of \(drop.images) image(s) while \(drop.stage.rawValue): \(drop.reason.description)")
            })
        server.batcher.set(batcher)
        server.models.set(.ready(served))
        server.logger.info("ready: \(served.map { "\($0.model.name) (\($0.model.network))" }.joined(separator: ", "))")
        try? await gracefulShutdown()
        batcher.stop()
        await batcher.waitUntilFinished()
    }

    /// Every model, sessions on one shared compute context, each warmed up by one forward pass.
    private func load() throws -> [ServedModel] {
        var served: [ServedModel] = []
        var context: ComputeContext?
        for loader in server.loaders {
            let started = ContinuousClock.now
            let model = try loader()
            if let clash = served.first(where: { !$0.names.isDisjoint(with: [model.name]) }) {
                throw ServeError.duplicateName(model.name, clash.model.checkpoint.path, model.checkpoint.path)
            }
            let shared = try context ?? ComputeContext(threads: server.threads, instructionSet: model.instructionSet)
            context = shared
            let session = try InferenceSession(model: model, context: shared, batchSize: server.configuration.maxBatchSize)
            let size = model.inputSize
            let blank = RGBImage(width: size.width, height: size.height,
                                 pixels: [UInt8](repeating: 128, count: size.width * size.height * 3))
            _ = try session.embed(.decoded(blank, name: "warm-up"))
            let seconds = Double((ContinuousClock.now - started).nanoseconds) / 1e9
            server.metrics.modelLoaded(model.name, seconds: seconds)
            server.logger.info("loaded \(model.name) in \(String(format: "%.2f", seconds)) s")
            served.append(ServedModel(model: model, session: session, index: served.count))
        }
        return served
    }
}

public enum ServeError: Error, CustomStringConvertible {
    case duplicateName(String, String, String)

    public var description: String {
        switch self {
        case let .duplicateName(name, first, second):
            return "two served models are named '\(name)' (\(first) and \(second)); serve one of them"
        }
    }
}
