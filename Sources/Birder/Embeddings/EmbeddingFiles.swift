import BirderCore
import BirderIO
import Foundation

/// Birder-style embeddings on disk: an N×D float32 `.npy` and `FILE.samples.txt`, one sample
/// name per row, both written atomically (`OutputFile`: a device, FIFO or symbolic link given as
/// the `.npy` is written through or followed, never replaced).
public enum EmbeddingFiles {
    /// Whether a sample name can be a line of `FILE.samples.txt`: a line break would split it into
    /// two samples when read back. Such names are refused rather than escaped, because Birder and
    /// the tools reading the list take each line verbatim (an escape would be a different name).
    public static func canBeListed(_ sample: String) -> Bool {
        !sample.contains { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }
    }

    /// Writes `embeddings` (N×D) and its sample list (N names) beside it. Every name must pass
    /// `canBeListed` (`listable` keeps the rows that do).
    public static func writeNPY(_ embeddings: Tensor, samples: [String], to path: String) throws {
        precondition(embeddings.rank == 2 && embeddings.shape[0] == samples.count, "one sample name per row")
        if let bad = samples.first(where: { !canBeListed($0) }) {
            throw EmbeddingFileError.unlistableName(sample: bad, list: path + ".samples.txt")
        }
        // The list is written first but renamed into place only after the matrix, so a failure
        // leaves neither file half-written (an abandoned OutputFile removes its temporary).
        let list = try OutputFile(path: path + ".samples.txt")
        try list.write(Array(samples.map { $0 + "\n" }.joined().utf8))
        try NPY.write(embeddings, to: path)
        try list.commit()
    }

    /// Writes `embeddings` (N×D) as Birder's Parquet embeddings (`sample`, optional `label`
    /// with -1 where unknown, `embedding: fixed_size_list<float32>[D]`), which Birder's
    /// `birder.eval` tools and `load_embeddings` read. Any sample name can be stored.
    /// For output written batch by batch (and resumable), use `ParquetEmbeddingsEncoder`.
    public static func writeParquet(_ embeddings: Tensor, samples: [String], labels: [Int64]? = nil, to path: String) throws {
        precondition(embeddings.rank == 2 && embeddings.shape[0] == samples.count, "one sample name per row")
        precondition(labels.map { $0.count == samples.count } ?? true, "one label per row")
        try ParquetEmbeddingsFile.write(samples: samples, labels: labels, embeddings: embeddings.scalars,
                                        dimension: embeddings.shape[1], to: path)
    }

    /// Reads Birder's Parquet embeddings (as Birder, pyarrow, polars or `writeParquet` write
    /// them): the sample names, the N×D matrix and the `label` column when the file has one.
    public static func readParquet(_ path: String) throws -> (samples: [String], embeddings: Tensor, labels: [Int64?]?) {
        let rows = try ParquetEmbeddingsReader.readAll(path: path)
        return (rows.samples, Tensor(shape: [rows.samples.count, rows.dimension], values: rows.embeddings), rows.labels)
    }

    /// The rows whose names `canBeListed`, and the names of the others.
    public static func listable(_ embeddings: Tensor, samples: [String]) -> (samples: [String], embeddings: Tensor, refused: [String]) {
        let kept = samples.indices.filter { canBeListed(samples[$0]) }
        guard kept.count < samples.count else { return (samples, embeddings, []) }
        let width = embeddings.rank == 2 ? embeddings.shape[1] : 0
        let rows = embeddings.scalars
        let values = kept.flatMap { rows[($0 * width)..<(($0 + 1) * width)] }
        return (kept.map { samples[$0] }, Tensor(shape: [kept.count, width], values: values),
                samples.filter { !canBeListed($0) })
    }

    /// The embeddings of a stream's successful items as one N×D matrix, with their names; the
    /// failed items are handed to `failed` as they come.
    public static func collect(_ stream: InferenceStream<[Float]>, width: Int,
                               failed: (InferenceItem<[Float]>) throws -> Void = { _ in }) rethrows
        -> (samples: [String], embeddings: Tensor) {
        var samples: [String] = [], rows: [Float] = []
        for item in stream {
            if let row = item.value {
                samples.append(item.name)
                rows += row
            } else {
                try failed(item)
            }
        }
        return (samples, Tensor(shape: [samples.count, width], values: rows))
    }
}

