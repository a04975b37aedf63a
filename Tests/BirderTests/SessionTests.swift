import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// The library's pipeline on the tiny RDNet of the CLI fixtures: streams in input order with
/// per-item errors, batch-independent outputs, sessions with their own thread budgets.
@Suite struct SessionTests {
    static let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let photos = Fixtures.path("cli/photos")

    struct Expected: Decodable {
        struct Image: Decodable { let sample: String; let embedding: [Float] }
        let embedding_size: Int
        let images: [Image]
    }

    static func photoPaths() throws -> [String] { try ImageCollection.paths([photos]) }

    @Test func loadsTheNetworkFromTheWeightsAndAttachesHeads() throws {
        // Copied under a name that says nothing about the network: the weights must tell it.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-session-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let anonymous = dir.appendingPathComponent("weights.pt")
        try FileManager.default.copyItem(atPath: Self.model, toPath: anonymous.path)
        let model = try BirderModel.load(anonymous.path)
        #expect(model.network == "rdnet_t")
        #expect(model.name == "weights")
        #expect(model.heads.isEmpty && model.checkpointClassifier?.classCount == 4)

        let withHead = try BirderModel.load(Self.model, heads: ["order"])
        #expect(withHead.heads.map(\.name) == ["order"])
        #expect(withHead.heads[0].file.lastPathComponent == "rdnet_t_tiny-test-order.head.pt")
        #expect(throws: ModelStoreError.self) { try withHead.attachingHead("genus") }
        #expect(throws: (any Error).self) { try withHead.attachingHead(Fixtures.path("cli/models/wrong-width.head.pt")) }
    }

    @Test func embeddingsMatchBirderAndFailuresComeBackInOrder() throws {
        let expected = try Fixtures.json(Expected.self, "cli/expected.json")
        let model = try BirderModel.load(Self.model)
        let session = try InferenceSession(model: model, context: try ComputeContext(threads: 2), batchSize: 2)
        let paths = try Self.photoPaths()
        var inputs = paths.map(ImageInput.path)
        // Encoded bytes that are no image, in the middle of the list.
        inputs.insert(.encoded(Data("not an image".utf8), name: "upload.jpg"), at: 1)
        let items = Array(session.embed(inputs))
        #expect(items.map(\.index) == Array(0..<inputs.count))
        #expect(items.map(\.name) == inputs.map(\.name))
        let failed = items.filter { $0.value == nil }.map(\.name)
        #expect(failed == ["upload.jpg", "\(Self.photos)/insects/d_truncated.jpg"])
        for image in expected.images {
            let item = try #require(items.first { $0.name.hasSuffix(image.sample) })
            let embedding = try #require(item.value)
            #expect(relativeError(embedding, image.embedding) <= 1e-4, "\(item.name)")
        }
    }

    @Test func classifyReportsEveryHeadAndClampsTopK() throws {
        let model = try BirderModel.load(Self.model, heads: ["order"])
        let session = try InferenceSession(model: model, batchSize: 3)
        let photo = try #require(try Self.photoPaths().first)
        let result = try session.classify(.path(photo), topK: 100)
        let order = try #require(result["order"])
        #expect(order.top.count == 5)
        #expect(order.top.map(\.probability) == order.top.map(\.probability).sorted(by: >))
        #expect(abs(order.top.map(\.probability).reduce(0, +) - 1) < 1e-5)
        #expect(order.top[0].name == "Araneae")
        let bare = try InferenceSession(model: BirderModel.load(Self.model))
        #expect(try bare.classify(.path(photo))["classifier"]?.top.count == 4)
    }

    /// An image's outputs do not depend on the batch it is in or its place there.
    @Test func outputsDoNotDependOnTheBatch() throws {
        let model = try BirderModel.load(Self.model)
        let paths = try Self.photoPaths().filter { !$0.contains("truncated") }
        let inputs = (0..<8).map { ImageInput.path(paths[$0 % paths.count]) }
        let alone = try InferenceSession(model: model, batchSize: 1)
        let together = try InferenceSession(model: model, batchSize: 8)
        let one = alone.embed(inputs).map { $0.value! }, eight = together.embed(inputs).map { $0.value! }
        #expect(one == eight)
        // The same image at different places of one batch.
        #expect(eight[0] == eight[3] && eight[1] == eight[4])
    }

