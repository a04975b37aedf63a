import BirderCore
import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// Decoding and Birder's transform against PIL + torchvision + birder 0.8.4 (fixtures from
/// tools/reference/make_vision_fixtures.py): every image must decode to PIL's exact bytes, and the
/// uint8 output of the transform must equal Birder's at every size/crop in the manifest.
@Suite struct ParityTests {
    /// The defaults, except for the 1135-scan JPEG, which the default scan limit refuses
    /// (HostileFileTests.progressiveScanLimit) but PIL decodes.
    static func options(_ file: String) -> ImageDecodeOptions {
        var options = ImageDecodeOptions()
        if file.hasSuffix("gen_many_scans.jpg") { options.maxJPEGScans = 0 }
        return options
    }

    @Test func manifestCoversTheSharedImagesAndTheGeneratedCases() throws {
        let manifest = try #require(VisionManifest.shared, "Tests/Fixtures/vision/manifest.json is missing or invalid")
        #expect(manifest.images.count >= 60)
        #expect(manifest.variants.count == 4)
        for name in ["chelsea_q75_420.jpg", "chelsea_progressive.jpg", "chelsea_cmyk.jpg", "chelsea.webp",
                     "chelsea_gray16.png", "chelsea_palette_transparent.png", "logo.png", "rocket.jpg"] {
            #expect(manifest.entry("images/" + name) != nil, "\(name) missing from the manifest")
        }
    }

    @Test(arguments: VisionManifest.imageFiles)
    func decodedPixelsEqualPIL(file: String) throws {
        let entry = try #require(VisionManifest.shared?.entry(file))
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/" + file), options: Self.options(file))
        let result = compare(image, with: entry.decoded, label: "\(file) decoded (PIL mode \(entry.pil_mode)\(entry.rule.map { ", rule \($0)" } ?? ""))")
        print(result.report, result.maxDifference.map { "max |Δ| \($0)" } ?? "")
        #expect(result.matches, "\(result.report)")
    }

    @Test(arguments: VisionManifest.imageFiles)
    func transformedPixelsEqualBirder(file: String) throws {
        let manifest = try #require(VisionManifest.shared)
        let entry = try #require(manifest.entry(file))
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/" + file), options: Self.options(file))
        for (variant, digest) in zip(manifest.variants, entry.resized) {
            let resized = variant.transform().resizedAndCropped(image)
            let result = compare(resized, with: digest, label: "\(file) → \(variant.label)")
            print(result.report, result.maxDifference.map { "max |Δ| \($0)" } ?? "")
            #expect(result.matches, "\(result.report)")
        }
    }

    /// PIL's convert("RGB") clips 16-bit grey to 255; this engine keeps the high byte instead
    /// (SPEC.md, traps). The fixture records both; make sure the test compares against the rule.
    @Test func sixteenBitGreyKeepsTheHighByteNotPILsClipping() throws {
        let entry = try #require(VisionManifest.shared?.entry("images/chelsea_gray16.png"))
        #expect(entry.pil_mode == "I;16")
        #expect(entry.rule == "high-byte")
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/images/chelsea_gray16.png"))
        let hash = fnv1a64(image.pixels)
        #expect(hash == entry.decoded.hash)
        #expect(hash != entry.pil_clipped_hash)
        let mean = Double(image.pixels.reduce(0) { $0 + Int($1) }) / Double(image.pixels.count)
        print("chelsea_gray16.png: mean level \(mean) (PIL's clipped image would be nearly all 255)")
        #expect(mean < 200)
    }

