import BirderCore
import BirderIO
import Foundation

/// An output format written row by row as a run's batches complete, holding no rows in memory, so
/// that its files can be journaled after any row and a later run can continue them.
package protocol RunWriter: AnyObject {
    associatedtype Value: Sendable
    /// The files a journal records, in a fixed order (their lengths resume the writer).
    var sinks: [any RunSink] { get }
    /// Writes what precedes the rows (only on a fresh run).
    func begin() throws
    /// Writes row `row` (0-based). Returns why the row cannot be written, for a value the format
    /// cannot hold; the item then counts as failed and nothing was written.
    func append(sample: String, value: Value, row: Int) throws -> String?
    /// Writes what follows `rows` rows and moves the files into place.
    func finish(rows: Int) throws
    /// Rows appended but not yet in the sinks; a journal records only states where this is 0.
    var pendingRows: Int { get }
}

extension RunWriter {
    package func discard() { for sink in sinks { sink.discard() } }
    package var pendingRows: Int { 0 }
}

// MARK: - Embeddings

/// The embedding files `birder embed` writes, chosen by the output's extension.
public enum EmbeddingFormat: String, Sendable, CaseIterable, Codable {
    /// float32 N×D, C order, little-endian, plus `FILE.samples.txt` (one name per row).
    case npy
    /// Birder's embeddings CSV: `sample`, then columns `0…D-1`.
    case csv
    /// Tensor `embedding` N×D; the sample list as JSON in the metadata key `samples`.
    case safetensors
    /// Birder's Parquet embeddings: `sample: string`, `embedding: fixed_size_list<float32>[D]`.
    case parquet

    public init?(path: String) {
        self.init(rawValue: (path as NSString).pathExtension.lowercased())
    }
}

