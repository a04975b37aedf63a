import Birder
import BirderTestSupport
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
@testable import BirderServer

/// Every endpoint and refusal of the server, in process (Hummingbird's router test framework), on
/// the fixture model.
@Suite(.serialized) struct RouterTests {
    @Test func healthAndMetadata() async throws {
        try await withServer { client in
            #expect(try await client.execute(uri: "/v2/health/live", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v2/health/ready", method: .get).status == .ok)
            let metadata = try jsonObject(try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)", method: .get))
            let model = try ServerFixtures.load()
            #expect(metadata["name"] as? String == ServerFixtures.modelName)
            #expect(metadata["network"] as? String == "rdnet_t")
            #expect(metadata["embedding_size"] as? Int == model.embeddingSize)
            #expect(metadata["precision"] as? String == "fp32" && metadata["instruction_set"] as? String == model.instructionSet.rawValue)
            let input = try #require(metadata["input_size"] as? [String: Int])
            #expect(input == ["height": model.inputSize.height, "width": model.inputSize.width])
            let heads = try #require(metadata["heads"] as? [[String: Any]])
            #expect(heads.count == 1)
            #expect(heads.first?["name"] as? String == "order")
            #expect(heads.first?["classes"] as? Int == model.heads[0].classCount)
            // The checkpoint's file stem names it too; the list endpoint has it.
            let list = try jsonObject(try await client.execute(uri: "/v2/models", method: .get))
            #expect((list["models"] as? [[String: Any]])?.map { $0["name"] as? String } == [ServerFixtures.modelName])
        }
    }

