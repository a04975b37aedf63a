import BirderCore
import Foundation

/// A trained linear probe: logits = features · weightᵀ + bias (PyTorch `nn.Linear` layout).
public struct LinearProbeResult: Sendable {
    /// numClasses × dimension, row-major (`nn.Linear.weight`).
    public var weight: [Float]
    public var bias: [Float]
    public var numClasses: Int
    public var dimension: Int
    /// Mean cross-entropy over the training samples of each epoch (Birder's logged "Loss").
    public var epochLosses: [Double]
    /// Fraction of training samples classified correctly by the weights each batch saw.
    public var epochTrainAccuracy: [Double]
    /// Top-1 accuracy on the validation set after each epoch; empty without one.
    public var epochValidationAccuracy: [Double]
}

/// Classification metrics of a linear probe on labelled features.
public struct LinearProbeMetrics: Sendable, Equatable {
    /// Fraction whose highest logit is the label (PyTorch's `argmax`: the first maximum wins).
    public var top1: Double
    /// Fraction whose label is among the 5 highest logits (all, with 5 classes or fewer).
    public var top5: Double
    /// Mean per-class recall over the classes present in the labels (scikit-learn's
    /// `balanced_accuracy_score`).
    public var macro: Double
    public var count: Int
}

/// Linear probing on frozen embeddings, as Birder's `eval/methods/linear.py` does it: one
/// `Linear(d, C)` from PyTorch's default initialisation (U(±1/√d) for weight and bias), softmax
/// cross-entropy averaged over each batch, Adam (β 0.9/0.999, ε 1e-8, no weight decay), shuffled
/// mini-batches (the last one partial), learning rate annealed per epoch by a cosine from
/// `learningRate` to 1e-5 (`CosineAnnealingLR(T_max: epochs, eta_min: 1e-5)`, stepped after each
/// epoch). The random stream is this library's own, so weights differ from PyTorch's for the same
/// seed; the protocol and the accuracy it reaches do not.
public enum LinearProbe {
    public static let minimumLearningRate = 1e-5

    /// Trains a probe on `features` (row-major n × d) with labels in 0..<numClasses.
    /// With validation data, `epochValidationAccuracy` records top-1 after every epoch.
    public static func train(
        features: [Float], n: Int, d: Int, labels: [Int], numClasses: Int,
        validationFeatures: [Float]? = nil, validationLabels: [Int]? = nil,
        epochs: Int, batchSize: Int, learningRate: Double = 1e-3, seed: UInt64 = 0,
        context: ComputeContext = .automatic
    ) throws -> LinearProbeResult {
        try checkMatrix(features, n: n, d: d, name: "features")
        try checkLabels(labels, n: n, numClasses: numClasses)
        guard n >= 1, d >= 1 else { throw EvaluationError.invalidParameter(name: "features", reason: "need n ≥ 1 and d ≥ 1") }
        guard epochs >= 1 else { throw EvaluationError.invalidParameter(name: "epochs", reason: "\(epochs) must be ≥ 1") }
        guard batchSize >= 1 else { throw EvaluationError.invalidParameter(name: "batchSize", reason: "\(batchSize) must be ≥ 1") }
        guard learningRate > 0, learningRate.isFinite else {
            throw EvaluationError.invalidParameter(name: "learningRate", reason: "\(learningRate) must be positive")
        }
        var validation: (features: [Float], labels: [Int])?
        switch (validationFeatures, validationLabels) {
        case let (vf?, vl?):
            try checkMatrix(vf, n: vl.count, d: d, name: "validationFeatures")
            try checkLabels(vl, n: vl.count, numClasses: numClasses)
            validation = (vf, vl)
        case (nil, nil):
            validation = nil
        default:
            throw EvaluationError.invalidParameter(name: "validation", reason: "give both validation features and labels, or neither")
        }

        var random = SeededGenerator(seed: seed)
        let bound = 1 / Double(d).squareRoot()
        let weight = (0..<(numClasses * d)).map { _ in Float(random.uniform(-bound, bound)) }
        let bias = (0..<numClasses).map { _ in Float(random.uniform(-bound, bound)) }
        return train(features: features, n: n, d: d, labels: labels, numClasses: numClasses,
                     validation: validation, epochs: epochs, batchSize: batchSize, learningRate: learningRate,
                     initialWeight: weight, initialBias: bias, context: context) { _ in
            var order = Array(0..<n)
            order.shuffle(using: &random)
            return order
        }
    }

