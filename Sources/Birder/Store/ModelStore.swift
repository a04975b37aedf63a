import BirderHub
import BirderIO
import BirderModels
import Foundation

/// Where models live on this machine and how they get there: a models directory, Birder's
/// catalogue of published models (with `$BIRDER_CATALOG`'s entries), and verified downloads into
/// the directory — asked for (`download`) or on first use (`fetching: .ifMissing`), as Birder's
/// `load_pretrained_model` fetches a model the first time and reuses it after.
///
/// Every download is resumable, verified (a checkpoint by its published SHA-256 and size, a head
/// by loading it) before it is renamed into place, and done once when processes race for it: they
/// take turns on a `flock`ed `NAME.pt.lock`, which the kernel releases when its holder dies.
public struct ModelStore: Sendable {
    /// The models directory: `NAME.pt` (or `.safetensors`) and `NAME-LEVEL.head.pt` files.
    public let directory: URL
    /// Replaces the hub's scheme and host in download URLs (a mirror or a test server).
    public let hubURL: String?
    /// Whether a catalogue model or head missing from the directory is downloaded when asked for.
    public let fetching: Fetching
    /// Birder's published models that this engine runs, then the entries of `catalogFile`.
    public let catalog: [PretrainedModel]
    /// `$BIRDER_CATALOG`: a JSON file of further catalogue entries (see `CatalogFile`).
    public let catalogFile: String?
    /// Why `catalogFile` could not be read; thrown by every catalogue look-up.
    private let catalogFailure: ModelStoreError?

    public enum Fetching: Sendable {
        /// Nothing touches the network: a missing file is an error (`.notDownloaded`, reason
        /// `.offline`) and `download` refuses.
        case never
        /// A catalogue model or published head missing from the directory is downloaded first.
        case ifMissing(DownloadOptions)
    }

    public struct DownloadOptions: Sendable {
        /// Seconds without data after which a stalled server is given up.
        public var timeout: TimeInterval
        /// Asked a few times a second; true stops (a partial file is kept to resume).
        public var isCancelled: @Sendable () -> Bool
        /// What the downloads are doing, for a progress display; called from background threads.
        public var events: @Sendable (DownloadEvent) -> Void

        public init(timeout: TimeInterval = 60, isCancelled: @escaping @Sendable () -> Bool = { false },
                    events: @escaping @Sendable (DownloadEvent) -> Void = { _ in }) {
            self.timeout = timeout
            self.isCancelled = isCancelled
            self.events = events
        }
    }

    public enum DownloadEvent: Sendable {
        /// A request for `file` goes to `url`, resuming after `resumingAt` bytes of an earlier attempt.
        case fetching(file: String, url: URL, resumingAt: Int64)
        /// Another process is fetching `file` (it holds `lock`): this one waits, then uses its file.
        case waiting(file: String, lock: URL)
        /// Bytes of `file` so far, of `total` when the server announced it.
        case received(file: String, bytes: Int64, total: Int64?)
        /// A file is in place and verified.
        case finished(DownloadResult)
    }

    /// The models directory: `directory`, else `$BIRDER_MODELS_DIR`, else `./models` when it
    /// exists, else the per-user cache (`$XDG_CACHE_HOME/birder/models`, `~/.cache/birder/models`).
    /// `$BIRDER_HUB_URL` points downloads at a mirror; `$BIRDER_OFFLINE=1` makes `fetching`
    /// `.never` whatever is asked (it forbids any network access); `$BIRDER_CATALOG` adds entries.
    public init(directory: String? = nil, fetching: Fetching = .ifMissing(DownloadOptions()),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory.map { URL(fileURLWithPath: $0) } ?? Self.defaultDirectory(environment: environment)
        hubURL = environment["BIRDER_HUB_URL"].flatMap { $0.isEmpty ? nil : $0 }
        self.fetching = Self.isOffline(environment) ? .never : fetching
        catalogFile = environment["BIRDER_CATALOG"].flatMap { $0.isEmpty ? nil : $0 }
        var catalog = PretrainedModel.catalog
        var failure: ModelStoreError?
        if let catalogFile {
            do {
                let entries = try CatalogFile.load(catalogFile)
                let names = Set(entries.map(\.name))
                catalog = catalog.filter { !names.contains($0.name) } + entries
            } catch {
                failure = error
            }
        }
        self.catalog = catalog
        catalogFailure = failure
    }

