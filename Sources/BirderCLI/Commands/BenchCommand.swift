import ArgumentParser
import Birder
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time the forward pass of a network on random weights and random input.",
        discussion: """
        Reports the median images/second over the timed iterations after two warm-up passes.
        tools/bench/bench_models.py runs this beside PyTorch and ONNX Runtime.

        Example:
          birder bench --network rdnet_t --batch-size 8 --iterations 10
        """)

    @Option(name: .long, help: "Network name (e.g. rdnet_t, vit_b16_pn).")
    var network: String

    @Option(name: .long, help: "Images per forward pass.")
    var batchSize = 8

    @Option(name: .long, help: "Timed iterations.")
    var iterations = 5

    @Option(name: .long, help: "Input size H W.")
    var size: [Int] = [224, 224]

    @Option(name: .long, help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            let network = try ModelOptions.validated(self.network)
            guard batchSize > 0, iterations > 0, size.count == 2, size.allSatisfy({ $0 > 0 }) else {
                throw CLIError.usage("--batch-size and --iterations must be positive and --size two positive sides")
            }
            ComputeThreads.set(threads ?? ComputeThreads.defaultCount)
            let encoder = try NetworkRegistry.makeEncoder(
                network: network, binder: ParameterBinder(seeded: SeededParameters(seed: 1)), numClasses: 0)
            let input = SeededParameters(seed: 2).uniform(name: "input", shape: [batchSize, size[0], size[1], 3],
                                                          center: 0, halfWidth: 2)
            for _ in 0..<2 { _ = try encoder.embedding(input) }
            var seconds: [Double] = []
            for _ in 0..<iterations {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try encoder.embedding(input)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            seconds.sort()
            let median = seconds[seconds.count / 2]
            let imagesPerSecond = Double(batchSize) / median
            if json {
                let object: [String: Any] = [
                    "network": network, "batch_size": batchSize, "iterations": iterations, "threads": ComputeThreads.count,
                    "input_size": size, "images_per_second": imagesPerSecond, "median_seconds": median,
                    "min_seconds": seconds.first!, "max_seconds": seconds.last!,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%@ batch %d, %d threads: %.2f images/s (median %.1f ms per batch, min %.1f, max %.1f)",
                             network, batchSize, ComputeThreads.count, imagesPerSecond,
                             median * 1000, seconds.first! * 1000, seconds.last! * 1000))
            }
        }
    }
}
