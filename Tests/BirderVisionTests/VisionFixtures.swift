import BirderCore
import BirderTestSupport
import BirderVision
import Foundation

/// Tests/Fixtures/vision/manifest.json, written by tools/reference/make_vision_fixtures.py.
struct VisionManifest: Decodable {
    struct Variant: Decodable { let height: Int, width: Int, crop: Double, simple: Bool }
    struct Digest: Decodable {
        let width: Int, height: Int, hash: String, bands: [String], sums: [Int]
        let full: String?
    }
    struct Entry: Decodable {
        let file: String
        let pil_mode: String
        let decoded: Digest
        let resized: [Digest]
        let rule: String?
        let pil_clipped_hash: String?
    }
    struct ExifEntry: Decodable { let file: String, width: Int, height: Int, hash: String, bands: [String], sums: [Int] }
    struct LUT: Decodable { let mean: [Double], std: [Double], bits: [[UInt32]] }
    struct TensorSamples: Decodable { let file: String, stats: String, variant: Int, samples: [[Int]], sum: Double }
    struct Bad: Decodable { let file: String, pil: String }

    let variants: [Variant]
    let images: [Entry]
    let exif: [ExifEntry]
    let luts: [String: LUT]
    let tensors: [TensorSamples]
    let bad: [Bad]

    static let shared: VisionManifest? = try? Fixtures.json(VisionManifest.self, "vision/manifest.json")
    static let imageFiles: [String] = shared?.images.map(\.file) ?? []
    static let exifFiles: [String] = shared?.exif.map(\.file) ?? []

    func entry(_ file: String) -> Entry? { images.first { $0.file == file } }
}

/// FNV-1a, 64 bits (the fixture script's `fnv1a64`).
func fnv1a64<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes {
        h ^= UInt64(b)
        h = h &* 0x0000_0100_0000_01B3
    }
    let hex = String(h, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}

/// How an image compares with a fixture digest; `report` says where the first difference is.
struct Comparison {
    let matches: Bool
    let report: String
    /// Largest per-byte difference, when a full expected array was available (else nil).
    let maxDifference: Int?
}

func compare(_ image: RGBImage, with digest: VisionManifest.Digest, label: String) -> Comparison {
    guard image.width == digest.width, image.height == digest.height else {
        return Comparison(matches: false, report: "\(label): size \(image.width)×\(image.height), expected \(digest.width)×\(digest.height)", maxDifference: nil)
    }
    var full: RGBImage?
    if let name = digest.full {
        full = try? ImageDecoder.decode(path: Fixtures.path("vision/" + name))
    }
    if fnv1a64(image.pixels) == digest.hash {
        let maxDiff = full.map { f in zip(f.pixels, image.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0 }
        return Comparison(matches: true, report: "\(label): identical (hash \(digest.hash))", maxDifference: maxDiff ?? 0)
    }
    var report = "\(label): bytes differ from PIL's"
    let rowBytes = image.width * 3
    let badBands = (0..<8).filter { i in
        let r0 = image.height * i / 8, r1 = image.height * (i + 1) / 8
        return fnv1a64(image.pixels[(r0 * rowBytes)..<(r1 * rowBytes)]) != digest.bands[i]
    }
    report += "; differing row bands (of 8): \(badBands)"
    let sums = (0..<3).map { c in stride(from: c, to: image.pixels.count, by: 3).reduce(0) { $0 + Int(image.pixels[$1]) } }
    report += "; channel sums \(sums) vs \(digest.sums)"
    var maxDiff: Int?
    if let f = full, f.pixels.count == image.pixels.count {
        var count = 0, worst = 0, first: Int?
        for i in f.pixels.indices where f.pixels[i] != image.pixels[i] {
            count += 1
            worst = max(worst, abs(Int(f.pixels[i]) - Int(image.pixels[i])))
            if first == nil { first = i }
        }
        maxDiff = worst
        if let i = first {
            let p = i / 3
            report += "; \(count) bytes differ, max |Δ| \(worst); first at x \(p % image.width), y \(p / image.width), channel \(i % 3): \(image.pixels[i]) vs \(f.pixels[i])"
        }
    }
    return Comparison(matches: false, report: report, maxDifference: maxDiff)
}

extension VisionManifest.Variant {
    func transform(_ stats: RGBStats = .birder) -> InferenceTransform {
        InferenceTransform(height: height, width: width, stats: stats, centerCrop: crop, simpleCrop: simple)
    }
    var label: String { "\(height)×\(width) crop \(crop)\(simple ? " simple_crop" : "")" }
}