public enum EmbeddingFileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A sample name with a line break, which a line-per-sample list cannot hold.
    case unlistableName(sample: String, list: String)
    /// An embeddings file that cannot be read back.
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): \(reason)"
        case let .unlistableName(sample, list):
            let shown = sample.replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
            return "\(shown): a file name with a line break cannot be listed in \(list); rename the file, or write .csv or .safetensors embeddings"
        }
    }
}

/// Embeddings of image folders kept between runs, under a key of the checkpoint and of every
/// image's path, size and modification time (an edited, added or removed image changes the key).
public struct EmbeddingCache: Sendable {
    public let directory: URL

    /// The directory given, else `$BIRDER_CACHE_DIR`, else the per-user cache (`$XDG_CACHE_HOME/birder`,
    /// `~/.cache/birder`).
    public init(directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let path = directory ?? environment["BIRDER_CACHE_DIR"].flatMap({ $0.isEmpty ? nil : $0 }) {
            self.directory = URL(fileURLWithPath: path)
        } else {
            self.directory = ModelStore.userCache(environment: environment)
        }
    }

    /// The cache file for these images embedded by `model` (it may not exist yet).
    public func file(model: BirderModel, images: [String]) -> URL {
        var key = "\(model.checkpoint.standardizedFileURL.path)|\(model.network)|\(Self.stamp(model.checkpoint.path))"
        // Other preprocessing or precision gives other embeddings (the defaults add nothing).
        for setting in model.outputSettings { key += "|\(setting.name)=\(setting.value)" }
        for image in images { key += "|\(image)|\(Self.stamp(image))" }
        return directory.appendingPathComponent("embeddings-\(String(SeededParameters.fnv1a64(key), radix: 16)).npy")
    }

    /// Whether both files of a cache entry exist.
    public func contains(_ file: URL) -> Bool {
        FileManager.default.fileExists(atPath: file.path) && FileManager.default.fileExists(atPath: file.path + ".samples.txt")
    }

    /// The run that fills the cache entry of `images` embedded by `model`: streamed into the entry's
    /// `.npy` as `birder embed` writes a file (the rows are never all in memory), resumable, so an
    /// interrupted fill is continued by the next one. Makes the cache directory if needed.
    public func fillRun(for images: [String], model: BirderModel) throws -> CollectionRun {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return CollectionRun(manifest: ImageManifest(paths: images), output: file(model: model, images: images).path, resume: true)
    }

    /// The cached embeddings of `images`, computed and stored first when missing (`fillRun`).
    /// Images that fail are left out, as `birder embed` leaves them out; `progress` sees every image
    /// (and why one failed). When `shouldStop` stops the fill, `EmbeddingCacheError.stopped` is
    /// thrown and the next call continues it.
    public func embeddings(of images: [String], session: InferenceSession,
                           progress: (CollectionRunProgress) -> Void = { _ in },
                           shouldStop: () -> Bool = { false }) throws -> (file: URL, wasCached: Bool) {
        let file = file(model: session.model, images: images)
        if contains(file) { return (file, true) }
        let run = try fillRun(for: images, model: session.model)
        if case let .stopped(done, total, _) = try session.embed(run, format: .npy, progress: progress, shouldStop: shouldStop) {
            throw EmbeddingCacheError.stopped(done: done, total: total)
        }
        return (file, false)
    }

    /// Writes a computed entry (from `file(model:images:)`), making the cache directory if needed.
    public func store(_ embeddings: Tensor, samples: [String], as file: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try EmbeddingFiles.writeNPY(embeddings, samples: samples, to: file.path)
    }

