import ArgumentParser
import Birder
import BirderServer
import Dispatch
import Foundation
import Synchronization

/// `birder serve`: parses the options and runs `InferenceServer` (BirderServer holds the service).
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve models over HTTP: classify, embed and infer endpoints (Open Inference Protocol v2 paths), dynamic batching, metrics and a web page.",
        discussion: """
        Each --model is NAME_OR_PATH[:HEAD,HEAD…] (heads by level or .head.pt path); several models share
        one thread budget. Endpoints: GET /v2/health/live, /v2/health/ready, /v2/models/NAME, /metrics, /;
        POST /v2/models/NAME/classify?top_k=K&head=H, /embed, /infer. SIGTERM or SIGINT stops accepting
        connections, finishes the requests in flight and exits 0 (a second signal aborts).

        Example:
          birder serve --model rdnet_t_ibot-bioscan5m --head species
          curl -H 'Content-Type: image/jpeg' --data-binary @photo.jpg localhost:8080/v2/models/rdnet_t_ibot-bioscan5m/classify
        """)

    @Option(name: .customLong("model"), help: ArgumentHelp(
        "A model to serve: registry name or checkpoint path, optionally with heads after a colon (NAME:species,order). Repeatable.",
        valueName: "name-or-path[:heads]"))
    var models: [String]

    @Option(name: .long, help: ArgumentHelp("A head for the one model served (level or .head.pt path). Repeatable.", valueName: "level-or-path"))
    var head: [String] = []

    @Option(name: .long, help: "Network of the checkpoints (default: read from their weights).")
    var network: String?

    @Option(name: .long, help: "Models directory (default: $BIRDER_MODELS_DIR, else ./models when it exists, else ~/.cache/birder/models).")
    var modelsDir: String?

    @Flag(name: .long, help: ArgumentHelp(CommandLineStore.offlineHelp))
    var offline = false

    @Option(name: .long, help: "Address to listen on (0.0.0.0 for every interface).")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port (\(ServeRange.port.text); 0: any free port).")
    var port = 8080

    @Option(name: .long, help: "Threads all models share (\(OptionRange.threads.text); default: all cores).")
    var threads: Int?

    @Option(name: .long, help: ArgumentHelp(Precision.help + " Applies to every model served.", valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    @Option(name: .long, help: "Most images per forward pass (\(ServeRange.batchSize.text)).")
    var maxBatchSize = 8

    @Option(name: .long, help: "Longest a request waits for others to share its batch, in ms (\(ServeRange.queueDelay.text)).")
    var maxQueueDelayMs = 5

    @Option(name: .long, help: "Images waiting per model; beyond it 429 (\(ServeRange.queue.text)).")
    var maxQueue = 64

    @Option(name: .long, help: "Largest request body in bytes; beyond it 413 (\(ServeRange.bodyBytes.text)).")
    var maxBodyBytes = 32 << 20

    @Option(name: .long, help: "Largest image by width × height from its header; beyond it 422 (\(ServeRange.pixels.text)).")
    var maxImagePixels = 40_000_000

    @Option(name: .long, help: "Per-request deadline in ms, queueing included; past it 504 (\(ServeRange.timeout.text)).")
    var timeoutMs = 30_000

    @Option(name: .long, help: "Classes per head when a request gives no top_k (\(ServeRange.topK.text)).")
    var topK = 5

    @Option(name: .long, help: "A file holding the API key: every endpoint but the health checks and the page then needs Authorization: Bearer KEY.")
    var apiKeyFile: String?

    @Option(name: .long, help: "An origin allowed cross-origin access, e.g. https://example.org. Repeatable; none by default.")
    var corsOrigin: [String] = []

    func run() throws {
        try reportingErrors {
            try checkRanges()
            let specs = try models.map(ServedModelSpec.init)
            if !head.isEmpty {
                guard specs.count == 1 else { throw CLIError.usage("--head is for one model; give heads as --model NAME:HEAD,HEAD") }
            }
            var configuration = ServerConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.maxBatchSize = maxBatchSize
            configuration.maxQueueDelay = .milliseconds(maxQueueDelayMs)
            configuration.maxQueue = maxQueue
            configuration.maxBodyBytes = maxBodyBytes
            configuration.maxImagePixels = maxImagePixels
            configuration.timeout = .milliseconds(timeoutMs)
            configuration.defaultTopK = topK
            configuration.apiKey = try apiKeyFile.map(Self.readKey)
            configuration.corsOrigins = corsOrigin
            // A published model missing from the models directory is fetched before serving (as the
            // other commands do), unless --offline.
            let store = CommandLineStore.store(directory: modelsDir, offline: offline)
            let network = network, extraHeads = head, precision = precision
            Precision.noteEmulation(precision)
            let loaders: [InferenceServer.ModelLoader] = specs.map { spec in
                { try ModelOptions.load(spec.model, heads: spec.heads + extraHeads, network: network, store: store,
                                        precision: precision) }
            }
            let server = InferenceServer(configuration: configuration, models: loaders, threads: threads) { host, port in
                Terminal.note("birder serve: listening on http://\(host.contains(":") ? "[\(host)]" : host):\(port)")
            }
            try Self.runBlocking { try await server.run() }
        }
    }

    func checkRanges() throws {
        try ServeRange.port.check(port)
        try OptionRange.threads.check(threads)
        try ServeRange.batchSize.check(maxBatchSize)
        try ServeRange.queueDelay.check(maxQueueDelayMs)
        try ServeRange.queue.check(maxQueue)
        try ServeRange.bodyBytes.check(maxBodyBytes)
        try ServeRange.pixels.check(maxImagePixels)
        try ServeRange.timeout.check(timeoutMs)
        try ServeRange.topK.check(topK)
    }

    /// The key, without surrounding whitespace; an empty or unreadable file is a usage error (the
    /// key itself never appears in a message).
    static func readKey(_ path: String) throws -> String {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw CLIError.usage("--api-key-file \(path): cannot be read (\((error as NSError).localizedDescription))")
        }
        guard data.count <= 4096, let text = String(data: data, encoding: .utf8) else {
            throw CLIError.usage("--api-key-file \(path): not a UTF-8 key of at most 4096 bytes")
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty, !key.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw CLIError.usage("--api-key-file \(path): the file must hold one key without spaces")
        }
        return key
    }

    /// Runs the async server from this synchronous command. The first SIGINT/SIGTERM is only
    /// recorded by the CLI's handler (`cooperating`) while the server's own handler shuts it down
    /// gracefully; a second one aborts.
    static func runBlocking(_ body: @escaping @Sendable () async throws -> Void) throws {
        let outcome = Mutex<Result<Void, any Error>>(.success(()))
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await body() } catch { outcome.withLock { $0 = .failure(error) } }
            done.signal()
        }
        Interrupt.cooperating { done.wait() }
        try outcome.withLock { $0 }.get()
    }
}

