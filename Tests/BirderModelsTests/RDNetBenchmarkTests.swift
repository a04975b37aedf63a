import Foundation
import Testing
import BirderCore
import BirderModels

/// Throughput of the full-size rdnet_t (seeded weights), only when RDNET_BENCH=1, in a release
/// build:
///
///     RDNET_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter RDNetBenchmark
///
/// RDNET_BENCH_BATCH (8), RDNET_BENCH_THREADS (2), RDNET_BENCH_ITERATIONS (5), RDNET_BENCH_SIZE
/// (224) change the setup. Compare with PyTorch / ONNX Runtime in the same session:
/// `tools/reference/make_rdnet_fixtures.py --bench`.
@Suite struct RDNetBenchmarkTests {
    static let environment = ProcessInfo.processInfo.environment
    static func setting(_ name: String, _ fallback: Int) -> Int { environment[name].flatMap(Int.init) ?? fallback }

    @Test(.enabled(if: environment["RDNET_BENCH"] == "1"))
    func rdnetTThroughput() throws {
        let batch = Self.setting("RDNET_BENCH_BATCH", 8), threads = Self.setting("RDNET_BENCH_THREADS", 2)
        let iterations = Self.setting("RDNET_BENCH_ITERATIONS", 5), size = Self.setting("RDNET_BENCH_SIZE", 224)
        let context = try ComputeContext(threads: threads)
        let net = try RDNet(config: .rdnetT, binder: ParameterBinder(seeded: SeededParameters(seed: 1)), numClasses: 0, kernels: context.kernels)
        let x = SeededParameters(seed: 2).uniform(name: "input", shape: [batch, size, size, 3], center: 0, halfWidth: 2)
        let warm = try net.embedding(x, context: context)
        #expect(warm.shape == [batch, 1040])
        #expect(warm.scalars.allSatisfy { $0.isFinite })
        var seconds: [Double] = []
        for _ in 0..<iterations {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try net.embedding(x, context: context)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        let best = seconds.min()!, median = seconds.sorted()[seconds.count / 2]
        print(String(format: "RDNet rdnet_t batch %d at %d², %d threads (%@ kernels): best %.2f img/s, median %.2f img/s; runs %@",
                     batch, size, threads, context.instructionSet.rawValue, Double(batch) / best, Double(batch) / median,
                     seconds.map { String(format: "%.3f s", $0) }.joined(separator: ", ")))
        #expect(best > 0)
    }
}
