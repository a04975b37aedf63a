import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// Hostile and broken files: each must give a typed error naming the file and the reason — no
/// crash, no hang, no allocation beyond the pixel limit. What PIL does with each is in the
/// manifest's `bad` list (all of them fail in PIL too, except the GIF named .jpg, which PIL opens
/// and so does this engine now).
@Suite struct HostileFileTests {
    enum Kind: String, Sendable { case empty, unknownFormat, tooLarge, truncated, corrupt, unsupported, unreadable }

    static let expectations: [(file: String, kind: Kind)] = [
        ("empty.jpg", .empty),
        ("not_an_image.jpg", .unknownFormat),
        ("truncated.jpg", .truncated),
        ("huge_dimensions.png", .tooLarge),
        ("gen_bad_crc_text.png", .corrupt),
        ("gen_corrupt_idat.png", .corrupt),
        ("gen_garbage.jpg", .corrupt),
        ("gen_header_only.jpg", .truncated),
        ("gen_huge.jpg", .tooLarge),
        ("gen_huge.webp", .tooLarge),
        ("gen_no_idat.png", .corrupt),
        ("gen_signature_only.png", .truncated),
        ("gen_text.png", .unknownFormat),
        ("gen_truncated.png", .truncated),
        ("gen_truncated.webp", .truncated),
        ("gen_truncated_progressive.jpg", .truncated),
        ("gen_zero_width.png", .corrupt),
    ]

    static func kind(_ error: ImageError) -> Kind {
        switch error {
        case .empty: return .empty
        case .unknownFormat: return .unknownFormat
        case .tooLarge: return .tooLarge
        case .truncated: return .truncated
        case .corrupt: return .corrupt
        case .unsupported: return .unsupported
        case .unreadable, .outOfMemory: return .unreadable
        }
    }

