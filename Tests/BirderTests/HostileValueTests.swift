import BirderCore
import BirderEval
import BirderIO
import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// Issue 14, items 2 and 7: checkpoint metadata and sizes out of range are errors naming the file
/// (never an overflow trap or a huge allocation), and non-finite outputs are per-image errors
/// (never uniform probabilities presented as an answer). Each case is a file written here from the
/// tiny RDNet fixture with one value made hostile.
@Suite struct HostileValueTests {
    static let model = Fixtures.path("cli/models/rdnet_t_tiny-test.pt")
    static let headFile = Fixtures.path("cli/models/rdnet_t_tiny-test-order.head.pt")
    static let photo = Fixtures.path("cli/photos/a_chelsea.jpg")

    /// A fresh directory, removed by the caller's `defer`.
    static func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The fixture checkpoint with `change` applied, written as `name` in `dir`.
    static func variant(_ name: String, in dir: URL, _ change: (inout Checkpoint) throws -> Void) throws -> String {
        var checkpoint = try Checkpoint.load(model)
        try change(&checkpoint)
        let path = dir.appendingPathComponent(name).path
        try checkpoint.write(to: path, format: .pt)
        return path
    }

    /// Loading `path` fails with one message that names it.
    static func expectRefused(_ path: String, mentioning words: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BirderModel.load(path)
            Issue.record("\(path) loaded", sourceLocation: sourceLocation)
        } catch {
            let message = String(describing: error)
            #expect(message.contains(path), "\(message)", sourceLocation: sourceLocation)
            #expect(!message.contains("\n"), "\(message)", sourceLocation: sourceLocation)
            for word in words { #expect(message.contains(word), "\(message)", sourceLocation: sourceLocation) }
        }
    }

    // MARK: Config numbers (overflowed in validation before the bounds)