/// `--model NAME_OR_PATH[:HEAD,HEAD…]`.
struct ServedModelSpec {
    let model: String
    let heads: [String]

    init(_ text: String) throws {
        let parts = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        model = String(parts[0])
        heads = parts.count > 1 ? parts[1].split(separator: ",").map(String.init) : []
        guard !model.isEmpty, parts.count == 1 || !heads.isEmpty else {
            throw CLIError.usage("--model \(text): expected NAME_OR_PATH or NAME_OR_PATH:HEAD,HEAD")
        }
    }
}

/// The ranges of `serve`'s numeric options.
enum ServeRange {
    static let port = OptionRange(option: "--port", range: 0...65535)
    static let batchSize = OptionRange(option: "--max-batch-size", range: 1...256)
    static let queueDelay = OptionRange(option: "--max-queue-delay-ms", range: 0...10_000)
    static let queue = OptionRange(option: "--max-queue", range: 1...100_000)
    static let bodyBytes = OptionRange(option: "--max-body-bytes", range: 1...(1 << 31))
    static let pixels = OptionRange(option: "--max-image-pixels", range: 1...178_956_970)
    static let timeout = OptionRange(option: "--timeout-ms", range: 1...3_600_000)
    static let topK = OptionRange(option: "--top-k", range: 1...100_000)
}
