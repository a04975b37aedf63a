import BirderCore

/// RDNet in the registry: rdnet_t/s/b/l, recognised by the stem's width and the embedding's.
struct RDNetFamily: NetworkFamily {
    let name = "rdnet"
    let networks = ["rdnet_t", "rdnet_s", "rdnet_b", "rdnet_l"]

    func identify(_ parameters: any ParameterSource, config: [String: ConfigValue]) -> [String] {
        guard let stem = parameters.shape(of: "stem.0.weight"), stem.count == 4, stem[1] == 3, stem[2] == 4,
              let width = parameters.shape(of: "features.1.weight"), width.count == 1 else { return [] }
        var fits: [(network: String, config: RDNetConfig)] = []
        for network in networks {
            guard let registered = RDNetConfig.named(network),
                  var candidate = try? registered.overridden(by: config), (try? candidate.validate()) != nil,
                  candidate.numInitFeatures == stem[0], candidate.returnChannels.last == width[0] else { continue }
            // A checkpoint whose config overrides every structural key makes several names the
            // same network: those count once.
            candidate.name = ""
            if !fits.contains(where: { $0.config == candidate }) { fits.append((network, candidate)) }
        }
        return fits.map(\.network)
    }

    func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?, config: [String: ConfigValue],
                     inputSize: [Int]?, kernels: KernelTable) throws -> any ImageEncoder {
        guard let registered = RDNetConfig.named(network) else {
            throw WeightBindingError.invalidConfig("unknown RDNet '\(network)' (known: \(networks.joined(separator: ", ")))")
        }
        return try RDNet(config: registered.overridden(by: config), binder: binder, numClasses: numClasses, kernels: kernels)
    }
}
