import Foundation
import Testing
@testable import BirderModels
import BirderCore
import BirderTestSupport

/// The Swift ViT against Birder 0.8.4 (tools/reference/make_vit_fixtures.py): same seeded weights,
/// same seeded inputs, outputs compared as max |Δ| / max |reference|.
@Suite(.serialized) struct ViTParityTests {
    static let tolerance: Float = 1e-4

    static func cases() throws -> [ViTManifest.Model] { try ViTManifest.load().models }

    static func build(_ c: ViTManifest.Model, seed: UInt64) throws -> ViT {
        let config = try ViTConfig.forNetwork(c.network, overrides: c.config.configValues)
        return try ViT(config: config, binder: ParameterBinder(seeded: SeededParameters(seed: seed)),
                       numClasses: c.numClasses, size: (c.size[0], c.size[1]),
                       adjustedSize: c.adjustSize.map { ($0[0], $0[1]) }, dynamicSize: c.dynamic, kernels: testContext.kernels)
    }

    @discardableResult
    static func compare(_ label: String, _ ours: [Float], _ reference: [Float]) -> Float {
        let (diff, ref) = maxAbsDifference(ours, reference)
        let relative = diff / max(ref, 1e-12)
        print("ViT parity \(label): max|Δ| = \(diff), max|ref| = \(ref), ratio = \(relative)")
        #expect(relative <= tolerance, "\(label): max|Δ|/max|ref| = \(relative)")
        return relative
    }

    /// Runs one fixture case on `vit` and compares every output.
    static func check(_ vit: ViT, _ c: ViTManifest.Model, seed: UInt64) throws {
        let input = ViTTestInput.nhwc(seed: seed, nchw: c.inputShape)
        let started = Date()
        let (embedding, features) = try vit.embeddingAndFeatures(input, context: testContext)
        print("ViT parity \(c.tag): forward of \(c.inputShape) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")

        #expect(embedding.shape == c.embedding.shape)
        compare("\(c.tag) embedding", embedding.scalars, try ViTManifest.values(c.embedding))

        if let probabilities = c.probabilities {
            let classifier = try #require(vit.classifier)
            let ours = try classifier.probabilities(embedding, context: testContext)
            #expect(ours.shape == probabilities.shape)
            compare("\(c.tag) probabilities", ours.scalars, try ViTManifest.values(probabilities))
        } else {
            #expect(vit.classifier == nil)
        }

        #expect(c.stages == vit.stageNames)
        #expect(features.shape == c.detectionShape)
        // The fixture keeps every `detectionChannelStride`-th channel.
        let (n, d, h, w) = (features.shape[0], features.shape[1], features.shape[2], features.shape[3])
        let stride = c.detectionChannelStride
        let kept = (d + stride - 1) / stride
        var subsampled = [Float]()
        subsampled.reserveCapacity(n * kept * h * w)
        features.withUnsafeBufferPointer { f in
            for b in 0..<n { for ch in Swift.stride(from: 0, to: d, by: stride) {
                subsampled.append(contentsOf: f[((b * d + ch) * h * w)..<((b * d + ch + 1) * h * w)])
            } }
        }
        #expect(c.detection.shape == [n, kept, h, w])
        compare("\(c.tag) detection features", subsampled, try ViTManifest.values(c.detection))
    }

