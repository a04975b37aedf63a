import ArgumentParser
import Birder
import Foundation

/// Lets the evaluation commands take image folders: with `--model`, a directory given as data is
/// embedded first (as `birder embed` would), and the embeddings are cached under a key of the
/// checkpoint and of every image's path, size and modification time.
struct EmbeddingSourceOptions: ParsableArguments {
    @Option(name: .long, help: "Embed image folders given as data with this model (registry name or checkpoint path).")
    var model: String?

    @Option(name: .long, help: "Network of a checkpoint path (default: from the file name).")
    var network: String?

    @Option(name: .long, help: "Models directory (default: $BIRDER_MODELS_DIR, else ./models).")
    var modelsDir: String?

    @Option(name: .long, help: "Where embeddings of image folders are cached (default: $BIRDER_CACHE_DIR, else ~/.cache/birder).")
    var cacheDir: String?

    @Option(name: .long, help: "Images per forward pass when embedding folders.")
    var embedBatchSize = 8

    /// An embeddings file for `path`: the path itself, or for a directory its cached embeddings.
    func embeddingsFile(for path: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return path }
        guard let model else { throw CLIError.usage("\(path) is a directory: pass --model to embed its images, or give an embeddings file") }
        var arguments = ["--model", model]
        if let network { arguments += ["--network", network] }
        if let modelsDir { arguments += ["--models-dir", modelsDir] }
        let (checkpoint, network) = try ModelOptions.parse(arguments).resolveCheckpoint()
        let paths = try InputOptions.collectImagePaths([path])

        // The key changes when the checkpoint or any image changes.
        var key = "\(URL(fileURLWithPath: checkpoint).standardizedFileURL.path)|\(network)|\(Self.stamp(checkpoint))"
        for image in paths { key += "|\(image)|\(Self.stamp(image))" }
        let directory = cacheDir ?? ProcessInfo.processInfo.environment["BIRDER_CACHE_DIR"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/birder")
        let file = (directory as NSString).appendingPathComponent(
            "embeddings-\(String(SeededParameters.fnv1a64(key), radix: 16)).npy")
        if FileManager.default.fileExists(atPath: file), FileManager.default.fileExists(atPath: file + ".samples.txt") {
            Terminal.note("\(path): cached embeddings \(file)")
            return file
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let loaded = try LoadedModel.load(path: checkpoint, network: network)
        let input = try InputOptions.parse([path, "--batch-size", String(embedBatchSize)])
        let (samples, embeddings, _) = try InferenceRunner(model: loaded, input: input, paths: paths).embedAll()
        try writeNPYWithSamples(embeddings, samples: samples, to: file)
        return file
    }

    /// Size and modification time, so an edited file changes the cache key.
    private static func stamp(_ path: String) -> String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        let size = (attributes?[.size] as? NSNumber)?.int64Value ?? -1
        let modified = (attributes?[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)@\(modified)"
    }
}
