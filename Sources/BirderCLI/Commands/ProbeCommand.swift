import ArgumentParser
import Birder
import BirderReports
import Foundation

struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Train and evaluate linear-probe heads on frozen embeddings (Birder's protocol).",
        subcommands: [ProbeTrainCommand.self, ProbeEvalCommand.self])
}

/// Labels: `--labels CSV` (sample,label), else a Parquet file's own `label` column, else each sample's parent folder (ImageFolder layout).
struct LabelOption: ParsableArguments {
    @Option(name: .long, help: "CSV of sample,label (default: a Parquet file's label column when every row has one, else each sample's parent folder name).")
    var labels: String?
}

struct ProbeTrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a linear head: cross-entropy, Adam, cosine schedule to 1e-5, shuffled mini-batches.",
        discussion: """
        Writes a head file birder 0.8.4 loads (torch.load gives state.weight, state.bias, class_to_idx),
        usable with `birder predict --head FILE`. With --model (an image folder's embeddings, or to
        name the model that wrote an embeddings file) the head also records that encoder: its
        network and checkpoint SHA-256, and `birder predict` refuses it on another model. Its
        birder_version is the Birder release whose head format it follows (0.8.4).

        Example:
          birder embed train/ --model rdnet_t_ibot-bioscan5m --output train.npy
          birder embed val/ --model rdnet_t_ibot-bioscan5m --output val.npy
          birder probe train --train train.npy --val val.npy --epochs 10 --output rdnet_t_ibot-bioscan5m-order.head.pt
        """)

    @Option(name: .long, help: "Training embeddings (.npy with .samples.txt, .csv, .safetensors, or .parquet as Birder writes it), or an image folder with --model.")
    var train: String

    @Option(name: .long, help: "Validation embeddings (or an image folder with --model), reported each epoch.")
    var val: String?

    @OptionGroup var labelOption: LabelOption
    @OptionGroup var source: EmbeddingSourceOptions

    @Option(name: .long, help: "Epochs.")
    var epochs = 10

    @Option(name: .long, help: "Mini-batch size.")
    var batchSize = 128

    @Option(name: .long, help: "Adam learning rate.")
    var lr = 1e-3

    @Option(name: .long, help: "Shuffling seed.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Output head file (.head.pt).")
    var output: String

    func run() throws {
        try reportingErrors {
            try OutputSink.checkWritable(output)
            let training = try EmbeddingDataset.load(source.embeddingsFile(for: train), labelsFile: labelOption.labels)
            let (classes, trainIndices) = training.indexedLabels()
            var validationFeatures: [Float]?, validationLabels: [Int]?
            if let val {
                let validation = try EmbeddingDataset.load(source.embeddingsFile(for: val), labelsFile: labelOption.labels)
                guard validation.dimension == training.dimension else {
                    throw CLIError.usage("\(val): \(validation.dimension)-wide embeddings, \(train) has \(training.dimension)")
                }
                let (_, indices) = validation.indexedLabels(classes: classes)
                let kept = indices.indices.filter { indices[$0] != nil }
                // Validation metrics over nothing would print as 0.00 %: refuse instead.
                guard !kept.isEmpty else {
                    throw CLIError.usage("\(val): none of the \(indices.count) validation sample(s) has a class seen in training")
                }
                if kept.count < indices.count {
                    Terminal.note("\(val): \(indices.count - kept.count) sample(s) of classes absent from training left out")
                }
                validationFeatures = kept.flatMap { validation.features[($0 * validation.dimension)..<(($0 + 1) * validation.dimension)] }
                validationLabels = kept.map { indices[$0]! }
            }
            Terminal.note("training on \(training.count) samples × \(training.dimension), \(classes.count) classes")
            let result = try LinearProbe.train(
                features: training.features, n: training.count, d: training.dimension, labels: trainIndices.map { $0! },
                numClasses: classes.count, validationFeatures: validationFeatures, validationLabels: validationLabels,
                epochs: epochs, batchSize: batchSize, learningRate: lr, seed: seed)
            for epoch in 0..<result.epochLosses.count {
                var line = String(format: "epoch %d: loss %.4f, train top-1 %.2f %%", epoch + 1, result.epochLosses[epoch],
                                  result.epochTrainAccuracy[epoch] * 100)
                if epoch < result.epochValidationAccuracy.count {
                    line += String(format: ", val top-1 %.2f %%", result.epochValidationAccuracy[epoch] * 100)
                }
                print(line)
            }
            let head = Head(weight: Tensor(shape: [classes.count, training.dimension], values: result.weight),
                            bias: Tensor(shape: [classes.count], values: result.bias), classNames: classes,
                            birderVersion: BirderVersion.referenceNumber, encoder: try source.encoderRecord())
            try head.write(to: output)
            print("\(output): \(classes.count) classes × \(training.dimension)")
        }
    }
}

