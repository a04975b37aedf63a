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

    @Option(name: .long, help: "Classes to report per image and head (at least 1; above a head's class count, all its classes).")
    var topK = 5

    @Option(name: .long, help: "Output format: csv, json or jsonl.")
    var format: PredictFormat = .csv

    @Option(name: .long, help: "Write to this file (atomically) instead of stdout.")
    var output: String?

    @OptionGroup(title: "Birder results files") var resultsFiles: ResultsFileOptions

    @OptionGroup(title: "Preprocessing (Birder's flags)") var preprocessing: PreprocessingOptions

    func run() throws {
        try reportingErrors {
            try OptionRange.topK.check(topK)
            try input.checkRanges()
            let loaded = try preprocessing.apply(to: model.load())
            let (paths, skipped) = try input.collectPaths()
            let session = try input.session(for: loaded)
            let stream: InferenceStream<Classification>
            // Results files need every class's probability; the usual output still shows --top-k.
            let allClasses = loaded.classifyingHeads.map(\.classCount).max() ?? topK
            let results = resultsFiles.isRequested ? try ResultsFiles(options: resultsFiles, heads: loaded.classifyingHeads) : nil
            defer { results?.discard() }
            do {
                stream = try session.classify(paths.map(ImageInput.path), topK: results == nil ? topK : max(topK, allClasses))
            } catch let error as SessionError {
                throw CLIError.usage(error.description)
            }
            // The library gives all classes of a head when --top-k exceeds them; the CSV needs one
            // column group per class actually reported (not a billion empty ones), and the user
            // hears once that fewer were given than asked.
            let counts = loaded.classifyingHeads.map { ($0.name, $0.classCount) }
            let reported = min(topK, counts.map { $0.1 }.max() ?? topK)
            let short = counts.filter { $0.1 < topK }
            if !short.isEmpty {
                Terminal.note("note: --top-k \(topK) is more than the classes of "
                    + short.map { "head '\($0.0)' (\($0.1))" }.joined(separator: ", ") + "; reporting all of them")
            }
            let sink = try output.map(OutputSink.init(path:)) ?? OutputSink()
            var failed = 0
            do {
                var first = true
                if format == .csv { try sink.write(csvHeader(k: reported)) }
                if format == .json { try sink.write("[\n") }
                failed = try StreamReader.read(stream, label: "predict") { item, classification in
                    try results?.write(sample: item.name, classification: classification)
                    switch format {
                    case .csv:
                        try sink.write(classification.heads.map { csvRow(sample: item.name, prediction: $0, k: reported) }.joined())
                    case .json, .jsonl:
                        let object = jsonObject(sample: item.name, classification: classification)
                        try sink.write(format == .json ? (first ? "  " : ",\n  ") + object : object + "\n")
                        first = false
                    }
                }
                if format == .json { try sink.write((first ? "" : "\n") + "]\n") }
                try results?.commit()
                try sink.commit()
            } catch {
                sink.discard()
                throw error
            }
            if failed + skipped > 0 { throw CLIError.someInputsFailed(failed + skipped) }
        }
    }

    func csvHeader(k: Int) -> String {
        return (["sample", "head", "prediction"] + (0..<k).flatMap { ["class_\($0)", "prob_\($0)", "idx_\($0)"] })
            .joined(separator: ",") + "\n"
    }

    func csvRow(sample: String, prediction: HeadPrediction, k: Int) -> String {
        let top = prediction.top
        var fields = [csvField(sample), csvField(prediction.head), csvField(top[0].name)]
        for j in 0..<k {
            if j < top.count {
                fields += [csvField(top[j].name), "\(top[j].probability)", "\(top[j].index)"]
            } else {
                fields += ["", "", ""]
            }
        }
        return fields.joined(separator: ",") + "\n"
    }

    func jsonObject(sample: String, classification: Classification) -> String {
        let predictions = classification.heads.map { prediction -> String in
            let entries = prediction.top.prefix(topK).map { "{\"class\": \(jsonString($0.name)), \"index\": \($0.index), \"probability\": \($0.probability)}" }
            return "\(jsonString(prediction.head)): [\(entries.joined(separator: ", "))]"
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
