import Foundation
import Testing
import BirderCore
import BirderTestSupport

/// The C kernels behind RDNet (packed GEMM, depthwise 7×7 + LayerNorm, chunked work) against
/// naive Double loops, on odd sizes that hit every edge path.
@Suite struct PackedKernelTests {
    static func gelu(_ x: Double) -> Double { 0.5 * x * (1 + erf(x / 2.0.squareRoot())) }

    @Test(arguments: [(1, 1, 1), (13, 29, 37), (6, 16, 64), (7, 104, 200), (25, 40, 0), (11, 33, 1300), (30, 24, 900)])
    func packedGEMMMatchesNaive(m: Int, n: Int, k: Int) {
        forEachInstructionSet { checkPackedGEMM(m: m, n: n, k: k, context: $0) }
    }

    /// With `.bf16` the naive product takes A and W rounded to bfloat16 (`BF16Reference`): the
    /// kernel's products of rounded values are exact, so only the summation order differs.
    func checkPackedGEMM(m: Int, n: Int, k: Int, context: ComputeContext, precision: Precision = .fp32) {
        var rng = TestRandom(seed: UInt64(m * 1000 + n + k))
        let lda = k + 3, ldc = n + 5
        let a = rng.floats(m * lda), w = rng.floats(n * k, scale: 1 / Float(max(k, 1)).squareRoot()), b = rng.floats(n)
        let kernels = try! KernelTable(context.instructionSet, precision: precision)
        let linear = w.withUnsafeBufferPointer { wp in
            b.withUnsafeBufferPointer { bp in
                PackedLinear(weights: wp.baseAddress!, outputs: n, inputs: k, bias: bp.baseAddress!, kernels: kernels)
            }
        }
        #expect(linear.precision == precision)
        let operand: (Float) -> Double = precision == .bf16 ? { BF16Reference.rounded($0) } : { Double($0) }
        let start = rng.floats(m * ldc)
        for (activation, accumulate) in [(PackedActivation.none, false), (.gelu, false), (.none, true)] {
            // Accumulating adds onto what C holds; otherwise C's old values must not matter.
            var c = accumulate ? start : [Float](repeating: .nan, count: m * ldc)
            if accumulate { for i in 0..<m { for j in n..<ldc { c[i * ldc + j] = .nan } } }
            c.withUnsafeMutableBufferPointer { cp in
                a.withUnsafeBufferPointer { ap in
                    context.kernels.packedGEMM(m: m, a: ap.baseAddress!, lda: lda, linear, activation: activation,
                                               accumulate: accumulate, c: cp.baseAddress!, ldc: ldc)
                }
            }
            var worst: Double = 0
            for i in 0..<m {
                for j in 0..<n {
                    var s = Double(b[j]) + (accumulate ? Double(start[i * ldc + j]) : 0)
                    for p in 0..<k { s += operand(a[i * lda + p]) * operand(w[j * k + p]) }
                    if activation == .gelu { s = Self.gelu(s) }
                    worst = max(worst, abs(s - Double(c[i * ldc + j])))
                }
                // Columns past n (the row padding) are never written.
                for j in n..<ldc { #expect(c[i * ldc + j].isNaN) }
            }
            #expect(worst < 2e-5, "m \(m) n \(n) k \(k) \(activation) accumulate \(accumulate) (\(context.instructionSet) kernels, \(precision)): max |Δ| \(worst)")
        }
    }

    @Test func packedGEMMComputesOnlyTheAskedPanels() {
        forEachInstructionSet { checkPanels(context: $0) }
    }

    func checkPanels(context: ComputeContext) {
        var rng = TestRandom(seed: 5)
        let m = 9, n = 40, k = 21
        let a = rng.floats(m * k), w = rng.floats(n * k)
        let kernels = context.kernels
        let linear = w.withUnsafeBufferPointer {
            PackedLinear(weights: $0.baseAddress!, outputs: n, inputs: k, bias: nil, kernels: kernels)
        }
        var whole = [Float](repeating: 0, count: m * n), parts = [Float](repeating: -1, count: m * n)
        a.withUnsafeBufferPointer { ap in
            whole.withUnsafeMutableBufferPointer { kernels.packedGEMM(m: m, a: ap.baseAddress!, lda: k, linear, c: $0.baseAddress!, ldc: n) }
            parts.withUnsafeMutableBufferPointer { cp in
                #expect(linear.panelCount == (n + kernels.panelWidth - 1) / kernels.panelWidth)
                kernels.packedGEMM(m: m, a: ap.baseAddress!, lda: k, linear, c: cp.baseAddress!, ldc: n, panels: 2..<3)
                for i in 0..<m { for j in 0..<(2 * kernels.panelWidth) { #expect(cp[i * n + j] == -1) } }
                kernels.packedGEMM(m: m, a: ap.baseAddress!, lda: k, linear, c: cp.baseAddress!, ldc: n, panels: 0..<2)
            }
        }
        #expect(whole == parts)
    }

    /// Naive depthwise 7×7 (pad 3) + bias, then LayerNorm over channels, in Double.
    static func naiveDepthwise(_ x: [Float], batch: Int, height: Int, width: Int, stride: Int, channels: Int,
                               weight: [Float], bias: [Float], lnWeight: [Float], lnBias: [Float]) -> [Double] {
        var out = [Double](repeating: 0, count: batch * height * width * channels)
        for n in 0..<batch { for y in 0..<height { for xx in 0..<width {
            var v = [Double](repeating: 0, count: channels)
            for c in 0..<channels {
                var s = Double(bias[c])
                for ky in 0..<7 { for kx in 0..<7 {
                    let iy = y + ky - 3, ix = xx + kx - 3
                    guard iy >= 0, iy < height, ix >= 0, ix < width else { continue }
                    s += Double(x[((n * height + iy) * width + ix) * stride + c]) * Double(weight[c * 49 + ky * 7 + kx])
                } }
                v[c] = s
            }
            let mean = v.reduce(0, +) / Double(channels)
            let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(channels)
            for c in 0..<channels {
                out[((n * height + y) * width + xx) * channels + c] =
                    (v[c] - mean) / (variance + 1e-6).squareRoot() * Double(lnWeight[c]) + Double(lnBias[c])
            }
        } } }
        return out
    }

    // Widths 13 (tiles of 8 with a ragged end), 14 and 7 (tiles of 7); heights below 7 clip both
    // kernel edges; 21 and 16 channels (a partial and an exact vector group).
    @Test(arguments: [(2, 5, 13, 21), (1, 9, 14, 16), (3, 2, 7, 21), (1, 8, 20, 45)])
    func depthwiseConvLayerNormMatchesNaive(batch: Int, height: Int, width: Int, channels: Int) {
        forEachInstructionSet { checkDepthwise(batch: batch, height: height, width: width, channels: channels, context: $0) }
    }

    func checkDepthwise(batch: Int, height: Int, width: Int, channels: Int, context: ComputeContext) {
        var rng = TestRandom(seed: UInt64(height * 100 + width + channels))
        let stride = channels + 11
        let x = rng.floats(batch * height * width * stride, scale: 2)
        let weight = rng.floats(channels * 49), bias = rng.floats(channels)
        let lnWeight = rng.floats(channels).map { 1 + 0.2 * $0 }, lnBias = rng.floats(channels, scale: 0.1)
        let conv = DepthwiseConv7(weight: Tensor(shape: [channels, 1, 7, 7], values: weight),
                                  bias: Tensor(shape: [channels], values: bias), kernels: context.kernels)
        let reference = Self.naiveDepthwise(x, batch: batch, height: height, width: width, stride: stride,
                                            channels: channels, weight: weight, bias: bias,
                                            lnWeight: lnWeight, lnBias: lnBias)
        let outStride = conv.tapStride + 8
        let lines = batch * height
        let scratch = DepthwiseScratch(count: conv.scratchCount(width: width, kernels: context.kernels))
        // Whole batch at once; in uneven pieces that start mid-image (the ring carries rows from
        // one piece to the next); and the same pieces backwards (the ring must reload).
        let third = lines / 3, half = lines / 2 + 1
        let forward = [0..<1, 1..<half, half..<lines]
        for (call, pieces) in [[0..<lines], forward, forward.reversed(), [third..<half, 0..<third, half..<lines]].enumerated() {
            var out = [Float](repeating: .nan, count: lines * width * outStride)
            let layer = call + 1  // a new token per call over the batch
            for piece in pieces where !piece.isEmpty {
                x.withUnsafeBufferPointer { xp in
                    out.withUnsafeMutableBufferPointer { op in
                        conv.convolveLayerNorm(
                            input: xp.baseAddress!, height: height, width: width, pixelStride: stride, lines: piece,
                            normWeight: lnWeight, normBias: lnBias, epsilon: 1e-6,
                            output: op.baseAddress! + piece.lowerBound * width * outStride, outputStride: outStride,
                            scratch: scratch, layer: layer, kernels: context.kernels)
                    }
                }
            }
            var worst: Double = 0
            for p in 0..<(lines * width) {
                for c in 0..<channels {
                    worst = max(worst, abs(Double(out[p * outStride + c]) - reference[p * channels + c]))
                }
            }
            #expect(worst < 2e-5, "\(batch)×\(height)×\(width)×\(channels), \(pieces.count) pieces (\(context.instructionSet) kernels): max |Δ| \(worst)")
        }
    }

    /// LayerNorm over strided rows against a Double-precision loop.
    @Test(arguments: [1, 7, 45, 1040])
    func layerNormMatchesNaive(columns: Int) {
        forEachInstructionSet { checkLayerNorm(columns: columns, context: $0) }
    }

    func checkLayerNorm(columns: Int, context: ComputeContext) {
        var rng = TestRandom(seed: UInt64(columns))
        let rows = 17, stride = columns + 5
        let x = rng.floats(rows * stride, scale: 3).map { $0 + 0.5 }, w = rng.floats(columns), b = rng.floats(columns)
        var output = [Float](repeating: 0, count: rows * columns)
        context.kernels.layerNormRows(x, rows: rows, columns: columns, inputStride: stride, weight: w, bias: b, epsilon: 1e-5,
                            output: &output, outputStride: columns)
        var reference = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let row = x[(r * stride)..<(r * stride + columns)].map(Double.init)
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
            for c in 0..<columns {
                reference[r * columns + c] = Float((row[c] - mean) / (variance + 1e-5).squareRoot() * Double(w[c]) + Double(b[c]))
            }
        }
        let (diff, _) = maxAbsDifference(output, reference)
        #expect(diff < 2e-4, "\(context.instructionSet) kernels: max |Δ| \(diff)")
    }

    @Test func scaleColumnsScalesOnlyTheSlice() {
        forEachInstructionSet { context in
            var x = [Float](repeating: 2, count: 3 * 12)
            let scale: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
            x.withUnsafeMutableBufferPointer {
                context.kernels.scaleColumns($0.baseAddress! + 1, rows: 3, columns: 9, stride: 12, scale: scale)
            }
            for r in 0..<3 {
                #expect(x[r * 12] == 2 && x[r * 12 + 10] == 2 && x[r * 12 + 11] == 2)
                for j in 0..<9 { #expect(x[r * 12 + 1 + j] == 2 * scale[j]) }
            }
        }
    }

    @Test(arguments: [1, 2, 4])
    func forEachChunkRunsEveryChunkOnce(workers: Int) throws {
        let count = 101
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0, count: count)
        defer { hits.deallocate() }
        let maxWorker = UnsafeMutablePointer<Int>.allocate(capacity: workers)
        maxWorker.initialize(repeating: 0, count: workers)
        defer { maxWorker.deallocate() }
        let context = try ComputeContext(threads: workers)
        context.forEachChunk(count) { worker, chunk in
            hits[chunk] += 1       // disjoint: each chunk is handed out once
            maxWorker[worker] += 1 // one thread per worker index
        }
        #expect((0..<count).allSatisfy { hits[$0] == 1 })
        #expect((0..<workers).map { maxWorker[$0] }.reduce(0, +) == count)
        #expect(context.peakWorkers <= workers)
    }
}