    /// The full vit_b16_pn, built once (seeded weights are slow to generate in debug builds): at
    /// 224 with batch 2; rebuilt for 160×224 (`adjust_size`, antialiased position resize, as
    /// `load_model(new_size=...)`); fed 240×256 with dynamic size (per-input resize).
    @Test func vitB16PNMatchesBirder() throws {
        let manifest = try ViTManifest.load()
        func model(_ tag: String) throws -> ViTManifest.Model { try #require(manifest.models.first { $0.tag == tag }) }
        let base = try model("b16pn_224")
        let vit = try Self.build(base, seed: manifest.seed)
        try Self.check(vit, base, seed: manifest.seed)

        let adjusted = try model("b16pn_adjust_160x224")
        let size = try #require(adjusted.adjustSize)
        try Self.check(try vit.adjustingSize(to: (size[0], size[1])), adjusted, seed: manifest.seed)

        let dynamic = try model("b16pn_dynamic_240x256")
        #expect(dynamic.dynamic && dynamic.size == base.size)
        try Self.check(vit.withDynamicSize(true), dynamic, seed: manifest.seed)
    }

    /// Small configs through registry overrides: post-norm with patch bias, register tokens and
    /// layer scale; average pooling, quick GELU, no qkv bias, norm after pool, built for another size.
    @Test(arguments: ["tiny_reg_ls", "tiny_avg_pn"])
    func smallConfigsMatchBirder(tag: String) throws {
        let manifest = try ViTManifest.load()
        let c = try #require(manifest.models.first { $0.tag == tag })
        try Self.check(try Self.build(c, seed: manifest.seed), c, seed: manifest.seed)
    }

    /// The public single-output calls agree with the fused one (and `neck` is `stage1`).
    @Test func publicCallsAgree() throws {
        let manifest = try ViTManifest.load()
        let c = try #require(manifest.models.first { $0.tag == "tiny_reg_ls" })
        let vit = try Self.build(c, seed: manifest.seed)
        let input = ViTTestInput.nhwc(seed: manifest.seed, nchw: c.inputShape)
        let both = try vit.embeddingAndFeatures(input, context: testContext)
        #expect(try vit.embedding(input, context: testContext).scalars == both.embedding.scalars)
        let stages = try vit.detectionFeatures(input, context: testContext)
        #expect(stages.map(\.name) == ["stage1"])
        #expect(stages[0].features.scalars == both.features.scalars)
        #expect(try vit.detectionFeatures(input, stage: "neck", context: testContext).scalars == both.features.scalars)
        #expect(ViT.stageName(for: "neck") == "stage1")
        #expect(ViT.stageName(for: "stage2") == nil)
        #expect(throws: ModelInputError.self) { try vit.detectionFeatures(input, stage: "stage2", context: testContext) }
        let probabilities = try vit.probabilities(input, context: testContext)
        Self.compare("tiny_reg_ls probabilities (public call)", probabilities.scalars,
                     try ViTManifest.values(try #require(c.probabilities)))
        // One image at a time gives the same rows as the batch.
        let single = try vit.embedding(input.rows(1..<2), context: testContext)
        let (diff, _) = maxAbsDifference(single.scalars, both.embedding.rows(1..<2).scalars)
        #expect(diff <= 1e-5, "batch vs single image: \(diff)")
    }

    /// Inputs whose size the network was not built for: refused without dynamic size, and any
    /// size that is not a multiple of the patch is refused.
    @Test func refusesBadInputs() throws {
        let manifest = try ViTManifest.load()
        var c = try #require(manifest.models.first { $0.tag == "tiny_reg_ls" })
        let vit = try Self.build(c, seed: manifest.seed)  // 64×48, dynamic off
        #expect(throws: ModelInputError.self) { try vit.embedding(Tensor(zeros: [1, 80, 48, 3]), context: testContext) }
        #expect(throws: ModelInputError.self) { try vit.embedding(Tensor(zeros: [1, 64, 40, 3]), context: testContext) }
        #expect(throws: ModelInputError.self) { try vit.embedding(Tensor(zeros: [1, 64, 48, 4]), context: testContext) }
        #expect(throws: ModelInputError.self) { try vit.embedding(Tensor(zeros: [64, 48, 3]), context: testContext) }
        c = ViTManifest.Model(tag: c.tag, network: c.network, config: c.config, numClasses: c.numClasses,
                              size: c.size, adjustSize: c.adjustSize, dynamic: true, inputShape: c.inputShape,
                              embedding: c.embedding, probabilities: c.probabilities, detectionShape: c.detectionShape,
                              detectionChannelStride: c.detectionChannelStride, detection: c.detection, stages: c.stages)
        let dynamic = try Self.build(c, seed: manifest.seed)
        #expect(try dynamic.embedding(Tensor(zeros: [1, 80, 48, 3]), context: testContext).shape == [1, 64])
    }
}
