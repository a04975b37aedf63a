import ArgumentParser
import Birder
import Foundation

enum PredictFormat: String, ExpressibleByArgument, CaseIterable {
    case csv, json, jsonl
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Top-k class predictions for images, through the model's classifier or linear-probe heads.",
        discussion: """
        CSV (default) has one row per image and head: sample, head, prediction, then class_k, prob_k,
        idx_k for k = 0…K-1 (Birder's sparse results columns, with the class names). JSON has one
        object per image. Unreadable images are reported on stderr and skipped (exit status 1).

        Example:
          birder predict photos/ --model rdnet_t_ibot-bioscan5m --head order --head species --top-k 3
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "Classes to report per image and head.")
    var topK = 5

    @Option(name: .long, help: "Output format: csv, json or jsonl.")
    var format: PredictFormat = .csv

    @Option(name: .long, help: "Write to this file (atomically) instead of stdout.")
    var output: String?

    func validate() throws {
        guard topK > 0 else { throw ValidationError("--top-k must be positive") }
    }

    func run() throws {
        try reportingErrors {
            let (path, network) = try model.resolveCheckpoint()
            let headPaths = try model.resolveHeads(checkpointPath: path)
            let loaded = try LoadedModel.load(path: path, network: network)
            var heads: [(name: String, classifier: LinearClassifier)] = []
            for (level, headPath) in zip(model.head, headPaths) {
                let name = level.hasSuffix(".pt") ? URL(fileURLWithPath: level).lastPathComponent : level
                heads.append((name, try loaded.loadHead(path: headPath)))
            }
            if heads.isEmpty {
                guard let classifier = loaded.classifier else {
                    throw CLIError.usage("\(path) has no classifier; pass --head LEVEL or --head FILE.head.pt")
                }
                heads = [("classifier", classifier)]
            }
            let paths = try input.collectPaths()
            let sink = try output.map(OutputSink.init(path:)) ?? OutputSink()
            var failed = 0
            do {
                var first = true
                if format == .csv { try sink.write(csvHeader()) }
                if format == .json { try sink.write("[\n") }
                failed = try InferenceRunner(model: loaded, input: input, paths: paths).run(label: "predict") { indices, batch in
                    let embeddings = try loaded.encoder.embedding(batch)
                    let tops = try heads.map { try topClasses(of: $0.classifier.probabilities(embeddings), classifier: $0.classifier) }
                    var text = ""
                    for (row, index) in indices.enumerated() {
                        switch format {
                        case .csv:
                            for (h, head) in heads.enumerated() { text += csvRow(sample: paths[index], head: head, top: tops[h][row]) }
                        case .json, .jsonl:
                            let object = jsonObject(sample: paths[index], heads: heads, tops: tops.map { $0[row] })
                            text += format == .json ? (first ? "  " : ",\n  ") + object : object + "\n"
                            first = false
                        }
                    }
                    try sink.write(text)
                }
                if format == .json { try sink.write((first ? "" : "\n") + "]\n") }
                try sink.commit()
            } catch {
                sink.discard()
                throw error
            }
            if failed > 0 { throw CLIError.someInputsFailed(failed) }
        }
    }

    typealias Ranked = [(index: Int, probability: Float)]

    /// The k most probable classes of each row, most probable first (ties: lower index first).
    func topClasses(of probabilities: Tensor, classifier: LinearClassifier) -> [Ranked] {
        let classes = classifier.numClasses, rows = probabilities.shape[0], k = min(topK, classes)
        return probabilities.withUnsafeBufferPointer { p in
            (0..<rows).map { row in
                let values = p[(row * classes)..<((row + 1) * classes)]
                return Array(values.enumerated()
                    .sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
                    .prefix(k).map { (index: $0.offset, probability: $0.element) })
            }
        }
    }

    func className(_ index: Int, _ classifier: LinearClassifier) -> String {
        classifier.classNames.isEmpty ? String(index) : classifier.classNames[index]
    }

    func csvHeader() -> String {
        let k = topK
        return (["sample", "head", "prediction"] + (0..<k).flatMap { ["class_\($0)", "prob_\($0)", "idx_\($0)"] })
            .joined(separator: ",") + "\n"
    }

    func csvRow(sample: String, head: (name: String, classifier: LinearClassifier), top: Ranked) -> String {
        let classifier = head.classifier
        var fields = [csvField(sample), csvField(head.name), csvField(className(top[0].index, classifier))]
        for k in 0..<topK {
            if k < top.count {
                fields += [csvField(className(top[k].index, classifier)), "\(top[k].probability)", "\(top[k].index)"]
            } else {
                fields += ["", "", ""]
            }
        }
        return fields.joined(separator: ",") + "\n"
    }

    func jsonObject(sample: String, heads: [(name: String, classifier: LinearClassifier)], tops: [Ranked]) -> String {
        let predictions = zip(heads, tops).map { head, top -> String in
            let entries = top.map { "{\"class\": \(jsonString(className($0.index, head.classifier))), \"index\": \($0.index), \"probability\": \($0.probability)}" }
            return "\(jsonString(head.name)): [\(entries.joined(separator: ", "))]"
        }
        return "{\"sample\": \(jsonString(sample)), \"predictions\": {\(predictions.joined(separator: ", "))}}"
    }
}

/// RFC 4180 quoting where needed.
func csvField(_ text: String) -> String {
    guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
    return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

func jsonString(_ text: String) -> String {
    let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
    return String(String(decoding: data, as: UTF8.self).dropFirst().dropLast())
}
