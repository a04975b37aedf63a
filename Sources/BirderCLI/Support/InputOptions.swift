import ArgumentParser
import Birder
import Foundation

/// Images to run: files and directories (walked recursively, sorted), batching and threads.
struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files and directories (searched recursively for .jpg, .jpeg, .png, .webp).",
                                 valueName: "images-or-dirs"))
    var inputs: [String]

    @Option(name: .long, help: "Images per forward pass.")
    var batchSize = 8

    @Option(name: .long, help: "Threads for the model (default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Rotate images as their EXIF orientation says (Birder and PIL ignore it).")
    var applyExifOrientation = false

    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp"]

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        if let threads, threads <= 0 { throw ValidationError("--threads must be positive") }
    }

    /// Every image path in input order: files as given, directories expanded in sorted order.
    func collectPaths() throws -> [String] { try Self.collectImagePaths(inputs) }

    /// `inputs` expanded as `collectPaths` does.
    static func collectImagePaths(_ inputs: [String]) throws -> [String] {
        var paths: [String] = []
        let fm = FileManager.default
        for input in inputs {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw CLIError.usage("\(input): no such file or directory")
            }
            guard isDirectory.boolValue else {
                paths.append(input)
                continue
            }
            guard let walker = fm.enumerator(atPath: input) else { throw CLIError.usage("\(input): cannot read directory") }
            var found: [String] = []
            for case let relative as String in walker
            where imageExtensions.contains((relative as NSString).pathExtension.lowercased()) {
                found.append((input as NSString).appendingPathComponent(relative))
            }
            paths += found.sorted()
        }
        guard !paths.isEmpty else { throw CLIError.usage("no images found in \(inputs.joined(separator: ", "))") }
        return paths
    }
}

/// Runs a model over images in batches, decoding ahead on a background thread, reporting
/// unreadable images as `error: PATH: reason` and stopping cleanly on Ctrl-C.
struct InferenceRunner {
    let model: LoadedModel
    let input: InputOptions
    let paths: [String]

    /// Calls `body` with each batch's input indices and NHWC tensor, in input order. Returns the
    /// number of inputs that failed.
    func run(label: String, _ body: (_ indices: [Int], _ batch: Tensor) throws -> Void) throws -> Int {
        ComputeThreads.set(input.threads ?? ComputeThreads.defaultCount)
        let height = model.inputSize[0], width = model.inputSize[1]
        let transform = InferenceTransform(height: height, width: width, stats: model.rgbStats)
        let options = ImageDecodeOptions(applyEXIFOrientation: input.applyExifOrientation)
        let prefetcher = BatchPrefetcher(paths: paths, batchSize: input.batchSize, height: height, width: width) { path, output in
            transform.write(try ImageDecoder.decode(path: path, options: options), into: output)
        }
        Interrupt.install()
        let progress = ProgressBar(label: label, total: Int64(paths.count))
        var done = 0, failed = 0
        while let batch = prefetcher.next() {
            for failure in batch.failures {
                Terminal.error(Self.describe(failure.error, path: paths[failure.index]))
                failed += 1
            }
            if !batch.indices.isEmpty { try body(batch.indices, batch.tensor) }
            done += batch.indices.count + batch.failures.count
            progress.update(Int64(done))
            if Interrupt.requested {
                prefetcher.cancel()
                throw CLIError.io("interrupted after \(done) of \(paths.count) images; nothing written")
            }
        }
        progress.finish(Int64(done))
        return failed
    }

    /// The embeddings of every image that loads: (their paths in input order, N×D rows, failures).
    func embedAll() throws -> (samples: [String], embeddings: Tensor, failed: Int) {
        var samples: [String] = []
        var rows: [Float] = []
        let failed = try run(label: "embed") { indices, batch in
            samples += indices.map { paths[$0] }
            rows += try model.encoder.embedding(batch).scalars
        }
        return (samples, Tensor(shape: [samples.count, model.encoder.embeddingSize], values: rows), failed)
    }

    /// `PATH: reason`, without repeating the path when the error already starts with it.
    static func describe(_ error: any Error, path: String) -> String {
        let text = String(describing: error)
        return text.hasPrefix(path) ? text : "\(path): \(text)"
    }
}

/// `birder embed`'s .npy output: the matrix, and `FILE.samples.txt` with one path per row.
func writeNPYWithSamples(_ embeddings: Tensor, samples: [String], to path: String) throws {
    let list = try OutputSink(path: path + ".samples.txt")
    try list.write(samples.map { $0 + "\n" }.joined())
    try NPY.write(embeddings, to: path)
    try list.commit()
}
