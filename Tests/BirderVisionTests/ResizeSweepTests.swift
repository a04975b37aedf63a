import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// Tests/Fixtures/vision/resize/sweep.json, written by tools/reference/make_resize_fixtures.py.
struct ResizeSweep: Decodable {
    struct Case: Decodable, Sendable, CustomStringConvertible {
        let seed: Int, width: Int, height: Int, out_width: Int, out_height: Int
        let vertical_first: Bool
        let why: String
        let sha256: String
        let full: String?
        let input_sha256: String?
        var description: String {
            "seed \(seed): \(width)×\(height) → \(out_width)×\(out_height) (\(why), \(vertical_first ? "vertical" : "horizontal") pass first)"
        }
    }
    struct Probe: Decodable { let seed: Int, width: Int, height: Int, sha256: String }
    let pillow: String
    let probes: [Probe]
    let cases: [Case]

    static let shared: ResizeSweep? = try? Fixtures.json(ResizeSweep.self, "vision/resize/sweep.json")
    /// The cases split into shards, so the two halves of the sweep can run on two cores.
    static let shardCount = 4
    static func shard(_ index: Int) -> [Case] {
        (shared?.cases ?? []).enumerated().filter { $0.offset % shardCount == index }.map(\.element)
    }
}

/// The make_resize_fixtures.py image: v(x, y, c) = T[(A[3x + c] + B[y]) & 0xFFFF], from 32-bit
/// integer hashes of the seed, so Python and Swift build the same bytes without sharing an RNG.
enum ProceduralImage {
    static func hash32(_ seed: Int, _ stream: UInt32, _ index: Int) -> UInt32 {
        var h = UInt32(truncatingIfNeeded: seed) &* 0x9E37_79B1 &+ stream &* 0x85EB_CA77 &+ UInt32(truncatingIfNeeded: index) &* 0xC2B2_AE3D
        h ^= h >> 15
        h = h &* 0x2C1B_3C6D
        h ^= h >> 12
        h = h &* 0x297A_2D39
        h ^= h >> 15
        return h
    }

    static func make(seed: Int, width: Int, height: Int) -> RGBImage {
        var a = [UInt32](repeating: 0, count: 3 * width)
        var b = [UInt32](repeating: 0, count: height)
        var t = [UInt8](repeating: 0, count: 65536)
        switch seed % 3 {
        case 0:  // noise
            for i in a.indices { a[i] = hash32(seed, 1, i) & 0xFFFF }
            for y in b.indices { b[y] = hash32(seed, 2, y) & 0xFFFF }
            for k in t.indices { t[k] = UInt8(hash32(seed, 3, k) >> 24) }
        case 1:  // smooth ramps
            let fx = 1 + hash32(seed, 4, 0) % 97, fy = 1 + hash32(seed, 5, 0) % 89
            for i in a.indices { a[i] = (UInt32(i / 3) &* fx &+ UInt32(i % 3) &* 4000) & 0xFFFF }
            for y in b.indices { b[y] = (UInt32(y) &* fy) & 0xFFFF }
            for k in t.indices { let tri = k >> 7; t[k] = UInt8(tri < 256 ? tri : 511 - tri) }
        default:  // hard-edged stripes
            let fx = 1 + hash32(seed, 4, 0) % 701, fy = 1 + hash32(seed, 5, 0) % 409
            for i in a.indices { a[i] = (UInt32(i / 3) &* fx &+ UInt32(i % 3) &* 1000) & 0xFFFF }
            for y in b.indices { b[y] = (UInt32(y) &* fy) & 0xFFFF }
            for k in t.indices {
                let band = k >> 11
                t[k] = band & 1 == 1 ? UInt8(235 - (hash32(seed, 6, band) >> 26)) : UInt8(20 + (hash32(seed, 7, band) >> 26))
            }
        }
        return a.withUnsafeBufferPointer { a in
            t.withUnsafeBufferPointer { t in
                RGBImage(width: width, height: height) { out in
                    var p = out.baseAddress!
                    for y in 0..<height {
                        let by = b[y]
                        for i in 0..<(3 * width) {
                            p[i] = t[Int((a[i] &+ by) & 0xFFFF)]
                        }
                        p += 3 * width
                    }
                }
            }
        }
    }
}

