import Foundation
import Testing
@testable import BirderModels
import BirderCore
import BirderTestSupport

@Suite struct ViTConfigTests {
    /// Every config Birder 0.8.4 registers on its ViT class (Tests/Fixtures/vit/registry.json):
    /// those in our table equal the registry's dict applied to an empty config; every other one is
    /// refused for a feature we do not implement (so none was forgotten).
    @Test func tableMatchesBirdersRegistry() throws {
        let registry = try Fixtures.json([String: [String: JSONScalar]].self, "vit/registry.json")
        #expect(registry.count > 100)
        var covered = 0
        for (name, dict) in registry.sorted(by: { $0.key < $1.key }) {
            let blank = ViTConfig(network: name, patchSize: 0, numLayers: 0, numHeads: 0, hiddenDim: 0, mlpDim: 0)
            if let ours = ViTConfig.registered(name) {
                #expect(try blank.overridden(by: dict.configValues) == ours, "\(name)")
                covered += 1
            } else {
                #expect(throws: WeightBindingError.self, "\(name) is a plain ViT missing from the table") {
                    try blank.overridden(by: dict.configValues)
                }
            }
        }
        #expect(covered == ViTConfig.registeredNetworks.count)
        #expect(Set(ViTConfig.registeredNetworks).isSubset(of: Set(registry.keys)))
    }

    @Test func namedPresets() {
        let b = ViTConfig.vitB16PN
        #expect(b.network == "vit_b16_pn")
        #expect((b.patchSize, b.numLayers, b.numHeads, b.hiddenDim, b.mlpDim) == (16, 12, 12, 768, 3072))
        #expect(b.preNorm && b.postNorm && b.classToken && b.qkvBias && !b.layerScale)
        #expect(b.normEpsilon == 1e-5 && b.numRegTokens == 0 && b.activation == .exact)
        #expect(ViTConfig.vitB16.normEpsilon == 1e-6 && !ViTConfig.vitB16.preNorm)
        #expect((ViTConfig.vitT16.hiddenDim, ViTConfig.vitT16.numHeads) == (192, 3))
        #expect((ViTConfig.vitS16.hiddenDim, ViTConfig.vitS16.numHeads) == (384, 6))
        #expect((ViTConfig.vitL16.numLayers, ViTConfig.vitL16.hiddenDim, ViTConfig.vitL16.patchSize) == (24, 1024, 16))
        #expect((ViTConfig.vitL14PN.patchSize, ViTConfig.vitL14PN.preNorm) == (14, true))
        #expect((ViTConfig.vitH14PN.numLayers, ViTConfig.vitH14PN.hiddenDim, ViTConfig.vitH14PN.mlpDim) == (32, 1280, 5120))
    }

    /// A checkpoint's `config` dictionary overrides the registered one, key by key.
    @Test func checkpointOverrides() throws {
        let config = try ViTConfig.forNetwork("vit_b16_pn", overrides: [
            "num_reg_tokens": .int(4), "layer_scale_init_value": .double(1e-5), "drop_path_rate": .double(0.2),
            "act_layer_type": .string("quick_gelu"), "class_token": .bool(false), "norm_layer_eps": .int(1),
            "stem_type": .string("patchify"), "qk_norm": .bool(false), "some_future_key": .string("ignored"),
        ])
        #expect(config.numRegTokens == 4 && config.layerScale && config.activation == .quick && !config.classToken)
        #expect(config.normEpsilon == 1 && config.hiddenDim == 768 && config.network == "vit_b16_pn")
        #expect(config.numSpecialTokens == 4)
        #expect(try ViTConfig.forNetwork("vit_b16_pn", overrides: ["dropout": .double(0.1)]).preBlockNormIndex == 1)
        #expect(try ViTConfig.forNetwork("vit_b16_pn", overrides: ["layer_scale_init_value": .null]).layerScale == false)
    }

    @Test(arguments: [
        ["mlp_layer_type": ConfigValue.string("SwiGLU_FFN")], ["attn_pool_head": .bool(true)], ["qk_norm": .bool(true)],
        ["norm_layer_type": .string("RMSNorm")], ["stem_type": .string("hmlp")], ["out_indices": .list([.int(-1)])],
        ["act_layer_type": .string("silu")], ["num_layers": .string("12")], ["pre_norm": .int(1)],
        ["hidden_dim": .int(770)], ["pos_embed_interpolation_mode": .string("nearest")], ["mlp_head": .bool(true)],
    ])
    func refusesWhatItCannotBuild(_ overrides: [String: ConfigValue]) {
        #expect(throws: WeightBindingError.self) { try ViTConfig.forNetwork("vit_b16_pn", overrides: overrides) }
    }

    @Test func unknownNetwork() {
        #expect(ViTConfig.registered("vit_b16_ap") == nil)
        #expect(throws: WeightBindingError.self) { try ViTConfig.forNetwork("rdnet_t") }
        let error = WeightBindingError.invalidConfig("x")
        #expect(error.description.contains("invalid network config"))
    }
}

