import ArgumentParser
import Birder
import Foundation

/// Images to run: files and directories (walked recursively, sorted), batching and threads.
struct InputOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("Image files and directories (searched recursively for \(ImageCollection.extensions.sorted().map { "." + $0 }.joined(separator: ", "))).",
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
    /// the count of folders that could not be read (each reported as `error: PATH: …`; they count as
    /// failed inputs). Files of other formats in the folders are counted in one note. With no image
    /// left at all, that is the error.
    func collectPaths() throws -> (paths: [String], skipped: Int) {
        let found: ImageScan
        do { found = try ImageCollection.scan(inputs) } catch { throw CLIError.usage(error.description) }
        Self.report(found)
        if found.paths.isEmpty { throw CLIError.someInputsFailed(found.unreadableFolders.count) }
        return (found.paths, found.unreadableFolders.count)
    }

    /// Says on stderr which folders could not be read and how many files were passed over.
    static func report(_ scan: ImageScan) {
        for folder in scan.unreadableFolders {
            Terminal.error("\(folder.path): cannot read directory: \(folder.reason); its images are left out")
        }
        if let summary = scan.skippedSummary { Terminal.note("note: \(summary)") }
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
