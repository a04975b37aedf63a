import Foundation
import Testing
@testable import BirderCore
import BirderTestSupport

/// The ViT kernels (attention, fused element-wise steps, position-embedding interpolation) against
/// naive Double-precision loops and, for interpolation, against PyTorch's own output.
@Suite struct TransformerKernelTests {
    // MARK: attention

    /// softmax(q·kᵀ·scale)·v per (image, head), done the slow way.
    func naiveAttention(_ qkv: [Float], batch: Int, tokens: Int, heads: Int, headDim: Int, scale: Double) -> [Float] {
        let width = heads * headDim
        var out = [Float](repeating: 0, count: batch * tokens * width)
        for b in 0..<batch { for h in 0..<heads { for i in 0..<tokens {
            func at(_ t: Int, _ part: Int, _ c: Int) -> Double {
                Double(qkv[(b * tokens + t) * 3 * width + part * width + h * headDim + c])
            }
            var scores = (0..<tokens).map { j in (0..<headDim).reduce(0.0) { $0 + at(i, 0, $1) * at(j, 1, $1) } * scale }
            let m = scores.max()!
            scores = scores.map { Foundation.exp($0 - m) }
            let total = scores.reduce(0, +)
            for c in 0..<headDim {
                out[(b * tokens + i) * width + h * headDim + c] =
                    Float((0..<tokens).reduce(0.0) { $0 + scores[$1] / total * at($1, 2, c) })
            }
        } } }
        return out
    }

    @Test(arguments: [1, 2])
    func attentionMatchesNaive(threads: Int) {
        forEachInstructionSet(threads: threads) { checkAttention(context: $0) }
    }

    func checkAttention(context: ComputeContext) {
        var rng = TestRandom(seed: 21)
        let (batch, tokens, heads, headDim) = (3, 13, 3, 5)
        let qkv = rng.floats(batch * tokens * 3 * heads * headDim, scale: 2)
        var out = [Float](repeating: .nan, count: batch * tokens * heads * headDim)
        let scale = 1 / Float(headDim).squareRoot()
        qkv.withUnsafeBufferPointer { q in out.withUnsafeMutableBufferPointer { o in
            multiHeadSelfAttention(qkv: q.baseAddress!, batch: batch, tokens: tokens, heads: heads, headDim: headDim,
                                   scale: scale, output: o.baseAddress!, context: context)
        } }
        let (diff, _) = maxAbsDifference(out, naiveAttention(qkv, batch: batch, tokens: tokens, heads: heads,
                                                             headDim: headDim, scale: Double(scale)))
        #expect(diff < 1e-5, "\(context.instructionSet) kernels, \(context.threads) threads: max |Δ| = \(diff)")
    }

    // MARK: element-wise

    @Test func expIsAccurate() {
        forEachInstructionSet { checkExp(kernels: $0.kernels) }
    }

    func checkExp(kernels: KernelTable) {
        var x = stride(from: Float(-87), through: 88, by: 0.01).map { $0 }
        let reference = x.map { Foundation.exp(Double($0)) }
        kernels.expInPlace(&x, count: x.count)
        let worst = zip(x, reference).map { abs(Double($0) - $1) / $1 }.max()!
        #expect(worst < 4e-7, "max relative error \(worst)")
        var tiny: [Float] = [-200, -88, 0, 1]
        kernels.expInPlace(&tiny, count: tiny.count)
        #expect(tiny[0] < 1e-37 && tiny[1] < 1e-37 && tiny[2] == 1 && abs(tiny[3] - 2.7182817) < 1e-6)
    }

    @Test(arguments: [1, 8, 197, 203])
    func softmaxMatchesNaive(columns: Int) {
        forEachInstructionSet { checkSoftmax(columns: columns, kernels: $0.kernels) }
    }

