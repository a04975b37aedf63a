/// GELU with the exact (erf) form, as `nn.GELU()`: 0.5·x·(1 + erf(x/√2)), in place.
public func geluInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    let shared = UncheckedSendable(x)
    parallelFor(count, grain: 32_768) { range in
        let x = shared.value
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            let v = load8(x + i)
            store8(0.5 * v * (1 + erf8(v * 0.70710678118654752)), x + i)
            i += 8
        }
        while i < range.upperBound {
            let v = x[i]
            x[i] = 0.5 * v * (1 + erf8(SIMD8(repeating: v * 0.70710678118654752))[0])
            i += 1
        }
    }
}

/// erf in Float32 to a few ulp: an odd/even rational approximation on [−4, 4] (outside, erf is
/// ±1 in Float32), the form Eigen and XLA use; one division and no branches, so it vectorises.
@inline(__always) public func erf8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let x = input.clamped(lowerBound: SIMD8(repeating: -4), upperBound: SIMD8(repeating: 4))
    let x2 = x * x
    var p = x2 * -2.72614225801306e-10 + 2.77068142495902e-08
    p = x2 * p + -2.10102402082508e-06
    p = x2 * p + -5.69250639462346e-05
    p = x2 * p + -7.34990630326855e-04
    p = x2 * p + -2.95459980854025e-03
    p = x2 * p + -1.60960333262415e-02
    p = x * p
    var q = x2 * -1.45660718464996e-05 + -2.13374055278905e-04
    q = x2 * q + -1.68282697438203e-03
    q = x2 * q + -7.37332916720468e-03
    q = x2 * q + -1.42647390514189e-02
    return p / q
}

/// hardsigmoid: relu6(x + 3) / 6, in place (ESE's gate).
public func hardSigmoidInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    for i in 0..<count { x[i] = min(max(x[i] + 3, 0), 6) / 6 }
}

/// Adds `bias` (length `columns`) to every row of a rows×columns matrix with row stride `stride`.
public func addBiasRows(_ x: UnsafeMutablePointer<Float>, rows: Int, columns: Int, stride: Int? = nil,
                        bias: UnsafePointer<Float>) {
    let ld = stride ?? columns
    let shared = UncheckedSendable((x, bias))
    parallelFor(rows, grain: max(1, 65_536 / max(columns, 1))) { range in
        let (x, bias) = shared.value
        for row in range {
            let y = x + row * ld
            var c = 0
            while c + 8 <= columns { store8(load8(y + c) + load8(bias + c), y + c); c += 8 }
            while c < columns { y[c] += bias[c]; c += 1 }
        }
    }
}
