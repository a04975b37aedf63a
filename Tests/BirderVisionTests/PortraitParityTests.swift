import BirderCore
import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// Tests/Fixtures/vision/resize/portraits.json, written by tools/reference/make_resize_fixtures.py.
struct PortraitManifest: Decodable {
    struct Resized: Decodable {
        let height: Int, width: Int, crop: Double, simple: Bool
        /// The size the resize step produces (before the center crop) and Pillow's pass order for it.
        let resize_height: Int, resize_width: Int
        let vertical_first: Bool
        let sha256: String
        let full: String?
        var label: String { "\(height)×\(width) crop \(crop)\(simple ? " simple_crop" : "")" }
    }
    struct Entry: Decodable {
        let file: String, pil_mode: String, width: Int, height: Int
        let decoded_sha256: String
        let resized: [Resized]
    }
    let pillow: String
    let images: [Entry]

    static let shared: PortraitManifest? = try? Fixtures.json(PortraitManifest.self, "vision/resize/portraits.json")
    static let files: [String] = shared?.images.map(\.file) ?? []
}

/// Portrait photos (taller than wide and than the 224 target: the shape whose resize Pillow 13
/// runs vertical pass first) through decoding and Birder's transform, against PIL + birder 0.8.4.
/// The 224×224 outputs are exactly what the networks receive, so a model fed these pixels sees
/// Birder's input.
@Suite struct PortraitParityTests {
    @Test func manifestHasPortraitsOfBothPassOrders() throws {
        let manifest = try #require(PortraitManifest.shared, "Tests/Fixtures/vision/resize/portraits.json is missing or invalid")
        #expect(manifest.images.count >= 5)
        for entry in manifest.images { #expect(entry.height > entry.width && entry.height > 224, "\(entry.file) is not a portrait") }
        let resized = manifest.images.flatMap(\.resized)
        #expect(resized.filter(\.vertical_first).count >= 10)
        #expect(resized.contains { !$0.vertical_first })
        #expect(manifest.images.contains { $0.pil_mode == "L" })
        #expect(manifest.images.contains { $0.file.hasSuffix(".png") } && manifest.images.contains { $0.file.hasSuffix(".jpg") })
    }

    @Test(arguments: PortraitManifest.files)
    func portraitTransformEqualsBirder(file: String) throws {
        let entry = try #require(PortraitManifest.shared?.images.first { $0.file == file })
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/resize/" + file))
        #expect(image.width == entry.width && image.height == entry.height)
        #expect(sha256Hex(image.pixels) == entry.decoded_sha256, "\(file): decoded bytes differ from PIL's (mode \(entry.pil_mode))")
        for variant in entry.resized {
            let transform = InferenceTransform(height: variant.height, width: variant.width, stats: .birder,
                                               centerCrop: variant.crop, simpleCrop: variant.simple)
            let resizedSize = transform.resizedSize(forInput: PixelSize(width: image.width, height: image.height))
            #expect(resizedSize == PixelSize(width: variant.resize_width, height: variant.resize_height), "\(file) → \(variant.label)")
            #expect(PillowResize.runsVerticalPassFirst(input: PixelSize(width: image.width, height: image.height), output: resizedSize)
                    == variant.vertical_first, "\(file) → \(variant.label): pass order")
            let output = transform.resizedAndCropped(image)
            let matches = sha256Hex(output.pixels) == variant.sha256
            var report = "\(file) (\(entry.width)×\(entry.height)) → \(variant.label), \(variant.vertical_first ? "vertical" : "horizontal") pass first: "
            report += matches ? "identical to Birder" : "bytes differ from Birder's"
            if let full = variant.full { report += "; " + ResizeSweepTests.difference(output, full) }
            print(report)
            #expect(matches, "\(report)")
        }
    }
}
