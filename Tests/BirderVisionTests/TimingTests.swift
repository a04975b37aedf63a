import BirderTestSupport
import BirderVision
import Foundation
import Testing

/// Per-image cost of decode and of resize + crop + normalise for a 640×427 JPEG. Timings never
/// decide pass/fail; run only on request, in release mode:
///   BIRDER_VISION_BENCH=1 swift test -c release --filter TimingTests
@Suite struct TimingTests {
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIRDER_VISION_BENCH"] != nil))
    func decodeAndTransformTimes() throws {
        let path = Fixtures.path("vision/images/rocket.jpg")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let transform = InferenceTransform(height: 224, width: 224, stats: .birder)
        var output = [Float](repeating: 0, count: transform.elementsPerImage)
        let rounds = 200
        // Process CPU time per call: on a shared machine wall time mostly measures the neighbours.
        func milliseconds(_ body: () throws -> Void) rethrows -> Double {
            let start = clock()
            for _ in 0..<rounds { try body() }
            return Double(clock() - start) / Double(CLOCKS_PER_SEC) * 1e3 / Double(rounds)
        }
        let image = try ImageDecoder.decode(bytes: bytes, name: path)
        let readAndDecode = try milliseconds { _ = try ImageDecoder.decode(path: path) }
        let decode = try milliseconds { _ = try ImageDecoder.decode(bytes: bytes, name: path) }
        let resize = milliseconds { _ = transform.resizedAndCropped(image) }
        let resized = transform.resizedAndCropped(image)
        let normalise = milliseconds { output.withUnsafeMutableBufferPointer { transform.normalize(resized, into: $0.baseAddress!) } }
        let cropped = InferenceTransform(height: 224, width: 224, stats: .birder, centerCrop: 0.875)
        let resizeCrop = milliseconds { _ = cropped.resizedAndCropped(image) }
        print(String(format: "rocket.jpg 640×427, CPU ms per image: read+decode %.2f ms, decode %.2f ms, resize→224 %.2f ms, resize→256 crop 224 %.2f ms, normalise %.3f ms",
                     readAndDecode, decode, resize, resizeCrop, normalise))
        #expect(output.contains { $0 != 0 })
    }
}
