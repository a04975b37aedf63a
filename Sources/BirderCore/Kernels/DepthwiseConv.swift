import CBirderKernels

/// A depthwise 7×7 convolution (padding 3, stride 1, bias), as RDNet's blocks use, with weights
/// repacked at load time from PyTorch's C×1×7×7 to tap-major 49×C' (C' = C rounded up to the
/// kernel set's vector width, zero-padded) so a vector of channels of one tap is one load on
/// NHWC data.
package struct DepthwiseConv7: Sendable {
    package let channels: Int
    /// Floats between taps in `weight` (channels rounded up to the vector width).
    package let tapStride: Int
    /// 49×tapStride.
    let weight: TensorStorage
    /// tapStride values, zero past `channels`.
    let bias: TensorStorage

    package init(weight: Tensor, bias: Tensor, kernels: KernelTable) {
        precondition(weight.shape.count == 4 && weight.shape[1] == 1 && weight.shape[2] == 7 && weight.shape[3] == 7,
                     "DepthwiseConv7: weight of shape \(weight.shape)")
        let c = weight.shape[0], vector = kernels.vectorFloats
        precondition(bias.count == c, "DepthwiseConv7: bias \(bias.shape) for \(c) channels")
        channels = c
        tapStride = (c + vector - 1) / vector * vector
        self.weight = TensorStorage(count: 49 * tapStride)
        self.bias = TensorStorage(count: tapStride)
        let w = weight.storage.baseAddress, packed = self.weight.baseAddress
        for ch in 0..<c {
            for tap in 0..<49 { packed[tap * tapStride + ch] = w[ch * 49 + tap] }
        }
        self.bias.baseAddress.update(from: bias.storage.baseAddress, count: c)
    }

    /// Floats of scratch `convolveLayerNorm` needs for an image `width` pixels wide.
    package func scratchCount(width: Int, kernels: KernelTable) -> Int {
        bk_dwconv7_scratch_size(kernels.table, Int32(width), Int32(channels))
    }

    /// Convolves the first `channels` channels of an NHWC batch (images height×width, pixels
    /// `pixelStride` floats apart) for output lines `lines` (line = n·height + y), then applies
    /// LayerNorm over the channels of each output pixel. Output pixel x of line lines.lowerBound + l
    /// is written at output[(l·width + x)·outputStride], with outputStride ≥ `tapStride` (the
    /// padding lanes are written). Single-threaded. `scratch` belongs to the calling worker;
    /// `layer` (the same for all workers of one call over a batch, new for every call) lets
    /// consecutive chunks of that call reuse the input rows already in the ring.
    package func convolveLayerNorm(
        input: UnsafePointer<Float>, height: Int, width: Int, pixelStride: Int, lines: Range<Int>,
        normWeight: UnsafePointer<Float>, normBias: UnsafePointer<Float>, epsilon: Float,
        output: UnsafeMutablePointer<Float>, outputStride: Int, scratch: DepthwiseScratch, layer: Int,
        kernels: KernelTable
    ) {
        precondition(outputStride >= tapStride && pixelStride >= channels, "DepthwiseConv7: strides too small")
        precondition(scratch.count >= scratchCount(width: width, kernels: kernels), "DepthwiseConv7: scratch too small")
        precondition(tapStride % kernels.vectorFloats == 0, "DepthwiseConv7: taps padded for another vector width")
        scratch.state.pointee.expected_token = layer
        kernels.kernels.dwconv7_layernorm(
            input, Int32(height), Int32(width), pixelStride, Int32(channels),
            Int32(lines.lowerBound), Int32(lines.upperBound), weight.baseAddress, tapStride,
            bias.baseAddress, normWeight, normBias, epsilon, output, outputStride,
            scratch.storage.baseAddress, scratch.state)
    }
}

/// One worker's scratch for `DepthwiseConv7.convolveLayerNorm`: a ring of 7 zero-padded input
/// rows and where it stands. Not shareable between threads.
package final class DepthwiseScratch {
    package let count: Int
    let storage: TensorStorage
    let state: UnsafeMutablePointer<bk_ring_state>

    package init(count: Int) {
        self.count = count
        storage = TensorStorage(count: count)
        state = .allocate(capacity: 1)
        // Layer tokens start at 1, so a fresh ring is always re-initialised on first use.
        state.initialize(to: bk_ring_state(token: 0, expected_token: 0, image: -1, begin: 0, end: 0))
    }

    deinit { state.deallocate() }
}
