import BirderCore

// The layers of Birder's ViT (birder/net/vit.py), one struct each, bound by checkpoint name.
// Shapes: see the legend at the top of ViT.swift. Linear weights stay in PyTorch's out×in
// layout; GEMMs read them transposed.

/// How a ViT forward pass uses the cores.
public enum ViTThreading: Sendable {
    /// Every thread is the engine's: each linear layer split over the threads (token rows or
    /// output columns) with BLAS single-threaded, attention parallel over (image, head) pairs.
    /// Nothing spins between GEMMs.
    case engine
    /// BLAS threads each GEMM itself; attention pairs run one after another.
    case blas

    var gemmThreads: Int { self == .engine ? ComputeThreads.count : 1 }
}

extension Tensor {
    /// The first element; valid while the tensor lives (model tensors live as long as the model).
    var pointer: UnsafePointer<Float> { UnsafePointer(storage.baseAddress) }
}

/// `conv_proj`: a P×P stride-P convolution, i.e. one GEMM over the non-overlapping patches.
struct PatchEmbedding: Sendable {
    let weight: Tensor  // D×K, columns in (ky, kx, c) order to match extractPatchesNHWC
    let bias: Tensor?   // D; Birder drops it when the network is pre-norm
    let patchSize: Int

    init(_ binder: ParameterBinder, config: ViTConfig) throws {
        let d = config.hiddenDim, p = config.patchSize
        weight = convWeightToPatchOrder(try binder.tensor("weight", shape: [d, 3, p, p]))
        bias = config.preNorm ? nil : try binder.tensor("bias", shape: [d])
        patchSize = p
    }

