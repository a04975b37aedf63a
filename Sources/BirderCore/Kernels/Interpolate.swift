/// `torch.nn.functional.interpolate(x, size=..., mode=..., align_corners=False, antialias=...)` on a
/// channels-last grid (H×W×C, e.g. a ViT position embedding), as PyTorch's CPU kernels compute it.
/// Birder resizes position embeddings this way: antialiased when a model is rebuilt for another
/// size (`adjust_size`), plain when it resizes per input (`dynamic_size`).
///
/// The two PyTorch paths differ in more than the low-pass filter:
/// - antialias off: source coordinate (i + ½)·in/out − ½; bicubic is Keys' cubic with A = −0.75 over
///   the 4 nearest samples, indices clamped at the border; bilinear clamps the coordinate at 0.
///   Equal sizes are copied.
/// - antialias on (Pillow's scheme, in floating point): center (i + ½)·in/out, support 2 (bicubic)
///   or 1 (bilinear) widened by the downscale factor, taps [trunc(center − support + ½),
///   trunc(center + support + ½)) within the input, kernel evaluated at (j − center + ½)/scale and
///   normalised to sum 1; bicubic uses A = −0.5 here, even when upsampling.
package enum InterpolationMode: String, Sendable, CaseIterable {
    case bicubic, bilinear
}

/// One axis of a separable resize: for every output index, the input taps and their weights.
package struct InterpolationAxis: Sendable {
    package let inputSize: Int
    package let outputSize: Int
    /// taps[i] = (input index, weight) pairs for output i; indices may repeat at clamped borders.
    package let taps: [[(index: Int, weight: Double)]]

    package init(inputSize: Int, outputSize: Int, mode: InterpolationMode, antialias: Bool) {
        precondition(inputSize > 0 && outputSize > 0, "InterpolationAxis: sizes must be positive")
        self.inputSize = inputSize
        self.outputSize = outputSize
        // PyTorch computes the ratio in the tensor's float type.
        let scale = Double(Float(inputSize) / Float(outputSize))
        var taps: [[(index: Int, weight: Double)]] = []
        taps.reserveCapacity(outputSize)
        if antialias {
            let halfWidth: Double = mode == .bicubic ? 2 : 1
            let support = halfWidth * max(scale, 1)
            let inverse = scale >= 1 ? 1 / scale : 1
            for i in 0..<outputSize {
                let center = scale * (Double(i) + 0.5)
                let lo = max(Int(center - support + 0.5), 0)
                let hi = min(Int(center + support + 0.5), inputSize)
                var row: [(index: Int, weight: Double)] = []
                var total = 0.0
                for j in lo..<max(lo, hi) {
                    let w = InterpolationAxis.filter(mode, (Double(j) - center + 0.5) * inverse)
                    row.append((j, w))
                    total += w
                }
                if total != 0 { row = row.map { ($0.index, $0.weight / total) } }
                taps.append(row)
            }
        } else if inputSize == outputSize {
            taps = (0..<outputSize).map { [($0, 1.0)] }
        } else {
            for i in 0..<outputSize {
                let source = scale * (Double(i) + 0.5) - 0.5
                switch mode {
                case .bicubic:
                    let floor = source.rounded(.down)
                    let t = source - floor
                    let a = -0.75
                    let near: (Double) -> Double = { x in ((a + 2) * x - (a + 3)) * x * x + 1 }
                    let far: (Double) -> Double = { x in ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
                    let weights = [far(t + 1), near(t), near(1 - t), far(2 - t)]
                    taps.append((0..<4).map { k in
                        (min(max(Int(floor) - 1 + k, 0), inputSize - 1), weights[k])
                    })
                case .bilinear:
                    let clamped = max(source, 0)
                    let i0 = Int(clamped)
                    let i1 = i0 + (i0 < inputSize - 1 ? 1 : 0)
                    let lambda = clamped - Double(i0)
                    taps.append([(i0, 1 - lambda), (i1, lambda)])
                }
            }
        }
        self.taps = taps
    }

    /// The antialiasing filters: Keys' cubic with A = −0.5 (as Pillow) and the triangle.
    static func filter(_ mode: InterpolationMode, _ x: Double) -> Double {
        let x = abs(x)
        switch mode {
        case .bicubic:
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        case .bilinear:
            return max(0, 1 - x)
        }
    }
}

/// Resizes an H×W×C channels-last grid to outH×outW×C: width first, then height (PyTorch's order
/// for the separable antialiased path), accumulating in Double.
package func interpolateGrid(
    _ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
    outputHeight: Int, outputWidth: Int, mode: InterpolationMode, antialias: Bool,
    output: UnsafeMutablePointer<Float>
) {
    let horizontal = InterpolationAxis(inputSize: width, outputSize: outputWidth, mode: mode, antialias: antialias)
    let vertical = InterpolationAxis(inputSize: height, outputSize: outputHeight, mode: mode, antialias: antialias)
    // height × outW × C
    let rows = UnsafeMutablePointer<Double>.allocate(capacity: height * outputWidth * channels)
    defer { rows.deallocate() }
    rows.initialize(repeating: 0, count: height * outputWidth * channels)
    for y in 0..<height {
        for (ox, taps) in horizontal.taps.enumerated() {
            let out = rows + (y * outputWidth + ox) * channels
            for (x, w) in taps {
                let src = input + (y * width + x) * channels
                for c in 0..<channels { out[c] += w * Double(src[c]) }
            }
        }
    }
    let accumulator = UnsafeMutablePointer<Double>.allocate(capacity: max(channels, 1))
    defer { accumulator.deallocate() }
    for (oy, taps) in vertical.taps.enumerated() {
        for ox in 0..<outputWidth {
            accumulator.update(repeating: 0, count: channels)
            for (y, w) in taps {
                let src = rows + (y * outputWidth + ox) * channels
                for c in 0..<channels { accumulator[c] += w * src[c] }
            }
            let out = output + (oy * outputWidth + ox) * channels
            for c in 0..<channels { out[c] = Float(accumulator[c]) }
        }
    }
}
