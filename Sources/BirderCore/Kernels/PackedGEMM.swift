import CBirderKernels

/// What `packedGEMM` applies to each output before storing it.
public enum PackedActivation: Sendable {
    case none
    /// Exact (erf) GELU, as `nn.GELU()`.
    case gelu

    var code: Int32 { self == .gelu ? 1 : 0 }  // BK_ACT_GELU, BK_ACT_NONE
}

/// A linear map y = W·x + b (a 1×1 convolution or a Linear layer) whose weights are packed once,
/// at load time, into the panels of 16 outputs that `packedGEMM`'s register tiles stream. Packing
/// at load time means a forward pass never re-packs weights (a BLAS call packs B on every call),
/// and the bias rides along for the fused epilogue. Immutable and shareable between threads.
public struct PackedLinear: Sendable {
    /// Output features (columns of the product).
    public let outputs: Int
    /// Input features (the K of the product).
    public let inputs: Int
    let storage: TensorStorage

    /// Output panels of 16 columns; `packedGEMM` can compute any sub-range of them.
    public var panelCount: Int { (outputs + 15) / 16 }

    /// Packs `outputs`×`inputs` weights stored with row stride `rowStride` (PyTorch's out×in layout)
    /// and an optional bias of `outputs` values.
    public init(weights: UnsafePointer<Float>, outputs: Int, inputs: Int, rowStride: Int? = nil,
                bias: UnsafePointer<Float>?) {
        precondition(outputs > 0 && inputs >= 0, "PackedLinear: \(outputs)×\(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        storage = TensorStorage(count: bk_packed_size(Int32(outputs), Int32(inputs)))
        bk_pack(weights, Int32(outputs), Int32(inputs), rowStride ?? inputs, bias, storage.baseAddress)
    }

    /// Packs a weight tensor whose first axis is the output (O×I, or O×I×1×1 for a 1×1 conv, or
    /// O×(k·k·C) after `convWeightToPatchOrder`), with an optional bias of O values.
    public init(weight: Tensor, bias: Tensor?) {
        precondition(weight.rank >= 2, "PackedLinear: weight of shape \(weight.shape)")
        let outputs = weight.shape[0]
        let inputs = weight.count / max(outputs, 1)
        precondition(bias == nil || bias!.count == outputs, "PackedLinear: bias \(bias!.shape) for \(outputs) outputs")
        self.init(weights: weight.storage.baseAddress, outputs: outputs, inputs: inputs,
                  bias: bias.map { UnsafePointer($0.storage.baseAddress) })
    }
}

/// c[i·ldc + j] = activation(Σₚ a[i·lda + p]·W[j, p] + b[j]) for i < m and the columns of
/// `panels` (all by default). Single-threaded: callers split rows or panels over their workers.
/// 6×16 register tiles with AVX2+FMA where the CPU has them.
@inlinable
public func packedGEMM(m: Int, a: UnsafePointer<Float>, lda: Int, _ linear: PackedLinear,
                       activation: PackedActivation = .none, c: UnsafeMutablePointer<Float>, ldc: Int,
                       panels: Range<Int>? = nil) {
    let range = panels ?? 0..<linear.panelCount
    guard m > 0, !range.isEmpty else { return }
    packedGEMMUnchecked(m: m, a: a, lda: lda, linear, activation: activation, c: c, ldc: ldc, panels: range)
}

@usableFromInline
func packedGEMMUnchecked(m: Int, a: UnsafePointer<Float>, lda: Int, _ linear: PackedLinear,
                         activation: PackedActivation, c: UnsafeMutablePointer<Float>, ldc: Int,
                         panels: Range<Int>) {
    precondition(lda >= linear.inputs && ldc >= 1, "packedGEMM: lda \(lda) < K \(linear.inputs)")
    bk_gemm(Int32(m), Int32(linear.outputs), Int32(linear.inputs), a, lda, linear.storage.baseAddress,
            activation.code, c, ldc, Int32(panels.lowerBound), Int32(panels.upperBound))
}

/// LayerNorm over `columns` values of each of `rows` rows on the calling thread (the C kernel
/// behind `layerNormRows`' job, for callers that already run on a worker). `output` may alias
/// `input` when the strides match.
public func layerNormRowsSerial(
    _ input: UnsafePointer<Float>, rows: Int, columns: Int, inputStride: Int,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
    output: UnsafeMutablePointer<Float>, outputStride: Int
) {
    bk_layernorm_rows(input, inputStride, Int32(rows), Int32(columns), weight, bias, epsilon, output, outputStride)
}

/// x[r·stride + j] *= scale[j] for r < rows, j < columns, on the calling thread.
public func scaleColumnsSerial(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int,
                               scale: UnsafePointer<Float>) {
    bk_scale_columns(x, stride, Int32(rows), Int32(columns), scale)
}

/// Whether the kernels run their AVX2+FMA build on this CPU.
public var kernelsUseAVX2: Bool { bk_uses_avx2() != 0 }

/// For tests: route the kernels to their portable build (`true`) or back to the CPU check's
/// choice. Both builds compute the same results to rounding, so flipping this while other
/// threads run kernels is harmless.
public func forcePortableKernels(_ portable: Bool) { bk_force_portable(portable ? 1 : 0) }
