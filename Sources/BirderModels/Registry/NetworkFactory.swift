public import BirderCore

extension NetworkRegistry {
    /// Builds `network` from `binder`. `config` (a checkpoint's `config` dict) overrides the
    /// registered config; `numClasses` sizes the classifier (0 with a seeded binder: none);
    /// `inputSize` [H, W] is the size the weights were made for (ViT's position grid).
    public static func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?,
                                   config: [String: ConfigValue] = [:], inputSize: [Int]? = nil) throws -> any ImageEncoder {
        if let registered = RDNetConfig.named(network) {
            return try RDNet(config: registered.overridden(by: config), binder: binder, numClasses: numClasses)
        }
        if ViTConfig.registered(network) != nil {
            let size = inputSize.flatMap { $0.count == 2 ? (height: $0[0], width: $0[1]) : nil } ?? (height: 224, width: 224)
            return try ViT(config: ViTConfig.forNetwork(network, overrides: config), binder: binder,
                           numClasses: numClasses, size: size)
        }
        throw WeightBindingError.invalidConfig("unknown network '\(network)' (known: \(names.joined(separator: ", ")))")
    }
}
