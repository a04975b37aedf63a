import Foundation

/// Whose bicubic resize of 8-bit images to reproduce. Both are Pillow's separable scheme (Keys'
/// cubic with a = −0.5, antialiased, fixed-point weights, an 8-bit intermediate); they differ in
/// the weights' precision and the order of the passes.
public enum BicubicResampler: Sendable, Equatable {
    /// `PIL.Image.resize(..., BICUBIC)` (Birder's `pil` image loader): 22-bit weights.
    case pillow
    /// `torchvision.transforms.v2.Resize(..., BICUBIC, antialias=True)` on a uint8 tensor
    /// (Birder's `tv` image loader; PyTorch's CPU kernel `upsample_avx_bilinear_bicubic_uint8`):
    /// int16 weights with the most bits their largest weight allows (at most 22), horizontal pass
    /// always first.
    case torchvision
}

/// One axis of Pillow's bicubic resampling (`src/libImaging/Resample.c`, `precompute_coeffs` and
/// `normalize_coeffs_8bpc`): for each output index, the first input index, the number of taps and
/// their weights in 22-bit fixed point. Computed in Double with Pillow's exact expressions, so
/// the integer weights are Pillow's, bit for bit. With `.torchvision`, PyTorch's weights
/// (`_compute_index_ranges_int16_weights`): the same taps and Double weights (its expression for
/// the cubic), quantised to int16 at the axis' own precision.
public struct BicubicAxis: Sendable {
    public let inSize: Int
    public let outSize: Int
    /// Pillow's `ksize`: the stride between two outputs' weights.
    let taps: Int
    let start: [Int32]
    let count: [Int32]
    let weights: [Int32]
    /// Fractional bits of `weights`.
    let precision: Int32

    static let precisionBits: Int32 = 22  // Pillow's PRECISION_BITS = 32 - 8 - 2

    public init(from inSize: Int, to outSize: Int, resampler: BicubicResampler = .pillow) {
        precondition(inSize > 0 && outSize > 0, "BicubicAxis: sizes must be positive (\(inSize) → \(outSize))")
        self.inSize = inSize
        self.outSize = outSize
        // Pillow: scale = (double)(in1 - in0) / outSize, the box edges being C floats.
        let scale = Double(Float(inSize) - Float(0)) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 2.0 * filterScale  // bicubic support 2
        let taps = Int(support.rounded(.up)) * 2 + 1
        let inverseFilterScale = 1.0 / filterScale
        var start = [Int32](repeating: 0, count: outSize)
        var count = [Int32](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        var normalized = [Double](repeating: 0, count: outSize * taps)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C's (int) truncates toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var sum = 0.0
            for x in 0..<xmax {
                let argument = (Double(x + xmin) - center + 0.5) * inverseFilterScale
                let w = resampler == .pillow ? Self.bicubic(argument) : Self.torchCubic(argument)
                k[x] = w
                sum += w
            }
            for x in 0..<xmax {
                var w = k[x]
                if sum != 0.0 { w /= sum }
                normalized[xx * taps + x] = w
            }
            start[xx] = Int32(xmin)
            count[xx] = Int32(xmax)
        }
        var precision = Self.precisionBits
        if resampler == .torchvision {
            // The most bits that keep the largest weight an int16 (PyTorch: the first p < 22 for
            // which (int)(0.5 + max * 2^(p+1)) >= 2^15).
            let largest = normalized.max() ?? 0
            precision = 0
            while precision < 22, Int(0.5 + largest * Double(1 << (precision + 1))) < (1 << 15) { precision += 1 }
        }
        let one = Double(1 << precision)
        for (i, w) in normalized.enumerated() where w != 0 {
            weights[i] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
        }
        self.precision = precision
        self.taps = taps
        self.start = start
        self.count = count
        self.weights = weights
    }

    /// Keys' cubic convolution with a = -0.5, written as Pillow writes it (the evaluation order
    /// matters for the last bit of the weights).
    static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        var x = value
        if x < 0.0 { x = -x }
        if x < 1.0 { return ((a + 2.0) * x - (a + 3.0)) * x * x + 1 }
        if x < 2.0 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0.0
    }

    /// PyTorch's `aa_filter` for bicubic: `cubic_convolution1/2` with A = −0.5, in its order.
    static func torchCubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1.0 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2.0 { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a }
        return 0.0
    }
}

/// A bounded cache of `BicubicAxis` tables by (input size, output size), shared by copies of a
/// transform. Thread-safe.
final class BicubicAxisCache: @unchecked Sendable {
    private struct Key: Hashable { let inSize: Int, outSize: Int, torchvision: Bool }
    private var axes: [Key: BicubicAxis] = [:]
    private let lock = NSLock()
    private let capacity = 256

