import BirderTestSupport
@testable import BirderVision
import Foundation
import Testing

/// torchvision's bicubic resize of uint8 tensors (Birder's `tv` image loader), bit for bit on the
/// resize sweep's procedural images (tools/reference/make_inference_options_fixtures.py wrote the
/// SHA-256 of PyTorch's output).
@Suite struct TorchvisionResizeTests {
    struct Sweep: Decodable {
        struct Case: Decodable, Sendable, CustomStringConvertible {
            let seed: Int, width: Int, height: Int, out_width: Int, out_height: Int
            let sha256: String
            let differs_from_pil: Bool
            var description: String { "seed \(seed): \(width)×\(height) → \(out_width)×\(out_height)" }
        }
        let cases: [Case]
    }

    static let cases: [Sweep.Case] = (try? Fixtures.json(Sweep.self, "vision/resize/tv_sweep.json"))?.cases ?? []

    @Test func sweepIsPresent() {
        #expect(Self.cases.count == 10)
        #expect(Self.cases.filter(\.differs_from_pil).count >= 8, "the two resamplers must differ for this to prove anything")
    }

    @Test(arguments: cases)
    func matchesTorchvision(testCase: Sweep.Case) {
        let image = ProceduralImage.make(seed: testCase.seed, width: testCase.width, height: testCase.height)
        let ours = PillowResize.bicubic(image, width: testCase.out_width, height: testCase.out_height, resampler: .torchvision)
        #expect(sha256Hex(ours.pixels) == testCase.sha256, "\(testCase)")
        let pillow = PillowResize.bicubic(image, width: testCase.out_width, height: testCase.out_height)
        #expect((ours.pixels != pillow.pixels) == testCase.differs_from_pil, "\(testCase)")
    }

    /// The int16 weights use as many bits as the largest weight allows.
    @Test func weightsPrecisionFollowsTheLargestWeight() {
        let up = BicubicAxis(from: 37, to: 64, resampler: .torchvision)
        let down = BicubicAxis(from: 640, to: 64, resampler: .torchvision)
        #expect(BicubicAxis(from: 37, to: 64).precision == 22)
        for axis in [up, down] {
            #expect(axis.weights.allSatisfy { abs($0) < 1 << 15 })
            #expect(axis.weights.contains { abs($0) >= 1 << 13 })
        }
        #expect(down.precision > up.precision)
    }
}
