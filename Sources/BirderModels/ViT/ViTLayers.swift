import BirderCore

// The layers of Birder's ViT (birder/net/vit.py), one struct each, bound by checkpoint name.
// Shapes: see the legend at the top of ViT.swift. Linear layers are packed at load time for the
// engine's GEMM (bias and, for the exact GELU, the activation fused into its epilogue); the rows of
// each product are split over the context's workers.

extension Tensor {
    /// The first element; valid while the tensor lives (model tensors live as long as the model).
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.baseAddress) }
}

/// `conv_proj`: a P×P stride-P convolution, i.e. one GEMM over the non-overlapping patches.
struct PatchEmbedding: Sendable {
    let projection: PackedLinear  // D×K, columns in (ky, kx, c) order to match extractPatchesNHWC; bias fused
    let bias: Tensor?             // D; Birder drops it when the network is pre-norm
    let patchSize: Int

    init(_ binder: ParameterBinder, config: ViTConfig, kernels: KernelTable) throws {
        let d = config.hiddenDim, p = config.patchSize
        let weight = convWeightToPatchOrder(try binder.tensor("weight", shape: [d, 3, p, p]))
        bias = config.preNorm ? nil : try binder.tensor("bias", shape: [d])
        // The bias is added with the position embedding (see ViT.encode), not in the GEMM.
        projection = PackedLinear(weight: weight, bias: nil, kernels: kernels)
        patchSize = p
    }

    /// images N×H×W×3 → each image's L patch tokens, written to rows S..<T of its T×D block.
    func callAsFunction(_ images: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                        patches: UnsafeMutablePointer<Float>,  // (N·L)×K scratch
                        tokens: UnsafeMutablePointer<Float>, tokensPerImage: Int, firstPatchToken: Int,
                        context: ComputeContext) {
        let d = projection.outputs, k = projection.inputs
        let l = (height / patchSize) * (width / patchSize)
        extractPatchesNHWC(images, batch: batch, height: height, width: width, channels: 3, patch: patchSize,
                           output: patches, context: context)
        for n in 0..<batch {
            // L×D = (L×K)·(D×K)ᵀ, into the image's patch rows
            context.linearRows(patches + n * l * k, rows: l, lda: k, projection,
                               c: tokens + (n * tokensPerImage + firstPatchToken) * d, ldc: d)
        }
    }
}

/// `nn.LayerNorm(D, eps)` over each token.
struct LayerNorm: Sendable {
    let weight: Tensor  // D
    let bias: Tensor    // D
    let epsilon: Float

    init(_ binder: ParameterBinder, width: Int, epsilon: Double) throws {
        weight = try binder.tensor("weight", shape: [width])
        bias = try binder.tensor("bias", shape: [width])
        self.epsilon = Float(epsilon)
    }

    /// The argument `residualAddLayerNormRows` takes to normalise into `output`.
    func into(_ output: UnsafeMutablePointer<Float>)
        -> (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float, output: UnsafeMutablePointer<Float>) {
        (weight.pointer, bias.pointer, epsilon, output)
    }

    /// rows×D → rows×D; `output` may be `input`.
    func callAsFunction(_ input: UnsafeMutablePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>,
                        context: ComputeContext) {
        context.residualAddLayerNormRows(input, rows: rows, columns: weight.count, bias: nil, norm: into(output))
    }
}

/// `attn`: multi-head self-attention, q/k/v from one Linear(D, 3D) whose rows are [q; k; v].
struct Attention: Sendable {
    let qkv: PackedLinear         // 3D×D (+ qkv bias)
    let projection: PackedLinear  // D×D + proj bias
    let heads: Int

    init(_ binder: ParameterBinder, config: ViTConfig, kernels: KernelTable) throws {
        let d = config.hiddenDim
        qkv = PackedLinear(weight: try binder.tensor("qkv.weight", shape: [3 * d, d]),
                           bias: config.qkvBias ? try binder.tensor("qkv.bias", shape: [3 * d]) : nil, kernels: kernels)
        projection = PackedLinear(weight: try binder.tensor("proj.weight", shape: [d, d]),
                                  bias: try binder.tensor("proj.bias", shape: [d]), kernels: kernels)
        heads = config.numHeads
    }

    /// normed (N·T)×D → attended (N·T)×D, the heads concatenated, before `proj`.
    func attend(_ normed: UnsafePointer<Float>, images: Int, tokens: Int,
                qkv scratch: UnsafeMutablePointer<Float>,  // (N·T)×3D
                attended: UnsafeMutablePointer<Float>, context: ComputeContext) {
        let d = projection.outputs, rows = images * tokens
        // (N·T)×3D = normed·Wqkvᵀ + b
        context.linearRows(normed, rows: rows, lda: d, qkv, c: scratch, ldc: 3 * d)
        let headDim = d / heads
        // per (image, head): softmax(q·kᵀ/√d)·v, T×d into the head's columns of attended
        multiHeadSelfAttention(qkv: scratch, batch: images, tokens: tokens, heads: heads, headDim: headDim,
                               scale: Float(1 / Double(headDim).squareRoot()), output: attended, context: context)
    }

    /// attended·Wprojᵀ + b, added onto `residual` or written to `output`.
    func project(_ attended: UnsafePointer<Float>, rows: Int, accumulateInto residual: UnsafeMutablePointer<Float>?,
                 output: UnsafeMutablePointer<Float>, context: ComputeContext) {
        let d = projection.outputs
        context.linearRows(attended, rows: rows, lda: d, projection, accumulate: residual != nil,
                           c: residual ?? output, ldc: d)
    }
}

/// `mlp`: Linear(D, M) → GELU → Linear(M, D) (`mlp.0`, `mlp.3`; dropouts in between are inert).
struct MLP: Sendable {
    let fc1: PackedLinear  // M×D + b1
    let fc2: PackedLinear  // D×M + b2
    let activation: GELUKind

