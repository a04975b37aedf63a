import ArgumentParser
import Birder
import Foundation

/// `predict`'s Birder results files: `--save-results`, `--save-sparse-results`, `--save-output`,
/// `--save-logits`, written in Birder's exact layout (BirderIO's `BirderResultsCSV` /
/// `BirderScoresCSV`, `ParquetScoresFile` for a `.parquet` path) so that
/// `python -m birder.tools results FILE` reads them. Each image's label is its parent folder's
/// name (ImageFolder) or its row of `--labels CSV`, looked up in the head's classes; unknown is
/// Birder's -1 with an empty name.
struct ResultsFileOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Birder's results CSV (all class probabilities; `python -m birder.tools results FILE` reads it). With several heads, {head} in the path is replaced by each head's level.",
        discussion: "e.g. --save-results results/order.csv"))
    var saveResults: String?

    @Option(name: .long, help: "Birder's sparse results CSV (the --sparse-k most probable classes per image), e.g. --save-sparse-results results_sparse.csv.")
    var saveSparseResults: String?

    @Option(name: .long, help: "Birder's --save-output file: sample, label, prediction, then one probability column per class; CSV, or Parquet for a .parquet path (Birder's --output-format parquet), e.g. --save-output output.csv.")
    var saveOutput: String?

    @Option(name: .long, help: "Birder's --save-logits file: sample, label, then each class's logit (before softmax); CSV, or Parquet for a .parquet path, e.g. --save-logits logits.parquet.")
    var saveLogits: String?

    @Option(name: .long, help: "Classes per image in the sparse results (Birder's default 10; at most the head's class count).")
    var sparseK = 10

    @Option(name: .customLong("labels"), help: "CSV of sample,label for the results files (default: each image's parent folder name), e.g. --labels labels.csv.")
    var labelsFile: String?

    @Flag(name: .long, help: "Print Birder's accuracy report on stderr when the images are labelled (folder names or --labels): accuracy, top-3 accuracy, lowest/highest precision and recall classes.")
    var summary = false

    @Option(name: .long, help: "Write the accuracy report and per-class counts as JSON ({head} as for --save-results), e.g. --summary-json summary.json.")
    var summaryJson: String?

    var isRequested: Bool {
        saveResults != nil || saveSparseResults != nil || saveOutput != nil || saveLogits != nil || summary || summaryJson != nil
    }

    /// The files per head, checked before any work: `{head}` is required with several heads, and
    /// two heads or two kinds may not name the same file.
    func destinations(heads: [String]) throws -> [(kind: Kind, head: Int, path: String)] {
        guard sparseK >= 1 else { throw CLIError.usage("--sparse-k must be at least 1") }
        var out: [(Kind, Int, String)] = []
        for (kind, template) in [(Kind.dense, saveResults), (.sparse, saveSparseResults), (.output, saveOutput),
                                 (.logits, saveLogits), (.summaryJSON, summaryJson)] {
            guard let template else { continue }
            if heads.count > 1 && !template.contains("{head}") {
                throw CLIError.usage("\(template): the model has \(heads.count) heads (\(heads.joined(separator: ", "))); put {head} in the path")
            }
            for (index, head) in heads.enumerated() {
                let path = template.replacingOccurrences(of: "{head}", with: head)
                try OutputSink.checkWritable(path)
                out.append((kind, index, path))
            }
        }
        let paths = out.map { $0.2 }
        if let repeated = paths.first(where: { path in paths.filter { $0 == path }.count > 1 }) {
            throw CLIError.usage("\(repeated) is named for two results files")
        }
        return out
    }

    enum Kind { case dense, sparse, output, logits, summaryJSON }

    /// Birder's label of each image by sample name (nil: no `--labels` file, use the folder).
    func labelTable() throws -> [String: String]? {
        guard let labelsFile else { return nil }
        let contents: FileContents
        do { contents = try FileContents(path: labelsFile) } catch { throw CLIError.usage(String(describing: error)) }
        guard let text = String(bytes: contents.byteArray, encoding: .utf8) else { throw CLIError.usage("\(labelsFile): not UTF-8 text") }
        var table: [String: String] = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            let fields = splitCSVLine(String(line))
            if number == 0 && fields == ["sample", "label"] { continue }
            guard fields.count == 2 else { throw CLIError.usage("\(labelsFile): line \(number + 1): expected `sample,label`") }
            table[fields[0]] = fields[1]
        }
        return table
    }
}

/// The open results files of one `predict` run, written row by row as images complete.
final class ResultsFiles {
    private struct File {
        let head: Int
        /// Whether the file takes the logits rather than the probabilities.
        let logits: Bool
        let write: (_ sample: String, _ label: Int?, _ scores: [Float]) throws -> Void
        let commit: () throws -> Void
        let discard: () -> Void

        init(head: Int, logits: Bool = false, sink: OutputSink, row: @escaping (String, Int?, [Float]) -> String) {
            self.head = head
            self.logits = logits
            write = { try sink.write(row($0, $1, $2)) }
            commit = sink.commit
            discard = sink.discard
        }

        init(head: Int, logits: Bool, parquet: ParquetScoresFile) {
            self.head = head
            self.logits = logits
            write = { sample, label, scores in
                do { try parquet.append(sample: sample, label: label, scores: scores) } catch { throw CLIError.io(String(describing: error)) }
            }
            commit = {
                do { try parquet.commit() } catch { throw CLIError.io(String(describing: error)) }
            }
            discard = parquet.discard
        }
    }