    @Test(arguments: VisionManifest.exifFiles)
    func exifOrientationMatchesPILExifTranspose(file: String) throws {
        let entry = try #require(VisionManifest.shared?.exif.first { $0.file == file })
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/" + file),
                                            options: ImageDecodeOptions(applyEXIFOrientation: true))
        let digest = VisionManifest.Digest(width: entry.width, height: entry.height, hash: entry.hash, bands: entry.bands,
                                           sums: entry.sums, full: nil)
        let result = compare(image, with: digest, label: "\(file) exif_transpose")
        print(result.report)
        #expect(result.matches, "\(result.report)")
    }

    @Test func exifOrientationIsIgnoredByDefault() throws {
        let path = Fixtures.path("vision/images/chelsea_exif6.jpg")
        let plain = try ImageDecoder.decode(path: path)
        let turned = try ImageDecoder.decode(path: path, options: ImageDecodeOptions(applyEXIFOrientation: true))
        #expect(plain.width == 451 && plain.height == 300)
        #expect(turned.width == 300 && turned.height == 451)
        // ROTATE_270 (clockwise): the output's top-left pixel is the input's bottom-left one.
        #expect(turned[0, 0] == plain[0, plain.height - 1])
    }

    /// torch's `ToDtype(float32, scale=True)` then `Normalize` for every uint8 level, bit for bit.
    @Test(arguments: ["birder", "clip"])
    func normalisationTableEqualsTorch(stats name: String) throws {
        let lut = try #require(VisionManifest.shared?.luts[name])
        let stats = RGBStats(mean: lut.mean, std: lut.std)
        #expect(stats == (name == "birder" ? RGBStats.birder : RGBStats.clip))
        let transform = InferenceTransform(height: 1, width: 256, stats: stats)
        var row = [UInt8](repeating: 0, count: 256 * 3)
        for v in 0..<256 { row[3 * v] = UInt8(v); row[3 * v + 1] = UInt8(v); row[3 * v + 2] = UInt8(v) }
        var out = [Float](repeating: .nan, count: 256 * 3)
        out.withUnsafeMutableBufferPointer {
            transform.normalize(RGBImage(width: 256, height: 1, pixels: row), into: $0.baseAddress!, layout: .nchw)
        }
        var worst: Float = 0, mismatches = 0
        for c in 0..<3 {
            for v in 0..<256 {
                let expected = Float(bitPattern: lut.bits[c][v])
                let got = out[c * 256 + v]
                worst = max(worst, abs(got - expected))
                if got.bitPattern != expected.bitPattern { mismatches += 1 }
            }
        }
        print("normalisation table \(name): max |Δ| \(worst), \(mismatches) of 768 values not bit-identical")
        #expect(worst <= 1e-6)
        #expect(mismatches == 0)
    }

    /// Samples of birder's full `inference_preset` output (float32, NCHW) against ours, in both layouts.
    @Test func normalisedTensorEqualsBirdersTransform() throws {
        let manifest = try #require(VisionManifest.shared)
        #expect(manifest.tensors.count >= 3)
        for case let entry in manifest.tensors {
            let variant = manifest.variants[entry.variant]
            let transform = variant.transform(.birder)
            let image = try ImageDecoder.decode(path: Fixtures.path("vision/" + entry.file))
            let nhwc = transform.apply(image, layout: .nhwc)
            let nchw = transform.apply(image, layout: .nchw)
            #expect(nhwc.shape == [1, variant.height, variant.width, 3])
            #expect(nchw.shape == [1, 3, variant.height, variant.width])
            let a = nhwc.scalars, b = nchw.scalars
            var worst: Float = 0
            for s in entry.samples {
                let (c, y, x) = (s[0], s[1], s[2])
                let expected = Float(bitPattern: UInt32(s[3]))
                worst = max(worst, abs(a[(y * variant.width + x) * 3 + c] - expected))
                worst = max(worst, abs(b[(c * variant.height + y) * variant.width + x] - expected))
            }
            let sum = a.reduce(0.0) { $0 + Double($1) }
            print("\(entry.file) normalised (\(variant.label)): max |Δ| \(worst) over \(entry.samples.count) samples; sum \(sum) vs \(entry.sum)")
            #expect(worst <= 1e-6)
            #expect(abs(sum - entry.sum) <= 1e-6 * max(1, abs(entry.sum)))
        }
    }
}
