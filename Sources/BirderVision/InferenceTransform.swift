import BirderCore

/// Memory order of a batch of normalised images.
public enum TensorLayout: Sendable, Equatable {
    /// N×H×W×3, what this engine's models take.
    case nhwc
    /// N×3×H×W, PyTorch's order.
    case nchw
}

/// Birder's inference transform, `birder.classification_transform(size, rgb_stats, center_crop,
/// simple_crop)` = `inference_preset`:
///
/// 1. resize to `(int(H / crop), int(W / crop))` with Pillow's bicubic resampling, aspect ratio
///    not kept; with `simpleCrop`, `ResizeToCover` to that size instead (aspect kept, covering it);
/// 2. torchvision's `CenterCrop((H, W))`: offsets `int(round((in - out) / 2))` (Python rounds
///    halves to even), zero padding where the crop is larger than the image;
/// 3. `x / 255`, then `(x - mean) / std` per channel, in Float32 exactly as torch computes them.
///
/// Everything up to step 3 stays uint8 and equals Pillow's result bit for bit; only the pixels
/// inside the crop are computed. Value type, `Sendable`; copies share a thread-safe cache of
/// resampling tables per (input size, output size).
public struct InferenceTransform: Sendable, Equatable {
    public let height: Int
    public let width: Int
    public let stats: RGBStats
    public let centerCrop: Double
    public let simpleCrop: Bool
    /// Pillow's resize (Birder's `pil` loader) or torchvision's on uint8 tensors (`tv`).
    public let resampler: BicubicResampler
    /// Normalised value of each uint8 level, per channel: 3 × 256 entries.
    private let table: [Float]
    private let cache = BicubicAxisCache()

    public init(height: Int, width: Int, stats: RGBStats, centerCrop: Double = 1.0, simpleCrop: Bool = false,
                resampler: BicubicResampler = .pillow) {
        precondition(height > 0 && width > 0, "InferenceTransform: size must be positive")
        precondition(centerCrop > 0 && centerCrop.isFinite, "InferenceTransform: center crop must be positive")
        precondition(Int(Double(height) / centerCrop) > 0 && Int(Double(width) / centerCrop) > 0,
                     "InferenceTransform: center crop \(centerCrop) leaves no pixels to resize to")
        self.height = height
        self.width = width
        self.stats = stats
        self.centerCrop = centerCrop
        self.simpleCrop = simpleCrop
        self.resampler = resampler
        var table = [Float](repeating: 0, count: 3 * 256)
        // torchvision: image.to(float32).mul_(1.0 / 255) (the scalar taken as Float32), then
        // .sub(mean).div_(std) with mean and std as Float32 tensors.
        let scale = Float(1.0 / 255.0)
        for c in 0..<3 {
            let mean = Float(stats.mean[c]), std = Float(stats.std[c])
            for v in 0..<256 { table[c * 256 + v] = (Float(v) * scale - mean) / std }
        }
        self.table = table
    }

    /// Floats one image occupies in the output: H × W × 3.
    public var elementsPerImage: Int { height * width * 3 }

    /// Whether the two give the same pixels for every image: equal in every parameter above (the
    /// normalisation table follows from `stats`, the cache holds nothing of its own). A parameter
    /// added here belongs in this comparison.
    public static func == (lhs: InferenceTransform, rhs: InferenceTransform) -> Bool {
        lhs.height == rhs.height && lhs.width == rhs.width && lhs.stats == rhs.stats && lhs.centerCrop == rhs.centerCrop
            && lhs.simpleCrop == rhs.simpleCrop && lhs.resampler == rhs.resampler
    }

    /// Birder's resize target before the crop, `(int(H / crop), int(W / crop))`.
    public var baseSize: PixelSize {
        PixelSize(width: Int(Double(width) / centerCrop), height: Int(Double(height) / centerCrop))
    }

    /// What the resize step produces for an input of this size (before the crop).
    public func resizedSize(forInput input: PixelSize) -> PixelSize {
        let target = baseSize
        guard simpleCrop else { return target }
        // birder.data.transforms.classification.get_resize_to_cover_size
        if input.width * target.height >= input.height * target.width {
            return PixelSize(width: max(target.width, target.height * input.width / input.height), height: target.height)
        }
        return PixelSize(width: target.width, height: max(target.height, target.width * input.height / input.width))
    }