    init(_ binder: ParameterBinder, config: ViTConfig, kernels: KernelTable) throws {
        let d = config.hiddenDim, m = config.mlpDim
        fc1 = PackedLinear(weight: try binder.tensor("0.weight", shape: [m, d]), bias: try binder.tensor("0.bias", shape: [m]),
                           kernels: kernels)
        fc2 = PackedLinear(weight: try binder.tensor("3.weight", shape: [d, m]), bias: try binder.tensor("3.bias", shape: [d]),
                           kernels: kernels)
        activation = config.activation
    }

    /// normed (N·T)×D → hidden (N·T)×M = GELU(normed·W1ᵀ + b1) → hidden·W2ᵀ + b2, added onto
    /// `residual` or written to `output`.
    func callAsFunction(_ normed: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>,
                        accumulateInto residual: UnsafeMutablePointer<Float>?, output: UnsafeMutablePointer<Float>,
                        context: ComputeContext) {
        let d = fc2.outputs, m = fc1.outputs
        // (N·T)×M = GELU(normed·W1ᵀ + b1): the exact GELU in the GEMM's epilogue, QuickGELU after it
        context.linearRows(normed, rows: rows, lda: d, fc1, activation: activation == .exact ? .gelu : .none,
                           c: hidden, ldc: m)
        if activation == .quick {
            context.addBiasGELURows(hidden, rows: rows, columns: m, bias: nil, kind: .quick)
        }
        // (N·T)×D = hidden·W2ᵀ + b2
        context.linearRows(hidden, rows: rows, lda: m, fc2, accumulate: residual != nil, c: residual ?? output, ldc: d)
    }
}

/// `encoder.block.i`: x + ls1·attn(norm1(x)), then x + ls2·mlp(norm2(x)).
struct EncoderBlock: Sendable {
    let norm1: LayerNorm
    let attention: Attention
    let layerScale1: Tensor?  // D
    let norm2: LayerNorm
    let mlp: MLP
    let layerScale2: Tensor?  // D

    init(_ binder: ParameterBinder, config: ViTConfig, kernels: KernelTable) throws {
        let d = config.hiddenDim
        norm1 = try LayerNorm(binder.scope("norm1"), width: d, epsilon: config.normEpsilon)
        attention = try Attention(binder.scope("attn"), config: config, kernels: kernels)
        layerScale1 = config.layerScale ? try binder.tensor("layer_scale_1.gamma", shape: [d]) : nil
        norm2 = try LayerNorm(binder.scope("norm2"), width: d, epsilon: config.normEpsilon)
        mlp = try MLP(binder.scope("mlp"), config: config, kernels: kernels)
        layerScale2 = config.layerScale ? try binder.tensor("layer_scale_2.gamma", shape: [d]) : nil
    }

    /// x (N·T)×D updated in place. On entry `normed` holds norm1(x); on exit it holds
    /// `next`(x) (the next block's norm1) when `next` is given.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, images: Int, tokens: Int, next: LayerNorm?,
                        scratch: ViTScratch, context: ComputeContext) {
        let rows = images * tokens, d = norm2.weight.count
        let normed = scratch.normed, branch = scratch.qkv  // qkv is free once attention has read it

        // x = x + ls1 · (attn(norm1(x))·Wprojᵀ + b);  normed = norm2(x)
        attention.attend(normed, images: images, tokens: tokens, qkv: scratch.qkv, attended: scratch.attended,
                         context: context)
        attention.project(scratch.attended, rows: rows, accumulateInto: layerScale1 == nil ? x : nil, output: branch,
                          context: context)
        context.residualAddLayerNormRows(x, rows: rows, columns: d,
                                         branch: layerScale1 == nil ? nil : UnsafePointer(branch),
                                         bias: nil, gamma: layerScale1?.pointer, norm: norm2.into(normed))

        // x = x + ls2 · (mlp(norm2(x)) + b);  normed = next(x)
        mlp(normed, rows: rows, hidden: scratch.hidden, accumulateInto: layerScale2 == nil ? x : nil, output: branch,
            context: context)
        // The last block without layer scale has nothing left to do here: fc2 added onto x.
        if layerScale2 != nil || next != nil {
            context.residualAddLayerNormRows(x, rows: rows, columns: d,
                                             branch: layerScale2 == nil ? nil : UnsafePointer(branch),
                                             bias: nil, gamma: layerScale2?.pointer, norm: next?.into(normed))
        }
    }
}

/// Scratch memory of one forward pass over at most `images` images (allocated per call: the
/// model itself is immutable and shared between threads).
final class ViTScratch {
    let x: UnsafeMutablePointer<Float>         // (N·T)×D, the residual stream
    let normed: UnsafeMutablePointer<Float>    // (N·T)×D, LayerNorm outputs (GEMM inputs)
    let qkv: UnsafeMutablePointer<Float>       // (N·T)×3D, also a branch output buffer
    let attended: UnsafeMutablePointer<Float>  // (N·T)×D
    let hidden: UnsafeMutablePointer<Float>    // (N·T)×M, also the (N·L)×K patches

    init(images: Int, tokens: Int, width: Int, mlpWidth: Int, patchLength: Int) {
        let rows = images * tokens
        x = .allocate(capacity: rows * width)
        normed = .allocate(capacity: rows * width)
        qkv = .allocate(capacity: rows * 3 * width)
        attended = .allocate(capacity: rows * width)
        hidden = .allocate(capacity: max(rows * mlpWidth, rows * patchLength))
    }

    deinit {
        x.deallocate(); normed.deallocate(); qkv.deallocate(); attended.deallocate(); hidden.deallocate()
    }
}
