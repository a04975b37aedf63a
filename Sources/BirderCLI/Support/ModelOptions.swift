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

    @Option(name: .long, help: "Network of a checkpoint (default: read from its weights; the file name NETWORK_TAG.pt breaks ties).")
    var network: String?

    @Option(name: .long, help: "Models directory (default: $BIRDER_MODELS_DIR, else ./models).")
    var modelsDir: String?

    @Option(name: .long, help: ArgumentHelp(
        "A linear-probe head: a level (order, family, genus, species → NAME-LEVEL.head.pt beside the model) or a .head.pt path. Repeatable.",
        valueName: "level-or-path"))
    var head: [String] = []

    var store: ModelStore { ModelStore(directory: modelsDir) }

    /// The model with its heads, or a usage error that says how to get what is missing.
    func load() throws -> BirderModel {
        try Self.load(model, heads: head, network: network, store: store)
    }

    static func load(_ model: String, heads: [String] = [], network: String?, store: ModelStore) throws -> BirderModel {
        do {
            return try BirderModel.load(model, heads: heads, store: store, network: network)
        } catch let error as ModelStoreError {
            switch error {
            case let .notDownloaded(name, _):
                throw CLIError.usage("\(error); run `birder download \(name)` or pass --models-dir")
            case let .headNotFound(level, _, stem):
                throw CLIError.usage("\(error); run `birder download \(stem) --head \(level)` or pass a .head.pt path")
            default:
                throw CLIError.usage(error.description)
            }
        } catch let error as ComputeError {
            throw CLIError.usage(error.description)
        }
    }
}
