import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// Binary and plain (ASCII) PPM/PGM/PBM against Pillow's `convert("RGB")` (tools/reference/make_netpbm_fixtures.py).
@Suite struct NetpbmTests {
    struct Entry: Decodable { let width: Int?, height: Int?, pil: String, refuse: Bool }
    static let expected: [String: Entry] = (try? Fixtures.json([String: Entry].self, "vision/netpbm/expected.json")) ?? [:]
    static let decodable = expected.filter { !$0.value.refuse }.keys.sorted()
    static let refused = expected.filter { $0.value.refuse }.keys.sorted()

    @Test func fixturesArePresent() {
        #expect(Self.decodable.count == 13 && Self.refused.count == 10)
    }

    @Test(arguments: decodable)
    func pixelsMatchPillow(name: String) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/netpbm/\(name)"))
        let entry = try #require(Self.expected[name])
        #expect(image.width == entry.width && image.height == entry.height)
        #expect(image.pixels == [UInt8](try Data(contentsOf: Fixtures.url("vision/netpbm/\(name).rgb"))), "\(name)")
    }

    @Test(arguments: refused)
    func refusals(name: String) throws {
        let path = Fixtures.path("vision/netpbm/\(name)")
        do {
            _ = try ImageDecoder.decode(path: path)
            Issue.record("\(name) decoded")
        } catch {
            #expect(error.path == path)
        }
    }

    /// Python's int() on a sample token: a sign, underscores between digits; nothing else.
    @Test func plainSamplesParseAsPythonsInt() {
        let cases: [(String, Int?)] = [("12", 12), ("+3", 3), ("-0", 0), ("0_1", 1), ("1__0", nil), ("_1", nil), ("1_", nil),
                                       ("", nil), ("+", nil), ("x7", nil), ("0x10", nil), ("007", 7)]
        for (token, value) in cases { #expect(NetpbmDecoder.pythonInt(Array(token.utf8)) == value, "\(token)") }
    }

    @Test func survivesCorruption() throws {
        var random = TestRandom(seed: 17)
        var refused = 0
        for name in ["pil.ppm", "pil.pbm", "comments.ppm", "maxval1000.ppm", "plain100.ppm", "plain.pbm"] {
            let original = [UInt8](try Data(contentsOf: Fixtures.url("vision/netpbm/\(name)")))
            for length in stride(from: 0, to: original.count, by: 11) {
                do { _ = try ImageDecoder.decode(bytes: Array(original[..<length]), name: name) } catch { refused += 1 }
            }
            for _ in 0..<300 {
                var mutated = original
                let at = Int(random.next() % UInt64(min(40, original.count)))
                mutated[at] = UInt8(truncatingIfNeeded: random.next())
                do {
                    let image = try ImageDecoder.decode(bytes: mutated, name: name, options: ImageDecodeOptions(maxPixels: 1 << 22))
                    #expect(image.pixels.count == image.width * image.height * 3)
                } catch { refused += 1 }
            }
        }
        #expect(refused > 100)
    }
}
