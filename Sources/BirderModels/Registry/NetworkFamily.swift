import BirderCore

/// A kind of network the engine builds (RDNet, ViT, …): the Birder names it answers to, how to
/// recognise its checkpoints, and how to build one from bound weights. A family is a value with
/// no state; the registry that lists the families is the single source of truth for what the
/// library builds, the CLI accepts and `birder models` lists.
package protocol NetworkFamily: Sendable {
    /// Short name of the family, e.g. `rdnet`.
    var name: String { get }
    /// Birder network names this family builds, in Birder's registration order.
    var networks: [String] { get }

    /// Which of `networks` a checkpoint may hold, judged from its tensor names and shapes (and its
    /// `config` overrides): every configuration its weights fit (several when configurations
    /// differ only in what weights do not show, e.g. an activation); empty when none fits.
    func identify(_ parameters: any ParameterSource, config: [String: ConfigValue]) -> [String]

    /// Builds `network` from `binder`, packing weights for `kernels`. `config` (a checkpoint's
    /// `config` dict) overrides the registered config; `numClasses` sizes the classifier (nil:
    /// the checkpoint's, 0 with a seeded binder: none); `inputSize` [H, W] is the size the
    /// weights were made for.
    func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?, config: [String: ConfigValue],
                     inputSize: [Int]?, kernels: KernelTable) throws -> any ImageEncoder
}

/// The families the engine knows. Immutable: a caller that needs another family (a test, an
/// application with its own network) makes a registry that includes it and passes it down.
package struct NetworkRegistry: Sendable {
    package let families: [any NetworkFamily]

    package init(families: [any NetworkFamily]) {
        self.families = families
    }

    /// The families this library implements.
    package static let builtIn = NetworkRegistry(families: [RDNetFamily(), ViTFamily()])

    /// This registry with `family` added (its networks take precedence over same-named ones).
    package func adding(_ family: any NetworkFamily) -> NetworkRegistry {
        NetworkRegistry(families: [family] + families)
    }

    /// Every network name any family builds.
    package var names: [String] { families.flatMap(\.networks) }

    package func family(of network: String) -> (any NetworkFamily)? {
        families.first { $0.networks.contains(network) }
    }

    /// The network of a Birder file name `NETWORK_TAG.pt` (or `NETWORK.pt`): the longest known
    /// network name that the name starts with, followed by `_`, `.` or `-`.
    package func network(inFileName fileName: String) -> String? {
        names.filter { name in
            guard fileName.hasPrefix(name) else { return false }
            let rest = fileName.dropFirst(name.count)
            return rest.first.map { "_.-".contains($0) } ?? true
        }.max { $0.count < $1.count }
    }

    /// The networks whose weights the checkpoint's fit, across families.
    package func identify(_ parameters: any ParameterSource, config: [String: ConfigValue]) -> [String] {
        families.flatMap { $0.identify(parameters, config: config) }
    }

    package func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?,
                             config: [String: ConfigValue] = [:], inputSize: [Int]? = nil,
                             kernels: KernelTable) throws -> any ImageEncoder {
        guard let family = family(of: network) else {
            throw WeightBindingError.invalidConfig("unknown network '\(network)' (known: \(names.joined(separator: ", ")))")
        }
        return try family.makeEncoder(network: network, binder: binder, numClasses: numClasses, config: config,
                                      inputSize: inputSize, kernels: kernels)
    }
}