    @Test func everyBadFixtureHasAnExpectation() throws {
        let manifest = try #require(VisionManifest.shared)
        let listed = Set(manifest.bad.map { String($0.file.dropFirst("bad/".count)) })
        #expect(listed == Set(Self.expectations.map(\.file)).union(["gen_gif_named.jpg"]))
        // PIL refuses all of them but the GIF (which it opens, as this engine does).
        for bad in manifest.bad { #expect((bad.pil == "decodes") == bad.file.hasSuffix("gen_gif_named.jpg"), "\(bad.file): PIL \(bad.pil)") }
    }

    @Test(arguments: expectations.map(\.file))
    func refusedWithATypedError(file: String) throws {
        let expected = try #require(Self.expectations.first { $0.file == file }?.kind)
        let path = Fixtures.path("vision/bad/" + file)
        let pil = VisionManifest.shared?.bad.first { $0.file == "bad/" + file }?.pil ?? "?"
        do {
            let image = try ImageDecoder.decode(path: path)
            Issue.record("\(file) decoded to \(image.width)×\(image.height); expected \(expected)")
        } catch {
            print("\(file): \(error)   [PIL: \(pil)]")
            #expect(Self.kind(error) == expected, "\(error)")
            #expect(error.path == path)
            #expect(error.description.hasPrefix(path + ": "))
        }
    }

    @Test func sizesInTooLargeErrorsComeFromTheHeader() {
        #expect(throws: ImageError.tooLarge(path: Fixtures.path("vision/bad/huge_dimensions.png"), format: .png,
                                            width: 100_000, height: 100_000, limit: 178_956_970)) {
            try ImageDecoder.decode(path: Fixtures.path("vision/bad/huge_dimensions.png"))
        }
        #expect(throws: ImageError.tooLarge(path: Fixtures.path("vision/bad/gen_huge.jpg"), format: .jpeg,
                                            width: 60_000, height: 60_000, limit: 178_956_970)) {
            try ImageDecoder.decode(path: Fixtures.path("vision/bad/gen_huge.jpg"))
        }
    }

    @Test(arguments: ["chelsea_q75_420.jpg", "chelsea.png", "chelsea.webp"])
    func pixelLimitIsConfigurable(file: String) throws {
        let path = Fixtures.path("vision/images/" + file)  // 451×300 = 135 300 pixels
        var options = ImageDecodeOptions()
        options.maxPixels = 135_299
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: path, options: options) }
        do {
            _ = try ImageDecoder.decode(path: path, options: options)
        } catch {
            guard case let .tooLarge(_, _, width, height, limit) = error else {
                Issue.record("expected tooLarge, got \(error)")
                return
            }
            #expect(width == 451 && height == 300 && limit == 135_299)
        }
        options.maxPixels = 135_300
        #expect(try ImageDecoder.decode(path: path, options: options).width == 451)
    }

    /// 1135 scans: refused by default (CPU-bomb guard), decoded exactly like PIL when allowed.
    @Test func progressiveScanLimit() throws {
        let path = Fixtures.path("vision/images/gen_many_scans.jpg")
        var options = ImageDecodeOptions()
        options.maxJPEGScans = 1000
        do {
            _ = try ImageDecoder.decode(path: path, options: options)
            Issue.record("a 1135-scan JPEG passed a 1000-scan limit")
        } catch {
            print("gen_many_scans.jpg with a 1000-scan limit: \(error)")
            #expect(Self.kind(error) == .unsupported)
        }
        options.maxJPEGScans = 2000
        let image = try ImageDecoder.decode(path: path, options: options)
        let entry = try #require(VisionManifest.shared?.entry("images/gen_many_scans.jpg"))
        #expect(fnv1a64(image.pixels) == entry.decoded.hash)
    }

    @Test func maxFileBytesIsChecked() throws {
        var options = ImageDecodeOptions()
        options.maxFileBytes = 1000
        #expect(throws: ImageError.self) { try ImageDecoder.decode(path: Fixtures.path("vision/images/rocket.jpg"), options: options) }
    }

    @Test func unreadablePaths() throws {
        let fifo = FileManager.default.temporaryDirectory.appendingPathComponent("birder-vision-fifo-\(getpid()).jpg").path
        unlink(fifo)
        try #require(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        for path in ["/nonexistent/birder/image.jpg", Fixtures.path("vision/images"), "/dev/null", "/dev/zero", fifo] {
            do {
                _ = try ImageDecoder.decode(path: path)
                Issue.record("\(path) decoded")
            } catch {
                print("\(path): \(error)")
                #expect(error.path == path)
                #expect([.unreadable, .empty].contains(Self.kind(error)))
            }
        }
    }

    /// The PNG and the GIF named .jpg decode by content.
    @Test func formatIsSniffedNotTakenFromTheExtension() throws {
        let png = try ImageDecoder.decode(path: Fixtures.path("vision/images/gen_png_named.jpg"))
        #expect(png.width == 17 && png.height == 11)
        let gif = try ImageDecoder.decode(path: Fixtures.path("vision/bad/gen_gif_named.jpg"))
        #expect(gif.width == 67 && gif.height == 45)
        // Pillow's first four pixels of it
        #expect(Array(gif.pixels.prefix(12)) == [149, 102, 64, 139, 96, 62, 128, 87, 57, 105, 61, 33])
    }

    /// Every prefix of a few valid files, and random byte flips: always a typed error or an image,
    /// never a crash. A prefix may decode only if it lacks nothing but a PNG's IEND chunk (PIL
    /// decodes those too); like PIL, a JPEG without its final EOI marker is refused.
    @Test(arguments: ["chelsea_q75_420.jpg", "chelsea_progressive.jpg", "gen_rgb_adam7.png", "chelsea.webp",
                      "gen_animated.webp", "chelsea_cmyk.jpg", "gen_alpha_lossless.webp"])
    func truncationsAndBitFlipsNeverCrash(file: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("vision/images/" + file)))
        var truncatedErrors = 0, cuts = 0
        let trailer = file.hasSuffix(".png") ? 12 : 0
        for cut in Array(stride(from: 0, to: bytes.count, by: max(1, bytes.count / 60))) + [bytes.count - 2, bytes.count - 1] {
            cuts += 1
            do {
                _ = try ImageDecoder.decode(bytes: Array(bytes[..<cut]), name: file)
                if cut < bytes.count - trailer { Issue.record("\(file) cut at \(cut) of \(bytes.count) bytes decoded") }
            } catch {
                if case .truncated = error { truncatedErrors += 1 }
            }
        }
        var random = TestRandom(seed: 42)
        var flipped = 0
        for _ in 0..<40 {
            var copy = bytes
            for _ in 0..<4 {
                let i = 2 + Int(random.next() % UInt64(bytes.count - 2))
                copy[i] ^= UInt8(truncatingIfNeeded: random.next() | 1)
            }
            do { _ = try ImageDecoder.decode(bytes: copy, name: file); flipped += 1 } catch {}
        }
        print("\(file): \(truncatedErrors) of \(cuts) cuts reported as truncated; \(flipped) of 40 damaged copies still decoded")
        #expect(truncatedErrors > cuts / 2)
    }

    /// Decoding from many threads at once gives the same pixels as one at a time.
    @Test func decodingIsThreadSafe() async throws {
        let files = ["chelsea_q75_420.jpg", "chelsea_progressive.jpg", "chelsea.png", "chelsea.webp", "chelsea_cmyk.jpg",
                     "gen_rgb_adam7.png", "gen_animated.webp", "chelsea_palette.png"]
        let serial = try files.map { try ImageDecoder.decode(path: Fixtures.path("vision/images/" + $0)) }
        let parallel = try await withThrowingTaskGroup(of: (Int, RGBImage).self) { group in
            for round in 0..<4 {
                for (i, f) in files.enumerated() {
                    group.addTask { (i, try ImageDecoder.decode(path: Fixtures.path("vision/images/" + f))) }
                    _ = round
                }
            }
            var results: [(Int, RGBImage)] = []
            for try await r in group { results.append(r) }
            return results
        }
        #expect(parallel.count == files.count * 4)
        for (i, image) in parallel { #expect(image == serial[i], "\(files[i]) differs when decoded concurrently") }
    }
}
