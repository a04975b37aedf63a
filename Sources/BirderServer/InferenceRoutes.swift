import Birder
import Foundation
import HTTPTypes
import Hummingbird

/// The Open Inference Protocol v2 paths (health, metadata, `infer`) and this project's
/// `classify` and `embed` under the same prefix.
struct InferenceRoutes: Sendable {
    let configuration: ServerConfiguration
    let models: ServedModels
    let batcher: @Sendable () -> DynamicBatcher?

    func add(to router: Router<ServeRequestContext>) {
        router.get("/v2/health/live") { _, _ in json("{\"live\": true}") }
        router.get("/v2/health/ready") { _, _ in
            models.isReady ? json("{\"ready\": true}") : json("{\"ready\": false}", status: .serviceUnavailable)
        }
        router.get("/v2") { _, _ in
            json("{\"name\": \"birder\", \"version\": \"2\", \"extensions\": [\"classify\", \"embed\"]}")
        }
        router.get("/v2/models") { _, _ in
            guard case let .ready(served) = models.current else { throw ServerError.unavailable("models are still loading") }
            return json("{\"models\": [" + served.map { metadata($0) }.joined(separator: ", ") + "]}")
        }
        router.get("/v2/models/{name}") { _, context in
            json(metadata(try models.model(named: try context.parameters.require("name"))))
        }
        router.get("/v2/models/{name}/ready") { _, context in
            _ = try models.model(named: try context.parameters.require("name"))
            return json("{\"ready\": true}")
        }
        router.post("/v2/models/{name}/classify") { request, context in
            var request = request
            let served = try models.model(named: try context.parameters.require("name"))
            let query = request.uri.queryParameters
            let topK = try parseTopK(query.get("top_k"))
            let heads = try selectedHeads(query.getAll("head"), of: served)
            let departure = await context.clientDeparture()
            let upload = try await whileConnected(departure, on: context) { try await ImageUpload.read(&request, configuration: configuration) }
            // Only the names stay here: the queue holds the images, decoded once prepared.
            let names = upload.images.map(\.name)
            let output = try await submit(served, .classify(topK: topK), upload.images, departure)
            guard case let .classified(items) = output else { preconditionFailure("classify answers classifications") }
            let entries = try zip(names, items).map { name, item -> String in
                let classification = try item.mapError(imageError).get()
                // A batch runs at the largest top-k among its requests; this one's is a prefix.
                let perHead = classification.heads.filter { heads.contains($0.head) }.map { prediction in
                    JSONText.string(prediction.head) + ": [" + prediction.top.prefix(topK).map {
                        "{\"class\": \(JSONText.string($0.name)), \"index\": \($0.index), \"probability\": \(JSONText.number($0.probability))}"
                    }.joined(separator: ", ") + "]"
                }
                return "{\"sample\": \(JSONText.string(name)), \"heads\": {\(perHead.joined(separator: ", "))}}"
            }
            return json("{\"predictions\": [" + entries.joined(separator: ", ") + "]}")
        }
        router.post("/v2/models/{name}/embed") { request, context in
            var request = request
            let served = try models.model(named: try context.parameters.require("name"))
            let rawRows = request.headers[.accept]?.contains("application/octet-stream") == true
            let departure = await context.clientDeparture()
            let upload = try await whileConnected(departure, on: context) { try await ImageUpload.read(&request, configuration: configuration) }
            let names = upload.images.map(\.name)
            let output = try await submit(served, .embed, upload.images, departure)
            guard case let .embedded(items) = output else { preconditionFailure("embed answers embeddings") }
            let rows = try items.map { try $0.mapError(imageError).get() }
            if rawRows {
                var buffer = ByteBuffer()
                buffer.reserveCapacity(rows.count * served.model.embeddingSize * 4)
                for row in rows { for value in row { buffer.writeInteger(value.bitPattern, endianness: .little) } }
                return Response(status: .ok, headers: [.contentType: "application/octet-stream",
                                                       HTTPField.Name("X-Embedding-Size")!: String(served.model.embeddingSize)],
                                body: .init(byteBuffer: buffer))
            }
            let entries = zip(names, rows).map { name, row in
                "{\"sample\": \(JSONText.string(name)), \"embedding\": \(JSONText.array(row))}"
            }
            return json("{\"embeddings\": [" + entries.joined(separator: ", ") + "]}")
        }
        router.post("/v2/models/{name}/infer") { request, context in
            var request = request
            let served = try models.model(named: try context.parameters.require("name"))
            let departure = await context.clientDeparture()
            let body = try await whileConnected(departure, on: context) { try await ImageUpload.collect(&request, limit: configuration.maxBodyBytes) }
            let infer = try TensorRequest.decode(body, model: served.model, maxBatch: configuration.maxQueue)
            let output = try await submit(served, .tensor(infer.tensor), [], departure)
            guard case let .tensor(outputs) = output else { preconditionFailure("infer answers tensors") }
            return json(infer.response(outputs, model: served.model))
        }
    }