    private let files: [File]
    private let heads: [ClassifierHead]
    private var summaries: [ResultsSummary]
    private let printSummary: Bool
    private let summaryFiles: [(head: Int, path: String)]
    private let labels: [String: String]?
    private let classIndex: [[String: Int]]

    init(options: ResultsFileOptions, heads: [ClassifierHead]) throws {
        self.heads = heads
        summaries = heads.map { head in ResultsSummary(classNames: (0..<head.classCount).map { head.className($0) }) }
        printSummary = options.summary
        labels = try options.labelTable()
        var summaryFiles: [(Int, String)] = []
        classIndex = heads.map { head in
            Dictionary((0..<head.classCount).map { (head.className($0), $0) }, uniquingKeysWith: { first, _ in first })
        }
        var files: [File] = []
        do {
            for (kind, index, path) in try options.destinations(heads: heads.map(\.name)) {
                let names = (0..<heads[index].classCount).map { heads[index].className($0) }
                if kind == .summaryJSON {
                    summaryFiles.append((index, path))
                    continue
                }
                if kind == .output || kind == .logits {
                    // Birder refuses these too (_validate_label_names): a class column named
                    // like a metadata column, or twice, would be unreadable by name.
                    if let reserved = names.first(where: { ["sample", "label", "prediction"].contains($0) }) {
                        throw CLIError.usage("\(path): head '\(heads[index].name)' has a class named '\(reserved)', which is also a column of Birder's file; rename the class")
                    }
                    if let repeated = Self.firstRepeated(names) {
                        throw CLIError.usage("\(path): head '\(heads[index].name)' names two classes '\(repeated)'; each class needs its own column")
                    }
                }
                if (kind == .output || kind == .logits), (path as NSString).pathExtension.lowercased() == "parquet" {
                    let parquet: ParquetScoresFile
                    do {
                        parquet = try ParquetScoresFile(path: path, classNames: names, kind: kind == .logits ? .logits : .output, withLabels: true)
                    } catch { throw CLIError.usage(error.description) }
                    files.append(File(head: index, logits: kind == .logits, parquet: parquet))
                    continue
                }
                let sink = try OutputSink(path: path)
                switch kind {
                case .dense, .sparse:
                    let k = min(options.sparseK, names.count)
                    let writer = BirderResultsCSV(classNames: names, layout: kind == .dense ? .dense : .sparse(k: k))
                    try sink.write(writer.header())
                    files.append(File(head: index, sink: sink, row: { writer.row(sample: $0, label: $1, probabilities: $2) }))
                case .output:
                    let writer = BirderScoresCSV(classNames: names, kind: .output, withLabels: true)
                    try sink.write(writer.header())
                    files.append(File(head: index, sink: sink, row: { writer.row(sample: $0, label: $1, scores: $2) }))
                case .logits:
                    let writer = BirderScoresCSV(classNames: names, kind: .logits, withLabels: true)
                    try sink.write(writer.header())
                    files.append(File(head: index, logits: true, sink: sink, row: { writer.row(sample: $0, label: $1, scores: $2) }))
                case .summaryJSON:
                    break
                }
            }
        } catch {
            files.forEach { $0.discard() }
            throw error
        }
        self.files = files
        self.summaryFiles = summaryFiles
    }

    /// Appends an image's rows; `classification` must hold every class of every head.
    func write(sample: String, classification: Classification) throws {
        let labelName = labels.map { $0[sample] ?? $0[(sample as NSString).lastPathComponent] }
            ?? (((sample as NSString).deletingLastPathComponent as NSString).lastPathComponent as String?)
        for head in heads.indices {
            var probabilities = [Float](repeating: 0, count: heads[head].classCount)
            for score in classification.heads[head].top { probabilities[score.index] = score.probability }
            let label = labelName.flatMap { classIndex[head][$0] }
            summaries[head].add(label: label, probabilities: probabilities)
            for file in files where file.head == head {
                if file.logits {
                    guard let logits = classification.heads[head].logits else { preconditionFailure("logits were asked for") }
                    try file.write(sample, label, logits)
                } else {
                    try file.write(sample, label, probabilities)
                }
            }
        }
    }

    func commit() throws {
        for file in files { try file.commit() }
        for (head, path) in summaryFiles {
            let sink = try OutputSink(path: path)
            try sink.write(summaries[head].json)
            try sink.commit()
        }
        guard printSummary else { return }
        for (head, summary) in summaries.enumerated() {
            let prefix = heads.count > 1 ? "\(heads[head].name): " : ""
            for line in summary.lines ?? ["No labeled samples found"] { Terminal.note(prefix + line) }
            // Per-class counts: every class that was labelled or predicted.
            for c in summary.classNames.indices where summary.support[c] > 0 || summary.predicted[c] > 0 {
                Terminal.note(prefix + "  \(summary.classNames[c]): \(summary.support[c]) labelled, \(summary.truePositives[c]) correct, \(summary.predicted[c]) predicted")
            }
        }
    }
    func discard() { files.forEach { $0.discard() } }

    /// Whether any file takes logits (the session must then compute them).
    var needsLogits: Bool { files.contains { $0.logits } }

    private static func firstRepeated(_ names: [String]) -> String? {
        var seen = Set<String>()
        return names.first { !seen.insert($0).inserted }
    }
}
