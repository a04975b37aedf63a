import BirderCore
import BirderIO
import Foundation

/// Combines the outputs of a sharded run, in shard order, into one file — byte for byte the file
/// one process would have written for the whole list. Every shard must be present once and
/// finished (its `OUTPUT.done` record), all from the same list, model and options.
///
/// Embeddings may be merged into any embedding format (shards in `.npy`, merged into `.csv`, say);
/// predictions into the shards' own format. Shards are read one at a time: memory follows the
/// largest shard, not the row count of the whole run — and `.npy` into `.npy` (the cluster
/// recipes' case) streams each shard's rows through one buffer, so neither.
public enum ShardMerge {
    public struct Summary: Sendable, Equatable {
        public let rows: Int
        public let failed: Int
        public let shards: Int
    }

    public static func merge(_ shardOutputs: [String], into output: String,
                             progress: (_ shardsDone: Int, _ shards: Int) -> Void = { _, _ in }) throws -> Summary {
        let shards = try orderedShards(shardOutputs)
        let first = shards[0].record
        let rows = shards.reduce(0) { $0 + $1.record.rows }, failed = shards.reduce(0) { $0 + $1.record.failed }
        if first.identity.command == "embed" {
            guard let format = EmbeddingFormat(path: output) else {
                throw RunError.io(path: output, reason: "the extension names no embedding format (.npy, .csv, .safetensors)")
            }
            var width: Int?
            var writer: EmbeddingWriter?
            do {
                for (done, shard) in shards.enumerated() {
                    if format == .npy, let layout = try rawRows(of: shard, width: width) {
                        if writer == nil {
                            width = layout.shape[1]
                            writer = try EmbeddingWriter(format: format, output: output, width: layout.shape[1], capacity: rows,
                                                         network: first.network)
                            try writer!.begin()
                        }
                        try appendRawRows(shard, layout: layout, to: writer!)
                        progress(done + 1, shards.count)
                        continue
                    }
                    let (samples, matrix) = try EmbeddingFiles.read(shard.path)
                    guard samples.count == shard.record.rows else {
                        throw RunError.invalidRecord(path: shard.path, reason: "holds \(samples.count) rows, its record \(ShardRecord.path(for: shard.path)) says \(shard.record.rows)")
                    }
                    let columns = matrix.shape[1]
                    if width == nil {
                        width = columns
                        writer = try EmbeddingWriter(format: format, output: output, width: columns, capacity: rows, network: first.network)
                        try writer!.begin()
                    }
                    guard columns == width else {
                        throw RunError.invalidRecord(path: shard.path, reason: "has \(columns) columns, the first shard \(width!)")
                    }
                    let values = matrix.scalars
                    var row = 0
                    for (index, sample) in samples.enumerated() {
                        if let refusal = try writer!.append(sample: sample, value: Array(values[(index * columns)..<((index + 1) * columns)]), row: row) {
                            throw RunError.io(path: output, reason: refusal)
                        }
                        row += 1
                    }
                    progress(done + 1, shards.count)
                }
                try writer!.finish(rows: rows)
            } catch {
                writer?.discard()
                throw error
            }
        } else {
            // Predictions are merged in the shards' own format, whatever the output's name.
            let format = first.identity.format
            let file = try PartialFile(for: output)
            do {
                var header: [UInt8]?
                var bodies = 0
                if format == PredictionFormat.json.rawValue { try file.append("[\n") }
                for (done, shard) in shards.enumerated() {
                    let contents = try FileContents(path: shard.path)
                    var body = contents.byteArray
                    switch format {
                    case PredictionFormat.csv.rawValue, PredictionFormat.wide.rawValue:
                        let end = (body.firstIndex(of: UInt8(ascii: "\n")) ?? body.count - 1) + 1
                        let shardHeader = Array(body[..<min(end, body.count)])
                        if header == nil { header = shardHeader; try file.append(shardHeader) }
                        guard shardHeader == header else {
                            throw RunError.invalidRecord(path: shard.path, reason: "its CSV header differs from the first shard's")
                        }
                        body.removeFirst(shardHeader.count)
                    case PredictionFormat.json.rawValue:
                        let text = String(decoding: body, as: UTF8.self)
                        guard text.hasPrefix("[\n"), text.hasSuffix("]\n") else {
                            throw RunError.invalidRecord(path: shard.path, reason: "is not a JSON array as predict writes it")
                        }
                        let inner = text.dropFirst(2).dropLast(2)
                        let trimmed = inner.hasSuffix("\n") ? inner.dropLast() : inner
                        body = Array(((bodies > 0 && !trimmed.isEmpty) ? ",\n" : "").utf8) + Array(trimmed.utf8)
                        if !trimmed.isEmpty { bodies += 1 }
                    default:
                        break
                    }
                    try file.append(body)
                    progress(done + 1, shards.count)
                }
                if format == PredictionFormat.json.rawValue { try file.append(bodies == 0 ? "]\n" : "\n]\n") }
                try file.commit()
            } catch {
                file.discard()
                throw error
            }
        }
        return Summary(rows: rows, failed: failed, shards: shards.count)
    }