/// Loading is strict: names and shapes are Birder's, nothing may be missing, extra or mis-shaped.
@Suite struct ViTStrictLoadingTests {
    /// vit_b16_pn asks for exactly the tensors of Birder's state_dict (1000 classes), by name and shape.
    @Test func namesAndShapesAreBirders() throws {
        let listing = try String(contentsOf: Fixtures.url("vit/state_dict_vit_b16_pn.txt"), encoding: .utf8)
        let source = ListingSource(listing: listing)
        #expect(source.shapes.count == 153)  // 12 blocks × 12 + 9
        #expect(source.shapes["encoder.block.11.mlp.3.weight"] == [768, 3072])
        let vit = try ViT(config: .vitB16PN, binder: ParameterBinder(source: source), kernels: testContext.kernels)
        #expect(vit.classifier?.numClasses == 1000)
        #expect(vit.embeddingSize == 768 && vit.inputMultiple == 16 && vit.network == "vit_b16_pn")
        #expect(vit.positionEmbedding?.rows == 197)
    }

    /// A tiny pre-norm config's full state, as a checkpoint would hold it.
    static let tiny: ViTConfig = {
        var c = ViTConfig(network: "vit_tiny_test", patchSize: 4, numLayers: 2, numHeads: 2, hiddenDim: 8, mlpDim: 12)
        c.preNorm = true
        c.normEpsilon = 1e-5
        return c
    }()

    static func tinyState(classes: Int = 3) throws -> [String: Tensor] {
        let seeded = SeededParameters(seed: 5)
        var shapes: [String: [Int]] = [
            "class_token": [1, 1, 8], "pos_embedding": [1, 1 + 4 * 4, 8], "conv_proj.weight": [8, 3, 4, 4],
            "encoder.pre_block.0.weight": [8], "encoder.pre_block.0.bias": [8],
            "norm.weight": [8], "norm.bias": [8], "classifier.weight": [classes, 8], "classifier.bias": [classes],
        ]
        for i in 0..<2 {
            let p = "encoder.block.\(i)."
            shapes[p + "norm1.weight"] = [8]; shapes[p + "norm1.bias"] = [8]
            shapes[p + "attn.qkv.weight"] = [24, 8]; shapes[p + "attn.qkv.bias"] = [24]
            shapes[p + "attn.proj.weight"] = [8, 8]; shapes[p + "attn.proj.bias"] = [8]
            shapes[p + "norm2.weight"] = [8]; shapes[p + "norm2.bias"] = [8]
            shapes[p + "mlp.0.weight"] = [12, 8]; shapes[p + "mlp.0.bias"] = [12]
            shapes[p + "mlp.3.weight"] = [8, 12]; shapes[p + "mlp.3.bias"] = [8]
        }
        var state: [String: Tensor] = [:]
        for (name, shape) in shapes { state[name] = try seeded.parameter(name: name, shape: shape) }
        return state
    }

    static func build(_ state: [String: Tensor]) throws -> ViT {
        try ViT(config: tiny, binder: ParameterBinder(source: DictionarySource(tensors: state)), size: (16, 16), kernels: testContext.kernels)
    }

    @Test func completeStateLoadsAndMatchesSeeded() throws {
        let state = try Self.tinyState()
        let loaded = try Self.build(state)
        #expect(loaded.classifier?.numClasses == 3)
        // The same values through the seeded binder give the same network.
        let seeded = try ViT(config: Self.tiny, binder: ParameterBinder(seeded: SeededParameters(seed: 5)),
                             numClasses: 3, size: (16, 16), kernels: testContext.kernels)
        let input = ViTTestInput.nhwc(seed: 9, nchw: [2, 3, 16, 16])
        #expect(try loaded.probabilities(input, context: testContext).scalars == seeded.probabilities(input, context: testContext).scalars)
    }

    @Test func missingTensorIsRefused() throws {
        var state = try Self.tinyState()
        state["encoder.block.1.attn.proj.bias"] = nil
        #expect(throws: WeightBindingError.missing(name: "encoder.block.1.attn.proj.bias")) { try Self.build(state) }
    }

    @Test func extraTensorIsRefused() throws {
        var state = try Self.tinyState()
        state["conv_proj.bias"] = Tensor(zeros: [8])  // a pre-norm network has no patch bias
        #expect(throws: WeightBindingError.unused(names: ["conv_proj.bias"])) { try Self.build(state) }
    }

    @Test func misShapedTensorIsRefused() throws {
        var state = try Self.tinyState()
        state["encoder.block.0.mlp.0.weight"] = Tensor(zeros: [8, 12])
        #expect(throws: WeightBindingError.shapeMismatch(name: "encoder.block.0.mlp.0.weight", expected: [12, 8], found: [8, 12])) {
            try Self.build(state)
        }
        // A position embedding laid out for another size than the one given.
        #expect(throws: WeightBindingError.self) {
            try ViT(config: Self.tiny, binder: ParameterBinder(source: DictionarySource(tensors: try Self.tinyState())),
                    size: (16, 20), kernels: testContext.kernels)
        }
    }

    @Test func classifierWidthComesFromTheCheckpoint() throws {
        let state = try Self.tinyState(classes: 5)
        #expect(try Self.build(state).classifier?.numClasses == 5)
        #expect(throws: WeightBindingError.self) {
            try ViT(config: Self.tiny, binder: ParameterBinder(source: DictionarySource(tensors: state)),
                    numClasses: 4, size: (16, 16), kernels: testContext.kernels)
        }
        var headless = state
        headless["classifier.weight"] = nil
        headless["classifier.bias"] = nil
        let encoder = try Self.build(headless)
        #expect(encoder.classifier == nil)
        #expect(throws: ModelInputError.self) { try encoder.probabilities(Tensor(zeros: [1, 16, 16, 3]), context: testContext) }
    }
}
