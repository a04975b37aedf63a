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

    @Option(name: .long, help: "Seconds without data before a stalled server is given up (1…3600).")
    var timeout: Int = 60

    func validate() throws {
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be within 1…3600 seconds") }
    }

    func run() throws {
        try reportingErrors {
            let store = ModelStore(directory: modelsDir)
            let bars = ProgressBars()
            let results: [DownloadResult]
            do {
                results = try store.download(name, heads: head, replacing: force, timeout: TimeInterval(timeout),
                                             isCancelled: { Interrupt.requested != nil }) { file, received in
                    bars.bar(for: file).update(received)
                }
            } catch let error as ModelStoreError {
                switch error {
                case .unknownModel, .noPublishedHead: throw CLIError.usage(error.description)
                default: throw CLIError.io(error.description)
                }
            }
            for result in results {
                guard let bytes = result.bytes else {
                    print("\(result.file.path): already present and verified")
                    continue
                }
                bars.bar(for: result.file.lastPathComponent).finish(bytes)
                print("\(result.file.path): \(String(format: "%.1f", Double(bytes) / 1_048_576)) MB, \(result.verifiedBy == .sha256 ? "SHA-256 verified" : "loaded as a head")")
            }
        }
    }
}

/// One progress bar per downloaded file, made when its first bytes arrive.
final class ProgressBars: @unchecked Sendable {
    private let lock = NSLock()
    private var bars: [String: ProgressBar] = [:]

    func bar(for file: String) -> ProgressBar {
        lock.withLock {
            if let bar = bars[file] { return bar }
            let bar = ProgressBar(label: file, total: nil, unit: "bytes")
            bars[file] = bar
            return bar
        }
    }
}
