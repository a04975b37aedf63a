import BirderHub
import BirderIO
import BirderModels
import Foundation

/// Where models live on this machine and how they get there: a models directory, Birder's
/// catalogue of published models, and verified downloads into the directory.
public struct ModelStore: Sendable {
    /// The models directory: `NAME.pt` (or `.safetensors`) and `NAME-LEVEL.head.pt` files.
    public let directory: URL
    /// Replaces the hub's scheme and host in download URLs (a mirror or a test server).
    public let hubURL: String?

    /// The directory given, else `$BIRDER_MODELS_DIR`, else `./models`; the hub from `$BIRDER_HUB_URL`.
    public init(directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = URL(fileURLWithPath: directory ?? environment["BIRDER_MODELS_DIR"] ?? "models")
        hubURL = environment["BIRDER_HUB_URL"]
    }

    /// Birder's published models that this engine runs.
    public static var catalog: [PretrainedModel] { PretrainedModel.catalog }

    /// Whether a model or head argument names a file rather than a catalogue entry or a level.
    static func isPath(_ value: String) -> Bool {
        value.contains("/") || value.hasSuffix(".pt") || value.hasSuffix(".safetensors")
    }

    /// The checkpoint file of a registry name (in the models directory) or of a path.
    public func checkpoint(for nameOrPath: String) throws(ModelStoreError) -> URL {
        let fm = FileManager.default
        if Self.isPath(nameOrPath) || (fm.fileExists(atPath: nameOrPath) && PretrainedModel.named(nameOrPath) == nil) {
            guard fm.fileExists(atPath: nameOrPath) else { throw .noSuchFile(nameOrPath) }
            return URL(fileURLWithPath: nameOrPath)
        }
        guard let pretrained = PretrainedModel.named(nameOrPath) else {
            throw .unknownModel(nameOrPath, known: Self.catalog.map(\.name))
        }
        for candidate in [pretrained.fileName, "\(pretrained.name).safetensors"] {
            let file = directory.appendingPathComponent(candidate)
            if fm.fileExists(atPath: file.path) { return file }
        }
        throw .notDownloaded(pretrained.name, directory: directory.path)
    }

    /// The head file of a level (`<checkpoint stem>-<level>.head.pt` beside the checkpoint) or a path.
    public func head(_ levelOrPath: String, besideCheckpoint checkpoint: URL) throws(ModelStoreError) -> URL {
        if Self.isPath(levelOrPath) {
            guard FileManager.default.fileExists(atPath: levelOrPath) else { throw .noSuchFile(levelOrPath) }
            return URL(fileURLWithPath: levelOrPath)
        }
        let stem = checkpoint.deletingPathExtension().lastPathComponent
        let file = checkpoint.deletingLastPathComponent().appendingPathComponent("\(stem)-\(levelOrPath).head.pt")
        guard FileManager.default.fileExists(atPath: file.path) else {
            throw .headNotFound(level: levelOrPath, path: file.path, model: stem)
        }
        return file
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

    /// Downloads a catalogue model and the named heads into the directory: resumable, the model
    /// verified by SHA-256 and size, each head by loading it; files are renamed into place only
    /// once verified. `progress(file name, bytes so far)` is called from a background thread.
    ///
    /// - timeout: seconds without data after which a stalled server is given up.
    /// - isCancelled: asked a few times a second; true stops (the partial file is kept to resume).
    public func download(_ name: String, heads: [String] = [], replacing: Bool = false, timeout: TimeInterval = 60,
                         isCancelled: @escaping @Sendable () -> Bool = { false },
                         progress: @escaping @Sendable (String, Int64) -> Void = { _, _ in }) throws -> [DownloadResult] {
        guard let model = PretrainedModel.named(name) else {
            throw ModelStoreError.unknownModel(name, known: Self.catalog.map(\.name))
        }
        for level in heads where !model.heads.contains(level) {
            throw ModelStoreError.noPublishedHead(level: level, model: name, published: model.heads)
        }
        // The registry's size is rounded to 0.1 MiB: the file may be that much larger.
        let modelLimit = Int64((model.fileSizeMB + 0.1) * 1_048_576)
        var files: [(name: String, expectation: Downloader.Expectation)] = [
            (model.fileName, .init(sha256: model.sha256, plausibleSize: { [model] in model.sizeIsPlausible($0) },
                                   maximumBytes: modelLimit))
        ]
        // Birder's registry publishes no hash or size for heads; they are checked by loading
        // them, and capped well above the largest (the 11,846-species head is 49 MB).
        files += heads.map { (model.headFileName($0), Downloader.Expectation(maximumBytes: Self.headLimit)) }

        var results: [DownloadResult] = []
        for file in files {
            let destination = directory.appendingPathComponent(file.name)
            let url = URL(string: model.url(for: file.name, hubBase: hubURL))!
            let outcome: Downloader.Outcome
            do {
                let fileName = file.name
                outcome = try Downloader(timeout: timeout, isCancelled: isCancelled).download(
                    from: url, to: destination, expecting: file.expectation, overwrite: replacing
                ) { received, _ in progress(fileName, received) }
            } catch let error as DownloadError {
                throw ModelStoreError.downloadFailed(error.description)
            }
            let verification: DownloadResult.Verification = file.expectation.sha256 != nil ? .sha256 : .loading
            switch outcome {
            case .alreadyPresent:
                results.append(DownloadResult(file: destination, bytes: nil, verifiedBy: verification))
            case let .downloaded(bytes):
                if file.name.hasSuffix(".head.pt") {
                    do { _ = try Head.load(destination.path) } catch {
                        try? FileManager.default.removeItem(at: destination)
                        throw ModelStoreError.invalidHead(path: destination.path, reason: String(describing: error))
                    }
                }
                results.append(DownloadResult(file: destination, bytes: bytes, verifiedBy: verification))
            }
        }
        return results
    }

    /// The most bytes a downloaded head may have.
    public static let headLimit: Int64 = 256 << 20

    /// SHA-256 of a file, hex.
    public static func sha256(of file: URL) throws -> String { try Downloader.sha256(of: file) }
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

public enum ModelStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    case noSuchFile(String)
    case unknownModel(String, known: [String])
    case unknownNetwork(String, known: [String])
    /// A catalogue model that is not in the models directory.
    case notDownloaded(String, directory: String)
    case headNotFound(level: String, path: String, model: String)
    case noPublishedHead(level: String, model: String, published: [String])
    case invalidHead(path: String, reason: String)
    case downloadFailed(String)

    public var description: String {
        switch self {
        case let .noSuchFile(path): return "\(path): no such file"
        case let .unknownModel(name, known):
            return "unknown model '\(name)': not a file and not a registry name (known: \(known.joined(separator: ", ")))"
        case let .unknownNetwork(name, known):
            return "unknown network '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .notDownloaded(name, directory): return "model '\(name)' is not in \(directory)"
        case let .headNotFound(level, path, _): return "head '\(level)': \(path) not found"
        case let .noPublishedHead(level, model, published):
            return "\(model) has no published '\(level)' head (published: \(published.isEmpty ? "none" : published.joined(separator: ", ")))"
        case let .invalidHead(path, reason): return "\(path): not a valid head file (\(reason)); deleted"
        case let .downloadFailed(reason): return reason
        }
    }
}