    func axis(from inSize: Int, to outSize: Int, resampler: BicubicResampler = .pillow) -> BicubicAxis {
        let key = Key(inSize: inSize, outSize: outSize, torchvision: resampler == .torchvision)
        lock.lock()
        if let axis = axes[key] { lock.unlock(); return axis }
        lock.unlock()
        let axis = BicubicAxis(from: inSize, to: outSize, resampler: resampler)
        lock.lock()
        if axes.count >= capacity { axes.removeAll(keepingCapacity: true) }
        axes[key] = axis
        lock.unlock()
        return axis
    }
}

/// Pillow's bicubic `Image.resize` on 8-bit RGB, bit-exact (Pillow 13, `ImagingResampleInner`):
/// two separable passes through a uint8 intermediate; each accumulates from 2^21 in Int32, shifts
/// right by 22 and clamps to 0…255. A pass whose size does not change is skipped (as in Pillow; its
/// weights would be the identity anyway).
///
/// The order of the passes changes the result (the intermediate is rounded to 8 bits), so it is
/// Pillow's: horizontal first, except when the height shrinks by more than twice as many pixels as
/// the width does (`in.h - out.h > 0 && in.h - out.h > (in.w - out.w) * 2`), where Pillow 13 runs
/// the vertical pass first. Pillow 12 and older always ran the horizontal pass first; Birder 0.8.4's
/// reference environment installs Pillow 13 (through torchvision), so that is what we follow.
public enum PillowResize {
    /// `image.resize((width, height), Image.BICUBIC)` (or torchvision's uint8 resize).
    public static func bicubic(_ image: RGBImage, width: Int, height: Int, resampler: BicubicResampler = .pillow) -> RGBImage {
        resize(image, width: width, height: height, window: (0, 0, width, height), resampler: resampler)!
    }

    /// Pillow's choice of pass order for a resize of `input` to `output` (see the type's comment).
    public static func runsVerticalPassFirst(input: PixelSize, output: PixelSize) -> Bool {
        let heightShrink = input.height - output.height, widthShrink = input.width - output.width
        return heightShrink > 0 && heightShrink > widthShrink * 2
    }

    /// The `window` (x, y, width, height) of `bicubic(image, width:, height:)`, computed without
    /// the rest of the image. Returns nil for an empty window.
    static func resize(_ image: RGBImage, width: Int, height: Int, window: (x: Int, y: Int, width: Int, height: Int),
                       cache: BicubicAxisCache? = nil, resampler: BicubicResampler = .pillow) -> RGBImage? {
        precondition(width > 0 && height > 0, "PillowResize: target size must be positive")
        precondition(window.x >= 0 && window.y >= 0 && window.x + window.width <= width && window.y + window.height <= height,
                     "PillowResize: window outside the target")
        guard window.width > 0, window.height > 0 else { return nil }
        func axis(_ inSize: Int, _ outSize: Int) -> BicubicAxis? {
            guard inSize != outSize else { return nil }
            return cache?.axis(from: inSize, to: outSize, resampler: resampler)
                ?? BicubicAxis(from: inSize, to: outSize, resampler: resampler)
        }
        let rows = window.y..<(window.y + window.height)
        let columns = window.x..<(window.x + window.width)
        let sourceStride = image.width * 3
        switch (axis(image.width, width), axis(image.height, height)) {
        case (nil, nil):
            return image.pixels.withUnsafeBufferPointer { source in
                RGBImage(width: window.width, height: window.height) { out in
                    for (i, r) in rows.enumerated() {
                        (out.baseAddress! + i * window.width * 3)
                            .update(from: source.baseAddress! + r * sourceStride + window.x * 3, count: window.width * 3)
                    }
                }
            }
        case let (horizontal?, nil):
            return image.pixels.withUnsafeBufferPointer { source in
                RGBImage(width: window.width, height: window.height) { out in
                    horizontalPass(source.baseAddress!, rowStride: sourceStride, firstColumn: 0, rows: rows, axis: horizontal,
                                   columns: columns, into: out.baseAddress!)
                }
            }
        case let (nil, vertical?):
            return image.pixels.withUnsafeBufferPointer { source in
                RGBImage(width: window.width, height: window.height) { out in
                    verticalPass(source.baseAddress! + window.x * 3, rowStride: sourceStride, rowBytes: window.width * 3,
                                 firstRow: 0, axis: vertical, rows: rows, into: out.baseAddress!)
                }
            }
        case let (horizontal?, vertical?):
            if resampler == .pillow, runsVerticalPassFirst(input: PixelSize(width: image.width, height: image.height),
                                                           output: PixelSize(width: width, height: height)) {
                // Only the source columns the horizontal pass reads for the window's columns.
                let firstColumn = Int(horizontal.start[window.x])
                let endColumn = Int(horizontal.start[columns.last!] + horizontal.count[columns.last!])
                let intermediateStride = (endColumn - firstColumn) * 3
                let intermediate = image.pixels.withUnsafeBufferPointer { source in
                    [UInt8](unsafeUninitializedCapacity: window.height * intermediateStride) { buffer, initialized in
                        verticalPass(source.baseAddress! + firstColumn * 3, rowStride: sourceStride, rowBytes: intermediateStride,
                                     firstRow: 0, axis: vertical, rows: rows, into: buffer.baseAddress!)
                        initialized = window.height * intermediateStride
                    }
                }
                return intermediate.withUnsafeBufferPointer { temp in
                    RGBImage(width: window.width, height: window.height) { out in
                        horizontalPass(temp.baseAddress!, rowStride: intermediateStride, firstColumn: firstColumn,
                                       rows: 0..<window.height, axis: horizontal, columns: columns, into: out.baseAddress!)
                    }
                }
            }
            // Only the source rows the vertical pass reads for the window's rows.
            let firstRow = Int(vertical.start[window.y])
            let endRow = Int(vertical.start[rows.last!] + vertical.count[rows.last!])
            let intermediateStride = window.width * 3
            let intermediate = image.pixels.withUnsafeBufferPointer { source in
                [UInt8](unsafeUninitializedCapacity: (endRow - firstRow) * intermediateStride) { buffer, initialized in
                    horizontalPass(source.baseAddress!, rowStride: sourceStride, firstColumn: 0, rows: firstRow..<endRow,
                                   axis: horizontal, columns: columns, into: buffer.baseAddress!)
                    initialized = (endRow - firstRow) * intermediateStride
                }
            }
            return intermediate.withUnsafeBufferPointer { temp in
                RGBImage(width: window.width, height: window.height) { out in
                    verticalPass(temp.baseAddress!, rowStride: intermediateStride, rowBytes: intermediateStride,
                                 firstRow: firstRow, axis: vertical, rows: rows, into: out.baseAddress!)
                }
            }
        }
    }

