/// LayerNorm over the last axis of a rows×columns matrix (for NHWC images: over channels at each
/// pixel, i.e. Birder's LayerNorm2d). `output` may alias `input`. Statistics in Float32 with a
/// two-pass variance, as PyTorch's CPU kernel computes them.
public func layerNormRows(
    _ input: UnsafePointer<Float>, rows: Int, columns: Int, inputStride: Int? = nil,
    weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float,
    output: UnsafeMutablePointer<Float>, outputStride: Int? = nil
) {
    let ldi = inputStride ?? columns, ldo = outputStride ?? columns
    let shared = UncheckedSendable((input, weight, bias, output))
    parallelFor(rows, grain: max(1, 16_384 / max(columns, 1))) { range in
        let (input, weight, bias, output) = shared.value
        for row in range {
            let x = input + row * ldi
            let y = output + row * ldo
            let mean = sum(x, columns) / Float(columns)
            let variance = sumOfSquaredDeviations(x, columns, mean) / Float(columns)
            let inverse = 1 / (variance + epsilon).squareRoot()
            var c = 0
            while c + 8 <= columns {
                let v = (load8(x + c) - mean) * inverse
                store8(v * load8(weight + c) + load8(bias + c), y + c)
                c += 8
            }
            while c < columns {
                y[c] = (x[c] - mean) * inverse * weight[c] + bias[c]
                c += 1
            }
        }
    }
}

@inline(__always) func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
@inline(__always) func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
@inline(__always) func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inline(__always) func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = SIMD8<Float>.zero
    var i = 0
    while i + 8 <= count { acc += load8(x + i); i += 8 }
    var total = acc.sum()
    while i < count { total += x[i]; i += 1 }
    return total
}

@inline(__always) func sumOfSquaredDeviations(_ x: UnsafePointer<Float>, _ count: Int, _ mean: Float) -> Float {
    var acc = SIMD8<Float>.zero
    var i = 0
    while i + 8 <= count { let d = load8(x + i) - mean; acc += d * d; i += 8 }
    var total = acc.sum()
    while i < count { let d = x[i] - mean; total += d * d; i += 1 }
    return total
}
