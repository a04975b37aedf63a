import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// Properties of the transform that the PIL fixtures do not isolate: the crop window computed
/// alone equals cropping the full resize, torchvision's half-to-even crop offsets, zero padding
/// for crops larger than the image, layouts, batching.
@Suite struct TransformTests {
    static func randomImage(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var random = TestRandom(seed: seed)
        return RGBImage(width: width, height: height) { buffer in
            for i in buffer.indices { buffer[i] = UInt8(truncatingIfNeeded: random.next() >> 17) }
        }
    }

    static func crop(_ image: RGBImage, x: Int, y: Int, width: Int, height: Int) -> RGBImage {
        RGBImage(width: width, height: height) { out in
            for row in 0..<height {
                for b in 0..<(width * 3) { out[row * width * 3 + b] = image.pixels[((y + row) * image.width + x) * 3 + b] }
            }
        }
    }

    @Test(arguments: [(640, 427, 0.875), (300, 451, 0.875), (97, 131, 0.9), (1600, 90, 0.875), (17, 11, 0.5), (256, 256, 0.875)])
    func cropWindowEqualsCroppingTheFullResize(width: Int, height: Int, crop: Double) {
        let image = Self.randomImage(width: width, height: height, seed: UInt64(width * 1000 + height))
        let transform = InferenceTransform(height: 224, width: 224, stats: .birder, centerCrop: crop)
        let base = transform.baseSize
        let full = PillowResize.bicubic(image, width: base.width, height: base.height)
        let top = Int(((Double(base.height - 224) / 2)).rounded(.toNearestOrEven))
        let left = Int(((Double(base.width - 224) / 2)).rounded(.toNearestOrEven))
        let expected = Self.crop(full, x: left, y: top, width: 224, height: 224)
        let got = transform.resizedAndCropped(image)
        let diff = zip(got.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? -1
        print("\(width)×\(height) crop \(crop): window vs full resize + crop, max |Δ| \(diff)")
        #expect(got == expected)
    }

    /// simple_crop on 255×224 and 257×224 inputs resizes to the same size (no resampling), so the
    /// output is a pure crop: offsets round((255-224)/2 = 15.5) = 16 and round(16.5) = 16.
    @Test(arguments: [(255, 16), (257, 16), (254, 15), (258, 17)])
    func centerCropOffsetsRoundHalfToEven(width: Int, offset: Int) {
        let image = Self.randomImage(width: width, height: 224, seed: 9)
        let transform = InferenceTransform(height: 224, width: 224, stats: .birder, simpleCrop: true)
        #expect(transform.resizedSize(forInput: PixelSize(width: width, height: 224)) == PixelSize(width: width, height: 224))
        #expect(transform.resizedAndCropped(image) == Self.crop(image, x: offset, y: 0, width: 224, height: 224))
    }

    @Test func resizeToCoverSizes() {
        let t = InferenceTransform(height: 224, width: 224, stats: .birder, centerCrop: 0.875, simpleCrop: true)
        #expect(t.baseSize == PixelSize(width: 256, height: 256))
        #expect(t.resizedSize(forInput: PixelSize(width: 640, height: 427)) == PixelSize(width: 383, height: 256))
        #expect(t.resizedSize(forInput: PixelSize(width: 300, height: 451)) == PixelSize(width: 256, height: 384))
        #expect(t.resizedSize(forInput: PixelSize(width: 1600, height: 90)) == PixelSize(width: 4551, height: 256))
    }

    /// A crop fraction above 1 makes the resize target smaller than the crop: torchvision pads
    /// with zeros ((224-179)//2 = 22 before, 23 after).
    @Test func cropLargerThanTheImageIsZeroPadded() {
        let image = Self.randomImage(width: 300, height: 200, seed: 5)
        let transform = InferenceTransform(height: 224, width: 224, stats: .birder, centerCrop: 1.25)
        #expect(transform.baseSize == PixelSize(width: 179, height: 179))
        let inner = PillowResize.bicubic(image, width: 179, height: 179)
        let out = transform.resizedAndCropped(image)
        var expected = [UInt8](repeating: 0, count: 224 * 224 * 3)
        for y in 0..<179 {
            for b in 0..<(179 * 3) { expected[((y + 22) * 224 + 22) * 3 + b] = inner.pixels[y * 179 * 3 + b] }
        }
        #expect(out.pixels == expected)
    }

    @Test func resizeToTheSameSizeIsIdentity() {
        let image = Self.randomImage(width: 50, height: 40, seed: 3)
        #expect(PillowResize.bicubic(image, width: 50, height: 40) == image)
        // One axis unchanged: that pass is skipped, the other still resamples.
        let half = PillowResize.bicubic(image, width: 50, height: 20)
        #expect(half.width == 50 && half.height == 20)
    }

    /// A constant image stays constant through resampling (weights sum to one in fixed point).
    @Test func constantImageStaysConstant() {
        let image = RGBImage(width: 123, height: 77, pixels: [UInt8](repeating: 0, count: 123 * 77 * 3).enumerated().map { [200, 17, 255][$0.offset % 3] })
        for (w, h) in [(224, 224), (31, 400), (7, 5)] {
            let out = PillowResize.bicubic(image, width: w, height: h)
            #expect(out.pixels.enumerated().allSatisfy { $0.element == [200, 17, 255][$0.offset % 3] }, "\(w)×\(h)")
        }
    }

    @Test func layoutsAndBatchesAgree() {
        let images = (0..<3).map { Self.randomImage(width: 100 + $0 * 37, height: 80 + $0 * 11, seed: UInt64($0)) }
        let t = InferenceTransform(height: 32, width: 48, stats: .clip, centerCrop: 0.875)
        let nhwc = t.batch(images, layout: .nhwc)
        let nchw = t.batch(images, layout: .nchw)
        #expect(nhwc.shape == [3, 32, 48, 3])
        #expect(nchw.shape == [3, 3, 32, 48])
        let a = nhwc.scalars, b = nchw.scalars
        var worst: Float = 0
        for n in 0..<3 {
            let single = t.apply(images[n]).scalars
            for y in 0..<32 {
                for x in 0..<48 {
                    for c in 0..<3 {
                        let v = a[((n * 32 + y) * 48 + x) * 3 + c]
                        worst = max(worst, abs(v - b[((n * 3 + c) * 32 + y) * 48 + x]), abs(v - single[(y * 48 + x) * 3 + c]))
                    }
                }
            }
        }
        print("NHWC vs NCHW vs single-image: max |Δ| \(worst)")
        #expect(worst == 0)
        var buffer = [Float](repeating: 0, count: t.elementsPerImage)
        buffer.withUnsafeMutableBufferPointer { t.write(images[1], into: $0.baseAddress!) }
        #expect(Array(a[t.elementsPerImage..<(2 * t.elementsPerImage)]) == buffer)
    }

    @Test func jpegDCTScalingIsOptIn() throws {
        let path = Fixtures.path("vision/images/rocket.jpg")  // 640×427
        let exact = try ImageDecoder.decode(path: path)
        var options = ImageDecodeOptions()
        options.jpegDCTScalingMinimum = PixelSize(width: 224, height: 160)
        let scaled = try ImageDecoder.decode(path: path, options: options)
        #expect(exact.width == 640 && exact.height == 427)
        #expect(scaled.width == 320 && scaled.height == 214)  // 1/2; 1/4 would give 160×107
        options.jpegDCTScalingMinimum = PixelSize(width: 10, height: 10)
        let eighth = try ImageDecoder.decode(path: path, options: options)
        #expect(eighth.width == 80 && eighth.height == 54)
    }
}