    @inline(__always)
    private static func clip8(_ sum: Int32, _ precision: Int32) -> UInt8 { UInt8(clamping: sum >> precision) }

    /// Resamples along x: output pixel `xx` of each source row in `rows` reads the axis' taps
    /// from `src`, whose rows are `rowStride` bytes apart and whose first pixel is source column
    /// `firstColumn`. Writes `columns.count` pixels per row, rows packed, into `dst`.
    private static func horizontalPass(_ src: UnsafePointer<UInt8>, rowStride: Int, firstColumn: Int, rows: Range<Int>,
                                       axis: BicubicAxis, columns: Range<Int>, into dst: UnsafeMutablePointer<UInt8>) {
        let precision = axis.precision, half: Int32 = precision > 0 ? 1 << (precision - 1) : 0
        axis.start.withUnsafeBufferPointer { start in
            axis.count.withUnsafeBufferPointer { count in
                axis.weights.withUnsafeBufferPointer { weights in
                    var out = dst
                    for r in rows {
                        let row = src + r * rowStride
                        for xx in columns {
                            let k = weights.baseAddress! + xx * axis.taps
                            var p = row + (Int(start[xx]) - firstColumn) * 3
                            var s0 = half, s1 = half, s2 = half
                            for j in 0..<Int(count[xx]) {
                                let w = k[j]
                                s0 &+= Int32(p[0]) &* w
                                s1 &+= Int32(p[1]) &* w
                                s2 &+= Int32(p[2]) &* w
                                p += 3
                            }
                            out[0] = clip8(s0, precision); out[1] = clip8(s1, precision); out[2] = clip8(s2, precision)
                            out += 3
                        }
                    }
                }
            }
        }
    }

    /// Resamples along y: output row `yy` (for `yy` in `rows`) reads the axis' taps from `src`,
    /// whose row `i` is source row `firstRow + i`, `rowStride` bytes apart; `rowBytes` bytes of
    /// each row are resampled and written, rows packed, into `dst`.
    private static func verticalPass(_ src: UnsafePointer<UInt8>, rowStride: Int, rowBytes: Int, firstRow: Int,
                                     axis: BicubicAxis, rows: Range<Int>, into dst: UnsafeMutablePointer<UInt8>) {
        let precision = axis.precision, half: Int32 = precision > 0 ? 1 << (precision - 1) : 0
        let accumulator = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { accumulator.deallocate() }
        var out = dst
        for yy in rows {
            accumulator.initialize(repeating: half, count: rowBytes)
            let first = Int(axis.start[yy]) - firstRow
            for j in 0..<Int(axis.count[yy]) {
                let w = axis.weights[yy * axis.taps + j]
                let row = src + (first + j) * rowStride
                // Integer sums are exact, so summing tap by tap over whole rows equals Pillow's
                // per-pixel order; this loop vectorises.
                for i in 0..<rowBytes {
                    accumulator[i] &+= Int32(row[i]) &* w
                }
            }
            for i in 0..<rowBytes { out[i] = clip8(accumulator[i], precision) }
            out += rowBytes
        }
    }
}