    /// The uint8 H×W×3 image after resize and center crop: the pixels the model sees, before
    /// normalisation.
    public func resizedAndCropped(_ image: RGBImage) -> RGBImage {
        let resized = resizedSize(forInput: PixelSize(width: image.width, height: image.height))
        let top = Self.cropOffset(image: resized.height, crop: height)
        let left = Self.cropOffset(image: resized.width, crop: width)
        // The part of the crop that lies inside the resized image; the rest is zero padding.
        let y0 = max(0, top), y1 = min(resized.height, top + height)
        let x0 = max(0, left), x1 = min(resized.width, left + width)
        guard let inside = PillowResize.resize(image, width: resized.width, height: resized.height,
                                               window: (x0, y0, max(0, x1 - x0), max(0, y1 - y0)), cache: cache,
                                               resampler: resampler)
        else { return RGBImage(width: width, height: height, pixels: [UInt8](repeating: 0, count: elementsPerImage)) }
        if inside.width == width && inside.height == height { return inside }
        var pixels = [UInt8](repeating: 0, count: elementsPerImage)
        for y in 0..<inside.height {
            let d = ((y0 - top + y) * width + (x0 - left)) * 3
            pixels[d..<(d + inside.width * 3)] = inside.pixels[(y * inside.width * 3)..<((y + 1) * inside.width * 3)]
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// torchvision's center-crop anchor in an axis of `image` pixels (negative: zero padding
    /// before the image, as `_center_crop_compute_padding` then the anchor in the padded image).
    static func cropOffset(image: Int, crop: Int) -> Int {
        func roundHalfEven(_ n: Int) -> Int {  // Python's int(round(n / 2.0)) for n >= 0
            let q = n / 2
            return n % 2 == 0 ? q : (q % 2 == 0 ? q : q + 1)
        }
        guard crop > image else { return roundHalfEven(image - crop) }
        let before = (crop - image) / 2, after = (crop - image + 1) / 2
        return roundHalfEven(image + before + after - crop) - before
    }

    /// Normalises an H×W image (the output of `resizedAndCropped`) into `destination`
    /// (`elementsPerImage` floats) in the given layout.
    public func normalize(_ resized: RGBImage, into destination: UnsafeMutablePointer<Float>, layout: TensorLayout = .nhwc) {
        precondition(resized.width == width && resized.height == height,
                     "InferenceTransform.normalize: \(resized.width)×\(resized.height) image, expected \(width)×\(height)")
        let plane = width * height
        table.withUnsafeBufferPointer { t in
            resized.pixels.withUnsafeBufferPointer { px in
                let r = t.baseAddress!, g = r + 256, b = r + 512
                let p = px.baseAddress!
                switch layout {
                case .nhwc:
                    for i in 0..<plane {
                        destination[3 * i] = r[Int(p[3 * i])]
                        destination[3 * i + 1] = g[Int(p[3 * i + 1])]
                        destination[3 * i + 2] = b[Int(p[3 * i + 2])]
                    }
                case .nchw:
                    for i in 0..<plane {
                        destination[i] = r[Int(p[3 * i])]
                        destination[plane + i] = g[Int(p[3 * i + 1])]
                        destination[2 * plane + i] = b[Int(p[3 * i + 2])]
                    }
                }
            }
        }
    }

    /// Resize, crop and normalise one image into `destination` (`elementsPerImage` floats): the
    /// step for filling one slot of a batch.
    public func write(_ image: RGBImage, into destination: UnsafeMutablePointer<Float>, layout: TensorLayout = .nhwc) {
        normalize(resizedAndCropped(image), into: destination, layout: layout)
    }

    /// One image as a [1, H, W, 3] (or [1, 3, H, W]) tensor.
    public func apply(_ image: RGBImage, layout: TensorLayout = .nhwc) -> Tensor {
        batch([image], layout: layout)
    }

    /// Images as an [N, H, W, 3] (or [N, 3, H, W]) tensor, prepared in parallel on the context's
    /// workers.
    public func batch(_ images: [RGBImage], layout: TensorLayout = .nhwc, context: ComputeContext = .automatic) -> Tensor {
        let shape = layout == .nhwc ? [images.count, height, width, 3] : [images.count, 3, height, width]
        let per = elementsPerImage
        return Tensor(shape: shape) { buffer in
            let base = UncheckedSendable(buffer.baseAddress!)
            context.parallelFor(images.count) { range in
                for n in range { write(images[n], into: base.value + n * per, layout: layout) }
            }
        }
    }
}