/// Embeddings written as they come, in any `EmbeddingFormat`.
package final class EmbeddingWriter: RunWriter {
    package let format: EmbeddingFormat
    package let sinks: [any RunSink]
    private let output: String
    private let width: Int
    private let network: String
    /// `.npy`: the header is written for zero rows, padded to the length the header of the largest
    /// possible row count needs, and rewritten in place once the count is known.
    private let headerLength: Int
    /// `.parquet`: rows are held until a row group is full (then written); resumable at group ends.
    private var parquet: ParquetEmbeddingsEncoder?
    /// Rows per Parquet row group: 1,024 rows of 1,040 floats are 4 MB, a few thousand groups for
    /// millions of images, and at most that many images computed again after a kill.
    package static let parquetRowGroupRows = 1024
    package var pendingRows: Int { parquet?.pendingRows ?? 0 }

    /// - capacity: the most rows the run can write (its images).
    /// - resuming: the sinks' lengths a journal recorded, to continue an interrupted run.
    package init(format: EmbeddingFormat, output: String, width: Int, capacity: Int, network: String,
                 resuming lengths: [Int]? = nil) throws {
        self.format = format
        self.output = output
        self.width = width
        self.network = network
        headerLength = format == .npy ? try Self.npyHeader(rows: capacity, width: width).count : 0
        let parts: [(path: String, spooled: Bool)]
        switch format {
        case .npy: parts = [(output, false), (output + ".samples.txt", false)]
        case .csv, .parquet: parts = [(output, false)]
        case .safetensors:
            // The header holds the sample list and row count, known at the end: rows and names are
            // kept in parts (beside the output, or spooled when it is a device) and assembled then.
            let spooled = try OutputFile.target(for: output) == .direct
            parts = [(output + ".rows", spooled), (output + ".names", spooled)]
        }
        var sinks: [any RunSink] = []
        do {
            for (index, part) in parts.enumerated() {
                sinks.append(try PartialFile(for: part.path, resumingAt: lengths?[index], spooled: part.spooled))
            }
        } catch {
            for sink in sinks { sink.discard() }
            throw error
        }
        self.sinks = sinks
        if format == .parquet {
            let partial = sinks[0] as! PartialFile
            do {
                parquet = try lengths.map {
                    try ParquetEmbeddingsEncoder(resuming: partial.partialPath, length: $0[0], dimension: width, withLabels: false,
                                                 rowGroupRows: Self.parquetRowGroupRows)
                } ?? ParquetEmbeddingsEncoder(dimension: width, withLabels: false, rowGroupRows: Self.parquetRowGroupRows)
            } catch {
                for sink in sinks { sink.discard() }
                throw error
            }
        }
    }

    private static func npyHeader(rows: Int, width: Int, length: Int? = nil) throws -> [UInt8] {
        do { return try NPY.header(descr: "<f4", shape: [rows, width], length: length) } catch {
            throw RunError.io(path: "", reason: "an .npy header cannot hold \(rows)×\(width)")
        }
    }

    package func begin() throws {
        switch format {
        case .npy: try sinks[0].append(try Self.npyHeader(rows: 0, width: width, length: headerLength))
        case .csv: try sinks[0].append((["sample"] + (0..<width).map(String.init)).joined(separator: ",") + "\n")
        case .safetensors, .parquet: break
        }
    }

    package func append(sample: String, value: [Float], row: Int) throws -> String? {
        precondition(value.count == width, "one embedding of the run's width")
        switch format {
        case .npy:
            guard EmbeddingFiles.canBeListed(sample) else {
                return EmbeddingFileError.unlistableName(sample: sample, list: output + ".samples.txt").description
            }
            try value.withUnsafeBytes { try sinks[0].append($0) }
            try sinks[1].append(sample + "\n")
        case .csv:
            try sinks[0].append(([TextFormat.csvField(sample)] + value.map { "\($0)" }).joined(separator: ",") + "\n")
        case .safetensors:
            try value.withUnsafeBytes { try sinks[0].append($0) }
            try sinks[1].append(TextFormat.jsonString(sample) + "\n")
        case .parquet:
            try sinks[0].append(parquet!.append(samples: [sample], embeddings: value))
        }
        return nil
    }

    /// `.npy` only: bytes of rows already encoded as little-endian float32 (merging `.npy` shards;
    /// a row may arrive in pieces, the caller appends whole rows in all).
    package func appendRawRows(_ bytes: UnsafeRawBufferPointer) throws {
        precondition(format == .npy, "raw rows go to an .npy output")
        try sinks[0].append(bytes)
    }

    /// `.npy` only: sample lines, one per raw row appended, each ending in a line feed.
    package func appendSampleLines(_ lines: [UInt8]) throws {
        precondition(format == .npy, "sample lines go with an .npy output")
        try sinks[1].append(lines)
    }

    package func finish(rows: Int) throws {
        switch format {
        case .npy:
            try (sinks[0] as! PartialFile).overwrite(try Self.npyHeader(rows: rows, width: width, length: headerLength), at: 0)
            // The list goes into place first, so the matrix never appears without its names.
            try sinks[1].commit()
            try sinks[0].commit()
        case .csv:
            try sinks[0].commit()
        case .parquet:
            try sinks[0].append(parquet!.finish())
            try sinks[0].commit()
        case .safetensors:
            let rowsPart = sinks[0] as! PartialFile, namesPart = sinks[1] as! PartialFile
            let names = String(decoding: try namesPart.read(at: 0, count: namesPart.length), as: UTF8.self)
                .split(separator: "\n").joined(separator: ",")
            let header = Safetensors.header([("embedding", .float32, [rows, width])],
                                            metadata: ["samples": "[" + names + "]", "network": network])
            let file = try PartialFile(for: output)
            do {
                try file.append(header)
                var offset = 0
                while offset < rowsPart.length {
                    let chunk = try rowsPart.read(at: offset, count: min(1 << 20, rowsPart.length - offset))
                    try file.append(chunk)
                    offset += chunk.count
                }
                try file.commit()
            } catch {
                file.discard()
                throw error
            }
            discard()
        }
    }
}

// MARK: - Predictions

