import Foundation
import Testing
import BirderCore
@testable import BirderModels
import BirderTestSupport

/// An in-memory state dict: names and shapes from a fixture listing, zero-valued tensors (the
/// values do not matter for binding), with edits to make it incomplete or wrong.
struct ListedSource: ParameterSource {
    var shapes: [String: [Int]]
    var order: [String]

    /// Reads `name [d0, d1, …]` lines (tools/reference/make_rdnet_fixtures.py's state-dict dumps).
    init(listing relativePath: String) throws {
        let text = try String(contentsOf: Fixtures.url(relativePath), encoding: .utf8)
        shapes = [:]
        order = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ", maxSplits: 1)
            let dims = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                .split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces))! }
            shapes[String(parts[0])] = dims
            order.append(String(parts[0]))
        }
    }

    var parameterNames: [String] { order }
    func shape(of name: String) -> [Int]? { shapes[name] }
    func float32Tensor(named name: String) throws -> Tensor {
        guard let shape = shapes[name] else { throw WeightBindingError.missing(name: name) }
        return Tensor(zeros: shape)
    }

    mutating func remove(_ name: String) { shapes[name] = nil; order.removeAll { $0 == name } }
    mutating func add(_ name: String, _ shape: [Int]) { shapes[name] = shape; order.append(name) }
}

@Suite struct RDNetLoadingTests {
    @Test func loadsEveryBirderTensorOfRDNetT() throws {
        let source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        #expect(source.order.count == 251)
        let net = try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        #expect(net.network == "rdnet_t")
        #expect(net.classifier?.numClasses == 1000)
        #expect(net.embeddingSize == 1040)
    }

    @Test func loadsEveryBirderTensorOfRDNetS() throws {
        let source = try ListedSource(listing: "rdnet/state_dict_rdnet_s.txt")
        let net = try RDNet(config: .rdnetS, binder: ParameterBinder(source: source), numClasses: 1000, kernels: testContext.kernels)
        #expect(net.embeddingSize == 1264)
        #expect(net.stageNames == ["stage1", "stage2", "stage3", "stage4"])
    }

    @Test func refusesAMissingTensor() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.remove("body.stage3.8.layers.1.layers.5.fc.bias")
        let error = #expect(throws: WeightBindingError.self) {
            try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        }
        #expect(error == .missing(name: "body.stage3.8.layers.1.layers.5.fc.bias"))
        print("missing tensor refused: \(error!)")
    }

    @Test func refusesAnExtraTensor() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.add("body.stage4.2.layers.3.gamma", [224])
        let error = #expect(throws: WeightBindingError.self) {
            try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        }
        #expect(error == .unused(names: ["body.stage4.2.layers.3.gamma"]))
        #expect(error?.description.contains("body.stage4.2.layers.3.gamma") == true)
    }

    @Test func refusesAWrongShape() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.shapes["body.stage2.2.layers.1.layers.2.weight"] = [928, 232, 3, 3]
        let error = #expect(throws: WeightBindingError.self) {
            try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        }
        #expect(error == .shapeMismatch(name: "body.stage2.2.layers.1.layers.2.weight",
                                        expected: [928, 232, 1, 1], found: [928, 232, 3, 3]))
    }

    @Test func refusesAClassifierOfAnotherWidth() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.shapes["classifier.weight"] = [1000, 1024]
        #expect(throws: WeightBindingError.self) {
            try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        }
        let complete = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        #expect(throws: WeightBindingError.self) {
            try RDNet(config: .rdnetT, binder: ParameterBinder(source: complete), numClasses: 42, kernels: testContext.kernels)
        }
    }

    @Test func loadsWithoutAClassifier() throws {
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.remove("classifier.weight")
        source.remove("classifier.bias")
        let net = try RDNet(config: .rdnetT, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        #expect(net.classifier == nil)
        #expect(throws: WeightBindingError.self) { try net.probabilities(Tensor(zeros: [1, 32, 32, 3]), context: testContext) }
    }

    @Test func refusesBadInputs() throws {
        let net = try RDNet(config: .rdnetT, binder: ParameterBinder(seeded: SeededParameters(seed: 1)), kernels: testContext.kernels)
        for shape in [[1, 224, 224], [1, 224, 224, 1], [1, 100, 224, 3], [0, 224, 224, 3]] {
            #expect(throws: ModelInputError.self) { try net.embedding(Tensor(zeros: shape), context: testContext) }
        }
    }
}

