import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// TIFF through libtiff against Pillow's `convert("RGB")` on the files Pillow writes
/// (tools/reference/make_tiff_fixtures.py), the layouts refused, and damaged files.
@Suite struct TIFFTests {
    struct Entry: Decodable { let width: Int?, height: Int?, pil: String, refuse: Bool }
    static let expected: [String: Entry] = (try? Fixtures.json([String: Entry].self, "vision/tiff/expected.json")) ?? [:]
    static let decodable = expected.filter { !$0.value.refuse }.keys.sorted()
    static let refused = expected.filter { $0.value.refuse }.keys.sorted()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Fixtures.url("vision/tiff/\(name)")))
    }

    @Test func fixturesArePresent() {
        #expect(Self.decodable.count == 14 && Self.refused.count == 4)
    }

    @Test(arguments: decodable)
    func pixelsMatchPillow(name: String) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/tiff/\(name).tif"))
        let entry = try #require(Self.expected[name])
        #expect(image.width == entry.width && image.height == entry.height)
        #expect(image.pixels == (try Self.bytes("\(name).rgb")), "\(name)")
    }

    /// Layouts not decoded (16-bit, CMYK) and damaged files are refused, naming
    /// the file, as TIFF.
    @Test(arguments: refused)
    func refusals(name: String) throws {
        let path = Fixtures.path("vision/tiff/\(name).tif")
        do {
            _ = try ImageDecoder.decode(path: path)
            Issue.record("\(name) decoded")
        } catch {
            #expect(error.path == path)
            switch error {
            case .unsupported(_, .tiff, _), .corrupt(_, .tiff, _), .truncated(_, .tiff, _): break
            default: Issue.record("\(name): \(error)")
            }
        }
    }

    /// Every prefix and seeded byte changes decode or are refused; none traps or prints.
    @Test func survivesCorruption() throws {
        var random = TestRandom(seed: 16)
        var refusedCount = 0
        for name in ["rgb_lzw", "palette", "bilevel_g4", "gray_alpha", "rows_per_strip_5"] {
            let original = try Self.bytes("\(name).tif")
            for length in stride(from: 0, to: original.count, by: 17) {
                do { _ = try ImageDecoder.decode(bytes: Array(original[..<length]), name: name) } catch { refusedCount += 1 }
            }
            for _ in 0..<200 {
                var mutated = original
                for _ in 0...(random.next() % 3) {
                    mutated[Int(random.next() % UInt64(original.count))] = UInt8(truncatingIfNeeded: random.next())
                }
                do {
                    let image = try ImageDecoder.decode(bytes: mutated, name: name, options: ImageDecodeOptions(maxPixels: 1 << 22))
                    #expect(image.pixels.count == image.width * image.height * 3)
                } catch { refusedCount += 1 }
            }
        }
        #expect(refusedCount > 100)
    }
}
