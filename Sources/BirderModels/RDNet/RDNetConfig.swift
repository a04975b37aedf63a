import BirderCore

/// The hyper-parameters of an RDNet, as Birder's registry holds them (birder/net/rdnet.py), one
/// entry per dense stage.
package struct RDNetConfig: Sendable, Equatable {
    /// Birder's network name (`rdnet_t`, …); reported by `RDNet.network`.
    package var name: String
    /// Width of the stem (`num_init_features`).
    package var numInitFeatures: Int
    /// Channels each block adds, per dense stage (`growth_rates`).
    package var growthRates: [Int]
    /// Blocks per dense stage (`num_blocks_list`).
    package var numBlocksList: [Int]
    /// Whether the transition before a dense stage downsamples 2× (`is_downsample_block`; the
    /// first entry is unused: the first stage has no transition).
    package var isDownsampleBlock: [Bool]
    /// Channels kept by a transition (`transition_compression_ratio`).
    package var transitionCompressionRatio: Double
    /// `Block` or `BlockESE` per dense stage (`block_type_name`).
    package var blockTypeName: [String]
    /// Whether the classifier has a bias (Birder's `head_bias`, default true).
    package var headBias: Bool

    package init(name: String, numInitFeatures: Int, growthRates: [Int], numBlocksList: [Int],
                isDownsampleBlock: [Bool], transitionCompressionRatio: Double, blockTypeName: [String],
                headBias: Bool = true) {
        self.name = name
        self.numInitFeatures = numInitFeatures
        self.growthRates = growthRates
        self.numBlocksList = numBlocksList
        self.isDownsampleBlock = isDownsampleBlock
        self.transitionCompressionRatio = transitionCompressionRatio
        self.blockTypeName = blockTypeName
        self.headBias = headBias
    }

    package static let rdnetT = RDNetConfig(
        name: "rdnet_t", numInitFeatures: 64, growthRates: [64, 104, 128, 128, 128, 128, 224],
        numBlocksList: Array(repeating: 3, count: 7),
        isDownsampleBlock: [false, true, true, false, false, false, true], transitionCompressionRatio: 0.5,
        blockTypeName: ["Block", "Block"] + Array(repeating: "BlockESE", count: 5))

    package static let rdnetS = RDNetConfig(
        name: "rdnet_s", numInitFeatures: 72, growthRates: [64, 128] + Array(repeating: 128, count: 7) + [240, 240],
        numBlocksList: Array(repeating: 3, count: 11),
        isDownsampleBlock: [false, true, true, false, false, false, false, false, false, true, false],
        transitionCompressionRatio: 0.5, blockTypeName: ["Block", "Block"] + Array(repeating: "BlockESE", count: 9))

    package static let rdnetB = RDNetConfig(
        name: "rdnet_b", numInitFeatures: 120, growthRates: [96, 128] + Array(repeating: 168, count: 7) + [336, 336],
        numBlocksList: Array(repeating: 3, count: 11),
        isDownsampleBlock: [false, true, true, false, false, false, false, false, false, true, false],
        transitionCompressionRatio: 0.5, blockTypeName: ["Block", "Block"] + Array(repeating: "BlockESE", count: 9))

    package static let rdnetL = RDNetConfig(
        name: "rdnet_l", numInitFeatures: 144, growthRates: [128, 192] + Array(repeating: 256, count: 8) + [360, 360],
        numBlocksList: Array(repeating: 3, count: 12),
        isDownsampleBlock: [false, true, true, false, false, false, false, false, false, false, true, false],
        transitionCompressionRatio: 0.5, blockTypeName: ["Block", "Block"] + Array(repeating: "BlockESE", count: 10))

    /// The registered config of a Birder network name, or nil.
    package static func named(_ network: String) -> RDNetConfig? {
        switch network {
        case "rdnet_t": return .rdnetT
        case "rdnet_s": return .rdnetS
        case "rdnet_b": return .rdnetB
        case "rdnet_l": return .rdnetL
        default: return nil
        }
    }

    /// This config with a checkpoint's `config` dictionary applied on top, as Birder's
    /// `self.config.update(config)` does. Keys Birder's RDNet reads are checked for type;
    /// `drop_path_rate` (training only) and keys RDNet never reads are ignored, as in Birder;
    /// `mlp_head: true` is refused (not supported).
    package func overridden(by overrides: [String: ConfigValue]) throws -> RDNetConfig {
        var config = self
        func fail(_ key: String, _ expected: String) -> WeightBindingError {
            .invalidConfig("\(name): config key '\(key)' must be \(expected), got \(overrides[key]!)")
        }
        func list<T>(_ key: String, of element: (ConfigValue) -> T?, _ kind: String) throws -> [T]? {
            guard let value = overrides[key] else { return nil }
            guard let list = value.listValue else { throw fail(key, "a list of \(kind)") }
            return try list.map { item in
                guard let v = element(item) else { throw fail(key, "a list of \(kind)") }
                return v
            }
        }
        if let value = overrides["num_init_features"] {
            guard let v = value.intValue else { throw fail("num_init_features", "an integer") }
            config.numInitFeatures = v
        }
        if let v = try list("growth_rates", of: \.intValue, "integers") { config.growthRates = v }
        if let v = try list("num_blocks_list", of: \.intValue, "integers") { config.numBlocksList = v }
        if let v = try list("is_downsample_block", of: \.boolValue, "booleans") { config.isDownsampleBlock = v }
        if let value = overrides["transition_compression_ratio"] {
            guard let v = value.doubleValue else { throw fail("transition_compression_ratio", "a number") }
            config.transitionCompressionRatio = v
        }
        if let v = try list("block_type_name", of: \.stringValue, "strings") { config.blockTypeName = v }
        if let value = overrides["head_bias"] {
            guard let v = value.boolValue else { throw fail("head_bias", "a boolean") }
            config.headBias = v
        }
        if let value = overrides["mlp_head"] {
            guard let v = value.boolValue else { throw fail("mlp_head", "a boolean") }
            if v { throw WeightBindingError.invalidConfig("\(name): mlp_head classifiers are not supported") }
        }
        try config.validate()
        return config
    }

    /// Checks the lists agree and every width is usable.
    package func validate() throws {
        func fail(_ reason: String) -> WeightBindingError { .invalidConfig("\(name): \(reason)") }
        let stages = growthRates.count
        guard stages > 0 else { throw fail("growth_rates is empty") }
        guard numBlocksList.count == stages, isDownsampleBlock.count == stages, blockTypeName.count == stages else {
            throw fail("growth_rates, num_blocks_list, is_downsample_block and block_type_name must have one entry per stage (\(growthRates.count), \(numBlocksList.count), \(isDownsampleBlock.count), \(blockTypeName.count))")
        }
        guard numInitFeatures > 0, growthRates.allSatisfy({ $0 > 0 }), numBlocksList.allSatisfy({ $0 > 0 }) else {
            throw fail("widths and block counts must be positive")
        }
        // A checkpoint's config is untrusted: bound every number before any arithmetic on it, so
        // a hostile value is an error here and never an overflow trap or a huge allocation later.
        guard stages <= Self.maximumStages else { throw fail("\(stages) stages (at most \(Self.maximumStages))") }
        guard numInitFeatures <= Self.maximumWidth, growthRates.allSatisfy({ $0 <= Self.maximumWidth }) else {
            throw fail("num_init_features and growth_rates must be at most \(Self.maximumWidth)")
        }
        guard numBlocksList.allSatisfy({ $0 <= Self.maximumBlocksPerStage }) else {
            throw fail("num_blocks_list entries must be at most \(Self.maximumBlocksPerStage)")
        }
        guard transitionCompressionRatio > 0, transitionCompressionRatio <= 1 else {
            throw fail("transition_compression_ratio must be in (0, 1], got \(transitionCompressionRatio)")
        }
        if let bad = blockTypeName.first(where: { $0 != "Block" && $0 != "BlockESE" }) {
            throw fail("unknown block_type_name '\(bad)' (Block or BlockESE)")
        }
        var features = numInitFeatures
        for i in 0..<stages {
            if i > 0 {
                features = Self.compressed(features, ratio: transitionCompressionRatio)
                guard features > 0 else { throw fail("transition before stage \(i + 1) leaves no channels") }
            }
            // Bounded above, so this cannot overflow; the running width is what must stay sane.
            features += numBlocksList[i] * growthRates[i]
            guard features <= Self.maximumChannels else {
                throw fail("stage \(i + 1) would have \(features) channels (at most \(Self.maximumChannels))")
            }
        }
    }

    /// Bounds on a config's numbers, far above Birder's largest RDNet (rdnet_l: 12 stages, 3
    /// blocks, growth 360, about 2,000 channels) and small enough that every width, product of
    /// widths and tensor size derived from them fits in an Int.
    package static let maximumStages = 64
    package static let maximumWidth = 1 << 16
    package static let maximumBlocksPerStage = 1024
    package static let maximumChannels = 1 << 20

    /// Channels of each named stage's output (Birder's `return_channels`; the last is the
    /// embedding width). Assumes a valid config.
    package var returnChannels: [Int] {
        var channels: [Int] = []
        var features = numInitFeatures
        for i in 0..<growthRates.count {
            if i > 0 {
                if isDownsampleBlock[i] { channels.append(features) }
                features = Self.compressed(features, ratio: transitionCompressionRatio)
            }
            features += numBlocksList[i] * growthRates[i]
        }
        return channels + [features]
    }

    /// Birder's `int(num_features * ratio / 8) * 8`.
    static func compressed(_ features: Int, ratio: Double) -> Int {
        Int((Double(features) * ratio / 8).rounded(.towardZero)) * 8
    }

    /// Birder's bottleneck width `int(num_input_features * 4.0 / 8) * 8`.
    static func bottleneck(_ features: Int) -> Int {
        Int((Double(features) * 4.0 / 8).rounded(.towardZero)) * 8
    }
}
