import Foundation
import Testing
@testable import BirderCore
import BirderTestSupport

/// Each kernel against a naive Double-precision loop on random data.
@Suite struct KernelTests {
    @Test func biasIsAddedToEveryRow() {
        var m: [Float] = (0..<22).map(Float.init)
        let bias: [Float] = (0..<11).map { Float($0) * 10 }
        m.withUnsafeMutableBufferPointer { testContext.addBiasRows($0.baseAddress!, rows: 2, columns: 11, bias: bias) }
        #expect(m[0] == 0 && m[10] == 110 && m[11] == 11 && m[21] == 121)
    }

    /// A stride-k convolution as patches + GEMM equals the direct convolution.
    @Test func patchConvolutionMatchesDirect() {
        var rng = TestRandom(seed: 9)
        let n = 2, h = 8, w = 12, c = 3, k = 4, o = 5
        let input = rng.floats(n * h * w * c)  // NHWC
        let weight = Tensor(shape: [o, c, k, k], values: rng.floats(o * c * k * k))
        let ph = h / k, pw = w / k, p = n * ph * pw
        var patches = [Float](repeating: 0, count: p * k * k * c)
        extractPatchesNHWC(input, batch: n, height: h, width: w, channels: c, patch: k, output: &patches, context: testContext)
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

    @Test func parallelForCoversEveryIndexOnce() throws {
        let count = 10_007
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: count)
        hits.initialize(repeating: 0, count: count)
        defer { hits.deallocate() }
        let shared = UncheckedSendable(hits)
        let context = try ComputeContext(threads: 4)
        context.parallelFor(count, grain: 10) { range in for i in range { shared.value[i] += 1 } }
        #expect((0..<count).allSatisfy { hits[$0] == 1 })
        #expect(context.peakWorkers <= 4)
    }
}