    @Test(arguments: [
        // The fixture's config has two stages; each list keeps that length so the number itself
        // is what is refused.
        ("growth_rates", ConfigValue.list(Array(repeating: .int(Int.max / 2), count: 2))),
        ("num_blocks_list", .list(Array(repeating: .int(Int.max / 3), count: 2))),
        ("num_init_features", .int(Int.max)),
        ("growth_rates", .list(Array(repeating: .int(RDNetConfig.maximumWidth + 1), count: 2))),
    ])
    func hugeRDNetConfigNumbersAreRefused(key: String, value: ConfigValue) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.variant("rdnet_t_hostile.pt", in: dir) { checkpoint in
            var config = checkpoint.config ?? [:]
            config[key] = value
            checkpoint.config = config
        }
        Self.expectRefused(path, mentioning: ["at most"])
    }

    @Test func rdnetConfigBoundsHoldWithoutACheckpoint() throws {
        var config = RDNetConfig.rdnetT
        config.numBlocksList = Array(repeating: Int.max, count: 7)
        #expect(throws: (any Error).self) { try config.validate() }
        config = .rdnetT
        config.growthRates = Array(repeating: RDNetConfig.maximumWidth, count: 7)
        config.numBlocksList = Array(repeating: RDNetConfig.maximumBlocksPerStage, count: 7)
        // Each number in range, their sum of products not: the running width is bounded too.
        #expect(throws: (any Error).self) { try config.validate() }
        #expect(throws: Never.self) { try RDNetConfig.rdnetL.validate() }
    }

    @Test(arguments: ["hidden_dim", "mlp_dim", "num_layers", "patch_size", "num_reg_tokens", "num_heads"])
    func hugeViTConfigNumbersAreRefused(key: String) throws {
        #expect(throws: (any Error).self) { try ViTConfig.forNetwork("vit_t16", overrides: [key: .int(Int.max)]) }
        #expect(throws: Never.self) { try ViTConfig.forNetwork("vit_e14") }
    }

    // MARK: Signature

    @Test(arguments: [[1_000_000, 1_000_000], [Int.max, Int.max], [224, Signature.maximumSide + 1]])
    func aSignatureClaimingAnEnormousInputIsRefused(size: [Int]) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.variant("rdnet_t_huge-input.pt", in: dir) { checkpoint in
            checkpoint.signature = Signature(inputSize: size, numClasses: checkpoint.signature.numClasses)
        }
        Self.expectRefused(path, mentioning: ["signature", "out of range"])
    }

    @Test func aSignatureWithAbsurdClassOrChannelCountsIsRefused() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let classes = try Self.variant("rdnet_t_classes.pt", in: dir) { checkpoint in
            checkpoint.signature = Signature(inputSize: checkpoint.signature.inputSize, numClasses: Int.max)
        }
        Self.expectRefused(classes, mentioning: ["signature"])
        let channels = try Self.variant("rdnet_t_channels.pt", in: dir) { checkpoint in
            checkpoint.signature = Signature(inputChannels: Int.max, inputSize: checkpoint.signature.inputSize, numClasses: 4)
        }
        Self.expectRefused(channels, mentioning: ["signature"])
    }

    // MARK: Zero classes

    @Test func aHeadWithZeroClassesIsRefusedNamingIt() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let width = try BirderModel.load(Self.model).embeddingSize
        let path = dir.appendingPathComponent("empty.head.pt").path
        try Head(weight: Tensor(zeros: [0, width]), bias: Tensor(zeros: [0]), classNames: []).write(to: path)
        do {
            _ = try BirderModel.load(Self.model, heads: [path])
            Issue.record("a head with no classes was attached")
        } catch {
            let message = String(describing: error)
            #expect(message.contains(path) && message.contains("no classes"), "\(message)")
        }
    }

    @Test func aCheckpointClassifierWithZeroRowsSaysSoInsteadOfAShapeThatAgrees() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = try Self.variant("rdnet_t_no-classes.pt", in: dir) { checkpoint in
            let width = try checkpoint.state.float32Tensor(named: "classifier.weight").shape[1]
            let entries = try checkpoint.state.names.map { name -> (String, Tensor) in
                switch name {
                case "classifier.weight": return (name, Tensor(zeros: [0, width]))
                case "classifier.bias": return (name, Tensor(zeros: [0]))
                default: return (name, try checkpoint.state.float32Tensor(named: name))
                }
            }
            checkpoint.state = StateDict(float32: entries)
            checkpoint.classNames = []
            checkpoint.signature = Signature(inputSize: checkpoint.signature.inputSize, numClasses: 0)
        }
        do {
            _ = try BirderModel.load(path)
            Issue.record("a classifier with no classes was loaded")
        } catch {
            let message = String(describing: error)
            #expect(message.contains(path) && message.contains("no classes"), "\(message)")
            #expect(!message.contains("the network needs"), "\(message)")
        }
    }

    // MARK: Batch sizes

    @Test func sessionBatchSizesOutsideTheirRangeAreRefused() throws {
        let model = try BirderModel.load(Self.model)
        #expect(throws: SessionError.invalidBatchSize(InferenceSession.maximumBatchSize + 1)) {
            try InferenceSession(model: model, batchSize: InferenceSession.maximumBatchSize + 1)
        }
        #expect(throws: SessionError.invalidBatchSize(0)) { try InferenceSession(model: model, batchSize: 0) }
        // Classify clamps top-k to the classes (4) instead of failing or padding.
        let session = try InferenceSession(model: model, batchSize: 1)
        let result = try session.classify(.path(Self.photo), topK: 1_000_000_000)
        #expect(result["classifier"]?.top.count == 4)
    }

    // MARK: Non-finite outputs (item 7)

    /// The fixture with every value of `tensor` replaced by `value`.
    static func poisoned(_ tensor: String, with value: Float, in dir: URL) throws -> String {
        try variant("rdnet_t_poisoned.pt", in: dir) { checkpoint in
            let entries = try checkpoint.state.names.map { name -> (String, Tensor) in
                var t = try checkpoint.state.float32Tensor(named: name)
                if name == tensor { t = Tensor(shape: t.shape, repeating: value) }
                return (name, t)
            }
            checkpoint.state = StateDict(float32: entries)
        }
    }

    @Test(arguments: [Float.nan, Float.infinity])
    func nonFiniteWeightsGiveAnErrorPerImageNotAnAnswer(value: Float) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let stem = try #require(try Checkpoint.load(Self.model).state.names.first { $0.hasSuffix(".weight") })
        let model = try BirderModel.load(try Self.poisoned(stem, with: value, in: dir))
        let session = try InferenceSession(model: model, batchSize: 2)
        let inputs = [ImageInput.path(Self.photo), .path(Self.photo), .path(Fixtures.path("cli/photos/insects/b_coffee.png"))]
        for item in session.embed(inputs) {
            guard case let .failure(.nonFiniteOutput(name, what, _)) = item.result else {
                Issue.record("\(item.name): \(item.result)")
                continue
            }
            #expect(name == item.name && what == "embedding")
        }
        for item in try session.classify(inputs, topK: 3) {
            guard case .failure(.nonFiniteOutput) = item.result else { Issue.record("\(item.name): \(item.result)"); continue }
        }
    }

    @Test func aHeadWithNaNWeightsFailsClassificationWhileEmbeddingsStayGood() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let head = try Head.load(Self.headFile)
        let path = dir.appendingPathComponent("nan.head.pt").path
        try Head(weight: Tensor(shape: head.weight.shape, repeating: .nan), bias: head.bias, classNames: head.classNames)
            .write(to: path)
        let session = try InferenceSession(model: try BirderModel.load(Self.model, heads: [path]))
        let item = try #require(try session.classify([.path(Self.photo)]).next())
        guard case let .failure(error) = item.result, case let .nonFiniteOutput(name, what, _) = error else {
            Issue.record("\(item.result)")
            return
        }
        #expect(name == Self.photo && what.contains("nan.head.pt"))
        #expect(error.description.hasPrefix("\(Self.photo): "))
        #expect(try session.embed(.path(Self.photo)).allSatisfy(\.isFinite))
    }

    // MARK: Evaluations over nothing

    @Test func evaluatingAProbeOnNoSamplesIsAnError() {
        #expect(throws: EvaluationError.self) {
            try LinearProbe.evaluate(weight: [1, 0, 0, 1], bias: [0, 0], features: [], labels: [])
        }
    }

    @Test func umapSaysWhichConditionFails() throws {
        do {
            _ = try UMAP.embed(points: [], n: 20, d: 0, options: UMAPOptions())
            Issue.record("UMAP ran on 0 dimensions")
        } catch {
            let message = String(describing: error)
            #expect(message.contains("0 dimensions") && !message.contains("at least 2 points"), "\(message)")
        }
    }
}
