import BirderTestSupport
import Foundation
import Testing
@testable import Birder

/// A network family the library does not ship, registered by the test alone: patches of 4×4
/// pixels → linear projection → mean over patches → LayerNorm. Loading it from a checkpoint the
/// test writes and running it through a session proves the family seam end to end.
struct TinyPatchFamily: NetworkFamily {
    let name = "tinypatch"
    let networks = ["tinypatch_t"]

    func identify(_ parameters: any ParameterSource, config: [String: ConfigValue]) -> [String] {
        parameters.shape(of: "patch.weight")?.count == 4 ? ["tinypatch_t"] : []
    }

    func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?, config: [String: ConfigValue],
                     inputSize: [Int]?, kernels: KernelTable) throws -> any ImageEncoder {
        try TinyPatchNet(binder: binder, kernels: kernels)
    }
}

final class TinyPatchNet: ImageEncoder {
    static let width = 6
    let network = "tinypatch_t"
    var embeddingSize: Int { Self.width }
    let inputMultiple = 4
    let stageNames = ["stage1"]
    let classifier: LinearClassifier? = nil
    let packedFor: KernelTable
    let projection: PackedLinear
    let normWeight: Tensor, normBias: Tensor

    init(binder: ParameterBinder, kernels: KernelTable) throws {
        let d = Self.width
        let weight = try binder.tensor("patch.weight", shape: [d, 3, 4, 4])
        projection = PackedLinear(weight: convWeightToPatchOrder(weight), bias: try binder.tensor("patch.bias", shape: [d]),
                                  kernels: kernels)
        normWeight = try binder.tensor("norm.weight", shape: [d])
        normBias = try binder.tensor("norm.bias", shape: [d])
        packedFor = kernels
        try binder.finish()
    }

    func embedding(_ batch: Tensor, context: ComputeContext) throws -> Tensor {
        try validateInput(batch, context: context)
        let (n, h, w, d) = (batch.shape[0], batch.shape[1], batch.shape[2], Self.width)
        let patches = (h / 4) * (w / 4)
        var rows = [Float](repeating: 0, count: n * patches * 48), tokens = [Float](repeating: 0, count: n * patches * d)
        batch.withUnsafeBufferPointer { x in
            extractPatchesNHWC(x.baseAddress!, batch: n, height: h, width: w, channels: 3, patch: 4, output: &rows, context: context)
        }
        context.linearRows(rows, rows: n * patches, lda: 48, projection, c: &tokens, ldc: d)
        var out = Tensor(zeros: [n, d])
        out.withUnsafeMutableBufferPointer { o in
            meanPoolNHWC(tokens, batch: n, pixels: patches, channels: d, output: o.baseAddress!)
            context.kernels.layerNormRows(o.baseAddress!, rows: n, columns: d, inputStride: d,
                                          weight: normWeight.storage.baseAddress, bias: normBias.storage.baseAddress,
                                          epsilon: 1e-5, output: o.baseAddress!, outputStride: d)
        }
        return out
    }

    func detectionFeatures(_ batch: Tensor, context: ComputeContext) throws -> [(name: String, features: Tensor)] {
        throw ModelInputError.badShape(network: network, shape: batch.shape, reason: "no feature maps")
    }
}

@Suite struct NetworkFamilyTests {
    @Test func aFamilyRegisteredByTheTestLoadsAndRuns() throws {
        var random = TestRandom(seed: 3)
        let d = TinyPatchNet.width
        let weight = random.floats(d * 48, scale: 0.2), bias = random.floats(d), gamma = random.floats(d), beta = random.floats(d)
        let checkpoint = Checkpoint(
            state: StateDict(float32: [("patch.weight", Tensor(shape: [d, 3, 4, 4], values: weight)),
                                       ("patch.bias", Tensor(shape: [d], values: bias)),
                                       ("norm.weight", Tensor(shape: [d], values: gamma)),
                                       ("norm.bias", Tensor(shape: [d], values: beta))]),
            signature: Signature(inputSize: [8, 12], numClasses: 0), classNames: [], rgbStats: .birder)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("birder-family-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("mystery.pt").path
        try checkpoint.write(to: file, format: .pt)

        // The built-in registry does not know it; the test's registry does, from the weights alone.
        #expect(throws: (any Error).self) { try BirderModel.load(file) }
        let registry = NetworkRegistry.builtIn.adding(TinyPatchFamily())
        #expect(registry.names.contains("tinypatch_t") && registry.names.contains("rdnet_t"))
        let model = try BirderModel.load(file, registry: registry)
        #expect(model.network == "tinypatch_t" && model.inputSize == ImageSize(height: 8, width: 12))

        // An 8×12 image needs no resize: the reference is the network written out by hand.
        let image = RGBImage(width: 12, height: 8, pixels: (0..<(8 * 12 * 3)).map { UInt8(($0 * 37) % 256) })
        let embedding = try InferenceSession(model: model).embed(.decoded(image, name: "pattern"))
        let stats = RGBStats.birder
        var pooled = [Double](repeating: 0, count: d)
        for py in 0..<2 { for px in 0..<3 { for o in 0..<d {
            var s = Double(bias[o])
            for c in 0..<3 { for ky in 0..<4 { for kx in 0..<4 {
                let pixel = Double(image.pixels[((py * 4 + ky) * 12 + px * 4 + kx) * 3 + c]) / 255
                s += (pixel - stats.mean[c]) / stats.std[c] * Double(weight[((o * 3 + c) * 4 + ky) * 4 + kx])
            } } }
            pooled[o] += s / 6
        } } }
        let mean = pooled.reduce(0, +) / Double(d)
        let variance = pooled.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
        let reference = (0..<d).map { Float((pooled[$0] - mean) / (variance + 1e-5).squareRoot() * Double(gamma[$0]) + Double(beta[$0])) }
        let (diff, _) = maxAbsDifference(embedding, reference)
        #expect(diff < 1e-4, "max |Δ| \(diff)")
    }

    @Test func theRegistryIsTheOneListOfNetworks() {
        let registry = NetworkRegistry.builtIn
        #expect(registry.names.contains("rdnet_t") && registry.names.contains("vit_b16_pn") && registry.names.contains("vit_reg4_b16"))
        #expect(registry.network(inFileName: "vit_reg4_b16_mim.pt") == "vit_reg4_b16")
        #expect(registry.network(inFileName: "rdnet_t_ibot-bioscan5m.pt") == "rdnet_t")
        #expect(registry.network(inFileName: "resnet_v1_50.pt") == nil)
        // Every catalogue model's network is one the library builds.
        for model in ModelStore.published { #expect(registry.family(of: model.network) != nil, "\(model.name)") }
    }
}
