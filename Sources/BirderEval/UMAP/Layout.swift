import BirderCore
import Foundation

/// umap-learn's `find_ab_params`: the a, b of 1 / (1 + a·x^{2b}) that best fit (least squares)
/// the offset exponential y = exp(−(x − min_dist) / spread) (1 below min_dist) on 300 points of
/// [0, 3·spread]. scipy's curve_fit does Levenberg–Marquardt from (1, 1); so does this, with the
/// analytic Jacobian.
func findABParameters(spread: Double, minDist: Double) -> (a: Double, b: Double) {
    let count = 300
    let xs = (0..<count).map { 3 * spread * Double($0) / Double(count - 1) }
    let ys = xs.map { $0 < minDist ? 1 : exp(-($0 - minDist) / spread) }
    func residuals(_ a: Double, _ b: Double) -> (cost: Double, jtj: [Double], jtr: [Double]) {
        var cost = 0.0
        var jtj = [0.0, 0.0, 0.0], jtr = [0.0, 0.0]
        for (x, y) in zip(xs, ys) {
            let power = x > 0 ? pow(x, 2 * b) : 0
            let denominator = 1 + a * power
            let r = 1 / denominator - y
            let da = -power / (denominator * denominator)
            let db = x > 0 ? -a * power * 2 * log(x) / (denominator * denominator) : 0
            cost += r * r
            jtj[0] += da * da; jtj[1] += da * db; jtj[2] += db * db
            jtr[0] += da * r; jtr[1] += db * r
        }
        return (cost, jtj, jtr)
    }
    var a = 1.0, b = 1.0
    var lambda = 1e-3
    var current = residuals(a, b)
    for _ in 0..<500 {
        let m00 = current.jtj[0] * (1 + lambda), m11 = current.jtj[2] * (1 + lambda), m01 = current.jtj[1]
        let det = m00 * m11 - m01 * m01
        guard det != 0, det.isFinite else { break }
        let stepA = -(m11 * current.jtr[0] - m01 * current.jtr[1]) / det
        let stepB = -(m00 * current.jtr[1] - m01 * current.jtr[0]) / det
        let candidate = residuals(a + stepA, b + stepB)
        if candidate.cost.isFinite && candidate.cost < current.cost {
            let relativeGain = (current.cost - candidate.cost) / max(current.cost, 1e-300)
            a += stepA
            b += stepB
            current = candidate
            lambda = max(lambda / 10, 1e-12)
            if relativeGain < 1e-15 && abs(stepA) < 1e-12 * abs(a) && abs(stepB) < 1e-12 * abs(b) { break }
        } else {
            lambda *= 10
            if lambda > 1e12 { break }
        }
    }
    return (a, b)
}

/// umap-learn's `optimize_layout_euclidean` (move_other = true): each epoch visits the edges whose
/// turn has come (edges are sampled in proportion to their weight), pulls both ends together and
/// pushes the head away from `negativeSampleRate` random vertices per sample; gradients clipped
/// to ±4; learning rate decays linearly. With several threads the edges are split between them
/// and updated without locks (umap-learn's parallel mode; Hogwild), so results then vary slightly
/// from run to run; with one thread they repeat exactly for a seed.
struct LayoutOptimizer {
    var head: [Int32]
    var tail: [Int32]
    var epochsPerSample: [Double]
    var a: Float
    var b: Float
    var gamma: Float = 1
    var initialAlpha: Float = 1
    var negativeSampleRate: Double = 5