struct ProbeEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Accuracy of linear heads on embeddings: top-1, top-5 and macro (mean per-class) accuracy.",
        discussion: """
        Several heads make a per-level table like the model card's; give each head its labels with a
        --labels after it, or none to use the samples' parent folders.

        Example:
          birder probe eval --data test.npy --head order.head.pt --labels order.csv --head species.head.pt --labels species.csv

        --report report.html writes, per head, top-1/top-5, a sortable per-class table (precision,
        recall, F1, support), the most-confused class pairs and a confusion heat map.
        """)

    @Option(name: .long, help: "Embeddings to evaluate on, or an image folder with --model.")
    var data: String

    @OptionGroup var source: EmbeddingSourceOptions

    @Option(name: .long, help: "A head file (repeatable).")
    var head: [String]

    @Option(name: .long, help: "CSV of sample,label for the head before it (repeatable; default: parent folders).")
    var labels: [String] = []

    @Option(name: .long, help: "Write an HTML report (per-class metrics, confusions) to this .html file.")
    var report: String?

    func validate() throws {
        guard !head.isEmpty else { throw ValidationError("give at least one --head") }
        guard labels.isEmpty || labels.count == head.count else {
            throw ValidationError("give one --labels per --head, or none")
        }
    }

    func run() throws {
        try reportingErrors {
            if let report { try ReportOption.check(report, allowed: [.html]) }
            print("head".padding(toLength: 40, withPad: " ", startingAt: 0) + "samples    top-1    top-5    macro")
            let file = try source.embeddingsFile(for: data)
            var reportHeads: [ProbeReport.Head] = []
            for (i, headPath) in head.enumerated() {
                let dataset = try EmbeddingDataset.load(file, labelsFile: labels.isEmpty ? nil : labels[i])
                let probe = try Head.load(headPath)
                guard probe.inputDimension == dataset.dimension else {
                    throw CLIError.usage("\(headPath): the head takes \(probe.inputDimension)-wide embeddings, \(data) has \(dataset.dimension)")
                }
                let (_, indices) = dataset.indexedLabels(classes: probe.classNames)
                let kept = indices.indices.filter { indices[$0] != nil }
                // Metrics over nothing would print as 0.00 %, indistinguishable from a useless head.
                guard !kept.isEmpty else {
                    throw CLIError.usage("\(headPath): none of the \(indices.count) sample(s) of \(data) has a label the head knows; "
                        + "check the labels (\(labels.isEmpty ? "parent folders" : labels[i])) against its classes")
                }
                if kept.count < indices.count {
                    Terminal.note("\(headPath): \(indices.count - kept.count) sample(s) with labels the head does not know left out")
                }
                let d = dataset.dimension
                let (metrics, counts) = try LinearProbe.evaluateInDetail(
                    weight: probe.weight.scalars, bias: probe.bias.scalars,
                    features: kept.flatMap { dataset.features[($0 * d)..<(($0 + 1) * d)] }, labels: kept.map { indices[$0]! })
                let name = (headPath as NSString).lastPathComponent
                print(name.padding(toLength: 40, withPad: " ", startingAt: 0)
                      + String(format: "%7d  %6.2f %%  %6.2f %%  %6.2f %%", metrics.count, metrics.top1 * 100, metrics.top5 * 100, metrics.macro * 100))
                if report != nil {
                    reportHeads.append(try ProbeReport.Head(name: name, classNames: probe.classNames, metrics: metrics, counts: counts))
                }
            }
            if let report {
                let document = ProbeReport(title: "Linear probe: \((data as NSString).lastPathComponent)",
                                           details: ["embeddings: \(data)", "\(head.count) head\(head.count == 1 ? "" : "s")"],
                                           heads: reportHeads)
                try ReportOption.write(report) { try document.write(to: report) }
                Terminal.note("\(report): probe report of \(reportHeads.count) head\(reportHeads.count == 1 ? "" : "s")")
            }
        }
    }
}
