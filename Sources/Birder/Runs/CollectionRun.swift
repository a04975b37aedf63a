import BirderCore
import BirderIO
import Foundation

/// A run over a collection too large to hold: which images, which part of them, where the rows go.
///
/// Rows are written as batches complete (memory does not grow with the collection), into
/// `OUTPUT.partial` files renamed into place when the run completes. After every batch the run
/// syncs them and rewrites its journal `OUTPUT.journal`, so a run stopped by a signal, a kill or a
/// node failure loses at most one batch: run again with `resume` and the final output is
/// byte-identical to an uninterrupted run's. A shard writes its own output
/// (`Shard.outputPath`) and, when finished, `OUTPUT.done`; running a finished shard again
/// skips it.
public struct CollectionRun: Sendable {
    public var manifest: ImageManifest
    public var shard: Shard?
    /// The output file as given (a shard writes `shard.outputPath(output)`); nil for standard output.
    public var output: String?
    /// Continue the interrupted run whose journal is beside the output (or start, when none is).
    public var resume: Bool

    public init(manifest: ImageManifest, shard: Shard? = nil, output: String?, resume: Bool = false) {
        self.manifest = manifest
        self.shard = shard
        self.output = output
        self.resume = resume
    }

    /// Where this run writes: the shard's own file when sharded.
    public var destination: String? { output.map { shard?.outputPath($0) ?? $0 } }

    /// The part of the manifest this run processes.
    public var range: Range<Int> { shard?.range(of: manifest.count) ?? 0..<manifest.count }
}

/// How a run ended.
public enum CollectionRunOutcome: Sendable, Equatable {
    /// Every image of the run's part was processed; `resumedAt` images had been before this call.
    case completed(rows: Int, failed: Int, resumedAt: Int)
    /// `shouldStop` asked it to stop; the journal (nil for standard output) records `done` of `total`.
    case stopped(done: Int, total: Int, journal: String?)
    /// The shard had finished before (its record is at `record`); nothing was done.
    case alreadyDone(record: String, rows: Int, failed: Int)
}

/// Progress of a run, after each image.
public struct CollectionRunProgress: Sendable {
    /// Images of the run's part done, including those done before a resume.
    public let done: Int
    public let total: Int
    /// The image just processed, and why it failed (nil when its row was written).
    public let sample: String
    public let failure: String?
}

extension InferenceSession {
    /// Embeds a collection into `run.output` (`.npy`, `.csv` or `.safetensors`, by `format` or the
    /// extension). `shouldStop` is asked after each image; `progress` hears of each.
    public func embed(_ run: CollectionRun, format: EmbeddingFormat? = nil,
                      progress: (CollectionRunProgress) -> Void = { _ in },
                      shouldStop: () -> Bool = { false }) throws -> CollectionRunOutcome {
        guard let destination = run.destination else { throw RunError.io(path: "", reason: "embeddings need an output file") }
        guard let format = format ?? EmbeddingFormat(path: destination) else {
            throw RunError.io(path: destination, reason: "the extension names no embedding format (.npy, .csv, .safetensors)")
        }
        let identity = RunIdentity(command: "embed", format: format.rawValue, settings: outputSettings, manifest: run.manifest,
                                   shard: run.shard, model: try RunIdentity.modelChecksum(model))
        let model = model
        return try CollectionRunner(run: run, identity: identity, network: model.network, batchSize: batchSize).execute(
            makeWriter: { lengths in
                try EmbeddingWriter(format: format, output: destination, width: model.embeddingSize,
                                    capacity: run.range.count, network: model.network, resuming: lengths)
            },
            stream: { paths in self.embed(paths.map(ImageInput.path)) },
            progress: progress, shouldStop: shouldStop)
    }

    /// The model's output settings in a run's identity, spelled as options (` img-loader=tv`).
    private var outputSettings: String {
        model.outputSettings.map { " \($0.name.replacingOccurrences(of: "_", with: "-"))=\($0.value)" }.joined()
    }

