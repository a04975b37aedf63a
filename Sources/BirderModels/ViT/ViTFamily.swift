import BirderCore

/// Birder's plain ViTs in the registry (vit_*, vit_reg*, deit3_*), recognised by width, patch
/// size, depth, MLP width, pre-norm, register and class tokens and layer scale.
struct ViTFamily: NetworkFamily {
    let name = "vit"
    var networks: [String] { ViTConfig.registeredNetworks }

    func identify(_ parameters: any ParameterSource, config: [String: ConfigValue]) -> [String] {
        guard let patch = parameters.shape(of: "conv_proj.weight"), patch.count == 4, patch[1] == 3,
              let mlp = parameters.shape(of: "encoder.block.0.mlp.0.weight"), mlp.count == 2 else { return [] }
        let names = parameters.parameterNames
        let depth = Set(names.compactMap { name -> Int? in
            guard name.hasPrefix("encoder.block.") else { return nil }
            return Int(name.dropFirst("encoder.block.".count).prefix { $0.isNumber })
        }).count
        let registers = parameters.shape(of: "reg_tokens").map { $0.count == 3 ? $0[1] : -1 } ?? 0
        let hasClassToken = parameters.shape(of: "class_token") != nil
        let hasPreNorm = names.contains { $0.hasPrefix("encoder.pre_block.") }
        let hasLayerScale = parameters.shape(of: "encoder.block.0.layer_scale_1.gamma") != nil
        var fits: [(network: String, config: ViTConfig)] = []
        for network in networks {
            guard var candidate = try? ViTConfig.forNetwork(network, overrides: config),
                  candidate.hiddenDim == patch[0], candidate.patchSize == patch[2], candidate.patchSize == patch[3],
                  candidate.numLayers == depth, candidate.mlpDim == mlp[0], candidate.preNorm == hasPreNorm,
                  candidate.numRegTokens == registers, candidate.classToken == hasClassToken,
                  candidate.layerScale == hasLayerScale else { continue }
            // Names that a checkpoint's config turns into the same network count once.
            candidate.network = ""
            if !fits.contains(where: { $0.config == candidate }) { fits.append((network, candidate)) }
        }
        return fits.map(\.network)
    }

    func makeEncoder(network: String, binder: ParameterBinder, numClasses: Int?, config: [String: ConfigValue],
                     inputSize: [Int]?, kernels: KernelTable) throws -> any ImageEncoder {
        let size = inputSize.flatMap { $0.count == 2 ? (height: $0[0], width: $0[1]) : nil } ?? (height: 224, width: 224)
        return try ViT(config: ViTConfig.forNetwork(network, overrides: config), binder: binder,
                       numClasses: numClasses, size: size, kernels: kernels)
    }
}