    /// Whether `$BIRDER_OFFLINE` is set to a true value (1, true, yes, on).
    public static func isOffline(_ environment: [String: String]) -> Bool {
        ["1", "true", "yes", "on"].contains(environment["BIRDER_OFFLINE", default: ""].lowercased())
    }

    /// `$BIRDER_MODELS_DIR`, else `./models` when it is a directory, else the per-user cache.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let set = environment["BIRDER_MODELS_DIR"], !set.isEmpty { return URL(fileURLWithPath: set) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: "models", isDirectory: &isDirectory), isDirectory.boolValue {
            return URL(fileURLWithPath: "models")
        }
        return userCache(environment: environment).appendingPathComponent("models")
    }

    /// The per-user cache of this engine: `$XDG_CACHE_HOME/birder`, else `~/.cache/birder` (models
    /// and folder embeddings live under it).
    package static func userCache(environment: [String: String]) -> URL {
        // The XDG base directory specification ignores a relative $XDG_CACHE_HOME.
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return URL(fileURLWithPath: cache).appendingPathComponent("birder")
    }

    /// Birder's published models that this engine runs.
    public static var published: [PretrainedModel] { PretrainedModel.catalog }

    /// The catalogue entry called `name`, nil when there is none.
    public func model(named name: String) throws(ModelStoreError) -> PretrainedModel? {
        try checkedCatalog().first { $0.name == name }
    }

    /// `catalog`, or why `catalogFile` could not be read.
    public func checkedCatalog() throws(ModelStoreError) -> [PretrainedModel] {
        if let catalogFailure { throw catalogFailure }
        return catalog
    }

    /// Whether a model or head argument names a file rather than a catalogue entry or a level.
    static func isPath(_ value: String) -> Bool {
        value.contains("/") || value.hasSuffix(".pt") || value.hasSuffix(".safetensors")
    }

    /// The checkpoint file of a catalogue name (in the models directory) or of a path. For a
    /// catalogue name, what is missing of the checkpoint and of the published `heads` (levels) is
    /// downloaded first when `fetching` allows; otherwise it is an error naming the files.
    public func checkpoint(for nameOrPath: String, heads: [String] = []) throws(ModelStoreError) -> URL {
        let fm = FileManager.default
        // A bare name is a catalogue entry, unless only a file answers to it.
        var isFile = Self.isPath(nameOrPath)
        if !isFile, fm.fileExists(atPath: nameOrPath) { isFile = try model(named: nameOrPath) == nil }
        if isFile {
            guard fm.fileExists(atPath: nameOrPath) else { throw .noSuchFile(nameOrPath) }
            return URL(fileURLWithPath: nameOrPath)
        }
        guard let model = try model(named: nameOrPath) else {
            throw .unknownModel(nameOrPath, known: catalog.map(\.name))
        }
        let present = [model.fileName, "\(model.name).safetensors"].lazy
            .map { self.directory.appendingPathComponent($0) }
            .first { fm.fileExists(atPath: $0.path) }
        let missingHeads = heads.filter { level in
            !Self.isPath(level) && model.heads.contains(level)
                && !fm.fileExists(atPath: directory.appendingPathComponent(model.headFileName(level)).path)
        }
        if let present, missingHeads.isEmpty { return present }
        try fetchMissing(model, checkpoint: present == nil, heads: missingHeads)
        return present ?? directory.appendingPathComponent(model.fileName)
    }

    /// The head file of a level (`<checkpoint stem>-<level>.head.pt` beside the checkpoint) or a
    /// path. A published head of a catalogue model in the models directory is downloaded first
    /// when missing and `fetching` allows.
    public func head(_ levelOrPath: String, besideCheckpoint checkpoint: URL) throws(ModelStoreError) -> URL {
        if Self.isPath(levelOrPath) {
            guard FileManager.default.fileExists(atPath: levelOrPath) else { throw .noSuchFile(levelOrPath) }
            return URL(fileURLWithPath: levelOrPath)
        }
        let stem = checkpoint.deletingPathExtension().lastPathComponent
        let file = checkpoint.deletingLastPathComponent().appendingPathComponent("\(stem)-\(levelOrPath).head.pt")
        if FileManager.default.fileExists(atPath: file.path) { return file }
        let inDirectory = checkpoint.deletingLastPathComponent().standardizedFileURL.path == directory.standardizedFileURL.path
        if inDirectory, let model = try model(named: stem), model.heads.contains(levelOrPath) {
            try fetchMissing(model, checkpoint: false, heads: [levelOrPath])
            return file
        }
        throw .headNotFound(level: levelOrPath, path: file.path, model: stem)
    }

    /// Downloads what a first use found missing, or says why it cannot.
    private func fetchMissing(_ model: PretrainedModel, checkpoint: Bool, heads: [String]) throws(ModelStoreError) {
        let files = (checkpoint ? [model.fileName] : []) + heads.map(model.headFileName)
        func missing(_ reason: MissingModelFiles.Reason) -> ModelStoreError {
            .notDownloaded(MissingModelFiles(model: model.name, files: files, heads: heads,
                                             directory: directory.path, reason: reason))
        }
        guard case let .ifMissing(options) = fetching else { throw missing(.offline) }
        do {
            _ = try fetch(model, checkpoint: checkpoint, heads: heads, replacing: false, options: options)
        } catch let .downloadFailed(reason) {
            throw missing(.fetchFailed(reason))
        } catch let .invalidHead(path, reason) {
            throw missing(.fetchFailed(ModelStoreError.invalidHead(path: path, reason: reason).description))
        }
    }

    /// What the directory holds of a catalogue model.
    public func status(of model: PretrainedModel, verify: Bool = false) throws -> ModelStatus {
        let file = directory.appendingPathComponent(model.fileName)
        var state = ModelStatus.State.missing
        if FileManager.default.fileExists(atPath: file.path) {
            state = .present
            if verify { state = try Downloader.sha256(of: file) == model.sha256 ? .verified : .corrupt }
        }
        let heads = model.heads.filter {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent(model.headFileName($0)).path)
        }
        return ModelStatus(model: model, file: file, state: state, headsPresent: heads)
    }

    /// Downloads a catalogue model and the named heads into the directory (what `birder download`
    /// does; a first use does the same for what is missing). A file already present is checked
    /// (a checkpoint's SHA-256) and kept; `replacing` fetches a checkpoint whose hash differs anew.
    /// Refused when `fetching` is `.never`.
    public func download(_ name: String, heads: [String] = [], replacing: Bool = false,
                         options: DownloadOptions = DownloadOptions()) throws(ModelStoreError) -> [DownloadResult] {
        guard let model = try model(named: name) else {
            throw .unknownModel(name, known: catalog.map(\.name))
        }
        for level in heads where !model.heads.contains(level) {
            throw .noPublishedHead(level: level, model: name, published: model.heads)
        }
        guard case .ifMissing = fetching else {
            throw .notDownloaded(MissingModelFiles(model: name, files: [model.fileName] + heads.map(model.headFileName),
                                                   heads: heads, directory: directory.path, reason: .offline))
        }
        return try fetch(model, checkpoint: true, heads: heads, replacing: replacing, options: options)
    }

    /// The one place files are fetched: resumable, verified before the rename, once across processes.
    private func fetch(_ model: PretrainedModel, checkpoint: Bool, heads: [String], replacing: Bool,
                       options: DownloadOptions) throws(ModelStoreError) -> [DownloadResult] {
        var files: [(name: String, expectation: Downloader.Expectation, verifiedBy: DownloadResult.Verification)] = []
        if checkpoint {
            // The registry's size is rounded to 0.1 MiB: the file may be that much larger.
            let limit = Int64((model.fileSizeMB + 0.1) * 1_048_576)
            files.append((model.fileName, .init(sha256: model.sha256, plausibleSize: { [model] in model.sizeIsPlausible($0) },
                                                maximumBytes: limit), .sha256))
        }
        // Birder's registry publishes no hash or size for heads: each is checked by loading it
        // before it is renamed into place, and capped well above the largest (the 11,846-species
        // head is 49 MB).
        files += heads.map { level in
            (model.headFileName(level), Downloader.Expectation(maximumBytes: Self.headLimit, check: { partial in
                do { _ = try Head.load(partial.path) } catch { throw HeadCheckFailure(reason: String(describing: error)) }
            }), .loading)
        }

        var results: [DownloadResult] = []
        for file in files {
            let destination = directory.appendingPathComponent(file.name)
            guard let url = URL(string: model.url(for: file.name, hubBase: hubURL)) else {
                throw .downloadFailed("\(model.url(for: file.name, hubBase: hubURL)): not a valid URL")
            }
            let name = file.name, events = options.events
            let outcome: Downloader.Outcome
            do {
                outcome = try Downloader(timeout: options.timeout, isCancelled: options.isCancelled).download(
                    from: url, to: destination, expecting: file.expectation, overwrite: replacing
                ) { event in
                    switch event {
                    case let .waitingForLock(lock): events(.waiting(file: name, lock: lock))
                    case let .transferring(offset): events(.fetching(file: name, url: url, resumingAt: offset))
                    case let .received(bytes, total): events(.received(file: name, bytes: bytes, total: total))
                    }
                }
            } catch let DownloadError.checkFailed(_, reason) {
                throw .invalidHead(path: destination.path, reason: reason)
            } catch {
                throw .downloadFailed(String(describing: error))
            }
            let result: DownloadResult
            switch outcome {
            case .alreadyPresent: result = DownloadResult(file: destination, bytes: nil, verifiedBy: file.verifiedBy)
            case let .downloaded(bytes): result = DownloadResult(file: destination, bytes: bytes, verifiedBy: file.verifiedBy)
            }
            events(.finished(result))
            results.append(result)
        }
        return results
    }

    /// The most bytes a downloaded head may have.
    public static let headLimit: Int64 = 256 << 20

    /// SHA-256 of a file, hex.
    public static func sha256(of file: URL) throws -> String { try Downloader.sha256(of: file) }
}

