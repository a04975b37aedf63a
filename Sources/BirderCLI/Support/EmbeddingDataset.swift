import Birder
import Foundation

/// Embeddings written by `birder embed` (.npy + .samples.txt, .csv, .safetensors, .parquet) or by
/// Birder (.parquet) with a class per sample: from `--labels CSV` (`sample,label`), else a
/// Parquet file's own `label` column when every row has one, else the parent folder's name
/// (ImageFolder).
struct EmbeddingDataset {
    let path: String
    let samples: [String]
    /// n×d, row-major
    let features: [Float]
    let dimension: Int
    /// Label text per sample.
    let labels: [String]

    var count: Int { samples.count }

    static func load(_ path: String, labelsFile: String?) throws -> EmbeddingDataset {
        let (samples, matrix, fileLabels) = try readEmbeddings(path)
        guard matrix.rank == 2, matrix.shape[0] == samples.count else {
            throw CLIError.usage("\(path): \(samples.count) samples for an embedding matrix of shape \(matrix.shape)")
        }
        let labels: [String]
        if let labelsFile {
            let table = try readLabelTable(labelsFile)
            labels = try samples.map { sample in
                guard let label = table[sample] ?? table[(sample as NSString).lastPathComponent] else {
                    throw CLIError.usage("\(labelsFile): no label for sample \(sample)")
                }
                return label
            }
        } else if let fileLabels, fileLabels.allSatisfy({ ($0 ?? -1) >= 0 }) {
            labels = fileLabels.map { String($0!) }
        } else {
            labels = samples.map { (($0 as NSString).deletingLastPathComponent as NSString).lastPathComponent }
        }
        return EmbeddingDataset(path: path, samples: samples, features: matrix.scalars, dimension: matrix.shape[1], labels: labels)
    }

    /// Class names sorted (as ImageFolder orders them) and each sample's index among them.
    func indexedLabels(classes given: [String]? = nil) -> (classes: [String], indices: [Int?]) {
        let classes = given ?? Array(Set(labels)).sorted()
        let lookup = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, $0) })
        return (classes, labels.map { lookup[$0] })
    }

    /// Sample names, the matrix, and the file's own labels (Parquet's `label` column; nil otherwise),
    /// read by the library (`EmbeddingFiles`).
    private static func readEmbeddings(_ path: String) throws -> ([String], Tensor, [Int64?]?) {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError.usage("\(path): no such file") }
        do {
            if (path as NSString).pathExtension.lowercased() == "parquet" { return try EmbeddingFiles.readParquet(path) }
            let (samples, matrix) = try EmbeddingFiles.read(path)
            return (samples, matrix, nil)
        } catch let error as EmbeddingFileError {
            throw CLIError.usage(error.description)
        }
    }

    /// A text file's contents, read as every other input is (`FileContents`: opened non-blocking,
    /// anything but a regular file refused), so a FIFO or device named as a list cannot hang the
    /// command. The error names the file and why.
    private static func readText(_ path: String) throws -> String {
        let contents: FileContents
        do { contents = try FileContents(path: path) } catch { throw CLIError.usage(String(describing: error)) }
        guard let text = String(bytes: contents.byteArray, encoding: .utf8) else {
            throw CLIError.usage("\(path): not UTF-8 text")
        }
        return text
    }

    private static func readLabelTable(_ path: String) throws -> [String: String] {
        let text = try readText(path)
        var table: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = splitCSVLine(String(line))
            if number == 0 && fields == ["sample", "label"] { continue }
            guard fields.count == 2 else { throw CLIError.usage("\(path): line \(number + 1): expected `sample,label`") }
            table[fields[0]] = fields[1]
        }
        return table
    }
}

/// One CSV line's fields (RFC 4180 quotes).
func splitCSVLine(_ line: String) -> [String] {
    var fields: [String] = [], field = "", quoted = false
    var iterator = line.makeIterator()
    while let c = iterator.next() {
        if quoted {
            if c == "\"" {
                if let next = iterator.next() {
                    if next == "\"" { field.append("\"") } else { quoted = false; if next == "," { fields.append(field); field = "" } else if next != "\r" { field.append(next) } }
                } else { quoted = false }
            } else { field.append(c) }
        } else if c == "\"" && field.isEmpty {
            quoted = true
        } else if c == "," {
            fields.append(field); field = ""
        } else if c != "\r" {
            field.append(c)
        }
    }
    fields.append(field)
    return fields
}