    // MARK: Pieces

    /// Reading a body fails when its client goes away mid-upload: that is a departure (499), not a
    /// bad request.
    private func whileConnected<Value>(_ departure: ClientDeparture?, on context: ServeRequestContext,
                                       _ read: () async throws -> Value) async throws -> Value {
        do { return try await read() } catch {
            if let departure {
                // The channel reports the end of input right after the read error that it causes,
                // in the same turn of its event loop: one turn later the departure is known.
                try? await context.channel.eventLoop.submit {}.get()
                if departure.hasDeparted { throw ServerError.clientClosed() }
            }
            throw error
        }
    }

    private func submit(_ served: ServedModel, _ work: DynamicBatcher.Work, _ images: [ImageInput],
                        _ departure: ClientDeparture?) async throws -> DynamicBatcher.Output {
        guard let batcher = batcher() else { throw ServerError.unavailable("models are still loading") }
        do {
            return try await batcher.submit(model: served.index, work: work, images: images, departure: departure)
        } catch let refusal as DynamicBatcher.Refusal {
            switch refusal {
            case let .tooManyImages(count, capacity):
                throw ServerError.contentTooLarge("the request has \(count) images; the queue holds at most \(capacity)")
            case let .queueFull(capacity):
                throw ServerError.queueFull(retryAfter: configuration.retryAfterSeconds, model: served.model.name, capacity: capacity)
            case .clientGone:
                throw ServerError.clientClosed()
            case .deadlineExceeded:
                throw ServerError.gatewayTimeout("the request was not answered within \(configuration.timeout.nanoseconds / 1_000_000) ms")
            case .shuttingDown:
                throw ServerError.unavailable("the server is shutting down")
            }
        } catch let error as SessionError {
            throw ServerError.badRequest(error.description)
        } catch let error as ModelInputError {
            throw ServerError.badRequest(error.description)
        }
    }

    private func imageError(_ error: InferenceError) -> ServerError {
        switch error {
        case .unreadableImage: return .badRequest(error.description)
        case .modelFailed, .nonFiniteOutput: return ServerError(status: .internalServerError, message: error.description)
        }
    }

    private func parseTopK(_ text: String?) throws(ServerError) -> Int {
        guard let text else { return configuration.defaultTopK }
        guard let k = Int(text), (1...100_000).contains(k) else { throw .badRequest("top_k must be a whole number from 1 to 100000, not '\(text)'") }
        return k
    }

    /// The heads asked for (`head=a&head=b` or `head=a,b`), else all of the model's.
    private func selectedHeads(_ asked: [String], of served: ServedModel) throws(ServerError) -> Set<String> {
        let names = asked.flatMap { $0.split(separator: ",").map(String.init) }
        let available = served.headNames
        if available.isEmpty { throw .badRequest("model '\(served.model.name)' has no classifier; serve it with a head") }
        for name in names where !available.contains(name) {
            throw .badRequest("model '\(served.model.name)' has no head '\(name)' (heads: \(available.joined(separator: ", ")))")
        }
        return Set(names.isEmpty ? available : names)
    }

    private func metadata(_ served: ServedModel) -> String {
        let model = served.model
        let heads = model.classifyingHeads.map { "{\"name\": \(JSONText.string($0.name)), \"classes\": \($0.classCount)}" }
        let input = "[3, \(model.inputSize.height), \(model.inputSize.width)]"
        return """
        {"name": \(JSONText.string(model.name)), "platform": "birder-swift", "network": \(JSONText.string(model.network)), \
        "checkpoint": \(JSONText.string(model.checkpoint.lastPathComponent)), "embedding_size": \(model.embeddingSize), \
        "precision": "\(model.precision)", "instruction_set": "\(model.instructionSet)", \
        "input_size": {"height": \(model.inputSize.height), "width": \(model.inputSize.width)}, \
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, \(input.dropFirst())}], \
        "outputs": [{"name": "embedding", "datatype": "FP32", "shape": [-1, \(model.embeddingSize)]}\
        \(model.classifyingHeads.map { ", {\"name\": \(JSONText.string($0.name)), \"datatype\": \"FP32\", \"shape\": [-1, \($0.classCount)]}" }.joined())], \
        "heads": [\(heads.joined(separator: ", "))]}
        """
    }
}

func json(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text + "\n")))
}