    /// The top `topK` classes of every head for a collection, into `run.output` or standard output.
    /// - allProbabilities: called with every class of every head for each image whose row is written
    ///   by this call (Birder's results files, accuracy summaries); a resumed run calls it only for
    ///   the images it processes.
    /// - minimumConfidence: `.wide` only: a class predicted with a lower probability is left empty.
    /// - includeLogits, testTimeAugmentation: as `classify(_:topK:includeLogits:testTimeAugmentation:)`;
    ///   the logits reach `allProbabilities` only.
    public func classify(_ run: CollectionRun, topK: Int = 5, format: PredictionFormat = .csv, minimumConfidence: Float = 0,
                         includeLogits: Bool = false, testTimeAugmentation: Bool = false,
                         allProbabilities: ((_ sample: String, Classification) throws -> Void)? = nil,
                         progress: (CollectionRunProgress) -> Void = { _ in },
                         shouldStop: () -> Bool = { false }) throws -> CollectionRunOutcome {
        let heads = model.classifyingHeads
        // One CSV column group per class actually reported (all of a head's when topK exceeds them).
        let columns = min(topK, heads.map(\.classCount).max() ?? topK)
        let identity = RunIdentity(command: "predict", format: format.rawValue,
                                   settings: "top-k=\(columns) heads=\(heads.map(\.name).joined(separator: ","))"
                                       + (format == .wide ? " min-confidence=\(minimumConfidence)" : "") + outputSettings
                                       + (testTimeAugmentation ? " tta" : ""),
                                   manifest: run.manifest, shard: run.shard, model: try RunIdentity.modelChecksum(model))
        let destination = run.destination
        guard !heads.isEmpty else { throw SessionError.noClassifier(model.checkpoint.path) }
        guard topK >= 1 else { throw SessionError.invalidTopK(topK) }
        return try CollectionRunner(run: run, identity: identity, network: model.network, batchSize: batchSize).execute(
            makeWriter: { lengths in
                let sink: any RunSink
                if let destination {
                    sink = try OutputFile.target(for: destination) == .direct
                        ? StreamSink(direct: destination) : PartialFile(for: destination, resumingAt: lengths?[0])
                } else {
                    sink = StreamSink()
                }
                return PredictionWriter(format: format, sink: sink, columns: columns, heads: heads.map(\.name),
                                        minimumConfidence: minimumConfidence, observer: allProbabilities)
            },
            stream: { paths in
                try self.classify(paths.map(ImageInput.path), topK: allProbabilities == nil ? topK : max(topK, heads.map(\.classCount).max() ?? topK),
                                  includeLogits: includeLogits && allProbabilities != nil, testTimeAugmentation: testTimeAugmentation)
            },
            progress: progress, shouldStop: shouldStop)
    }
}

/// Drives one collection run: the finished-shard check, the journal, the stream, the writer.
struct CollectionRunner {
    let run: CollectionRun
    let identity: RunIdentity
    let network: String
    /// Images between two journal records.
    let batchSize: Int