    func checkSoftmax(columns: Int, kernels: KernelTable) {
        var rng = TestRandom(seed: UInt64(columns))
        let rows = 5, stride = columns + 3
        var x = rng.floats(rows * stride, scale: 20)
        let original = x
        x.withUnsafeMutableBufferPointer { kernels.scaledSoftmaxRows($0.baseAddress!, rows: rows, columns: columns, stride: stride, scale: 0.125) }
        var worst = 0.0
        for r in 0..<rows {
            let row = original[(r * stride)..<(r * stride + columns)].map { Double($0) * 0.125 }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let total = e.reduce(0, +)
            for c in 0..<columns { worst = max(worst, abs(Double(x[r * stride + c]) - e[c] / total)) }
            for c in columns..<stride { #expect(x[r * stride + c] == original[r * stride + c]) }
        }
        #expect(worst < 1e-6, "max |Δ| = \(worst)")
    }

    @Test(arguments: [GELUKind.exact, .quick])
    func biasGELUMatchesFormula(kind: GELUKind) {
        forEachInstructionSet { checkBiasGELU(kind: kind, context: $0) }
    }

    func checkBiasGELU(kind: GELUKind, context: ComputeContext) {
        var rng = TestRandom(seed: 5)
        let rows = 7, columns = 19
        var x = rng.floats(rows * columns, scale: 6)
        let bias = rng.floats(columns)
        let original = x
        x.withUnsafeMutableBufferPointer { context.addBiasGELURows($0.baseAddress!, rows: rows, columns: columns, bias: bias, kind: kind) }
        var worst = 0.0
        for i in x.indices {
            let v = Double(original[i]) + Double(bias[i % columns])
            let ref = kind == .exact ? 0.5 * v * (1 + erf(v / 2.0.squareRoot())) : v / (1 + Foundation.exp(-1.702 * v))
            worst = max(worst, abs(Double(x[i]) - ref))
        }
        #expect(worst < 2e-6, "max |Δ| = \(worst)")
    }

    @Test(arguments: [(false, false, false), (true, true, true), (false, true, false), (true, true, false)])
    func residualLayerNormMatchesNaive(useBranch: Bool, useBias: Bool, useGamma: Bool) {
        forEachInstructionSet { checkResidualLayerNorm(useBranch: useBranch, useBias: useBias, useGamma: useGamma, context: $0) }
    }

    func checkResidualLayerNorm(useBranch: Bool, useBias: Bool, useGamma: Bool, context: ComputeContext) {
        var rng = TestRandom(seed: 77)
        let rows = 9, columns = 21
        var x = rng.floats(rows * columns, scale: 3)
        let branch = rng.floats(rows * columns), bias = rng.floats(columns), gamma = rng.floats(columns)
        let weight = rng.floats(columns), normBias = rng.floats(columns)
        var normed = [Float](repeating: .nan, count: rows * columns)
        let original = x
        x.withUnsafeMutableBufferPointer { xp in normed.withUnsafeMutableBufferPointer { np in
            branch.withUnsafeBufferPointer { b in bias.withUnsafeBufferPointer { bi in gamma.withUnsafeBufferPointer { g in
                weight.withUnsafeBufferPointer { w in normBias.withUnsafeBufferPointer { nb in
                    context.residualAddLayerNormRows(xp.baseAddress!, rows: rows, columns: columns,
                                             branch: useBranch ? b.baseAddress! : nil, bias: useBias ? bi.baseAddress! : nil,
                                             gamma: useGamma ? g.baseAddress! : nil,
                                             norm: (w.baseAddress!, nb.baseAddress!, 1e-5, np.baseAddress!))
                } }
            } } }
        } }
        var worstX = 0.0, worstNorm = 0.0
        for r in 0..<rows {
            var row = [Double]()
            for c in 0..<columns {
                let i = r * columns + c
                var update = (useBranch ? Double(branch[i]) : 0) + (useBias ? Double(bias[c]) : 0)
                if useGamma { update *= Double(gamma[c]) }
                row.append(Double(original[i]) + update)
                worstX = max(worstX, abs(Double(x[i]) - row[c]))
            }
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
            for c in 0..<columns {
                let ref = (row[c] - mean) / (variance + 1e-5).squareRoot() * Double(weight[c]) + Double(normBias[c])
                worstNorm = max(worstNorm, abs(Double(normed[r * columns + c]) - ref))
            }
        }
        #expect(worstX < 1e-5 && worstNorm < 2e-5, "x: \(worstX), norm: \(worstNorm)")
    }

    // MARK: interpolation

    struct InterpolationManifest: Decodable {
        struct Array: Decodable { let file: String; let shape: [Int] }
        struct Case: Decodable { let mode: String; let antialias: Bool; let input: Array; let output: Array }
        let interpolation: [Case]
    }

    /// `F.interpolate` of a 5×14×14 grid, bicubic and bilinear, antialias on and off, up and down
    /// (Tests/Fixtures/vit, tools/reference/make_vit_fixtures.py).
    @Test func interpolationMatchesPyTorch() throws {
        let manifest = try Fixtures.json(InterpolationManifest.self, "vit/manifest.json")
        #expect(manifest.interpolation.count == 20)
        for c in manifest.interpolation {
            let input = try Fixtures.float32Array("vit/" + c.input.file)  // C×h×w
            let expected = try Fixtures.float32Array("vit/" + c.output.file)  // C×H×W
            let (channels, h, w) = (c.input.shape[0], c.input.shape[1], c.input.shape[2])
            let (oh, ow) = (c.output.shape[1], c.output.shape[2])
            // channels-last in and out
            var grid = [Float](repeating: 0, count: input.count)
            for ch in 0..<channels { for p in 0..<(h * w) { grid[p * channels + ch] = input[ch * h * w + p] } }
            var out = [Float](repeating: .nan, count: oh * ow * channels)
            interpolateGrid(grid, height: h, width: w, channels: channels, outputHeight: oh, outputWidth: ow,
                            mode: try #require(InterpolationMode(rawValue: c.mode)), antialias: c.antialias, output: &out)
            var ours = [Float](repeating: 0, count: out.count)
            for ch in 0..<channels { for p in 0..<(oh * ow) { ours[ch * oh * ow + p] = out[p * channels + ch] } }
            let (diff, ref) = maxAbsDifference(ours, expected)
            print("interpolate \(c.mode) antialias=\(c.antialias) 14×14→\(oh)×\(ow): max|Δ| = \(diff) (max|ref| \(ref))")
            #expect(diff < 1e-5, "\(c.output.file): \(diff)")
        }
    }

    @Test func interpolationOfEqualSizeIsIdentity() {
        for mode in InterpolationMode.allCases { for antialias in [true, false] {
            let axis = InterpolationAxis(inputSize: 7, outputSize: 7, mode: mode, antialias: antialias)
            for (i, taps) in axis.taps.enumerated() {
                let weight = taps.filter { $0.index == i }.map(\.weight).reduce(0, +)
                #expect(abs(weight - 1) < 1e-12, "\(mode) antialias=\(antialias)")
            }
        } }
    }
}
