import BirderTestSupport
import Foundation
import Testing
@testable import BirderEval

@Suite struct LinearProbeTests {
    /// pixel / 16 features of the digits, split as the fixture script split them.
    private func split() throws -> (train: [Float], trainLabels: [Int], test: [Float], testLabels: [Int]) {
        let fixture = try DigitsFixture.load()
        let pixels = try DigitsFixture.digitsPixels()
        let d = fixture.d
        func rows(_ indices: [Int]) -> [Float] { indices.flatMap { i in (0..<d).map { pixels[i * d + $0] / 16 } } }
        return (rows(fixture.linear.train_indices), fixture.linear.train_indices.map { fixture.labels[$0] },
                rows(fixture.linear.test_indices), fixture.linear.test_indices.map { fixture.labels[$0] })
    }

    /// PyTorch's own initial weights and batch order through our loop: the same weights after
    /// 5 epochs (Adam, cosine schedule and cross-entropy gradient all exercised).
    @Test func replaysPyTorchRunStepForStep() throws {
        let trace = try Fixtures.json(LinearTrace.self, "eval/linear_trace.json")
        let data = try split()
        let n = data.trainLabels.count, d = 64
        let result = LinearProbe.train(
            features: data.train, n: n, d: d, labels: data.trainLabels, numClasses: 10, validation: nil,
            epochs: trace.epochs, batchSize: trace.batch_size, learningRate: trace.lr,
            initialWeight: trace.initial_weight, initialBias: trace.initial_bias, context: testContext) { trace.orders[$0] }
        let weight = maxAbsDifference(result.weight, trace.final_weight)
        let bias = maxAbsDifference(result.bias, trace.final_bias)
        let loss = zip(result.epochLosses, trace.epoch_losses).map { abs($0 - $1) }.max() ?? 0
        print("linear probe vs PyTorch after \(trace.epochs) epochs: weight max diff \(weight.maxDiff) (max \(weight.maxRef)), bias \(bias.maxDiff), epoch loss \(loss)")
        #expect(weight.maxDiff < 2e-5)
        #expect(bias.maxDiff < 2e-5)
        #expect(loss < 1e-5)
    }

    @Test func accuracyMatchesBirdersProtocol() throws {
        let fixture = try DigitsFixture.load()
        let data = try split()
        var accuracies = [Double]()
        for seed in fixture.linear.seeds {
            let probe = try LinearProbe.train(
                features: data.train, n: data.trainLabels.count, d: 64, labels: data.trainLabels, numClasses: 10,
                validationFeatures: data.test, validationLabels: data.testLabels,
                epochs: fixture.linear.epochs, batchSize: fixture.linear.batch_size, learningRate: fixture.linear.lr,
                seed: UInt64(seed))
            let metrics = try LinearProbe.evaluate(weight: probe.weight, bias: probe.bias, features: data.test, labels: data.testLabels)
            #expect(probe.epochValidationAccuracy.count == fixture.linear.epochs)
            #expect(probe.epochValidationAccuracy.last == metrics.top1)
            #expect(probe.epochLosses.first! > probe.epochLosses.last!)
            accuracies.append(metrics.top1)
        }
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        print("linear probe top-1 on digits: \(accuracies) mean \(mean); PyTorch \(fixture.linear.top1_values) mean \(fixture.linear.top1_mean)")
        #expect(abs(mean - fixture.linear.top1_mean) <= 0.01)
    }

    @Test func metricsMatchScikitLearn() throws {
        let fixture = try DigitsFixture.load()
        let data = try split()
        let reference = fixture.linear.metrics_seed0
        let metrics = try LinearProbe.evaluate(weight: reference.weight, bias: reference.bias, features: data.test, labels: data.testLabels)
        print("probe metrics: \(metrics) vs scikit-learn top1 \(reference.top1) top5 \(reference.top5) macro \(reference.macro)")
        #expect(abs(metrics.top1 - reference.top1) < 1e-12)
        #expect(abs(metrics.top5 - reference.top5) < 1e-12)
        #expect(abs(metrics.macro - reference.macro) < 1e-12)
        #expect(metrics.count == data.testLabels.count)
    }

    @Test func sameSeedSameWeights() throws {
        var random = TestRandom(seed: 2)
        let x = random.floats(50 * 6), labels = (0..<50).map { $0 % 3 }
        let a = try LinearProbe.train(features: x, n: 50, d: 6, labels: labels, numClasses: 3, epochs: 3, batchSize: 8, seed: 9)
        let b = try LinearProbe.train(features: x, n: 50, d: 6, labels: labels, numClasses: 3, epochs: 3, batchSize: 8, seed: 9)
        let c = try LinearProbe.train(features: x, n: 50, d: 6, labels: labels, numClasses: 3, epochs: 3, batchSize: 8, seed: 10)
        #expect(a.weight == b.weight && a.bias == b.bias)
        #expect(a.weight != c.weight)
    }

    @Test func rejectsBadInput() {
        let x: [Float] = [0, 1, 2, 3]
        #expect(throws: EvaluationError.self) { try LinearProbe.train(features: x, n: 2, d: 2, labels: [0, 2], numClasses: 2, epochs: 1, batchSize: 1) }
        #expect(throws: EvaluationError.self) { try LinearProbe.train(features: x, n: 3, d: 2, labels: [0, 1, 0], numClasses: 2, epochs: 1, batchSize: 1) }
        #expect(throws: EvaluationError.self) { try LinearProbe.train(features: x, n: 2, d: 2, labels: [0, 1], numClasses: 2, epochs: 0, batchSize: 1) }
        #expect(throws: EvaluationError.self) {
            try LinearProbe.train(features: x, n: 2, d: 2, labels: [0, 1], numClasses: 2, validationFeatures: x, epochs: 1, batchSize: 1)
        }
        #expect(throws: EvaluationError.self) { try LinearProbe.evaluate(weight: [1, 2, 3], bias: [0, 0], features: x, labels: [0, 1]) }
    }
}
