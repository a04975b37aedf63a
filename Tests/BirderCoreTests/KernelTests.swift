import Foundation
import Testing
@testable import BirderCore
import BirderTestSupport

/// Each kernel against a naive Double-precision loop on random data.
@Suite struct KernelTests {
    @Test(arguments: [1, 7, 64, 1040])
    func layerNormMatchesNaive(columns: Int) {
        var rng = TestRandom(seed: UInt64(columns))
        let rows = 37
        let x = rng.floats(rows * columns, scale: 3).map { $0 + 0.5 }
        let w = rng.floats(columns), b = rng.floats(columns)
        var y = [Float](repeating: 0, count: rows * columns)
        layerNormRows(x, rows: rows, columns: columns, weight: w, bias: b, epsilon: 1e-6, output: &y)
        var ref = [Float](repeating: 0, count: rows * columns)
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map(Double.init)
            let mean = row.reduce(0, +) / Double(columns)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(columns)
            for c in 0..<columns {
                ref[r * columns + c] = Float((row[c] - mean) / (variance + 1e-6).squareRoot() * Double(w[c]) + Double(b[c]))
            }
        }
        let (diff, _) = maxAbsDifference(y, ref)
        #expect(diff < 2e-4, "max |Δ| = \(diff)")
    }

    @Test func layerNormInPlaceWithStrides() {
        var rng = TestRandom(seed: 3)
        let rows = 5, columns = 9, stride = 12
        var buffer = rng.floats(rows * stride)
        let w = [Float](repeating: 1, count: columns), b = [Float](repeating: 0, count: columns)
        let untouched = (0..<rows).map { buffer[$0 * stride + columns] }
        buffer.withUnsafeMutableBufferPointer { p in
            layerNormRows(p.baseAddress!, rows: rows, columns: columns, inputStride: stride,
                          weight: w, bias: b, epsilon: 1e-5, output: p.baseAddress!, outputStride: stride)
        }
        for r in 0..<rows {
            let row = buffer[(r * stride)..<(r * stride + columns)]
            #expect(abs(row.reduce(0, +)) < 1e-4)
            #expect(buffer[r * stride + columns] == untouched[r])
        }
    }

    @Test func erfIsAccurate() {
        var worst: Double = 0
        var x: Float = -6
        while x <= 6 {
            let approx = erf8(SIMD8(repeating: x))[0]
            worst = max(worst, abs(Double(approx) - erf(Double(x))))
            x += 0.001
        }
        #expect(worst < 1e-6, "max |erf error| = \(worst)")
    }

    @Test func geluMatchesExactForm() {
        var rng = TestRandom(seed: 11)
        var x = rng.floats(1003, scale: 5)
        let ref = x.map { v in Float(0.5 * Double(v) * (1 + erf(Double(v) / 2.0.squareRoot()))) }
        x.withUnsafeMutableBufferPointer { geluInPlace($0.baseAddress!, count: $0.count) }
        let (diff, _) = maxAbsDifference(x, ref)
        #expect(diff < 5e-6, "max |Δ| = \(diff)")
    }

    @Test func hardSigmoidAndBias() {
        var x: [Float] = [-4, -3, 0, 1.5, 3, 9]
        x.withUnsafeMutableBufferPointer { hardSigmoidInPlace($0.baseAddress!, count: $0.count) }
        #expect(x == [0, 0, 0.5, 0.75, 1, 1])
        var m: [Float] = (0..<22).map(Float.init)
        let bias: [Float] = (0..<11).map { Float($0) * 10 }
        m.withUnsafeMutableBufferPointer { addBiasRows($0.baseAddress!, rows: 2, columns: 11, bias: bias) }
        #expect(m[0] == 0 && m[10] == 110 && m[11] == 11 && m[21] == 121)
    }

    @Test func softmaxMatchesNaive() {
        var rng = TestRandom(seed: 5)
        let rows = 9, columns = 197
        var x = rng.floats(rows * columns, scale: 20)
        var ref = [Float](repeating: 0, count: x.count)
        for r in 0..<rows {
            let row = x[(r * columns)..<((r + 1) * columns)].map { Double($0) * 0.125 }
            let m = row.max()!
            let e = row.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            for c in 0..<columns { ref[r * columns + c] = Float(e[c] / s) }
        }
        x.withUnsafeMutableBufferPointer { softmaxRows($0.baseAddress!, rows: rows, columns: columns, scale: 0.125) }
        let (diff, _) = maxAbsDifference(x, ref)
        #expect(diff < 1e-6, "max |Δ| = \(diff)")
    }

    /// A stride-k convolution as patches + GEMM equals the direct convolution.
    @Test func patchConvolutionMatchesDirect() {
        var rng = TestRandom(seed: 9)
        let n = 2, h = 8, w = 12, c = 3, k = 4, o = 5
        let input = rng.floats(n * h * w * c)  // NHWC
        let weight = Tensor(shape: [o, c, k, k], values: rng.floats(o * c * k * k))
        let ph = h / k, pw = w / k, p = n * ph * pw
        var patches = [Float](repeating: 0, count: p * k * k * c)
        extractPatchesNHWC(input, batch: n, height: h, width: w, channels: c, patch: k, output: &patches)
        let wp = convWeightToPatchOrder(weight)
        var out = [Float](repeating: 0, count: p * o)
        wp.withUnsafeBufferPointer { wb in
            gemm(.none, .transposed, m: p, n: o, k: k * k * c, a: patches, lda: k * k * c,
                 b: wb.baseAddress!, ldb: k * k * c, c: &out, ldc: o)
        }
        let ws = weight.scalars
        var ref = [Float](repeating: 0, count: p * o)
        for b in 0..<n { for py in 0..<ph { for px in 0..<pw { for oc in 0..<o {
            var s: Double = 0
            for ic in 0..<c { for ky in 0..<k { for kx in 0..<k {
                s += Double(input[((b * h + py * k + ky) * w + px * k + kx) * c + ic]) * Double(ws[((oc * c + ic) * k + ky) * k + kx])
            } } }
            ref[((b * ph + py) * pw + px) * o + oc] = Float(s)
        } } } }
        let (diff, _) = maxAbsDifference(out, ref)
        #expect(diff < 1e-5, "max |Δ| = \(diff)")
    }

    @Test func meanPoolAndLayoutChange() {
        let t = Tensor(shape: [1, 2, 2, 3], values: (0..<12).map(Float.init))  // NHWC
        var pooled = [Float](repeating: 0, count: 3)
        t.withUnsafeBufferPointer { meanPoolNHWC($0.baseAddress!, batch: 1, pixels: 4, channels: 3, output: &pooled) }
        #expect(pooled == [4.5, 5.5, 6.5])
        let nchw = nhwcToNCHW(t)
        #expect(nchw.shape == [1, 3, 2, 2])
        #expect(nchw.scalars == [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11])
    }

    @Test func parallelForCoversEveryIndexOnce() {
        let count = 10_007
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0, count: count)
        defer { hits.deallocate() }
        let shared = UncheckedSendable(hits)
        parallelFor(count, grain: 10, threads: 4) { range in for i in range { shared.value[i] += 1 } }
        #expect((0..<count).allSatisfy { hits[$0] == 1 })
    }
}