    /// images N×H×W×3 → each image's L patch tokens, written to rows S..<T of its T×D block.
    func callAsFunction(_ images: UnsafePointer<Float>, batch: Int, height: Int, width: Int,
                        patches: UnsafeMutablePointer<Float>,  // (N·L)×K scratch
                        tokens: UnsafeMutablePointer<Float>, tokensPerImage: Int, firstPatchToken: Int,
                        threads: Int) {
        let d = weight.shape[0], k = weight.shape[1]
        let l = (height / patchSize) * (width / patchSize)
        extractPatchesNHWC(images, batch: batch, height: height, width: width, channels: 3, patch: patchSize,
                           output: patches)
        for n in 0..<batch {
            // L×D = (L×K)·(D×K)ᵀ, into the image's patch rows
            linearRows(patches + n * l * k, rows: l, inputs: k, weight: weight.pointer, outputs: d, bias: nil,
                       output: tokens + (n * tokensPerImage + firstPatchToken) * d, threads: threads)
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
    func callAsFunction(_ input: UnsafeMutablePointer<Float>, rows: Int, output: UnsafeMutablePointer<Float>) {
        residualAddLayerNormRows(input, rows: rows, columns: weight.count, bias: nil, norm: into(output))
    }
}

/// `attn`: multi-head self-attention, q/k/v from one Linear(D, 3D) whose rows are [q; k; v].
struct Attention: Sendable {
    let qkvWeight: Tensor   // 3D×D
    let qkvBias: Tensor?    // 3D
    let projWeight: Tensor  // D×D
    let projBias: Tensor    // D
    let heads: Int

    init(_ binder: ParameterBinder, config: ViTConfig) throws {
        let d = config.hiddenDim
        qkvWeight = try binder.tensor("qkv.weight", shape: [3 * d, d])
        qkvBias = config.qkvBias ? try binder.tensor("qkv.bias", shape: [3 * d]) : nil
        projWeight = try binder.tensor("proj.weight", shape: [d, d])
        projBias = try binder.tensor("proj.bias", shape: [d])
        heads = config.numHeads
    }

    /// normed (N·T)×D → attended (N·T)×D, the heads concatenated, before `proj`.
    func attend(_ normed: UnsafePointer<Float>, images: Int, tokens: Int,
                qkv: UnsafeMutablePointer<Float>,  // (N·T)×3D scratch
                attended: UnsafeMutablePointer<Float>, threading: ViTThreading) {
        let d = projWeight.shape[0], rows = images * tokens
        // (N·T)×3D = normed·Wqkvᵀ + b
        linearRows(normed, rows: rows, inputs: d, weight: qkvWeight.pointer, outputs: 3 * d, bias: qkvBias?.pointer,
                   output: qkv, threads: threading.gemmThreads)
        let headDim = d / heads
        // per (image, head): softmax(q·kᵀ/√d)·v, T×d into the head's columns of attended
        multiHeadSelfAttention(qkv: qkv, batch: images, tokens: tokens, heads: heads, headDim: headDim,
                               scale: Float(1 / Double(headDim).squareRoot()), output: attended,
                               parallelism: threading == .engine ? .pairs : .blas)
    }

    /// attended·Wprojᵀ: accumulated into `residual` or written to `output`; bias left to the caller.
    func project(_ attended: UnsafePointer<Float>, rows: Int, accumulateInto residual: UnsafeMutablePointer<Float>?,
                 output: UnsafeMutablePointer<Float>, threading: ViTThreading) {
        let d = projWeight.shape[0]
        linearRows(attended, rows: rows, inputs: d, weight: projWeight.pointer, outputs: d, bias: nil,
                   accumulate: residual != nil, output: residual ?? output, threads: threading.gemmThreads)
    }
}

/// `mlp`: Linear(D, M) → GELU → Linear(M, D) (`mlp.0`, `mlp.3`; dropouts in between are inert).
struct MLP: Sendable {
    let fc1Weight: Tensor  // M×D
    let fc1Bias: Tensor    // M
    let fc2Weight: Tensor  // D×M
    let fc2Bias: Tensor    // D
    let activation: GELUKind

    init(_ binder: ParameterBinder, config: ViTConfig) throws {
        let d = config.hiddenDim, m = config.mlpDim
        fc1Weight = try binder.tensor("0.weight", shape: [m, d])
        fc1Bias = try binder.tensor("0.bias", shape: [m])
        fc2Weight = try binder.tensor("3.weight", shape: [d, m])
        fc2Bias = try binder.tensor("3.bias", shape: [d])
        activation = config.activation
    }

    /// normed (N·T)×D → hidden (N·T)×M = GELU(normed·W1ᵀ + b1) → hidden·W2ᵀ, accumulated into
    /// `residual` (beta 1) or written to `output`; the second bias is left to the caller.
    func callAsFunction(_ normed: UnsafePointer<Float>, rows: Int, hidden: UnsafeMutablePointer<Float>,
                        accumulateInto residual: UnsafeMutablePointer<Float>?, output: UnsafeMutablePointer<Float>,
                        threading: ViTThreading) {
        let d = fc2Weight.shape[0], m = fc1Weight.shape[0]
        // (N·T)×M = GELU(normed·W1ᵀ + b1)
        linearRows(normed, rows: rows, inputs: d, weight: fc1Weight.pointer, outputs: m, bias: fc1Bias.pointer,
                   output: hidden, threads: threading.gemmThreads)
        addBiasGELURows(hidden, rows: rows, columns: m, bias: nil, kind: activation)
        // (N·T)×D = hidden·W2ᵀ
        linearRows(hidden, rows: rows, inputs: m, weight: fc2Weight.pointer, outputs: d, bias: nil,
                   accumulate: residual != nil, output: residual ?? output, threads: threading.gemmThreads)
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

    init(_ binder: ParameterBinder, config: ViTConfig) throws {
        let d = config.hiddenDim
        norm1 = try LayerNorm(binder.scope("norm1"), width: d, epsilon: config.normEpsilon)
        attention = try Attention(binder.scope("attn"), config: config)
        layerScale1 = config.layerScale ? try binder.tensor("layer_scale_1.gamma", shape: [d]) : nil
        norm2 = try LayerNorm(binder.scope("norm2"), width: d, epsilon: config.normEpsilon)
        mlp = try MLP(binder.scope("mlp"), config: config)
        layerScale2 = config.layerScale ? try binder.tensor("layer_scale_2.gamma", shape: [d]) : nil
    }

    /// x (N·T)×D updated in place. On entry `normed` holds norm1(x); on exit it holds
    /// `next`(x) (the next block's norm1) when `next` is given.
    func callAsFunction(_ x: UnsafeMutablePointer<Float>, images: Int, tokens: Int, next: LayerNorm?,
                        scratch: ViTScratch, threading: ViTThreading) {
        let rows = images * tokens
        let normed = scratch.normed, branch = scratch.qkv  // qkv is free once attention has read it

        // x = x + ls1 · (attn(norm1(x))·Wprojᵀ + b);  normed = norm2(x)
        attention.attend(normed, images: images, tokens: tokens, qkv: scratch.qkv, attended: scratch.attended,
                         threading: threading)
        attention.project(scratch.attended, rows: rows, accumulateInto: layerScale1 == nil ? x : nil, output: branch,
                          threading: threading)
        residualAddLayerNormRows(x, rows: rows, columns: norm2.weight.count,
                                 branch: layerScale1 == nil ? nil : UnsafePointer(branch),
                                 bias: attention.projBias.pointer, gamma: layerScale1?.pointer,
                                 norm: norm2.into(normed))

        // x = x + ls2 · (mlp(norm2(x)) + b);  normed = next(x)
        mlp(normed, rows: rows, hidden: scratch.hidden, accumulateInto: layerScale2 == nil ? x : nil, output: branch,
            threading: threading)
        residualAddLayerNormRows(x, rows: rows, columns: norm2.weight.count,
                                 branch: layerScale2 == nil ? nil : UnsafePointer(branch),
                                 bias: mlp.fc2Bias.pointer, gamma: layerScale2?.pointer,
                                 norm: next?.into(normed))
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
