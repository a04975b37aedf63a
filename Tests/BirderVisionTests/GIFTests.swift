import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// GIF (first frame) against Pillow's `convert("RGB")` (tools/reference/make_gif_fixtures.py).
@Suite struct GIFTests {
    struct Entry: Decodable { let width: Int?, height: Int?, pil: String }
    static let expected: [String: Entry] = (try? Fixtures.json([String: Entry].self, "vision/gif/expected.json")) ?? [:]
    static let decodable = expected.filter { $0.value.pil == "ok" }.keys.sorted()
    static let refused = expected.filter { $0.value.pil != "ok" }.keys.sorted()

    @Test func fixturesArePresent() {
        #expect(Self.decodable.count == 14 && Self.refused.count == 4)
    }

    @Test(arguments: decodable)
    func pixelsMatchPillow(name: String) throws {
        let path = Fixtures.path("vision/gif/\(name)")
        let image = try ImageDecoder.decode(path: path)
        let entry = try #require(Self.expected[name])
        #expect(image.width == entry.width && image.height == entry.height)
        #expect(image.pixels == [UInt8](try Data(contentsOf: Fixtures.url("vision/gif/\(name).rgb"))), "\(name)")
        let size = try ImageDecoder.pixelSize(of: [UInt8](try Data(contentsOf: Fixtures.url("vision/gif/\(name)"))), name: name)
        #expect(size.width == image.width && size.height == image.height)
    }

    /// Pillow refuses each of these too (its verdict is in expected.json).
    @Test(arguments: refused)
    func refusals(name: String) throws {
        let path = Fixtures.path("vision/gif/\(name)")
        do {
            _ = try ImageDecoder.decode(path: path)
            Issue.record("\(name) decoded")
        } catch {
            #expect(error.path == path && error.description.hasPrefix(path + ": "))
            switch (name, error) {
            case ("bad_code.gif", .corrupt), ("early_end.gif", .truncated), ("cut.gif", .truncated), ("header_only.gif", .truncated): break
            default: Issue.record("\(name): \(error)")
            }
        }
    }

    @Test func survivesCorruption() throws {
        var random = TestRandom(seed: 23)
        var refused = 0
        for name in ["pil.gif", "offset_transparent.gif", "clears.gif"] {
            let original = [UInt8](try Data(contentsOf: Fixtures.url("vision/gif/\(name)")))
            for length in stride(from: 0, to: original.count, by: 17) {
                do { _ = try ImageDecoder.decode(bytes: Array(original[..<length]), name: name) } catch { refused += 1 }
            }
            for _ in 0..<300 {
                var mutated = original
                for _ in 0...(random.next() % 3) {
                    let at = Int(random.next() % UInt64(random.next() % 2 == 0 ? min(100, original.count) : original.count))
                    mutated[at] = UInt8(truncatingIfNeeded: random.next())
                }
                do {
                    let image = try ImageDecoder.decode(bytes: mutated, name: name, options: ImageDecodeOptions(maxPixels: 1 << 22))
                    #expect(image.pixels.count == image.width * image.height * 3)
                } catch { refused += 1 }
            }
        }
        #expect(refused > 100)
    }
}