    /// The training loop with the initial parameters and each epoch's sample order supplied
    /// (lets the tests replay a PyTorch run step for step).
    static func train(
        features: [Float], n: Int, d: Int, labels: [Int], numClasses: Int,
        validation: (features: [Float], labels: [Int])?,
        epochs: Int, batchSize: Int, learningRate: Double,
        initialWeight: [Float], initialBias: [Float], context: ComputeContext, order: (Int) -> [Int]
    ) -> LinearProbeResult {
        let c = numClasses
        var weight = initialWeight, bias = initialBias
        var adamWeight = AdamState(count: c * d), adamBias = AdamState(count: c)
        var result = LinearProbeResult(weight: [], bias: [], numClasses: c, dimension: d,
                                       epochLosses: [], epochTrainAccuracy: [], epochValidationAccuracy: [])
        let maxBatch = min(batchSize, n)
        var batchX = [Float](repeating: 0, count: maxBatch * d)
        var logits = [Float](repeating: 0, count: maxBatch * c)
        var gradWeight = [Float](repeating: 0, count: c * d)
        var gradBias = [Float](repeating: 0, count: c)
        var step = 0
        for epoch in 0..<epochs {
            let rate = minimumLearningRate + (learningRate - minimumLearningRate) * (1 + cos(Double.pi * Double(epoch) / Double(epochs))) / 2
            let permutation = order(epoch)
            precondition(permutation.count == n, "LinearProbe: an epoch order must list every sample")
            var lossSum = 0.0
            var correct = 0
            var start = 0
            while start < n {
                let count = min(batchSize, n - start)
                features.withUnsafeBufferPointer { x in
                    batchX.withUnsafeMutableBufferPointer { bx in
                        for r in 0..<count {
                            (bx.baseAddress! + r * d).update(from: x.baseAddress! + permutation[start + r] * d, count: d)
                        }
                    }
                }
                // Forward: logits = X Wᵀ + b.
                batchX.withUnsafeBufferPointer { bx in
                    weight.withUnsafeBufferPointer { w in
                        logits.withUnsafeMutableBufferPointer { z in
                            context.gemm(.none, .transposed, m: count, n: c, k: d, a: bx.baseAddress!, lda: d,
                                 b: w.baseAddress!, ldb: d, c: z.baseAddress!, ldc: c)
                        }
                    }
                }
                // Softmax cross-entropy; the logits become the gradient (p − onehot) / batch.
                let inverseCount = 1 / Float(count)
                for i in 0..<c { gradBias[i] = 0 }
                for r in 0..<count {
                    let label = labels[permutation[start + r]]
                    var maxValue = -Float.infinity
                    var argmax = 0
                    for j in 0..<c {
                        let z = logits[r * c + j] + bias[j]
                        logits[r * c + j] = z
                        if z > maxValue { maxValue = z; argmax = j }
                    }
                    if argmax == label { correct += 1 }
                    var sum: Float = 0
                    for j in 0..<c {
                        let e = expf(logits[r * c + j] - maxValue)
                        logits[r * c + j] = e
                        sum += e
                    }
                    let zLabel = Double(logits[r * c + label])
                    lossSum += -log(zLabel / Double(sum))
                    let inverseSum = 1 / sum
                    for j in 0..<c {
                        var g = logits[r * c + j] * inverseSum
                        if j == label { g -= 1 }
                        g *= inverseCount
                        logits[r * c + j] = g
                        gradBias[j] += g
                    }
                }
                // Backward: dW = Gᵀ X.
                logits.withUnsafeBufferPointer { g in
                    batchX.withUnsafeBufferPointer { bx in
                        gradWeight.withUnsafeMutableBufferPointer { gw in
                            context.gemm(.transposed, .none, m: c, n: d, k: count, a: g.baseAddress!, lda: c,
                                 b: bx.baseAddress!, ldb: d, c: gw.baseAddress!, ldc: d)
                        }
                    }
                }
                step += 1
                adamWeight.update(&weight, gradient: gradWeight, learningRate: rate, step: step, context: context)
                adamBias.update(&bias, gradient: gradBias, learningRate: rate, step: step, context: context)
                start += count
            }
            result.epochLosses.append(lossSum / Double(n))
            result.epochTrainAccuracy.append(Double(correct) / Double(n))
            if let validation {
                let metrics = evaluate(weight: weight, bias: bias, c: c, d: d,
                                       features: validation.features, labels: validation.labels, context: context)
                result.epochValidationAccuracy.append(metrics.top1)
            }
        }
        result.weight = weight
        result.bias = bias
        return result
    }

