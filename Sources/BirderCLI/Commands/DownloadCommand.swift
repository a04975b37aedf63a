import ArgumentParser
import Birder
import Foundation

struct DownloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a pretrained model (and its heads) into the models directory, verified by SHA-256.",
        discussion: """
        Files are written to NAME.pt.partial, resumed after an interruption, checked, then renamed;
        processes fetching the same file take turns (NAME.pt.lock), so it is fetched once. Other
        commands fetch a missing model the same way on first use; this one fetches ahead (e.g. to
        copy the files to a machine without network).
        $BIRDER_HUB_URL replaces the hub's scheme and host (a mirror or a local server).

        Example:
          birder download rdnet_t_ibot-bioscan5m --head order --head species
        """)

    @Argument(help: "Registry name, e.g. rdnet_t_ibot-bioscan5m (see `birder models`).")
    var name: String

    @Option(name: .long, help: "Also fetch this linear-probe head (order, family, genus, species). Repeatable.")
    var head: [String] = []

    @Option(name: .long, help: ArgumentHelp(CommandLineStore.modelsDirHelp, valueName: "directory"))
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
            // The same store, fetch and lock as a first use of the model in any other command.
            let store = CommandLineStore.store(directory: modelsDir, offline: false, timeout: TimeInterval(timeout),
                                               reportResults: false)
            let results: [DownloadResult]
            do {
                guard case let .ifMissing(options) = store.fetching else {
                    throw CLIError.usage("$BIRDER_OFFLINE is set: nothing is downloaded (unset it to fetch \(name))")
                }
                results = try store.download(name, heads: head, replacing: force, options: options)
            } catch let error as ModelStoreError {
                switch error {
                case .unknownModel, .noPublishedHead, .invalidCatalog: throw CLIError.usage(error.description)
                default: throw CLIError.io(error.description)
                }
            }
            for result in results {
                print("\(result.file.path): \(DownloadReporter.summary(of: result))")
            }
        }
    }
}
