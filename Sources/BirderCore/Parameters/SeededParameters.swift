/// Deterministic O(1)-scale parameters, identical bit for bit to `tools/reference/seeded_params.py`.
///
/// Used for benchmarks (random weights without a checkpoint) and for parity fixtures: the Python
/// script fills a Birder network with these values, so the tests need no weight file. Scales follow
/// SPEC.md's gamma trap: every parameter is O(1) so a wrong block cannot hide behind a tiny gamma.
///
/// Element i (0-based, C order) of tensor `name`: z = splitmix64 finaliser of
/// (fnv1a64(name) ^ seed) + (i + 1)·0x9E3779B97F4A7C15; u = (z >> 40)·2⁻²⁴ ∈ [0, 1);
/// value = Float32(center + halfWidth·(2u − 1)) in Double, with (center, halfWidth) from `scale`.
package struct SeededParameters: Sendable {
    package let seed: UInt64

    package init(seed: UInt64) { self.seed = seed }

    package enum ScaleError: Error, CustomStringConvertible {
        case unknownParameterKind(name: String, shape: [Int])
        package var description: String {
            switch self {
            case let .unknownParameterKind(name, shape):
                return "seeded parameters: no scale rule for '\(name)' with shape \(shape)"
            }
        }
    }

    /// (center, half width) of the uniform distribution for a parameter.
    package static func scale(name: String, shape: [Int]) throws -> (center: Double, halfWidth: Double) {
        let leaf = name.split(separator: ".").last.map(String.init) ?? name
        if leaf == "gamma" { return (0.75, 0.25) }
        if leaf == "class_token" || leaf == "pos_embedding" { return (0, 0.5) }
        if leaf == "weight" && shape.count == 1 { return (1.0, 0.2) }  // norm weights
        if leaf == "bias" { return (0, 0.1) }
        if shape.count >= 2 {
            let fanIn = shape.dropFirst().reduce(1, *)
            return (0, (3.0 / Double(fanIn)).squareRoot())
        }
        throw ScaleError.unknownParameterKind(name: name, shape: shape)
    }

    package static func fnv1a64(_ string: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in string.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// Uniform values in [0, 1) for `count` elements of stream `name`.
    package func unitUniform(name: String, count: Int, into output: UnsafeMutablePointer<Double>) {
        let base = SeededParameters.fnv1a64(name) ^ seed
        for i in 0..<count {
            var z = base &+ UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            output[i] = Double(z >> 40) * 0x1p-24
        }
    }

    /// Values uniform in [center − halfWidth, center + halfWidth).
    package func uniform(name: String, shape: [Int], center: Double, halfWidth: Double) -> Tensor {
        let count = Tensor.elementCount(shape)
        let unit = UnsafeMutablePointer<Double>.allocate(capacity: max(count, 1))
        defer { unit.deallocate() }
        unitUniform(name: name, count: count, into: unit)
        return Tensor(shape: shape) { out in
            for i in 0..<count { out[i] = Float(center + halfWidth * (2 * unit[i] - 1)) }
        }
    }

    /// The parameter `name` of `shape`, scaled by its kind.
    package func parameter(name: String, shape: [Int]) throws -> Tensor {
        let (center, halfWidth) = try SeededParameters.scale(name: name, shape: shape)
        return uniform(name: name, shape: shape, center: center, halfWidth: halfWidth)
    }
}
