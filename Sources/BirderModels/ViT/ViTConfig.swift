import BirderCore

/// The structure of one of Birder's plain ViTs (`birder/net/vit.py`, sizes in `_vit_configs.py`):
/// a patchify stem, LayerNorm transformer blocks with a GELU MLP, a class token or average pooling.
/// Field names follow Birder's config keys; defaults are Birder's `config.get(...)` defaults.
///
/// What changes the checkpoint's tensors:
/// - `preNorm`: `encoder.pre_block.0` (LayerNorm) exists, and `conv_proj` has **no** bias; without
///   it `conv_proj.bias` exists and there is no pre-block norm.
/// - `postNorm && !normAfterPool`: `norm` (applied to every token); `postNorm && normAfterPool`:
///   `embedding_norm` (applied to the pooled vector).
/// - `classToken`: `class_token` [1, 1, D]; `numRegTokens > 0`: `reg_tokens` [1, R, D].
/// - `absPosEmbed`: `pos_embedding` [1, (special tokens if `posEmbedSpecialTokens`) + h·w, D].
/// - `layerScale`: `encoder.block.i.layer_scale_{1,2}.gamma` [D]; `qkvBias`: `attn.qkv.bias`.
/// - `headBias`: `classifier.bias` next to `classifier.weight`.
package struct ViTConfig: Sendable, Equatable {
    /// Birder's network name this config was built from (e.g. `vit_b16_pn`).
    package var network: String
    package var patchSize: Int
    package var numLayers: Int
    package var numHeads: Int
    package var hiddenDim: Int
    package var mlpDim: Int
    package var preNorm: Bool = false
    package var postNorm: Bool = true
    package var normAfterPool: Bool = false
    /// LayerNorm epsilon everywhere in the network (`norm_layer_eps`).
    package var normEpsilon: Double = 1e-6
    package var classToken: Bool = true
    package var numRegTokens: Int = 0
    /// `layer_scale_init_value` is set: blocks scale both branches by a learned gamma.
    package var layerScale: Bool = false
    package var qkvBias: Bool = true
    package var activation: GELUKind = .exact
    package var absPosEmbed: Bool = true
    /// Whether `pos_embedding` also covers the class/register tokens.
    package var posEmbedSpecialTokens: Bool = true
    /// Position-embedding resize filter (`pos_embed_interpolation_mode`).
    package var posEmbedInterpolation: InterpolationMode = .bicubic
    /// Antialiasing of the per-input (dynamic size) resize; Birder's `adjust_size` always antialiases.
    package var posEmbedAntialias: Bool = false
    package var headBias: Bool = true
    /// Training dropout; it matters here only because Birder puts an `nn.Dropout` in front of the
    /// pre-block LayerNorm when it is positive, which renames that norm `encoder.pre_block.1`.
    package var dropout: Double = 0

    package init(network: String, patchSize: Int, numLayers: Int, numHeads: Int, hiddenDim: Int, mlpDim: Int) {
        self.network = network
        self.patchSize = patchSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.hiddenDim = hiddenDim
        self.mlpDim = mlpDim
    }

    package var headDim: Int { hiddenDim / numHeads }
    /// Class token plus register tokens, prepended in the order [REG…, CLS, PATCH…].
    package var numSpecialTokens: Int { (classToken ? 1 : 0) + numRegTokens }
    /// Index of the pre-block LayerNorm inside `encoder.pre_block`.
    package var preBlockNormIndex: Int { dropout > 0 ? 1 : 0 }

    /// Checks the numbers Birder asserts on (and what this implementation needs).
    package func validate() throws {
        func fail(_ reason: String) -> WeightBindingError { .invalidConfig("\(network): \(reason)") }
        guard patchSize > 0, numLayers >= 0, numHeads > 0, hiddenDim > 0, mlpDim > 0 else {
            throw fail("patch_size, num_heads, hidden_dim and mlp_dim must be positive, num_layers ≥ 0")
        }
        // A checkpoint's config is untrusted: bound every number (far above Birder's largest ViT,
        // vit_e14: 56 layers, width 1792, MLP 15360) so tensor sizes derived from them fit in an Int
        // and a hostile value is this error, never an overflow trap later.
        guard patchSize <= Self.maximumPatchSize, numLayers <= Self.maximumLayers, hiddenDim <= Self.maximumWidth,
              mlpDim <= Self.maximumWidth, numHeads <= hiddenDim, numRegTokens <= Self.maximumRegisterTokens else {
            throw fail("patch_size ≤ \(Self.maximumPatchSize), num_layers ≤ \(Self.maximumLayers), hidden_dim and mlp_dim ≤ \(Self.maximumWidth), num_heads ≤ hidden_dim, num_reg_tokens ≤ \(Self.maximumRegisterTokens) "
                + "(got \(patchSize), \(numLayers), \(hiddenDim), \(mlpDim), \(numHeads), \(numRegTokens))")
        }
        guard hiddenDim % numHeads == 0 else { throw fail("hidden_dim \(hiddenDim) is not divisible by num_heads \(numHeads)") }
        guard numRegTokens >= 0 else { throw fail("num_reg_tokens must be ≥ 0") }
        guard normEpsilon > 0, normEpsilon.isFinite else { throw fail("norm_layer_eps must be positive") }
    }

    package static let maximumPatchSize = 1024
    package static let maximumLayers = 1024
    package static let maximumWidth = 1 << 18
    package static let maximumRegisterTokens = 1024
}