    @Test func readinessIs503UntilTheModelsAreLoaded() async throws {
        let release = DispatchSemaphore(value: 0)
        let server = InferenceServer(configuration: ServerConfiguration(), models: [{
            release.wait()
            return try ServerFixtures.load()
        }], threads: 1)
        try await server.makeApplication().test(.router) { client in
            #expect(try await client.execute(uri: "/v2/health/live", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v2/health/ready", method: .get).status == .serviceUnavailable)
            let early = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)", method: .get)
            #expect(early.status == .serviceUnavailable)
            #expect(try errorMessage(early).contains("loading"))
            release.signal()
            try await waitUntilReady(client)
        }
    }

    @Test func classifyARawJPEGGivesTheLibrarysAnswer() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let expected = try session.classify(.encoded(ServerFixtures.jpeg, name: "x"), topK: 3)
        try await withServer { client in
            let (headers, body) = jpegRequest()
            let response = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/classify?top_k=3&name=cat.jpg",
                                                    method: .post, headers: headers, body: body)
            #expect(response.status == .ok)
            let predictions = try #require(try jsonObject(response)["predictions"] as? [[String: Any]])
            #expect(predictions.count == 1)
            #expect(predictions[0]["sample"] as? String == "cat.jpg")
            let order = try #require((predictions[0]["heads"] as? [String: Any])?["order"] as? [[String: Any]])
            let top = try #require(expected["order"]?.top)
            #expect(order.map { $0["index"] as? Int } == top.map(\.index))
            #expect(order.map { $0["class"] as? String } == top.map(\.name))
            // Bit for bit: the JSON carries each float's shortest round-trip text.
            #expect(order.map { Float(($0["probability"] as? Double) ?? .nan) } == top.map(\.probability))
        }
    }

    @Test func classifyMultipartKeepsRequestOrderAndNames() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        try await withServer { client in
            let gif = try Data(contentsOf: Fixtures.url("vision/gif/local_palette.gif"))
            let (headers, body) = multipart([("b.webp", "image/webp", ServerFixtures.webp), ("a.jpg", "image/jpeg", ServerFixtures.jpeg),
                                             ("c.png", "image/png", ServerFixtures.png), ("d.gif", "image/gif", gif)])
            let response = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/classify?head=order&top_k=2",
                                                    method: .post, headers: headers, body: body)
            #expect(response.status == .ok)
            let predictions = try #require(try jsonObject(response)["predictions"] as? [[String: Any]])
            #expect(predictions.map { $0["sample"] as? String } == ["b.webp", "a.jpg", "c.png", "d.gif"])
            for (prediction, data) in zip(predictions, [ServerFixtures.webp, ServerFixtures.jpeg, ServerFixtures.png, gif]) {
                let expected = try #require(try session.classify(.encoded(data, name: "x"), topK: 2)["order"])
                let order = try #require((prediction["heads"] as? [String: Any])?["order"] as? [[String: Any]])
                #expect(order.map { Float(($0["probability"] as? Double) ?? .nan) } == expected.top.map(\.probability))
            }
        }
    }

    @Test func embedAsJSONAndAsRawFloats() async throws {
        let model = try ServerFixtures.load()
        let expected = try InferenceSession(model: model, context: ComputeContext(threads: 1)).embed(.encoded(ServerFixtures.jpeg, name: "x"))
        try await withServer { client in
            let (headers, body) = jpegRequest()
            let response = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/embed", method: .post, headers: headers, body: body)
            #expect(response.status == .ok)
            let embeddings = try #require(try jsonObject(response)["embeddings"] as? [[String: Any]])
            let values = try #require(embeddings.first?["embedding"] as? [Double]).map(Float.init)
            #expect(values == expected)

            var raw = headers
            raw[.accept] = "application/octet-stream"
            let binary = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/embed", method: .post, headers: raw, body: body)
            #expect(binary.status == .ok)
            #expect(binary.headers[.contentType] == "application/octet-stream")
            let bytes = Array(binary.body.readableBytesView)
            #expect(bytes.count == expected.count * 4)
            let floats = stride(from: 0, to: bytes.count, by: 4).map { i in
                Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            }
            #expect(floats == expected)
        }
    }

    @Test func inferTakesAPreprocessedTensor() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let expected = try session.embed(.encoded(ServerFixtures.jpeg, name: "x"))
        let expectedOrder = try #require(try session.classify(.encoded(ServerFixtures.jpeg, name: "x"), topK: 1000)["order"])
        let image = try ImageDecoder.decode(bytes: [UInt8](ServerFixtures.jpeg), name: "x")
        let transform = InferenceTransform(height: model.inputSize.height, width: model.inputSize.width, stats: model.rgbStats)
        let tensor = transform.apply(image, layout: .nchw)
        let values = tensor.withUnsafeBufferPointer { Array($0) }
        let request: [String: Any] = ["id": "r1", "inputs": [["name": "input", "shape": tensor.shape, "datatype": "FP32", "data": values.map(Double.init)]]]
        let requestBody = try JSONSerialization.data(withJSONObject: request)
        let badShape: [String: Any] = ["inputs": [["name": "input", "shape": [1, 3, 8, 8], "datatype": "FP32", "data": [Double](repeating: 0, count: 192)]]]
        let badShapeBody = try JSONSerialization.data(withJSONObject: badShape)
        try await withServer { client in
            let response = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/infer", method: .post,
                                                    headers: [.contentType: "application/json"],
                                                    body: ByteBuffer(bytes: requestBody))
            #expect(response.status == .ok)
            let object = try jsonObject(response)
            #expect(object["id"] as? String == "r1")
            let outputs = try #require(object["outputs"] as? [[String: Any]])
            #expect(outputs.map { $0["name"] as? String } == ["embedding", "order"])
            #expect(outputs[0]["shape"] as? [Int] == [1, model.embeddingSize])
            let embedding = try #require(outputs[0]["data"] as? [Double]).map(Float.init)
            #expect(embedding == expected)
            let probabilities = try #require(outputs[1]["data"] as? [Double]).map(Float.init)
            for score in expectedOrder.top { #expect(probabilities[score.index] == score.probability) }

            let refused = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/infer", method: .post,
                                                   headers: [.contentType: "application/json"],
                                                   body: ByteBuffer(bytes: badShapeBody))
            #expect(refused.status == .badRequest)
            #expect(try errorMessage(refused).contains("expected [N, 3,"))
        }
    }

    @Test func badRequestsGetOneClearJSONError() async throws {
        try await withServer({ $0.maxBodyBytes = 100_000; $0.maxImagePixels = 10_000 }) { client in
            let classify = "/v2/models/\(ServerFixtures.modelName)/classify"
            func post(_ uri: String, _ headers: HTTPFields, _ body: ByteBuffer) async throws -> TestResponse {
                try await client.execute(uri: uri, method: .post, headers: headers, body: body)
            }
            let (jpeg, body) = jpegRequest()

            let unknownModel = try await post("/v2/models/nope/classify", jpeg, body)
            #expect(unknownModel.status == .notFound)
            #expect(try errorMessage(unknownModel).contains("no model named 'nope'"))

            let unknownHead = try await post(classify + "?head=genus", jpeg, body)
            #expect(unknownHead.status == .badRequest)
            #expect(try errorMessage(unknownHead).contains("no head 'genus' (heads: order)"))

            let badTopK = try await post(classify + "?top_k=0", jpeg, body)
            #expect(badTopK.status == .badRequest)
            #expect(try errorMessage(badTopK).contains("top_k"))

            let wrongType = try await post(classify, [.contentType: "text/plain"], body)
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(try errorMessage(wrongType).contains("text/plain"))

            let tooBig = try await post(classify, [.contentType: "image/png"], ByteBuffer(bytes: ServerFixtures.png))
            #expect(tooBig.status == .contentTooLarge)
            #expect(try errorMessage(tooBig).contains("100000 bytes"))

            // 451×300 = 135 300 pixels, refused from the header.
            let tooManyPixels = try await post(classify + "?name=cat.jpg", jpeg, body)
            #expect(tooManyPixels.status == .unprocessableContent)
            #expect(try errorMessage(tooManyPixels).contains("cat.jpg: JPEG image of"))

            let garbage = try await post(classify, jpeg, ByteBuffer(string: "this is not a photo"))
            #expect(garbage.status == .badRequest)
            #expect(try errorMessage(garbage) == "image: not a JPEG, PNG, WebP, BMP, TIFF or PPM/PGM/PBM image")

            let noFiles = try await post(classify, [.contentType: "multipart/form-data; boundary=x"],
                                         ByteBuffer(string: "--x\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--x--\r\n"))
            #expect(noFiles.status == .badRequest)
            #expect(try errorMessage(noFiles).contains("no image"))

            let malformed = try await post(classify, [.contentType: "multipart/form-data; boundary=x"],
                                           ByteBuffer(string: "--x\r\nContent-Disposition: form-data; name=\"file\"\r\nbroken header\r\n"))
            #expect(malformed.status == .badRequest)
        }
    }

    @Test func aTruncatedJPEGIsRefusedAndOthersAreStillServed() async throws {
        try await withServer { client in
            let classify = "/v2/models/\(ServerFixtures.modelName)/classify"
            let (headers, truncated) = jpegRequest(ServerFixtures.truncated)
            let refused = try await client.execute(uri: classify + "?name=broken.jpg", method: .post, headers: headers, body: truncated)
            #expect(refused.status == .badRequest)
            #expect(try errorMessage(refused).hasPrefix("broken.jpg: "))
            let (_, good) = jpegRequest()
            #expect(try await client.execute(uri: classify, method: .post, headers: headers, body: good).status == .ok)
        }
    }

    @Test func aFullQueueRefusesAtOnceWith429AndATooLargeRequestWith413() async throws {
        // A long batching delay keeps the first request queued while the others arrive.
        try await withServer({ $0.maxQueue = 2; $0.maxQueueDelay = .seconds(3) }) { client in
            let classify = "/v2/models/\(ServerFixtures.modelName)/classify"
            let (twoHeaders, twoImages) = multipart([("a.jpg", "image/jpeg", ServerFixtures.jpeg), ("b.jpg", "image/jpeg", ServerFixtures.jpeg)])
            let first = Task { try await client.execute(uri: classify, method: .post, headers: twoHeaders, body: twoImages).status }
            try await waitForQueue(client, images: 2)
            let started = ContinuousClock.now
            let (headers, body) = jpegRequest()
            let refused = try await client.execute(uri: classify, method: .post, headers: headers, body: body)
            #expect(refused.status == .tooManyRequests)
            #expect(refused.headers[.retryAfter] == "1")
            #expect(try errorMessage(refused).contains("queue"))
            #expect(ContinuousClock.now - started < .seconds(2))
            let (threeHeaders, threeImages) = multipart((0..<3).map { ("\($0).jpg", "image/jpeg", ServerFixtures.jpeg) })
            let oversized = try await client.execute(uri: classify, method: .post, headers: threeHeaders, body: threeImages)
            #expect(oversized.status == .contentTooLarge)
            #expect(try errorMessage(oversized).contains("3 images"))
            #expect(try await first.value == .ok)
        }
    }

    @Test func theDeadlineGives504AndFreesTheSlot() async throws {
        try await withServer({ $0.maxQueue = 1; $0.maxQueueDelay = .seconds(5); $0.timeout = .milliseconds(300) }) { client in
            let classify = "/v2/models/\(ServerFixtures.modelName)/classify"
            let (headers, body) = jpegRequest()
            let started = ContinuousClock.now
            let late = try await client.execute(uri: classify, method: .post, headers: headers, body: body)
            #expect(late.status == .gatewayTimeout)
            #expect(try errorMessage(late).contains("not answered within"))
            #expect(ContinuousClock.now - started < .seconds(3))
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            #expect(metricValue(metrics, "birder_queued_images{model=\"\(ServerFixtures.modelName)\"}") == 0)
        }
    }

    @Test func concurrentRequestsShareBatchesAndKeepTheirAnswers() async throws {
        let model = try ServerFixtures.load()
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1))
        let photos = [ServerFixtures.jpeg, ServerFixtures.webp, ServerFixtures.png, ServerFixtures.jpeg,
                      ServerFixtures.webp, ServerFixtures.png, ServerFixtures.jpeg, ServerFixtures.webp]
        let expected = try photos.map { try session.embed(.encoded($0, name: "x")) }
        try await withServer({ $0.maxQueueDelay = .milliseconds(500); $0.maxBatchSize = 4 }) { client in
            let results = try await withThrowingTaskGroup(of: (Int, [Float]).self) { group in
                for (i, photo) in photos.enumerated() {
                    group.addTask {
                        let response = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/embed", method: .post,
                                                                headers: [.contentType: "image/jpeg"], body: ByteBuffer(bytes: photo))
                        let rows = try #require(try jsonObject(response)["embeddings"] as? [[String: Any]])
                        return (i, try #require(rows.first?["embedding"] as? [Double]).map(Float.init))
                    }
                }
                return try await group.reduce(into: [Int: [Float]]()) { $0[$1.0] = $1.1 }
            }
            for i in photos.indices { #expect(results[i] == expected[i]) }
            let metrics = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            let batches = try #require(metricValue(metrics, "birder_batch_size_count"))
            let images = try #require(metricValue(metrics, "birder_batch_size_sum"))
            #expect(images == 8)
            // Eight requests within one batching delay: at most 4 images a batch, and batches shared.
            #expect(batches < 8)
            #expect(batches >= 2)
        }
    }

    @Test func metricsAndThePage() async throws {
        try await withServer { client in
            let (headers, body) = jpegRequest()
            _ = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/classify", method: .post, headers: headers, body: body)
            _ = try await client.execute(uri: "/v2/models/nope", method: .get)
            let response = try await client.execute(uri: "/metrics", method: .get)
            #expect(response.status == .ok)
            let text = String(buffer: response.body)
            #expect(metricValue(text, "birder_http_requests_total{endpoint=\"/v2/models/{name}/classify\",status=\"200\"}") == 1)
            #expect(metricValue(text, "birder_http_requests_total{endpoint=\"/v2/models/{name}\",status=\"404\"}") == 1)
            #expect(metricValue(text, "birder_images_total{model=\"\(ServerFixtures.modelName)\"}") == 1)
            #expect((metricValue(text, "birder_model_load_seconds{model=\"\(ServerFixtures.modelName)\"}") ?? 0) > 0)
            #expect(metricValue(text, "birder_requests_in_flight") == 1)  // this scrape
            for name in ["birder_queue_seconds_bucket", "birder_compute_seconds_bucket", "birder_images_per_second"] {
                #expect(text.contains(name), "\(name) missing")
            }

            let page = try await client.execute(uri: "/", method: .get)
            #expect(page.status == .ok)
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            let html = String(buffer: page.body)
            #expect(html.contains("<title>Birder</title>"))
            #expect(!html.contains("http://") && !html.contains("https://"), "the page must load nothing from elsewhere")
            let demo = try await client.execute(uri: "/demo.jpg", method: .get)
            #expect(Array(demo.body.readableBytesView.prefix(3)) == [0xFF, 0xD8, 0xFF])
        }
    }

    @Test func anAPIKeyGuardsEverythingButHealthAndThePage() async throws {
        try await withServer({ $0.apiKey = "s3cret-key" }) { client in
            let metadata = "/v2/models/\(ServerFixtures.modelName)"
            let missing = try await client.execute(uri: metadata, method: .get)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate] == "Bearer")
            #expect(try !errorMessage(missing).contains("s3cret"))
            #expect(try await client.execute(uri: metadata, method: .get, headers: [.authorization: "Bearer s3cret-kex"]).status == .unauthorized)
            #expect(try await client.execute(uri: metadata, method: .get, headers: [.authorization: "Bearer s3cret-key-"]).status == .unauthorized)
            #expect(try await client.execute(uri: metadata, method: .get, headers: [.authorization: "s3cret-key"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: metadata, method: .get, headers: [.authorization: "Bearer s3cret-key"]).status == .ok)
            #expect(try await client.execute(uri: "/v2/health/live", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/v2/health/ready", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/", method: .get).status == .ok)
        }
    }

    @Test func keysAreComparedWholly() {
        typealias Auth = APIKeyAuthentication<BasicRequestContext>
        #expect(Auth.constantTimeEqual(Array("abc".utf8), Array("abc".utf8)))
        #expect(!Auth.constantTimeEqual(Array("abc".utf8), Array("abd".utf8)))
        #expect(!Auth.constantTimeEqual(Array("abc".utf8), Array("abcd".utf8)))
        #expect(!Auth.constantTimeEqual([], Array("a".utf8)))
        // A length difference of 256 must not wrap to "equal".
        #expect(!Auth.constantTimeEqual([], [UInt8](repeating: 0, count: 256)))
    }

    @Test func crossOriginAccessOnlyForNamedOrigins() async throws {
        try await withServer({ $0.corsOrigins = ["https://field.example"] }) { client in
            let live = "/v2/health/live"
            let allowed = try await client.execute(uri: live, method: .get, headers: [.origin: "https://field.example"])
            #expect(allowed.headers[.accessControlAllowOrigin] == "https://field.example")
            let other = try await client.execute(uri: live, method: .get, headers: [.origin: "https://evil.example"])
            #expect(other.headers[.accessControlAllowOrigin] == nil)
            let preflight = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/classify", method: .options,
                                                     headers: [.origin: "https://field.example", .accessControlRequestMethod: "POST"])
            #expect(preflight.status == .noContent)
            #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            let refused = try await client.execute(uri: "/v2/models/\(ServerFixtures.modelName)/classify", method: .options,
                                                   headers: [.origin: "https://evil.example", .accessControlRequestMethod: "POST"])
            #expect(refused.headers[.accessControlAllowOrigin] == nil)
            // Errors carry the header too, so the page can read them.
            let missing = try await client.execute(uri: "/v2/models/nope", method: .get, headers: [.origin: "https://field.example"])
            #expect(missing.status == .notFound)
            #expect(missing.headers[.accessControlAllowOrigin] == "https://field.example")
        }
        try await withServer { client in
            let response = try await client.execute(uri: "/v2/health/live", method: .get, headers: [.origin: "https://field.example"])
            #expect(response.headers[.accessControlAllowOrigin] == nil)
        }
    }

    /// Polls /metrics until `images` wait in the fixture model's queue.
    private func waitForQueue(_ client: any TestClientProtocol, images: Int) async throws {
        for _ in 0..<200 {
            let text = String(buffer: try await client.execute(uri: "/metrics", method: .get).body)
            if metricValue(text, "birder_queued_images{model=\"\(ServerFixtures.modelName)\"}") == Double(images) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the queue never held \(images) images")
    }
}
