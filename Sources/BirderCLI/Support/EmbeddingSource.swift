import ArgumentParser
import Birder
import Foundation

/// Lets the evaluation commands take image folders: with `--model`, a directory given as data is
/// embedded first (as `birder embed` would), through the library's embedding cache.
struct EmbeddingSourceOptions: ParsableArguments {
    @Option(name: .long, help: "Embed image folders given as data with this model (registry name or checkpoint path).")
    var model: String?

    @Option(name: .long, help: "Network of a checkpoint (default: read from its weights).")
    var network: String?

    @Option(name: .long, help: ArgumentHelp(CommandLineStore.modelsDirHelp, valueName: "directory"))
    var modelsDir: String?

    @Flag(name: .long, help: ArgumentHelp(CommandLineStore.offlineHelp))
    var offline = false

    @Option(name: .long, help: "Where embeddings of image folders are cached (default: $BIRDER_CACHE_DIR, else $XDG_CACHE_HOME/birder, i.e. ~/.cache/birder).")
    var cacheDir: String?

    @Option(name: .long, help: "Images per forward pass when embedding folders (\(OptionRange.embedBatchSize.text)).")
    var embedBatchSize = 8

    /// An embeddings file for `path`: the path itself, or for a directory its cached embeddings.
    func embeddingsFile(for path: String) throws -> String {
        try OptionRange.embedBatchSize.check(embedBatchSize)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else { return path }
        guard let model else { throw CLIError.usage("\(path) is a directory: pass --model to embed its images, or give an embeddings file") }
        let loaded = try ModelOptions.load(model, network: network, store: CommandLineStore.store(directory: modelsDir, offline: offline))
        let images: [String]
        do { images = try ImageCollection.paths([path]) } catch { throw CLIError.usage(error.description) }
        let cache = EmbeddingCache(directory: cacheDir)
        let cached = cache.file(model: loaded, images: images)
        if cache.contains(cached) {
            Terminal.note("\(path): cached embeddings \(cached.path)")
            return cached.path
        }
        let session = try InferenceSession(model: loaded, batchSize: embedBatchSize)
        // Images that fail are reported and left out, as embed leaves them out.
        let run = try cache.fillRun(for: images, model: loaded)
        _ = try CollectionRunReporter.execute(label: "embed", run: run, summary: { "\($0)×\(loaded.embeddingSize) embeddings" }) { progress, shouldStop in
            try session.embed(run, format: .npy, progress: progress, shouldStop: shouldStop)
        }
        return cached.path
    }

    /// The encoder a head trained on these embeddings records: `--model`'s network and checkpoint
    /// digest (nil without `--model`: an embeddings file does not say which model wrote it).
    func encoderRecord() throws -> HeadEncoder? {
        guard let model else { return nil }
        let loaded = try ModelOptions.load(model, network: network, store: CommandLineStore.store(directory: modelsDir, offline: offline))
        do { return try loaded.encoderRecord() } catch { throw CLIError.io(String(describing: error)) }
    }
}
