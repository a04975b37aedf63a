import Birder
import Foundation

/// The model store as the commands use it: `--models-dir` or the default directory, fetching what
/// a command needs and the directory lacks (progress on stderr) unless `--offline`/`$BIRDER_OFFLINE`.
enum CommandLineStore {
    static let modelsDirHelp = "Models directory (default: $BIRDER_MODELS_DIR, else ./models if it exists, else $XDG_CACHE_HOME/birder/models, i.e. ~/.cache/birder/models)."
    static let offlineHelp = "Never use the network (also $BIRDER_OFFLINE=1): a model or head missing from the models directory is an error saying how to get it."

    /// `reportResults`: a note on stderr for each file fetched (a command that fetches on first use;
    /// `birder download` prints its results itself).
    static func store(directory: String?, offline: Bool, timeout: TimeInterval = 60, reportResults: Bool = true) -> ModelStore {
        let reporter = DownloadReporter(reportResults: reportResults)
        let options = ModelStore.DownloadOptions(timeout: timeout, isCancelled: { Interrupt.requested != nil },
                                                 events: { reporter.show($0) })
        return ModelStore(directory: directory, fetching: offline ? .never : .ifMissing(options))
    }

    /// A missing model or head as a usage error that names the files, where they were looked for,
    /// and the command that fetches them on a connected machine.
    static func explain(_ error: ModelStoreError) -> CLIError {
        switch error {
        case let .notDownloaded(missing):
            let heads = missing.heads.map { " --head \($0)" }.joined()
            let them = missing.files.count == 1 ? "it" : "them"
            let fetch = "on a connected machine `birder download \(missing.model)\(heads) --models-dir birder-models` fetches \(them) "
                + "into birder-models/: copy \(missing.files.count == 1 ? "that file" : "those files") into \(missing.directory)"
            switch missing.reason {
            case .offline: return .usage("\(missing) (--offline or $BIRDER_OFFLINE); \(fetch)")
            case .fetchFailed: return .usage("\(missing); \(fetch) (or point $BIRDER_HUB_URL at a mirror)")
            }
        case let .headNotFound(level, _, stem):
            return .usage("\(error); run `birder download \(stem) --head \(level)` or pass a .head.pt path")
        default:
            return .usage(error.description)
        }
    }
}

/// Shows the store's download events on stderr (stdout stays for results): a line when a file is
/// fetched or waited for, one progress bar per file, and — for a first use — a line when it is in
/// place and verified.
final class DownloadReporter: @unchecked Sendable {
    private let reportResults: Bool
    private let lock = NSLock()
    private var bars: [String: ProgressBar] = [:]
    private var announced: Set<String> = []

    init(reportResults: Bool) { self.reportResults = reportResults }

    func show(_ event: ModelStore.DownloadEvent) {
        switch event {
        case let .fetching(file, url, resumingAt):
            // Once per file; a retry that resumes says so, one that starts over again is silent.
            let first = lock.withLock { announced.insert(file).inserted }
            let resuming = resumingAt > 0 ? " (resuming after \(ProgressBar.amount(resumingAt, "bytes")))" : ""
            if first || resumingAt > 0 { Terminal.note("\(file): fetching \(url.absoluteString)\(resuming)") }
        case let .waiting(file, lock):
            Terminal.note("\(file): another process is fetching it (it holds \(lock.path)); waiting for it")
        case let .received(file, bytes, total):
            bar(for: file, total: total).update(bytes)
        case let .finished(result):
            let name = result.file.lastPathComponent
            if let bytes = result.bytes { bar(for: name, total: bytes).finish(bytes) }
            guard reportResults else { return }
            Terminal.note("\(result.file.path): " + DownloadReporter.summary(of: result))
        }
    }

    /// `87.2 MB, SHA-256 verified`, `already present and verified`…
    static func summary(of result: DownloadResult) -> String {
        guard let bytes = result.bytes else { return "already present and verified" }
        return String(format: "%.1f MB, ", Double(bytes) / 1_048_576)
            + (result.verifiedBy == .sha256 ? "SHA-256 verified" : "loaded as a head")
    }

    private func bar(for file: String, total: Int64?) -> ProgressBar {
        lock.withLock {
            if let bar = bars[file] { return bar }
            let bar = ProgressBar(label: file, total: total, unit: "bytes")
            bars[file] = bar
            return bar
        }
    }
}
