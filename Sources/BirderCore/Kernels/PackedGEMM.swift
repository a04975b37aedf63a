import CBirderKernels

/// What `packedGEMM` applies to each output before storing it.
package enum PackedActivation: Sendable {
    case none
    /// Exact (erf) GELU, as `nn.GELU()`.
    case gelu
}

/// A linear map y = W·x + b (a 1×1 convolution, a patch convolution or a Linear layer) whose
/// weights are packed once, at load time, into the panels the kernel set's register tiles stream.
/// Packing at load time means a forward pass never re-packs weights (a BLAS call packs B on every
/// call), and the bias rides along for the fused epilogue. Immutable and shareable between threads.
package struct PackedLinear: Sendable {
    /// Output features (columns of the product).
    package let outputs: Int
    /// Input features (the K of the product).
    package let inputs: Int
    /// The panel width the weights are laid out for (the packing kernel set's).
    package let panelWidth: Int
    let storage: TensorStorage

    /// Output panels; `packedGEMM` can compute any sub-range of them.
    package var panelCount: Int { (outputs + panelWidth - 1) / panelWidth }

    /// Packs `outputs`×`inputs` weights, w[j, p] at weights[j·rowStride + p·columnStride]
    /// (PyTorch's out×in layout: rowStride = inputs, columnStride = 1), and an optional bias.
    package init(weights: UnsafePointer<Float>, outputs: Int, inputs: Int, rowStride: Int? = nil, columnStride: Int = 1,
                 bias: UnsafePointer<Float>?, kernels: KernelTable) {
        precondition(outputs > 0 && inputs >= 0, "PackedLinear: \(outputs)×\(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        panelWidth = kernels.panelWidth
        storage = TensorStorage(count: bk_packed_size(kernels.table, Int32(outputs), Int32(inputs)))
        bk_pack(kernels.table, weights, Int32(outputs), Int32(inputs), rowStride ?? inputs, columnStride, bias,
                storage.baseAddress)
    }

    /// Packs a weight tensor whose first axis is the output (O×I, or O×I×1×1 for a 1×1 conv, or
    /// O×(k·k·C) after `convWeightToPatchOrder`), with an optional bias of O values.
    package init(weight: Tensor, bias: Tensor?, kernels: KernelTable) {
        precondition(weight.rank >= 2, "PackedLinear: weight of shape \(weight.shape)")
        let outputs = weight.shape[0]
        let inputs = weight.count / max(outputs, 1)
        precondition(bias == nil || bias!.count == outputs, "PackedLinear: bias \(bias!.shape) for \(outputs) outputs")
        self.init(weights: weight.storage.baseAddress, outputs: outputs, inputs: inputs,
                  bias: bias.map { UnsafePointer($0.storage.baseAddress) }, kernels: kernels)
    }
}

extension KernelTable {
    /// c[i·ldc + j] = activation(Σₚ a[i·lda + p]·W[j, p] + b[j]) (+ c[i·ldc + j] when
    /// `accumulate`) for i < m and the columns of `panels` (all by default). Single-threaded:
    /// callers split rows or panels over their workers.
    package func packedGEMM(m: Int, a: UnsafePointer<Float>, lda: Int, _ linear: PackedLinear,
                            activation: PackedActivation = .none, accumulate: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, panels: Range<Int>? = nil) {
        let range = panels ?? 0..<linear.panelCount
        guard m > 0, !range.isEmpty else { return }
        precondition(linear.panelWidth == panelWidth, "packedGEMM: weights packed for panels of \(linear.panelWidth), kernels use \(panelWidth)")
        precondition(lda >= linear.inputs && ldc >= 1, "packedGEMM: lda \(lda) < K \(linear.inputs)")
        let flags = (activation == .gelu ? BK_ACT_GELU : BK_ACT_NONE) | (accumulate ? BK_GEMM_ACCUMULATE : 0)
        kernels.gemm(Int32(m), Int32(linear.outputs), Int32(linear.inputs), a, lda, linear.storage.baseAddress,
                     Int32(flags), c, ldc, Int32(range.lowerBound), Int32(range.upperBound))
    }

    /// LayerNorm over `columns` values of each of `rows` rows on the calling thread. `output` may
    /// alias `input` when the strides match.
    package func layerNormRows(
        _ input: UnsafePointer<Float>, rows: Int, columns: Int, inputStride: Int,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
        output: UnsafeMutablePointer<Float>, outputStride: Int
    ) {
        kernels.layernorm_rows(input, inputStride, Int32(rows), Int32(columns), weight, bias, epsilon, output, outputStride)
    }

    /// x[r·stride + j] *= scale[j] for r < rows, j < columns, on the calling thread.
    package func scaleColumns(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int,
                              scale: UnsafePointer<Float>) {
        kernels.scale_columns(x, stride, Int32(rows), Int32(columns), scale)
    }
}

extension ComputeContext {
    /// A linear layer over rows, c[m×n] = activation(a[m×k]·Wᵀ + b) (+ c when `accumulate`), on
    /// the context's workers. Rows are cut into chunks of about `chunkRows` (a chunk of A then
    /// stays in L2 while the weight panels stream past it), whole 12-row tiles each, and the
    /// chunk count is a multiple of the workers so none idles through the last chunk.
    package func linearRows(_ a: UnsafePointer<Float>, rows m: Int, lda: Int, _ linear: PackedLinear,
                            activation: PackedActivation = .none, accumulate: Bool = false,
                            c: UnsafeMutablePointer<Float>, ldc: Int, chunkRows: Int = 192) {
        guard m > 0 else { return }
        let tile = 12
        let tiles = (m + tile - 1) / tile
        let wanted = (tiles * tile + chunkRows - 1) / chunkRows
        let chunks = min(tiles, max(1, (wanted + threads - 1) / threads * threads))
        let shared = UncheckedSendable((a, c))
        let kernels = kernels
        forEachChunk(chunks) { _, chunk in
            let (a, c) = shared.value
            let first = tiles * chunk / chunks * tile, last = min(m, tiles * (chunk + 1) / chunks * tile)
            kernels.packedGEMM(m: last - first, a: a + first * lda, lda: lda, linear, activation: activation,
                               accumulate: accumulate, c: c + first * ldc, ldc: ldc)
        }
    }
}
