import BirderCore
import BirderTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct FileSystemPathTests {
    /// Any byte string survives the trip into a `String` and back, so every file name can be opened.
    @Test func everyByteStringRoundTrips() {
        var generator = TestRandom(seed: 0x5EED)
        var withRawBytes = 0
        for _ in 0..<20_000 {
            let length = Int(generator.next() % 12)
            // Mostly high bytes, where UTF-8 can go wrong, and the escape range's own encoding F4 8F BE/BF.
            let bytes: [UInt8] = (0..<length).map { _ in
                switch generator.next() % 4 {
                case 0: return UInt8(truncatingIfNeeded: generator.next())
                case 1: return [0xF4, 0x8F, 0xBE, 0xBF, 0xE4, 0xC3][Int(generator.next() % 6)]
                default: return 0x80 | UInt8(truncatingIfNeeded: generator.next() & 0x7F)
                }
            }.map { $0 == 0 ? 1 : $0 }
            let path = FileSystemPath.string(fromBytes: bytes)
            #expect(FileSystemPath.bytes(of: path) == bytes, "\(bytes)")
            if FileSystemPath.holdsRawBytes(path) { withRawBytes += 1 }
            let viaCString = FileSystemPath.withCString(path) { pointer in
                (0..<strlen(pointer)).map { UInt8(bitPattern: pointer[$0]) }
            }
            #expect(viaCString == bytes)
        }
        #expect(withRawBytes > 10_000, "the sample must exercise invalid sequences")
    }

    /// UTF-8 names are the same string they always were, including scalars beside the escape range.
    @Test func utf8NamesAreUnchanged() {
        for name in ["photos/a.jpg", "Käfer/🐝 über.png", "日本語/写真.webp", "\u{10FF7F}", "\u{FFFD}.jpg", ""] {
            #expect(FileSystemPath.string(fromBytes: Array(name.utf8)) == name)
            #expect(!FileSystemPath.holdsRawBytes(name))
            #expect(FileSystemPath.displayed(name) == name)
        }
    }

    /// Latin-1, a cut sequence, an overlong form, a surrogate and a real scalar of the escape range:
    /// each shown byte by byte as `\xNN`, the valid parts as text.
    @Test func rawBytesAreShownAsHex() {
        let cases: [([UInt8], String)] = [
            (Array("K".utf8) + [0xE4] + Array("fer.jpg".utf8), "K\\xe4fer.jpg"),
            ([0xE2, 0x82] + Array("x".utf8), "\\xe2\\x82x"),
            ([0xC0, 0xAF], "\\xc0\\xaf"),
            ([0xED, 0xA0, 0x80], "\\xed\\xa0\\x80"),
            ([0xF4, 0x8F, 0xBF, 0xBF], "\\xf4\\x8f\\xbf\\xbf"),
            (Array("ü".utf8) + [0xFF], "ü\\xff"),
        ]
        for (bytes, shown) in cases {
            let path = FileSystemPath.string(fromBytes: bytes)
            #expect(FileSystemPath.holdsRawBytes(path))
            #expect(FileSystemPath.displayed(path) == shown)
            #expect(FileSystemPath.bytes(of: path) == bytes)
        }
    }
}
