import CBirderKernels

/// Element-wise steps of a transformer block fused into single passes over the token matrix
/// (each pass over N·tokens×width floats is memory-bound; the GEMMs around them are not). The
/// loops are C (the context's kernel set); these wrappers split rows over the context's workers.

/// GELU activations a transformer MLP may use.
package enum GELUKind: String, Sendable {
    /// 0.5·x·(1 + erf(x/√2)), `nn.GELU()`.
    case exact = "gelu"
    /// x·σ(1.702·x), CLIP's `QuickGELU`.
    case quick = "quick_gelu"
}

extension ComputeContext {
    /// x ← act(x + bias) for each row of a rows×columns matrix (the first MLP layer's epilogue).
    package func addBiasGELURows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                                 bias: UnsafePointer<Float>?, kind: GELUKind = .exact) {
        let shared = UncheckedSendable((x, bias))
        let code = kind == .exact ? Int32(TK_GELU_EXACT) : Int32(TK_GELU_QUICK)
        let kernels = kernels.kernels
        parallelFor(rows, grain: max(1, 32_768 / max(columns, 1))) { range in
            let (x, bias) = shared.value
            kernels.bias_gelu_rows(x + range.lowerBound * columns, columns, Int32(range.count), Int32(columns), bias, code)
        }
    }

    /// The residual update of a block fused with the next LayerNorm, per row r of rows×columns:
    ///   x[r] ← x[r] + gamma ⊙ (branch[r] + bias)   (branch nil: 0, e.g. when a GEMM already added
    ///                                             its product into x; bias nil: 0; gamma nil: 1)
    ///   norm.output[r] ← LayerNorm(x[r]) · weight + bias   (when `norm` is given)
    /// `norm.output` may be `x` itself or a buffer not overlapping it; `branch` may be `norm.output`.
    package func residualAddLayerNormRows(
        _ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
        branch: UnsafePointer<Float>? = nil, bias: UnsafePointer<Float>?, gamma: UnsafePointer<Float>? = nil,
        norm: (weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
               output: UnsafeMutablePointer<Float>)?
    ) {
        let shared = UncheckedSendable((x, branch, bias, gamma, norm))
        let kernels = kernels.kernels
        parallelFor(rows, grain: max(1, 16_384 / max(columns, 1))) { range in
            let (x, branch, bias, gamma, norm) = shared.value
            let first = range.lowerBound * columns
            kernels.residual_layernorm_rows(x + first, columns, Int32(range.count), Int32(columns),
                                            branch.map { $0 + first }, columns, bias, gamma, norm?.weight, norm?.bias,
                                            norm?.epsilon ?? 0, norm.map { $0.output + first }, columns)
        }
    }
}

extension KernelTable {
    /// Row softmax of `scale·x` in place, single-threaded (callers parallelise over rows or
    /// problems), max-subtracted like PyTorch, exponentials vectorised.
    package func scaledSoftmaxRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil,
                                   scale: Float) {
        kernels.softmax_rows(x, stride ?? columns, Int32(rows), Int32(columns), scale)
    }

    /// eˣ in place with the softmax's vectorised exponential (about 1 ulp; inputs below −87.3
    /// give ≈1e−38 instead of 0).
    package func expInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
        kernels.exp(x, count)
    }
}
