import ArgumentParser
import Birder
import Foundation

/// `--model NAME_OR_PATH [--network N] [--models-dir D] [--head L]…`, shared by the commands that
/// run a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A registry name (e.g. rdnet_t_ibot-bioscan5m, looked up as NAME.pt or NAME.safetensors in the models directory) or a checkpoint path.",
        valueName: "name-or-path"))
    var model: String

    @Option(name: .long, help: "Network of a checkpoint path (default: from the file name NETWORK_TAG.pt).")
    var network: String?

    @Option(name: .long, help: "Models directory (default: $BIRDER_MODELS_DIR, else ./models).")
    var modelsDir: String?

    @Option(name: .long, help: ArgumentHelp(
        "A linear-probe head: a level (order, family, genus, species → NAME-LEVEL.head.pt beside the model) or a .head.pt path. Repeatable.",
        valueName: "level-or-path"))
    var head: [String] = []

    var resolvedModelsDirectory: String {
        modelsDir ?? ProcessInfo.processInfo.environment["BIRDER_MODELS_DIR"] ?? "models"
    }

    /// The checkpoint file and its network.
    func resolveCheckpoint() throws -> (path: String, network: String) {
        let fm = FileManager.default
        let looksLikePath = model.contains("/") || model.hasSuffix(".pt") || model.hasSuffix(".safetensors")
        if looksLikePath || (fm.fileExists(atPath: model) && PretrainedModel.named(model) == nil) {
            guard fm.fileExists(atPath: model) else { throw CLIError.usage("\(model): no such file") }
            let name = URL(fileURLWithPath: model).lastPathComponent
            if let network { return (model, try Self.validated(network)) }
            guard let inferred = NetworkRegistry.network(inFileName: name) else {
                throw CLIError.usage("\(model): cannot tell the network from the file name; pass --network (one of \(NetworkRegistry.names.joined(separator: ", ")))")
            }
            return (model, inferred)
        }
        guard let pretrained = PretrainedModel.named(model) else {
            let known = PretrainedModel.catalog.map(\.name).joined(separator: ", ")
            throw CLIError.usage("unknown model '\(model)': not a file and not a registry name (known: \(known))")
        }
        let directory = resolvedModelsDirectory
        for candidate in ["\(pretrained.name).pt", "\(pretrained.name).safetensors"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            if fm.fileExists(atPath: path) { return (path, network.map { $0 } ?? pretrained.network) }
        }
        throw CLIError.usage("model '\(model)' is not in \(directory); run `birder download \(model)` or pass --models-dir")
    }

    /// Head files for `--head`, in the order given.
    func resolveHeads(checkpointPath: String) throws -> [String] {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: checkpointPath)
        let stem = url.deletingPathExtension().lastPathComponent
        return try head.map { value in
            if value.contains("/") || value.hasSuffix(".pt") {
                guard fm.fileExists(atPath: value) else { throw CLIError.usage("head \(value): no such file") }
                return value
            }
            let path = url.deletingLastPathComponent().appendingPathComponent("\(stem)-\(value).head.pt").path
            guard fm.fileExists(atPath: path) else {
                throw CLIError.usage("head '\(value)': \(path) not found; run `birder download \(stem) --head \(value)` or pass a .head.pt path")
            }
            return path
        }
    }

    static func validated(_ network: String) throws -> String {
        guard NetworkRegistry.names.contains(network) else {
            throw CLIError.usage("unknown network '\(network)' (known: \(NetworkRegistry.names.joined(separator: ", ")))")
        }
        return network
    }
}
