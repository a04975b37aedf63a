import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// BMP against Pillow's `convert("RGB")` on every layout Pillow reads
/// (tools/reference/make_bmp_fixtures.py), and the refusals.
@Suite struct BMPTests {
    struct Entry: Decodable { let width: Int?, height: Int?, pil: String }
    static let expected: [String: Entry] = (try? Fixtures.json([String: Entry].self, "vision/bmp/expected.json")) ?? [:]
    static let decodable = expected.filter { $0.value.pil == "ok" }.keys.sorted()

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: Fixtures.url("vision/bmp/\(name)")))
    }

    @Test func everyLayoutIsCovered() {
        #expect(Self.decodable.count == 22)
        #expect(Self.decodable.filter { $0.hasPrefix("rle") }.count == 7)
    }

    @Test(arguments: decodable)
    func pixelsMatchPillow(name: String) throws {
        let image = try ImageDecoder.decode(path: Fixtures.path("vision/bmp/\(name).bmp"))
        let entry = try #require(Self.expected[name])
        #expect(image.width == entry.width && image.height == entry.height)
        #expect(image.pixels == (try Self.bytes("\(name).rgb")), "\(name)")
    }

    @Test func refusals() throws {
        func error(_ name: String) throws -> ImageError? {
            let bytes = try Self.bytes("\(name).bmp")
            do { _ = try ImageDecoder.decode(bytes: bytes, name: name); return nil } catch { return error }
        }
        for name in ["rle8_early_end", "rle8_cut"] {
            guard case .truncated(_, .bmp, let reason)? = try error(name) else { Issue.record("\(name) not refused"); continue }
            #expect(reason.contains("run-length"), "\(reason)")
        }
        guard case .truncated? = try error("truncated24") else { Issue.record("truncated24"); return }
        guard case .truncated? = try error("hostile_offset_past_end") else { Issue.record("offset"); return }
        guard case .tooLarge(_, .bmp, 0x7FFF_FFFF, 0x7FFF_FFFF, _)? = try error("hostile_huge") else { Issue.record("huge"); return }
        guard case .corrupt? = try error("hostile_header0") else { Issue.record("header0"); return }
        guard case .unsupported? = try error("hostile_bits7") else { Issue.record("bits7"); return }
        guard case .unsupported? = try error("hostile_bitfields") else { Issue.record("bitfields"); return }
        // every refusal Pillow makes too
        for name in ["truncated24", "hostile_offset_past_end", "hostile_huge", "hostile_header0", "hostile_bits7", "hostile_bitfields",
                     "rle8_early_end", "rle8_cut"] {
            #expect(Self.expected[name]?.pil != "ok", "\(name)")
        }
    }

    /// Every prefix and seeded byte changes of several layouts decode or are refused; none traps.
    @Test func survivesCorruption() throws {
        var random = TestRandom(seed: 15)
        var refused = 0
        for name in ["pil_rgb24", "pal4_short", "rgb565_bitfields", "os2_24", "abgr32_v3", "pil_bw1", "rle8_escapes", "rle4_mixed"] {
            let original = try Self.bytes("\(name).bmp")
            for length in stride(from: 0, to: original.count, by: 13) {
                do { _ = try ImageDecoder.decode(bytes: Array(original[..<length]), name: name) } catch { refused += 1 }
            }
            for _ in 0..<300 {
                var mutated = original
                for _ in 0...(random.next() % 3) {
                    // the header is where lengths live: mutate it most
                    let at = Int(random.next() % UInt64(random.next() % 2 == 0 ? min(160, original.count) : original.count))
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
