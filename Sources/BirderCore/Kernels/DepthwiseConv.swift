import CBirderKernels

/// A depthwise 7×7 convolution (padding 3, stride 1, bias), as RDNet's blocks use, with weights
/// repacked at load time from PyTorch's C×1×7×7 to tap-major 49×C' (C' = C rounded up to 8,
/// zero-padded) so 8 channels of one tap are one vector load on NHWC data.
public struct DepthwiseConv7: Sendable {
    public let channels: Int
    /// Floats between taps in `weight` (channels rounded up to 8).
    public let tapStride: Int
    /// 49×tapStride.
    let weight: TensorStorage
    /// tapStride values, zero past `channels`.
    let bias: TensorStorage

    public init(weight: Tensor, bias: Tensor) {
        precondition(weight.shape.count == 4 && weight.shape[1] == 1 && weight.shape[2] == 7 && weight.shape[3] == 7,
                     "DepthwiseConv7: weight of shape \(weight.shape)")
        let c = weight.shape[0]
        precondition(bias.count == c, "DepthwiseConv7: bias \(bias.shape) for \(c) channels")
        channels = c
        tapStride = (c + 7) / 8 * 8
        self.weight = TensorStorage(count: 49 * tapStride)
        self.bias = TensorStorage(count: tapStride)
        let w = weight.storage.baseAddress, packed = self.weight.baseAddress
        for ch in 0..<c {
            for tap in 0..<49 { packed[tap * tapStride + ch] = w[ch * 49 + tap] }
        }
        self.bias.baseAddress.update(from: bias.storage.baseAddress, count: c)
    }

    /// Floats of ring `convolveLayerNorm` needs for an image `width` pixels wide.
    public func scratchCount(width: Int) -> Int { bk_dwconv7_scratch_size(Int32(width), Int32(channels)) }

    /// Convolves the first `channels` channels of an NHWC batch (images height×width, pixels
    /// `pixelStride` floats apart) for output lines `lines` (line = n·height + y), then applies
    /// LayerNorm over the channels of each output pixel. Output pixel x of line lines.lowerBound + l
    /// is written at output[(l·width + x)·outputStride], with outputStride ≥ `tapStride` (the
    /// padding lanes are written). Single-threaded. `scratch` belongs to the calling worker;
    /// `layer` (from `DepthwiseScratch.newLayer()`, the same for all workers of one call over a
    /// batch) lets consecutive chunks of that call reuse the input rows already in the ring.
    public func convolveLayerNorm(
        input: UnsafePointer<Float>, height: Int, width: Int, pixelStride: Int, lines: Range<Int>,
        normWeight: UnsafePointer<Float>, normBias: UnsafePointer<Float>, epsilon: Float,
        output: UnsafeMutablePointer<Float>, outputStride: Int, scratch: DepthwiseScratch, layer: Int
    ) {
        precondition(outputStride >= tapStride && pixelStride >= channels, "DepthwiseConv7: strides too small")
        precondition(scratch.count >= scratchCount(width: width), "DepthwiseConv7: scratch too small")
        scratch.state.pointee.expected_token = layer
        bk_dwconv7_layernorm(input, Int32(height), Int32(width), pixelStride, Int32(channels),
                             Int32(lines.lowerBound), Int32(lines.upperBound), weight.baseAddress, tapStride,
                             bias.baseAddress, normWeight, normBias, epsilon, output, outputStride,
                             scratch.storage.baseAddress, scratch.state)
    }
}

/// One worker's scratch for `DepthwiseConv7.convolveLayerNorm`: a ring of 7 zero-padded input
/// rows and where it stands. Not shareable between threads.
public final class DepthwiseScratch {
    public let count: Int
    let storage: TensorStorage
    let state: UnsafeMutablePointer<bk_ring_state>

    public init(count: Int) {
        self.count = count
        storage = TensorStorage(count: count)
        state = .allocate(capacity: 1)
        state.initialize(to: bk_ring_state(token: 0, expected_token: 0, image: -1, begin: 0, end: 0))
    }

    deinit { state.deallocate() }

    /// A fresh layer token (process-wide unique).
    public static func newLayer() -> Int { bk_next_token() }
}
