import ArgumentParser
import Birder
import Foundation

/// Images to run: files and directories (walked recursively, sorted), batching and threads.
struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files and directories (searched recursively for .jpg, .jpeg, .png, .webp).",
                                 valueName: "images-or-dirs"))
    var inputs: [String]

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
    }

    /// Every image path in input order: files as given, directories expanded in sorted order.
    func collectPaths() throws -> [String] {
        do { return try ImageCollection.paths(inputs) } catch { throw CLIError.usage(error.description) }
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
        Interrupt.install()
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
            if Interrupt.requested {
                stream.cancel()
                throw CLIError.io("interrupted after \(done) of \(stream.count) images; nothing written")
            }
        }
        progress.finish(Int64(done))
        return failed
    }

    /// Every embedding of the stream as one matrix with its sample names, and the failure count.
    static func embeddings(_ stream: InferenceStream<[Float]>, width: Int) throws
        -> (samples: [String], embeddings: Tensor, failed: Int) {
        var samples: [String] = [], rows: [Float] = []
        let failed = try read(stream, label: "embed") { item, row in
            samples.append(item.name)
            rows += row
        }
        return (samples, Tensor(shape: [samples.count, width], values: rows), failed)
    }
}
