import Foundation

/// One axis of Pillow's bicubic resampling (`src/libImaging/Resample.c`, `precompute_coeffs` and
/// `normalize_coeffs_8bpc`): for each output index, the first input index, the number of taps and
/// their weights in 22-bit fixed point. Computed in Double with Pillow's exact expressions, so
/// the integer weights are Pillow's, bit for bit.
public struct BicubicAxis: Sendable {
    public let inSize: Int
    public let outSize: Int
    /// Pillow's `ksize`: the stride between two outputs' weights.
    let taps: Int
    let start: [Int32]
    let count: [Int32]
    let weights: [Int32]

    static let precisionBits: Int32 = 22  // Pillow's PRECISION_BITS = 32 - 8 - 2

    public init(from inSize: Int, to outSize: Int) {
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
        let one = Double(1 << Self.precisionBits)
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)  // C's (int) truncates toward zero
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var sum = 0.0
            for x in 0..<xmax {
                let w = Self.bicubic((Double(x + xmin) - center + 0.5) * inverseFilterScale)
                k[x] = w
                sum += w
            }
            for x in 0..<xmax {
                var w = k[x]
                if sum != 0.0 { w /= sum }
                weights[xx * taps + x] = w < 0 ? Int32(-0.5 + w * one) : Int32(0.5 + w * one)
            }
            start[xx] = Int32(xmin)
            count[xx] = Int32(xmax)
        }
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
}

/// A bounded cache of `BicubicAxis` tables by (input size, output size), shared by copies of a
/// transform. Thread-safe.
final class BicubicAxisCache: @unchecked Sendable {
    private struct Key: Hashable { let inSize: Int, outSize: Int }
    private var axes: [Key: BicubicAxis] = [:]
    private let lock = NSLock()
    private let capacity = 256

    func axis(from inSize: Int, to outSize: Int) -> BicubicAxis {
        let key = Key(inSize: inSize, outSize: outSize)
        lock.lock()
        if let axis = axes[key] { lock.unlock(); return axis }
        lock.unlock()
        let axis = BicubicAxis(from: inSize, to: outSize)
        lock.lock()
        if axes.count >= capacity { axes.removeAll(keepingCapacity: true) }
        axes[key] = axis
        lock.unlock()
        return axis
    }
}

/// Pillow's bicubic `Image.resize` on 8-bit RGB, bit-exact: a horizontal pass into a uint8
/// intermediate holding only the rows the vertical pass needs, then the vertical pass; both
/// accumulate from 2^21 in Int32, shift right by 22 and clamp to 0…255. A pass whose size does
/// not change is skipped (as in Pillow; its weights would be the identity anyway).
public enum PillowResize {
    /// `image.resize((width, height), Image.BICUBIC)`.
    public static func bicubic(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        resize(image, width: width, height: height, window: (0, 0, width, height))!
    }

