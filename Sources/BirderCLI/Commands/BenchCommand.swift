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

        Examples:
          birder bench --network rdnet_t --batch-size 8 --iterations 10
          birder bench --image photo.jpg --iterations 50
        """)

    func validate() throws {
        guard (network == nil) != (image == nil) else { throw ValidationError("pass exactly one of --network and --image") }
    }

    @Option(name: .long, help: "Network name (e.g. rdnet_t, vit_b16_pn).")
    var network: String?

    @Option(name: .long, help: "Instead of a network, time decoding and the inference transform of this image.")
    var image: String?

    @Option(name: .long, help: "Images per forward pass (\(OptionRange.benchBatchSize.text)).")
    var batchSize = 8

    @Option(name: .long, help: "Timed iterations (\(OptionRange.benchIterations.text)).")
    var iterations = 5

    @Option(name: .long, help: "Input size, given twice: --size H --size W (each \(OptionRange.benchSide.text)).")
    var size: [Int] = [224, 224]

    @Option(name: .long, help: "Threads (\(OptionRange.threads.text); default: all cores).")
    var threads: Int?

    @Option(name: .long, help: "Kernel set: \(InstructionSet.allCases.map(\.rawValue).joined(separator: ", ")) (default: $BIRDER_ISA, else the best this CPU runs).")
    var isa: String?

    @Option(name: .long, help: ArgumentHelp(Precision.help, valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    @Flag(name: .long, help: "Print one JSON object.")
    var json = false

    func run() throws {
        try reportingErrors {
            // Every range first: --batch-size and --size size the allocations below.
            try OptionRange.benchBatchSize.check(batchSize)
            try OptionRange.benchIterations.check(iterations)
            try OptionRange.threads.check(threads)
            for side in size { try OptionRange.benchSide.check(side) }
            guard size.count == 2 else { throw CLIError.usage("--size takes two sides, H W (got \(size.count) values)") }
            if let image { return try benchPreprocessing(image) }
            let registry = NetworkRegistry.builtIn
            guard let network = self.network, registry.names.contains(network) else {
                throw CLIError.usage("unknown network '\(self.network ?? "")' (known: \(registry.names.joined(separator: ", ")))")
            }
            let context: ComputeContext
            do {
                var set: InstructionSet?
                if let isa {
                    guard let named = InstructionSet(rawValue: isa) else {
                        throw ComputeError.unknownInstructionSet(isa, known: InstructionSet.allCases.map(\.rawValue))
                    }
                    set = named
                }
                context = try ComputeContext(threads: threads, instructionSet: set)
            } catch let error as ComputeError {
                throw CLIError.usage(error.description)
            }
            Precision.noteEmulation(precision, instructionSet: context.instructionSet)
            let encoder = try registry.makeEncoder(
                network: network, binder: ParameterBinder(seeded: SeededParameters(seed: 1)), numClasses: 0,
                kernels: try KernelTable(context.instructionSet, precision: precision))
            let input = SeededParameters(seed: 2).uniform(name: "input", shape: [batchSize, size[0], size[1], 3],
                                                          center: 0, halfWidth: 2)
            for _ in 0..<2 { _ = try encoder.embedding(input, context: context) }
            var seconds: [Double] = []
            for _ in 0..<iterations {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try encoder.embedding(input, context: context)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            seconds.sort()
            let median = seconds[seconds.count / 2]
            let imagesPerSecond = Double(batchSize) / median
            if json {
                let object: [String: Any] = [
                    "network": network, "batch_size": batchSize, "iterations": iterations, "threads": context.threads,
                    "instruction_set": context.instructionSet.rawValue, "precision": precision.rawValue,
                    "bf16_native": context.instructionSet.runsBF16Natively, "cpu_features": CPUFeatures.current.description,
                    "input_size": size, "images_per_second": imagesPerSecond, "median_seconds": median,
                    "min_seconds": seconds.first!, "max_seconds": seconds.last!,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(String(format: "%@ batch %d, %d threads, %@ kernels, %@: %.2f images/s (median %.1f ms per batch, min %.1f, max %.1f)",
                             network, batchSize, context.threads, context.instructionSet.rawValue, precision.rawValue, imagesPerSecond,
                             median * 1000, seconds.first! * 1000, seconds.last! * 1000))
            }
        }
    }

    /// Milliseconds per image for decoding and for resize + normalise (single thread).
    func benchPreprocessing(_ path: String) throws {
        let transform = InferenceTransform(height: size[0], width: size[1], stats: .birder)
        var output = [Float](repeating: 0, count: transform.elementsPerImage)
        var decodeSeconds: [Double] = [], transformSeconds: [Double] = []
        var decoded: RGBImage? = nil
        for _ in 0..<(iterations + 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let image = try ImageDecoder.decode(path: path)
            let t1 = DispatchTime.now().uptimeNanoseconds
            output.withUnsafeMutableBufferPointer { transform.write(image, into: $0.baseAddress!) }
            let t2 = DispatchTime.now().uptimeNanoseconds
            decodeSeconds.append(Double(t1 - t0) / 1e9)
            transformSeconds.append(Double(t2 - t1) / 1e9)
            decoded = image
        }
        // The first pass builds the coefficient tables: not timed.
        let decode = median(Array(decodeSeconds.dropFirst())), resize = median(Array(transformSeconds.dropFirst()))
        if json {
            let object: [String: Any] = ["image": path, "width": decoded!.width, "height": decoded!.height, "input_size": size,
                                         "decode_ms": decode * 1000, "transform_ms": resize * 1000,
                                         "total_ms": (decode + resize) * 1000]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print(String(format: "%@ (%d×%d) → %d×%d: decode %.2f ms, resize + normalise %.2f ms per image (median of %d)",
                         path, decoded!.width, decoded!.height, size[1], size[0], decode * 1000, resize * 1000, iterations))
        }
    }

    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
}
