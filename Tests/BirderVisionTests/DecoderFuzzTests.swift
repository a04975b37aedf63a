import BirderTestSupport
import Foundation
import Testing
import BirderVision

/// Seeded random-mutation fuzzing of the image decoders (issue 14): 100,000 mutants per format,
/// each from a small valid file of the fixtures, must either decode to an image within the
/// limits or be refused with an `ImageError` — never crash, hang or allocate without bound.
/// The pixel limit is lowered so a mutant claiming huge dimensions is refused cheaply (the
/// limit check itself is what such a mutant exercises).
@Suite struct DecoderFuzzTests {
    static let iterations = 100_000
    static let options: ImageDecodeOptions = {
        var options = ImageDecodeOptions(maxPixels: 1 << 20)
        options.maxFileBytes = 1 << 20
        options.maxJPEGScans = 64
        return options
    }()

    @Test(arguments: [
        ("jpeg", ["gen_xmp8.jpg", "gen_exif1.jpg"]),
        ("png", ["gen_gray2.png", "gen_palette2.png", "gen_palette4_adam7.png", "gen_gray8_trns.png"]),
        ("webp", ["gen_alpha_lossy.webp"]),
    ])
    func mutantsDecodeOrAreRefused(format: String, corpus: [String]) throws {
        let seeds = try corpus.map { [UInt8](try Data(contentsOf: Fixtures.url("vision/images/" + $0))) }
        for seed in seeds {
            _ = try ImageDecoder.decode(bytes: seed, name: "seed", options: Self.options)  // the corpus is valid
        }
        var random = TestRandom(seed: UInt64(format.utf8.reduce(0) { $0 &* 31 &+ UInt64($1) }))
        var decoded = 0, refused = 0
        for iteration in 0..<Self.iterations {
            let mutant = Self.mutate(seeds[iteration % seeds.count], &random)
            do {
                let image = try ImageDecoder.decode(bytes: mutant, name: "mutant-\(iteration).\(format)", options: Self.options)
                #expect(image.width * image.height <= Self.options.maxPixels && image.pixels.count == image.width * image.height * 3)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        print("fuzz \(format): \(Self.iterations) mutants, \(decoded) decoded, \(refused) refused")
        #expect(decoded + refused == Self.iterations)
        // Both outcomes occur: the mutations reach the decoders' happy paths and their checks.
        #expect(decoded > 0 && refused > 0)
    }

    /// One to three of: bit flips, an interesting byte, a random 32-bit big-endian word (lengths,
    /// dimensions), a cut, a deleted or repeated slice.
    static func mutate(_ seed: [UInt8], _ random: inout TestRandom) -> [UInt8] {
        var bytes = seed
        for _ in 0...(Int(random.next() % 3)) where !bytes.isEmpty {
            let at = Int(random.next() % UInt64(bytes.count))
            switch random.next() % 6 {
            case 0:
                bytes[at] ^= UInt8(1 << (random.next() % 8))
            case 1:
                bytes[at] = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE][Int(random.next() % 6)]
            case 2:
                let word = UInt32(truncatingIfNeeded: random.next())
                for k in 0..<min(4, bytes.count - at) { bytes[at + k] = UInt8(truncatingIfNeeded: word >> (24 - 8 * k)) }
            case 3:
                bytes.removeSubrange(at...)
            case 4:
                bytes.removeSubrange(at..<min(bytes.count, at + 1 + Int(random.next() % 64)))
            default:
                let slice = bytes[at..<min(bytes.count, at + 1 + Int(random.next() % 64))]
                bytes.insert(contentsOf: slice, at: at)
            }
        }
        return bytes
    }
}
