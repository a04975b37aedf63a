import ArgumentParser
import Birder
import Foundation

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a pretrained model (and its heads) into the models directory, verified by SHA-256.",
        discussion: """
        Files are written to NAME.pt.partial, resumed after an interruption, checked, then renamed.
        $BIRDER_HUB_URL replaces the hub's scheme and host (a mirror or a local server).

        Example:
          birder download rdnet_t_ibot-bioscan5m --head order --head species
        """)

    @Argument(help: "Registry name, e.g. rdnet_t_ibot-bioscan5m (see `birder models`).")
    var name: String

    @Option(name: .long, help: "Also fetch this linear-probe head (order, family, genus, species). Repeatable.")
    var head: [String] = []

    @Option(name: .long, help: "Models directory (default: $BIRDER_MODELS_DIR, else ./models).")
    var modelsDir: String?

    @Flag(name: .long, help: "Replace an existing file whose hash differs.")
    var force = false

    func run() throws {
        try reportingErrors {
            guard let model = PretrainedModel.named(name) else {
                throw CLIError.usage("unknown model '\(name)' (known: \(PretrainedModel.catalog.map(\.name).joined(separator: ", ")))")
            }
            for level in head where !model.heads.contains(level) {
                throw CLIError.usage("\(name) has no published '\(level)' head (published: \(model.heads.isEmpty ? "none" : model.heads.joined(separator: ", ")))")
            }
            let directory = URL(fileURLWithPath: modelsDir ?? ProcessInfo.processInfo.environment["BIRDER_MODELS_DIR"] ?? "models")
            let hub = ProcessInfo.processInfo.environment["BIRDER_HUB_URL"]
            Interrupt.install()

            var files: [(name: String, expectation: Downloader.Expectation)] = [
                (model.fileName, .init(sha256: model.sha256, plausibleSize: { [model] in model.sizeIsPlausible($0) }))
            ]
            // Birder's registry publishes no hash for heads; they are checked by loading them.
            files += head.map { (model.headFileName($0), Downloader.Expectation()) }

            for file in files {
                let destination = directory.appendingPathComponent(file.name)
                let url = URL(string: model.url(for: file.name, hubBase: hub))!
                let bar = ProgressBar(label: file.name, total: nil, unit: "bytes")
                let outcome: Downloader.Outcome
                do {
                    outcome = try Downloader().download(from: url, to: destination, expecting: file.expectation,
                                                        overwrite: force) { received, total in
                        _ = total
                        bar.update(received)
                    }
                } catch let error as DownloadError {
                    throw CLIError.io(error.description)
                }
                switch outcome {
                case .alreadyPresent: print("\(destination.path): already present and verified")
                case let .downloaded(bytes):
                    bar.finish(bytes)
                    if file.name.hasSuffix(".head.pt") {
                        do { _ = try Head.load(destination.path) } catch {
                            try? FileManager.default.removeItem(at: destination)
                            throw CLIError.io("\(destination.path): not a valid head file (\(error)); deleted")
                        }
                    }
                    print("\(destination.path): \(String(format: "%.1f", Double(bytes) / 1_048_576)) MB, \(file.expectation.sha256 != nil ? "SHA-256 verified" : "loaded as a head")")
                }
            }
        }
    }
}
