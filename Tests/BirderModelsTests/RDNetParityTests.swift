import Foundation
import Testing
import BirderCore
@testable import BirderModels
import BirderTestSupport

/// RDNet against Birder 0.8.4 (fixtures from tools/reference/make_rdnet_fixtures.py): the same
/// seeded parameters and inputs on both sides, every output compared element by element.
@Suite struct RDNetParityTests {
    struct Output: Decodable { let file: String; let shape: [Int]; let step: Int }
    struct Case: Decodable {
        let name: String
        let input_shape_nhwc: [Int]
        let outputs: [String: Output]
    }
    struct Manifest: Decodable {
        let seed: UInt64
        let num_classes: [String: Int]
        let tiny_config: [String: TinyValue]
        let cases: [Case]
    }
    /// The tiny config's JSON values (ints, floats, bools, strings, lists).
    enum TinyValue: Decodable {
        case value(ConfigValue)
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Bool.self) { self = .value(.bool(v)) }
            else if let v = try? c.decode(Int.self) { self = .value(.int(v)) }
            else if let v = try? c.decode(Double.self) { self = .value(.double(v)) }
            else if let v = try? c.decode(String.self) { self = .value(.string(v)) }
            else { self = .value(.list(try c.decode([TinyValue].self).map(\.config))) }
        }
        var config: ConfigValue { if case let .value(v) = self { return v }; return .null }
    }

    static func manifest() throws -> Manifest { try Fixtures.json(Manifest.self, "rdnet/manifest.json") }

    /// max |Δ| / max |ref| over the reference's elements (every `step`-th of ours).
    static func compare(_ ours: Tensor, _ output: Output, label: String) throws -> Float {
        #expect(ours.shape == output.shape, "\(label): shape \(ours.shape) vs \(output.shape)")
        let reference = try Fixtures.float32Array("rdnet/" + output.file)
        let mine = stride(from: 0, to: ours.count, by: output.step).map { ours[flat: $0] }
        try #require(mine.count == reference.count, "\(label): \(mine.count) vs \(reference.count) values")
        let (diff, ref) = maxAbsDifference(mine, reference)
        let relative = diff / max(ref, 1e-30)
        print("RDNet parity \(label): max|Δ| \(diff), max|ref| \(ref), relative \(relative)")
        return relative
    }

    static func model(_ manifest: Manifest, config: RDNetConfig, classes: Int) throws -> RDNet {
        try RDNet(config: config, binder: ParameterBinder(seeded: SeededParameters(seed: manifest.seed)),
                  numClasses: classes, kernels: testContext.kernels)
    }

    static func input(_ manifest: Manifest, _ c: Case) -> Tensor {
        SeededParameters(seed: manifest.seed).uniform(name: "input", shape: c.input_shape_nhwc, center: 0, halfWidth: 2)
    }

    /// Checks every output of case `caseName`; `onePass` takes embedding and features from one
    /// forward pass (`embeddingAndDetectionFeatures`), else from `embedding` and
    /// `detectionFeatures` separately.
    static func check(_ net: RDNet, _ manifest: Manifest, caseName: String, onePass: Bool) throws {
        let c = try #require(manifest.cases.first { $0.name == caseName })
        let x = input(manifest, c)
        let embedding: Tensor, features: [(name: String, features: Tensor)]
        if onePass {
            let both = try net.embeddingAndDetectionFeatures(x, context: testContext)
            embedding = try #require(both.embedding)
            features = both.features
        } else {
            embedding = try net.embedding(x, context: testContext)
            features = try net.detectionFeatures(x, context: testContext)
        }
        #expect(try compare(embedding, c.outputs["embedding"]!, label: "\(caseName) embedding") <= 1e-4)
        if let expected = c.outputs["probabilities"] {
            let probabilities = try #require(net.classifier).probabilities(embedding, context: testContext)
            #expect(try compare(probabilities, expected, label: "\(caseName) probabilities") <= 1e-4)
        }
        #expect(features.map(\.name) == net.stageNames)
        #expect(features.count == c.outputs.keys.filter { $0.hasPrefix("stage") }.count)
        for (name, map) in features {
            let expected = try #require(c.outputs[name], "no fixture for \(name)")
            #expect(try compare(map, expected, label: "\(caseName) \(name)") <= 1e-4)
        }
    }

    @Test func fullSizeRDNetT() throws {
        let manifest = try Self.manifest()
        let net = try Self.model(manifest, config: .rdnetT, classes: manifest.num_classes["t224"]!)
        #expect(net.embeddingSize == 1040)
        #expect(net.stageNames == ["stage1", "stage2", "stage3", "stage4"])
        try Self.check(net, manifest, caseName: "t224", onePass: true)
        try Self.check(net, manifest, caseName: "t64x160", onePass: false)
    }

    @Test func tinyConfigWithOddWidths() throws {
        let manifest = try Self.manifest()
        let overrides = manifest.tiny_config.mapValues(\.config)
        let config = try RDNetConfig.rdnetT.overridden(by: overrides)
        #expect(config.growthRates == [12, 20, 36])
        let net = try Self.model(manifest, config: config, classes: manifest.num_classes["tiny"]!)
        #expect(net.stageNames == ["stage1", "stage2", "stage3"])
        try Self.check(net, manifest, caseName: "tiny", onePass: false)
    }
}