@Suite struct RDNetConfigTests {
    struct Widths: Decodable { let return_channels: [Int]; let embedding_size: Int }

    @Test func registeredConfigsMatchBirder() throws {
        let birder = try Fixtures.json([String: Widths].self, "rdnet/return_channels.json")
        for (name, widths) in birder {
            let config = try #require(RDNetConfig.named(name))
            try config.validate()
            #expect(config.name == name)
            #expect(config.returnChannels == widths.return_channels, "\(name)")
            #expect(config.returnChannels.last == widths.embedding_size)
        }
        #expect(RDNetConfig.named("rdnet_x") == nil)
    }

    @Test func checkpointConfigOverrides() throws {
        let config = try RDNetConfig.rdnetT.overridden(by: [
            "num_init_features": .int(32),
            "growth_rates": .list([.int(16), .int(24)]),
            "num_blocks_list": .list([.int(2), .int(1)]),
            "is_downsample_block": .list([.bool(false), .bool(true)]),
            "transition_compression_ratio": .double(0.5),
            "block_type_name": .list([.string("Block"), .string("BlockESE")]),
            "drop_path_rate": .double(0.3),
            "head_bias": .bool(false),
        ])
        #expect(config.numInitFeatures == 32)
        #expect(config.growthRates == [16, 24])
        #expect(config.headBias == false)
        #expect(config.returnChannels == [64, 56])
        #expect(config.name == "rdnet_t")
        // Nothing overridden: the registered config.
        #expect(try RDNetConfig.rdnetT.overridden(by: ["drop_path_rate": .double(0.1)]) == .rdnetT)
    }

    @Test func refusesBadOverrides() {
        let bad: [[String: ConfigValue]] = [
            ["growth_rates": .list([.int(64)])],                                   // lengths disagree
            ["growth_rates": .string("64")],                                       // wrong type
            ["num_init_features": .int(0)],                                        // not positive
            ["block_type_name": .list(Array(repeating: .string("Dense"), count: 7))],
            ["is_downsample_block": .list(Array(repeating: .int(1), count: 7))],
            ["transition_compression_ratio": .double(1.5)],
            ["mlp_head": .bool(true)],
        ]
        for overrides in bad {
            #expect(throws: WeightBindingError.self, "\(overrides)") {
                try RDNetConfig.rdnetT.overridden(by: overrides)
            }
        }
    }

    @Test func headWithoutBiasLoads() throws {
        let config = try RDNetConfig.rdnetT.overridden(by: ["head_bias": .bool(false)])
        var source = try ListedSource(listing: "rdnet/state_dict_rdnet_t.txt")
        source.remove("classifier.bias")
        let net = try RDNet(config: config, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        #expect(net.classifier?.bias.scalars.allSatisfy { $0 == 0 } == true)
    }
}

@Suite struct RDNetChunkPlanTests {
    @Test(arguments: [(448, 56), (56, 7), (7, 7), (14, 14), (112, 14), (1, 7), (64, 256)])
    func chunksCoverEveryLineOnce(lines: Int, width: Int) {
        for workers in [1, 2, 3, 16] {
            let plan = ChunkPlan(lines: lines, width: width, workers: workers)
            let ranges = (0..<plan.count).map(plan.lines(of:))
            #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == lines)
            #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound && !$1.isEmpty })
            // Never more rows than the target unless a single line is wider; enough chunks to share.
            #expect(plan.linesPerChunk * width <= max(ChunkPlan.targetRows, width, ChunkPlan.minimumRows + width))
            if lines * width >= 2 * workers * ChunkPlan.targetRows { #expect(plan.count >= 2 * workers) }
            if workers > 1 && lines >= 2 { #expect(plan.count >= 2) }
            // Balanced: chunks differ by at most one line, and each worker gets as many.
            let sizes = ranges.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1 && sizes.max() == plan.linesPerChunk)
            #expect(plan.count % workers == 0 || plan.count == lines)
        }
    }
}
