import BirderHub
import BirderIO
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a run computes: two runs with equal identities write byte-identical outputs, so one can
/// continue the other (`--resume`) and shards of one run can be merged.
public struct RunIdentity: Codable, Sendable, Equatable {
    /// `embed` or `predict`.
    public var command: String
    /// The output format (`npy`, `csv`, `json`…).
    public var format: String
    /// Options that change the bytes written (e.g. `top-k=5 heads=order,species`).
    public var settings: String
    /// `ImageManifest.listHash` of the whole work list (every shard's).
    public var listHash: String
    /// Images in the whole work list.
    public var images: Int
    /// The part of the list this run takes; nil for all of it.
    public var shard: Shard?
    /// `sha256:` of the checkpoint and of each head file (see `modelChecksum`).
    public var model: String

    public init(command: String, format: String, settings: String, manifest: ImageManifest, shard: Shard?, model: String) {
        self.command = command
        self.format = format
        self.settings = settings
        listHash = manifest.listHash
        images = manifest.count
        self.shard = shard
        self.model = model
    }

    /// The first field two identities differ in, as a user would name it.
    func difference(from other: RunIdentity) -> String? {
        if model != other.model { return "the model (checkpoint or heads) differs" }
        if listHash != other.listHash || images != other.images { return "the list of images differs (\(other.images) then, \(images) now)" }
        if shard != other.shard { return "the shard differs (\(other.shard.map(String.init(describing:)) ?? "none") then, \(shard.map(String.init(describing:)) ?? "none") now)" }
        if command != other.command || format != other.format { return "the output differs (\(other.command) \(other.format) then)" }
        if settings != other.settings { return "the options differ (\(other.settings) then, \(settings) now)" }
        return nil
    }

    /// `sha256:` of the model's checkpoint file, followed by each attached head file's, combined
    /// into one digest when heads are attached.
    public static func modelChecksum(_ model: BirderModel) throws -> String {
        var digests = [try Downloader.sha256(of: model.checkpoint)]
        for head in model.heads { digests.append(try Downloader.sha256(of: head.file)) }
        return "sha256:" + (digests.count == 1 ? digests[0] : ImageManifest.hash(digests))
    }
}

/// The journal of an unfinished run, `OUTPUT.journal`: how far it got and the lengths of its
/// partial files at that point, rewritten atomically (and synced) after every batch.
struct RunJournal: Codable, Equatable {
    struct Part: Codable, Equatable {
        var path: String
        var length: Int
    }

    var journal = "birder run journal v1"
    var identity: RunIdentity
    /// Images of this run's part of the list read so far.
    var done: Int
    /// Rows written.
    var rows: Int
    /// Images that failed (reported when they did).
    var failed: Int
    var parts: [Part]

    static func path(for output: String) -> String { output + ".journal" }

    static func read(_ path: String) throws -> RunJournal {
        let file = try FileContents(path: path)
        do {
            let journal = try JSONDecoder().decode(RunJournal.self, from: Data(file.byteArray))
            guard journal.journal == RunJournal(identity: journal.identity, done: 0, rows: 0, failed: 0, parts: []).journal,
                  journal.done >= 0, journal.rows >= 0, journal.failed >= 0, journal.rows + journal.failed <= journal.done,
                  journal.parts.allSatisfy({ $0.length >= 0 }) else {
                throw RunError.invalidRecord(path: path, reason: "not a birder run journal (v1) or inconsistent counts")
            }
            return journal
        } catch let error as RunError {
            throw error
        } catch {
            throw RunError.invalidRecord(path: path, reason: "unreadable journal: \(error)")
        }
    }
}

/// The record a finished shard leaves beside its output, `OUTPUT.done` (JSON): `merge` checks that
/// every shard of a run is present and finished, and a rerun of a finished shard skips it.
public struct ShardRecord: Codable, Sendable, Equatable {
    public var record = "birder shard done v1"
    public var identity: RunIdentity
    public var rows: Int
    public var failed: Int
    /// The output file and, for `.npy`, its sample list.
    public var outputs: [String]
    public var network: String
    public var engine: String

    public static func path(for output: String) -> String { output + ".done" }

    public static func read(_ path: String) throws -> ShardRecord {
        let file = try FileContents(path: path)
        do {
            let record = try JSONDecoder().decode(ShardRecord.self, from: Data(file.byteArray))
            guard record.record == "birder shard done v1", record.identity.shard != nil, record.rows >= 0 else {
                throw RunError.invalidRecord(path: path, reason: "not a birder shard record (v1)")
            }
            return record
        } catch let error as RunError {
            throw error
        } catch {
            throw RunError.invalidRecord(path: path, reason: "unreadable shard record: \(error)")
        }
    }
}

/// Writes `value` as JSON to `path` atomically and durably (`OutputFile`: a temporary beside it,
/// synced, renamed), then syncs the directory so the rename itself survives a power cut: a crash
/// leaves the old record or the new one, never a torn one.
func writeRecord<T: Encodable>(_ value: T, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let file = try OutputFile(path: path)
    try file.write(Array(try encoder.encode(value)) + [UInt8(ascii: "\n")])
    try file.commit()
    let directory = open(OutputFile.directoryName(path), O_RDONLY | O_CLOEXEC)
    if directory >= 0 {
        fsync(directory)
        close(directory)
    }
}

public enum RunError: Error, CustomStringConvertible, Sendable, Equatable {
    case io(path: String, reason: String)
    case invalidRecord(path: String, reason: String)
    /// An interrupted run's journal exists and `--resume` was not given.
    case journalExists(journal: String, done: Int, of: Int)
    /// `--resume` of a journal written by a different run.
    case journalMismatch(journal: String, difference: String)
    /// `--resume` where the output cannot be journaled (stdout, a FIFO, a device).
    case notResumable(output: String)
    /// A finished shard's record from a different run is where this shard would write.
    case foreignShardRecord(record: String, difference: String)

    public var description: String {
        switch self {
        case let .io(path, reason): return path.isEmpty ? reason : "\(path): \(reason)"
        case let .invalidRecord(path, reason): return "\(path): \(reason)"
        case let .journalExists(journal, done, total):
            return "\(journal): an interrupted run of this output exists (\(done) of \(total) images done); add --resume to continue it, or remove the journal and its .partial files to start again"
        case let .journalMismatch(journal, difference):
            return "\(journal): cannot resume: \(difference); remove the journal and its .partial files to start again"
        case let .notResumable(output):
            return "\(output): --resume needs a regular output file (stdout, a FIFO or a device cannot be continued)"
        case let .foreignShardRecord(record, difference):
            return "\(record): a finished shard of a different run is here (\(difference)); remove it and its output to recompute"
        }
    }
}