    func execute<Writer: RunWriter>(makeWriter: ([Int]?) throws -> Writer,
                                    stream: ([String]) throws -> InferenceStream<Writer.Value>,
                                    progress: (CollectionRunProgress) -> Void,
                                    shouldStop: () -> Bool) throws -> CollectionRunOutcome {
        let destination = run.destination
        let paths = run.manifest.entries(in: run.range).map(\.path)
        let total = paths.count

        if let destination, run.shard != nil, let outcome = try finishedShard(destination) { return outcome }

        // An interrupted run of this output: continue it, or refuse to overwrite it.
        var journal = RunJournal(identity: identity, done: 0, rows: 0, failed: 0, parts: [])
        let journalPath = destination.map(RunJournal.path(for:))
        var resumed = false
        if let journalPath, FileManager.default.fileExists(atPath: journalPath) {
            let previous = try RunJournal.read(journalPath)
            guard run.resume else { throw RunError.journalExists(journal: journalPath, done: previous.done, of: total) }
            if let difference = identity.difference(from: previous.identity) {
                throw RunError.journalMismatch(journal: journalPath, difference: difference)
            }
            journal = previous
            resumed = true
        }
        let writer = try makeWriter(resumed ? journal.parts.map(\.length) : nil)
        let journaled = journalPath != nil && writer.sinks.allSatisfy(\.isResumable)
        if run.resume, !journaled { writer.discard(); throw RunError.notResumable(output: destination ?? "<stdout>") }
        if resumed, writer.sinks.map(\.path) != journal.parts.map(\.path) {
            writer.discard()
            throw RunError.journalMismatch(journal: journalPath!, difference: "its files differ from this output's")
        }

        do {
            if !resumed { try writer.begin() }
            // The last state a run can continue from: every row so far in the sinks (a Parquet
            // writer holds rows until its row group is full, so only its group boundaries qualify).
            var checkpoint = journal
            func markCheckpoint() {
                guard writer.pendingRows == 0 else { return }
                checkpoint = journal
                checkpoint.parts = writer.sinks.map { RunJournal.Part(path: $0.path, length: $0.length) }
            }
            func record() throws {
                guard journaled, let journalPath else { return }
                for sink in writer.sinks { try sink.sync() }
                try writeRecord(checkpoint, to: journalPath)
            }
            markCheckpoint()
            try record()
            let resumedAt = journal.done
            var sinceRecord = 0
            let items = try stream(Array(paths[resumedAt...]))
            for item in items {
                var failure: String?
                switch item.result {
                case let .success(value):
                    failure = try writer.append(sample: FileSystemPath.displayed(item.name), value: value, row: journal.rows)
                    if failure == nil { journal.rows += 1 }
                case let .failure(error):
                    failure = error.description
                }
                if failure != nil { journal.failed += 1 }
                journal.done += 1
                sinceRecord += 1
                markCheckpoint()
                progress(CollectionRunProgress(done: journal.done, total: total, sample: item.name, failure: failure))
                if shouldStop() {
                    items.cancel()
                    try record()
                    return .stopped(done: checkpoint.done, total: total, journal: journaled ? journalPath : nil)
                }
                if sinceRecord >= batchSize {
                    try record()
                    sinceRecord = 0
                }
            }
            try writer.finish(rows: journal.rows)
            if let destination, run.shard != nil {
                let outputs = writer is EmbeddingWriter && identity.format == EmbeddingFormat.npy.rawValue
                    ? [destination, destination + ".samples.txt"] : [destination]
                try writeRecord(ShardRecord(identity: identity, rows: journal.rows, failed: journal.failed, outputs: outputs,
                                            network: network, engine: BirderVersion.engine),
                                to: ShardRecord.path(for: destination))
            }
            if let journalPath { unlink(journalPath) }
            return .completed(rows: journal.rows, failed: journal.failed, resumedAt: resumedAt)
        } catch {
            // A failed run (a full disk, an unwritable file) leaves nothing half-written, unless it
            // was asked to be resumable: then its journal and partial files stay, to be continued
            // once the cause is fixed. A stopped or killed run always keeps them.
            if !(run.resume && journaled) {
                writer.discard()
                if let journalPath { unlink(journalPath) }
            }
            throw error
        }
    }

    /// The outcome of a shard finished before, or nil when it must run.
    private func finishedShard(_ destination: String) throws -> CollectionRunOutcome? {
        let recordPath = ShardRecord.path(for: destination)
        guard FileManager.default.fileExists(atPath: recordPath) else { return nil }
        let record = try ShardRecord.read(recordPath)
        if let difference = identity.difference(from: record.identity) {
            throw RunError.foreignShardRecord(record: recordPath, difference: difference)
        }
        guard record.outputs.allSatisfy(FileManager.default.fileExists(atPath:)) else {
            // The record outlived its output (removed by hand): compute the shard again.
            unlink(recordPath)
            return nil
        }
        return .alreadyDone(record: recordPath, rows: record.rows, failed: record.failed)
    }
}