    /// The shards with their records, in index order, checked to be one complete run.
    private static func orderedShards(_ paths: [String]) throws -> [(path: String, record: ShardRecord)] {
        guard !paths.isEmpty else { throw RunError.io(path: "", reason: "no shard outputs given") }
        var shards: [(path: String, record: ShardRecord)] = []
        for path in paths {
            let recordPath = ShardRecord.path(for: path)
            guard FileManager.default.fileExists(atPath: recordPath) else {
                throw RunError.invalidRecord(path: path, reason: "has no \(recordPath): the shard is unfinished, or this is not a shard's output")
            }
            let record = try ShardRecord.read(recordPath)
            for output in record.outputs where !FileManager.default.fileExists(atPath: output) {
                throw RunError.invalidRecord(path: path, reason: "its record lists \(output), which is missing")
            }
            shards.append((path, record))
        }
        let reference = shards[0]
        for shard in shards.dropFirst() {
            var a = shard.record.identity, b = reference.record.identity
            a.shard = nil; b.shard = nil
            if a.command == "embed" { a.format = b.format }
            if let difference = a.difference(from: b) {
                throw RunError.invalidRecord(path: shard.path, reason: "is from a different run than \(reference.path): \(difference)")
            }
            if shard.record.identity.shard!.count != reference.record.identity.shard!.count {
                throw RunError.invalidRecord(path: shard.path, reason:
                    "is shard \(shard.record.identity.shard!) but \(reference.path) is shard \(reference.record.identity.shard!)")
            }
        }
        let count = reference.record.identity.shard!.count
        var byIndex = [Int: (path: String, record: ShardRecord)]()
        for shard in shards {
            let index = shard.record.identity.shard!.index
            if let other = byIndex[index] {
                throw RunError.invalidRecord(path: shard.path, reason: "is shard \(index)/\(count), as is \(other.path)")
            }
            byIndex[index] = shard
        }
        let missing = (0..<count).filter { byIndex[$0] == nil }
        guard missing.isEmpty else {
            let shown = missing.prefix(10).map { "\($0)/\(count)" }.joined(separator: ", ") + (missing.count > 10 ? ", …" : "")
            throw RunError.io(path: "", reason: "missing \(missing.count) of \(count) shards (\(shown)); run them (--shard I/N) and merge again")
        }
        return (0..<count).map { byIndex[$0]! }
    }

    /// The layout of a shard whose rows an `.npy` output can take as they are (a little-endian
    /// float32 `.npy` matrix of the run's rows and width), or nil for the general path to read it.
    private static func rawRows(of shard: (path: String, record: ShardRecord), width: Int?) throws -> NPY.Layout? {
        guard EmbeddingFormat(path: shard.path) == .npy else { return nil }
        let layout = try NPY.layout(of: shard.path)
        guard layout.isFloat32Rows, layout.shape[0] == shard.record.rows, width == nil || layout.shape[1] == width else { return nil }
        return layout
    }

    /// `.npy` into `.npy`: the shard's rows copied through one 4 MB buffer (a copy, not a parse,
    /// and never the whole shard in memory), then its sample list, checked to hold one line per row.
    private static func appendRawRows(_ shard: (path: String, record: ShardRecord), layout: NPY.Layout, to writer: EmbeddingWriter) throws {
        let list = try FileContents(path: shard.path + ".samples.txt").byteArray
        let lines = list.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
        guard lines == shard.record.rows, list.last == UInt8(ascii: "\n") || list.isEmpty else {
            throw RunError.invalidRecord(path: shard.path, reason: "its sample list holds \(lines) lines for \(shard.record.rows) rows")
        }
        try FileContents.forEachChunk(of: shard.path, in: layout.dataOffset..<(layout.dataOffset + layout.dataBytes),
                                      chunkSize: 4 << 20) { try writer.appendRawRows($0) }
        try writer.appendSampleLines(list)
    }
}