    /// Top-1, top-5 and macro (balanced) accuracy of a probe on labelled features. The feature
    /// dimension is `weight.count / bias.count`; features are row-major, one row per label.
    public static func evaluate(weight: [Float], bias: [Float], features: [Float], labels: [Int],
                                context: ComputeContext = .automatic) throws -> LinearProbeMetrics {
        let c = bias.count
        guard c >= 1, weight.count % c == 0, weight.count > 0 else {
            throw EvaluationError.shapeMismatch(what: "weight (classes × dimension)", count: weight.count, expected: c)
        }
        let d = weight.count / c
        // Accuracy over no samples is undefined, not 0: refuse it rather than report 0 %.
        guard !labels.isEmpty else { throw EvaluationError.invalidParameter(name: "samples", reason: "no samples to evaluate") }
        try checkMatrix(features, n: labels.count, d: d, name: "features")
        try checkLabels(labels, n: labels.count, numClasses: c)
        return evaluate(weight: weight, bias: bias, c: c, d: d, features: features, labels: labels, context: context)
    }

    /// The metrics with the per-class counts behind them (precision, recall, confusions), for reports.
    public static func evaluateInDetail(weight: [Float], bias: [Float], features: [Float], labels: [Int],
                                        context: ComputeContext = .automatic) throws -> (metrics: LinearProbeMetrics, counts: ClassificationCounts) {
        let c = bias.count
        guard c >= 1, weight.count % c == 0, weight.count > 0 else {
            throw EvaluationError.shapeMismatch(what: "weight (classes × dimension)", count: weight.count, expected: c)
        }
        let d = weight.count / c
        guard !labels.isEmpty else { throw EvaluationError.invalidParameter(name: "samples", reason: "no samples to evaluate") }
        try checkMatrix(features, n: labels.count, d: d, name: "features")
        try checkLabels(labels, n: labels.count, numClasses: c)
        var counts = ClassificationCounts(classCount: c)
        let metrics = evaluate(weight: weight, bias: bias, c: c, d: d, features: features, labels: labels, context: context) {
            counts.add(label: $0, prediction: $1)
        }
        return (metrics, counts)
    }

    /// Logits (n × C, row-major) of a probe for row-major features.
    public static func logits(weight: [Float], bias: [Float], features: [Float],
                              context: ComputeContext = .automatic) throws -> [Float] {
        let c = bias.count
        guard c >= 1, weight.count % c == 0, weight.count > 0 else {
            throw EvaluationError.shapeMismatch(what: "weight (classes × dimension)", count: weight.count, expected: c)
        }
        let d = weight.count / c
        guard features.count % d == 0 else {
            throw EvaluationError.shapeMismatch(what: "features", count: features.count, expected: (features.count / d) * d)
        }
        return logits(weight: weight, bias: bias, c: c, d: d, features: features, n: features.count / d, context: context)
    }

