import ArgumentParser
import Birder
import Foundation

/// Images to run: files and directories (walked recursively, sorted), batching and threads.
struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files and directories (searched recursively for .jpg, .jpeg, .png, .webp).",
                                 valueName: "images-or-dirs"))
    var inputs: [String] = []

    @Option(name: .long, help: ArgumentHelp(
        "Take the images from a manifest (`birder manifest`) or a list of paths, one per line, instead of walking folders.",
        valueName: "file"))
    var filesFrom: String?

    @Option(name: .long, help: "Images per forward pass (\(OptionRange.batchSize.text)).")
    var batchSize = 8

    @Option(name: .long, help: "Threads for the model (\(OptionRange.threads.text); default: all cores).")
    var threads: Int?

    @Flag(name: .long, help: "Rotate images as their EXIF orientation says (Birder and PIL ignore it).")
    var applyExifOrientation = false

    /// Refuses values outside their documented ranges (exit status 2); every command calls this
    /// first in `run`, before loading anything.
    func checkRanges() throws {
        try OptionRange.batchSize.check(batchSize)
        try OptionRange.threads.check(threads)
        if filesFrom != nil, !inputs.isEmpty { throw CLIError.usage("give images or --files-from, not both") }
        if filesFrom == nil, inputs.isEmpty { throw CLIError.usage("no images given: name files or folders, or --files-from a manifest") }
    }

    /// The work list: the manifest or list given with `--files-from`, else the images of the
    /// inputs (as `collectPaths`), with the count of images left out.
    /// With `shard`, a manifest keeps only that shard's images in memory.
    func manifest(shard: Shard? = nil) throws -> (manifest: ImageManifest, skipped: Int) {
        if let filesFrom {
            do { return (try ImageManifest.read(filesFrom, shard: shard), 0) } catch { throw CLIError.usage(String(describing: error)) }
        }
        let (paths, skipped) = try collectPaths()
        return (ImageManifest(paths: paths), skipped)
    }

    /// Every image path in input order: files as given, directories expanded in sorted order, and
    /// the count of images left out because their names are not valid UTF-8 (each reported as
    /// `error: PATH: …`; they count as failed inputs). With no image left at all, that is the error.
    func collectPaths() throws -> (paths: [String], skipped: Int) {
        let found: (paths: [String], unopenable: [String])
        do { found = try ImageCollection.scan(inputs) } catch { throw CLIError.usage(error.description) }
        for path in found.unopenable {
            Terminal.error("\(path): the file name is not valid UTF-8 and cannot be opened (U+FFFD marks the bytes); rename the file")
        }
        if found.paths.isEmpty { throw CLIError.someInputsFailed(found.unopenable.count) }
        return (found.paths, found.unopenable.count)
    }

    /// A session for `model` with these options' threads, batch size and decoding.
    func session(for model: BirderModel) throws -> InferenceSession {
        do {
            let context = try ComputeContext(threads: threads, instructionSet: model.instructionSet)
            return try InferenceSession(model: model, context: context, batchSize: batchSize,
                                        decodeOptions: ImageDecodeOptions(applyEXIFOrientation: applyExifOrientation))
        } catch let error as ComputeError {
            throw CLIError.usage(error.description)
        }
    }
}

/// Reads a session's stream to the end for a command: unreadable images reported as
/// `error: PATH: reason`, a progress bar, and a clean stop on Ctrl-C.
enum StreamReader {
    /// Calls `body` with each successful item, in input order. Returns the number of inputs that
    /// failed.
    static func read<Value>(_ stream: InferenceStream<Value>, label: String,
                            _ body: (InferenceItem<Value>, Value) throws -> Void) throws -> Int {
        try Interrupt.cooperating { try readCooperating(stream, label: label, body) }
    }

    private static func readCooperating<Value>(_ stream: InferenceStream<Value>, label: String,
                                               _ body: (InferenceItem<Value>, Value) throws -> Void) throws -> Int {
        let progress = ProgressBar(label: label, total: Int64(stream.count))
        var done = 0, failed = 0
        for item in stream {
            switch item.result {
            case let .success(value): try body(item, value)
            case let .failure(error):
                Terminal.error(error.description)
                failed += 1
            }
            done += 1
            progress.update(Int64(done))
            try stopIfAsked(stream, done: done)
        }
        // A signal after the last item was read still stops the command before it writes.
        try stopIfAsked(stream, done: done)
        progress.finish(Int64(done))
        return failed
    }

    /// Throws `interrupted` (cancelling the stream) once a signal asked the command to stop.
    private static func stopIfAsked<Value>(_ stream: InferenceStream<Value>, done: Int) throws {
        guard let signal = Interrupt.requested else { return }
        stream.cancel()
        throw CLIError.interrupted(signal: signal, message:
            "interrupted (\(Interrupt.name(of: signal))) after \(done) of \(stream.count) images; nothing written")
    }

    /// Every embedding of the stream as one matrix with its sample names, and the failure count.
    /// With `listed` (a `.npy` whose names go to `FILE.samples.txt`), an image whose name holds a
    /// line break is reported and left out like an unreadable one (`EmbeddingFiles.canBeListed`).
    static func embeddings(_ stream: InferenceStream<[Float]>, width: Int, listed: String? = nil) throws
        -> (samples: [String], embeddings: Tensor, failed: Int) {
        var samples: [String] = [], rows: [Float] = [], refused = 0
        let failed = try read(stream, label: "embed") { item, row in
            if let listed, !EmbeddingFiles.canBeListed(item.name) {
                Terminal.error(EmbeddingFileError.unlistableName(sample: item.name, list: listed + ".samples.txt").description)
                refused += 1
                return
            }
            samples.append(item.name)
            rows += row
        }
        return (samples, Tensor(shape: [samples.count, width], values: rows), failed + refused)
    }
}