/// Pillow's bicubic resize over hundreds of (input size, output size) pairs, byte for byte: random
/// sizes from 1 to 1500 in both orientations, each axis equal to / one below / one above the
/// target, the boundary of Pillow 13's pass order, odd and prime sizes, 1-pixel axes; targets
/// 224², 256², 384², 160×224, 224×160, 224×288, 288×224, 256×192.
@Suite struct ResizeSweepTests {
    @Test func sha256MatchesTheStandardsTestVectors() {
        #expect(sha256Hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(sha256Hex([UInt8](repeating: 0x61, count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    /// The Swift generator builds the Python generator's bytes, apart from any resize.
    @Test func proceduralImagesEqualThePythonGenerator() throws {
        let sweep = try #require(ResizeSweep.shared, "Tests/Fixtures/vision/resize/sweep.json is missing or invalid")
        #expect(sweep.probes.count >= 3)
        for probe in sweep.probes {
            let image = ProceduralImage.make(seed: probe.seed, width: probe.width, height: probe.height)
            #expect(sha256Hex(image.pixels) == probe.sha256, "procedural image seed \(probe.seed) \(probe.width)×\(probe.height)")
        }
        for c in sweep.cases {
            guard let expected = c.input_sha256 else { continue }
            #expect(sha256Hex(ProceduralImage.make(seed: c.seed, width: c.width, height: c.height).pixels) == expected, "input of \(c)")
        }
    }

    /// The fixture covers what it claims: both pass orders, the boundary, the edges, big inputs.
    @Test func sweepCoversBothPassOrdersAndTheEdges() throws {
        let sweep = try #require(ResizeSweep.shared)
        let cases = sweep.cases
        print("resize sweep: \(cases.count) cases from Pillow \(sweep.pillow), \(cases.filter(\.vertical_first).count) with the vertical pass first")
        #expect(cases.count >= 350)
        #expect(cases.filter(\.vertical_first).count >= 70)
        #expect(cases.filter { !$0.vertical_first }.count >= 100)
        for c in cases {
            let rule = PillowResize.runsVerticalPassFirst(input: PixelSize(width: c.width, height: c.height),
                                                          output: PixelSize(width: c.out_width, height: c.out_height))
            #expect(rule == c.vertical_first, "pass order of \(c)")
        }
        #expect(cases.contains { $0.why == "pass-order boundary" && ($0.height - $0.out_height) == 2 * ($0.width - $0.out_width) })
        #expect(cases.contains { max($0.width, $0.height) >= 1400 && $0.width < $0.height })
        #expect(cases.contains { max($0.width, $0.height) >= 1400 && $0.width > $0.height })
        for (w, h) in [(224, 224), (256, 256), (384, 384), (160, 224), (224, 288)] {
            for (dw, dh) in [(-1, -1), (-1, 1), (1, -1), (1, 1), (0, 1), (1, 0)] {
                #expect(cases.contains { ($0.width, $0.height, $0.out_width, $0.out_height) == (w + dw, h + dh, w, h) },
                        "edge \(w + dw)×\(h + dh) → \(w)×\(h)")
            }
        }
        #expect(cases.filter { $0.full != nil }.count >= 3)
    }

    @Test(arguments: 0..<ResizeSweep.shardCount)
    func resizeEqualsPillowByteForByte(shard: Int) throws {
        let cases = ResizeSweep.shard(shard)
        try #require(!cases.isEmpty, "Tests/Fixtures/vision/resize/sweep.json is missing or invalid")
        var mismatches: [String] = []
        for c in cases {
            let input = ProceduralImage.make(seed: c.seed, width: c.width, height: c.height)
            let output = PillowResize.bicubic(input, width: c.out_width, height: c.out_height)
            if sha256Hex(output.pixels) != c.sha256 {
                mismatches.append("\(c): bytes differ from Pillow's" + (c.full.map { " " + Self.difference(output, $0) } ?? ""))
            } else if let full = c.full {
                print("\(c): identical; \(Self.difference(output, full))")
            }
            // A window computed alone (what the transform's crop does) equals that part of the full
            // resize; checked on every third case, which keeps the unoptimised test build quick.
            guard c.seed % 3 == 0 else { continue }
            let wx = c.out_width / 5, wy = c.out_height / 7
            let ww = max(1, c.out_width - wx - c.out_width / 3), wh = max(1, c.out_height - wy - c.out_height / 4)
            let window = PillowResize.resize(input, width: c.out_width, height: c.out_height, window: (wx, wy, ww, wh))!
            let expected = TransformTests.crop(output, x: wx, y: wy, width: ww, height: wh)
            if window != expected { mismatches.append("\(c): the window (\(wx), \(wy), \(ww), \(wh)) differs from the full resize") }
        }
        print("resize sweep shard \(shard): \(cases.count - mismatches.count) of \(cases.count) cases byte-identical to Pillow")
        #expect(mismatches.isEmpty, "\(mismatches.count) of \(cases.count) cases differ; first: \(mismatches.prefix(5).joined(separator: "\n"))")
    }

    /// Max |Δ| and first differing byte against a full expected PNG of the fixture.
    static func difference(_ image: RGBImage, _ file: String) -> String {
        guard let expected = try? ImageDecoder.decode(path: Fixtures.path("vision/resize/" + file)) else {
            return "(cannot read \(file))"
        }
        guard expected.width == image.width, expected.height == image.height else {
            return "size \(image.width)×\(image.height), \(file) is \(expected.width)×\(expected.height)"
        }
        var count = 0, worst = 0, first: Int?
        for i in expected.pixels.indices where expected.pixels[i] != image.pixels[i] {
            count += 1
            worst = max(worst, abs(Int(expected.pixels[i]) - Int(image.pixels[i])))
            if first == nil { first = i }
        }
        guard let i = first else { return "max |Δ| 0 against \(file)" }
        let p = i / 3
        return "\(count) bytes differ from \(file), max |Δ| \(worst); first at x \(p % image.width), y \(p / image.width), channel \(i % 3): \(image.pixels[i]) vs \(expected.pixels[i])"
    }
}