/// A downloaded head that does not load.
private struct HeadCheckFailure: Error, CustomStringConvertible {
    let reason: String
    var description: String { reason }
}

/// A catalogue model's presence in a models directory.
public struct ModelStatus: Sendable {
    public enum State: String, Sendable {
        case missing, present, verified, corrupt
    }

    public let model: PretrainedModel
    public let file: URL
    public let state: State
    /// Published heads whose files are present.
    public let headsPresent: [String]
}

/// One file `ModelStore.download` produced or found.
public struct DownloadResult: Sendable {
    public enum Verification: Sendable { case sha256, loading }

    public let file: URL
    /// Bytes downloaded; nil when the file was already present and verified.
    public let bytes: Int64?
    public let verifiedBy: Verification
}

/// Files of a catalogue model that a use needs and the models directory lacks.
public struct MissingModelFiles: Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// Fetching is off (`ModelStore.Fetching.never`, `$BIRDER_OFFLINE`).
        case offline
        /// The download failed (unreachable hub, HTTP error, wrong hash…): why.
        case fetchFailed(String)
    }

    /// The catalogue name.
    public let model: String
    /// The missing file names (checkpoint `NAME.pt`, heads `NAME-LEVEL.head.pt`).
    public let files: [String]
    /// The levels of the missing heads.
    public let heads: [String]
    /// Where they were looked for.
    public let directory: String
    public let reason: Reason

    public var description: String {
        let names = files.count == 1 ? files[0] : files.dropLast().joined(separator: ", ") + " and " + files.last!
        let verb = files.count == 1 ? "is" : "are"
        let alternative = files.contains("\(model).pt") ? " (nor \(model).safetensors)" : ""
        switch reason {
        case .offline: return "\(names) \(verb) not in \(directory)\(alternative), and offline nothing is fetched"
        case let .fetchFailed(why): return "\(names) \(verb) not in \(directory)\(alternative) and could not be fetched: \(why)"
        }
    }
}