    func optimize(_ embedding: inout [Float], n: Int, dim: Int, epochs: Int, seed: UInt64, threads: Int,
                  context: ComputeContext) {
        let edgeCount = head.count
        guard edgeCount > 0, epochs > 0 else { return }
        let epochsPerNegative = epochsPerSample.map { $0 / negativeSampleRate }
        var nextNegative = epochsPerNegative
        var nextSample = epochsPerSample
        let workers = max(1, min(threads, edgeCount / 4096))
        let base = SeededGenerator(seed: seed)
        var alpha = initialAlpha
        let (a, b, gamma) = (self.a, self.b, self.gamma)
        embedding.withUnsafeMutableBufferPointer { emb in
            head.withUnsafeBufferPointer { heads in
                tail.withUnsafeBufferPointer { tails in
                    epochsPerSample.withUnsafeBufferPointer { perSample in
                        epochsPerNegative.withUnsafeBufferPointer { perNegative in
                            nextSample.withUnsafeMutableBufferPointer { nextS in
                                nextNegative.withUnsafeMutableBufferPointer { nextN in
                                    let shared = UncheckedSendable((emb.baseAddress!, heads.baseAddress!, tails.baseAddress!,
                                                                    perSample.baseAddress!, perNegative.baseAddress!,
                                                                    nextS.baseAddress!, nextN.baseAddress!))
                                    for epoch in 0..<epochs {
                                        let currentAlpha = alpha
                                        context.parallelFor(workers, grain: 1) { chunks in
                                            let (emb, heads, tails, perSample, perNegative, nextS, nextN) = shared.value
                                            for chunk in chunks {
                                                var random = base.split(epoch &* 1_000_003 &+ chunk)
                                                Self.epoch(edges: (edgeCount * chunk / workers)..<(edgeCount * (chunk + 1) / workers),
                                                           epoch: epoch, emb: emb, heads: heads, tails: tails,
                                                           perSample: perSample, perNegative: perNegative, nextS: nextS, nextN: nextN,
                                                           n: n, dim: dim, a: a, b: b, gamma: gamma, alpha: currentAlpha, random: &random)
                                            }
                                        }
                                        alpha = initialAlpha * (1 - Float(epoch) / Float(epochs))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // The hot loop is written with `while` and explicit comparisons: in unoptimised (debug)
    // builds `for … in` ranges and the generic min/max are calls, here they are not, which keeps
    // the test suite's full-size UMAP run affordable; optimised builds produce the same code.
    private static func epoch(edges: Range<Int>, epoch: Int, emb: UnsafeMutablePointer<Float>,
                              heads: UnsafePointer<Int32>, tails: UnsafePointer<Int32>,
                              perSample: UnsafePointer<Double>, perNegative: UnsafePointer<Double>,
                              nextS: UnsafeMutablePointer<Double>, nextN: UnsafeMutablePointer<Double>,
                              n: Int, dim: Int, a: Float, b: Float, gamma: Float, alpha: Float,
                              random: inout SeededGenerator) {
        let epochValue = Double(epoch)
        let bMinusOne = b - 1
        let twoGammaB = 2 * gamma * b
        let minusTwoAB = -2 * a * b
        let vertexCount = UInt64(n)
        var i = edges.lowerBound
        let end = edges.upperBound
        // The rows a sample reads are random (the tail, the negative samples): their cache misses
        // dominate. The negative samples are drawn up front and every row is touched once before
        // the arithmetic, so the misses overlap instead of queueing one after another.
        var drawn = [Int](repeating: 0, count: 16)
        var sink: Float = 0
        while i < end {
            if nextS[i] > epochValue {
                i += 1
                continue
            }
            let current = emb + Int(heads[i]) * dim
            var other = emb + Int(tails[i]) * dim
            let negatives = Int((epochValue - nextN[i]) / perNegative[i])
            let prefetched = min(max(negatives, 0), drawn.count)
            var sampleIndex = 0
            while sampleIndex < prefetched {
                drawn[sampleIndex] = Int(random.next() % vertexCount)
                sampleIndex += 1
            }
            sink += touch(other, dim)
            sampleIndex = 0
            while sampleIndex < prefetched {
                sink += touch(emb + drawn[sampleIndex] * dim, dim)
                sampleIndex += 1
            }
            var distSquared = squaredDistance(current, other, dim)
            var t = 0
            var coefficient: Float = 0
            if distSquared > 0 {
                let powerMinusOne = expf(bMinusOne * logf(distSquared))
                coefficient = minusTwoAB * powerMinusOne / (a * powerMinusOne * distSquared + 1)
            }
            t = 0
            while t < dim {
                var gradient = coefficient * (current[t] - other[t])
                if gradient > 4 { gradient = 4 } else if gradient < -4 { gradient = -4 }
                current[t] += gradient * alpha
                other[t] -= gradient * alpha
                t += 1
            }
            nextS[i] += perSample[i]
            sampleIndex = 0
            while sampleIndex < negatives {
                let vertex = sampleIndex < prefetched ? drawn[sampleIndex] : Int(random.next() % vertexCount)
                sampleIndex += 1
                other = emb + vertex * dim
                distSquared = squaredDistance(current, other, dim)
                // Distance 0: the head itself is skipped and a coincident vertex gets no push.
                if distSquared > 0 {
                    coefficient = twoGammaB / ((0.001 + distSquared) * (a * expf(b * logf(distSquared)) + 1))
                    t = 0
                    while t < dim {
                        var gradient = coefficient * (current[t] - other[t])
                        if gradient > 4 { gradient = 4 } else if gradient < -4 { gradient = -4 }
                        current[t] += gradient * alpha
                        t += 1
                    }
                }
            }
            nextN[i] += Double(negatives) * perNegative[i]
            i += 1
        }
        keepAlive(sink)
    }

    /// Reads one value per cache line of a row (a software prefetch).
    @inline(__always)
    private static func touch(_ row: UnsafePointer<Float>, _ dim: Int) -> Float {
        var total: Float = row[dim - 1]
        var t = 0
        while t < dim {
            total += row[t]
            t += 16
        }
        return total
    }

    /// Keeps the prefetch loads from being optimised away.
    @inline(never)
    private static func keepAlive(_ value: Float) {
        if value == .greatestFiniteMagnitude { print("", terminator: "") }
    }

    /// ‖x − y‖² with eight independent partial sums, so optimised builds vectorise the reduction
    /// (a single running sum is a chain of dependent additions the compiler may not reorder).
    @inline(__always)
    static func squaredDistance(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ count: Int) -> Float {
        var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0
        var s4: Float = 0, s5: Float = 0, s6: Float = 0, s7: Float = 0
        var t = 0
        while t + 8 <= count {
            let d0 = x[t] - y[t], d1 = x[t + 1] - y[t + 1], d2 = x[t + 2] - y[t + 2], d3 = x[t + 3] - y[t + 3]
            let d4 = x[t + 4] - y[t + 4], d5 = x[t + 5] - y[t + 5], d6 = x[t + 6] - y[t + 6], d7 = x[t + 7] - y[t + 7]
            s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3
            s4 += d4 * d4; s5 += d5 * d5; s6 += d6 * d6; s7 += d7 * d7
            t += 8
        }
        while t < count {
            let d = x[t] - y[t]
            s0 += d * d
            t += 1
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    }
}