// MARK: - Registered networks

extension ViTConfig {
    /// Birder's width presets in `_vit_configs.py` (TINY … ENORMOUS): layers, heads, width, MLP width.
    enum Preset {
        case tiny, small, medium, base, large, huge, so150, so400, giant, oneB, gigantic, enormous

        var shape: (layers: Int, heads: Int, width: Int, mlp: Int) {
            switch self {
            case .tiny: return (12, 3, 192, 768)
            case .small: return (12, 6, 384, 1536)
            case .medium: return (12, 8, 512, 2048)
            case .base: return (12, 12, 768, 3072)
            case .large: return (24, 16, 1024, 4096)
            case .huge: return (32, 16, 1280, 5120)
            case .so150: return (18, 16, 896, 2320)
            case .so400: return (27, 16, 1152, 4304)
            case .giant: return (40, 16, 1408, 6144)
            case .oneB: return (40, 24, 1536, 6144)
            case .gigantic: return (48, 16, 1664, 8192)
            case .enormous: return (56, 16, 1792, 15360)
            }
        }
    }

    /// Every config Birder 0.8.4 registers on its ViT class that is a plain ViT (patchify stem,
    /// LayerNorm, GELU MLP, class token or average pooling): name, preset, patch size, the other
    /// keys as registered. Those with hMLP stems, RMSNorm, SwiGLU, attention pooling, qk-norm or
    /// MoE are absent. Tests/BirderModelsTests/ViTConfigTests.swift checks this list against a dump
    /// of Birder's registry (Tests/Fixtures/vit/registry.json).
    static let registeredTable: [(name: String, preset: Preset, patch: Int, extra: [String: ConfigValue])] = [
        ("vit_t32", .tiny, 32, [:]),
        ("vit_t16", .tiny, 16, [:]),
        ("vit_t14", .tiny, 14, [:]),
        ("vit_s32", .small, 32, [:]),
        ("vit_s16", .small, 16, [:]),
        ("vit_s16_avg", .small, 16, ["class_token": .bool(false)]),
        ("vit_s16_ls", .small, 16, ["layer_scale_init_value": .double(1e-05)]),
        ("vit_s16_pn", .small, 16, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05)]),
        ("vit_s14", .small, 14, [:]),
        ("vit_m32", .medium, 32, [:]),
        ("vit_m16", .medium, 16, [:]),
        ("vit_m16_avg", .medium, 16, ["class_token": .bool(false)]),
        ("vit_m14", .medium, 14, [:]),
        ("vit_b32", .base, 32, [:]),
        ("vit_b32_pn", .base, 32, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05)]),
        ("vit_b32_pn_npn", .base, 32, ["pre_norm": .bool(true), "post_norm": .bool(false), "norm_layer_eps": .double(1e-05)]),
        ("vit_b16", .base, 16, [:]),
        ("vit_b16_avg", .base, 16, ["class_token": .bool(false)]),
        ("vit_b16_ls", .base, 16, ["layer_scale_init_value": .double(1e-05)]),
        ("vit_b16_pn", .base, 16, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05)]),
        ("vit_b16_pn_quick_gelu", .base, 16, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05), "act_layer_type": .string("quick_gelu")]),
        ("vit_b14", .base, 14, [:]),
        ("vit_so150m_p16_avg", .so150, 16, ["class_token": .bool(false)]),
        ("vit_so150m_p14_avg", .so150, 14, ["class_token": .bool(false)]),
        ("vit_l32", .large, 32, [:]),
        ("vit_l16", .large, 16, [:]),
        ("vit_l16_avg", .large, 16, ["class_token": .bool(false)]),
        ("vit_l14", .large, 14, [:]),
        ("vit_l14_pn", .large, 14, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05)]),
        ("vit_l14_pn_npn", .large, 14, ["pre_norm": .bool(true), "post_norm": .bool(false), "norm_layer_eps": .double(1e-05)]),
        ("vit_l14_pn_quick_gelu", .large, 14, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05), "act_layer_type": .string("quick_gelu")]),
        ("vit_so400m_p16_avg", .so400, 16, ["class_token": .bool(false)]),
        ("vit_h16", .huge, 16, [:]),
        ("vit_h14", .huge, 14, [:]),
        ("vit_h14_pn", .huge, 14, ["pre_norm": .bool(true), "norm_layer_eps": .double(1e-05)]),
        ("vit_g16", .giant, 16, [:]),
        ("vit_g14", .giant, 14, [:]),
        ("vit_1b_p16", .oneB, 16, [:]),
        ("vit_gigantic14", .gigantic, 14, [:]),
        ("vit_e14", .enormous, 14, [:]),
        ("vit_reg1_t32", .tiny, 32, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_t16", .tiny, 16, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_t14", .tiny, 14, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_s32", .small, 32, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_s16", .small, 16, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_s16_ls", .small, 16, ["layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(1)]),
        ("vit_reg1_s16_nap_avg", .small, 16, ["num_reg_tokens": .int(1), "norm_after_pool": .bool(true), "class_token": .bool(false)]),
        ("vit_reg1_s14", .small, 14, ["num_reg_tokens": .int(1)]),
        ("vit_reg1_s14_ls", .small, 14, ["layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(1)]),
        ("vit_reg4_s14_nps_ls", .small, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("vit_reg4_m32", .medium, 32, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_m16", .medium, 16, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_m14", .medium, 14, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_b32", .base, 32, ["num_reg_tokens": .int(4)]),
        ("vit_reg1_b16_nap_avg", .base, 16, ["num_reg_tokens": .int(1), "norm_after_pool": .bool(true), "class_token": .bool(false)]),
        ("vit_reg4_b16", .base, 16, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_b16_avg", .base, 16, ["num_reg_tokens": .int(4), "class_token": .bool(false)]),
        ("vit_reg1_b14", .base, 14, ["num_reg_tokens": .int(1)]),
        ("vit_reg4_b14", .base, 14, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_b14_nps_ls", .base, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("vit_reg4_so150m_p16_avg", .so150, 16, ["num_reg_tokens": .int(4), "class_token": .bool(false)]),
        ("vit_reg4_so150m_p14_avg", .so150, 14, ["num_reg_tokens": .int(4), "class_token": .bool(false)]),
        ("vit_reg4_so150m_p14_ls", .so150, 14, ["layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("vit_reg8_so150m_p14_avg", .so150, 14, ["num_reg_tokens": .int(8), "class_token": .bool(false)]),
        ("vit_reg4_l32", .large, 32, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_l16", .large, 16, ["num_reg_tokens": .int(4)]),
        ("vit_reg8_l16_avg", .large, 16, ["num_reg_tokens": .int(8), "class_token": .bool(false)]),
        ("vit_reg1_l14_nap_avg", .large, 14, ["num_reg_tokens": .int(1), "norm_after_pool": .bool(true), "class_token": .bool(false)]),
        ("vit_reg4_l14", .large, 14, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_l14_nps_ls", .large, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("vit_reg4_h16", .huge, 16, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_h14", .huge, 14, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_g16", .giant, 16, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_g14", .giant, 14, ["num_reg_tokens": .int(4)]),
        ("vit_reg4_gigantic14", .gigantic, 14, ["num_reg_tokens": .int(4)]),
        ("deit3_t16", .tiny, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_t14", .tiny, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_s16", .small, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_s14", .small, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_m16", .medium, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_m14", .medium, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_b16", .base, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_b14", .base, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_l16", .large, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_l14", .large, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_h16", .huge, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_h14", .huge, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05)]),
        ("deit3_reg4_t16", .tiny, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_t14", .tiny, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_s16", .small, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_s14", .small, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_m16", .medium, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_m14", .medium, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_b16", .base, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_b14", .base, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_l16", .large, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_l14", .large, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_h16", .huge, 16, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
        ("deit3_reg4_h14", .huge, 14, ["pos_embed_special_tokens": .bool(false), "layer_scale_init_value": .double(1e-05), "num_reg_tokens": .int(4)]),
    ]

    /// Names of the registered networks `registered(_:)` knows, in Birder's registration order.
    package static var registeredNetworks: [String] { registeredTable.map(\.name) }

    /// The config Birder registers under `network`, or nil when it is not a plain ViT covered here.
    package static func registered(_ network: String) -> ViTConfig? {
        guard let entry = registeredTable.first(where: { $0.name == network }) else { return nil }
        let shape = entry.preset.shape
        let base = ViTConfig(network: network, patchSize: entry.patch, numLayers: shape.layers,
                             numHeads: shape.heads, hiddenDim: shape.width, mlpDim: shape.mlp)
        return try? base.overridden(by: entry.extra)
    }

    package static let vitT16 = registered("vit_t16")!
    package static let vitS16 = registered("vit_s16")!
    package static let vitB16 = registered("vit_b16")!
    /// BioCLIP's image encoder: ViT-B/16, pre-norm, no patch bias, LayerNorm eps 1e-5.
    package static let vitB16PN = registered("vit_b16_pn")!
    package static let vitL16 = registered("vit_l16")!
    package static let vitL14PN = registered("vit_l14_pn")!
    package static let vitH14PN = registered("vit_h14_pn")!
}

// MARK: - Checkpoint config overrides

extension ViTConfig {
    /// Keys Birder's ViT reads only for training (dropout, stochastic depth): accepted, ignored.
    static let trainingOnlyKeys: Set<String> = [
        "drop_path_rate", "drop_path_uniform", "attention_dropout", "projection_dropout",
    ]
    /// Keys whose non-default values select layers this implementation does not have; the value
    /// given is what Birder's default means (so a config that spells the default out is accepted).
    static let unsupportedUnlessDefault: [String: ConfigValue] = [
        "stem_type": .string("patchify"), "stem_norm_layer_type": .null, "norm_layer_type": .string("LayerNorm"),
        "mlp_layer_type": .string("FFN"), "attn_pool_head": .bool(false), "qk_norm": .bool(false),
        "attn_norm": .bool(false), "soft_moe_num_experts": .null, "out_indices": .null, "mlp_head": .bool(false),
    ]
    /// Keys that only matter for layers refused above (attention pooling, MoE).
    static let inertKeys: Set<String> = [
        "attn_pool_type", "attn_pool_num_heads", "attn_pool_special_tokens", "attn_pool_norm_eps",
        "attn_pool_act_layer_type", "soft_moe_num_slots",
    ]

    /// This config with a checkpoint's `config` dictionary applied on top, as Birder's
    /// `self.config.update(config)` does. Keys Birder's ViT never reads are ignored as Birder
    /// ignores them; a key that would build layers missing here, or a value of the wrong type, is
    /// an error (never a silently different network).
    package func overridden(by overrides: [String: ConfigValue]) throws -> ViTConfig {
        var config = self
        func fail(_ key: String, _ value: ConfigValue, _ expected: String) -> WeightBindingError {
            .invalidConfig("\(network): config '\(key)' = \(value): expected \(expected)")
        }
        for key in overrides.keys.sorted() {
            let value = overrides[key]!
            func int() throws -> Int {
                guard let v = value.intValue else { throw fail(key, value, "an integer") }
                return v
            }
            func bool() throws -> Bool {
                guard let v = value.boolValue else { throw fail(key, value, "True or False") }
                return v
            }
            func double() throws -> Double {
                guard let v = value.doubleValue else { throw fail(key, value, "a number") }
                return v
            }
            switch key {
            case "patch_size": config.patchSize = try int()
            case "num_layers": config.numLayers = try int()
            case "num_heads": config.numHeads = try int()
            case "hidden_dim": config.hiddenDim = try int()
            case "mlp_dim": config.mlpDim = try int()
            case "pre_norm": config.preNorm = try bool()
            case "post_norm": config.postNorm = try bool()
            case "norm_after_pool": config.normAfterPool = try bool()
            case "norm_layer_eps": config.normEpsilon = try double()
            case "class_token": config.classToken = try bool()
            case "num_reg_tokens": config.numRegTokens = try int()
            case "layer_scale_init_value":
                if value == .null { config.layerScale = false } else { _ = try double(); config.layerScale = true }
            case "qkv_bias": config.qkvBias = try bool()
            case "act_layer_type":
                if value == .null {
                    config.activation = .exact
                } else {
                    guard let name = value.stringValue, let kind = GELUKind(rawValue: name) else {
                        throw fail(key, value, "'gelu' or 'quick_gelu' (other activations are not implemented)")
                    }
                    config.activation = kind
                }
            case "abs_pos_embed": config.absPosEmbed = try bool()
            case "pos_embed_special_tokens": config.posEmbedSpecialTokens = try bool()
            case "pos_embed_interpolation_mode":
                guard let name = value.stringValue, let mode = InterpolationMode(rawValue: name) else {
                    throw fail(key, value, "'bicubic' or 'bilinear'")
                }
                config.posEmbedInterpolation = mode
            case "pos_embed_antialias": config.posEmbedAntialias = try bool()
            case "head_bias": config.headBias = try bool()
            case "dropout": config.dropout = try double()
            default:
                if let allowed = ViTConfig.unsupportedUnlessDefault[key] {
                    guard value == allowed else { throw fail(key, value, "\(allowed) (other values are not implemented)") }
                } else if ViTConfig.trainingOnlyKeys.contains(key) || ViTConfig.inertKeys.contains(key) {
                    continue
                }
                // Any other key: Birder's ViT never reads it either.
            }
        }
        try config.validate()
        return config
    }

    /// The registered config of `network` with a checkpoint's overrides applied.
    package static func forNetwork(_ network: String, overrides: [String: ConfigValue] = [:]) throws -> ViTConfig {
        guard let base = registered(network) else {
            throw WeightBindingError.invalidConfig("'\(network)' is not a ViT network this build implements "
                + "(known: \(registeredNetworks.joined(separator: ", ")))")
        }
        return try base.overridden(by: overrides)
    }
}
