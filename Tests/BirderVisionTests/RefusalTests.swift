import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// How files this engine does not decode are refused: other formats by name, and PNGs cut near
/// their end as PIL does (fixture from tools/reference/make_png_tail_fixtures.py), except where
/// the README says we deliberately differ.
@Suite struct RefusalTests {
    /// The first bytes of a file in each format PIL opens and this engine does not.
    static let headers: [(String, [UInt8])] = [
        ("PAM", Array("P7\nWIDTH 1\n".utf8)),
        ("PFM", Array("Pf\n1 1\n-1.0\n".utf8) + [0, 0, 0, 0]),
        ("BigTIFF", [0x49, 0x49, 0x2B, 0x00, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0]),
        ("BigTIFF", [0x4D, 0x4D, 0x00, 0x2B, 0, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]),
        ("ICO", [0, 0, 1, 0, 1, 0, 16, 16]),
        ("PSD", Array("8BPS".utf8) + [0, 1]),
        ("QOI", Array("qoif".utf8) + [0, 0, 0, 1, 0, 0, 0, 1, 3, 0]),
        ("JPEG XL", [0xFF, 0x0A, 0xFA]),
        ("JPEG 2000", [0xFF, 0x4F, 0xFF, 0x51, 0, 0x2F]),
        ("AVIF", [0, 0, 0, 0x20] + Array("ftypavif".utf8)),
    ]

    @Test(arguments: 0..<headers.count)
    func otherFormatsAreRefusedByName(index: Int) {
        let (format, bytes) = Self.headers[index]
        #expect(throws: ImageError.unknownFormat(path: "x.img", detected: format)) {
            try ImageDecoder.decode(bytes: bytes, name: "x.img")
        }
        do {
            _ = try ImageDecoder.decode(bytes: bytes, name: "x.img")
        } catch {
            print(error.description)
            #expect(error.description.contains("\(format) images are not supported"))
        }
    }

    /// Text that merely starts with "P" and a digit is not called a Netpbm image.
    @Test func plainTextIsNotNamed() {
        #expect(throws: ImageError.unknownFormat(path: "notes.txt", detected: nil)) {
            try ImageDecoder.decode(bytes: Array("P1ease read me".utf8), name: "notes.txt")
        }
    }

    struct Tail: Decodable { let file: String, size: Int, idat_data_end: Int, first_cut: Int, pil: String }
    struct TailFixture: Decodable { let pillow: String, files: [Tail] }
    static let tails: [Tail] = (try? Fixtures.json(TailFixture.self, "vision/png_tail.json"))?.files ?? []

    /// Every cut near the end of a PNG is accepted or refused as PIL does, except one deliberate
    /// difference: a cut inside the last IDAT chunk (its last zlib bytes or its CRC missing, every
    /// row present), which PIL accepts and this engine refuses as truncated (README).
    @Test(arguments: tails.map(\.file))
    func pngCutNearItsEndAsPIL(file: String) throws {
        let tail = try #require(Self.tails.first { $0.file == file })
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("vision/" + file)))
        #expect(bytes.count == tail.size)
        var ours = "", differences: [String] = []
        for (i, pil) in tail.pil.enumerated() {
            let cut = tail.first_cut + i
            var verdict: Character = "A"
            do {
                _ = try ImageDecoder.decode(bytes: Array(bytes[..<cut]), name: file)
            } catch {
                verdict = "R"
                if pil == "A" {
                    guard case .truncated = error else {
                        differences.append("cut \(cut): \(error) (not a truncation)"); continue
                    }
                }
            }
            ours.append(verdict)
            let insideLastIDAT = cut < tail.idat_data_end + 4
            if verdict != pil && !(pil == "A" && verdict == "R" && insideLastIDAT) {
                differences.append("cut \(cut) of \(bytes.count): PIL \(pil == "A" ? "accepts" : "refuses"), we do not")
            }
        }
        print("\(file): PIL \(tail.pil)\n\(String(repeating: " ", count: file.count))  us  \(ours)")
        #expect(differences.isEmpty, "\(differences.joined(separator: "; "))")
        #expect(tail.pil.contains("R") && tail.pil.contains("A"))
    }
}