    static func logits(weight: [Float], bias: [Float], c: Int, d: Int, features: [Float], n: Int,
                       context: ComputeContext) -> [Float] {
        var out = [Float](repeating: 0, count: n * c)
        guard n > 0 else { return out }
        features.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                out.withUnsafeMutableBufferPointer { z in
                    context.gemm(.none, .transposed, m: n, n: c, k: d, a: x.baseAddress!, lda: d,
                         b: w.baseAddress!, ldb: d, c: z.baseAddress!, ldc: c)
                    for r in 0..<n { for j in 0..<c { z[r * c + j] += bias[j] } }
                }
            }
        }
        return out
    }

    static func evaluate(weight: [Float], bias: [Float], c: Int, d: Int, features: [Float], labels: [Int],
                         context: ComputeContext, observe: (_ label: Int, _ prediction: Int) -> Void = { _, _ in }) -> LinearProbeMetrics {
        let n = labels.count
        guard n > 0 else { return LinearProbeMetrics(top1: 0, top5: 0, macro: 0, count: 0) }
        var top1 = 0, top5 = 0
        var perClassCorrect = [Int](repeating: 0, count: c), perClassTotal = [Int](repeating: 0, count: c)
        // In row blocks so the logits of a large evaluation set need not exist all at once.
        let block = max(1, (1 << 22) / max(c, 1))
        var start = 0
        while start < n {
            let rows = min(block, n - start)
            let slice = Array(features[(start * d)..<((start + rows) * d)])
            let z = logits(weight: weight, bias: bias, c: c, d: d, features: slice, n: rows, context: context)
            for r in 0..<rows {
                let label = labels[start + r]
                var argmax = 0
                for j in 1..<max(c, 1) where z[r * c + j] > z[r * c + argmax] { argmax = j }
                let target = z[r * c + label]
                // Rank of the label: classes strictly above it, and equal ones listed before it.
                var above = 0
                for j in 0..<c where z[r * c + j] > target || (z[r * c + j] == target && j < label) { above += 1 }
                perClassTotal[label] += 1
                observe(label, argmax)
                if argmax == label {
                    top1 += 1
                    perClassCorrect[label] += 1
                }
                if above < 5 { top5 += 1 }
            }
            start += rows
        }
        var recallSum = 0.0, present = 0
        for j in 0..<c where perClassTotal[j] > 0 {
            recallSum += Double(perClassCorrect[j]) / Double(perClassTotal[j])
            present += 1
        }
        return LinearProbeMetrics(top1: Double(top1) / Double(n), top5: Double(top5) / Double(n),
                                  macro: recallSum / Double(present), count: n)
    }

    static func checkLabels(_ labels: [Int], n: Int, numClasses: Int) throws {
        guard numClasses >= 1 else { throw EvaluationError.invalidParameter(name: "numClasses", reason: "\(numClasses) must be ≥ 1") }
        guard labels.count == n else { throw EvaluationError.shapeMismatch(what: "labels", count: labels.count, expected: n) }
        if let bad = labels.first(where: { $0 < 0 || $0 >= numClasses }) {
            throw EvaluationError.labelOutOfRange(label: bad, numClasses: numClasses)
        }
    }
}

/// PyTorch's single-tensor Adam (β1 0.9, β2 0.999, ε 1e-8, no weight decay) in float32, with the
/// same operation order: m ← lerp(m, g, 1 − β1); v ← β2·v + (1 − β2)·g²;
/// p ← p − (lr / (1 − β1ᵗ)) · m / (√v / √(1 − β2ᵗ) + ε).
struct AdamState {
    var m: [Float]
    var v: [Float]
    static let beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8

    init(count: Int) {
        m = [Float](repeating: 0, count: count)
        v = [Float](repeating: 0, count: count)
    }

    mutating func update(_ parameters: inout [Float], gradient: [Float], learningRate: Double, step: Int,
                         context: ComputeContext) {
        let biasCorrection1 = 1 - pow(Self.beta1, Double(step))
        let biasCorrection2 = 1 - pow(Self.beta2, Double(step))
        let stepSize = Float(learningRate / biasCorrection1)
        let correction2Sqrt = Float(biasCorrection2.squareRoot())
        let weight1 = Float(1 - Self.beta1), beta2 = Float(Self.beta2), weight2 = Float(1 - Self.beta2)
        let eps = Float(Self.epsilon)
        let count = parameters.count
        parameters.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        let shared = UncheckedSendable((p.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!))
                        context.parallelFor(count, grain: 1 << 16) { range in
                            let (p, g, m, v) = shared.value
                            for i in range {
                                let gi = g[i]
                                // torch.lerp with weight < 0.5: self + weight · (end − self).
                                let mi = m[i] + weight1 * (gi - m[i])
                                let vi = v[i] * beta2 + (weight2 * gi) * gi
                                m[i] = mi
                                v[i] = vi
                                let denominator = vi.squareRoot() / correction2Sqrt + eps
                                // addcdiv_(m, denominator, value: −stepSize): p + (value · m) / denominator.
                                p[i] = p[i] + (-stepSize * mi) / denominator
                            }
                        }
                    }
                }
            }
        }
    }
}
