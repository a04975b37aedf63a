/// Convolutions whose stride equals their kernel (RDNet's 4×4 stem and 2×2 transitions, ViT's
/// 16×16 patch embedding) touch each input pixel once, so im2col is a pure reordering and the
/// convolution is one GEMM: out[P×O] = patches[P×(k·k·C)] · W'ᵀ with W' in (ky, kx, c) order.

/// Gathers non-overlapping k×k patches of an NHWC batch into rows (ky, kx, c), patch rows in
/// (n, py, px) order: output is (N·H/k·W/k)×(k·k·C).
package func extractPatchesNHWC(
    _ input: UnsafePointer<Float>, batch: Int, height: Int, width: Int, channels: Int, patch k: Int,
    output: UnsafeMutablePointer<Float>, context: ComputeContext
) {
    let ph = height / k, pw = width / k
    let rowLength = k * k * channels
    let shared = UncheckedSendable((input, output))
    context.parallelFor(batch * ph, grain: 1) { range in
        let (input, output) = shared.value
        for item in range {
            let n = item / ph, py = item % ph
            for px in 0..<pw {
                let out = output + ((n * ph + py) * pw + px) * rowLength
                for ky in 0..<k {
                    let src = input + ((n * height + py * k + ky) * width + px * k) * channels
                    (out + ky * k * channels).update(from: src, count: k * channels)
                }
            }
        }
    }
}

/// PyTorch's conv weight O×C×k×k reordered to O×(k·k·C), matching `extractPatchesNHWC`'s rows.
package func convWeightToPatchOrder(_ weight: Tensor) -> Tensor {
    precondition(weight.rank == 4 && weight.shape[2] == weight.shape[3], "convWeightToPatchOrder: expected O×C×k×k, got \(weight.shape)")
    let o = weight.shape[0], c = weight.shape[1], k = weight.shape[2]
    return Tensor(shape: [o, k * k * c]) { out in
        weight.withUnsafeBufferPointer { w in
            for oi in 0..<o { for ci in 0..<c { for ky in 0..<k { for kx in 0..<k {
                out[oi * k * k * c + (ky * k + kx) * c + ci] = w[((oi * c + ci) * k + ky) * k + kx]
            } } } }
        }
    }
}
