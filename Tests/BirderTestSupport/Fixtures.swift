import Foundation
import BirderCore

/// Paths of the committed test fixtures (Tests/Fixtures/…), found from this source file so tests
/// run from any working directory and need neither Python nor ../shared.
public enum Fixtures {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures")

    public static func url(_ relativePath: String) -> URL { root.appendingPathComponent(relativePath) }
    public static func path(_ relativePath: String) -> String { url(relativePath).path }
}

/// max |a − b| and max |b|, for parity checks that report the size of the difference.
public func maxAbsDifference(_ a: [Float], _ b: [Float]) -> (maxDiff: Float, maxRef: Float) {
    precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) elements")
    var diff: Float = 0, ref: Float = 0
    for i in a.indices {
        diff = max(diff, abs(a[i] - b[i]))
        ref = max(ref, abs(b[i]))
    }
    return (diff, ref)
}

/// a·b / (‖a‖‖b‖), summed in Double: how the bf16 tests compare embeddings.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "cosineSimilarity: \(a.count) vs \(b.count) elements")
    var dot = 0.0, na = 0.0, nb = 0.0
    for (x, y) in zip(a, b) { dot += Double(x) * Double(y); na += Double(x) * Double(x); nb += Double(y) * Double(y) }
    return dot / (na.squareRoot() * nb.squareRoot())
}

/// max |a − b| relative to max |b|: the parity measure of the model tests.
public func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    let (diff, ref) = maxAbsDifference(a, b)
    return diff / max(ref, 1e-12)
}

/// A small deterministic generator for test data (SplitMix64).
public struct TestRandom {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    public mutating func uniform() -> Float { Float(Double(next() >> 40) * 0x1p-23 - 1) }
    public mutating func floats(_ count: Int, scale: Float = 1) -> [Float] { (0..<count).map { _ in uniform() * scale } }
}

extension Fixtures {
    /// A raw little-endian float32 file (what the fixture scripts write with `array.astype('<f4').tofile`).
    public static func float32Array(_ relativePath: String) throws -> [Float] {
        let data = try Data(contentsOf: url(relativePath))
        guard data.count % 4 == 0 else { throw FixtureError.badSize(relativePath, data.count) }
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }

    /// A raw float32 file as a tensor of the given shape.
    public static func tensor(_ relativePath: String, shape: [Int]) throws -> Tensor {
        let values = try float32Array(relativePath)
        guard values.count == Tensor.elementCount(shape) else { throw FixtureError.badSize(relativePath, values.count * 4) }
        return Tensor(shape: shape, values: values)
    }

    /// A JSON fixture decoded into `T`.
    public static func json<T: Decodable>(_ type: T.Type, _ relativePath: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(contentsOf: url(relativePath)))
    }
}

public enum FixtureError: Error, CustomStringConvertible {
    case badSize(String, Int)
    public var description: String {
        switch self { case let .badSize(path, bytes): return "fixture \(path): \(bytes) bytes do not fit the expected float32 shape" }
    }
}

/// The compute context tests run on unless they test contexts themselves: every core, the best
/// kernels (or `BIRDER_ISA`'s).
public let testContext = ComputeContext.automatic

/// Runs `body` once per kernel set this CPU and build support, each on its own context, so a
/// kernel test covers every variant the machine can run explicitly (no process-wide switch). The
/// sets it cannot run are named on stdout.
public func forEachInstructionSet(threads: Int = 2, _ body: (ComputeContext) throws -> Void) rethrows {
    for set in InstructionSet.allCases {
        guard set.isSupported else {
            print("note: \(set) kernels not tested: this CPU or build cannot run them")
            continue
        }
        try body(try! ComputeContext(threads: threads, instructionSet: set))
    }
}