public enum ModelStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchFile(String)
    case unknownModel(String, known: [String])
    case unknownNetwork(String, known: [String])
    /// Files of a catalogue model the directory lacks and that were not (or could not be) fetched.
    case notDownloaded(MissingModelFiles)
    case headNotFound(level: String, path: String, model: String)
    case noPublishedHead(level: String, model: String, published: [String])
    case invalidHead(path: String, reason: String)
    case downloadFailed(String)
    /// `$BIRDER_CATALOG` could not be read.
    case invalidCatalog(path: String, reason: String)

    public var description: String {
        switch self {
        case let .noSuchFile(path): return "\(path): no such file"
        case let .unknownModel(name, known):
            return "unknown model '\(name)': not a file and not a registry name (known: \(known.joined(separator: ", ")))"
        case let .unknownNetwork(name, known):
            return "unknown network '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .notDownloaded(missing): return missing.description
        case let .headNotFound(level, path, _): return "head '\(level)': \(path) not found"
        case let .noPublishedHead(level, model, published):
            return "\(model) has no published '\(level)' head (published: \(published.isEmpty ? "none" : published.joined(separator: ", ")))"
        case let .invalidHead(path, reason): return "\(path): not a valid head file (\(reason)); deleted"
        case let .downloadFailed(reason): return reason
        case let .invalidCatalog(path, reason): return "\(path) ($BIRDER_CATALOG): \(reason)"
        }
    }
}