    /// Two sessions with different budgets, at the same time in one process: each keeps its own
    /// thread count and both get the results a lone run gets.
    @Test func sessionsKeepTheirOwnThreadBudgets() async throws {
        let model = try BirderModel.load(Self.model)
        let inputs = try Self.photoPaths().filter { !$0.contains("truncated") }.map(ImageInput.path)
        let reference = try InferenceSession(model: model, context: try ComputeContext(threads: 1)).embed(inputs).map { $0.value! }
        let narrow = try InferenceSession(model: model, context: try ComputeContext(threads: 1), batchSize: 2)
        let wide = try InferenceSession(model: model, context: try ComputeContext(threads: 3), batchSize: 2)
        async let a = Task.detached { (0..<6).flatMap { _ in narrow.embed(inputs).map { $0.value! } } }.value
        async let b = Task.detached { (0..<6).flatMap { _ in wide.embed(inputs).map { $0.value! } } }.value
        let (narrowResults, wideResults) = await (a, b)
        #expect(narrow.context.threads == 1 && wide.context.threads == 3)
        #expect(narrow.context.peakWorkers == 1)
        #expect(wide.context.peakWorkers >= 1 && wide.context.peakWorkers <= 3)
        let expected = Array((0..<6).map { _ in reference }.joined())
        #expect(narrowResults == expected)
        #expect(wideResults == expected)
    }

    @Test func featuresAndErrorsOfTheSession() throws {
        let model = try BirderModel.load(Self.model)
        let session = try InferenceSession(model: model)
        let photo = try #require(try Self.photoPaths().first)
        let maps = try #require(try session.features([.path(photo)], stages: ["stage2"]).next()?.value)
        #expect(maps.stages.map(\.name) == ["stage2"])
        #expect(maps.stages[0].features.shape == [1, 24, 8, 8])
        #expect(throws: SessionError.self) { try session.features([.path(photo)], stages: ["stage9"]) }
        #expect(throws: SessionError.self) { try InferenceSession(model: model, batchSize: 0) }
        #expect(throws: ModelStoreError.self) { try BirderModel.load("no_such_model") }
        let offline = ModelStore(directory: "/nonexistent", fetching: .never)
        let missing = #expect(throws: ModelStoreError.self) { try BirderModel.load("rdnet_t_ibot-bioscan5m", heads: ["genus"], store: offline) }
        #expect(missing == .notDownloaded(MissingModelFiles(
            model: "rdnet_t_ibot-bioscan5m", files: ["rdnet_t_ibot-bioscan5m.pt", "rdnet_t_ibot-bioscan5m-genus.head.pt"],
            heads: ["genus"], directory: "/nonexistent", reason: .offline)))
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent"))
    }
}

/// The embedding cache fills its entry as `birder embed` writes a file: streamed, continued after
/// a stop, then served without computing.
@Suite struct EmbeddingCacheTests {
    @Test func aStoppedFillIsContinuedThenServedFromTheCache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-cache-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try BirderModel.load(SessionTests.model)
        let session = try InferenceSession(model: model, context: ComputeContext(threads: 1), batchSize: 2)
        let images = try SessionTests.photoPaths()
        let cache = EmbeddingCache(directory: dir.path)

        var seen = 0
        #expect(throws: EmbeddingCacheError.self) {
            try cache.embeddings(of: images, session: session, progress: { _ in seen += 1 }, shouldStop: { seen >= 2 })
        }
        let file = cache.file(model: model, images: images)
        #expect(!cache.contains(file), "a stopped fill is not an entry")

        var failures: [String] = []
        let filled = try cache.embeddings(of: images, session: session, progress: { if let failure = $0.failure { failures.append(failure) } })
        #expect(filled.file == file && !filled.wasCached)
        let (samples, matrix) = try EmbeddingFiles.read(file.path)
        // The truncated photo fails and is left out; the others are each photo's own embedding.
        #expect(failures.count == images.count - samples.count && failures.count == 1, "\(failures)")
        for (row, sample) in samples.enumerated() {
            let alone = try session.embed(ImageInput.path(sample))
            #expect(Array(matrix.scalars[(row * model.embeddingSize)..<((row + 1) * model.embeddingSize)]) == alone)
        }
        let again = try cache.embeddings(of: images, session: session, progress: { _ in Issue.record("computed again") })
        #expect(again.file == file && again.wasCached)
    }
}

@Suite struct EmbeddingCacheDirectoryTests {
    /// `--cache-dir`, then `$BIRDER_CACHE_DIR`, then the XDG cache (an absolute `$XDG_CACHE_HOME`,
    /// else `~/.cache`), beside the models' default directory.
    @Test func theDirectoryFollowsTheEnvironment() {
        #expect(EmbeddingCache(directory: "/given", environment: ["BIRDER_CACHE_DIR": "/set"]).directory.path == "/given")
        #expect(EmbeddingCache(environment: ["BIRDER_CACHE_DIR": "/set", "XDG_CACHE_HOME": "/xdg"]).directory.path == "/set")
        #expect(EmbeddingCache(environment: ["BIRDER_CACHE_DIR": "", "XDG_CACHE_HOME": "/xdg"]).directory.path == "/xdg/birder")
        #expect(EmbeddingCache(environment: ["XDG_CACHE_HOME": "relative"]).directory.path
                == (NSHomeDirectory() as NSString).appendingPathComponent(".cache/birder"))
    }
}
