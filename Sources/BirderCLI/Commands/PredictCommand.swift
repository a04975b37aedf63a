import ArgumentParser
import Birder
import BirderReports
import Foundation

extension PredictionFormat: ExpressibleByArgument {}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Top-k class predictions for images, through the model's classifier or linear-probe heads.",
        discussion: """
        CSV (default) has one row per image and head: sample, head, prediction, then class_k, prob_k,
        idx_k for k = 0…K-1 (Birder's sparse results columns, with the class names). JSON has one
        object per image. --format wide has one row per image: sample, then each head's class and
        probability (order,order_probability,family,…), blank below --min-confidence.
        Unreadable images are reported on stderr and skipped (exit status 1).

        Example:
          birder predict photos/ --model rdnet_t_ibot-bioscan5m --head order --head species --top-k 3
          birder predict photos/ --model rdnet_t_ibot-bioscan5m --head order --head family --head genus \\
            --head species --format wide --min-confidence 0.5 --output taxonomy.csv
          birder predict test/ --model vit_b16_pn_bioclip-v1 --head species \\
            --size 336 --tta --img-loader tv --save-logits 'logits/{head}.parquet'
        """)

    @OptionGroup var model: ModelOptions
    @OptionGroup var input: InputOptions

    @Option(name: .long, help: "Classes to report per image and head (at least 1; above a head's class count, all its classes).")
    var topK = 5

    @Option(name: .long, help: "Output format: csv, json, jsonl, or wide (one CSV row per image: each head's class and probability side by side).")
    var format: PredictionFormat = .csv

    @Option(name: .long, help: "With --format wide: leave a head's class empty when its probability is below this (0…1), e.g. --min-confidence 0.5.")
    var minConfidence: Float?

    @Option(name: .long, help: "Write to this file (atomically, resumably) instead of stdout.")
    var output: String?

    @Option(name: .long, help: "Write a contact sheet to this .html file: a thumbnail per image with each head's top classes, filterable by class, sortable by confidence.")
    var report: String?

    @OptionGroup var runOptions: RunOptions

    @OptionGroup(title: "Birder results files") var resultsFiles: ResultsFileOptions

    @OptionGroup(title: "Preprocessing (Birder's flags)") var preprocessing: PreprocessingOptions

    @Flag(name: .long, help: "Birder's --tta: average the probabilities (and logits) over five crops of 80 % of each image, each resized back to the input size (five times the work), e.g. --tta.")
    var tta = false

    func run() throws {
        try reportingErrors {
            try OptionRange.topK.check(topK)
            try input.checkRanges()
            try preprocessing.checkRanges()
            if let minConfidence {
                guard format == .wide else { throw CLIError.usage("--min-confidence goes with --format wide") }
                guard (0...1).contains(minConfidence) else { throw CLIError.usage("--min-confidence \(minConfidence) is not in 0…1") }
            }
            let shard = try runOptions.resolvedShard()
            if output == nil, shard != nil || runOptions.resume {
                throw CLIError.usage("--shard and --resume need --output (a file to journal and name after the shard)")
            }
            if resultsFiles.isRequested, shard != nil || runOptions.resume {
                // They hold every image of the run, and an interrupted run's would be lost with its
                // process: merge the shards' predictions instead, or run the whole list at once.
                throw CLIError.usage("Birder's results files and --summary come from one whole run: not with --shard or --resume")
            }
            if let report {
                try ReportOption.check(report, allowed: [.html])
                // The sheet shows every image of one whole run, as the results files do.
                if shard != nil || runOptions.resume { throw CLIError.usage("--report comes from one whole run: not with --shard or --resume") }
            }
            let loaded = try preprocessing.apply(to: model.load())
            let (manifest, skipped) = try input.manifest(shard: shard)
            let session = try input.session(for: loaded)
            // The library gives all classes of a head when --top-k exceeds them; the user hears once
            // that fewer were given than asked.
            let short = loaded.classifyingHeads.filter { $0.classCount < topK }
            if !short.isEmpty {
                Terminal.note("note: --top-k \(topK) is more than the classes of "
                    + short.map { "head '\($0.name)' (\($0.classCount))" }.joined(separator: ", ") + "; reporting all of them")
            }
            let results = resultsFiles.isRequested ? try ResultsFiles(options: resultsFiles, heads: loaded.classifyingHeads) : nil
            defer { results?.discard() }
            let sheet = try report.map { try ReportOption.contactSheet($0, model: loaded, topK: topK) }
            defer { sheet?.discard() }
            let observe: ((String, Classification) throws -> Void)? = results == nil && sheet == nil ? nil : { sample, classification in
                try results?.write(sample: sample, classification: classification)
                try sheet?.add(sample: sample, classification: classification)
            }
            let run = CollectionRun(manifest: manifest, shard: shard, output: output, resume: runOptions.resume)
            let failed = try CollectionRunReporter.execute(label: "predict", run: run, summary: { "predictions for \($0) image\($0 == 1 ? "" : "s")" }) { progress, shouldStop in
                try session.classify(run, topK: topK, format: format, minimumConfidence: minConfidence ?? 0,
                                     includeLogits: results?.needsLogits ?? false, testTimeAugmentation: tta, allProbabilities: observe,
                                     progress: progress, shouldStop: shouldStop)
            }
            try results?.commit()
            if let sheet, let report { try ReportOption.write(report) { try sheet.commit() } }
            if failed + skipped > 0 { throw CLIError.someInputsFailed(failed + skipped) }
        }
    }
}
