import BirderCore

// Shape legend (ViT-B/16 at 224×224 in brackets):
//   N  images                      H×W  input size, multiples of P
//   P  patch size [16]             h×w  patch grid H/P × W/P [14×14]
//   L  patch tokens h·w [196]      S    special tokens: R register + class [1]
//   T  tokens per image S+L [197]  D    width [768]
//   A  heads [12]                  d    head width D/A [64]
//   M  MLP width [3072]            K    patch length P·P·3 [768]
// Token matrices are (N·T)×D row-major, image-major, tokens ordered [REG…, CLS, PATCH (row-major)…].

/// Birder's ViT (`birder/net/vit.py`) for the plain configurations of `ViTConfig`, notably
/// `vit_b16_pn`, the BioCLIP image encoder of `vit_b16_pn_bioclip-v1`.
///
///     images N×H×W×3
///       → conv_proj (P×P, stride P)               N·L×D   patch tokens
///       → [REG…, CLS, patches] + pos_embedding    N·T×D
///       → encoder.pre_block (LayerNorm, pre-norm networks only)
///       → encoder.block × depth:  x + attn(norm1(x));  x + mlp(norm2(x))
///       = encoder output  ── detection features: patch tokens → N×D×h×w (`stage1`)
///       → norm → class token (or mean of patch tokens)  = embedding N×D
///       → classifier → softmax                          = probabilities N×C
///
/// Immutable after construction and safe to share
/// between threads: every call allocates its own scratch memory.
package final class ViT: ImageEncoder {
    package let config: ViTConfig
    /// The input size the position embedding is laid out for (after any `adjustedSize`).
    package let size: (height: Int, width: Int)
    /// Whether inputs of other sizes get a per-input resized position embedding (Birder's
    /// `set_dynamic_size()`); when false they are refused.
    package let dynamicSize: Bool
    package let classifier: LinearClassifier?
    /// The kernel layout the linear layers were packed for.
    package let packedFor: KernelTable

    let patchEmbedding: PatchEmbedding
    let classToken: Tensor?          // D
    let registerTokens: Tensor?      // R×D
    let positionEmbedding: PositionEmbedding?
    let preBlockNorm: LayerNorm?
    let blocks: [EncoderBlock]
    let norm: LayerNorm?             // every token, before pooling
    let embeddingNorm: LayerNorm?    // the pooled vector (norm_after_pool)

    /// Images per forward pass: bounds the scratch memory (≈ 45 MB for ViT-B/16 at 224) while
    /// keeping GEMMs large (16·197 = 3152 rows).
    static let imagesPerPass = 16

    package var network: String { config.network }
    package var embeddingSize: Int { config.hiddenDim }
    package var inputMultiple: Int { config.patchSize }
    package let stageNames = ["stage1"]

    /// Builds the network and binds every tensor by its Birder name, then calls `binder.finish()`
    /// (so a checkpoint with tensors the network does not use is refused).
    ///
    /// - numClasses: rows of `classifier.weight`; nil reads them from the binder's source (0 when
    ///   it has no classifier; a seeded binder then builds none). 0 means no classifier.
    /// - size: the input size the checkpoint was made for (its signature; Birder's default 224×224),
    ///   which fixes the layout of `pos_embedding`.
    /// - adjustedSize: build for another input size, as Birder's `load_model(new_size=...)` →
    ///   `adjust_size` does: the position grid is resized once, bicubic **antialiased**.
    /// - dynamicSize: accept inputs of other sizes, resizing the position embedding per input as
    ///   Birder's `set_dynamic_size()` does (no antialias unless the config says so).
    package init(config: ViTConfig, binder: ParameterBinder, numClasses: Int? = nil, classNames: [String] = [],
                size: (height: Int, width: Int) = (224, 224), adjustedSize: (height: Int, width: Int)? = nil,
                dynamicSize: Bool = true, kernels: KernelTable) throws {
        try config.validate()
        let d = config.hiddenDim, p = config.patchSize
        for (h, w) in [size] + (adjustedSize.map { [$0] } ?? []) {
            guard h > 0, w > 0, h % p == 0, w % p == 0 else {
                throw WeightBindingError.invalidConfig("\(config.network): size \(h)×\(w) is not a positive multiple of the patch size \(p)")
            }
        }
        self.config = config
        self.dynamicSize = dynamicSize
        packedFor = kernels

        patchEmbedding = try PatchEmbedding(binder.scope("conv_proj"), config: config, kernels: kernels)
        classToken = config.classToken ? try binder.tensor("class_token", shape: [1, 1, d]).reshaped([d]) : nil
        registerTokens = config.numRegTokens > 0
            ? try binder.tensor("reg_tokens", shape: [1, config.numRegTokens, d]).reshaped([config.numRegTokens, d]) : nil

        if config.absPosEmbed {
            let prefix = config.posEmbedSpecialTokens ? config.numSpecialTokens : 0
            let (gh, gw) = (size.height / p, size.width / p)
            let stored = try binder.tensor("pos_embedding", shape: [1, prefix + gh * gw, d])
            var embedding = try PositionEmbedding(parameter: stored, prefixCount: prefix, gridHeight: gh, gridWidth: gw)
            if let adjustedSize {
                // adjust_position_embedding(..., interpolation_mode, antialias=True): the default.
                embedding = embedding.resized(height: adjustedSize.height / p, width: adjustedSize.width / p,
                                              mode: config.posEmbedInterpolation, antialias: true)
            }
            positionEmbedding = embedding
        } else {
            positionEmbedding = nil
        }
        self.size = adjustedSize ?? size

        let encoder = binder.scope("encoder")
        preBlockNorm = config.preNorm
            ? try LayerNorm(encoder.scope("pre_block").scope(config.preBlockNormIndex), width: d, epsilon: config.normEpsilon)
            : nil
        blocks = try (0..<config.numLayers).map {
            try EncoderBlock(encoder.scope("block").scope($0), config: config, kernels: kernels)
        }
        norm = config.postNorm && !config.normAfterPool
            ? try LayerNorm(binder.scope("norm"), width: d, epsilon: config.normEpsilon) : nil
        embeddingNorm = config.postNorm && config.normAfterPool
            ? try LayerNorm(binder.scope("embedding_norm"), width: d, epsilon: config.normEpsilon) : nil

        classifier = try LinearClassifier.bind(binder.scope("classifier"), network: config.network, inputs: d,
                                               numClasses: numClasses, hasBias: config.headBias, classNames: classNames)
        try binder.finish()
    }

    /// The same network (weights shared, not copied) for another input size, as Birder's
    /// `adjust_size(new_size)`: the position grid resized once, antialiased, from this one's.
    package func adjustingSize(to newSize: (height: Int, width: Int)) throws -> ViT {
        let p = config.patchSize
        guard newSize.height > 0, newSize.width > 0, newSize.height % p == 0, newSize.width % p == 0 else {
            throw WeightBindingError.invalidConfig("\(network): size \(newSize.height)×\(newSize.width) is not a positive multiple of the patch size \(p)")
        }
        if newSize == size { return self }
        let position = positionEmbedding?.resized(height: newSize.height / p, width: newSize.width / p,
                                                  mode: config.posEmbedInterpolation, antialias: true)
        return ViT(copying: self, size: newSize, positionEmbedding: position, dynamicSize: dynamicSize)
    }

    package func adjustedForInput(height: Int, width: Int) throws -> any ImageEncoder {
        try checkInputSize(height: height, width: width)
        return try adjustingSize(to: (height, width))
    }

    /// The same network (weights shared) with dynamic input sizes switched on or off.
    package func withDynamicSize(_ dynamic: Bool) -> ViT {
        ViT(copying: self, size: size, positionEmbedding: positionEmbedding, dynamicSize: dynamic)
    }

    private init(copying other: ViT, size: (height: Int, width: Int), positionEmbedding: PositionEmbedding?,
                 dynamicSize: Bool) {
        config = other.config
        self.size = size
        self.dynamicSize = dynamicSize
        classifier = other.classifier
        packedFor = other.packedFor
        patchEmbedding = other.patchEmbedding
        classToken = other.classToken
        registerTokens = other.registerTokens
        self.positionEmbedding = positionEmbedding
        preBlockNorm = other.preBlockNorm
        blocks = other.blocks
        norm = other.norm
        embeddingNorm = other.embeddingNorm
    }

    // MARK: - Public outputs

    /// N×D: Birder's `embedding(x)`, the normalised class token (or pooled patch tokens).
    package func embedding(_ batch: Tensor, context: ComputeContext) throws -> Tensor {
        try forward(batch, wantEmbedding: true, wantFeatures: false, context: context).embedding!
    }

    /// `stage1`: the encoder output before the final norm, class/register tokens dropped, N×D×h×w.
    package func detectionFeatures(_ batch: Tensor, context: ComputeContext) throws -> [(name: String, features: Tensor)] {
        [(stageNames[0], try forward(batch, wantEmbedding: false, wantFeatures: true, context: context).features!)]
    }

    /// The stage a name refers to: `stage1`, or `neck`, the name the model card uses for it.
    package static func stageName(for name: String) -> String? {
        name == "stage1" || name == "neck" ? "stage1" : nil
    }

    /// The detection features of one stage by name (`stage1` or its alias `neck`).
    package func detectionFeatures(_ batch: Tensor, stage name: String, context: ComputeContext) throws -> Tensor {
        guard ViT.stageName(for: name) != nil else {
            throw ModelInputError.badShape(network: network, shape: batch.shape,
                                           reason: "no feature stage '\(name)' (stages: stage1, alias neck)")
        }
        return try forward(batch, wantEmbedding: false, wantFeatures: true, context: context).features!
    }

    /// Embedding and detection features from one pass.
    package func embeddingAndFeatures(_ batch: Tensor, context: ComputeContext) throws -> (embedding: Tensor, features: Tensor) {
        let out = try forward(batch, wantEmbedding: true, wantFeatures: true, context: context)
        return (out.embedding!, out.features!)
    }

    /// N×C logits of `head` (default: the checkpoint's classifier), Birder's `forward(x)`.
    package func logits(_ batch: Tensor, head: LinearClassifier? = nil, context: ComputeContext) throws -> Tensor {
        guard let head = head ?? classifier else {
            throw ModelInputError.badShape(network: network, shape: batch.shape, reason: "the network has no classifier; pass a head")
        }
        return try head.logits(embedding(batch, context: context), context: context)
    }

    /// N×C: softmax of `logits`.
    package func probabilities(_ batch: Tensor, head: LinearClassifier? = nil, context: ComputeContext) throws -> Tensor {
        guard let head = head ?? classifier else {
            throw ModelInputError.badShape(network: network, shape: batch.shape, reason: "the network has no classifier; pass a head")
        }
        return try head.probabilities(embedding(batch, context: context), context: context)
    }

    // MARK: - Forward

    /// The position embedding for an h×w patch grid (nil when the network has none).
    func positionEmbedding(gridHeight h: Int, gridWidth w: Int, shape: [Int]) throws -> PositionEmbedding? {
        guard let positionEmbedding else { return nil }
        if h == positionEmbedding.gridHeight && w == positionEmbedding.gridWidth { return positionEmbedding }
        guard dynamicSize else {
            throw ModelInputError.badShape(network: network, shape: shape,
                                           reason: "the network is built for \(size.height)×\(size.width) inputs (dynamic size off)")
        }
        return positionEmbedding.resized(height: h, width: w, mode: config.posEmbedInterpolation,
                                         antialias: config.posEmbedAntialias)
    }

    func forward(_ batch: Tensor, wantEmbedding: Bool, wantFeatures: Bool,
                 context: ComputeContext) throws -> (embedding: Tensor?, features: Tensor?) {
        try validateInput(batch, context: context)
        let n = batch.shape[0], height = batch.shape[1], width = batch.shape[2]
        let p = config.patchSize, d = config.hiddenDim
        let (h, w) = (height / p, width / p)
        let l = h * w, s = config.numSpecialTokens, t = s + l
        let position = try positionEmbedding(gridHeight: h, gridWidth: w, shape: batch.shape)

        var embedding = wantEmbedding ? Tensor(zeros: [n, d]) : nil    // N×D
        var features = wantFeatures ? Tensor(zeros: [n, d, h, w]) : nil // N×D×h×w
        let chunk = min(n, ViT.imagesPerPass)
        let scratch = ViTScratch(images: chunk, tokens: t, width: d, mlpWidth: config.mlpDim, patchLength: p * p * 3)
        let imageSize = height * width * 3

        var first = 0
        while first < n {
            let count = min(chunk, n - first)
            batch.withUnsafeBufferPointer { images in
                encode(images.baseAddress! + first * imageSize, images: count, height: height, width: width,
                       position: position, scratch: scratch, context: context)
            }
            // scratch.x: encoder output, (count·T)×D
            if embedding != nil {
                embedding!.withUnsafeMutableBufferPointer { out in
                    pool(scratch, images: count, tokens: t, output: out.baseAddress! + first * d, context: context)
                }
            }
            if features != nil {
                features!.withUnsafeMutableBufferPointer { out in
                    patchTokensToNCHW(scratch.x, images: count, tokens: t, firstPatch: s, width: d,
                                      output: out.baseAddress! + first * d * l, context: context)
                }
            }
            first += count
        }
        return (embedding, features)
    }

    /// images → scratch.x = encoder output (before the final norm), (N·T)×D.
    func encode(_ images: UnsafePointer<Float>, images n: Int, height: Int, width: Int,
                position: PositionEmbedding?, scratch: ViTScratch, context: ComputeContext) {
        let p = config.patchSize, d = config.hiddenDim
        let l = (height / p) * (width / p), s = config.numSpecialTokens, t = s + l
        let x = scratch.x  // (N·T)×D

        // Patch tokens into rows S..<T of every image, then [REG…, CLS] into rows 0..<S.
        patchEmbedding(images, batch: n, height: height, width: width, patches: scratch.hidden,
                       tokens: x, tokensPerImage: t, firstPatchToken: s, context: context)
        let allPositions = config.posEmbedSpecialTokens ? position?.allRows : nil  // T×D
        for image in 0..<n {
            let tokens = x + image * t * d  // T×D
            if let registerTokens { tokens.update(from: registerTokens.pointer, count: registerTokens.count) }
            if let classToken { (tokens + config.numRegTokens * d).update(from: classToken.pointer, count: d) }
            // + conv bias on patches; + pos_embedding on all T rows (or on patches only)
            if let allPositions {
                context.residualAddLayerNormRows(tokens, rows: t, columns: d, branch: allPositions.pointer, bias: nil, norm: nil)
                if let bias = patchEmbedding.bias {
                    context.addBiasRows(tokens + s * d, rows: l, columns: d, bias: bias.pointer)
                }
            } else {
                context.residualAddLayerNormRows(tokens + s * d, rows: l, columns: d, branch: position?.grid.pointer,
                                         bias: patchEmbedding.bias?.pointer, norm: nil)
            }
        }

        let rows = n * t
        preBlockNorm?(x, rows: rows, output: x, context: context)
        guard let firstBlock = blocks.first else { return }
        // normed = block 0's norm1(x)
        context.residualAddLayerNormRows(x, rows: rows, columns: d, bias: nil, norm: firstBlock.norm1.into(scratch.normed))
        for (index, block) in blocks.enumerated() {
            let next = index + 1 < blocks.count ? blocks[index + 1].norm1 : nil
            block(x, images: n, tokens: t, next: next, scratch: scratch, context: context)
        }
    }

    /// Birder's `embedding_from_features(norm(x))`: the class token (after the register tokens) or
    /// the mean of the patch tokens, normalised by `norm` before or `embedding_norm` after pooling.
    func pool(_ scratch: ViTScratch, images n: Int, tokens t: Int, output: UnsafeMutablePointer<Float>,
              context: ComputeContext) {
        let d = config.hiddenDim, s = config.numSpecialTokens, l = t - s
        for image in 0..<n {
            let tokens = scratch.x + image * t * d  // T×D
            let out = output + image * d            // D
            if config.classToken {
                let cls = tokens + config.numRegTokens * d
                if let norm { norm(cls, rows: 1, output: out, context: context) } else { out.update(from: cls, count: d) }
            } else if let norm {
                // norm every patch token, then average: L×D → D
                let normed = scratch.normed
                norm(tokens + s * d, rows: l, output: normed, context: context)
                meanPoolNHWC(normed, batch: 1, pixels: l, channels: d, output: out)
            } else {
                meanPoolNHWC(tokens + s * d, batch: 1, pixels: l, channels: d, output: out)
            }
            embeddingNorm?(out, rows: 1, output: out, context: context)
        }
    }
}

/// Patch tokens of each image's T×D block (from row `firstPatch`) → N×D×L (NCHW with L = h·w).
func patchTokensToNCHW(_ x: UnsafePointer<Float>, images: Int, tokens: Int, firstPatch: Int, width d: Int,
                       output: UnsafeMutablePointer<Float>, context: ComputeContext) {
    let l = tokens - firstPatch
    let shared = UncheckedSendable((x, output))
    context.parallelFor(images * d, grain: 64) { range in
        let (x, output) = shared.value
        for item in range {
            let image = item / d, channel = item % d
            let source = x + (image * tokens + firstPatch) * d + channel
            let destination = output + (image * d + channel) * l
            for token in 0..<l { destination[token] = source[token * d] }
        }
    }
}
