import ArgumentParser
import Birder
import Foundation

/// `--model NAME_OR_PATH [--network N] [--models-dir D] [--offline] [--head L]…`, shared by the
/// commands that run a model. A catalogue model or published head missing from the models directory
/// is fetched first (verified, once across processes, progress on stderr) unless `--offline`.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "A registry name (e.g. rdnet_t_ibot-bioscan5m: NAME.pt or NAME.safetensors in the models directory, fetched there on first use) or a checkpoint path.",
        valueName: "name-or-path"))
    var model: String

    @Option(name: .long, help: "Network of a checkpoint (default: read from its weights; the file name NETWORK_TAG.pt breaks ties).")
    var network: String?

    @Option(name: .long, help: ArgumentHelp(CommandLineStore.modelsDirHelp, valueName: "directory"))
    var modelsDir: String?

    @Flag(name: .long, help: ArgumentHelp(CommandLineStore.offlineHelp))
    var offline = false

    @Option(name: .long, help: ArgumentHelp(
        "A linear-probe head: a level (order, family, genus, species → NAME-LEVEL.head.pt beside the model) or a .head.pt path. Repeatable.",
        valueName: "level-or-path"))
    var head: [String] = []

    @Flag(name: .long, help: "Attach a head even when it records another encoder than --model (a head from `birder probe train` names the network and checkpoint it was trained on).")
    var allowForeignHead = false

    var store: ModelStore { CommandLineStore.store(directory: modelsDir, offline: offline) }

    /// The model with its heads (fetched first when missing), or a usage error that says how to get
    /// what is missing.
    func load() throws -> BirderModel {
        try Self.load(model, heads: head, network: network, store: store, allowForeignHeads: allowForeignHead)
    }

    static func load(_ model: String, heads: [String] = [], network: String?, store: ModelStore,
                     allowForeignHeads: Bool = false) throws -> BirderModel {
        do {
            return try BirderModel.load(model, heads: heads, store: store, network: network, allowForeignHeads: allowForeignHeads)
        } catch let error as ForeignHeadError {
            throw CLIError.usage("\(error.description); pass --allow-foreign-head to use it anyway")
        } catch let error as ModelStoreError {
            throw CommandLineStore.explain(error)
        } catch let error as ComputeError {
            throw CLIError.usage(error.description)
        }
    }
}