/// The prediction files `birder predict` writes.
public enum PredictionFormat: String, Sendable, CaseIterable, Codable {
    /// One row per image and head: sample, head, prediction, then class_k, prob_k, idx_k.
    case csv
    /// One JSON array of objects, one per image.
    case json
    /// One JSON object per line, one per image.
    case jsonl
    /// One CSV row per image: `sample`, then for each head its predicted class and probability
    /// (`order,order_probability,family,…`): the taxonomy levels of a species side by side.
    case wide
}

/// Predictions written as they come.
package final class PredictionWriter: RunWriter {
    package let format: PredictionFormat
    package let sinks: [any RunSink]
    /// Classes reported per head (column groups of the CSV; entries of the JSON).
    private let columns: Int
    /// Sees each written image's classification as computed (all classes when it asked for them).
    private let observer: ((String, Classification) throws -> Void)?
    /// `.wide`: the heads' names, for the header.
    private let heads: [String]
    /// `.wide`: a prediction less probable than this leaves its class empty (the probability stays).
    private let minimumConfidence: Float

    package init(format: PredictionFormat, sink: any RunSink, columns: Int, heads: [String] = [], minimumConfidence: Float = 0,
                 observer: ((String, Classification) throws -> Void)? = nil) {
        self.format = format
        self.sinks = [sink]
        self.columns = columns
        self.heads = heads
        self.minimumConfidence = minimumConfidence
        self.observer = observer
    }

    package func begin() throws {
        switch format {
        case .csv:
            try sinks[0].append((["sample", "head", "prediction"] + (0..<columns).flatMap { ["class_\($0)", "prob_\($0)", "idx_\($0)"] })
                .joined(separator: ",") + "\n")
        case .json: try sinks[0].append("[\n")
        case .jsonl: break
        case .wide:
            try sinks[0].append((["sample"] + heads.flatMap { [TextFormat.csvField($0), TextFormat.csvField($0 + "_probability")] })
                .joined(separator: ",") + "\n")
        }
    }

    package func append(sample: String, value: Classification, row: Int) throws -> String? {
        try observer?(sample, value)
        switch format {
        case .csv:
            try sinks[0].append(value.heads.map { csvRow(sample: sample, prediction: $0) }.joined())
        case .json:
            try sinks[0].append((row == 0 ? "  " : ",\n  ") + jsonObject(sample: sample, classification: value))
        case .jsonl:
            try sinks[0].append(jsonObject(sample: sample, classification: value) + "\n")
        case .wide:
            var fields = [TextFormat.csvField(sample)]
            for prediction in value.heads {
                let best = prediction.top[0]
                fields += [best.probability >= minimumConfidence ? TextFormat.csvField(best.name) : "", "\(best.probability)"]
            }
            try sinks[0].append(fields.joined(separator: ",") + "\n")
        }
        return nil
    }

    package func finish(rows: Int) throws {
        if format == .json { try sinks[0].append(rows == 0 ? "]\n" : "\n]\n") }
        try sinks[0].commit()
    }

    private func csvRow(sample: String, prediction: HeadPrediction) -> String {
        let top = prediction.top
        var fields = [TextFormat.csvField(sample), TextFormat.csvField(prediction.head), TextFormat.csvField(top[0].name)]
        for j in 0..<columns {
            if j < top.count {
                fields += [TextFormat.csvField(top[j].name), "\(top[j].probability)", "\(top[j].index)"]
            } else {
                fields += ["", "", ""]
            }
        }
        return fields.joined(separator: ",") + "\n"
    }

    private func jsonObject(sample: String, classification: Classification) -> String {
        let predictions = classification.heads.map { prediction -> String in
            let entries = prediction.top.prefix(columns).map {
                "{\"class\": \(TextFormat.jsonString($0.name)), \"index\": \($0.index), \"probability\": \($0.probability)}"
            }
            return "\(TextFormat.jsonString(prediction.head)): [\(entries.joined(separator: ", "))]"
        }
        return "{\"sample\": \(TextFormat.jsonString(sample)), \"predictions\": {\(predictions.joined(separator: ", "))}}"
    }
}

/// Quoting for the text formats.
public enum TextFormat {
    /// RFC 4180 quoting where needed.
    public static func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A JSON string literal (slashes unescaped).
    public static func jsonString(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
    }
}
