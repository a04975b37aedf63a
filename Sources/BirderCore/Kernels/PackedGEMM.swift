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
/// call), and the bias rides along for the fused epilogue. The weights are Float32 or bfloat16, as
/// the packing kernels' precision says. Immutable and shareable between threads.
package struct PackedLinear: Sendable {
    /// Output features (columns of the product).
    package let outputs: Int
    /// Input features (the K of the product).
    package let inputs: Int
    /// The panel width the weights are laid out for (the packing kernel set's).
    package let panelWidth: Int
    let weights: PackedWeights

    /// How the panels are stored.
    enum PackedWeights: Sendable {
        /// Float32 panels followed by the bias padded to whole panels (`bk_pack`).
        case fp32(TensorStorage)
        /// bfloat16 panels (`bk_pack_bf16`, K in groups of `kGroup`) and the Float32 bias padded to
        /// whole panels.
        case bf16(BF16Storage, bias: TensorStorage, kGroup: Int)
    }

    package var precision: Precision {
        if case .bf16 = weights { return .bf16 }
        return .fp32
    }

    /// Output panels; `packedGEMM` can compute any sub-range of them.
    package var panelCount: Int { (outputs + panelWidth - 1) / panelWidth }

    /// Packs `outputs`×`inputs` weights, w[j, p] at weights[j·rowStride + p·columnStride]
    /// (PyTorch's out×in layout: rowStride = inputs, columnStride = 1), and an optional bias, in
    /// the precision of `kernels`.
    package init(weights: UnsafePointer<Float>, outputs: Int, inputs: Int, rowStride: Int? = nil, columnStride: Int = 1,
                 bias: UnsafePointer<Float>?, kernels: KernelTable) {
        precondition(outputs > 0 && inputs >= 0, "PackedLinear: \(outputs)×\(inputs)")
        self.outputs = outputs
        self.inputs = inputs
        panelWidth = kernels.panelWidth
        let table = kernels.table, n = Int32(outputs), k = Int32(inputs)
        switch kernels.precision {
        case .fp32:
            let storage = TensorStorage(count: bk_packed_size(table, n, k))
            bk_pack(table, weights, n, k, rowStride ?? inputs, columnStride, bias, storage.baseAddress)
            self.weights = .fp32(storage)
        case .bf16:
            let panels = BF16Storage(count: bk_packed_bf16_size(table, n, k))
            bk_pack_bf16(table, weights, n, k, rowStride ?? inputs, columnStride, panels.baseAddress)
            let padded = TensorStorage(count: (outputs + panelWidth - 1) / panelWidth * panelWidth)
            if let bias { padded.baseAddress.update(from: bias, count: outputs) }
            self.weights = .bf16(panels, bias: padded, kGroup: Int(table.pointee.bf16_k_group))
        }
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

/// bfloat16 values (64-byte aligned, zero-filled), as packed weights hold them.
final class BF16Storage: @unchecked Sendable {
    let baseAddress: UnsafeMutablePointer<UInt16>
    let count: Int

    init(count: Int) {
        let bytes = max(count, 1) * MemoryLayout<UInt16>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: TensorStorage.alignment)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        baseAddress = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        self.count = count
    }

    deinit { UnsafeMutableRawPointer(baseAddress).deallocate() }
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
        let flags = Int32((activation == .gelu ? BK_ACT_GELU : BK_ACT_NONE) | (accumulate ? BK_GEMM_ACCUMULATE : 0))
        let n = Int32(linear.outputs), k = Int32(linear.inputs), first = Int32(range.lowerBound), end = Int32(range.upperBound)
        switch linear.weights {
        case let .fp32(packed):
            kernels.gemm(Int32(m), n, k, a, lda, packed.baseAddress, flags, c, ldc, first, end)
        case let .bf16(packed, bias, kGroup):
            precondition(kGroup == Int(kernels.bf16_k_group), "packedGEMM: bf16 weights packed in K groups of \(kGroup), kernels use \(kernels.bf16_k_group)")
            kernels.gemm_bf16(Int32(m), n, k, a, lda, packed.baseAddress, bias.baseAddress, flags, c, ldc, first, end)
        }
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