    /// The `window` (x, y, width, height) of `bicubic(image, width:, height:)`, computed without
    /// the rest of the image. Returns nil for an empty window.
    static func resize(_ image: RGBImage, width: Int, height: Int, window: (x: Int, y: Int, width: Int, height: Int),
                       cache: BicubicAxisCache? = nil) -> RGBImage? {
        precondition(width > 0 && height > 0, "PillowResize: target size must be positive")
        precondition(window.x >= 0 && window.y >= 0 && window.x + window.width <= width && window.y + window.height <= height,
                     "PillowResize: window outside the target")
        guard window.width > 0, window.height > 0 else { return nil }
        func axis(_ inSize: Int, _ outSize: Int) -> BicubicAxis? {
            guard inSize != outSize else { return nil }
            return cache?.axis(from: inSize, to: outSize) ?? BicubicAxis(from: inSize, to: outSize)
        }
        let horizontal = axis(image.width, width)
        let vertical = axis(image.height, height)

        // Input rows the vertical pass reads for the window's output rows.
        let firstRow: Int, endRow: Int
        if let vertical {
            firstRow = Int(vertical.start[window.y])
            let last = window.y + window.height - 1
            endRow = Int(vertical.start[last] + vertical.count[last])
        } else {
            firstRow = window.y
            endRow = window.y + window.height
        }

        // Horizontal pass (or a plain copy of the window's columns) into the uint8 intermediate.
        let rowBytes = window.width * 3
        let intermediate: [UInt8] = image.pixels.withUnsafeBufferPointer { source in
            [UInt8](unsafeUninitializedCapacity: (endRow - firstRow) * rowBytes) { buffer, initialized in
                let src = source.baseAddress!, dst = buffer.baseAddress!
                if let horizontal {
                    horizontalPass(src, inWidth: image.width, rows: firstRow..<endRow, axis: horizontal,
                                   columns: window.x..<(window.x + window.width), into: dst)
                } else {
                    for r in firstRow..<endRow {
                        (dst + (r - firstRow) * rowBytes).update(from: src + (r * image.width + window.x) * 3, count: rowBytes)
                    }
                }
                initialized = (endRow - firstRow) * rowBytes
            }
        }
        guard let vertical else {
            return RGBImage(width: window.width, height: window.height, pixels: intermediate)
        }
        return intermediate.withUnsafeBufferPointer { temp in
            RGBImage(width: window.width, height: window.height) { out in
                verticalPass(temp.baseAddress!, rowBytes: rowBytes, firstRow: firstRow, axis: vertical,
                             rows: window.y..<(window.y + window.height), into: out.baseAddress!)
            }
        }
    }

    @inline(__always)
    private static func clip8(_ sum: Int32) -> UInt8 { UInt8(clamping: sum >> BicubicAxis.precisionBits) }

    private static func horizontalPass(_ src: UnsafePointer<UInt8>, inWidth: Int, rows: Range<Int>, axis: BicubicAxis,
                                       columns: Range<Int>, into dst: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (BicubicAxis.precisionBits - 1)
        axis.start.withUnsafeBufferPointer { start in
            axis.count.withUnsafeBufferPointer { count in
                axis.weights.withUnsafeBufferPointer { weights in
                    var out = dst
                    for r in rows {
                        let row = src + r * inWidth * 3
                        for xx in columns {
                            let k = weights.baseAddress! + xx * axis.taps
                            var p = row + Int(start[xx]) * 3
                            var s0 = half, s1 = half, s2 = half
                            for j in 0..<Int(count[xx]) {
                                let w = k[j]
                                s0 &+= Int32(p[0]) &* w
                                s1 &+= Int32(p[1]) &* w
                                s2 &+= Int32(p[2]) &* w
                                p += 3
                            }
                            out[0] = clip8(s0); out[1] = clip8(s1); out[2] = clip8(s2)
                            out += 3
                        }
                    }
                }
            }
        }
    }

    private static func verticalPass(_ temp: UnsafePointer<UInt8>, rowBytes: Int, firstRow: Int, axis: BicubicAxis,
                                     rows: Range<Int>, into dst: UnsafeMutablePointer<UInt8>) {
        let half: Int32 = 1 << (BicubicAxis.precisionBits - 1)
        let accumulator = UnsafeMutablePointer<Int32>.allocate(capacity: rowBytes)
        defer { accumulator.deallocate() }
        var out = dst
        for yy in rows {
            accumulator.initialize(repeating: half, count: rowBytes)
            let first = Int(axis.start[yy]) - firstRow
            for j in 0..<Int(axis.count[yy]) {
                let w = axis.weights[yy * axis.taps + j]
                let row = temp + (first + j) * rowBytes
                // Integer sums are exact, so summing tap by tap over whole rows equals Pillow's
                // per-pixel order; this loop vectorises.
                for i in 0..<rowBytes {
                    accumulator[i] &+= Int32(row[i]) &* w
                }
            }
            for i in 0..<rowBytes { out[i] = clip8(accumulator[i]) }
            out += rowBytes
        }
    }
}