    /// Size and modification time, so an edited file changes the key.
    private static func stamp(_ path: String) -> String {
        guard let info = FileSystemPath.status(of: path) else { return "-1@0" }
        let time = info.modificationTime
        // Nanoseconds count: a file rewritten within the same second changes the key too.
        return "\(Int64(info.st_size))@\(Double(time.tv_sec) + Double(time.tv_nsec) / 1e9)"
    }
}

public enum EmbeddingCacheError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The fill was asked to stop; the next call continues it.
    case stopped(done: Int, total: Int)

    public var description: String {
        switch self {
        case let .stopped(done, total): return "stopped after \(done) of \(total) images; the next call continues the cache entry"
        }
    }
}

extension EmbeddingFiles {
    /// Embeddings as `birder embed` writes them (`.npy` with `FILE.samples.txt`, `.csv`,
    /// `.safetensors` with its `samples` metadata): the sample names and the N×D matrix.
    public static func read(_ path: String) throws -> (samples: [String], embeddings: Tensor) {
        func fail(_ reason: String) -> EmbeddingFileError { .unreadable(path: path, reason: reason) }
        let samples: [String], matrix: Tensor
        switch (path as NSString).pathExtension.lowercased() {
        case "npy":
            matrix = try NPY.readFloat32(path)
            let list = path + ".samples.txt"
            guard FileManager.default.fileExists(atPath: list) else { throw fail("needs its sample list \(list) (written by `birder embed`)") }
            let text = try FileContents(path: list).text
            samples = text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        case "safetensors":
            let file = try Safetensors.load(path)
            guard let json = file.metadata["samples"], let data = json.data(using: .utf8),
                  let names = try? JSONSerialization.jsonObject(with: data) as? [String] else {
                throw fail("no \"samples\" list in the metadata (written by `birder embed`)")
            }
            samples = names
            matrix = try file.tensors.float32Tensor(named: "embedding")
        case "csv":
            let text = try FileContents(path: path).text
            let records = try CSVRecords.parse(text, path: path)
            guard let header = records.first, header.first == "sample", header.count > 1 else {
                throw fail("expected a header `sample,0,1,…`")
            }
            let width = header.count - 1
            var names: [String] = [], values: [Float] = []
            values.reserveCapacity((records.count - 1) * width)
            for (number, fields) in records.dropFirst().enumerated() {
                guard fields.count == header.count else { throw fail("record \(number + 2) has \(fields.count) fields, expected \(header.count)") }
                names.append(fields[0])
                for field in fields.dropFirst() {
                    guard let value = Float(field) else { throw fail("record \(number + 2): '\(field)' is not a number") }
                    values.append(value)
                }
            }
            samples = names
            matrix = Tensor(shape: [names.count, width], values: values)
        case "parquet":
            (samples, matrix, _) = try readParquet(path)
        default:
            throw fail("not an embeddings file (.npy, .csv, .safetensors, .parquet)")
        }
        guard matrix.rank == 2, matrix.shape[0] == samples.count else {
            throw fail("\(samples.count) samples for an embedding matrix of shape \(matrix.shape)")
        }
        return (samples, matrix)
    }
}

/// RFC 4180 records: quoted fields may hold commas, quotes (doubled) and line breaks.
enum CSVRecords {
    static func parse(_ text: String, path: String) throws -> [[String]] {
        var records: [[String]] = [], fields: [String] = [], field = "", quoted = false, atFieldStart = true
        var scalars = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = scalars.next()
        while let c = pending {
            pending = scalars.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" { field.unicodeScalars.append("\""); pending = scalars.next() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
                continue
            }
            switch c {
            case "\"" where atFieldStart: quoted = true; atFieldStart = false
            case ",": fields.append(field); field = ""; atFieldStart = true
            case "\r" where pending == "\n": break
            case "\n", "\r":
                fields.append(field)
                records.append(fields)
                fields = []; field = ""; atFieldStart = true
            default: field.unicodeScalars.append(c); atFieldStart = false
            }
        }
        guard !quoted else { throw EmbeddingFileError.unreadable(path: path, reason: "a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); records.append(fields) }
        return records
    }
}
