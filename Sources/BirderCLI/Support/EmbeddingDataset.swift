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

    /// Sample names, the matrix, and the file's own labels (Parquet's `label` column; nil otherwise).
    private static func readEmbeddings(_ path: String) throws -> ([String], Tensor, [Int64?]?) {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError.usage("\(path): no such file") }
        switch (path as NSString).pathExtension.lowercased() {
        case "npy":
            let matrix = try NPY.readFloat32(path)
            let list = path + ".samples.txt"
            guard FileManager.default.fileExists(atPath: list) else {
                throw CLIError.usage("\(path): needs its sample list \(list) (written by `birder embed`)")
            }
            let text = try readText(list)
            return (text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init), matrix, nil)
        case "safetensors":
            let file = try Safetensors.load(path)
            guard let json = file.metadata["samples"], let data = json.data(using: .utf8),
                  let samples = try? JSONSerialization.jsonObject(with: data) as? [String] else {
                throw CLIError.usage("\(path): no \"samples\" list in the metadata (written by `birder embed`)")
            }
            return (samples, try file.tensors.float32Tensor(named: "embedding"), nil)
        case "csv":
            let text = try readText(path)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            guard !lines.isEmpty else { throw CLIError.usage("\(path): empty") }
            let header = splitCSVLine(String(lines.removeFirst()))
            guard header.first == "sample", header.count > 1 else { throw CLIError.usage("\(path): expected a header `sample,0,1,…`") }
            let d = header.count - 1
            var samples: [String] = [], values: [Float] = []
            values.reserveCapacity(lines.count * d)
            for (number, line) in lines.enumerated() {
                let fields = splitCSVLine(String(line))
                guard fields.count == header.count else { throw CLIError.usage("\(path): line \(number + 2) has \(fields.count) fields, expected \(header.count)") }
                samples.append(fields[0])
                for field in fields.dropFirst() {
                    guard let value = Float(field) else { throw CLIError.usage("\(path): line \(number + 2): '\(field)' is not a number") }
                    values.append(value)
                }
            }
            return (samples, Tensor(shape: [samples.count, d], values: values), nil)
        case "parquet":
            let (samples, matrix, labels) = try EmbeddingFiles.readParquet(path)
            return (samples, matrix, labels)
        default:
            throw CLIError.usage("\(path): expected .npy, .csv, .safetensors or .parquet embeddings")
        }
    }

    /// A text file's contents, read as every other input is (`FileContents`: opened non-blocking,
    /// anything but a regular file refused), so a FIFO or device named as a list cannot hang the
    /// command. The error names the file and why.
    private static func readText(_ path: String) throws -> String {
        let contents: FileContents
        do { contents = try FileContents(path: path) } catch { throw CLIError.usage(String(describing: error)) }
        guard let text = String(bytes: contents.bytes, encoding: .utf8) else {
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
