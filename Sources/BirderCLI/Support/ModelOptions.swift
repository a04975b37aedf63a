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

    @Option(name: .long, help: ArgumentHelp(Precision.help, valueName: "fp32|bf16"))
    var precision: Precision = .fp32

    var store: ModelStore { CommandLineStore.store(directory: modelsDir, offline: offline) }

    /// The model with its heads (fetched first when missing), or a usage error that says how to get
    /// what is missing.
    func load() throws -> BirderModel {
        let loaded = try Self.load(model, heads: head, network: network, store: store, precision: precision,
                                   allowForeignHeads: allowForeignHead)
        // After the load, so a model that fails to load gets its one error line and nothing else.
        Precision.noteEmulation(precision, instructionSet: loaded.instructionSet)
        return loaded
    }

    static func load(_ model: String, heads: [String] = [], network: String?, store: ModelStore,
                     precision: Precision = .fp32, allowForeignHeads: Bool = false) throws -> BirderModel {
        do {
            return try BirderModel.load(model, heads: heads, store: store, network: network, precision: precision,
                                        allowForeignHeads: allowForeignHeads)
        } catch let error as ForeignHeadError {
            throw CLIError.usage("\(error.description); pass --allow-foreign-head to use it anyway")
        } catch let error as ModelStoreError {
            throw CommandLineStore.explain(error)
        } catch let error as ComputeError {
            throw CLIError.usage(error.description)
        }
    }
}

extension Precision: ExpressibleByArgument {
    /// The help of every command's `--precision`.
    static let help = "Precision of the network's products: fp32, or bf16 (bfloat16 weights and product inputs, Float32 sums: about half the model's memory, embeddings within a cosine of 0.999 of fp32's; emulated, and no faster, where the kernels have no bf16 instructions)."

    /// Says on stderr, once per command, that bf16 runs emulated on the kernels this process uses.
    static func noteEmulation(_ precision: Precision, instructionSet: InstructionSet? = nil) {
        guard precision == .bf16 else { return }
        let set = instructionSet ?? (try? InstructionSet.preferred()) ?? .best
        guard !set.runsBF16Natively else { return }
        let why = CPUFeatures.current.contains(.avx512BF16)
            ? "this build has no kernels for this CPU's AVX-512-BF16" : "this CPU has no bf16 instructions"
        Terminal.note("note: bf16 is emulated by the \(set) kernels (\(why)): bf16 results, at fp32 speed or below")
    }
}
